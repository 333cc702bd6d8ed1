package restapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/audit"
	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
	"github.com/fusionfleet/fusionfleet/internal/identity"
	"github.com/fusionfleet/fusionfleet/internal/store"
	"github.com/fusionfleet/fusionfleet/internal/update"
	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// A stored password hash for users the tests never log in as.
const someHash = "$argon2id$v=19$m=19456,t=2,p=1$3m8WsAULrPS4/JhjUp5V+w$xJMsjuPzWQqcBUddyHF4SyA1r6LVx6GYfn69NwOvWWM"

// side is one organisation of the fixture with its canary names.
type side struct {
	org           fleet.OrgID
	site, site2   fleet.SiteID
	printer       fleet.PrinterID // at site
	admin         fleet.UserID
	tokens        map[string]string // principal name -> secret
	canaries      []string
	otherCanaries []string
}

type fixture struct {
	db    *store.DB
	clock *clock.Manual
	h     *api
	srv   *httptest.Server
	a, b  *side
	seq   uint64
	// p1 and p2 are service providers (grants_test.go).
	p1, p2 *provider
	audit  *auditLog // what the diagnostics routes recorded
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureAt(t, filepath.Join(t.TempDir(), "cloud.db"))
}

// newFixtureAt is newFixture on the store at dsn: a SQLite file or a
// PostgreSQL URL.
func newFixtureAt(t *testing.T, dsn string) *fixture {
	t.Helper()
	ctx := t.Context()
	db, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &fixture{db: db, clock: clock.NewManual(t0)}
	f.a = f.seed(t, "CanaryAlpha")
	f.b = f.seed(t, "CanaryBravo")
	f.a.otherCanaries, f.b.otherCanaries = f.b.canaries, f.a.canaries
	f.p1, f.p2 = f.seedProvider(t, "Fixers"), f.seedProvider(t, "Menders")
	f.audit = &auditLog{next: db}
	deps := storeDeps(db)
	deps.Audit = f.audit
	f.h = newHandler(deps, Options{Clock: f.clock})
	f.srv = httptest.NewServer(f.h.mux())
	t.Cleanup(f.srv.Close)
	return f
}

// storeDeps fills every capability from db.
func storeDeps(db *store.DB) Deps {
	return Deps{TokenLookup: db, Members: db, Passwords: db, Sites: db, Tokens: db, Printers: db, PrinterSites: db, Jobs: db, History: db,
		Alerts: db, AlertRules: db, Channels: db, NotifyPrefs: db, KPIs: db,
		Grants: db, GrantLookup: db, Orgs: db, Audit: db, Plans: db, AuditLog: db, Export: db,
		Diagnostics: db, Learning: db}
}

// seed creates an organisation with two sites, a printer at each, users of
// every role, a site-limited viewer, and tokens for each.
func (f *fixture) seed(t *testing.T, name string) *side {
	t.Helper()
	ctx := t.Context()
	s := &side{tokens: map[string]string{}}
	var err error
	if s.org, err = f.db.CreateOrg(ctx, name+" Org"); err != nil {
		t.Fatal(err)
	}
	if s.site, err = f.db.CreateSite(ctx, s.org, name+" Site"); err != nil {
		t.Fatal(err)
	}
	if s.site2, err = f.db.CreateSite(ctx, s.org, name+" Second"); err != nil {
		t.Fatal(err)
	}
	s.printer = fleet.PrinterID("printer-" + strings.ToLower(name))
	f.printer(t, s.org, s.site, s.printer, name+" Printer")
	f.printer(t, s.org, s.site2, s.printer+"-2", name+" Printer 2")
	f.history(t, s.org, s.site, s.printer, walkJob)
	users := []struct {
		key   string
		role  fleet.Role
		sites access.SiteSet
	}{
		{"admin", fleet.RoleAdmin, access.AllSites()},
		{"operator", fleet.RoleOperator, access.AllSites()},
		{"viewer", fleet.RoleViewer, access.AllSites()},
		{"limited", fleet.RoleViewer, access.OnlySites(s.site2)},
		{"ladmin", fleet.RoleAdmin, access.OnlySites(s.site2)},
		{"loperator", fleet.RoleOperator, access.OnlySites(s.site2)},
	}
	for _, u := range users {
		id, err := f.db.CreateMember(ctx, s.org, name+"-"+u.key, someHash, u.role, u.sites)
		if err != nil {
			t.Fatal(err)
		}
		if u.key == "admin" {
			s.admin = id
		}
		s.tokens[u.key] = f.token(t, s.org, id, access.ScopeReadWrite, access.AllSites(), t0.Add(time.Hour))
		s.canaries = append(s.canaries, string(id))
	}
	s.tokens["read"] = f.token(t, s.org, s.admin, access.ScopeRead, access.AllSites(), t0.Add(time.Hour))
	s.tokens["expired"] = f.token(t, s.org, s.admin, access.ScopeReadWrite, access.AllSites(), t0.Add(-time.Second))
	revoked := f.token(t, s.org, s.admin, access.ScopeReadWrite, access.AllSites(), t0.Add(time.Hour))
	tok, err := f.db.APITokenByHash(ctx, identity.HashToken(revoked))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.RevokeAPIToken(ctx, s.org, tok.ID, t0); err != nil {
		t.Fatal(err)
	}
	s.tokens["revoked"] = revoked
	s.canaries = append(s.canaries, name, string(s.org), string(s.site), string(s.site2), string(s.printer), string(tok.ID))
	return s
}

