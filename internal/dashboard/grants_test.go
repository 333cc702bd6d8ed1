package dashboard

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// providerSide is a service provider of the fixture with its engineer
// (an operator), dispatcher (a viewer) and administrator.
type providerSide struct {
	org   fleet.OrgID
	users map[string]fleet.UserID
}

// provider returns the service provider called name, made on first use
// with users name-engineer, name-dispatcher and name-padmin.
func (f *fixture) provider(t *testing.T, name string) *providerSide {
	t.Helper()
	if p := f.providers[name]; p != nil {
		return p
	}
	ctx := t.Context()
	org, err := f.db.CreateOrgOfKind(ctx, name, access.OrgServiceProvider)
	if err != nil {
		t.Fatal(err)
	}
	p := &providerSide{org: org, users: map[string]fleet.UserID{}}
	for _, u := range []struct {
		key  string
		role fleet.Role
	}{{"engineer", fleet.RoleOperator}, {"dispatcher", fleet.RoleViewer}, {"padmin", fleet.RoleAdmin}} {
		if p.users[u.key], err = f.db.CreateMember(ctx, org, name+"-"+u.key, f.hashed, u.role, access.AllSites()); err != nil {
			t.Fatal(err)
		}
	}
	if f.providers == nil {
		f.providers = map[string]*providerSide{}
	}
	f.providers[name] = p
	return p
}

