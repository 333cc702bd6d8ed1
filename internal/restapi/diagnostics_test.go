package restapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/audit"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// auditLog is an audit.Recorder that keeps what it records and passes it
// on to the store's log, or fails.
type auditLog struct {
	next   audit.Recorder
	mu     sync.Mutex
	events []audit.Event
	fail   bool
}

func (a *auditLog) Record(ctx context.Context, e audit.Event) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail {
		return errors.New("audit log unavailable")
	}
	a.events = append(a.events, e)
	return a.next.Record(ctx, e)
}

func (a *auditLog) actions() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, e := range a.events {
		out = append(out, e.Action+" "+e.Target)
	}
	return out
}

// walkDiagnostic makes a request for s's printer, done with a small result
// if done, and returns its ID.
func (f *fixture) walkDiagnostic(t *testing.T, s *side, done bool) fleet.DiagnosticID {
	t.Helper()
	ctx := t.Context()
	id, err := fleet.NewDiagnosticID()
	if err != nil {
		t.Fatal(err)
	}
	d, err := f.db.CreateDiagnostic(ctx, fleet.Diagnostic{DiagnosticRequest: fleet.DiagnosticRequest{ID: id, Kind: fleet.DiagnosticSnapshot,
		MaxBytes: 1 << 20, Requester: "walker", Created: t0, Expires: t0.Add(fleet.DiagnosticTTL)}, Org: s.org, Printer: s.printer, RequestedBy: s.admin, RequesterOrg: s.org})
	if err != nil {
		t.Fatal(err)
	}
	if !done {
		return d.ID
	}
	gw := fleet.Gateway{ID: "gw_walk", OrgID: s.org, SiteID: s.site}
	result := []byte(`{"counters":{}}` + "\n")
	for _, st := range []fleet.DiagnosticState{fleet.DiagDelivered, fleet.DiagApproved, fleet.DiagRunning} {
		if _, err := f.db.ReportDiagnostic(ctx, gw, fleet.DiagnosticReport{ID: id, State: st}, t0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.db.PutDiagnosticChunk(ctx, gw, fleet.DiagnosticChunkData{ID: id, Chunks: 1, Data: result}, t0); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(result)
	if _, err := f.db.ReportDiagnostic(ctx, gw, fleet.DiagnosticReport{ID: id, State: fleet.DiagDone, Chunks: 1, Size: int64(len(result)), SHA256: hex.EncodeToString(sum[:])}, t0); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestDiagnosticBadInput: absurd windows, sizes, unknown kinds and logs,
// forged IDs are clear 400s or 404s, and store nothing; a request the
// audit log cannot record is not made.
func TestDiagnosticBadInput(t *testing.T) {
	f := newFixture(t)
	tok := f.a.tokens["operator"]
	path := "/api/v1/printers/" + string(f.a.printer) + "/diagnostics"
	tests := []struct {
		name, body string
		want       int
		text       string
	}{
		{"absurd window", `{"kind":"logs","logs":["session"],"from":"2026-01-01T00:00:00Z","to":"2026-03-01T00:00:00Z"}`, 400, "window of"},
		{"backwards window", `{"kind":"logs","logs":["session"],"from":"2026-03-01T00:00:00Z","to":"2026-01-01T00:00:00Z"}`, 400, "not before"},
		{"no window", `{"kind":"logs","logs":["session"]}`, 400, "needs a window"},
		{"unknown log", `{"kind":"logs","logs":["/etc/passwd"],"from":"2026-02-28T00:00:00Z","to":"2026-03-01T00:00:00Z"}`, 400, "unknown"},
		{"huge", `{"kind":"snapshot","max_bytes":1099511627776}`, 400, "max_bytes"},
		{"negative", `{"kind":"snapshot","max_bytes":-5}`, 400, "max_bytes"},
		{"unknown kind", `{"kind":"shell"}`, 400, "kind"},
		{"unknown field", `{"kind":"snapshot","command":"rm"}`, 400, "not the JSON object"},
		{"valid", `{"kind":"logs","logs":["session","sensors"],"from":"2026-02-28T00:00:00Z","to":"2026-03-01T00:00:00Z"}`, 201, `"state":"requested"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := f.do(t, "POST", path, tok, tt.body)
			if status != tt.want || !strings.Contains(body, tt.text) {
				t.Errorf("got %d %s, want %d with %q", status, body, tt.want, tt.text)
			}
		})
	}
	list, err := f.db.Diagnostics(t.Context(), f.a.org, f.a.printer)
	if err != nil || len(list) != 1 {
		t.Errorf("stored %d requests, %v; want only the valid one", len(list), err)
	}
	for _, p := range []string{"/api/v1/diagnostics/dg_00000000000000000000000000000000", "/api/v1/diagnostics/..%2f..%2fetc", "/api/v1/diagnostics/dg_x/result"} {
		if status, _ := f.do(t, "GET", p, tok, ""); status != 404 {
			t.Errorf("GET %s: %d, want 404", p, status)
		}
	}
	// Another organisation's printer, and a printer at a site the caller
	// does not see, are not found.
	if status, _ := f.do(t, "POST", "/api/v1/printers/"+string(f.b.printer)+"/diagnostics", tok, `{"kind":"snapshot"}`); status != 404 {
		t.Errorf("other org's printer: %d, want 404", status)
	}
	if status, _ := f.do(t, "POST", path, f.a.tokens["loperator"], `{"kind":"snapshot"}`); status != 404 {
		t.Errorf("printer at an unseen site: %d, want 404", status)
	}
	// Not done yet: no result; withdrawn once, then a conflict.
	id := list[0].ID
	if status, _ := f.do(t, "GET", "/api/v1/diagnostics/"+string(id)+"/result", tok, ""); status != 409 {
		t.Errorf("result before done: %d, want 409", status)
	}
	if status, _ := f.do(t, "POST", "/api/v1/diagnostics/"+string(id)+"/cancel", tok, ""); status != 200 {
		t.Errorf("cancel: %d", status)
	}
	if status, _ := f.do(t, "POST", "/api/v1/diagnostics/"+string(id)+"/cancel", tok, ""); status != 409 {
		t.Errorf("cancel again: %d, want 409", status)
	}
	f.audit.fail = true
	if status, body := f.do(t, "POST", path, tok, `{"kind":"selftest"}`); status != 500 {
		t.Errorf("audit failing: %d %s, want 500", status, body)
	}
	f.audit.fail = false
	if list, _ := f.db.Diagnostics(t.Context(), f.a.org, f.a.printer); len(list) != 1 {
		t.Errorf("a request the audit did not record was stored: %d requests", len(list))
	}
}

// TestDiagnosticRequestAndResult: a request is audited, its result
// downloads with its digest, and the download is audited.
func TestDiagnosticRequestAndResult(t *testing.T) {
	f := newFixture(t)
	tok := f.a.tokens["operator"]
	status, body := f.do(t, "POST", "/api/v1/printers/"+string(f.a.printer)+"/diagnostics", tok, `{"kind":"selftest"}`)
	if status != 201 {
		t.Fatalf("request: %d %s", status, body)
	}
	var d fleet.Diagnostic
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	if d.Kind != fleet.DiagnosticSelfTest || d.Site != f.a.site || d.MaxBytes != 8<<20 || !d.Expires.Equal(t0.Add(fleet.DiagnosticTTL)) {
		t.Errorf("request = %+v", d)
	}
	done := f.walkDiagnostic(t, f.a, true)
	req, _ := http.NewRequest("GET", f.srv.URL+"/api/v1/diagnostics/"+string(done)+"/result", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" || len(resp.Header.Get("X-Content-SHA256")) != 64 {
		t.Errorf("result: %d %v", resp.StatusCode, resp.Header)
	}
	got := f.audit.actions()
	want := []string{"diagnostic.request " + string(d.ID), "diagnostic.download " + string(done)}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("audited %v, want %v", got, want)
	}
}

// TestDiagnosticGrantScopes: a service provider's engineer under a grant
// may ask for diagnostics only with the diagnostics scope and follow them
// only with the logs scope, at the granted sites only; what the engineer
// does is audited with the grant.
func TestDiagnosticGrantScopes(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	provider, err := f.db.CreateOrgOfKind(ctx, "Service Co", access.OrgServiceProvider)
	if err != nil {
		t.Fatal(err)
	}
	eng := access.Principal{Kind: access.KindUser, User: fleet.User{ID: "user-eve", OrgID: provider, Name: "eve", Role: fleet.RoleOperator},
		Org: provider, Role: fleet.RoleOperator, Sites: access.AllSites(), Scope: access.ScopeReadWrite}
	under := func(scopes access.GrantScope) access.Principal {
		t.Helper()
		g := access.Grant{ID: "grant-1", Customer: f.a.org, Provider: provider, Role: fleet.RoleOperator,
			Sites: access.OnlySites(f.a.site), Scopes: scopes, Expires: t0.Add(time.Hour)}
		q, err := access.UnderGrant(eng, g, t0)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	writes := map[string]bool{"POST /api/v1/printers/{id}/diagnostics": true, "POST /api/v1/diagnostics/{id}/cancel": true}
	n := 0
	for _, rt := range f.h.routes() {
		key := rt.method + " " + rt.path
		if !strings.Contains(rt.path, "diagnostics") {
			continue
		}
		n++
		for _, sc := range []access.GrantScope{access.GrantStatus, access.GrantDiagnostics, access.GrantLogs, access.GrantDiagnostics | access.GrantLogs} {
			want := sc.Has(access.GrantLogs)
			if writes[key] {
				want = sc.Has(access.GrantDiagnostics)
			}
			if err := access.Check(under(sc), rt.need, t0); (err == nil) != want {
				t.Errorf("%s under a grant of %v: %v, want allowed %v", key, sc.Names(), err, want)
			}
		}
	}
	if n != 5 {
		t.Errorf("%d diagnostics routes, want 5", n)
	}
	q := under(access.GrantDiagnostics | access.GrantLogs)
	run := func(method, path string, handle func(http.ResponseWriter, *http.Request, access.Principal) error, id, body string) (int, string) {
		r := httptest.NewRequestWithContext(ctx, method, path, strings.NewReader(body))
		r.SetPathValue("id", id)
		w := httptest.NewRecorder()
		if err := handle(w, r, q); err != nil {
			status, msg := statusOf(err)
			return status, msg
		}
		return w.Code, w.Body.String()
	}
	status, body := run("POST", "/", f.h.diags.requestDiagnostic, string(f.a.printer), `{"kind":"snapshot"}`)
	if status != 201 {
		t.Fatalf("engineer requests: %d %s", status, body)
	}
	var d fleet.Diagnostic
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	if d.Grant != "grant-1" || d.RequesterOrg != provider || !strings.Contains(d.Requester, "eve") {
		t.Errorf("request = %+v", d)
	}
	// The printer at a site the grant does not name is not there.
	if status, _ := run("POST", "/", f.h.diags.requestDiagnostic, string(f.a.printer)+"-2", `{"kind":"snapshot"}`); status != 404 {
		t.Errorf("printer outside the grant: %d, want 404", status)
	}
	other := f.walkDiagnostic(t, f.a, true)
	if _, err := f.db.Diagnostic(ctx, f.a.org, other); err != nil {
		t.Fatal(err)
	}
	if status, _ := run("GET", "/", f.h.diags.diagnosticResult, string(other), ""); status != 200 {
		t.Errorf("engineer downloads: %d", status)
	}
	f.audit.mu.Lock()
	defer f.audit.mu.Unlock()
	var actions []string
	for _, e := range f.audit.events {
		actions = append(actions, e.Action)
	}
	if got := strings.Join(actions, " "); got != "diagnostic.request diagnostic.refused diagnostic.download" {
		t.Fatalf("audited %q, want the request, the refusal outside the grant and the download", got)
	}
	for _, e := range f.audit.events {
		if e.Grant != "grant-1" || e.ActorOrg != provider || e.Org != f.a.org || e.Actor != "user-eve" {
			t.Errorf("audit event %+v: want the grant, the provider and the customer", e)
		}
	}
}
