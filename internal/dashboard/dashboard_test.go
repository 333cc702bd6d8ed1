package dashboard

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
	"github.com/fusionfleet/fusionfleet/internal/identity"
	"github.com/fusionfleet/fusionfleet/internal/store"
	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const password = "correct horse battery"

// fixture is a cloud with two organisations, A and B, each with a site, a
// printer and users, served by a dashboard on a loopback test server.
type fixture struct {
	db     *store.DB
	hub    *Hub
	clock  *clock.Manual
	h      *ui
	srv    *httptest.Server
	orgA   fleet.OrgID
	orgB   fleet.OrgID
	siteA  fleet.SiteID
	siteB  fleet.SiteID
	seq    uint64
	hashed string
	// providers are the service providers made by provider, by name.
	providers map[string]*providerSide
	path      string // the store's SQLite file
}

func newFixture(t *testing.T) *fixture {
	return newFixtureStore(t, nil)
}

// newFixtureStore serves the dashboard on the capabilities of db, changed
// by wrap when it is set.
func newFixtureStore(t *testing.T, wrap func(*Deps)) *fixture {
	t.Helper()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "cloud.db")
	db, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &fixture{db: db, path: path, hub: NewHub(), clock: clock.NewManual(t0)}
	if f.orgA, err = db.CreateOrg(ctx, "A"); err != nil {
		t.Fatal(err)
	}
	if f.orgB, err = db.CreateOrg(ctx, "B"); err != nil {
		t.Fatal(err)
	}
	if f.siteA, err = db.CreateSite(ctx, f.orgA, "Aachen"); err != nil {
		t.Fatal(err)
	}
	if f.siteB, err = db.CreateSite(ctx, f.orgB, "Bremen"); err != nil {
		t.Fatal(err)
	}
	if f.hashed, err = identity.HashPassword(password); err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct {
		org  fleet.OrgID
		name string
		role fleet.Role
	}{{f.orgA, "ada", fleet.RoleAdmin}, {f.orgA, "vic", fleet.RoleViewer}, {f.orgB, "bob", fleet.RoleAdmin}} {
		if _, err := db.CreateUser(ctx, u.org, u.name, f.hashed, u.role); err != nil {
			t.Fatal(err)
		}
	}
	f.status(t, f.orgA, f.siteA, "printer-a001", "3DP 1", fleet.StatePrinting)
	f.status(t, f.orgB, f.siteB, "printer-b001", "B's printer", fleet.StateCooling)
	d := storeDeps(db)
	if wrap != nil {
		wrap(&d)
	}
	f.h = newHandler(d, f.hub, Options{Clock: f.clock})
	f.srv = httptest.NewServer(f.h.routes())
	t.Cleanup(f.srv.Close)
	return f
}

// storeDeps fills every capability from db.
func storeDeps(db *store.DB) Deps {
	return Deps{Sessions: db, TwoFactor: db, Throttle: db, Passwords: db, Members: db, Sites: db, Tokens: db, Printers: db, PrinterSites: db, Jobs: db, History: db,
		Alerts: db, AlertRules: db, WorstAlerts: db, Channels: db, NotifyPrefs: db, KPIs: db,
		Grants: db, GrantLookup: db, Orgs: db, Audit: db, Plans: db, AuditLog: db, Export: db, Deletion: db,
		Diagnostics: db, Learning: db}
}

// status applies an identity and a status of a printer at the clock's time.
func (f *fixture) status(t *testing.T, org fleet.OrgID, site fleet.SiteID, p fleet.PrinterID, name string, st fleet.State) {
	t.Helper()
	now := f.clock.Now()
	f.seq += 2
	env := fleet.Envelope{OrgID: org, SiteID: site, GatewayID: fleet.GatewayID("gw_" + string(org)), Records: []fleet.Record{
		{Seq: f.seq - 1, Kind: fleet.KindIdentity, PrinterID: p, Time: now, Identity: &fleet.Identity{
			PrinterID: p, Name: name, Model: "FF-4200", SerialNumber: "SN1"}},
		{Seq: f.seq, Kind: fleet.KindStatus, PrinterID: p, Time: now, Status: &fleet.Status{
			PrinterID: p, State: st, JobID: "job1", Progress: 0.42, ETCSeconds: 83 * 60, PendingJobs: 2, Time: now}},
	}}
	if _, err := f.db.ApplyEnvelope(t.Context(), env); err != nil {
		t.Fatal(err)
	}
}