// grantTo stores a grant of org to p directly (the store takes windows
// the forms refuse, such as one already over).
func (f *fixture) grantTo(t *testing.T, org fleet.OrgID, p *providerSide, sites access.SiteSet, scopes access.GrantScope, starts, expires time.Time) string {
	t.Helper()
	id, err := f.db.CreateGrant(t.Context(), access.Grant{Customer: org, Provider: p.org, Role: access.GrantRole, Sites: sites,
		Scopes: scopes, Starts: starts, Expires: expires, Created: t0.Add(-2 * time.Hour), CreatedBy: "usr_walk"})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// walkGrant is a live grant of org to the provider "Fixers" for all
// sites, for the walker to revoke.
func (f *fixture) walkGrant(t *testing.T, org fleet.OrgID) string {
	t.Helper()
	return f.grantTo(t, org, f.provider(t, "Fixers"), access.AllSites(), access.GrantStatus, t0.Add(-time.Hour), t0.Add(time.Hour))
}

// The walker under grants: every route of the dashboard's table, called
// by each user of a service provider that chose customer A under each
// kind of grant (customer B gave one to another provider). A route opens
// only to a live grant of the caller's provider holding the scope it
// names, and shows only the granted sites; the caller's own routes
// (customers, account, logout) work as the caller; no answer names B, or,
// under a grant for A's second site, A's printer at the first.
func TestGrantWalker(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	ada, _, _ := f.db.UserByName(ctx, "ada")
	vic, _, _ := f.db.UserByName(ctx, "vic")
	a := f.seedWalk(t, f.orgA, f.siteA, "Alpha", ada.ID, vic.ID)
	a.printer, a.job = "printer-a001", "job-a1"
	f.addJob(t, f.orgA, f.siteA, a.printer, a.job, fleet.JobCompleted, t0)
	a.alert = f.seedAlert(t, f.orgA, f.siteA, a.printer, "lamp", fleet.SeverityWarning, "Lamp weak or failed")
	f.seedAlert(t, f.orgB, f.siteB, "printer-b001", "lamp", fleet.SeverityWarning, "Lamp weak or failed")
	p1, p2 := f.provider(t, "Fixers"), f.provider(t, "Menders")
	canariesB := []string{"printer-b001", "B&#39;s printer", "B's printer", "Bremen", string(f.orgB), string(f.siteB)}

	hour := time.Hour
	grants := map[string]string{
		"live":          f.grantTo(t, f.orgA, p1, access.OnlySites(f.siteA), access.GrantStatus|access.GrantLogs, t0.Add(-hour), t0.Add(hour)),
		"all sites":     f.grantTo(t, f.orgA, p1, access.AllSites(), access.GrantStatus, t0.Add(-hour), t0.Add(hour)),
		"out of site":   f.grantTo(t, f.orgA, p1, access.OnlySites(a.site2), access.GrantStatus, t0.Add(-hour), t0.Add(hour)),
		"no scope":      f.grantTo(t, f.orgA, p1, access.OnlySites(f.siteA), access.GrantMaintenance, t0.Add(-hour), t0.Add(hour)),
		"expired":       f.grantTo(t, f.orgA, p1, access.OnlySites(f.siteA), access.GrantStatus, t0.Add(-2*hour), t0),
		"scheduled":     f.grantTo(t, f.orgA, p1, access.OnlySites(f.siteA), access.GrantStatus, t0.Add(time.Minute), t0.Add(hour)),
		"revoked":       f.grantTo(t, f.orgA, p1, access.OnlySites(f.siteA), access.GrantStatus, t0.Add(-hour), t0.Add(hour)),
		"to provider 2": f.grantTo(t, f.orgA, p2, access.AllSites(), access.GrantStatus, t0.Add(-hour), t0.Add(hour)),
		"B's":           f.grantTo(t, f.orgB, p2, access.AllSites(), access.GrantStatus, t0.Add(-hour), t0.Add(hour)),
		"forged":        "grt_00000000000000000000000000000000",
	}
	if err := f.db.RevokeGrant(ctx, f.orgA, grants["revoked"], t0.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	// The live grants of the caller's provider holding the status scope
	// (open), and the scopes of every live grant.
	live := map[string]access.GrantScope{"live": access.GrantStatus | access.GrantLogs, "all sites": access.GrantStatus,
		"out of site": access.GrantStatus, "no scope": access.GrantMaintenance}
	open := map[string]bool{"live": true, "all sites": true, "out of site": true}
	wrongCurrent := url.Values{"current": {"wrong"}, "new": {"a new password 1"}, "confirm": {"a new password 1"}}
	// The caller's own routes, as the caller, whatever grant it chose.
	home := map[string]struct {
		form url.Values
		want func(kind string) int
	}{
		"GET /customers":             {nil, func(string) int { return 200 }},
		"POST /customers/leave":      {url.Values{}, func(string) int { return 303 }},
		"POST /logout":               {url.Values{}, func(string) int { return 303 }},
		"GET /account":               {nil, func(string) int { return 200 }},
		"POST /account":              {url.Values{"lang": {"en"}, "zone": {"UTC"}}, func(string) int { return 303 }},
		"POST /account/password":     {wrongCurrent, func(string) int { return 403 }},
		"POST /api/account/password": {wrongCurrent, func(string) int { return 403 }},
		"POST /customers/{id}/open": {url.Values{}, func(kind string) int {
			if open[kind] || kind == "no scope" {
				return 303
			}
			return 404
		}},
	}
	n := 0
	for _, rt := range f.h.table() {
		if rt.need.Public {
			continue // the same for everyone
		}
		method, path, _ := strings.Cut(rt.pattern, " ")
		if path == "" {
			method, path = http.MethodGet, "/no/such/page"
		}
		for _, who := range []string{"engineer", "dispatcher", "padmin"} {
			for kind, id := range grants {
				if who != "engineer" && kind != "live" && kind != "out of site" && kind != "revoked" {
					continue // the engineer tries every kind; the others the main ones
				}
				n++
				t.Run(rt.pattern+"/"+who+"/"+kind, func(t *testing.T) {
					// The objects are made only for the routes that name them.
					p := strings.NewReplacer("{$}", "", "{job}", a.job).Replace(path)
					if strings.Contains(p, "{rule}") {
						p = strings.Replace(p, "{rule}", "custom-"+f.walkRule(t, f.orgA), 1)
					}
					for _, o := range []struct {
						prefix string
						id     func() string
					}{
						{"/printers/", func() string { return string(a.printer) }},
						{"/alerts/rules/", func() string { return f.walkRule(t, f.orgA) }},
						{"/alerts/", func() string { return string(a.alert) }},
						{"/tokens/", func() string { _, tok := f.apiToken(t, f.orgA, ada.ID, false); return string(tok) }},
						{"/admin/users/", func() string {
							victim, err := f.db.CreateMember(ctx, f.orgA, "gvictim"+strconv.Itoa(n), f.hashed, fleet.RoleViewer, access.AllSites())
							if err != nil {
								t.Fatal(err)
							}
							return string(victim)
						}},
						{"/admin/notifications/", func() string { return f.walkChannel(t, f.orgA) }},
						{"/admin/grants/", func() string { return f.walkGrant(t, f.orgA) }},
						{"/customers/", func() string { return id }},
						{"/diagnostics/", func() string { return string(f.walkDiagnostic(t, a)) }},
					} {
						if strings.HasPrefix(p, o.prefix+"{id}") {
							p = strings.Replace(p, "{id}", o.id(), 1)
							break
						}
					}
					req := f.walkRequest(t, method, p)
					token2, csrf := f.sessionFor(t, p1.users[who], f.clock.Now().Add(time.Hour))
					req.AddCookie(&http.Cookie{Name: "ff_session", Value: token2})
					req.AddCookie(&http.Cookie{Name: "ff_grant", Value: id})
					h, isHome := home[rt.pattern]
					if method == http.MethodPost {
						form := url.Values{}
						if isHome {
							for k, v := range h.form {
								form[k] = v
							}
						}
						form.Set("csrf", csrf)
						req.Body = io.NopCloser(strings.NewReader(form.Encode()))
						req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					}
					status, body := f.send(t, req)
					want := http.StatusForbidden
					switch {
					case isHome:
						want = h.want(kind)
					case !live[kind].Has(rt.need.Grant):
					case method != http.MethodGet:
						t.Fatalf("%s is open to grants but changes data", rt.pattern)
					case strings.Contains(path, "{id}") && kind == "out of site":
						want = http.StatusNotFound // the printer is at A's first site
					default:
						want = http.StatusOK
					}
					if status == http.StatusTooManyRequests && strings.Contains(p, "password") {
						status = http.StatusForbidden // wrong passwords, throttled after a few
					}
					if status != want {
						t.Errorf("%s %s as %s under %s: status %d, want %d\n%.300s", method, p, who, kind, status, want, body)
					}
					for _, c := range canariesB {
						if strings.Contains(body, c) {
							t.Errorf("answer under A's grant names %q of customer B", c)
						}
					}
					if kind == "out of site" && !isHome && strings.Contains(body, string(a.printer)) {
						t.Errorf("a grant for A's second site shows the printer of the first")
					}
					if status == http.StatusOK && live[kind] != 0 && !isHome && !strings.HasPrefix(p, "/api/") && !strings.HasSuffix(p, "/result") && !strings.Contains(body, "data-acting") {
						t.Error("a page under a grant does not say whose data it shows")
					}
				})
			}
		}
	}
}

// Revoking a grant ends the provider's view at the next request, and an
// open event stream under it ends too; the provider then acts as itself.
func TestGrantRevokedAtNextRequest(t *testing.T) {
	f := newFixture(t)
	p1 := f.provider(t, "Fixers")
	id := f.grantTo(t, f.orgA, p1, access.AllSites(), access.GrantStatus, t0.Add(-time.Hour), t0.Add(time.Hour))
	c := f.client(t)
	if resp, body := f.tryLogin(t, c, "Fixers-engineer", password); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %s\n%s", resp.Status, body)
	}
	_, page := get(t, c, f.srv.URL+"/customers")
	if !strings.Contains(page, "A</td>") || !strings.Contains(page, "/customers/"+id+"/open") {
		t.Fatalf("customers page lacks the grant:\n%s", page)
	}
	if resp, _ := post(t, c, f.srv.URL+"/customers/"+id+"/open", url.Values{"csrf": {csrfOf(t, page)}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("open: %s", resp.Status)
	}
	resp, page := get(t, c, f.srv.URL+"/")
	if resp.StatusCode != 200 || !strings.Contains(page, "3DP 1") || !strings.Contains(page, "data-acting") {
		t.Fatalf("printers under the grant: %s\n%.500s", resp.Status, page)
	}
	// An open event stream ends when the grant is revoked.
	stream, err := c.Get(f.srv.URL + "/api/events")
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	if err := f.db.RevokeGrant(t.Context(), f.orgA, id, t0); err != nil {
		t.Fatal(err)
	}
	f.hub.Notify(f.orgA)
	done := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, stream.Body); done <- err }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Error("the event stream under a revoked grant stays open")
	}
	if resp, _ := get(t, c, f.srv.URL+"/printers/printer-a001"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("printer after revocation: %s, want 403", resp.Status)
	}
	// The choice is forgotten: the provider sees its own (empty) fleet.
	if resp, page := get(t, c, f.srv.URL+"/"); resp.StatusCode != 200 || strings.Contains(page, "3DP 1") || strings.Contains(page, "data-acting") {
		t.Errorf("after revocation: %s\n%.300s", resp.Status, page)
	}
}

