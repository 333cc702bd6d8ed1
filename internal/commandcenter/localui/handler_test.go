package localui

import (
	"cmp"
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/i18n"
	"github.com/fusionfleet/fusionfleet/internal/outbox"
)

// handlerNow is the handler's clock in these tests: after the history of
// handlerStore.
var handlerNow = t0.Add(3 * time.Hour)

// handlerStore holds one printer in each collection state, the first with
// a history of events, a job and consumables; three records waiting.
func handlerStore(t *testing.T) *commandcenter.Store {
	t.Helper()
	st := openStore(t)
	ctx := t.Context()
	ok, err := st.AddPrinter(ctx, "printer-a.site:8443", "AA:BB:CC", t0)
	if err != nil {
		t.Fatal(err)
	}
	ident := deviceapi.Identity{Identity: fleet.Identity{PrinterID: "printer-000a", Name: "3DP <1>",
		Model: "PBF 5200", SerialNumber: "SN1"}, Instance: "i"}
	status := printingStatus("job-1", 3900)
	for i := range 3 {
		seen := t0.Add(time.Duration(i) * time.Hour)
		o := commandcenter.Observation{Status: status, Instance: "i", Cursor: uint64(i + 1), Seen: seen, History: commandcenter.History{
			Instance: "i",
			Consumables: &fleet.Consumables{
				CleaningRoll: fleet.CleaningRoll{Status: "ok", UsagePercent: 10 + float64(i)*5},
				Agents: []fleet.AgentSupply{
					{Agent: "fusing", SupplyLevelPercent: 90 - float64(i)*10, SupplyStatus: "ok"},
					{Agent: "detailing", SupplyLevelPercent: 80 - float64(i)*10, SupplyStatus: "ok"},
				},
				Lamps: []fleet.Lamp{{Position: "fusing-1", IntensityPercent: 99 - float64(i), Hours: 100, Status: "ok"}},
				Time:  seen,
			},
		}}
		if i == 0 {
			o.Identity = &ident
			o.History.Jobs = []deviceapi.Job{printingJob()}
			o.History.Events = []fleet.Event{
				{Seq: 1, Code: "INFO-1", Description: "door closed", Severity: fleet.SeverityInfo, Time: seen, Subsystem: "door"},
				{Seq: 2, Code: "WARN-7", Description: "agent low", Severity: fleet.SeverityWarning, Time: seen, Subsystem: "agents"},
				{Seq: 3, Code: "ERR-9", Description: "lamp <failed>", Severity: fleet.SeverityError, Time: seen, Subsystem: "lamps"},
			}
		}
		if err := st.Observe(ctx, ok.ID, o, nil); err != nil {
			t.Fatal(err)
		}
	}
	down, err := st.AddPrinter(ctx, "printer-b.site:8443", "DD:EE", t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.MarkFailed(ctx, down.ID, commandcenter.CollectionUnreachable, "dial tcp: connection refused", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	moved, err := st.AddPrinter(ctx, "printer-c.site:8443", "FF:00", t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.MarkFailed(ctx, moved.ID, commandcenter.CollectionCertificateChanged, "certificate changed: check the printer", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddPrinter(ctx, "printer-d.site:8443", "11:22", t0); err != nil {
		t.Fatal(err)
	}
	appendN(t, st, 3)
	return st
}

// uploadAll sends the outbox to a cloud that acknowledges everything, at
// the clock's time.
func uploadAll(t *testing.T, st *commandcenter.Store, clk clock.Clock) {
	t.Helper()
	if _, err := commandcenter.NewUploader(st, ackAll{}, commandcenter.UploaderOptions{Clock: clk}).UploadOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func testHandler(st *commandcenter.Store) http.Handler {
	return NewHandler(SourcesOf(st), HandlerOptions{Clock: clock.NewManual(handlerNow)})
}

func get(t *testing.T, h http.Handler, method, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequestWithContext(t.Context(), method, path, nil)
	req.Host = "localhost" // the local UI answers only to its own names
	h.ServeHTTP(rec, req)
	res := rec.Result()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

// getJSON GETs path and decodes the JSON answer into v.
func getJSON(t *testing.T, h http.Handler, path string, v any) {
	t.Helper()
	res, body := get(t, h, "GET", path)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s = %d %q: %s", path, res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: decode: %v\n%s", path, err, body)
	}
}

func containsAll(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(body, want) {
			t.Errorf("%s lacks %q", what, want)
		}
	}
}

func TestHandlerPage(t *testing.T) {
	h := testHandler(handlerStore(t))
	res, body := get(t, h, "GET", "/")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	containsAll(t, "page", body,
		"<title>Printers · Command Center</title>",
		`<html lang="en">`,
		`name="viewport"`,
		`<a href="/" aria-current="page">Printers</a>`,
		"<main id=\"main\" data-refresh>",
		"3DP &lt;1&gt;",                   // name, escaped
		"printer-a.site:8443", "PBF 5200", // address, model
		"AA:BB:CC",                        // pinned fingerprint
		"powered on, printing",            // state in words
		"printing layer 10 of 100",        // activity
		"CANARY-job-name",                 // the job name: this page is on the site
		"1 h 05 min",                      // time to completion
		"<dt>Pending jobs</dt><dd>1</dd>", // pending jobs
		"unreachable since ", "dial tcp: connection refused",
		`class="certificate-changed">certificate changed: check the printer`,
		"waiting for first contact",
		"3 records waiting for the cloud",
		"printer-d.site:8443", // a printer never reached is listed by address
		"the cloud never receives them",
		`<script src="/static/app.js" defer></script>`,
		`<link rel="stylesheet" href="/static/style.css">`,
		`<link rel="icon" href="/static/icon.svg" type="image/svg+xml">`,
	)
	if strings.Contains(body, "3DP <1>") {
		t.Error("page contains an unescaped printer name")
	}
	if regexp.MustCompile(`<script>|<script[^>]*>[^<]`).MatchString(body) || strings.Contains(body, "<style") || strings.Contains(body, " style=") {
		t.Error("page has an inline script or style")
	}
	if strings.Contains(body, "http://") || strings.Contains(body, "https://") {
		t.Error("page refers to another site")
	}
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy = %q, want %s", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Content-Security-Policy = %q allows inline code", csp)
	}
}

func TestHandlerEmptyPage(t *testing.T) {
	st := openStore(t)
	_, body := get(t, testHandler(st), "GET", "/")
	containsAll(t, "empty page", body, "No printers are paired yet.", "0 printers", "0 records waiting")
	if strings.Contains(body, `role="alert"`) {
		t.Error("an empty Command Center warns about the uplink")
	}
}

func TestHandlerPages(t *testing.T) {
	st := handlerStore(t)
	clk := clock.NewManual(handlerNow)
	uploadAll(t, st, clk)
	h := NewHandler(SourcesOf(st), HandlerOptions{Clock: clk})
	tests := []struct {
		path     string
		want     []string
		wantNot  []string
		wantCode int
	}{
		{path: "/jobs", want: []string{"<title>Jobs · Command Center</title>", `aria-current="page">Jobs`, "CANARY-job-name", "CANARY-job-user",
			"CANARY-job-host", "CANARY-part-name", "job-1", "3DP &lt;1&gt;", "printing", "never leave this site", "<caption"}},
		{path: "/alerts", want: []string{"WARN-7", "agent low", "ERR-9", "lamp &lt;failed&gt;", `class="sev-error"`, "3DP &lt;1&gt;"},
			wantNot: []string{"INFO-1"}},
		{path: "/consumables", want: []string{"Agent supply level (%)", "Lamp intensity (%)", "Cleaning roll used (%)",
			`<svg class="plot"`, `role="img"`, "<polyline", "detailing: 60 %", "fusing: 70 %", "Agent fusing", "3 readings in the last",
			"No consumables have been read from this printer"}},
		{path: "/uploads", want: []string{"What was sent", "Records waiting</dt><dd>0", "acknowledged", `href="/uploads/1"`,
			"3 gap", "Disk budget", "kbit/s", "<meter"}},
		{path: "/uploads/1", want: []string{"Upload 1", "The payload as sent", `&#34;records&#34;`, "sequence numbers 1–3"}},
		{path: "/selftest", want: []string{"The self-test is not configured"}},
		{path: "/uploads/99", wantCode: http.StatusNotFound},
		{path: "/uploads/x", wantCode: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res, body := get(t, h, "GET", tt.path)
			want := cmp.Or(tt.wantCode, http.StatusOK)
			if res.StatusCode != want {
				t.Fatalf("GET %s = %d, want %d: %s", tt.path, res.StatusCode, want, body)
			}
			containsAll(t, tt.path, body, tt.want...)
			for _, no := range tt.wantNot {
				if strings.Contains(body, no) {
					t.Errorf("%s contains %q", tt.path, no)
				}
			}
		})
	}
}

