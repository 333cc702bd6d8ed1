package dashboard

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/identity"
)

// node serves the fixture's store with a dashboard of its own, as a
// second cloud node on the same database would, behind a proxy on
// loopback that names the client in X-Forwarded-For.
func (f *fixture) node(t *testing.T) *httptest.Server {
	t.Helper()
	h := newHandler(storeDeps(f.db), f.hub, Options{Clock: f.clock,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	srv := httptest.NewServer(h.routes())
	t.Cleanup(srv.Close)
	return srv
}

// tryLoginFrom posts the login form to the dashboard at base as the
// client at address from (X-Forwarded-For; "" for none).
func tryLoginFrom(t *testing.T, c *http.Client, base, from, name, pw string) (*http.Response, string) {
	t.Helper()
	_, body := get(t, c, base+"/login")
	var hdr map[string]string
	if from != "" {
		hdr = map[string]string{"X-Forwarded-For": from}
	}
	return post(t, c, base+"/login", url.Values{"csrf": {csrfOf(t, body)}, "name": {name}, "password": {pw}}, hdr)
}

// An attacker who knows a user name cannot lock the user out: failures
// lock the name at the attacker's address only. (With the lock per name
// alone, the user's own login was refused.)
func TestAttackerCannotLockOutUser(t *testing.T) {
	f := newFixture(t)
	srv := f.node(t)
	attacker, user := f.client(t), f.client(t)
	for i := range 3 * freeFailures {
		resp, _ := tryLoginFrom(t, attacker, srv.URL, "192.0.2.66", "ada", "guess")
		if want := http.StatusUnauthorized; i >= freeFailures+1 {
			want = http.StatusTooManyRequests
			if resp.StatusCode != want {
				t.Fatalf("attempt %d: %s, want %d", i+1, resp.Status, want)
			}
		} else if resp.StatusCode != want {
			t.Fatalf("attempt %d: %s, want %d", i+1, resp.Status, want)
		}
	}
	// The attacker is locked even with the right password…
	if resp, _ := tryLoginFrom(t, attacker, srv.URL, "192.0.2.66", "ada", password); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("attacker with the right password: %s, want 429", resp.Status)
	}
	// …while the user, at another address, logs in.
	if resp, body := tryLoginFrom(t, user, srv.URL, "198.51.100.7", "ada", password); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Errorf("user at another address: %s, want 303 to /\n%.300s", resp.Status, body)
	}
}

// Without trusted proxies, X-Forwarded-For is the client's word: an
// attacker who writes a new address each time is still counted at his own.
func TestForwardedForIgnoredWithoutTrustedProxies(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	for i := range freeFailures + 1 {
		tryLoginFrom(t, c, f.srv.URL, "203.0.113."+string(rune('1'+i)), "ada", "guess")
	}
	if resp, _ := tryLoginFrom(t, c, f.srv.URL, "203.0.113.99", "ada", password); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("after failures under forged addresses: %s, want 429", resp.Status)
	}
}

// Nodes that share the database share the lock: failures spread over two
// nodes add up, and the lock holds on both. (With the lock in each node's
// memory, every node gave the attacker its own free failures.)
func TestNodesShareTheLoginLock(t *testing.T) {
	f := newFixture(t)
	n1, n2 := f.node(t), f.node(t)
	c := f.client(t)
	const from = "192.0.2.66"
	for i := range freeFailures + 1 {
		node := n1
		if i%2 == 1 {
			node = n2
		}
		if resp, _ := tryLoginFrom(t, c, node.URL, from, "ada", "guess"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: %s, want 401", i+1, resp.Status)
		}
	}
	for _, node := range []*httptest.Server{n1, n2} {
		if resp, _ := tryLoginFrom(t, c, node.URL, from, "ada", password); resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("node %s after failures on both: %s, want 429", node.URL, resp.Status)
		}
	}
	f.clock.Advance(31 * time.Second)
	if resp, _ := tryLoginFrom(t, c, n2.URL, from, "ada", password); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after the lock: %s, want 303", resp.Status)
	}
}