func (f *fixture) printer(t *testing.T, org fleet.OrgID, site fleet.SiteID, p fleet.PrinterID, name string) {
	t.Helper()
	f.seq += 2
	env := fleet.Envelope{OrgID: org, SiteID: site, GatewayID: fleet.GatewayID("gw_" + string(site)), Records: []fleet.Record{
		{Seq: f.seq - 1, Kind: fleet.KindIdentity, PrinterID: p, Time: t0, Identity: &fleet.Identity{PrinterID: p, Name: name, Model: "M1", SerialNumber: "SN"}},
		{Seq: f.seq, Kind: fleet.KindStatus, PrinterID: p, Time: t0, Status: &fleet.Status{PrinterID: p, State: fleet.StatePrinting, Progress: 0.5, Time: t0}},
	}}
	if _, err := f.db.ApplyEnvelope(t.Context(), env); err != nil {
		t.Fatal(err)
	}
}

// token stores an API token created at t0 and returns its secret.
func (f *fixture) token(t *testing.T, org fleet.OrgID, user fleet.UserID, scope access.Scope, sites access.SiteSet, expires time.Time) string {
	t.Helper()
	secret, err := identity.NewAPIToken()
	if err != nil {
		t.Fatal(err)
	}
	tok := access.Token{OrgID: org, UserID: user, Name: "t", Scope: scope, Sites: sites, Created: t0.Add(-time.Hour), Expires: expires}
	if _, err := f.db.CreateAPIToken(t.Context(), tok, identity.HashToken(secret)); err != nil {
		t.Fatal(err)
	}
	return secret
}

// do sends a request with a bearer secret ("" for none) and returns the
// status and body.
func (f *fixture) do(t *testing.T, method, path, secret, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	ct := resp.Header.Get("Content-Type")
	if strings.HasSuffix(path, "/result") && resp.StatusCode == http.StatusOK {
		ct = strings.Replace(ct, "application/x-ndjson", "application/json", 1) // a diagnostic's result downloads as JSON lines
	}
	if resp.StatusCode != http.StatusNoContent && ct != "application/json" && !strings.HasPrefix(path, "/api/v1/audit/export") {
		t.Errorf("%s %s: Content-Type %q", method, path, resp.Header.Get("Content-Type"))
	}
	return resp.StatusCode, string(b)
}

// victims creates, in s's organisation, a user and a token of s's admin
// that a walker case may change or remove.
func (f *fixture) victims(t *testing.T, s *side, n int) (fleet.UserID, access.TokenID) {
	t.Helper()
	id, err := f.db.CreateMember(t.Context(), s.org, "victim-"+string(s.org)+"-"+strconv.Itoa(n), someHash, fleet.RoleViewer, access.AllSites())
	if err != nil {
		t.Fatal(err)
	}
	secret := f.token(t, s.org, s.admin, access.ScopeRead, access.AllSites(), t0.Add(time.Hour))
	tok, err := f.db.APITokenByHash(t.Context(), identity.HashToken(secret))
	if err != nil {
		t.Fatal(err)
	}
	return id, tok.ID
}

func itoa(n int) string {
	return strings.TrimSpace(strings.Repeat(" ", 0) + string(rune('a'+n%26)) + string(rune('a'+n/26%26)) + string(rune('a'+n/676%26)))
}

// documented returns the statuses openapi.json lists for each operation,
// by "METHOD /path".
func documented(t *testing.T) map[string]map[int]bool {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	out := map[string]map[int]bool{}
	for path, ops := range doc.Paths {
		for m, op := range ops {
			key := strings.ToUpper(m) + " " + path
			out[key] = map[int]bool{}
			for code := range op.Responses {
				n, err := strconv.Atoi(code)
				if err != nil {
					t.Fatalf("%s: response %q is not a status", key, code)
				}
				out[key][n] = true
			}
		}
	}
	return out
}

