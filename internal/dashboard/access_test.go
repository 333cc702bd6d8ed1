package dashboard

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/audit"
	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/identity"
	"github.com/fusionfleet/fusionfleet/internal/store"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// walkSide is one organisation of the route walker.
type walkSide struct {
	org         fleet.OrgID
	site, site2 fleet.SiteID
	admin       fleet.UserID
	users       map[string]fleet.UserID // principal -> user
	canaries    []string
	printer     fleet.PrinterID // a printer at site, with job
	job         string
	alert       fleet.AlertID // an active alert of printer
	proposal    string        // a learned set's proposal this organisation alone approved
}

// seedWalk adds to the fixture's organisation an operator, a viewer, an
// operator and an admin limited to a second site, that site, and names the canaries of the organisation.
func (f *fixture) seedWalk(t *testing.T, org fleet.OrgID, site fleet.SiteID, prefix string, admin fleet.UserID, viewer fleet.UserID) *walkSide {
	t.Helper()
	ctx := t.Context()
	s := &walkSide{org: org, site: site, admin: admin, users: map[string]fleet.UserID{"admin": admin, "viewer": viewer}}
	var err error
	if s.site2, err = f.db.CreateSite(ctx, org, prefix+"-Zweitwerk"); err != nil {
		t.Fatal(err)
	}
	if s.users["operator"], err = f.db.CreateMember(ctx, org, prefix+"-otto", f.hashed, fleet.RoleOperator, access.AllSites()); err != nil {
		t.Fatal(err)
	}
	if s.users["limited"], err = f.db.CreateMember(ctx, org, prefix+"-lim", f.hashed, fleet.RoleViewer, access.OnlySites(s.site2)); err != nil {
		t.Fatal(err)
	}
	if s.users["ladmin"], err = f.db.CreateMember(ctx, org, prefix+"-ladm", f.hashed, fleet.RoleAdmin, access.OnlySites(s.site2)); err != nil {
		t.Fatal(err)
	}
	if s.users["loperator"], err = f.db.CreateMember(ctx, org, prefix+"-lop", f.hashed, fleet.RoleOperator, access.OnlySites(s.site2)); err != nil {
		t.Fatal(err)
	}
	s.canaries = []string{string(org), string(site), string(s.site2), prefix + "-Zweitwerk"}
	for _, u := range s.users {
		s.canaries = append(s.canaries, string(u))
	}
	return s
}

// sessionFor starts a session for user directly in the store and returns
// its cookie value and CSRF token.
func (f *fixture) sessionFor(t *testing.T, user fleet.UserID, expires time.Time) (string, string) {
	t.Helper()
	token, err := identity.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.CreateSession(t.Context(), identity.HashToken(token), user, expires); err != nil {
		t.Fatal(err)
	}
	return token, csrfToken(token)
}

// apiToken stores an API token of user and returns its secret.
func (f *fixture) apiToken(t *testing.T, org fleet.OrgID, user fleet.UserID, revoked bool) (string, access.TokenID) {
	t.Helper()
	secret, err := identity.NewAPIToken()
	if err != nil {
		t.Fatal(err)
	}
	id, err := f.db.CreateAPIToken(t.Context(), access.Token{OrgID: org, UserID: user, Name: "t", Scope: access.ScopeRead,
		Created: t0, Expires: t0.Add(time.Hour)}, identity.HashToken(secret))
	if err != nil {
		t.Fatal(err)
	}
	if revoked {
		if err := f.db.RevokeAPIToken(t.Context(), org, id, t0); err != nil {
			t.Fatal(err)
		}
	}
	return secret, id
}

