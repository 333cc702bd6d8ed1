package restapi

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// provider is a service provider of the fixture: its engineer (an
// operator), its dispatcher (a viewer) and its administrator, each with a
// read-write token.
type provider struct {
	org    fleet.OrgID
	tokens map[string]string
}

func (f *fixture) seedProvider(t *testing.T, name string) *provider {
	t.Helper()
	ctx := t.Context()
	org, err := f.db.CreateOrgOfKind(ctx, name, access.OrgServiceProvider)
	if err != nil {
		t.Fatal(err)
	}
	p := &provider{org: org, tokens: map[string]string{}}
	for _, u := range []struct {
		key  string
		role fleet.Role
	}{{"engineer", fleet.RoleOperator}, {"dispatcher", fleet.RoleViewer}, {"padmin", fleet.RoleAdmin}} {
		id, err := f.db.CreateMember(ctx, org, name+"-"+u.key, someHash, u.role, access.AllSites())
		if err != nil {
			t.Fatal(err)
		}
		p.tokens[u.key] = f.token(t, org, id, access.ScopeReadWrite, access.AllSites(), t0.Add(time.Hour))
	}
	return p
}

// grantTo stores a grant of s to provider p directly (the store takes
// windows the API refuses, such as one already over).
func (f *fixture) grantTo(t *testing.T, s *side, p *provider, sites access.SiteSet, scopes access.GrantScope, starts, expires time.Time) string {
	t.Helper()
	id, err := f.db.CreateGrant(t.Context(), access.Grant{Customer: s.org, Provider: p.org, Role: access.GrantRole, Sites: sites,
		Scopes: scopes, Starts: starts, Expires: expires, Created: t0.Add(-2 * time.Hour), CreatedBy: s.admin})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// walkGrant is a live grant of s for all sites, for the walker to revoke.
func (f *fixture) walkGrant(t *testing.T, s *side) string {
	return f.grantTo(t, s, f.p1, access.AllSites(), access.GrantStatus, t0, t0.Add(time.Hour))
}

// doGrant sends a request with a bearer secret under a grant.
func (f *fixture) doGrant(t *testing.T, method, path, secret, grant string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set(GrantHeader, grant)
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// The walker under grants: every route of the table, called by each user
// of service provider 1 under each kind of grant, on customer A's objects
// (customer B, with a grant to provider 2, is the other tenant). A route
// opens only to a live grant of the caller's provider holding the scope
// the route names, and shows only the granted sites; no answer ever names
// customer B, or, under a grant for A's second site, A's first.
func TestGrantWalker(t *testing.T) {
	f := newFixture(t)
	doc := documented(t)
	a := f.a
	grants := map[string]string{
		"live":          f.grantTo(t, a, f.p1, access.OnlySites(a.site), access.GrantStatus|access.GrantMaintenance, t0.Add(-time.Hour), t0.Add(time.Hour)),
		"all sites":     f.grantTo(t, a, f.p1, access.AllSites(), access.GrantStatus, t0.Add(-time.Hour), t0.Add(time.Hour)),
		"out of site":   f.grantTo(t, a, f.p1, access.OnlySites(a.site2), access.GrantStatus, t0.Add(-time.Hour), t0.Add(time.Hour)),
		"no scope":      f.grantTo(t, a, f.p1, access.OnlySites(a.site), access.GrantMaintenance|access.GrantLogs, t0.Add(-time.Hour), t0.Add(time.Hour)),
		"expired":       f.grantTo(t, a, f.p1, access.OnlySites(a.site), access.GrantStatus, t0.Add(-2*time.Hour), t0),
		"scheduled":     f.grantTo(t, a, f.p1, access.OnlySites(a.site), access.GrantStatus, t0.Add(time.Minute), t0.Add(time.Hour)),
		"revoked":       f.grantTo(t, a, f.p1, access.OnlySites(a.site), access.GrantStatus, t0.Add(-time.Hour), t0.Add(time.Hour)),
		"to provider 2": f.grantTo(t, a, f.p2, access.AllSites(), access.GrantStatus, t0.Add(-time.Hour), t0.Add(time.Hour)),
		"forged":        "grt_00000000000000000000000000000000",
		"malformed":     "grt_../../etc",
	}
	if err := f.db.RevokeGrant(t.Context(), a.org, grants["revoked"], t0.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	// B's grant to provider 2: provider 1 can never use it, and nothing
	// of B ever shows under A's grants.
	grants["B's to provider 2"] = f.grantTo(t, f.b, f.p2, access.AllSites(), access.GrantStatus, t0.Add(-time.Hour), t0.Add(time.Hour))
	// The live grants of the caller's provider, and the scopes each holds.
	live := map[string]access.GrantScope{"live": access.GrantStatus | access.GrantMaintenance, "all sites": access.GrantStatus,
		"out of site": access.GrantStatus, "no scope": access.GrantMaintenance | access.GrantLogs}
	callers := map[string]string{"engineer": f.p1.tokens["engineer"], "dispatcher": f.p1.tokens["dispatcher"],
		"provider admin": f.p1.tokens["padmin"], "customer admin": a.tokens["admin"]}
	n := 0
	for _, rt := range f.h.routes() {
		key := rt.method + " " + rt.path
		for who, secret := range callers {
			for kind, id := range grants {
				n++
				t.Run(key+"/"+who+"/"+kind, func(t *testing.T) {
					victimUser, victimToken := f.victims(t, a, n)
					path := strings.NewReplacer("{job}", walkJob, "{key}", "offline").Replace(rt.path)
					switch {
					case strings.HasPrefix(rt.path, "/api/v1/printers/"):
						path = strings.Replace(path, "{id}", string(a.printer), 1)
					case strings.HasPrefix(rt.path, "/api/v1/users/"):
						path = strings.Replace(path, "{id}", string(victimUser), 1)
					case strings.HasPrefix(rt.path, "/api/v1/tokens/"):
						path = strings.Replace(path, "{id}", string(victimToken), 1)
					case strings.HasPrefix(rt.path, "/api/v1/alerts/"):
						path = strings.Replace(path, "{id}", string(f.walkAlert(t, a, n)), 1)
					case strings.HasPrefix(rt.path, "/api/v1/notification-channels/"):
						path = strings.Replace(path, "{id}", f.walkChannel(t, a.org), 1)
					case strings.HasPrefix(rt.path, "/api/v1/alert-rules/"):
						path = strings.Replace(path, "{id}", f.walkRule(t, a.org), 1)
					case strings.HasPrefix(rt.path, "/api/v1/grants/"):
						path = strings.Replace(path, "{id}", f.walkGrant(t, a), 1)
					case strings.HasPrefix(rt.path, "/api/v1/diagnostics/"):
						path = strings.Replace(path, "{id}", string(f.walkDiagnostic(t, a, strings.HasSuffix(rt.path, "/result"))), 1)
					}
					status, got := f.doGrant(t, rt.method, path, secret, id)
					want := http.StatusForbidden
					switch {
					case rt.need.Public:
						want = http.StatusOK
					case who == "customer admin" || !live[kind].Has(rt.need.Grant):
						// Not the caller's provider's grant, not live, or a
						// route the grant's scopes do not open.
					case rt.method != http.MethodGet:
						t.Fatalf("%s is open to grants but changes data", key)
					case strings.Contains(rt.path, "{id}") && kind == "out of site":
						want = http.StatusNotFound // the printer and alert are at A's first site
					default:
						want = http.StatusOK
					}
					if status != want {
						t.Errorf("status %d, want %d; body %.300s", status, want, got)
					}
					if !doc[key][status] {
						t.Errorf("status %d is not documented for %s", status, key)
					}
					for _, c := range a.otherCanaries {
						if strings.Contains(got, c) {
							t.Errorf("answer under A's grant names %q of customer B", c)
						}
					}
					if kind == "out of site" && (strings.Contains(got, `"`+string(a.printer)+`"`) || strings.Contains(got, string(a.site)+`"`)) {
						t.Errorf("a grant for A's second site shows its first:\n%.500s", got)
					}
				})
			}
		}
	}
	// The printer list under the live grant is the first site's printer.
	status, got := f.doGrant(t, "GET", "/api/v1/printers", f.p1.tokens["dispatcher"], grants["live"])
	var ps []fleet.PrinterView
	if err := json.Unmarshal([]byte(got), &ps); status != 200 || err != nil || len(ps) != 1 || ps[0].ID != a.printer {
		t.Errorf("printers under the live grant: %d %v %s", status, err, got)
	}
	// Without the header, the provider's token sees its own (empty) organisation.
	if status, got := f.do(t, "GET", "/api/v1/printers", f.p1.tokens["engineer"], ""); status != 200 || strings.TrimSpace(got) != "[]" {
		t.Errorf("a provider's own printers: %d %s", status, got)
	}
}

// The grants API: a customer admin gives, lists and revokes; the provider
// lists what it received and acts under it until revoked; bad input is
// refused with nothing stored.
func TestGrantsAPI(t *testing.T) {
	f := newFixture(t)
	a := f.a
	body := func(provider fleet.OrgID, sites string, scopes string, expires time.Time) string {
		return `{"provider_id":"` + string(provider) + `","sites":` + sites + `,"scopes":` + scopes + `,"expires_at":"` + expires.Format(time.RFC3339) + `"}`
	}
	status, got := f.do(t, "POST", "/api/v1/grants", a.tokens["admin"], body(f.p1.org, `["`+string(a.site)+`"]`, `["status","logs"]`, t0.Add(24*time.Hour)))
	if status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, got)
	}
	var g grantJSON
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatal(err)
	}
	if g.Provider.Name != "Fixers" || g.Customer.ID != a.org || g.State != "live" || strings.Join(g.Scopes, ",") != "status,logs" ||
		len(g.Sites) != 1 || g.Sites[0] != a.site || !g.Starts.Equal(t0) || g.CreatedBy != a.admin {
		t.Errorf("created grant: %+v", g)
	}
	// The provider sees it among its received grants, without who made it.
	status, got = f.do(t, "GET", "/api/v1/received-grants", f.p1.tokens["dispatcher"], "")
	if status != 200 || !strings.Contains(got, g.ID) || !strings.Contains(got, "CanaryAlpha Org") || strings.Contains(got, string(a.admin)) {
		t.Errorf("received grants: %d %s", status, got)
	}
	if _, got := f.do(t, "GET", "/api/v1/received-grants", f.p2.tokens["padmin"], ""); strings.Contains(got, g.ID) {
		t.Error("provider 2 sees provider 1's grant")
	}
	if _, got := f.do(t, "GET", "/api/v1/grants", f.b.tokens["admin"], ""); strings.Contains(got, g.ID) {
		t.Error("customer B sees customer A's grant")
	}
	if status, _ := f.doGrant(t, "GET", "/api/v1/printers/"+string(a.printer), f.p1.tokens["engineer"], g.ID); status != 200 {
		t.Errorf("printer under the grant: %d", status)
	}
	// Customer B cannot revoke it; A's admin limited to the second site
	// does not see it; A's admin revokes it, and the next request fails.
	if status, _ := f.do(t, "DELETE", "/api/v1/grants/"+g.ID, f.b.tokens["admin"], ""); status != 404 {
		t.Errorf("revoke by customer B: %d, want 404", status)
	}
	if status, _ := f.do(t, "DELETE", "/api/v1/grants/"+g.ID, a.tokens["ladmin"], ""); status != 404 {
		t.Errorf("revoke by a site-limited admin of another site: %d, want 404", status)
	}
	if status, got := f.do(t, "DELETE", "/api/v1/grants/"+g.ID, a.tokens["admin"], ""); status != 204 {
		t.Fatalf("revoke: %d %s", status, got)
	}
	if status, _ := f.doGrant(t, "GET", "/api/v1/printers/"+string(a.printer), f.p1.tokens["engineer"], g.ID); status != 403 {
		t.Errorf("printer under the revoked grant: %d, want 403", status)
	}
	// A site-limited admin grants its own site, and no other.
	if status, got := f.do(t, "POST", "/api/v1/grants", a.tokens["ladmin"], body(f.p1.org, `["`+string(a.site2)+`"]`, `["status"]`, t0.Add(time.Hour))); status != 201 {
		t.Errorf("site-limited admin, own site: %d %s", status, got)
	}
	if status, _ := f.do(t, "POST", "/api/v1/grants", a.tokens["ladmin"], body(f.p1.org, `["`+string(a.site)+`"]`, `["status"]`, t0.Add(time.Hour))); status != 403 {
		t.Errorf("site-limited admin, another site: %d, want 403", status)
	}
	before, _ := f.db.Grants(t.Context(), a.org)
	for i, tt := range []struct {
		name, body string
	}{
		{"to a customer", body(f.b.org, "null", `["status"]`, t0.Add(time.Hour))},
		{"to itself", body(a.org, "null", `["status"]`, t0.Add(time.Hour))},
		{"unknown provider", body("org_forged", "null", `["status"]`, t0.Add(time.Hour))},
		{"B's site", body(f.p1.org, `["`+string(f.b.site)+`"]`, `["status"]`, t0.Add(time.Hour))},
		{"no sites", body(f.p1.org, `[]`, `["status"]`, t0.Add(time.Hour))},
		{"no scope", body(f.p1.org, "null", `[]`, t0.Add(time.Hour))},
		{"unknown scope", body(f.p1.org, "null", `["root"]`, t0.Add(time.Hour))},
		{"in the past", body(f.p1.org, "null", `["status"]`, t0.Add(-time.Hour))},
		{"two years", body(f.p1.org, "null", `["status"]`, t0.Add(2*365*24*time.Hour))},
		{"unknown field", `{"provider_id":"` + string(f.p1.org) + `","role":"admin","scopes":["status"],"expires_at":"2026-03-02T00:00:00Z"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, got := f.do(t, "POST", "/api/v1/grants", a.tokens["admin"], tt.body)
			if status != http.StatusBadRequest {
				t.Errorf("case %d: %d, want 400; %s", i, status, got)
			}
		})
	}
	if after, _ := f.db.Grants(t.Context(), a.org); len(after) != len(before) {
		t.Errorf("refused grants stored: %d before, %d after", len(before), len(after))
	}
	// A provider under a grant gives no grants, and a provider's own
	// admin gives none to itself.
	g2 := f.grantTo(t, a, f.p1, access.AllSites(), access.GrantStatus, t0, t0.Add(time.Hour))
	req := `{"provider_id":"` + string(f.p2.org) + `","sites":null,"scopes":["status"],"expires_at":"` + t0.Add(time.Hour).Format(time.RFC3339) + `"}`
	if status, _ := f.doGrantBody(t, "POST", "/api/v1/grants", f.p1.tokens["padmin"], g2, req); status != 403 {
		t.Errorf("grant under a grant: %d, want 403", status)
	}
	if status, _ := f.do(t, "POST", "/api/v1/grants", f.p1.tokens["padmin"], req); status != 400 {
		t.Errorf("a provider granting to a provider: %d, want 400", status)
	}
}

// doGrantBody is doGrant with a JSON body.
func (f *fixture) doGrantBody(t *testing.T, method, path, secret, grant, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set(GrantHeader, grant)
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// Two customers, two providers: each provider sees, under the grant its
// customer gave it, that customer's printers only, whatever IDs it sends.
func TestGrantsAcrossTenants(t *testing.T) {
	f := newFixture(t)
	a, b := f.a, f.b
	ga := f.grantTo(t, a, f.p1, access.AllSites(), access.GrantStatus, t0.Add(-time.Hour), t0.Add(time.Hour))
	gb := f.grantTo(t, b, f.p2, access.AllSites(), access.GrantStatus, t0.Add(-time.Hour), t0.Add(time.Hour))
	for _, tt := range []struct {
		name, token, grant, path string
		want                     int
		mine, theirs             *side
	}{
		{"provider 1 lists A's printers", f.p1.tokens["engineer"], ga, "/api/v1/printers", 200, a, b},
		{"provider 2 lists B's printers", f.p2.tokens["engineer"], gb, "/api/v1/printers", 200, b, a},
		{"provider 1 asks for B's printer under A's grant", f.p1.tokens["engineer"], ga, "/api/v1/printers/" + string(b.printer), 404, a, b},
		{"provider 2 asks for A's alerts under B's grant", f.p2.tokens["dispatcher"], gb, "/api/v1/alerts?site=" + string(a.site), 200, b, a}, // none
		{"provider 1 uses B's grant", f.p1.tokens["engineer"], gb, "/api/v1/printers", 403, a, b},
		{"provider 2 uses A's grant", f.p2.tokens["padmin"], ga, "/api/v1/printers", 403, b, a},
		{"A's admin uses A's grant", a.tokens["admin"], ga, "/api/v1/printers", 403, a, b},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, got := f.doGrant(t, "GET", tt.path, tt.token, tt.grant)
			if status != tt.want {
				t.Errorf("status %d, want %d: %s", status, tt.want, got)
			}
			for _, c := range tt.theirs.canaries {
				if strings.Contains(got, c) {
					t.Errorf("answer names %q of the other customer", c)
				}
			}
			if status == 200 && tt.path == "/api/v1/printers" && !strings.Contains(got, string(tt.mine.printer)) {
				t.Errorf("the granted customer's printer is missing: %s", got)
			}
		})
	}
}