// The walker: every route, with every kind of caller of both
// organisations, on the caller's own objects and on the other
// organisation's. The status is as the table says and as openapi.json
// documents it, and no answer to one organisation's caller names anything
// of the other's.
func TestRouteWalker(t *testing.T) {
	f := newFixture(t)
	doc := documented(t)
	const (
		own     = "own"
		foreign = "foreign"
	)
	// want[route][principal] for the caller's own objects; foreign objects
	// are 404 wherever own ones succeed.
	ok := func(s int) map[string]int {
		return map[string]int{"admin": s, "operator": s, "viewer": s, "limited": s, "ladmin": s, "loperator": s, "read": s}
	}
	adminOnly := func(s int, readToo bool) map[string]int {
		m := map[string]int{"admin": s, "operator": 403, "viewer": 403, "limited": 403, "ladmin": s, "loperator": 403, "read": 403}
		if readToo {
			m["read"] = s
		}
		return m
	}
	with := func(m map[string]int, kv ...any) map[string]int {
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1].(int)
		}
		return m
	}
	want := map[string]map[string]int{
		"GET /api/openapi.json":                       with(ok(200), "anon", 200, "revoked", 200, "expired", 200),
		"GET /api/v1/me":                              ok(200),
		"GET /api/v1/sites":                           ok(200),
		"POST /api/v1/sites":                          with(adminOnly(201, false), "ladmin", 403),
		"GET /api/v1/account":                         ok(200),
		"PUT /api/v1/account":                         with(ok(200), "read", 403),
		"GET /api/v1/printers":                        ok(200),
		"GET /api/v1/printers/{id}":                   with(ok(200), "limited", 404, "ladmin", 404, "loperator", 404),
		"GET /api/v1/printers/{id}/detail":            with(ok(200), "limited", 404, "ladmin", 404, "loperator", 404),
		"GET /api/v1/printers/{id}/consumables":       with(ok(200), "limited", 404, "ladmin", 404, "loperator", 404),
		"GET /api/v1/printers/{id}/counters":          with(ok(200), "limited", 404, "ladmin", 404, "loperator", 404),
		"GET /api/v1/printers/{id}/events":            with(ok(200), "limited", 404, "ladmin", 404, "loperator", 404),
		"GET /api/v1/printers/{id}/maintenance":       with(ok(200), "limited", 404, "ladmin", 404, "loperator", 404),
		"GET /api/v1/printers/{id}/jobs/{job}":        with(ok(200), "limited", 404, "ladmin", 404, "loperator", 404),
		"GET /api/v1/printers/{id}/jobs/{job}/layers": with(ok(200), "limited", 404, "ladmin", 404, "loperator", 404),
		"GET /api/v1/jobs":                            ok(200),
		"GET /api/v1/users":                           adminOnly(200, true),
		"POST /api/v1/users":                          with(adminOnly(201, false), "ladmin", 403),
		"GET /api/v1/users/{id}":                      adminOnly(200, true),
		"PATCH /api/v1/users/{id}":                    with(adminOnly(200, false), "ladmin", 403),
		"DELETE /api/v1/users/{id}":                   with(adminOnly(204, false), "ladmin", 403),
		"GET /api/v1/tokens":                          ok(200),
		"POST /api/v1/tokens":                         ok(403), // tokens cannot create tokens
		"PUT /api/v1/account/password":                ok(403), // nor change a password
		// The victim is a viewer for all sites, beyond an admin limited to one.
		"POST /api/v1/users/{id}/password": with(adminOnly(200, false), "ladmin", 403),
		"DELETE /api/v1/tokens/{id}":       with(ok(404), "admin", 204, "read", 403), // the victim token is for all sites
		"POST /api/v1/enrolment-tokens":    with(adminOnly(201, false), "ladmin", 400),
		"GET /api/v1/kpis":                 ok(200),
		"GET /api/v1/benchmark":            ok(200),
		"GET /api/v1/usage":                ok(200),
		"GET /api/v1/alerts":               ok(200),
		"GET /api/v1/alerts/{id}":          with(ok(200), "limited", 404, "ladmin", 404, "loperator", 404),
		"POST /api/v1/alerts/{id}/ack":     with(ok(200), "viewer", 403, "limited", 403, "ladmin", 404, "loperator", 404, "read", 403),
		"POST /api/v1/alerts/{id}/assign":  with(ok(200), "viewer", 403, "limited", 403, "ladmin", 404, "loperator", 404, "read", 403),
		"GET /api/v1/alert-rules":          ok(200),
		// An admin limited to a site must name it for a new rule, and may
		// neither delete the walker's rule for every site nor mute the
		// built-in rule: both concern the whole organisation.
		"POST /api/v1/alert-rules":            with(adminOnly(201, false), "ladmin", 400),
		"DELETE /api/v1/alert-rules/{id}":     with(adminOnly(204, false), "ladmin", 404),
		"PUT /api/v1/alert-rules/{key}/muted": with(adminOnly(204, false), "ladmin", 403),
		// Grants (grants.go): an admin limited to a site may list those
		// within its sites, but give none for all sites nor revoke the
		// walker's grant for all sites. Customers have received none.
		"GET /api/v1/grants":          adminOnly(200, true),
		"POST /api/v1/grants":         with(adminOnly(201, false), "ladmin", 403),
		"DELETE /api/v1/grants/{id}":  with(adminOnly(204, false), "ladmin", 404),
		"GET /api/v1/received-grants": ok(200),
	}
	// The walker moves the printer to the site it is at: its admins may;
	// one limited to the other site does not see it (TestMovePrinter moves
	// printers between sites).
	want["POST /api/v1/printers/{id}/site"] = with(adminOnly(204, false), "ladmin", 404)
	// Notifications (notify.go). Channels carry every site's alerts: an
	// admin limited to a site may neither see nor change them, nor read
	// their delivery log.
	want["GET /api/v1/notification-channels"] = with(adminOnly(200, true), "ladmin", 403)
	want["POST /api/v1/notification-channels"] = with(adminOnly(201, false), "ladmin", 403)
	want["DELETE /api/v1/notification-channels/{id}"] = with(adminOnly(204, false), "ladmin", 403)
	want["POST /api/v1/notification-channels/{id}/test"] = with(adminOnly(202, false), "ladmin", 403)
	want["GET /api/v1/deliveries"] = with(adminOnly(200, true), "ladmin", 403)
	want["GET /api/v1/notification-prefs"] = ok(200)
	want["PUT /api/v1/notification-prefs"] = with(ok(200), "read", 403)
	// Updates (updates.go), with releases for the walker's printer model.
	f.h.updates.releases = staticReleases{{Target: "fw-2.0", Release: update.Release{Kind: update.KindFirmware, Version: "2.0", Models: []string{"M1"}}}}
	want["GET /api/v1/updates"] = ok(200)
	// Learning (learning.go): operators and administrators, each with its
	// own organisation's approvals of the fleet-wide proposals only; each
	// side approved one, by an approver whose name is its canary.
	want["GET /api/v1/learning"] = with(ok(200), "viewer", 403, "limited", 403)
	f.seedApprovals(t)
	// The audit log and the data export (datarights.go) are the whole
	// organisation's.
	want["GET /api/v1/audit"] = with(adminOnly(200, true), "ladmin", 403)
	want["GET /api/v1/audit/export"] = with(adminOnly(200, true), "ladmin", 403)
	want["GET /api/v1/export"] = with(adminOnly(200, true), "ladmin", 403)
	// Diagnostics (diagnostics.go): operators ask and withdraw; every member
	// follows and reads, at the sites they see.
	notThere := func(m map[string]int) map[string]int { return with(m, "limited", 404, "ladmin", 404, "loperator", 404) }
	want["GET /api/v1/printers/{id}/diagnostics"] = notThere(ok(200))
	want["POST /api/v1/printers/{id}/diagnostics"] = with(notThere(ok(201)), "viewer", 403, "limited", 403, "read", 403)
	want["GET /api/v1/diagnostics/{id}"] = notThere(ok(200))
	want["GET /api/v1/diagnostics/{id}/result"] = notThere(ok(200))
	want["POST /api/v1/diagnostics/{id}/cancel"] = with(notThere(ok(200)), "viewer", 403, "limited", 403, "read", 403)
	// Air-gapped sites (airgap.go) are the whole organisation's, and this
	// cloud has no air-gap importer: 404 once authorized (TestAirgapAPI
	// walks them with one).
	want["POST /api/v1/airgap/bundles"] = with(adminOnly(404, false), "ladmin", 403)
	for _, r := range []string{"GET /api/v1/airgap/gateways/{id}/ack", "GET /api/v1/airgap/key", "GET /api/v1/airgap/updates"} {
		want[r] = with(adminOnly(404, true), "ladmin", 403)
	}
	bodies := map[string]string{
		"POST /api/v1/users":                  `{"name":"new-%s","role":"viewer"}`,
		"PATCH /api/v1/users/{id}":            `{"role":"operator"}`,
		"POST /api/v1/tokens":                 `{"name":"made","scope":"read"}`,
		"POST /api/v1/enrolment-tokens":       `{"site_id":"%s"}`,
		"POST /api/v1/sites":                  `{"name":"Site %s"}`,
		"PUT /api/v1/account":                 `{"lang":"de","time_zone":"Europe/Berlin"}`,
		"PUT /api/v1/account/password":        `{"current":"whatever","new":"a new passphrase"}`,
		"POST /api/v1/alerts/{id}/assign":     `{"user_id":null}`,
		"POST /api/v1/alert-rules":            `{"metric":"system_errors","comparison":">","threshold":3,"severity":"warning"}`,
		"PUT /api/v1/alert-rules/{key}/muted": `{"muted":true}`,
		"POST /api/v1/printers/{id}/site":     `{"site_id":"%s"}`,
		"POST /api/v1/grants":                 `{"provider_id":"%s","sites":null,"scopes":["status"],"expires_at":"2026-03-02T12:00:00Z"}`,
	}
	bodies["POST /api/v1/notification-channels"] = `{"kind":"webhook","name":"walk","target":"https://hooks.example.com/walk","min_severity":"warning"}`
	bodies["POST /api/v1/printers/{id}/diagnostics"] = `{"kind":"snapshot"}`
	bodies["PUT /api/v1/notification-prefs"] = `{"enabled":true,"email":"walk@example.com","min_severity":"warning"}`
	principals := []string{"anon", "admin", "operator", "viewer", "limited", "ladmin", "loperator", "read", "revoked", "expired"}
	n := 0
	for _, rt := range f.h.routes() {
		key := rt.method + " " + rt.path
		if _, ok := want[key]; !ok {
			t.Errorf("route %s has no expectation", key)
			continue
		}
		for _, sides := range [][2]*side{{f.a, f.b}, {f.b, f.a}} {
			me, other := sides[0], sides[1]
			for _, who := range principals {
				targets := []string{own}
				if strings.Contains(rt.path, "{id}") {
					targets = append(targets, foreign)
				}
				for _, target := range targets {
					n++
					name := key + "/" + string(me.org)[:8] + "/" + who + "/" + target
					t.Run(name, func(t *testing.T) {
						owner := me
						if target == foreign {
							owner = other
						}
						path := rt.path
						switch {
						case strings.HasPrefix(rt.path, "/api/v1/printers/"):
							path = strings.Replace(path, "{id}", string(owner.printer), 1)
							path = strings.Replace(path, "{job}", walkJob, 1)
						case strings.HasPrefix(rt.path, "/api/v1/users/"):
							victimUser, _ := f.victims(t, owner, n)
							path = strings.Replace(path, "{id}", string(victimUser), 1)
						case strings.HasPrefix(rt.path, "/api/v1/tokens/"):
							_, victimToken := f.victims(t, owner, n)
							path = strings.Replace(path, "{id}", string(victimToken), 1)
						case strings.HasPrefix(rt.path, "/api/v1/alerts/"):
							path = strings.Replace(path, "{id}", string(f.walkAlert(t, owner, n)), 1)
						case strings.HasPrefix(rt.path, "/api/v1/notification-channels/"):
							path = strings.Replace(path, "{id}", f.walkChannel(t, owner.org), 1)
						case strings.HasPrefix(rt.path, "/api/v1/diagnostics/"):
							path = strings.Replace(path, "{id}", string(f.walkDiagnostic(t, owner, strings.HasSuffix(rt.path, "/result"))), 1)
						case strings.HasPrefix(rt.path, "/api/v1/grants/"):
							path = strings.Replace(path, "{id}", f.walkGrant(t, owner), 1)
						case strings.HasPrefix(rt.path, "/api/v1/alert-rules/"):
							path = strings.NewReplacer("{id}", f.walkRule(t, owner.org), "{key}", "offline").Replace(path)
						}
						body := bodies[key]
						switch key {
						case "POST /api/v1/users":
							body = strings.Replace(body, "%s", strconv.Itoa(n)+string(me.org), 1)
						case "POST /api/v1/enrolment-tokens", "POST /api/v1/printers/{id}/site":
							body = strings.Replace(body, "%s", string(me.site), 1)
						case "POST /api/v1/sites":
							body = strings.Replace(body, "%s", strconv.Itoa(n), 1)
						case "POST /api/v1/grants":
							body = strings.Replace(body, "%s", string(f.p1.org), 1)
						}
						before := auditSeq(t, f.db, me.org)
						status, got := f.do(t, rt.method, path, me.tokens[who], body)
						// Every administrator's change that passed the
						// check is in the audit log, attempted or done.
						// The export and a diagnostic's request,
						// cancellation and result record themselves when
						// they succeed.
						recordsItself := key == "GET /api/v1/export" || key == "POST /api/v1/printers/{id}/diagnostics" ||
							key == "POST /api/v1/diagnostics/{id}/cancel" || key == "GET /api/v1/diagnostics/{id}/result"
						wantAudit := rt.need.Write && rt.need.Role == fleet.RoleAdmin &&
							(who == "admin" || who == "ladmin" && !rt.need.OrgWide) ||
							recordsItself && status < 300 && want[key][who] < 300 && want[key][who] != 0
						if x, grew := firstAuditAfter(t, f.db, me.org, before); grew != wantAudit {
							t.Errorf("audit entry recorded: %v, want %v (status %d)", grew, wantAudit, status)
						} else if grew && !recordsItself && (x.Action != audit.ActionAdmin || !strings.HasPrefix(x.Detail, key+" (API token ") || x.Org != me.org ||
							strings.Contains(key, "{id}") != strings.HasPrefix(x.Target, "id=")) {
							t.Errorf("audit entry %+v, want the admin action %s of %s", x, key, me.org)
						}
						exp, ok := want[key][who]
						if !ok {
							exp = http.StatusUnauthorized
						}
						if target == foreign && exp < 300 || target == foreign && exp == http.StatusForbidden && status == http.StatusNotFound {
							// A foreign object is not found before the
							// caller's rights on it are weighed.
							exp = http.StatusNotFound
						}
						if status != exp {
							t.Errorf("status %d, want %d; body %s", status, exp, got)
						}
						if !doc[key][status] {
							t.Errorf("status %d is not documented for %s in openapi.json", status, key)
						}
						// The audit log records the IDs a request named, the
						// walker's foreign ones too: what the caller typed,
						// not what the other organisation holds.
						seen := auditTargets.ReplaceAllString(got, `"target":""`)
						for _, c := range me.otherCanaries {
							if strings.Contains(seen, c) {
								t.Errorf("answer names %q of the other organisation:\n%s", c, got)
							}
						}
						if status >= 400 {
							var e errorBody
							if err := json.Unmarshal([]byte(got), &e); err != nil || e.Error == "" {
								t.Errorf("error body %q: want {\"error\": ...}", got)
							}
						}
					})
				}
			}
		}
	}
	if len(want) != len(f.h.routes()) {
		t.Errorf("expectations for %d routes, table has %d", len(want), len(f.h.routes()))
	}
}

