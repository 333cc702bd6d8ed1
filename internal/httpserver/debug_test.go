package httpserver

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestListenDebugLoopbackOnly(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:0", true},
		{"[::1]:0", true},
		{"0.0.0.0:6060", false},
		{":6060", false},
		{"192.0.2.7:6060", false},
		{"localhost:6060", false}, // a name may resolve anywhere
		{"127.0.0.1", false},
	} {
		ln, err := ListenDebug(t.Context(), tc.addr)
		if ln != nil {
			ln.Close()
		}
		if (err == nil) != tc.ok {
			if tc.addr == "[::1]:0" && err != nil && !strings.Contains(err.Error(), "want a loopback") {
				continue // no IPv6 loopback on this machine
			}
			t.Errorf("ListenDebug(%q) = %v, want ok %t", tc.addr, err, tc.ok)
		}
	}
}

func TestDebugServesProfiles(t *testing.T) {
	srv := httptest.NewServer(Debug())
	defer srv.Close()
	for path, want := range map[string]string{
		"/debug/pprof/":                  "goroutine",
		"/debug/pprof/goroutine?debug=1": "goroutine profile",
		"/debug/pprof/cmdline":           "",
	} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(b), want) {
			t.Errorf("GET %s = %s %.80q, want 200 containing %q", path, res.Status, b, want)
		}
	}
}