// The grant form: an admin limited to a site grants that site only; bad
// input is refused with a message and stores nothing.
func TestGrantForm(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	ada, _, _ := f.db.UserByName(ctx, "ada")
	vic, _, _ := f.db.UserByName(ctx, "vic")
	a := f.seedWalk(t, f.orgA, f.siteA, "Alpha", ada.ID, vic.ID)
	p1 := f.provider(t, "Fixers")
	c, csrf := f.login(t, "Alpha-ladm")
	form := func(kv ...string) url.Values {
		v := url.Values{"csrf": {csrf}, "provider": {string(p1.org)}, "scope": {"status"},
			"starts": {"2026-03-01T11:00"}, "expires": {"2026-03-08T11:00"}}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		return v
	}
	if resp, body := post(t, c, f.srv.URL+"/admin/grants", form(), nil); resp.StatusCode != 200 || !strings.Contains(body, "Alpha-Zweitwerk") {
		t.Fatalf("a site-limited admin's grant: %s\n%.500s", resp.Status, body)
	}
	gs, err := f.db.Grants(ctx, f.orgA)
	if err != nil || len(gs) != 1 || !gs[0].Sites.Equal(access.OnlySites(a.site2)) || gs[0].CreatedBy != a.users["ladmin"] {
		t.Fatalf("stored grants: %+v, %v; want one for the admin's site only", gs, err)
	}
	for _, tt := range []struct {
		name string
		form url.Values
		want int
	}{
		{"another site", form("site", string(f.siteA)), 400},
		{"no scope", form("scope", ""), 400},
		{"unknown scope", form("scope", "root"), 400},
		{"no provider", form("provider", ""), 400},
		{"unknown provider", form("provider", "org_forged"), 400},
		{"a customer", form("provider", string(f.orgB)), 400},
		{"itself", form("provider", string(f.orgA)), 400},
		{"ended", form("expires", "2026-02-01T00:00"), 400},
		{"too long", form("expires", "2028-03-01T00:00"), 400},
		{"no date", form("starts", "soon"), 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := post(t, c, f.srv.URL+"/admin/grants", tt.form, nil)
			if resp.StatusCode != tt.want || !strings.Contains(body, `class="message"`) {
				t.Errorf("%s, want %d with a message\n%.300s", resp.Status, tt.want, body)
			}
		})
	}
	if gs, _ := f.db.Grants(ctx, f.orgA); len(gs) != 1 {
		t.Errorf("refused grants stored: %d grants", len(gs))
	}
	// The page in German names the kinds of access in German.
	if _, err := f.db.Member(ctx, f.orgA, a.users["ladmin"]); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/admin/grants", nil)
	req.Header.Set("Accept-Language", "de")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, w := range []string{"Servicezugang", "Status, Alarme und Kennzahlen", "jetzt aktiv", "Zugang erteilen"} {
		if !strings.Contains(string(body), w) {
			t.Errorf("the German page lacks %q", w)
		}
	}
}