// auditTargets matches the target of an audit entry in JSON.
var auditTargets = regexp.MustCompile(`"target":"[^"]*"`)

// auditSeq is the number of org's last audit entry.
func auditSeq(t *testing.T, db *store.DB, org fleet.OrgID) int64 {
	t.Helper()
	h, err := db.AuditHead(t.Context(), org)
	if err != nil {
		t.Fatal(err)
	}
	if h == nil {
		return 0
	}
	return h.Seq
}

// firstAuditAfter returns org's first audit entry after entry before, if there
// is one: the central record of a request, made before its handler runs
// (which may record its own, as grant changes do).
func firstAuditAfter(t *testing.T, db *store.DB, org fleet.OrgID, before int64) (audit.Entry, bool) {
	t.Helper()
	var last audit.Entry
	err := db.AuditEntries(t.Context(), org, audit.Filter{Before: before + 2, Limit: 1}, func(x audit.Entry) error { last = x; return nil })
	if err != nil {
		t.Fatal(err)
	}
	return last, last.Seq > before
}

// The OpenAPI document describes exactly the routes of the table, and
// says which are public.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI  string                                `json:"openapi"`
		Security []map[string][]string                 `json:"security"`
		Paths    map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" || len(doc.Security) != 1 {
		t.Errorf("openapi %q, security %v", doc.OpenAPI, doc.Security)
	}
	type op struct {
		Security  *[]map[string][]string     `json:"security"`
		Responses map[string]json.RawMessage `json:"responses"`
	}
	var documented []string
	ops := map[string]op{}
	for path, methods := range doc.Paths {
		for m, raw := range methods {
			key := strings.ToUpper(m) + " " + path
			documented = append(documented, key)
			var o op
			if err := json.Unmarshal(raw, &o); err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			ops[key] = o
		}
	}
	var routed []string
	h := newHandler(Deps{}, Options{})
	for _, rt := range h.routes() {
		key := rt.method + " " + rt.path
		routed = append(routed, key)
		o, ok := ops[key]
		if !ok {
			continue
		}
		public := o.Security != nil && len(*o.Security) == 0
		if public != rt.need.Public {
			t.Errorf("%s: documented public %v, route public %v", key, public, rt.need.Public)
		}
		if !rt.need.Public && (!strings.Contains(string(o.Responses["401"]), `"#/components/responses/Unauthorized"`) ||
			!strings.Contains(string(o.Responses["403"]), `"#/components/responses/Forbidden"`)) {
			t.Errorf("%s: 401 and 403 not documented as Unauthorized and Forbidden", key)
		}
	}
	slices.Sort(documented)
	slices.Sort(routed)
	if diff := cmp.Diff(routed, documented); diff != "" {
		t.Errorf("routes (-table +document):\n%s", diff)
	}
	// Every reference resolves.
	var whole struct {
		Components map[string]map[string]json.RawMessage `json:"components"`
	}
	if err := json.Unmarshal(openAPI, &whole); err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`"#/components/(\w+)/(\w+)"`).FindAllStringSubmatch(string(openAPI), -1) {
		if whole.Components[m[1]][m[2]] == nil {
			t.Errorf("openapi.json refers to the undefined %s %s", m[1], m[2])
		}
	}
	// And it is what the API serves.
	f := newFixture(t)
	status, body := f.do(t, "GET", "/api/openapi.json", "", "")
	if status != 200 || body != string(openAPI) {
		t.Errorf("GET /api/openapi.json = %d", status)
	}
}

