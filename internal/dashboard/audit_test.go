package dashboard

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/audit"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/orgexport"
	"github.com/fusionfleet/fusionfleet/internal/sqlitedb"
)

// auditEntries reads org's whole audit log, newest first.
func auditEntries(t *testing.T, f *fixture, org fleet.OrgID) []audit.Entry {
	t.Helper()
	var out []audit.Entry
	if err := f.db.AuditEntries(t.Context(), org, audit.Filter{}, func(x audit.Entry) error { out = append(out, x); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLoginsAudited: a login and every failed login leave an entry, in
// the user's organisation's log or, for a name no one has, the
// operator's, with the name as typed.
func TestLoginsAudited(t *testing.T) {
	f := newFixture(t)
	ada := f.user(t, "ada")
	tests := []struct {
		name, user, pw string
		org            fleet.OrgID
		want           audit.Event
	}{
		{"login", "ada", password, f.orgA, audit.Event{Org: f.orgA, ActorOrg: f.orgA, Actor: ada, Name: "ada", Action: "login"}},
		{"wrong password", "ada", "wrong", f.orgA, audit.Event{Org: f.orgA, ActorOrg: f.orgA, Actor: ada, Name: "ada", Action: "login.failed"}},
		{"unknown name", "n0body-typed", password, audit.SystemOrg, audit.Event{Name: "n0body-typed", Action: "login.failed"}},
		{"name too long", strings.Repeat("x", maxNameLen+5), password, audit.SystemOrg, audit.Event{Name: strings.Repeat("x", maxNameLen), Action: "login.failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(auditEntries(t, f, tt.org))
			f.tryLogin(t, f.client(t), tt.user, tt.pw)
			got := auditEntries(t, f, tt.org)
			if len(got) != before+1 {
				t.Fatalf("%d entries after %d, want one more", len(got), before)
			}
			e := got[0].Event
			if e.Org != tt.want.Org || e.ActorOrg != tt.want.ActorOrg || e.Actor != tt.want.Actor || e.Name != tt.want.Name || e.Action != tt.want.Action {
				t.Errorf("entry %+v, want %+v", e, tt.want)
			}
			if !e.Time.Equal(f.clock.Now()) || !strings.Contains(e.Detail, "from 127.0.0.1") {
				t.Errorf("entry at %v from %q, want now from the client's address", e.Time, e.Detail)
			}
		})
	}
}

// failingRecorder is an audit log that cannot record.
type failingRecorder struct{}

func (failingRecorder) Record(context.Context, audit.Event) error {
	return errors.New("audit log unavailable")
}

// TestUnrecordedActionFails: when the audit log cannot record, an
// administrator's change and a login fail with 500 and change nothing.
func TestUnrecordedActionFails(t *testing.T) {
	f := newFixtureStore(t, func(d *Deps) { d.Audit = failingRecorder{} })
	ada := f.user(t, "ada")
	sites := func() int {
		s, err := f.db.Sites(t.Context(), f.orgA)
		if err != nil {
			t.Fatal(err)
		}
		return len(s)
	}
	n := sites()
	if status, body := f.postAs(t, ada, "/admin/sites", url.Values{"name": {"Unrecorded"}}); status != http.StatusInternalServerError {
		t.Errorf("new site without its record: %d, want 500\n%.300s", status, body)
	}
	if sites() != n {
		t.Error("the site was created without its audit record")
	}
	c := f.client(t)
	if resp, _ := f.tryLogin(t, c, "ada", password); resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("login without its record: %s, want 500", resp.Status)
	}
	if resp, _ := get(t, c, f.srv.URL+"/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after an unrecorded login, GET / = %s, want 303 to the login", resp.Status)
	}
	// Reading needs no record: a viewer's page still shows.
	if resp, _ := f.getAs(t, ada, "/", "en"); resp.StatusCode != http.StatusOK {
		t.Errorf("a page to read: %s, want 200", resp.Status)
	}
}

// TestPlanFeatures: a route that needs a feature is refused, with a
// message in the reader's language, to the members of an organisation
// whose plan lacks it, and open again once the plan has it.
func TestPlanFeatures(t *testing.T) {
	f := newFixture(t)
	ada := f.user(t, "ada")
	tests := []struct {
		path    string
		feature access.Feature
	}{
		{"/benchmark", access.FeatureBenchmark},
		{"/tokens", access.FeatureAPI},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if err := f.db.SetOrgFeatures(t.Context(), f.orgA, access.DefaultFeatures&^tt.feature); err != nil {
				t.Fatal(err)
			}
			resp, body := f.getAs(t, ada, tt.path, "de")
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Der Tarif Ihrer Organisation umfasst dies nicht.") {
				t.Errorf("without %s: %s\n%.300s", tt.feature, resp.Status, body)
			}
			if resp, _ := f.getAs(t, f.user(t, "bob"), tt.path, "en"); resp.StatusCode != http.StatusOK {
				t.Errorf("another organisation with the default plan: %s", resp.Status)
			}
			if err := f.db.SetOrgFeatures(t.Context(), f.orgA, tt.feature); err != nil {
				t.Fatal(err)
			}
			if resp, _ := f.getAs(t, ada, tt.path, "en"); resp.StatusCode != http.StatusOK {
				t.Errorf("with only %s: %s", tt.feature, resp.Status)
			}
		})
	}
}