func TestClientAddress(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name    string
		proxies []netip.Prefix
		remote  string
		xff     []string
		want    string
	}{
		{"peer", nil, "192.0.2.1:5000", nil, "192.0.2.1"},
		{"header ignored without proxies", nil, "192.0.2.1:5000", []string{"203.0.113.9"}, "192.0.2.1"},
		{"header ignored from an untrusted peer", proxies, "192.0.2.1:5000", []string{"203.0.113.9"}, "192.0.2.1"},
		{"client behind a proxy", proxies, "10.0.0.2:5000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"forged hops left of the client", proxies, "10.0.0.2:5000", []string{"198.51.100.1, 203.0.113.9"}, "203.0.113.9"},
		{"two proxies", proxies, "10.0.0.2:5000", []string{"203.0.113.9, 10.1.1.1"}, "203.0.113.9"},
		{"two header lines", proxies, "10.0.0.2:5000", []string{"203.0.113.9", "10.1.1.1"}, "203.0.113.9"},
		{"garbage stops the walk at the proxy", proxies, "10.0.0.2:5000", []string{"nonsense"}, "10.0.0.2"},
		{"no header from a proxy", proxies, "10.0.0.2:5000", nil, "10.0.0.2"},
		{"IPv6 counts as its /64", nil, "[2001:db8:1:2:3:4:5:6]:443", nil, "2001:db8:1:2::/64"},
		{"IPv6 behind a proxy", proxies, "[fd00::1]:443", []string{"2001:db8:1:2::99"}, "2001:db8:1:2::/64"},
		{"mapped IPv4", nil, "[::ffff:192.0.2.1]:80", nil, "192.0.2.1"},
		{"unparsable peer", nil, "pipe", nil, "pipe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &handler{proxies: tt.proxies}
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := h.clientAddress(r); got != tt.want {
				t.Errorf("clientAddress = %q, want %q", got, tt.want)
			}
		})
	}
}

// sessionCookie returns the value of the client's session cookie for srv.
func sessionCookie(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "ff_session" {
			return ck.Value
		}
	}
	t.Fatal("no session cookie")
	return ""
}

// withSession is a client holding only the given session cookie.
func (f *fixture) withSession(t *testing.T, token string) *http.Client {
	t.Helper()
	c := f.client(t)
	u, _ := url.Parse(f.srv.URL)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: "ff_session", Value: token, Path: "/"}})
	return c
}