func TestHandlerWarnsWhenCloudUnreached(t *testing.T) {
	st := handlerStore(t)
	clk := clock.NewManual(t0)
	h := NewHandler(SourcesOf(st), HandlerOptions{Clock: clk, StaleAfter: time.Hour})

	_, body := get(t, h, "GET", "/")
	containsAll(t, "page before any upload", body, `class="banner warn" role="alert"`, "not acknowledged an upload yet")

	uploadAll(t, st, clk)
	clk.Advance(30 * time.Minute)
	if _, body = get(t, h, "GET", "/"); strings.Contains(body, `role="alert"`) {
		t.Error("page warns 30 minutes after an upload, with a threshold of an hour")
	}
	clk.Advance(2 * time.Hour)
	for _, path := range []string{"/", "/jobs", "/uploads"} {
		_, body = get(t, h, "GET", path)
		containsAll(t, path, body, `class="banner bad" role="alert"`, "The cloud has not been reached for 2 h 30 min")
	}
}

func TestHandlerAPI(t *testing.T) {
	st := handlerStore(t)
	h := testHandler(st)
	var got Snapshot
	getJSON(t, h, "/api/printers", &got)
	want, err := snapshot(t.Context(), SourcesOf(st))
	if err != nil {
		t.Fatal(err)
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("GET /api/printers (-want +got):\n%s", diff)
	}
	if got.Pending != 3 || len(got.Printers) != 4 || got.Printers[0].Status.Job.Private.Name != "CANARY-job-name" {
		t.Errorf("snapshot = %d pending, %d printers; want 3 and 4 with the local job name", got.Pending, len(got.Printers))
	}

	empty := openStore(t)
	for _, path := range []string{"/api/printers", "/api/jobs", "/api/events", "/api/alerts", "/api/gaps", "/api/uploads", "/api/consumables?printer=1"} {
		_, body := get(t, testHandler(empty), "GET", path)
		if strings.Contains(body, "null") {
			t.Errorf("GET %s on an empty store = %s, want empty lists, not null", path, body)
		}
	}
}

