package dashboard

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/audit"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
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