// Changing one's password needs the current one, follows the rules for
// a chosen password, and ends every other session of the user: a copied
// session cookie, even of the session that changed it, is logged out.
func TestChangePassword(t *testing.T) {
	f := newFixture(t)
	c, csrf := f.login(t, "ada")
	other, _ := f.login(t, "ada")
	old := sessionCookie(t, c, f.srv.URL)
	const newPW = "a fresh passphrase"
	bad := []struct {
		name                 string
		current, pw, confirm string
		status               int
		msg                  string
	}{
		{"wrong current", "wrong", newPW, newPW, 403, "Your current password is not right."},
		{"confirmation differs", password, newPW, newPW + "!", 400, "The two new passwords differ."},
		{"too short", password, "short", "short", 400, "at least 12 characters"},
		{"too long", password, strings.Repeat("x", 1025), strings.Repeat("x", 1025), 400, "too long"},
		{"the same", password, password, password, 400, "must differ from the current one"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := post(t, c, f.srv.URL+"/account/password", url.Values{"csrf": {csrf}, "current": {tt.current}, "new": {tt.pw}, "confirm": {tt.confirm}}, nil)
			if resp.StatusCode != tt.status || !strings.Contains(body, tt.msg) {
				t.Errorf("%s, want %d with %q", resp.Status, tt.status, tt.msg)
			}
		})
	}
	if _, hash, _ := f.db.UserByName(t.Context(), "ada"); !checkPW(t, hash, password) {
		t.Fatal("a refused change changed the password")
	}
	resp, body := post(t, c, f.srv.URL+"/account/password", url.Values{"csrf": {csrf}, "current": {password}, "new": {newPW}, "confirm": {newPW}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/account?password=changed" {
		t.Fatalf("change: %s, want 303 to the account page\n%.300s", resp.Status, body)
	}
	if _, body := get(t, c, f.srv.URL+"/account?password=changed"); !strings.Contains(body, "Your password is changed.") {
		t.Error("the changing browser is logged out, or not told")
	}
	if sessionCookie(t, c, f.srv.URL) == old {
		t.Error("the session token did not change")
	}
	for name, cl := range map[string]*http.Client{"other browser": other, "old cookie of this browser": f.withSession(t, old)} {
		if resp, _ := get(t, cl, f.srv.URL+"/"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
			t.Errorf("%s after the change: %s, want 303 to /login", name, resp.Status)
		}
		if resp, _ := get(t, cl, f.srv.URL+"/api/printers"); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s on the API after the change: %s, want 401", name, resp.Status)
		}
	}
	if resp, _ := f.tryLogin(t, f.client(t), "ada", password); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("login with the old password: %s, want 401", resp.Status)
	}
	if resp, _ := f.tryLogin(t, f.client(t), "ada", newPW); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("login with the new password: %s, want 303", resp.Status)
	}
}

// The JSON form of the change answers 204 and errors as JSON; a bearer
// token is no session and gets 401.
func TestChangePasswordAPI(t *testing.T) {
	f := newFixture(t)
	c, csrf := f.login(t, "vic")
	other, _ := f.login(t, "vic")
	const newPW = "another fresh passphrase"
	resp, body := post(t, c, f.srv.URL+"/api/account/password", url.Values{"csrf": {csrf}, "current": {"wrong"}, "new": {newPW}, "confirm": {newPW}}, nil)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, `"error":"Your current password is not right."`) {
		t.Errorf("wrong current: %s %s, want 403 with a JSON error", resp.Status, body)
	}
	secret, _ := f.apiToken(t, f.orgA, f.user(t, "vic"), false)
	resp, _ = post(t, f.client(t), f.srv.URL+"/api/account/password", url.Values{"current": {password}, "new": {newPW}, "confirm": {newPW}},
		map[string]string{"Authorization": "Bearer " + secret})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("with an API token: %s, want 401", resp.Status)
	}
	resp, body = post(t, c, f.srv.URL+"/api/account/password", url.Values{"csrf": {csrf}, "current": {password}, "new": {newPW}, "confirm": {newPW}}, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("change: %s, want 204\n%s", resp.Status, body)
	}
	if resp, _ := get(t, c, f.srv.URL+"/api/printers"); resp.StatusCode != http.StatusOK {
		t.Errorf("this browser after the change: %s, want 200", resp.Status)
	}
	if resp, _ := get(t, other, f.srv.URL+"/api/printers"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the other browser after the change: %s, want 401", resp.Status)
	}
}

// Wrong current passwords count as failed logins: a stolen session cannot
// be used to guess the password without limit.
func TestChangePasswordThrottled(t *testing.T) {
	f := newFixture(t)
	c, csrf := f.login(t, "ada")
	form := url.Values{"csrf": {csrf}, "current": {"guess"}, "new": {"a fresh passphrase"}, "confirm": {"a fresh passphrase"}}
	for range freeFailures + 1 {
		post(t, c, f.srv.URL+"/account/password", form, nil)
	}
	form.Set("current", password)
	if resp, body := post(t, c, f.srv.URL+"/account/password", form, nil); resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, loginLocked) {
		t.Errorf("after wrong current passwords: %s, want 429", resp.Status)
	}
}

var oneTimePassword = regexp.MustCompile(`value="([^"]+)" aria-label="One-time password"`)