func TestHandlerAPILists(t *testing.T) {
	st := handlerStore(t)
	clk := clock.NewManual(handlerNow)
	uploadAll(t, st, clk)
	h := NewHandler(SourcesOf(st), HandlerOptions{Clock: clk})
	ctx := t.Context()

	t.Run("jobs", func(t *testing.T) {
		var got []commandcenter.LocalJob
		getJSON(t, h, "/api/jobs?printer=1&limit=5", &got)
		want, err := st.Jobs(ctx, 1, 5)
		if err != nil {
			t.Fatal(err)
		}
		if diff := gocmp.Diff(want, got); diff != "" || len(got) != 1 {
			t.Errorf("jobs (-want +got):\n%s", diff)
		}
	})
	t.Run("events and alerts", func(t *testing.T) {
		var evs, alerts []commandcenter.LocalEvent
		getJSON(t, h, "/api/events", &evs)
		getJSON(t, h, "/api/alerts?limit=1", &alerts)
		var codes []string
		for _, e := range evs {
			codes = append(codes, e.Event.Code)
		}
		slices.Sort(codes)
		if diff := gocmp.Diff([]string{"ERR-9", "INFO-1", "WARN-7"}, codes); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		if len(alerts) != 1 || alerts[0].Event.Severity < fleet.SeverityWarning {
			t.Errorf("alerts?limit=1 = %+v, want one warning or worse", alerts)
		}
		getJSON(t, h, "/api/alerts", &alerts)
		if len(alerts) != 2 {
			t.Errorf("alerts = %d, want 2", len(alerts))
		}
	})
	t.Run("consumables", func(t *testing.T) {
		var got []commandcenter.ConsumablesSample
		getJSON(t, h, "/api/consumables?printer=1", &got)
		if len(got) != 3 {
			t.Errorf("consumables = %d samples, want 3", len(got))
		}
		getJSON(t, h, "/api/consumables?printer=1&from=2025-03-01T12:30:00Z&to=2025-03-01T13:30:00Z", &got)
		if len(got) != 1 || !got[0].Seen.Equal(t0.Add(time.Hour)) {
			t.Errorf("consumables in an hour = %+v, want the one at %s", got, t0.Add(time.Hour))
		}
	})
	t.Run("outbox", func(t *testing.T) {
		var got OutboxView
		getJSON(t, h, "/api/outbox", &got)
		if got.Pending != 0 || got.Uplink.LastSuccess.IsZero() || got.Bandwidth.Average <= 0 || got.Quarantine == nil || got.Drops == nil {
			t.Errorf("outbox = %+v, want nothing pending, an upload, bandwidth and empty lists", got)
		}
	})
	t.Run("uploads", func(t *testing.T) {
		var list []commandcenter.UploadEntry
		getJSON(t, h, "/api/uploads", &list)
		if len(list) != 1 || list[0].Records != 3 || !list[0].HasPayload {
			t.Fatalf("uploads = %+v, want one of 3 records", list)
		}
		var got commandcenter.UploadDetail
		getJSON(t, h, "/api/uploads/1", &got)
		want, err := st.Upload(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if diff := gocmp.Diff(want.UploadEntry, got.UploadEntry); diff != "" {
			t.Errorf("upload (-want +got):\n%s", diff)
		}
		var batch struct{ Records []fleet.Record }
		if err := json.Unmarshal(got.Payload, &batch); err != nil || len(batch.Records) != 3 {
			t.Errorf("payload %s: %v, want the 3 records sent", got.Payload, err)
		}
	})
}

func TestHandlerBadRequests(t *testing.T) {
	h := testHandler(handlerStore(t))
	tests := []struct {
		path string
		want int
		msg  string
	}{
		{"/api/jobs?limit=0", http.StatusBadRequest, "limit"},
		{"/api/jobs?limit=10001", http.StatusBadRequest, "limit"},
		{"/api/events?printer=x", http.StatusBadRequest, "printer"},
		{"/api/alerts?printer=-1", http.StatusBadRequest, "printer"},
		{"/api/gaps?limit=many", http.StatusBadRequest, "limit"},
		{"/api/uploads?limit=0", http.StatusBadRequest, "limit"},
		{"/api/consumables", http.StatusBadRequest, "printer is required"},
		{"/api/consumables?printer=1&from=yesterday", http.StatusBadRequest, "RFC 3339"},
		{"/api/consumables?printer=1&to=noon", http.StatusBadRequest, "RFC 3339"},
		{"/api/consumables?printer=1&from=2025-03-02T00:00:00Z&to=2025-03-01T00:00:00Z", http.StatusBadRequest, "before"},
		{"/api/uploads/abc", http.StatusBadRequest, "positive integer"},
		{"/api/uploads/0", http.StatusBadRequest, "positive integer"},
		{"/api/uploads/42", http.StatusNotFound, "not found"},
		{"/api/selftest", http.StatusServiceUnavailable, "not configured"},
		{"/api/nope", http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res, body := get(t, h, "GET", tt.path)
			if res.StatusCode != tt.want || !strings.Contains(body, tt.msg) {
				t.Errorf("GET %s = %d %q, want %d with %q", tt.path, res.StatusCode, body, tt.want, tt.msg)
			}
			if tt.msg != "" && res.Header.Get("Content-Type") != "application/json" {
				t.Errorf("GET %s: Content-Type %q, want JSON", tt.path, res.Header.Get("Content-Type"))
			}
		})
	}
}