// The walker: every route of the dashboard's table, with every kind of
// caller of both organisations, on the caller's own objects and on the
// other organisation's. The status is as the table below says, and no
// answer to one organisation's caller names anything of the other's.
func TestRouteWalker(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	ada, _, _ := f.db.UserByName(ctx, "ada")
	vic, _, _ := f.db.UserByName(ctx, "vic")
	bob, _, _ := f.db.UserByName(ctx, "bob")
	bev, err := f.db.CreateMember(ctx, f.orgB, "bev", f.hashed, fleet.RoleViewer, access.AllSites())
	if err != nil {
		t.Fatal(err)
	}
	a := f.seedWalk(t, f.orgA, f.siteA, "Alpha", ada.ID, vic.ID)
	b := f.seedWalk(t, f.orgB, f.siteB, "Bravo", bob.ID, bev)
	a.canaries = append(a.canaries, "printer-a001", "Aachen")
	b.canaries = append(b.canaries, "printer-b001", "Bremen")
	a.printer, a.job = "printer-a001", "job-a1"
	b.printer, b.job = "printer-b001", "job-b1"
	f.addJob(t, f.orgA, f.siteA, a.printer, a.job, fleet.JobCompleted, t0)
	f.addJob(t, f.orgB, f.siteB, b.printer, b.job, fleet.JobCompleted, t0)
	a.canaries = append(a.canaries, a.job)
	a.alert = f.seedAlert(t, f.orgA, f.siteA, a.printer, "lamp", fleet.SeverityWarning, "Lamp weak or failed")
	b.alert = f.seedAlert(t, f.orgB, f.siteB, b.printer, "lamp", fleet.SeverityWarning, "Lamp weak or failed")
	b.canaries = append(b.canaries, b.job)
	// The learning loop's proposals are the whole fleet's; each side
	// approved one, by an approver whose name is its canary.
	ps := f.seedApprovals(t, fleet.User{ID: a.admin, OrgID: f.orgA, Name: "CanaryAlpha-approver"},
		fleet.User{ID: b.admin, OrgID: f.orgB, Name: "CanaryBravo-approver"})
	a.proposal, b.proposal = ps[0], ps[1]
	a.canaries = append(a.canaries, "CanaryAlpha-approver")
	b.canaries = append(b.canaries, "CanaryBravo-approver")

	// "limited", "loperator" and "ladmin" are a viewer, an operator and an
	// admin limited to the side's second site.
	members := []string{"admin", "operator", "viewer", "limited", "loperator", "ladmin"}
	all := func(s int) map[string]int {
		return map[string]int{"admin": s, "operator": s, "viewer": s, "limited": s, "loperator": s, "ladmin": s}
	}
	admins := func(s int) map[string]int {
		return map[string]int{"admin": s, "operator": 403, "viewer": 403, "limited": 403, "loperator": 403, "ladmin": s}
	}
	operators := func(s int) map[string]int {
		return map[string]int{"admin": s, "operator": s, "viewer": 403, "limited": 403, "loperator": s, "ladmin": s}
	}
	with := func(m map[string]int, kv ...any) map[string]int {
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1].(int)
		}
		return m
	}
	// The side's printer is at its first site: the limited users see none.
	atFirstSite := map[string]int{"admin": 200, "operator": 200, "viewer": 200, "limited": 404, "loperator": 404, "ladmin": 404}
	type want struct {
		path   string // with {id} replaced
		form   url.Values
		member map[string]int // for logged-in callers
		anon   int            // for callers without a valid session
	}
	wrongCurrent := url.Values{"current": {"wrong"}, "new": {"a new password 1"}, "confirm": {"a new password 1"}}
	// The expectations, by route pattern; "own" objects (foreign ones are
	// 404 wherever own ones succeed).
	wants := map[string]want{
		"GET /login":                       {"/login", nil, all(200), 200},
		"POST /login":                      {"/login", url.Values{"name": {"x"}, "password": {"y"}}, all(403), 403},
		"GET /login/code":                  {"/login/code", nil, all(303), 303},
		"POST /login/code":                 {"/login/code", url.Values{"code": {"123456"}}, all(303), 303},
		"GET /healthz":                     {"/healthz", nil, all(200), 200},
		"GET /static/":                     {"/static/style.css", nil, all(200), 200},
		"POST /logout":                     {"/logout", url.Values{}, all(303), 303},
		"GET /{$}":                         {"/", nil, all(200), 303},
		"GET /api/printers":                {"/api/printers", nil, all(200), 401},
		"GET /api/events":                  {"/api/events", nil, all(200), 401},
		"GET /printers/{id}":               {"/printers/{printer}", nil, atFirstSite, 303},
		"GET /printers/{id}/jobs/{job}":    {"/printers/{printer}/jobs/{job}", nil, atFirstSite, 303},
		"GET /jobs":                        {"/jobs", nil, all(200), 303},
		"GET /jobs.csv":                    {"/jobs.csv", nil, all(200), 303},
		"GET /kpis":                        {"/kpis", nil, all(200), 303},
		"GET /benchmark":                   {"/benchmark", nil, all(200), 303},
		"GET /usage":                       {"/usage", nil, all(200), 303},
		"GET /alerts":                      {"/alerts", nil, all(200), 303},
		"POST /alerts/{id}/ack":            {"/alerts/{alert}/ack", url.Values{}, with(operators(303), "loperator", 404, "ladmin", 404), 303},
		"POST /alerts/{id}/assign":         {"/alerts/{alert}/assign", url.Values{"user": {""}}, with(operators(303), "loperator", 404, "ladmin", 404), 303},
		"GET /alerts/rules":                {"/alerts/rules", nil, all(200), 303},
		"POST /alerts/rules":               {"/alerts/rules", url.Values{"metric": {"system_errors"}, "op": {">"}, "threshold": {"3"}, "severity": {"warning"}}, with(admins(303), "ladmin", 400), 303},
		"POST /alerts/rules/{id}/delete":   {"/alerts/rules/{rule}/delete", url.Values{}, with(admins(303), "ladmin", 404), 303},
		"POST /alerts/rules/{rule}/mute":   {"/alerts/rules/custom-{rule}/mute", url.Values{"mute": {"on"}}, with(admins(303), "ladmin", 403), 303},
		"GET /tokens":                      {"/tokens", nil, all(200), 303},
		"POST /tokens":                     {"/tokens", url.Values{"name": {"walk"}, "scope": {"read"}}, all(200), 303},
		"POST /tokens/{id}/revoke":         {"/tokens/{token}/revoke", url.Values{}, map[string]int{"admin": 303, "operator": 404, "viewer": 404, "limited": 404, "loperator": 404, "ladmin": 404}, 303},
		"GET /account":                     {"/account", nil, all(200), 303},
		"POST /account":                    {"/account", url.Values{"lang": {"de"}, "zone": {"Europe/Berlin"}}, all(303), 303},
		"GET /admin/sites":                 {"/admin/sites", nil, admins(200), 303},
		"POST /admin/sites":                {"/admin/sites", url.Values{"name": {"{new}"}}, with(admins(303), "ladmin", 403), 303},
		"GET /account/two-factor":          {"/account/two-factor", nil, all(200), 303},
		"POST /account/two-factor":         {"/account/two-factor", url.Values{"code": {"abcdef"}}, all(400), 303},
		"POST /account/two-factor/disable": {"/account/two-factor/disable", url.Values{"password": {"wrong"}}, all(400), 303},
		"GET /admin/enrolment":             {"/admin/enrolment", nil, admins(200), 303},
		"POST /admin/enrolment":            {"/admin/enrolment", url.Values{"site": {"{site}"}}, with(admins(200), "ladmin", 400), 303},
		"GET /admin/users":                 {"/admin/users", nil, admins(200), 303},
		"POST /admin/users":                {"/admin/users", url.Values{"name": {"{new}"}, "role": {"viewer"}}, admins(200), 303},
		"POST /admin/users/{id}/access":    {"/admin/users/{user}/access", url.Values{"role": {"operator"}}, with(admins(303), "ladmin", 403), 303},
		"POST /admin/users/{id}/remove":    {"/admin/users/{user}/remove", url.Values{}, with(admins(303), "ladmin", 403), 303},
		// A wrong current password is refused; the victim, for all sites,
		// is beyond an admin limited to the second site.
		"POST /account/password":          {"/account/password", wrongCurrent, all(403), 303},
		"POST /api/account/password":      {"/api/account/password", wrongCurrent, all(403), 401},
		"POST /admin/users/{id}/password": {"/admin/users/{user}/password", url.Values{}, with(admins(200), "ladmin", 403), 303},
		"/":                               {"/no/such/page", nil, all(404), 303},
		// Grants (grants.go): an admin limited to a site gives access to
		// its own sites (no box checked), and cannot see, so not revoke,
		// the walker's grant for all sites. Customers have no customers.
		"GET /admin/grants":              {"/admin/grants", nil, admins(200), 303},
		"POST /admin/grants":             {"/admin/grants", url.Values{"provider": {"{provider}"}, "scope": {"status"}, "starts": {"2026-03-01T08:00"}, "expires": {"2026-03-09T08:00"}}, admins(200), 303},
		"POST /admin/grants/{id}/revoke": {"/admin/grants/{grant}/revoke", url.Values{}, with(admins(303), "ladmin", 404), 303},
		"GET /customers":                 {"/customers", nil, all(200), 303},
		"POST /customers/{id}/open":      {"/customers/{grant}/open", url.Values{}, all(404), 303},
		"POST /customers/leave":          {"/customers/leave", url.Values{}, all(303), 303},
	}
	// Updates (updates.go), with a release list so that printer rows show.
	f.h.updates.releases = testReleases()
	wants["GET /updates"] = want{"/updates", nil, all(200), 303}
	wants["GET /maintenance"] = want{"/maintenance", nil, all(200), 303}
	// Learning (learning.go): operators and admins read the proposals with
	// their own organisation's approvals (the other's approver is a
	// canary) and download the set of one it approved; an admin of the
	// whole organisation approves the one only the other organisation
	// approved, which its approval does not hold up.
	wants["GET /learning"] = want{"/learning", nil, operators(200), 303}
	wants["GET /learning/{id}/set.json"] = want{"/learning/{proposal}/set.json", nil, operators(200), 303}
	wants["POST /learning/{id}/approve"] = want{"/learning/{theirs}/approve", url.Values{}, with(admins(303), "ladmin", 403), 303}
	// Diagnostics (diagnostics.go): operators ask; every member follows
	// and downloads, at the sites they see.
	wants["GET /printers/{id}/diagnostics"] = want{"/printers/{printer}/diagnostics", nil, atFirstSite, 303}
	wants["POST /printers/{id}/diagnostics"] = want{"/printers/{printer}/diagnostics", url.Values{"kind": {"snapshot"}},
		with(operators(303), "loperator", 404, "ladmin", 404), 303}
	wants["GET /diagnostics/{id}/result"] = want{"/diagnostics/{diagnostic}/result", nil, atFirstSite, 303}
	// Moving a printer (detail.go): the walker moves the printer to the
	// site it is at; its admins may, one limited to the other site does
	// not see it (TestMovePrinterPage moves printers between sites).
	wants["POST /printers/{id}/site"] = want{"/printers/{printer}/site", url.Values{"site": {"{site}"}}, with(admins(303), "ladmin", 404), 303}
	// Notifications (notify.go). Channels carry every site's alerts: an
	// admin limited to a site may neither see nor change them, nor read
	// their delivery log.
	wants["GET /account/notifications"] = want{"/account/notifications", nil, all(200), 303}
	wants["POST /account/notifications"] = want{"/account/notifications",
		url.Values{"enabled": {"on"}, "email": {"walk@example.com"}, "severity": {"warning"}}, all(303), 303}
	wants["GET /admin/notifications"] = want{"/admin/notifications", nil, with(admins(200), "ladmin", 403), 303}
	wants["POST /admin/notifications"] = want{"/admin/notifications", url.Values{"kind": {"webhook"}, "name": {"{new}"},
		"target": {"https://hooks.example.com/walk"}, "severity": {"warning"}}, with(admins(200), "ladmin", 403), 303}
	wants["POST /admin/notifications/{id}/delete"] = want{"/admin/notifications/{channel}/delete", url.Values{}, with(admins(303), "ladmin", 403), 303}
	wants["POST /admin/notifications/{id}/test"] = want{"/admin/notifications/{channel}/test", url.Values{}, with(admins(303), "ladmin", 403), 303}
	// The audit log and the organisation's data (datarights.go) are the
	// whole organisation's; the walker's deletion is refused for want of
	// the typed name (TestDeleteOrgInBrowser deletes one).
	wants["GET /admin/audit"] = want{"/admin/audit", nil, with(admins(200), "ladmin", 403), 303}
	wants["GET /admin/audit/export"] = want{"/admin/audit/export?format=csv", nil, with(admins(200), "ladmin", 403), 303}
	wants["GET /admin/data"] = want{"/admin/data", nil, with(admins(200), "ladmin", 403), 303}
	wants["GET /admin/data/export"] = want{"/admin/data/export", nil, with(admins(200), "ladmin", 403), 303}
	wants["POST /admin/data/delete"] = want{"/admin/data/delete", url.Values{"confirm": {"not the name"}}, with(admins(400), "ladmin", 403), 303}
	// Air-gapped sites (airgap.go) are the whole organisation's; this
	// dashboard has no importer, so they answer 404 once authorized
	// (TestAirgapPage has one). The upload without a file is for the
	// importer to refuse.
	wants["GET /admin/airgap"] = want{"/admin/airgap", nil, with(admins(404), "ladmin", 403), 303}
	wants["POST /admin/airgap/bundles"] = want{"/admin/airgap/bundles", url.Values{}, with(admins(404), "ladmin", 403), 303}
	wants["GET /admin/airgap/ack"] = want{"/admin/airgap/ack?gateway=gw_walk", nil, with(admins(404), "ladmin", 403), 303}
	wants["GET /admin/airgap/key"] = want{"/admin/airgap/key", nil, with(admins(404), "ladmin", 403), 303}
	wants["GET /admin/airgap/updates"] = want{"/admin/airgap/updates", nil, with(admins(404), "ladmin", 403), 303}
	callers := append(append([]string{}, members...), "none", "read token", "revoked token", "expired session")
	n := 0
	for _, rt := range f.h.table() {
		w, ok := wants[rt.pattern]
		if !ok {
			t.Errorf("route %q has no expectation", rt.pattern)
			continue
		}
		method, _, found := strings.Cut(rt.pattern, " ")
		if !found {
			method = http.MethodGet
		}
		for _, sides := range [][2]*walkSide{{a, b}, {b, a}} {
			me, other := sides[0], sides[1]
			for _, who := range callers {
				targets := []string{"own"}
				if strings.Contains(w.path, "{user}") || strings.Contains(w.path, "{token}") || strings.Contains(w.path, "{printer}") || strings.Contains(w.path, "{grant}") ||
					strings.Contains(w.path, "{alert}") || strings.Contains(w.path, "{rule}") || strings.Contains(w.path, "{channel}") ||
					strings.Contains(w.path, "{diagnostic}") {
					targets = append(targets, "foreign")
				}
				for _, target := range targets {
					n++
					t.Run(rt.pattern+"/"+string(me.org)[:8]+"/"+who+"/"+target, func(t *testing.T) {
						owner := me
						if target == "foreign" {
							owner = other
						}
						// The objects the path names, made for this case
						// only where it names them.
						path := expand(w.path, map[string]func() string{
							"{user}": func() string {
								victim, err := f.db.CreateMember(ctx, owner.org, "victim"+strconv.Itoa(n), f.hashed, fleet.RoleViewer, access.AllSites())
								if err != nil {
									t.Fatal(err)
								}
								return string(victim)
							},
							"{token}": func() string {
								_, victimToken := f.apiToken(t, owner.org, owner.admin, false)
								return string(victimToken)
							},
							"{printer}":    func() string { return string(owner.printer) },
							"{job}":        func() string { return owner.job },
							"{alert}":      func() string { return string(owner.alert) },
							"{rule}":       func() string { return f.walkRule(t, owner.org) },
							"{channel}":    func() string { return f.walkChannel(t, owner.org) },
							"{grant}":      func() string { return f.walkGrant(t, owner.org) },
							"{diagnostic}": func() string { return string(f.walkDiagnostic(t, owner)) },
							"{proposal}":   func() string { return owner.proposal },
							"{theirs}":     func() string { return other.proposal },
						})
						rep := strings.NewReplacer("{site}", string(me.site), "{new}", "new"+strconv.Itoa(n), "{provider}", string(f.provider(t, "Fixers").org))
						var form url.Values
						if w.form != nil {
							form = url.Values{}
							for k, v := range w.form {
								for _, x := range v {
									form.Add(k, rep.Replace(x))
								}
							}
						}
						req := f.walkRequest(t, method, path)
						if csrf := f.authenticate(t, req, me, who); csrf != "" && form != nil {
							form.Set("csrf", csrf)
						}
						if form != nil {
							req.Body = io.NopCloser(strings.NewReader(form.Encode()))
							req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
						}
						before := auditSeq(t, f.db, me.org)
						status, body := f.send(t, req)
						// Every administrator's change that passed the
						// check is in the audit log, attempted or done.
						// The export, a diagnostic's request and the
						// download of its result record themselves.
						_, isMember := w.member[who]
						recordsItself := rt.pattern == "GET /admin/data/export" || rt.pattern == "POST /printers/{id}/diagnostics" ||
							rt.pattern == "GET /diagnostics/{id}/result"
						wantAudit := rt.need.Write && rt.need.Role == fleet.RoleAdmin &&
							(who == "admin" || who == "ladmin" && !rt.need.OrgWide) ||
							rt.pattern == "GET /admin/data/export" && who == "admin" ||
							recordsItself && rt.pattern != "GET /admin/data/export" && status < 400 && isMember && w.member[who] < 400
						if x, grew := firstAuditAfter(t, f.db, me.org, before); grew != wantAudit {
							t.Errorf("audit entry recorded: %v, want %v (status %d)", grew, wantAudit, status)
						} else if grew && !recordsItself && (x.Action != audit.ActionAdmin || x.Detail != rt.pattern || x.Actor != me.users[who] || x.Org != me.org) {
							t.Errorf("audit entry %+v, want the admin action %s of %s", x, rt.pattern, me.users[who])
						}
						exp, ok := w.member[who]
						if !ok {
							exp = w.anon
						}
						if target == "foreign" && ok && (exp < 400 || exp == http.StatusForbidden && status == http.StatusNotFound) {
							// A foreign object is not found before the
							// caller's rights on it are weighed.
							exp = http.StatusNotFound
						}
						if status != exp {
							t.Errorf("%s %s as %s: status %d, want %d\n%.300s", method, path, who, status, exp, body)
						}
						// The audit log records the IDs a request named, the
						// walker's foreign ones too: what the caller typed,
						// not what the other organisation holds.
						seen := auditTargets.ReplaceAllString(body, "")
						for _, c := range other.canaries {
							if strings.Contains(seen, c) {
								t.Errorf("answer names %q of the other organisation", c)
							}
						}
						if (who == "limited" || who == "loperator" || who == "ladmin") && (strings.Contains(body, "printer-a001") || strings.Contains(body, "printer-b001")) {
							t.Error("a user limited to the second site sees the printer of the first")
						}
					})
				}
			}
		}
	}
	if len(wants) != len(f.h.table()) {
		t.Errorf("expectations for %d routes, table has %d", len(wants), len(f.h.table()))
	}
}