// client returns an HTTP client with a cookie jar that does not follow
// redirects.
func (f *fixture) client(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// get fetches path and returns the status and body.
func get(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func post(t *testing.T, c *http.Client, u string, form url.Values, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no csrf field in page:\n%s", body)
	}
	return m[1]
}

// tryLogin posts the login form and returns the answer.
func (f *fixture) tryLogin(t *testing.T, c *http.Client, name, pw string) (*http.Response, string) {
	t.Helper()
	_, body := get(t, c, f.srv.URL+"/login")
	return post(t, c, f.srv.URL+"/login", url.Values{"csrf": {csrfOf(t, body)}, "name": {name}, "password": {pw}}, nil)
}

// login logs a client in and returns the CSRF token of its session.
func (f *fixture) login(t *testing.T, name string) (*http.Client, string) {
	t.Helper()
	c := f.client(t)
	resp, body := f.tryLogin(t, c, name, password)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("login %s: %s, want 303 to /\n%s", name, resp.Status, body)
	}
	_, page := get(t, c, f.srv.URL+"/")
	return c, csrfOf(t, page)
}

func TestLogin(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	resp, body := f.tryLogin(t, c, "ada", password)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login = %s, want 303\n%s", resp.Status, body)
	}
	var sess *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "ff_session" {
			sess = ck
		}
	}
	if sess == nil || !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode || sess.Path != "/" || sess.MaxAge != int(defaultSessionTTL/time.Second) {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Lax, Path=/, 12 h", sess)
	}
	// Only the hash is stored: the cookie value itself is not a session key.
	if _, err := f.db.SessionUser(t.Context(), sess.Value, t0); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("raw token found as a session key: %v", err)
	}
	resp, body = get(t, c, f.srv.URL+"/")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "My 3D printers") {
		t.Errorf("GET / after login = %s", resp.Status)
	}

	failures := []struct{ name, user, pw string }{
		{"wrong password", "ada", "wrong"},
		{"unknown user", "nobody", password},
		{"empty", "", ""},
		{"name too long", strings.Repeat("a", maxNameLen+1), password},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			c := f.client(t)
			resp, body := f.tryLogin(t, c, tt.user, tt.pw)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("status = %s, want 401", resp.Status)
			}
			if !strings.Contains(body, loginFailed) {
				t.Errorf("body lacks the generic message %q", loginFailed)
			}
			if resp, _ := get(t, c, f.srv.URL+"/"); resp.StatusCode != http.StatusSeeOther {
				t.Errorf("GET / after failed login = %s, want 303", resp.Status)
			}
		})
	}
}

func TestLoginCSRF(t *testing.T) {
	f := newFixture(t)
	form := url.Values{"name": {"ada"}, "password": {password}}
	t.Run("no cookie", func(t *testing.T) {
		form := url.Values{"csrf": {"x"}, "name": {"ada"}, "password": {password}}
		if resp, _ := post(t, f.client(t), f.srv.URL+"/login", form, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("status = %s, want 403", resp.Status)
		}
	})
	t.Run("wrong token", func(t *testing.T) {
		c := f.client(t)
		get(t, c, f.srv.URL+"/login")
		form.Set("csrf", "wrong")
		if resp, _ := post(t, c, f.srv.URL+"/login", form, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("status = %s, want 403", resp.Status)
		}
	})
	t.Run("cross origin", func(t *testing.T) {
		c := f.client(t)
		_, body := get(t, c, f.srv.URL+"/login")
		form.Set("csrf", csrfOf(t, body))
		resp, _ := post(t, c, f.srv.URL+"/login", form, map[string]string{"Sec-Fetch-Site": "cross-site"})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("status = %s, want 403", resp.Status)
		}
	})
}

// A browser loads the login page, then fetches a subresource that is
// redirected to the login page again (e.g. /favicon.ico): the form shown
// first must still work.
func TestLoginSurvivesSecondLoginPageLoad(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	_, first := get(t, c, f.srv.URL+"/login")
	get(t, c, f.srv.URL+"/login")
	resp, body := post(t, c, f.srv.URL+"/login", url.Values{"csrf": {csrfOf(t, first)}, "name": {"ada"}, "password": {password}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("login with the first form after a second page load: %s, want 303\n%s", resp.Status, body)
	}
}

// A planted login cookie of the wrong shape is replaced, not echoed.
func TestLoginReplacesMalformedCookie(t *testing.T) {
	f := newFixture(t)
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/login", nil)
	req.AddCookie(&http.Cookie{Name: "ff_login", Value: `"><script>`})
	resp, err := f.client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if token := csrfOf(t, string(b)); !validLoginToken(token) {
		t.Errorf("login form token %q: want a fresh token", token)
	}
}

// freeFailures are the failed logins per name and address the store's
// throttle lets pass before it locks the pair for 30 seconds.
const freeFailures = 5

func TestLoginBackoff(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	for i := range freeFailures + 1 {
		if resp, _ := f.tryLogin(t, c, "ada", "wrong"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: %s, want 401", i+1, resp.Status)
		}
	}
	// Locked: even the right password is refused, without saying whether it was right.
	resp, body := f.tryLogin(t, c, "ada", password)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, loginLocked) {
		t.Fatalf("locked login = %s, want 429 with %q", resp.Status, loginLocked)
	}
	// Another user is not affected; an unknown name locks just the same.
	f.login(t, "vic")
	for range freeFailures + 1 {
		f.tryLogin(t, c, "ghost", "x")
	}
	if resp, _ := f.tryLogin(t, c, "ghost", "x"); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("unknown name after failures = %s, want 429", resp.Status)
	}
	f.clock.Advance(30*time.Second + time.Second)
	if resp, _ := f.tryLogin(t, c, "ada", password); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("login after the lock = %s, want 303", resp.Status)
	}
}