func TestHandlerRoutesAndFailures(t *testing.T) {
	st := handlerStore(t)
	h := testHandler(st)
	tests := []struct {
		method, path string
		want         int
		contentType  string
	}{
		{"GET", "/healthz", http.StatusOK, "text/plain; charset=utf-8"},
		{"GET", "/static/app.js", http.StatusOK, "text/javascript; charset=utf-8"},
		{"GET", "/static/style.css", http.StatusOK, "text/css; charset=utf-8"},
		{"GET", "/static/icon.svg", http.StatusOK, "image/svg+xml"}, // browsers ask for an icon on every page
		{"GET", "/static/", http.StatusNotFound, ""},
		{"GET", "/static/nope.js", http.StatusNotFound, ""},
		{"GET", "/static/../handler.go", http.StatusTemporaryRedirect, ""}, // to /handler.go, which is not found
		{"GET", "/static/sub%2Fapp.js", http.StatusNotFound, ""},
		{"GET", "/api/openapi.json", http.StatusOK, "application/json"},
		{"GET", "/metrics", http.StatusOK, ""},
		{"POST", "/", http.StatusMethodNotAllowed, ""},
		{"POST", "/api/jobs", http.StatusMethodNotAllowed, ""},
		{"GET", "/nope", http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			res, _ := get(t, h, tt.method, tt.path)
			if res.StatusCode != tt.want {
				t.Errorf("%s %s = %d, want %d", tt.method, tt.path, res.StatusCode, tt.want)
			}
			if tt.contentType != "" && res.Header.Get("Content-Type") != tt.contentType {
				t.Errorf("%s %s: Content-Type %q, want %q", tt.method, tt.path, res.Header.Get("Content-Type"), tt.contentType)
			}
			if res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("Content-Security-Policy") == "" {
				t.Error("missing X-Content-Type-Options: nosniff or the CSP")
			}
		})
	}

	_, js := get(t, h, "GET", "/static/app.js")
	containsAll(t, "app.js", js, "main[data-refresh]", "fetch(location.pathname")

	st.Close()
	for _, rt := range (&localUI{}).routes() {
		path, ok := strings.CutPrefix(rt.pattern, "GET ")
		if !ok {
			continue // the update forms: TestUpdatePages
		}
		path = strings.NewReplacer("{$}", "", "{id}", "1").Replace(path)
		if path == "/api/consumables" {
			path += "?printer=1"
		}
		switch path {
		case "/static/", "/api/openapi.json", "/metrics", "/selftest", "/api/selftest", "/api/updates":
			continue // no store (the self-test and updates are off here)
		}
		t.Run("store closed "+path, func(t *testing.T) {
			res, body := get(t, h, "GET", path)
			if res.StatusCode != http.StatusInternalServerError || strings.Contains(body, "sql") || strings.Contains(body, "closed") {
				t.Errorf("GET %s with a closed store = %d %q, want 500 without internals", path, res.StatusCode, body)
			}
		})
	}
}