// expand replaces each placeholder of path with the value its function
// makes, calling only the functions of the placeholders path holds.
func expand(path string, values map[string]func() string) string {
	for k, v := range values {
		if strings.Contains(path, k) {
			path = strings.ReplaceAll(path, k, v())
		}
	}
	return path
}

// auditTargets matches an audit entry's target in the audit page (a
// cell marked data-target), its CSV export (the seventh field) and the
// data export's JSON.
var auditTargets = regexp.MustCompile(`<td data-target>[^<]*</td>|"target":"[^"]*"|(?m)^((?:[^,\n]*,){6})[^,\n]*`)

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

// walkRequest builds a request without a body.
func (f *fixture) walkRequest(t *testing.T, method, path string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// authenticate gives req the credentials of caller who of side s and
// returns the CSRF token of its session ("" without one).
func (f *fixture) authenticate(t *testing.T, req *http.Request, s *walkSide, who string) string {
	t.Helper()
	switch who {
	case "none":
		return ""
	case "read token", "revoked token":
		secret, _ := f.apiToken(t, s.org, s.admin, who == "revoked token")
		req.Header.Set("Authorization", "Bearer "+secret)
		return ""
	case "expired session":
		token, csrf := f.sessionFor(t, s.admin, f.clock.Now().Add(-time.Second))
		req.AddCookie(&http.Cookie{Name: "ff_session", Value: token})
		return csrf
	}
	token, csrf := f.sessionFor(t, s.users[who], f.clock.Now().Add(time.Hour))
	req.AddCookie(&http.Cookie{Name: "ff_session", Value: token})
	return csrf
}

// send sends req without following redirects; an event stream is read up
// to its first event.
func (f *fixture) send(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(req.Context(), 10*time.Second)
	defer cancel()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") == "text/event-stream" {
		var b strings.Builder
		r := bufio.NewReader(resp.Body)
		for {
			line, err := r.ReadString('\n')
			b.WriteString(line)
			if err != nil || line == "\n" {
				return resp.StatusCode, b.String()
			}
		}
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

var (
	secretField   = regexp.MustCompile(`value="([A-Z2-7]{32})" data-totp-secret`)
	recoveryField = regexp.MustCompile(`<code>([0-9a-z]{5}-[0-9a-z]{5}-[0-9a-z]{5})</code>`)
)

func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTwoFactorLogin(t *testing.T) {
	f := newFixture(t)
	c, csrf := f.login(t, "ada")
	// Enrolment: the page shows the secret and the otpauth URI.
	_, body := get(t, c, f.srv.URL+"/account/two-factor")
	m := secretField.FindStringSubmatch(body)
	if m == nil || !strings.Contains(body, "otpauth://totp/FusionFleet:ada?") {
		t.Fatalf("no secret or URI on the setup page:\n%s", body)
	}
	secret := m[1]
	// A wrong code keeps the same secret and says so.
	resp, body := post(t, c, f.srv.URL+"/account/two-factor", url.Values{"csrf": {csrf}, "code": {"12345x"}}, nil)
	if resp.StatusCode != 400 || !strings.Contains(body, "not right") || !strings.Contains(body, secret) {
		t.Errorf("wrong first code: %s", resp.Status)
	}
	resp, body = post(t, c, f.srv.URL+"/account/two-factor", url.Values{"csrf": {csrf}, "code": {totpCode(t, secret, f.clock.Now())}}, nil)
	codes := recoveryField.FindAllStringSubmatch(body, -1)
	if resp.StatusCode != 200 || len(codes) != identity.RecoveryCodeCount {
		t.Fatalf("confirm: %s, %d recovery codes\n%s", resp.Status, len(codes), body)
	}
	if _, body := get(t, c, f.srv.URL+"/account/two-factor"); strings.Contains(body, codes[0][1]) || !strings.Contains(body, "10 unused recovery codes") {
		t.Error("recovery codes shown again, or the count is missing")
	}

	// Login now asks for the code after the password.
	c2 := f.client(t)
	resp, _ = f.tryLogin(t, c2, "ada", password)
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/login/code" {
		t.Fatalf("password step: %s to %q, want 303 to /login/code", resp.Status, resp.Header.Get("Location"))
	}
	if resp, _ := get(t, c2, f.srv.URL+"/"); resp.StatusCode != 303 {
		t.Error("logged in before the second factor")
	}
	_, page := get(t, c2, f.srv.URL+"/login/code")
	codeCSRF := csrfOf(t, page)
	send := func(code string) *http.Response {
		r, _ := post(t, c2, f.srv.URL+"/login/code", url.Values{"csrf": {codeCSRF}, "code": {code}}, nil)
		return r
	}
	if r := send("000000x"); r.StatusCode != 401 {
		t.Errorf("wrong code: %s, want 401", r.Status)
	}
	if r, _ := post(t, c2, f.srv.URL+"/login/code", url.Values{"csrf": {"forged"}, "code": {"1"}}, nil); r.StatusCode != 403 {
		t.Errorf("forged CSRF: %s, want 403", r.Status)
	}
	// The code that confirmed the setup is spent: replay refused.
	if r := send(totpCode(t, secret, f.clock.Now())); r.StatusCode != 401 {
		t.Errorf("replayed setup code: %s, want 401", r.Status)
	}
	f.clock.Advance(30 * time.Second)
	good := totpCode(t, secret, f.clock.Now())
	if r := send(good); r.StatusCode != 303 || r.Header.Get("Location") != "/" {
		t.Fatalf("right code: %s", r.Status)
	}
	if resp, _ := get(t, c2, f.srv.URL+"/"); resp.StatusCode != 200 {
		t.Errorf("GET / after the second factor: %s", resp.Status)
	}
	// The same code again, in a new login within its window: refused.
	c3 := f.client(t)
	f.tryLogin(t, c3, "ada", password)
	_, page = get(t, c3, f.srv.URL+"/login/code")
	if r, _ := post(t, c3, f.srv.URL+"/login/code", url.Values{"csrf": {csrfOf(t, page)}, "code": {good}}, nil); r.StatusCode != 401 {
		t.Errorf("replayed login code: %s, want 401", r.Status)
	}
	// A recovery code works once.
	if r, _ := post(t, c3, f.srv.URL+"/login/code", url.Values{"csrf": {csrfOf(t, page)}, "code": {strings.ToUpper(codes[0][1])}}, nil); r.StatusCode != 303 {
		t.Errorf("recovery code: %s, want 303", r.Status)
	}
	c4 := f.client(t)
	f.tryLogin(t, c4, "ada", password)
	_, page = get(t, c4, f.srv.URL+"/login/code")
	if r, _ := post(t, c4, f.srv.URL+"/login/code", url.Values{"csrf": {csrfOf(t, page)}, "code": {codes[0][1]}}, nil); r.StatusCode != 401 {
		t.Errorf("used recovery code: %s, want 401", r.Status)
	}
	// The challenge expires.
	f.clock.Advance(challengeTTL)
	if r, _ := get(t, c4, f.srv.URL+"/login/code"); r.StatusCode != 303 {
		t.Errorf("expired challenge: %s, want 303 to the login", r.Status)
	}
	// Turning it off needs the password.
	if r, _ := post(t, c, f.srv.URL+"/account/two-factor/disable", url.Values{"csrf": {csrf}, "password": {"nope"}}, nil); r.StatusCode != 400 {
		t.Errorf("disable with a wrong password: %s, want 400", r.Status)
	}
	f.clock.Advance(-challengeTTL) // the first session is still valid
	if r, _ := post(t, c, f.srv.URL+"/account/two-factor/disable", url.Values{"csrf": {csrf}, "password": {password}}, nil); r.StatusCode != 303 {
		t.Errorf("disable: %s, want 303", r.Status)
	}
	if r, _ := f.tryLogin(t, f.client(t), "ada", password); r.Header.Get("Location") != "/" {
		t.Error("login still asks for a code after disabling")
	}
}

// Wrong codes count towards the back-off like wrong passwords.
func TestTwoFactorBackoff(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	u, _, _ := f.db.UserByName(ctx, "vic")
	secret, _, err := identity.NewTOTP("FusionFleet", "vic")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.SetPendingTOTP(ctx, u.ID, secret); err != nil {
		t.Fatal(err)
	}
	if err := f.db.EnableTOTP(ctx, u.ID, 0, []string{"x"}); err != nil {
		t.Fatal(err)
	}
	c := f.client(t)
	f.tryLogin(t, c, "vic", password)
	_, page := get(t, c, f.srv.URL+"/login/code")
	tok := csrfOf(t, page)
	for range freeFailures + 1 {
		post(t, c, f.srv.URL+"/login/code", url.Values{"csrf": {tok}, "code": {"bad"}}, nil)
	}
	r, body := post(t, c, f.srv.URL+"/login/code", url.Values{"csrf": {tok}, "code": {totpCode(t, secret, f.clock.Now())}}, nil)
	if r.StatusCode != 429 || !strings.Contains(body, loginLocked) {
		t.Errorf("after failures: %s, want 429", r.Status)
	}
}

func TestUsersPages(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	c, csrf := f.login(t, "ada")
	siteA2, err := f.db.CreateSite(ctx, f.orgA, "Augsburg")
	if err != nil {
		t.Fatal(err)
	}
	resp, body := post(t, c, f.srv.URL+"/admin/users", url.Values{"csrf": {csrf}, "name": {"otto"}, "role": {"operator"},
		"site": {string(siteA2)}}, nil)
	m := regexp.MustCompile(`value="([^"]+)" aria-label="First password"`).FindStringSubmatch(body)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("create: %s\n%s", resp.Status, body)
	}
	otto, hash, err := f.db.UserByName(ctx, "otto")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := identity.CheckPassword(hash, m[1]); !ok || otto.Role != fleet.RoleOperator {
		t.Errorf("created user %+v: password or role wrong", otto)
	}
	if mem, _ := f.db.Member(ctx, f.orgA, otto.ID); !mem.Sites.Equal(access.OnlySites(siteA2)) {
		t.Errorf("sites of otto: %+v", mem.Sites)
	}
	if _, body := get(t, c, f.srv.URL+"/admin/users"); strings.Contains(body, m[1]) || !strings.Contains(body, "Only: Augsburg") {
		t.Error("password shown again, or sites not shown")
	}
	bad := []struct {
		name   string
		path   string
		form   url.Values
		status int
		msg    string
	}{
		{"empty name", "/admin/users", url.Values{"name": {" "}, "role": {"viewer"}}, 400, "Please enter a user name."},
		{"long name", "/admin/users", url.Values{"name": {strings.Repeat("n", 129)}, "role": {"viewer"}}, 400, "too long"},
		{"bad role", "/admin/users", url.Values{"name": {"x"}, "role": {"root"}}, 400, "Please pick a role"},
		{"taken", "/admin/users", url.Values{"name": {"bob"}, "role": {"viewer"}}, 409, "That is taken"},
		{"other org's site", "/admin/users", url.Values{"name": {"x"}, "role": {"viewer"}, "site": {string(f.siteB)}}, 400, "Please pick sites"},
		{"demote self, the last admin", "/admin/users/" + string(mustUser(t, f, "ada")) + "/access", url.Values{"role": {"viewer"}}, 409, "administrator"},
		{"remove self", "/admin/users/" + string(mustUser(t, f, "ada")) + "/remove", url.Values{}, 400, "cannot remove yourself"},
		{"other org's user", "/admin/users/" + string(mustUser(t, f, "bob")) + "/remove", url.Values{}, 404, "No such user"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			tt.form.Set("csrf", csrf)
			resp, body := post(t, c, f.srv.URL+tt.path, tt.form, nil)
			if resp.StatusCode != tt.status || !strings.Contains(body, tt.msg) {
				t.Errorf("%s, want %d with %q", resp.Status, tt.status, tt.msg)
			}
		})
	}
	if resp, _ := post(t, c, f.srv.URL+"/admin/users/"+string(otto.ID)+"/access", url.Values{"csrf": {csrf}, "role": {"admin"}}, nil); resp.StatusCode != 303 {
		t.Errorf("change role: %s", resp.Status)
	}
	if mem, _ := f.db.Member(ctx, f.orgA, otto.ID); mem.Role != fleet.RoleAdmin || mem.Sites.Limited() {
		t.Errorf("after change: %+v", mem)
	}
	if resp, _ := post(t, c, f.srv.URL+"/admin/users/"+string(otto.ID)+"/remove", url.Values{"csrf": {csrf}}, nil); resp.StatusCode != 303 {
		t.Errorf("remove: %s", resp.Status)
	}
	if _, _, err := f.db.UserByName(ctx, "otto"); err == nil {
		t.Error("removed user still there")
	}
}