func TestLoggedOut(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	tests := []struct {
		path   string
		status int
		loc    string
	}{
		{"/", http.StatusSeeOther, "/login"},
		{"/admin/enrolment", http.StatusSeeOther, "/login"},
		{"/no/such/page", http.StatusSeeOther, "/login"},
		{"/api/printers", http.StatusUnauthorized, ""},
		{"/api/events", http.StatusUnauthorized, ""},
		{"/login", http.StatusOK, ""},
		{"/healthz", http.StatusOK, ""},
		{"/static/app.js", http.StatusOK, ""},
		{"/static/style.css", http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, body := get(t, c, f.srv.URL+tt.path)
			if resp.StatusCode != tt.status || resp.Header.Get("Location") != tt.loc {
				t.Errorf("GET %s = %s to %q, want %d to %q", tt.path, resp.Status, resp.Header.Get("Location"), tt.status, tt.loc)
			}
			if tt.status == http.StatusUnauthorized {
				var e errorBody
				if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
					t.Errorf("401 body %q: want a JSON error", body)
				}
			}
		})
	}
	// Stale or forged cookies are no session.
	u, _ := url.Parse(f.srv.URL)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: "ff_session", Value: "forged"}})
	if resp, _ := get(t, c, f.srv.URL+"/api/printers"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("forged cookie: %s, want 401", resp.Status)
	}
}

func TestSessionExpiry(t *testing.T) {
	f := newFixture(t)
	c, _ := f.login(t, "ada")
	f.clock.Advance(defaultSessionTTL)
	if resp, _ := get(t, c, f.srv.URL+"/api/printers"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("after the TTL: %s, want 401", resp.Status)
	}
}

func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{"/login", "/healthz", "/static/app.js"} {
		resp, _ := get(t, f.client(t), f.srv.URL+path)
		want := map[string]string{
			"Content-Security-Policy": csp,
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
			"X-Frame-Options":         "DENY",
		}
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", path, k, got, v)
			}
		}
	}
	if !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
	// No inline scripts or styles in any page.
	c, _ := f.login(t, "ada")
	for _, path := range []string{"/", "/admin/enrolment", "/login"} {
		_, body := get(t, c, f.srv.URL+path)
		if regexp.MustCompile(`<script>|<script [^s]|style=|<style`).MatchString(body) {
			t.Errorf("%s has inline script or style", path)
		}
	}
}

func TestSecureCookies(t *testing.T) {
	f := newFixture(t)
	h := newHandler(storeDeps(f.db), f.hub, Options{Clock: f.clock, SecureCookies: true, SessionTTL: time.Hour})
	rec := httptest.NewRecorder()
	h.routes().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/login", nil))
	ck := rec.Result().Cookies()
	if len(ck) != 1 || ck[0].Name != "__Host-ff_login" || !ck[0].Secure || ck[0].Path != "/" {
		t.Errorf("login cookie %+v: want a Secure __Host- cookie", ck)
	}
	if rec.Header().Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS header with SecureCookies")
	}
}