func TestRoutesDocumented(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi = %q, want 3.x", doc.OpenAPI)
	}
	var documented, served []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	for _, rt := range (&localUI{}).routes() {
		isAPI := strings.Contains(rt.pattern, " /api/")
		if isAPI != rt.api {
			t.Errorf("route %s: api = %v, but its path says %v", rt.pattern, rt.api, isAPI)
		}
		if rt.api {
			served = append(served, rt.pattern)
		}
	}
	slices.Sort(documented)
	slices.Sort(served)
	if diff := gocmp.Diff(served, documented); diff != "" {
		t.Errorf("API routes (-served +documented):\n%s", diff)
	}
	// Every $ref resolves.
	var whole struct {
		Components map[string]map[string]json.RawMessage `json:"components"`
	}
	if err := json.Unmarshal(openAPIDoc, &whole); err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`"#/components/(\w+)/(\w+)"`).FindAllStringSubmatch(string(openAPIDoc), -1) {
		if whole.Components[m[1]][m[2]] == nil {
			t.Errorf("openapi.json refers to the undefined %s %s", m[1], m[2])
		}
	}
}

func TestHandlerMetrics(t *testing.T) {
	st := handlerStore(t)
	reg := prometheus.NewRegistry()
	reg.MustRegister(commandcenter.NewMetrics(st, commandcenter.MetricsOptions{Clock: clock.NewManual(handlerNow)}))
	h := NewHandler(SourcesOf(st), HandlerOptions{Clock: clock.NewManual(handlerNow), Metrics: reg})
	res, body := get(t, h, "GET", "/metrics")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics = %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	containsAll(t, "/metrics", body, "fusionfleet_commandcenter_outbox_pending_records 3",
		`fusionfleet_commandcenter_printers{state="unreachable"} 1`)
	if strings.Contains(body, "go_goroutines") {
		t.Error("/metrics serves the global registry")
	}
}