func TestBearerTokens(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	// Site limits of the token narrow the owner's sites.
	siteTok := f.token(t, f.a.org, f.a.admin, access.ScopeRead, access.OnlySites(f.a.site2), t0.Add(time.Hour))
	_, body := f.do(t, "GET", "/api/v1/printers", siteTok, "")
	var ps []fleet.PrinterView
	if err := json.Unmarshal([]byte(body), &ps); err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].SiteID != f.a.site2 {
		t.Errorf("site-limited token sees %+v, want only the printer at site 2", ps)
	}
	if status, _ := f.do(t, "GET", "/api/v1/printers/"+string(f.a.printer), siteTok, ""); status != 404 {
		t.Errorf("printer at another site: %d, want 404", status)
	}
	_, body = f.do(t, "GET", "/api/v1/sites", siteTok, "")
	var sites []fleet.Site
	if err := json.Unmarshal([]byte(body), &sites); err != nil || len(sites) != 1 || sites[0].ID != f.a.site2 {
		t.Errorf("sites of a site-limited token: %s", body)
	}
	// Tokens cannot create tokens, whatever their scope or sites, or what
	// a token made would survive its revocation. Nothing is stored.
	viewer, err := f.db.APITokenByHash(ctx, identity.HashToken(f.a.tokens["viewer"]))
	if err != nil {
		t.Fatal(err)
	}
	before, err := f.db.APITokens(ctx, f.a.org, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"admin", "viewer", "limited", "read"} {
		status, body := f.do(t, "POST", "/api/v1/tokens", f.a.tokens[who], `{"name":"ci","scope":"read","expires_in_days":1}`)
		if status != 403 || !strings.Contains(body, "cannot create API tokens") {
			t.Errorf("%s token creates a token: %d %s, want 403 with the reason", who, status, body)
		}
	}
	if after, err := f.db.APITokens(ctx, f.a.org, ""); err != nil || len(after) != len(before) {
		t.Errorf("tokens after refused creations: %d (%v), want %d", len(after), err, len(before))
	}
	// A token made in the dashboard works, is listed without its secret,
	// and stops working when revoked.
	secret := f.token(t, f.a.org, viewer.UserID, access.ScopeRead, access.AllSites(), t0.Add(time.Hour))
	created, err := f.db.APITokenByHash(ctx, identity.HashToken(secret))
	if err != nil {
		t.Fatal(err)
	}
	if status, body := f.do(t, "GET", "/api/v1/me", secret, ""); status != 200 || !strings.Contains(body, `"scope":"read"`) {
		t.Errorf("me with the new token: %d %s", status, body)
	}
	_, list := f.do(t, "GET", "/api/v1/tokens", f.a.tokens["viewer"], "")
	if strings.Contains(list, secret) || !strings.Contains(list, string(created.ID)) {
		t.Errorf("token list shows the secret or lacks the token: %s", list)
	}
	if status, _ := f.do(t, "DELETE", "/api/v1/tokens/"+string(created.ID), f.a.tokens["viewer"], ""); status != 204 {
		t.Errorf("revoke own token: %d", status)
	}
	if status, _ := f.do(t, "GET", "/api/v1/me", secret, ""); status != 401 {
		t.Errorf("revoked token: %d, want 401", status)
	}
	// Expiry by the clock.
	f.clock.Advance(time.Hour)
	if status, _ := f.do(t, "GET", "/api/v1/me", f.a.tokens["admin"], ""); status != 401 {
		t.Errorf("token after expiry: %d, want 401", status)
	}
	// Malformed credentials.
	for _, hdr := range []string{"Basic abc", "Bearer", "Bearer ffat_x", "Bearer " + f.a.tokens["read"][:len(f.a.tokens["read"])-1] + "A"} {
		req, _ := http.NewRequestWithContext(ctx, "GET", f.srv.URL+"/api/v1/me", nil)
		req.Header.Set("Authorization", hdr)
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("Authorization %q: %d, want 401 with WWW-Authenticate", hdr, resp.StatusCode)
		}
	}
}