func TestCSRF(t *testing.T) {
	f := newFixture(t)
	c, token := f.login(t, "ada")
	tests := []struct {
		name   string
		path   string
		form   url.Values
		hdr    map[string]string
		status int
	}{
		{"logout without token", "/logout", url.Values{}, nil, http.StatusForbidden},
		{"logout wrong token", "/logout", url.Values{"csrf": {"0000"}}, nil, http.StatusForbidden},
		{"enrol without token", "/admin/enrolment", url.Values{"site": {string(f.siteA)}}, nil, http.StatusForbidden},
		{"enrol wrong token", "/admin/enrolment", url.Values{"site": {string(f.siteA)}, "csrf": {token + "0"}}, nil, http.StatusForbidden},
		{"enrol cross-origin", "/admin/enrolment", url.Values{"site": {string(f.siteA)}, "csrf": {token}},
			map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden},
		{"enrol cross-site", "/admin/enrolment", url.Values{"site": {string(f.siteA)}, "csrf": {token}},
			map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"logout", "/logout", url.Values{"csrf": {token}}, map[string]string{"Sec-Fetch-Site": "same-origin"}, http.StatusSeeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := post(t, c, f.srv.URL+tt.path, tt.form, tt.hdr)
			if resp.StatusCode != tt.status {
				t.Errorf("POST %s = %s, want %d", tt.path, resp.Status, tt.status)
			}
		})
	}
	// Logged out now: the session is gone server-side.
	if resp, _ := get(t, c, f.srv.URL+"/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("GET / after logout = %s, want 303", resp.Status)
	}
	// Another session's token is not this session's.
	c1, _ := f.login(t, "ada")
	_, other := f.login(t, "ada")
	if resp, _ := post(t, c1, f.srv.URL+"/logout", url.Values{"csrf": {other}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("other session's token: %s, want 403", resp.Status)
	}
}

