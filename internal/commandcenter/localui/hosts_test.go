package localui

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/update"
)

// TestHandlerRefusesForeignHosts drives the UI through a real listener,
// as a page that rebinds its name to 127.0.0.1 would: it reaches the
// port, but Host and Origin carry its own name.
func TestHandlerRefusesForeignHosts(t *testing.T) {
	st := handlerStore(t)
	m := fakeMirror{targets: []update.MirroredTarget{release("firmware-5.1.0-fw.bin", "5.1.0")}}
	mirror := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "mirror") })
	srv := httptest.NewServer(NewHandler(SourcesOf(st), HandlerOptions{
		Clock: clock.NewManual(handlerNow), Updates: m, Mirror: mirror,
		Hosts: []string{"cc.site.example", "192.0.2.7:80"},
	}))
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	policy := url.Values{"mode": {"notify"}, "weekday": {"6"}, "start_hour": {"2"}, "hours": {"4"}}.Encode()
	attacker := "attacker.example:" + port
	tests := []struct {
		name, method, path, host, origin string
		want                             int
	}{
		{"page, forged host", "GET", "/jobs", attacker, "", http.StatusMisdirectedRequest},
		{"page, forged host and origin", "GET", "/", attacker, "http://" + attacker, http.StatusMisdirectedRequest},
		{"API, forged host", "GET", "/api/jobs", attacker, "", http.StatusMisdirectedRequest},
		{"API, forged host and origin", "GET", "/api/printers", attacker, "http://" + attacker, http.StatusMisdirectedRequest},
		{"metrics, forged host", "GET", "/metrics", attacker, "", http.StatusMisdirectedRequest},
		{"mirror, forged host", "GET", "/tuf/approvals.json", attacker, "", http.StatusMisdirectedRequest},
		{"approve, forged host", "POST", "/updates/firmware-5.1.0-fw.bin/approve", attacker, "", http.StatusMisdirectedRequest},
		{"approve, forged host and origin", "POST", "/updates/firmware-5.1.0-fw.bin/approve", attacker, "http://" + attacker, http.StatusMisdirectedRequest},
		{"policy, forged host", "POST", "/updates/policy", attacker, "", http.StatusMisdirectedRequest},
		{"policy, forged host and origin", "POST", "/updates/policy", attacker, "http://" + attacker, http.StatusMisdirectedRequest},
		{"loopback address on another port", "GET", "/", "127.0.0.1:1", "", http.StatusMisdirectedRequest},
		{"configured name on the default port", "GET", "/", "cc.site.example", "", http.StatusMisdirectedRequest},

		{"localhost", "GET", "/jobs", "localhost:" + port, "", http.StatusOK},
		{"localhost, upper case", "GET", "/api/jobs", "LocalHost:" + port, "", http.StatusOK},
		{"127.0.0.1", "GET", "/", "127.0.0.1:" + port, "", http.StatusOK},
		{"127.0.0.0/8", "GET", "/metrics", "127.1.2.3:" + port, "", http.StatusOK},
		{"::1", "GET", "/api/printers", "[::1]:" + port, "", http.StatusOK},
		{"mirror on loopback", "GET", "/tuf/approvals.json", "localhost:" + port, "", http.StatusOK},
		{"configured name", "GET", "/jobs", "cc.site.example:" + port, "", http.StatusOK},
		{"configured address with its port", "GET", "/api/jobs", "192.0.2.7:80", "", http.StatusOK},
		{"configured address, port 80 implied", "GET", "/", "192.0.2.7", "", http.StatusOK},

		{"policy, own origin", "POST", "/updates/policy", "localhost:" + port, "http://localhost:" + port, http.StatusSeeOther},
		{"policy, no origin", "POST", "/updates/policy", "127.0.0.1:" + port, "", http.StatusSeeOther},
		{"policy, loopback host, foreign origin", "POST", "/updates/policy", "localhost:" + port, "http://" + attacker, http.StatusForbidden},
		{"policy, null origin", "POST", "/updates/policy", "localhost:" + port, "null", http.StatusForbidden},
		{"approve, configured name", "POST", "/updates/firmware-5.1.0-fw.bin/approve", "cc.site.example:" + port, "http://cc.site.example:" + port, http.StatusSeeOther},
		{"approve, origin on another port", "POST", "/updates/firmware-5.1.0-fw.bin/approve", "localhost:" + port, "http://localhost:1", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.method == "POST" {
				body = strings.NewReader(policy)
			}
			req, err := http.NewRequestWithContext(t.Context(), tt.method, srv.URL+tt.path, body)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = tt.host
			if tt.method == "POST" {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.want {
				t.Errorf("%s %s Host %q Origin %q = %d %q, want %d", tt.method, tt.path, tt.host, tt.origin, res.StatusCode, b, tt.want)
			}
			if tt.want == http.StatusMisdirectedRequest && strings.Contains(string(b), "CANARY") {
				t.Errorf("refused answer shows private names: %s", b)
			}
		})
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST.": true, "127.0.0.1": true, "127.255.0.1": true, "::1": true, "[::1]": true,
		"": false, "0.0.0.0": false, "::": false, "192.168.1.10": false, "localhost.attacker.example": false, "cc.site.example": false,
	} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

// With a password, the UI serves only requests presenting it; the health
// check and the printers' /tuf/ stay open.
func TestHandlerPassword(t *testing.T) {
	mirror := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "mirror") })
	h := NewHandler(SourcesOf(handlerStore(t)), HandlerOptions{Clock: clock.NewManual(handlerNow), Mirror: mirror, Password: "s3cret-password"})
	tests := []struct {
		path, password string
		want           int
	}{
		{"/", "", http.StatusUnauthorized},
		{"/api/jobs", "", http.StatusUnauthorized},
		{"/metrics", "", http.StatusUnauthorized},
		{"/jobs", "wrong", http.StatusUnauthorized},
		{"/", "s3cret-password", http.StatusOK},
		{"/api/jobs", "s3cret-password", http.StatusOK},
		{"/metrics", "s3cret-password", http.StatusOK},
		{"/healthz", "", http.StatusOK},
		{"/tuf/approvals.json", "", http.StatusOK},
	}
	for _, tt := range tests {
		req := httptest.NewRequestWithContext(t.Context(), "GET", tt.path, nil)
		req.Host = "localhost"
		if tt.password != "" {
			req.SetBasicAuth("anyone", tt.password)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("GET %s with password %q = %d, want %d", tt.path, tt.password, rec.Code, tt.want)
		}
		if rec.Code == http.StatusUnauthorized && strings.Contains(rec.Body.String(), "CANARY") {
			t.Errorf("GET %s without the password shows private names", tt.path)
		}
	}
}