func TestHandlerSelfTest(t *testing.T) {
	st := handlerStore(t)
	cfg := healthyCloud(t)
	var probes atomic.Int32
	cfg.Probe = func(_ context.Context, addr string) (deviceapi.Fingerprint, error) {
		probes.Add(1)
		return map[string]deviceapi.Fingerprint{"printer-a.site:8443": "AA:BB:CC", "printer-b.site:8443": "DD:EE",
			"printer-c.site:8443": "99:99", "printer-d.site:8443": "11:22"}[addr], nil
	}
	clk := clock.NewManual(time.Now())
	h := NewHandler(SourcesOf(st), HandlerOptions{Clock: clk, SelfTest: &cfg})

	var rep commandcenter.Report
	getJSON(t, h, "/api/selftest", &rep)
	wantCheck(t, rep, "printer 3DP <1>", commandcenter.CheckOK)
	wantCheck(t, rep, "printer printer-c.site:8443", commandcenter.CheckFailed, "not the pinned FF:00")
	wantCheck(t, rep, "last upload", commandcenter.CheckWarning, "not acknowledged an upload yet")
	wantCheck(t, rep, "cloud certificate", commandcenter.CheckOK)
	if n := probes.Load(); rep.Status != commandcenter.CheckFailed || n != 4 {
		t.Errorf("report %s after %d probes, want failed after 4", rep.Status, n)
	}

	_, body := get(t, h, "GET", "/selftest")
	containsAll(t, "/selftest", body, "Overall: failed", `<td class="st-failed">failed</td>`, "printer 3DP &lt;1&gt;", "cloud certificate")
	if n := probes.Load(); n != 4 {
		t.Errorf("the page ran the self-test again within %s (%d probes)", selfTestCache, n)
	}
	clk.Advance(selfTestCache)
	getJSON(t, h, "/api/selftest", &rep)
	if n := probes.Load(); n != 8 {
		t.Errorf("after %s the self-test did not run again (%d probes)", selfTestCache, n)
	}
}