func checkPW(t *testing.T, hash, pw string) bool {
	t.Helper()
	ok, err := identity.CheckPassword(hash, pw)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// An admin's reset logs the user out, shows a one-time password once,
// and the user must choose a new password before anything else.
func TestAdminResetsPassword(t *testing.T) {
	f := newFixture(t)
	admin, csrf := f.login(t, "ada")
	victim, _ := f.login(t, "vic")
	vic := f.user(t, "vic")
	resp, body := post(t, admin, f.srv.URL+"/admin/users/"+string(vic)+"/password", url.Values{"csrf": {csrf}}, nil)
	m := oneTimePassword.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("reset: %s\n%.500s", resp.Status, body)
	}
	if _, body := get(t, admin, f.srv.URL+"/admin/users"); strings.Contains(body, m[1]) {
		t.Error("the one-time password is shown again")
	}
	if resp, _ := get(t, victim, f.srv.URL+"/"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Errorf("the user's session after the reset: %s, want 303 to /login", resp.Status)
	}
	if resp, _ := f.tryLogin(t, f.client(t), "vic", password); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("login with the old password: %s, want 401", resp.Status)
	}
	c := f.client(t)
	if resp, _ := f.tryLogin(t, c, "vic", m[1]); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login with the one-time password: %s, want 303", resp.Status)
	}
	// Until a new password is chosen, every page leads to the account page.
	for _, path := range []string{"/", "/alerts", "/tokens", "/account/two-factor"} {
		if resp, _ := get(t, c, f.srv.URL+path); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/account" {
			t.Errorf("GET %s before choosing: %s to %q, want 303 to /account", path, resp.Status, resp.Header.Get("Location"))
		}
	}
	if resp, _ := get(t, c, f.srv.URL+"/api/printers"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("API before choosing: %s, want 403", resp.Status)
	}
	resp, page := get(t, c, f.srv.URL+"/account")
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "An administrator reset your password.") {
		t.Fatalf("account page before choosing: %s\n%.500s", resp.Status, page)
	}
	tok := csrfOf(t, page)
	if resp, _ := post(t, c, f.srv.URL+"/account", url.Values{"csrf": {tok}, "lang": {"de"}, "zone": {"UTC"}}, nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/account" {
		t.Errorf("saving settings before choosing: %s to %q, want 303 to /account", resp.Status, resp.Header.Get("Location"))
	}
	if resp, _ := post(t, c, f.srv.URL+"/account/password", url.Values{"csrf": {tok}, "current": {m[1]}, "new": {m[1]}, "confirm": {m[1]}}, nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("keeping the one-time password: %s, want 400", resp.Status)
	}
	const chosen = "vic's own passphrase"
	if resp, _ := post(t, c, f.srv.URL+"/account/password", url.Values{"csrf": {tok}, "current": {m[1]}, "new": {chosen}, "confirm": {chosen}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("choosing: %s, want 303", resp.Status)
	}
	if resp, _ := get(t, c, f.srv.URL+"/"); resp.StatusCode != http.StatusOK {
		t.Errorf("GET / after choosing: %s, want 200", resp.Status)
	}
}