func TestPrintersPage(t *testing.T) {
	f := newFixture(t)
	c, _ := f.login(t, "ada")
	_, body := get(t, c, f.srv.URL+"/")
	for _, want := range []string{
		`id="printer-printer-a001"`, `data-printer-id="printer-a001"`, `data-state="printing"`,
		"3DP 1", "FF-4200", "Powered on, printing", "Estimated time to completion: <span class=\"etc-words\">1 hour, 23 minutes</span>",
		"2 pending jobs", `<progress class="card-progress" max="100" value="42"`, `src="/static/app.js"`, `id="live"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "printer-b001") {
		t.Error("org A's page shows org B's printer")
	}
	// Offline after three silent minutes by the injected clock.
	f.clock.Advance(defaultOfflineAfter + time.Second)
	_, body = get(t, c, f.srv.URL+"/")
	if !strings.Contains(body, `data-state="offline"`) || !strings.Contains(body, "Offline since 1 Mar 2026, 12:00 UTC") {
		t.Error("silent printer not shown offline")
	}
}

func TestAPIPrinters(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct {
		user string
		want []fleet.PrinterID
	}{{"ada", []fleet.PrinterID{"printer-a001"}}, {"vic", []fleet.PrinterID{"printer-a001"}}, {"bob", []fleet.PrinterID{"printer-b001"}}} {
		t.Run(tt.user, func(t *testing.T) {
			c, _ := f.login(t, tt.user)
			resp, body := get(t, c, f.srv.URL+"/api/printers")
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("GET /api/printers = %s %s", resp.Status, resp.Header.Get("Content-Type"))
			}
			var cards []card
			if err := json.Unmarshal([]byte(body), &cards); err != nil {
				t.Fatal(err)
			}
			var got []fleet.PrinterID
			for _, c := range cards {
				got = append(got, c.ID)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("printers (-want +got):\n%s", diff)
			}
		})
	}
	// An organisation without printers gets [], not null.
	ctx := t.Context()
	org, err := f.db.CreateOrg(ctx, "C")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.CreateUser(ctx, org, "cy", f.hashed, fleet.RoleViewer); err != nil {
		t.Fatal(err)
	}
	c, _ := f.login(t, "cy")
	if _, body := get(t, c, f.srv.URL+"/api/printers"); strings.TrimSpace(body) != "[]" {
		t.Errorf("empty org: %q, want []", body)
	}
	if _, body := get(t, c, f.srv.URL+"/"); !strings.Contains(body, `id="no-printers" class="empty">`) {
		t.Error("empty org: no visible empty-state message")
	}
}

// sse reads server-sent events.
type sse struct {
	t    *testing.T
	body io.ReadCloser
	r    *bufio.Reader
}

func (f *fixture) openEvents(t *testing.T, c *http.Client) *sse {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.srv.URL+"/api/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	sc := *c
	sc.Timeout = 0
	resp, err := sc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET /api/events = %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	t.Cleanup(func() { resp.Body.Close() })
	return &sse{t: t, body: resp.Body, r: bufio.NewReader(resp.Body)}
}

// next returns the next event's name and data ("" and the comment for a
// comment block); io.EOF when the stream ends.
func (s *sse) next() (name, data string, err error) {
	s.t.Helper()
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return "", "", err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			return name, data, nil
		case strings.HasPrefix(line, ":"):
			data = line
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		}
	}
}

// printers reads events until a printers event and returns its cards.
func (s *sse) printers() []card {
	s.t.Helper()
	for {
		name, data, err := s.next()
		if err != nil {
			s.t.Fatalf("event stream: %v", err)
		}
		if name != "printers" {
			continue
		}
		var cs []card
		if err := json.Unmarshal([]byte(data), &cs); err != nil {
			s.t.Fatalf("printers event %q: %v", data, err)
		}
		return cs
	}
}

func TestEvents(t *testing.T) {
	f := newFixture(t)
	ca, _ := f.login(t, "ada")
	cb, _ := f.login(t, "bob")
	a := f.openEvents(t, ca)
	b := f.openEvents(t, cb)
	if got := a.printers(); len(got) != 1 || got[0].StateKey != "printing" {
		t.Fatalf("A's first event: %+v", got)
	}
	if got := b.printers(); len(got) != 1 || got[0].ID != "printer-b001" {
		t.Fatalf("B's first event: %+v", got)
	}
	if f.hub.subscribers(f.orgA) != 1 || f.hub.subscribers(f.orgB) != 1 {
		t.Fatal("streams not subscribed to their own organisation")
	}

	// A's printer changes; only A is told. B is told of its own change
	// afterwards, and never sees A's printer.
	f.clock.Advance(time.Second)
	f.status(t, f.orgA, f.siteA, "printer-a001", "3DP 1", fleet.StateCooling)
	f.hub.Notify(f.orgA)
	got := a.printers()
	if len(got) != 1 || got[0].StateKey != "cooling" || got[0].StateWords != "Powered on, cooling" {
		t.Errorf("A after notify: %+v, want cooling", got)
	}
	f.status(t, f.orgB, f.siteB, "printer-b002", "B2", fleet.StateIdle)
	f.hub.Notify(f.orgB)
	gotB := b.printers()
	var ids []fleet.PrinterID
	for _, c := range gotB {
		ids = append(ids, c.ID)
	}
	if diff := cmp.Diff([]fleet.PrinterID{"printer-b001", "printer-b002"}, ids); diff != "" {
		t.Errorf("B after notify (-want +got):\n%s", diff)
	}
}

func TestEventsEndWithSession(t *testing.T) {
	f := newFixture(t)
	c, token := f.login(t, "ada")
	s := f.openEvents(t, c)
	s.printers()
	if resp, _ := post(t, c, f.srv.URL+"/logout", url.Values{"csrf": {token}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %s", resp.Status)
	}
	f.hub.Notify(f.orgA)
	for {
		_, _, err := s.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("stream: %v, want EOF", err)
		}
	}
}

func TestEventsHeartbeatAndRefresh(t *testing.T) {
	f := newFixture(t)
	f.h.heartbeat = 10 * time.Millisecond
	f.h.refresh = 25 * time.Millisecond
	c, _ := f.login(t, "ada")
	s := f.openEvents(t, c)
	s.printers()
	var heartbeat, refresh bool
	for !heartbeat || !refresh {
		name, data, err := s.next()
		if err != nil {
			t.Fatal(err)
		}
		heartbeat = heartbeat || name == "" && data == ": heartbeat"
		refresh = refresh || name == "printers"
	}
}

func TestHub(t *testing.T) {
	h := NewHub()
	ch, cancel := h.subscribe("org_a")
	other, cancelOther := h.subscribe("org_b")
	defer cancelOther()
	for range 3 {
		h.Notify("org_a") // never blocks
	}
	h.Notify("org_nobody")
	if got := len(ch); got != 1 {
		t.Errorf("pending notices = %d, want 1 (coalesced)", got)
	}
	if got := len(other); got != 0 {
		t.Errorf("org_b got %d notices of org_a", got)
	}
	cancel()
	if got := h.subscribers("org_a"); got != 0 {
		t.Errorf("subscribers after cancel = %d", got)
	}
	h.Notify("org_a") // no subscriber: nothing happens
}

func TestEnrolmentPages(t *testing.T) {
	f := newFixture(t)
	t.Run("viewer", func(t *testing.T) {
		c, token := f.login(t, "vic")
		if resp, _ := get(t, c, f.srv.URL+"/admin/enrolment"); resp.StatusCode != http.StatusForbidden {
			t.Errorf("GET = %s, want 403", resp.Status)
		}
		resp, _ := post(t, c, f.srv.URL+"/admin/enrolment", url.Values{"csrf": {token}, "site": {string(f.siteA)}}, nil)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST = %s, want 403", resp.Status)
		}
		if _, body := get(t, c, f.srv.URL+"/"); strings.Contains(body, "/admin/enrolment") {
			t.Error("viewer sees the enrolment link")
		}
	})
	c, token := f.login(t, "ada")
	_, body := get(t, c, f.srv.URL+"/admin/enrolment")
	if !strings.Contains(body, `<option value="`+string(f.siteA)+`">Aachen</option>`) || strings.Contains(body, string(f.siteB)) {
		t.Errorf("site choice wrong:\n%s", body)
	}
	for _, site := range []fleet.SiteID{f.siteB, "site_unknown", ""} {
		resp, _ := post(t, c, f.srv.URL+"/admin/enrolment", url.Values{"csrf": {token}, "site": {string(site)}}, nil)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("site %q: %s, want 400", site, resp.Status)
		}
	}
	resp, body := post(t, c, f.srv.URL+"/admin/enrolment", url.Values{"csrf": {token}, "site": {string(f.siteA)}}, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST = %s", resp.Status)
	}
	m := regexp.MustCompile(`value="([A-Za-z0-9_-]{43})" data-enrolment-token`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no token on the result page:\n%s", body)
	}
	if !strings.Contains(body, "2 Mar 2026, 12:00 UTC") {
		t.Error("expiry (24 h) not shown")
	}
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := f.db.Enrol(t.Context(), identity.HashToken(m[1]), "cc", pub, t0.Add(time.Hour))
	if err != nil {
		t.Fatalf("enrol with the shown token: %v", err)
	}
	if gw.SiteID != f.siteA || gw.OrgID != f.orgA {
		t.Errorf("gateway enrolled for %s/%s, want %s/%s", gw.OrgID, gw.SiteID, f.orgA, f.siteA)
	}
	// The page with the form never shows a token again.
	if _, body := get(t, c, f.srv.URL+"/admin/enrolment"); strings.Contains(body, m[1]) {
		t.Error("token shown again")
	}
	// An org without sites gets a clear message.
	ctx := t.Context()
	org, err := f.db.CreateOrg(ctx, "C")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.CreateUser(ctx, org, "cy", f.hashed, fleet.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	cc, _ := f.login(t, "cy")
	if _, body := get(t, cc, f.srv.URL+"/admin/enrolment"); !strings.Contains(body, "no sites yet") {
		t.Error("no empty-state message without sites")
	}
}

func TestNotFound(t *testing.T) {
	f := newFixture(t)
	c, _ := f.login(t, "ada")
	if resp, _ := get(t, c, f.srv.URL+"/no/such/page"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown page = %s, want 404", resp.Status)
	}
	if resp, body := get(t, c, f.srv.URL+"/api/nothing"); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, `"error"`) {
		t.Errorf("unknown API = %s %q, want 404 JSON", resp.Status, body)
	}
}

// failing fails the named method with errBoom.
type failing struct {
	fail *string
}

var errBoom = errors.New("boom")

func (f failing) on(m string) error {
	if *f.fail == m {
		return errBoom
	}
	return nil
}

// failingSessions, failingPrinters and failingSites fail the named method.
type failingSessions struct {
	Sessions
	failing
}

type failingPrinters struct {
	fleetquery.PrinterReader
	failing
}

type failingSites struct {
	sites access.Sites
	failing
}

func (s failingSessions) UserByName(ctx context.Context, name string) (fleet.User, string, error) {
	if err := s.on("UserByName"); err != nil {
		return fleet.User{}, "", err
	}
	return s.Sessions.UserByName(ctx, name)
}

func (s failingSessions) CreateSession(ctx context.Context, h string, u fleet.UserID, exp time.Time) error {
	if err := s.on("CreateSession"); err != nil {
		return err
	}
	return s.Sessions.CreateSession(ctx, h, u, exp)
}

func (s failingSessions) SessionMember(ctx context.Context, h string, now time.Time) (access.Member, error) {
	if err := s.on("SessionMember"); err != nil {
		return access.Member{}, err
	}
	return s.Sessions.SessionMember(ctx, h, now)
}

func (s failingSessions) DeleteSession(ctx context.Context, h string) error {
	if err := s.on("DeleteSession"); err != nil {
		return err
	}
	return s.Sessions.DeleteSession(ctx, h)
}

func (s failingPrinters) Printers(ctx context.Context, org fleet.OrgID) ([]fleet.PrinterView, error) {
	if err := s.on("Printers"); err != nil {
		return nil, err
	}
	return s.PrinterReader.Printers(ctx, org)
}

func (s failingSites) CreateEnrolmentToken(ctx context.Context, site fleet.SiteID, h string, exp time.Time) error {
	if err := s.on("CreateEnrolmentToken"); err != nil {
		return err
	}
	return s.sites.CreateEnrolmentToken(ctx, site, h, exp)
}

func (s failingSites) CreateSite(ctx context.Context, org fleet.OrgID, name string) (fleet.SiteID, error) {
	return s.sites.CreateSite(ctx, org, name)
}

func (s failingSites) Sites(ctx context.Context, org fleet.OrgID) ([]fleet.Site, error) {
	if err := s.on("Sites"); err != nil {
		return nil, err
	}
	return s.sites.Sites(ctx, org)
}

func TestStoreFailures(t *testing.T) {
	fail := new(string)
	f := newFixtureStore(t, func(d *Deps) {
		fl := failing{fail}
		d.Sessions = failingSessions{d.Sessions, fl}
		d.Printers = failingPrinters{d.Printers, fl}
		d.Sites = failingSites{sites: d.Sites, failing: fl}
	})
	c, token := f.login(t, "ada")
	tests := []struct {
		method string
		do     func() *http.Response
	}{
		{"Printers", func() *http.Response { r, _ := get(t, c, f.srv.URL+"/"); return r }},
		{"Printers", func() *http.Response { r, _ := get(t, c, f.srv.URL+"/api/printers"); return r }},
		{"SessionMember", func() *http.Response { r, _ := get(t, c, f.srv.URL+"/"); return r }},
		{"Sites", func() *http.Response { r, _ := get(t, c, f.srv.URL+"/admin/enrolment"); return r }},
		{"Sites", func() *http.Response {
			r, _ := post(t, c, f.srv.URL+"/admin/enrolment", url.Values{"csrf": {token}, "site": {string(f.siteA)}}, nil)
			return r
		}},
		{"CreateEnrolmentToken", func() *http.Response {
			r, _ := post(t, c, f.srv.URL+"/admin/enrolment", url.Values{"csrf": {token}, "site": {string(f.siteA)}}, nil)
			return r
		}},
		{"UserByName", func() *http.Response { r, _ := f.tryLogin(t, f.client(t), "ada", password); return r }},
		{"CreateSession", func() *http.Response { r, _ := f.tryLogin(t, f.client(t), "ada", password); return r }},
		{"DeleteSession", func() *http.Response {
			r, _ := post(t, c, f.srv.URL+"/logout", url.Values{"csrf": {token}}, nil)
			return r
		}},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			*fail = tt.method
			defer func() { *fail = "" }()
			if resp := tt.do(); resp.StatusCode != http.StatusInternalServerError {
				t.Errorf("%s failing: %s, want 500", tt.method, resp.Status)
			}
		})
	}
	// A store failure during the event stream ends the stream.
	s := f.openEvents(t, c)
	s.printers()
	*fail = "Printers"
	defer func() { *fail = "" }()
	f.hub.Notify(f.orgA)
	for {
		if _, _, err := s.next(); err != nil {
			break
		}
	}
}

func TestStateWords(t *testing.T) {
	now := t0.Add(10 * time.Minute)
	tests := []struct {
		name      string
		state     fleet.State
		at        time.Time
		key, want string
	}{
		{"printing", fleet.StatePrinting, now, "printing", "Powered on, printing"},
		{"cooling", fleet.StateCooling, now.Add(-time.Minute), "cooling", "Powered on, cooling"},
		{"idle", fleet.StateIdle, now, "idle", "Idle"},
		{"error", fleet.StateError, now, "error", "Error"},
		{"three minutes old", fleet.StatePrinting, now.Add(-defaultOfflineAfter), "printing", "Powered on, printing"},
		{"offline", fleet.StatePrinting, t0, "offline", "Offline since 1 Mar 2026, 12:00 UTC"},
		{"offline other zone", fleet.StateIdle, t0.In(time.FixedZone("CET", 3600)), "offline", "Offline since 1 Mar 2026, 12:00 UTC"},
		{"no status", fleet.StateUnknown, time.Time{}, "unknown", "No status received yet"},
		{"bad state", fleet.State(42), now, "unknown", "Unknown state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, got := english().stateWords(fleet.PrinterView{State: tt.state, StatusTime: tt.at, LastSeen: tt.at}, now)
			if key != tt.key || got != tt.want {
				t.Errorf("stateWords = %q, %q; want %q, %q", key, got, tt.key, tt.want)
			}
		})
	}
}

// Options.OfflineAfter moves the threshold: the demo, whose clock runs
// fast, allows its Command Centers a longer silence in demo time.
func TestStateWordsOfflineAfter(t *testing.T) {
	now := t0.Add(time.Hour)
	sp := english()
	sp.offline = 30 * time.Minute
	v := fleet.PrinterView{State: fleet.StateIdle, StatusTime: now.Add(-20 * time.Minute), LastSeen: now.Add(-20 * time.Minute)}
	if key, _ := sp.stateWords(v, now); key != "idle" {
		t.Errorf("20 minutes silent, offline after 30: %q, want idle", key)
	}
	v.LastSeen = now.Add(-31 * time.Minute)
	if key, _ := sp.stateWords(v, now); key != "offline" {
		t.Errorf("31 minutes silent, offline after 30: %q, want offline", key)
	}
	h := newHandler(Deps{}, NewHub(), Options{OfflineAfter: 30 * time.Minute})
	if got := h.speechOf(httptest.NewRequest(http.MethodGet, "/", nil)).offline; got != 30*time.Minute {
		t.Errorf("a handler's speech: offline after %v, want Options.OfflineAfter", got)
	}
}

// Offline is judged by when the gateway last saw the printer, whatever the
// printer's own clock says.
func TestStateWordsUsesGatewayTime(t *testing.T) {
	now := t0.Add(10 * time.Minute)
	ahead := fleet.PrinterView{State: fleet.StatePrinting, StatusTime: now.Add(48 * time.Hour), LastSeen: t0}
	if key, words := english().stateWords(ahead, now); key != "offline" || words != "Offline since 1 Mar 2026, 12:00 UTC" {
		t.Errorf("printer clock ahead, gateway silent: got %q, %q; want offline since the gateway last saw it", key, words)
	}
	behind := fleet.PrinterView{State: fleet.StateCooling, StatusTime: t0.Add(-24 * time.Hour), LastSeen: now}
	if key, _ := english().stateWords(behind, now); key != "cooling" {
		t.Errorf("printer clock behind, gateway fresh: got %q, want cooling", key)
	}
}

func TestETCWords(t *testing.T) {
	tests := []struct {
		secs int64
		want string
	}{
		{-5, ""},
		{0, ""},
		{1, "less than a minute"},
		{59, "less than a minute"},
		{60, "1 minute"},
		{89, "1 minute"},
		{90, "2 minutes"},
		{39 * 60, "39 minutes"},
		{60 * 60, "1 hour"},
		{83 * 60, "1 hour, 23 minutes"},
		{2*3600 + 60, "2 hours, 1 minute"},
		{24 * 3600, "1 day"},
		{27*3600 + 40*60, "1 day, 3 hours"},
		{50 * 3600, "2 days, 2 hours"},
	}
	for _, tt := range tests {
		if got := english().etcWords(tt.secs); got != tt.want {
			t.Errorf("etcWords(%d) = %q, want %q", tt.secs, got, tt.want)
		}
	}
}

func TestPendingWords(t *testing.T) {
	tests := []struct {
		n    int
		want string
	}{{-1, "No pending jobs"}, {0, "No pending jobs"}, {1, "1 pending job"}, {2, "2 pending jobs"}, {11, "11 pending jobs"}}
	for _, tt := range tests {
		if got := english().pendingWords(tt.n); got != tt.want {
			t.Errorf("pendingWords(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestNewCard(t *testing.T) {
	now := t0
	tests := []struct {
		name string
		v    fleet.PrinterView
		want card
	}{
		{"printing", fleet.PrinterView{ID: "p-000001", Name: "3DP 1", State: fleet.StatePrinting, JobID: "j", Progress: 0.426,
			ETCSeconds: 83 * 60, PendingJobs: 2, StatusTime: now, LastSeen: now},
			card{DisplayName: "3DP 1", StateKey: "printing", StateWords: "Powered on, printing", ETCWords: "1 hour, 23 minutes",
				PendingWords: "2 pending jobs", ShowProgress: true, ProgressPercent: 43}},
		{"cooling: time, no bar", fleet.PrinterView{ID: "p-000002", State: fleet.StateCooling, JobID: "j", Progress: 1,
			ETCSeconds: 39 * 60, PendingJobs: 1, StatusTime: now, LastSeen: now},
			card{DisplayName: "p-000002", StateKey: "cooling", StateWords: "Powered on, cooling", ETCWords: "39 minutes",
				PendingWords: "1 pending job", ProgressPercent: 100}},
		{"offline: no time to completion", fleet.PrinterView{ID: "p-000003", State: fleet.StatePrinting, JobID: "j",
			ETCSeconds: 600, StatusTime: now.Add(-time.Hour), LastSeen: now.Add(-time.Hour)},
			card{DisplayName: "p-000003", StateKey: "offline", StateWords: "Offline since 1 Mar 2026, 11:00 UTC",
				PendingWords: "No pending jobs"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := newCard(tt.v, now)
			tt.want.PrinterView = tt.v
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("newCard (-want +got):\n%s", diff)
			}
		})
	}
}