func TestUsersAPI(t *testing.T) {
	f := newFixture(t)
	admin := f.a.tokens["admin"]
	status, body := f.do(t, "POST", "/api/v1/users", admin, `{"name":"newbie","role":"operator","sites":["`+string(f.a.site)+`"]}`)
	if status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	var created createdUserJSON
	if err := json.Unmarshal([]byte(body), &created); err != nil {
		t.Fatal(err)
	}
	want := userJSON{ID: created.User.ID, Name: "newbie", Role: "operator", Sites: []fleet.SiteID{f.a.site}}
	if diff := cmp.Diff(want, created.User); diff != "" || created.Password == "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	_, hash, err := f.db.UserByName(t.Context(), "newbie")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := identity.CheckPassword(hash, created.Password); !ok {
		t.Error("the shown password does not match the stored hash")
	}
	status, body = f.do(t, "PATCH", "/api/v1/users/"+string(created.User.ID), admin, `{"role":"viewer","sites":null}`)
	if status != 200 || !strings.Contains(body, `"role":"viewer"`) || !strings.Contains(body, `"sites":null`) {
		t.Errorf("patch: %d %s", status, body)
	}
	bad := []struct {
		name, method, path, body string
		status                   int
	}{
		{"taken name", "POST", "/api/v1/users", `{"name":"newbie","role":"viewer"}`, 409},
		{"bad role", "POST", "/api/v1/users", `{"name":"x","role":"root"}`, 400},
		{"empty name", "POST", "/api/v1/users", `{"name":" ","role":"viewer"}`, 400},
		{"control character", "POST", "/api/v1/users", `{"name":"a\u0007b","role":"viewer"}`, 400},
		{"unknown field", "POST", "/api/v1/users", `{"name":"x","role":"viewer","admin":true}`, 400},
		{"other org's site", "POST", "/api/v1/users", `{"name":"x","role":"viewer","sites":["` + string(f.b.site) + `"]}`, 404},
		{"trailing data", "POST", "/api/v1/users", `{"name":"x","role":"viewer"} {}`, 400},
		{"not JSON", "POST", "/api/v1/users", `name=x`, 400},
		{"remove self", "DELETE", "/api/v1/users/" + string(f.a.admin), "", 400},
		{"demote last admin", "PATCH", "/api/v1/users/" + string(f.a.admin), `{"role":"viewer"}`, 409},
		{"other org's site for enrolment", "POST", "/api/v1/enrolment-tokens", `{"site_id":"` + string(f.b.site) + `"}`, 400},
		{"wrong method", "PUT", "/api/v1/users", `{}`, 405},
		{"unknown path", "GET", "/api/v1/nothing", "", 404},
		{"too large", "POST", "/api/v1/users", `{"name":"` + strings.Repeat("x", maxBodyBytes) + `"}`, 400},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			status, body := f.do(t, tt.method, tt.path, admin, tt.body)
			if status != tt.status {
				t.Errorf("status %d, want %d: %s", status, tt.status, body)
			}
		})
	}
	if status, _ := f.do(t, "DELETE", "/api/v1/users/"+string(created.User.ID), admin, ""); status != 204 {
		t.Errorf("delete: %d", status)
	}
	if status, _ := f.do(t, "GET", "/api/v1/users/"+string(created.User.ID), admin, ""); status != 404 {
		t.Errorf("deleted user: %d, want 404", status)
	}
	// The enrolment token works once for the site.
	status, body = f.do(t, "POST", "/api/v1/enrolment-tokens", admin, `{"site_id":"`+string(f.a.site)+`"}`)
	var enr enrolmentJSON
	if err := json.Unmarshal([]byte(body), &enr); status != 201 || err != nil {
		t.Fatalf("enrolment token: %d %s", status, body)
	}
	gw, err := f.db.Enrol(t.Context(), identity.HashToken(enr.Token), "cc", make([]byte, 32), t0)
	if err != nil || gw.SiteID != f.a.site {
		t.Errorf("enrol with the token: %+v, %v", gw, err)
	}
}