// Resets stay within what the admin may manage: never another
// organisation's user, never beyond the sites of an admin limited to
// some, never the admin's own password (that takes the current one).
func TestAdminResetRefused(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	site2, err := f.db.CreateSite(ctx, f.orgA, "Augsburg")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.CreateMember(ctx, f.orgA, "lara", f.hashed, fleet.RoleAdmin, access.OnlySites(site2)); err != nil {
		t.Fatal(err)
	}
	leo, err := f.db.CreateMember(ctx, f.orgA, "leo", f.hashed, fleet.RoleViewer, access.OnlySites(site2))
	if err != nil {
		t.Fatal(err)
	}
	ada, csrfAda := f.login(t, "ada")
	lara, csrfLara := f.login(t, "lara")
	tests := []struct {
		name   string
		c      *http.Client
		csrf   string
		target fleet.UserID
		status int
		msg    string
	}{
		{"another organisation's user", ada, csrfAda, f.user(t, "bob"), 404, "No such user"},
		{"unknown user", ada, csrfAda, "usr_nobody", 404, "No such user"},
		{"oneself", ada, csrfAda, f.user(t, "ada"), 400, "Change your own password on your account page."},
		{"site admin, user of all sites", lara, csrfLara, f.user(t, "vic"), 403, "You cannot give more rights"},
		{"site admin, admin of all sites", lara, csrfLara, f.user(t, "ada"), 403, "You cannot give more rights"},
		{"site admin, another organisation's user", lara, csrfLara, f.user(t, "bob"), 404, "No such user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, before, _ := f.db.UserByName(ctx, nameOf(t, f, tt.target))
			resp, body := post(t, tt.c, f.srv.URL+"/admin/users/"+string(tt.target)+"/password", url.Values{"csrf": {tt.csrf}}, nil)
			if resp.StatusCode != tt.status || !strings.Contains(body, tt.msg) || oneTimePassword.MatchString(body) {
				t.Errorf("%s, want %d with %q and no password", resp.Status, tt.status, tt.msg)
			}
			if _, after, _ := f.db.UserByName(ctx, nameOf(t, f, tt.target)); after != before {
				t.Error("the password changed")
			}
		})
	}
	// Within the site admin's sites, the reset works.
	if resp, body := post(t, lara, f.srv.URL+"/admin/users/"+string(leo)+"/password", url.Values{"csrf": {csrfLara}}, nil); resp.StatusCode != http.StatusOK || !oneTimePassword.MatchString(body) {
		t.Errorf("site admin resets a user of their site: %s, want 200 with a password", resp.Status)
	}
	// bob, of the other organisation, still logs in with his password.
	if resp, _ := f.tryLogin(t, f.client(t), "bob", password); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("bob after the refused resets: %s, want 303", resp.Status)
	}
}

// nameOf is the name of a user of any organisation ("" for none).
func nameOf(t *testing.T, f *fixture, id fleet.UserID) string {
	t.Helper()
	for _, org := range []fleet.OrgID{f.orgA, f.orgB} {
		if m, err := f.db.Member(t.Context(), org, id); err == nil {
			return m.Name
		}
	}
	return ""
}

// A login halfway through (password right, second factor to come) ends
// with a password change: the old password must not finish it.
func TestChangePasswordEndsPendingLogins(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	vic := f.user(t, "vic")
	secret, _, err := identity.NewTOTP("FusionFleet", "vic")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.SetPendingTOTP(ctx, vic, secret); err != nil {
		t.Fatal(err)
	}
	if err := f.db.EnableTOTP(ctx, vic, 0, []string{"x"}); err != nil {
		t.Fatal(err)
	}
	pending := f.client(t)
	if resp, _ := f.tryLogin(t, pending, "vic", password); resp.Header.Get("Location") != "/login/code" {
		t.Fatalf("password step: %s to %q, want the code page", resp.Status, resp.Header.Get("Location"))
	}
	_, page := get(t, pending, f.srv.URL+"/login/code")
	codeCSRF := csrfOf(t, page)
	token, csrf := f.sessionFor(t, vic, f.clock.Now().Add(time.Hour))
	const newPW = "vic's new passphrase"
	if resp, _ := post(t, f.withSession(t, token), f.srv.URL+"/account/password",
		url.Values{"csrf": {csrf}, "current": {password}, "new": {newPW}, "confirm": {newPW}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("change: %s, want 303", resp.Status)
	}
	resp, _ := post(t, pending, f.srv.URL+"/login/code", url.Values{"csrf": {codeCSRF}, "code": {totpCode(t, secret, f.clock.Now())}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Errorf("the pending login's code after the change: %s to %q, want 303 to /login", resp.Status, resp.Header.Get("Location"))
	}
}