func mustUser(t *testing.T, f *fixture, name string) fleet.UserID {
	t.Helper()
	u, _, err := f.db.UserByName(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

func TestTokensPages(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	c, csrf := f.login(t, "vic")
	resp, body := post(t, c, f.srv.URL+"/tokens", url.Values{"csrf": {csrf}, "name": {"ci"}, "scope": {"read"}, "days": {"7"}}, nil)
	m := regexp.MustCompile(`value="(ffat_[^"]+)"`).FindStringSubmatch(body)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("create: %s\n%s", resp.Status, body)
	}
	tok, err := f.db.APITokenByHash(ctx, identity.HashToken(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	if tok.Scope != access.ScopeRead || !tok.Expires.Equal(t0.Add(7*24*time.Hour)) || tok.UserID != mustUser(t, f, "vic") {
		t.Errorf("stored token %+v", tok)
	}
	if _, body := get(t, c, f.srv.URL+"/tokens"); strings.Contains(body, m[1]) || !strings.Contains(body, `data-token-id="`+string(tok.ID)+`"`) {
		t.Error("secret shown again, or the token is not listed")
	}
	for _, tt := range []struct {
		form   url.Values
		status int
		msg    string
	}{
		{url.Values{"name": {""}, "scope": {"read"}}, 400, "Please enter a token name."},
		{url.Values{"name": {"x"}, "scope": {"admin"}}, 400, "read or read-write"},
		{url.Values{"name": {"x"}, "scope": {"read"}, "days": {"366"}}, 400, "1 to 365 days"},
		{url.Values{"name": {"x"}, "scope": {"read"}, "site": {string(f.siteB)}}, 400, "Please pick sites"},
	} {
		tt.form.Set("csrf", csrf)
		if resp, body := post(t, c, f.srv.URL+"/tokens", tt.form, nil); resp.StatusCode != tt.status || !strings.Contains(body, tt.msg) {
			t.Errorf("%v: %s, want %d with %q", tt.form, resp.Status, tt.status, tt.msg)
		}
	}
	// B's admin cannot revoke A's token; A's viewer can revoke its own.
	cb, csrfB := f.login(t, "bob")
	if resp, _ := post(t, cb, f.srv.URL+"/tokens/"+string(tok.ID)+"/revoke", url.Values{"csrf": {csrfB}}, nil); resp.StatusCode != 404 {
		t.Errorf("B revokes A's token: %s, want 404", resp.Status)
	}
	if resp, _ := post(t, c, f.srv.URL+"/tokens/"+string(tok.ID)+"/revoke", url.Values{"csrf": {csrf}}, nil); resp.StatusCode != 303 {
		t.Errorf("revoke own: %s, want 303", resp.Status)
	}
	if got, _ := f.db.APIToken(ctx, f.orgA, tok.ID); got.Revoked.IsZero() {
		t.Error("token not revoked")
	}
	if _, body := get(t, c, f.srv.URL+"/tokens"); !strings.Contains(body, "revoked") {
		t.Error("revoked token not marked")
	}
}

// The demo's dashboard runs on a simulated clock, ahead of the real one;
// two-factor codes come from the user's phone, on real time, and are
// checked against the logins' clock.
func TestTwoFactorCodesOnTheAuthClock(t *testing.T) {
	f := newFixture(t)
	phone := clock.NewManual(t0.Add(-36 * time.Hour))
	f.h.authClock = phone
	c, csrf := f.login(t, "ada")
	_, body := get(t, c, f.srv.URL+"/account/two-factor")
	m := secretField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no secret on the setup page:\n%s", body)
	}
	secret := m[1]
	if resp, _ := post(t, c, f.srv.URL+"/account/two-factor", url.Values{"csrf": {csrf}, "code": {totpCode(t, secret, f.clock.Now())}}, nil); resp.StatusCode != 400 {
		t.Errorf("code of the dashboard's simulated clock: %s, want 400", resp.Status)
	}
	if resp, _ := post(t, c, f.srv.URL+"/account/two-factor", url.Values{"csrf": {csrf}, "code": {totpCode(t, secret, phone.Now())}}, nil); resp.StatusCode != 200 {
		t.Errorf("code of the phone's clock: %s, want 200", resp.Status)
	}
}