var errBoom = errors.New("boom: secret detail")

// failingPrinters, failingLookup and failingMembers fail the one call each
// that listing printers makes, with errBoom.
type failingPrinters struct{ fleetquery.PrinterReader }

func (failingPrinters) Printers(context.Context, fleet.OrgID) ([]fleet.PrinterView, error) {
	return nil, errBoom
}

type failingLookup struct{}

func (failingLookup) APITokenByHash(context.Context, string) (access.Token, error) {
	return access.Token{}, errBoom
}

// memberStore is access.Members under a name that does not clash, as an
// embedded field, with its method Members.
type memberStore = access.Members

type failingMembers struct{ memberStore }

func (failingMembers) Member(context.Context, fleet.OrgID, fleet.UserID) (access.Member, error) {
	return access.Member{}, errBoom
}

func TestStoreFailures(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		method string
		fail   func(d *Deps)
	}{
		{"Printers", func(d *Deps) { d.Printers = failingPrinters{d.Printers} }},
		{"APITokenByHash", func(d *Deps) { d.TokenLookup = failingLookup{} }},
		{"Member", func(d *Deps) { d.Members = failingMembers{d.Members} }},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			d := storeDeps(f.db)
			tt.fail(&d)
			srv := httptest.NewServer(newHandler(d, Options{Clock: f.clock}).mux())
			defer srv.Close()
			req, _ := http.NewRequest("GET", srv.URL+"/api/v1/printers", nil)
			req.Header.Set("Authorization", "Bearer "+f.a.tokens["admin"])
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 500 || strings.Contains(string(b), "secret detail") {
				t.Errorf("%d %s: want 500 without details", resp.StatusCode, b)
			}
		})
	}
}