func TestDrain(t *testing.T) {
	u := &localUI{}
	steps := []struct {
		pending int
		want    *Drain
	}{
		{50, nil},  // too small to count as a backlog
		{500, nil}, // growing
		{400, &Drain{Backlog: 500, Sent: 100, Progress: 0.2}},
		{600, nil}, // growing again: a new peak
		{150, &Drain{Backlog: 600, Sent: 450, Progress: 0.75}},
		{0, nil},  // drained
		{90, nil}, // a new, small backlog
	}
	for _, s := range steps {
		if diff := gocmp.Diff(s.want, u.drain(s.pending)); diff != "" {
			t.Errorf("drain(%d) (-want +got):\n%s", s.pending, diff)
		}
	}
}

func TestNewServerHasLimits(t *testing.T) {
	s := NewServer(http.NotFoundHandler(), nil)
	if s.ReadHeaderTimeout == 0 || s.ReadTimeout == 0 || s.WriteTimeout == 0 || s.IdleTimeout == 0 || s.MaxHeaderBytes == 0 {
		t.Errorf("server lacks a timeout or header limit: %+v", s)
	}
}

func TestWords(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{commandcenter.DurationWords(20 * time.Second), "under a minute"},
		{commandcenter.DurationWords(12 * time.Minute), "12 min"},
		{commandcenter.DurationWords(65 * time.Minute), "1 h 05 min"},
		{commandcenter.DurationWords(26 * time.Hour), "26 h 00 min"},
		{bytesWords(512), "512 B"},
		{bytesWords(12_345), "12.3 KB"},
		{bytesWords(4_000_000), "4.0 MB"},
		{bytesWords(536_870_912), "536.9 MB"},
		{bytesWords(2_500_000_000), "2.50 GB"},
		{bpsWords(800), "800 bit/s"},
		{bpsWords(12_500), "12.5 kbit/s"},
		{bpsWords(5_000_000), "5.0 Mbit/s"},
		{commandcenter.Stamp(time.Time{}), "never"},
		{stampOrDash(time.Time{}), "–"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestHandlerShowsStaleStateAsLastKnown(t *testing.T) {
	st := openStore(t)
	ctx := t.Context()
	p, err := st.AddPrinter(ctx, "printer-a:8443", fpA, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Observe(ctx, p.ID, commandcenter.Observation{Status: printingStatus("job-1", 60), Seen: t0}, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkFailed(ctx, p.ID, commandcenter.CollectionUnreachable, "timeout", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	_, body := get(t, testHandler(st), "GET", "/")
	if !strings.Contains(body, "<dd>last known: powered on, printing</dd>") {
		t.Errorf("page of an unreachable printer does not mark its state as last known:\n%s", body)
	}
}

// sqliteFull is an error as the SQLite driver reports a full disk.
type sqliteFull struct{}

func (sqliteFull) Error() string { return "database or disk is full (13)" }
func (sqliteFull) Code() int     { return 13 }

// A full disk, as the outbox's health reports it, is on every page.
func TestBannerShowsFullDisk(t *testing.T) {
	st := handlerStore(t)
	st.Outbox().Stored(sqliteFull{}, t0) // a poll that could not be stored
	for _, path := range []string{"/", "/jobs", "/uploads"} {
		if _, body := get(t, testHandler(st), "GET", path); !strings.Contains(body, "The disk is full: collection is paused") {
			t.Errorf("GET %s lacks the full-disk banner:\n%s", path, body)
		}
	}
}

func TestBanners(t *testing.T) {
	u := &localUI{opts: HandlerOptions{StaleAfter: time.Hour}}
	ob := outbox.State{Health: outbox.Health{Failing: true, DiskFull: true, LastError: "outbox: the disk is full", LastErrorAt: t0}}
	got := u.banners(i18n.English, commandcenter.UplinkState{LastSuccess: t0}, ob, t0.Add(time.Minute))
	if len(got) != 1 || got[0].Class != "bad" || !strings.Contains(got[0].Text, "The disk is full: collection is paused") {
		t.Errorf("banners = %+v, want the full disk", got)
	}
	ob.Health.DiskFull = false
	if got := u.banners(i18n.English, commandcenter.UplinkState{LastSuccess: t0}, ob, t0.Add(time.Minute)); len(got) != 1 ||
		!strings.Contains(got[0].Text, "Storing new data fails") {
		t.Errorf("banners = %+v, want the failing appends", got)
	}
}

// The demo's Command Center says on every page which clock its times are
// on; a real one says nothing of the kind.
func TestClockNote(t *testing.T) {
	st := handlerStore(t)
	const note = "Demo clock, 60× real time: every time shown is simulated."
	h := NewHandler(SourcesOf(st), HandlerOptions{Clock: clock.NewManual(handlerNow), ClockNote: note})
	for _, path := range []string{"/", "/jobs", "/uploads"} {
		if _, body := get(t, h, "GET", path); !strings.Contains(body, `<p class="clock-note" role="note">`+note) {
			t.Errorf("GET %s lacks the clock note", path)
		}
	}
	if _, body := get(t, testHandler(st), "GET", "/"); strings.Contains(body, "clock-note") {
		t.Error("a real Command Center's page carries a clock note")
	}
}

// The printers page and GET /api/printers show this Command Center's
// fingerprint, which the operator confirms at each printer; a printer that
// has not paired it says so with the fingerprint.
func TestHandlerShowsFingerprint(t *testing.T) {
	st := handlerStore(t)
	const fp = deviceapi.Fingerprint("AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89")
	ps, err := st.Printers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	msg := "not paired: the printer at " + ps[0].Address + " serves its private fields and logs only to Command Centers paired at the printer; " +
		"confirm this Command Center's fingerprint " + string(fp) + " at the printer"
	if err := st.MarkFailed(t.Context(), ps[0].ID, commandcenter.CollectionNotPaired, msg, handlerNow); err != nil {
		t.Fatal(err)
	}
	h := NewHandler(SourcesOf(st), HandlerOptions{Clock: clock.NewManual(handlerNow), Fingerprint: fp})
	var snap Snapshot
	getJSON(t, h, "/api/printers", &snap)
	if snap.Fingerprint != fp {
		t.Errorf("GET /api/printers fingerprint %q, want %q", snap.Fingerprint, fp)
	}
	_, body := get(t, h, "GET", "/")
	containsAll(t, "printers page", body, "confirm its fingerprint at each printer", `<span class="fp">`+string(fp)+`</span>`,
		`<dd class="not-paired">`+html.EscapeString(msg))

	_, body = get(t, testHandler(st), "GET", "/")
	if strings.Contains(body, "confirm its fingerprint") {
		t.Error("printers page without a fingerprint asks to confirm one")
	}
}

// The document declares the optional password: no credentials, or HTTP
// Basic, on every operation, each listing the 401.
func TestOpenAPISecurity(t *testing.T) {
	var doc struct {
		Security   []map[string][]string                                    `json:"security"`
		Paths      map[string]map[string]struct{ Responses map[string]any } `json:"paths"`
		Components struct {
			SecuritySchemes map[string]struct{ Type, Scheme string } `json:"securitySchemes"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatal(err)
	}
	if s := doc.Components.SecuritySchemes["password"]; s.Type != "http" || s.Scheme != "basic" {
		t.Errorf("securitySchemes.password = %+v, want http basic", s)
	}
	if diff := gocmp.Diff([]map[string][]string{{}, {"password": {}}}, doc.Security); diff != "" {
		t.Errorf("security (-want +got):\n%s", diff)
	}
	for path, ops := range doc.Paths {
		for m, op := range ops {
			if _, ok := op.Responses["401"]; !ok {
				t.Errorf("%s %s lists no 401", m, path)
			}
		}
	}
	// And the password is asked as declared.
	h := NewHandler(SourcesOf(handlerStore(t)), HandlerOptions{Clock: clock.NewManual(handlerNow), Password: "s3cret-enough"})
	if res, _ := get(t, h, "GET", "/api/printers"); res.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Basic ") {
		t.Errorf("GET /api/printers without the password = %d %q, want 401 asking Basic", res.StatusCode, res.Header.Get("WWW-Authenticate"))
	}
}
