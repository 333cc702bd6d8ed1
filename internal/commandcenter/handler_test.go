package commandcenter

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
)

// handlerStore holds one printer in each collection state.
func handlerStore(t *testing.T) *Store {
	t.Helper()
	st, _ := openStore(t)
	ctx := t.Context()
	ok, err := st.AddPrinter(ctx, "printer-a.site:8443", "AA:BB:CC", t0)
	if err != nil {
		t.Fatal(err)
	}
	ident := deviceapi.Identity{Identity: fleet.Identity{PrinterID: "printer-000a", Name: "3DP <1>",
		Model: "PBF 5200", SerialNumber: "SN1"}, Instance: "i"}
	status := printingStatus("job-1", 3900)
	if err := st.observe(ctx, ok.ID, observation{Identity: &ident, Status: status, Instance: "i", Cursor: 3, Seen: t0}, nil); err != nil {
		t.Fatal(err)
	}
	down, err := st.AddPrinter(ctx, "printer-b.site:8443", "DD:EE", t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.markFailed(ctx, down.ID, CollectionUnreachable, "dial tcp: connection refused", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	moved, err := st.AddPrinter(ctx, "printer-c.site:8443", "FF:00", t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.markFailed(ctx, moved.ID, CollectionCertificateChanged, "certificate changed: check the printer", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddPrinter(ctx, "printer-d.site:8443", "11:22", t0); err != nil {
		t.Fatal(err)
	}
	appendN(t, st, 3)
	return st
}

func get(t *testing.T, h http.Handler, method, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), method, path, nil))
	res := rec.Result()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

func TestHandlerPage(t *testing.T) {
	h := NewHandler(handlerStore(t), nil)
	res, body := get(t, h, "GET", "/")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		"<title>Command Center</title>",
		`<html lang="en">`,
		`name="viewport"`,
		"3DP &lt;1&gt;",                   // name, escaped
		"printer-a.site:8443", "PBF 5200", // address, model
		"AA:BB:CC",                        // pinned fingerprint
		"powered on, printing",            // state in words
		"printing layer 10 of 100",        // activity
		"CANARY-job-name",                 // the job name: this page is on the site
		"1 h 05 min",                      // time to completion
		"<dt>Pending jobs</dt><dd>1</dd>", // pending jobs
		"unreachable since ", "dial tcp: connection refused",
		"certificate changed: check the printer",
		"waiting for first contact",
		"3 records waiting for the cloud",
		"printer-d.site:8443", // a printer never reached is listed by address
		"fetch(location.pathname",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "3DP <1>") {
		t.Error("page contains an unescaped printer name")
	}
	sum := sha256.Sum256([]byte(refreshScript))
	csp := res.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy = %q, want default-src 'none' and the refresh script's hash", csp)
	}
	if !strings.Contains(body, "<script>"+refreshScript+"</script>") {
		t.Error("the page's script differs from the one the CSP hash allows")
	}
}

func TestHandlerEmptyPage(t *testing.T) {
	st, _ := openStore(t)
	_, body := get(t, NewHandler(st, nil), "GET", "/")
	for _, want := range []string{"No printers are enrolled yet.", "0 printers", "0 records waiting"} {
		if !strings.Contains(body, want) {
			t.Errorf("empty page lacks %q", want)
		}
	}
}

func TestHandlerAPI(t *testing.T) {
	st := handlerStore(t)
	h := NewHandler(st, nil)
	res, body := get(t, h, "GET", "/api/printers")
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/printers = %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	var got Snapshot
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("decode: %v\n%s", err, body)
	}
	want, err := snapshot(t.Context(), st)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GET /api/printers (-want +got):\n%s", diff)
	}
	if got.Pending != 3 || len(got.Printers) != 4 || got.Printers[0].Status.Job.Private.Name != "CANARY-job-name" {
		t.Errorf("snapshot = %d pending, %d printers; want 3 and 4 with the local job name", got.Pending, len(got.Printers))
	}

	empty, _ := openStore(t)
	_, body = get(t, NewHandler(empty, nil), "GET", "/api/printers")
	if !strings.Contains(body, `"printers":[]`) {
		t.Errorf("empty answer %s, want an empty list, not null", body)
	}
}

func TestHandlerRoutesAndFailures(t *testing.T) {
	st := handlerStore(t)
	h := NewHandler(st, nil)
	tests := []struct {
		method, path string
		want         int
	}{
		{"GET", "/healthz", http.StatusOK},
		{"POST", "/", http.StatusMethodNotAllowed},
		{"GET", "/nope", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			res, _ := get(t, h, tt.method, tt.path)
			if res.StatusCode != tt.want {
				t.Errorf("%s %s = %d, want %d", tt.method, tt.path, res.StatusCode, tt.want)
			}
			if res.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Error("missing X-Content-Type-Options: nosniff")
			}
		})
	}

	st.Close()
	for _, path := range []string{"/", "/api/printers", "/healthz"} {
		t.Run("store closed "+path, func(t *testing.T) {
			res, body := get(t, h, "GET", path)
			if res.StatusCode != http.StatusInternalServerError || strings.Contains(body, "sql") {
				t.Errorf("GET %s with a closed store = %d %q, want 500 without internals", path, res.StatusCode, body)
			}
		})
	}
}

func TestNewServerHasLimits(t *testing.T) {
	s := NewServer(http.NotFoundHandler(), nil)
	if s.ReadHeaderTimeout == 0 || s.ReadTimeout == 0 || s.WriteTimeout == 0 || s.IdleTimeout == 0 || s.MaxHeaderBytes == 0 {
		t.Errorf("server lacks a timeout or header limit: %+v", s)
	}
}

func TestDurationWords(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{{20 * time.Second, "under a minute"}, {12 * time.Minute, "12 min"}, {65 * time.Minute, "1 h 05 min"}, {26 * time.Hour, "26 h 00 min"}}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := durationWords(tt.d); got != tt.want {
				t.Errorf("durationWords(%v) = %q, want %q", tt.d, got, tt.want)
			}
		})
	}
}

func TestHandlerShowsStaleStateAsLastKnown(t *testing.T) {
	st, _ := openStore(t)
	ctx := t.Context()
	p, err := st.AddPrinter(ctx, "printer-a:8443", fpA, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.observe(ctx, p.ID, observation{Status: printingStatus("job-1", 60), Seen: t0}, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.markFailed(ctx, p.ID, CollectionUnreachable, "timeout", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	_, body := get(t, NewHandler(st, nil), "GET", "/")
	if !strings.Contains(body, "<dd>last known: powered on, printing</dd>") {
		t.Errorf("page of an unreachable printer does not mark its state as last known:\n%s", body)
	}
}