func TestStatusOf(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{badRequest("x"), 400},
		{access.ErrUnauthenticated, 401},
		{access.ErrForbidden, 403},
		{fleet.ErrNotFound, 404},
		{errMethod, 405},
		{fleet.ErrConflict, 409},
		{errBoom, 500},
	}
	for _, tt := range tests {
		if got, _ := statusOf(tt.err); got != tt.want {
			t.Errorf("statusOf(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(`{"name":"x","role":"viewer","sites":["s1"]}`)
	f.Add(`{"name":"x","scope":"read","expires_in_days":3}`)
	f.Add(`{} {}`)
	f.Add(`{"sites":null}`)
	f.Add(``)
	f.Fuzz(func(t *testing.T, s string) {
		var u createUserRequest
		err := decode(strings.NewReader(s), &u)
		var br badRequest
		if err != nil && !errors.As(err, &br) {
			t.Fatalf("decode error %v is not a badRequest", err)
		}
		if err == nil {
			// What decoded re-encodes and decodes to the same request.
			b, err := json.Marshal(u)
			if err != nil {
				t.Fatal(err)
			}
			var again createUserRequest
			if err := decode(strings.NewReader(string(b)), &again); err != nil {
				t.Fatalf("re-decode %s: %v", b, err)
			}
			if diff := cmp.Diff(u, again, cmp.AllowUnexported(createUserRequest{})); diff != "" {
				t.Fatalf("round trip (-first +second):\n%s", diff)
			}
		}
	})
}