// TestAuditPage: the audit page lists the organisation's entries newest
// first, filters them by action, actor and days, pages through them,
// exports what the filter selects and says whether the chain verifies.
func TestAuditPage(t *testing.T) {
	f := newFixture(t)
	ada := f.user(t, "ada")
	for i := range auditPageSize + 5 {
		action := audit.ActionAdmin
		if i%5 == 0 {
			action = audit.ActionLogin
		}
		if err := f.db.Record(t.Context(), audit.Event{Time: t0.Add(time.Duration(i) * time.Hour), Org: f.orgA, ActorOrg: f.orgA,
			Actor: ada, Name: "ada", Action: action, Target: "id=" + strconv.Itoa(i), Detail: "POST /admin/users"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.db.Record(t.Context(), audit.Event{Time: t0, Org: f.orgB, Name: "bob", Action: "login", Target: "canary-of-b"}); err != nil {
		t.Fatal(err)
	}
	rows := regexp.MustCompile(`data-seq="(\d+)"`)
	seqs := func(body string) []string {
		var out []string
		for _, m := range rows.FindAllStringSubmatch(body, -1) {
			out = append(out, m[1])
		}
		return out
	}
	tests := []struct {
		name, query string
		status      int
		first, n    int // the first entry's number and how many show
		next        bool
	}{
		{"newest page", "", 200, 55, auditPageSize, true},
		{"older page", "before=6", 200, 5, 5, false},
		{"logins", "action=login", 200, 51, 11, false},
		{"actor by name", "actor=ada&action=login", 200, 51, 11, false},
		{"nobody", "actor=eve", 200, 0, 0, false},
		{"one day", "from=2026-03-02&to=2026-03-02", 200, 36, 24, false},
		{"bad date", "from=yesterday", 400, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.getAs(t, ada, "/admin/audit?"+tt.query, "en")
			if resp.StatusCode != tt.status {
				t.Fatalf("status %s, want %d\n%.300s", resp.Status, tt.status, body)
			}
			got := seqs(body)
			if len(got) != tt.n || tt.n > 0 && got[0] != strconv.Itoa(tt.first) {
				t.Errorf("entries %v, want %d from %d", got, tt.n, tt.first)
			}
			if strings.Contains(body, `rel="next"`) != tt.next {
				t.Errorf("a next page link: %v, want %v", !tt.next, tt.next)
			}
			if strings.Contains(body, "canary-of-b") {
				t.Error("the page shows another organisation's entry")
			}
			if tt.status == 200 && !strings.Contains(body, `data-chain="verified"`) {
				t.Error("the page does not say the chain verifies")
			}
		})
	}
	resp, body := f.getAs(t, ada, "/admin/audit", "de")
	if resp.StatusCode != 200 || !strings.Contains(body, "Die Kette ist stimmig") {
		t.Errorf("German audit page: %s", resp.Status)
	}
	resp, body = f.getAs(t, ada, "/admin/audit/export?format=csv&action=login", "en")
	lines := strings.Split(strings.TrimSpace(body), "\n")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") || len(lines) != 12 ||
		!strings.HasPrefix(lines[0], "seq,time,action") || !strings.HasPrefix(lines[1], "51,") {
		t.Errorf("CSV export: %s %q\n%s", resp.Status, resp.Header.Get("Content-Type"), body)
	}
	resp, body = f.getAs(t, ada, "/admin/audit/export?format=jsonl", "en")
	if n := strings.Count(body, "\n"); resp.StatusCode != 200 || n != auditPageSize+5 {
		t.Errorf("JSON lines export: %s, %d lines", resp.Status, n)
	}
	if resp, _ := f.getAs(t, ada, "/admin/audit/export?format=xml", "en"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown format: %s", resp.Status)
	}
	// Tampered with, the page says so and names the entry.
	raw, err := sqlitedb.OpenFile(f.path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.ExecContext(t.Context(), `UPDATE audit_log SET detail = 'nothing to see' WHERE org_id = ? AND seq = 7`, string(f.orgA)); err != nil {
		t.Fatal(err)
	}
	_, body = f.getAs(t, ada, "/admin/audit", "en")
	if !strings.Contains(body, `data-chain="tampered"`) || !strings.Contains(body, "Entry 7: altered") {
		t.Errorf("tampered chain not shown:\n%.2000s", body)
	}
}

// TestDataExportAndDeletion: the export is one JSON document whose parts
// match its manifest and the page's counts; deletion needs the
// organisation's exact name, ends the session and leaves the other
// organisation as it was.
func TestDataExportAndDeletion(t *testing.T) {
	f := newFixture(t)
	ada := f.user(t, "ada")
	resp, page := f.getAs(t, ada, "/admin/data", "en")
	total := regexp.MustCompile(`data-export-rows="(\d+)"`).FindStringSubmatch(page)
	if resp.StatusCode != 200 || total == nil {
		t.Fatalf("data page %s", resp.Status)
	}
	resp, body := f.getAs(t, ada, "/admin/data/export", "en")
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export %s", resp.Status)
	}
	h, m, err := orgexport.Verify(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var rows int64
	for _, p := range m.Tables {
		rows += p.Count
	}
	// The export records itself first: one row more than the page counted.
	if h.Org != string(f.orgA) || strconv.FormatInt(rows-1, 10) != total[1] || strings.Contains(body, "password_hash") ||
		strings.Contains(body, string(f.orgB)) {
		t.Errorf("export of %s: %d rows, the page counted %s", h.Org, rows, total[1])
	}
	if err := f.db.SetOrgFeatures(t.Context(), f.orgA, access.FeatureAPI); err != nil {
		t.Fatal(err)
	}
	if resp, _ := f.getAs(t, ada, "/admin/data/export", "en"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("export without the feature: %s", resp.Status)
	}

	if status, body := f.postAs(t, ada, "/admin/data/delete", url.Values{"confirm": {"a"}}); status != http.StatusBadRequest ||
		!strings.Contains(body, "exactly") {
		t.Errorf("a wrong name: %d", status)
	}
	if _, err := f.db.Org(t.Context(), f.orgA); err != nil {
		t.Fatalf("the organisation is gone after a wrong name: %v", err)
	}
	status, _ := f.postAs(t, ada, "/admin/data/delete", url.Values{"confirm": {"A"}})
	if status != http.StatusSeeOther {
		t.Fatalf("delete: %d", status)
	}
	if _, err := f.db.Org(t.Context(), f.orgA); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("the organisation after deletion: %v", err)
	}
	if resp, _ := f.tryLogin(t, f.client(t), "ada", password); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the deleted admin logs in: %s", resp.Status)
	}
	if resp, _ := f.getAs(t, f.user(t, "bob"), "/", "en"); resp.StatusCode != http.StatusOK {
		t.Errorf("the other organisation: %s", resp.Status)
	}
}
