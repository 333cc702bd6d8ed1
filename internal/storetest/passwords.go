package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// passwordFixture is a user of org with two sessions, a pending
// second-factor login and an API token, and a user of another
// organisation with a session and a token.
type passwordFixture struct {
	org, other         fleet.OrgID
	ada, bob           fleet.UserID
	adaToken, bobToken access.TokenID
}

func newPasswordFixture(t *testing.T, db IdentityStore) passwordFixture {
	t.Helper()
	ctx := t.Context()
	var f passwordFixture
	f.org, _ = tenant(t, db, "Acme")
	f.other, _ = tenant(t, db, "Other")
	var err error
	if f.ada, err = db.CreateUser(ctx, f.org, "ada", "old", fleet.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if f.bob, err = db.CreateUser(ctx, f.other, "bob", "bobs", fleet.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		hash string
		user fleet.UserID
	}{{"ada-1", f.ada}, {"ada-2", f.ada}, {"bob-1", f.bob}} {
		if err := db.CreateSession(ctx, s.hash, s.user, T0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.CreateLoginChallenge(ctx, "ada-challenge", f.ada, T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []struct {
		into *access.TokenID
		org  fleet.OrgID
		user fleet.UserID
	}{{&f.adaToken, f.org, f.ada}, {&f.bobToken, f.other, f.bob}} {
		id, err := db.CreateAPIToken(ctx, access.Token{OrgID: tok.org, UserID: tok.user, Name: "script", Scope: access.ScopeReadWrite,
			Sites: access.AllSites(), Created: T0, Expires: T0.Add(24 * time.Hour)}, "token-of-"+string(tok.user))
		if err != nil {
			t.Fatal(err)
		}
		*tok.into = id
	}
	return f
}

// checkTokenRevoked checks whether the token of org is revoked.
func checkTokenRevoked(t *testing.T, db IdentityStore, org fleet.OrgID, id access.TokenID, want bool) {
	t.Helper()
	tok, err := db.APIToken(t.Context(), org, id)
	if err != nil {
		t.Fatal(err)
	}
	if got := !tok.Revoked.IsZero(); got != want {
		t.Errorf("token %s revoked = %v (at %v), want %v", id, got, tok.Revoked, want)
	}
}

// checkSessions checks which of the sessions are alive at T0.
func checkSessions(t *testing.T, db IdentityStore, want map[string]bool) {
	t.Helper()
	for hash, alive := range want {
		_, err := db.SessionUser(t.Context(), hash, T0)
		if got := err == nil; got != alive {
			t.Errorf("session %s alive = %v (err %v), want %v", hash, got, err, alive)
		}
	}
}

func checkHash(t *testing.T, db IdentityStore, name, want string) {
	t.Helper()
	if _, hash, err := db.UserByName(t.Context(), name); err != nil || hash != want {
		t.Errorf("hash of %s = %q, %v; want %q", name, hash, err, want)
	}
}

// testChangePassword: a user who changes the password keeps one new
// session; every other session and the pending login end, and another
// organisation cannot change it.
func testChangePassword(t *testing.T, db IdentityStore) {
	ctx := t.Context()
	f := newPasswordFixture(t, db)
	checkErrs(t, []errCase{
		{"other org", func() error { return db.ChangePassword(ctx, f.other, f.ada, "evil", "x", T0.Add(time.Hour)) }, fleet.ErrNotFound},
		{"unknown user", func() error { return db.ChangePassword(ctx, f.org, "usr_x", "h", "x", T0.Add(time.Hour)) }, fleet.ErrNotFound},
		{"empty hash", func() error { return db.ChangePassword(ctx, f.org, f.ada, "", "x", T0.Add(time.Hour)) }, nil},
		{"empty session", func() error { return db.ChangePassword(ctx, f.org, f.ada, "h", "", T0.Add(time.Hour)) }, nil},
	})
	checkHash(t, db, "ada", "old")
	checkSessions(t, db, map[string]bool{"ada-1": true, "ada-2": true, "bob-1": true, "x": false})

	if err := db.ChangePassword(ctx, f.org, f.ada, "new", "ada-3", T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	checkHash(t, db, "ada", "new")
	checkSessions(t, db, map[string]bool{"ada-1": false, "ada-2": false, "ada-3": true, "bob-1": true})
	checkTokenRevoked(t, db, f.org, f.adaToken, false) // the user's own change keeps the user's tokens
	if _, err := db.LoginChallengeUser(ctx, "ada-challenge", T0); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("login challenge after change: err = %v, want ErrNotFound", err)
	}
	if m, err := db.SessionMember(ctx, "ada-3", T0); err != nil || m.MustChangePassword {
		t.Errorf("member after change = %+v, %v; want no demand to change", m, err)
	}
}

// testResetPassword: an administrator's reset ends every session and the
// pending login, and demands a new password until the user changes it;
// another organisation cannot reset.
func testResetPassword(t *testing.T, db IdentityStore) {
	ctx := t.Context()
	f := newPasswordFixture(t, db)
	checkErrs(t, []errCase{
		{"other org", func() error { return db.ResetPassword(ctx, f.other, f.ada, "evil", T0) }, fleet.ErrNotFound},
		{"unknown user", func() error { return db.ResetPassword(ctx, f.org, "usr_x", "h", T0) }, fleet.ErrNotFound},
		{"empty hash", func() error { return db.ResetPassword(ctx, f.org, f.ada, "", T0) }, nil},
	})
	checkHash(t, db, "ada", "old")
	if m, err := db.Member(ctx, f.org, f.ada); err != nil || m.MustChangePassword {
		t.Errorf("member before reset = %+v, %v; want no demand to change", m, err)
	}

	if err := db.ResetPassword(ctx, f.org, f.ada, "issued", T0); err != nil {
		t.Fatal(err)
	}
	checkHash(t, db, "ada", "issued")
	checkSessions(t, db, map[string]bool{"ada-1": false, "ada-2": false, "bob-1": true})
	checkTokenRevoked(t, db, f.org, f.adaToken, true)
	checkTokenRevoked(t, db, f.other, f.bobToken, false)
	if _, err := db.LoginChallengeUser(ctx, "ada-challenge", T0); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("login challenge after reset: err = %v, want ErrNotFound", err)
	}
	if err := db.CreateSession(ctx, "ada-4", f.ada, T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if m, err := db.SessionMember(ctx, "ada-4", T0); err != nil || !m.MustChangePassword {
		t.Errorf("session member after reset = %+v, %v; want the demand to change", m, err)
	}
	if err := db.ChangePassword(ctx, f.org, f.ada, "chosen", "ada-5", T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if m, err := db.Member(ctx, f.org, f.ada); err != nil || m.MustChangePassword {
		t.Errorf("member after change = %+v, %v; want the demand gone", m, err)
	}
	// The operator's reset of the first admin demands nothing, and
	// revokes the tokens made since.
	later, err := db.CreateAPIToken(ctx, access.Token{OrgID: f.org, UserID: f.ada, Name: "later", Scope: access.ScopeRead,
		Sites: access.AllSites(), Created: T0, Expires: T0.Add(time.Hour)}, "later")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetPassword(ctx, f.ada, "operator", T0); err != nil {
		t.Fatal(err)
	}
	checkTokenRevoked(t, db, f.org, later, true)
	if m, err := db.Member(ctx, f.org, f.ada); err != nil || m.MustChangePassword {
		t.Errorf("member after SetPassword = %+v, %v; want no demand", m, err)
	}
	checkSessions(t, db, map[string]bool{"ada-5": false})
}

// lockedAt reports whether logins of name from address are locked at now.
func lockedAt(t *testing.T, db LoginThrottle, name, address string, now time.Time) bool {
	t.Helper()
	until, err := db.LoginLockedUntil(t.Context(), name, address, now)
	if err != nil {
		t.Fatal(err)
	}
	return now.Before(until)
}

func fail(t *testing.T, db LoginThrottle, name, address string, now time.Time, n int) {
	t.Helper()
	for range n {
		if err := db.LoginFailed(t.Context(), name, address, now); err != nil {
			t.Fatal(err)
		}
	}
}

// testLoginThrottle: failures lock the name at the address they came from,
// never at another; the lock grows, ends, is cleared by a success there,
// and is forgotten an hour after the last failure.
func testLoginThrottle(t *testing.T, db IdentityStore) {
	const a, b = "192.0.2.1", "198.51.100.7"
	fail(t, db, "ada", a, T0, 5)
	if lockedAt(t, db, "ada", a, T0) {
		t.Fatal("locked after 5 failures, want 5 free")
	}
	fail(t, db, "ada", a, T0, 1)
	steps := []struct {
		what, name, address string
		at                  time.Time
		want                bool
	}{
		{"sixth failure locks the address", "ada", a, T0, true},
		{"case and space do not matter", " ADA", a, T0, true},
		{"another address is free", "ada", b, T0, false},
		{"another name is free", "eve", a, T0, false},
		{"the lock lasts 30s", "ada", a, T0.Add(29 * time.Second), true},
		{"and then ends", "ada", a, T0.Add(30 * time.Second), false},
	}
	for _, s := range steps {
		if got := lockedAt(t, db, s.name, s.address, s.at); got != s.want {
			t.Errorf("%s: locked = %v, want %v", s.what, got, s.want)
		}
	}
	// The next failure doubles the lock.
	t1 := T0.Add(30 * time.Second)
	fail(t, db, "ada", a, t1, 1)
	if until, err := db.LoginLockedUntil(t.Context(), "ada", a, t1); err != nil || !until.Equal(t1.Add(time.Minute)) {
		t.Errorf("lock after the 7th failure until %v, %v; want %v", until, err, t1.Add(time.Minute))
	}
	// A success at the address clears its count.
	if err := db.LoginSucceeded(t.Context(), "Ada", a); err != nil {
		t.Fatal(err)
	}
	if lockedAt(t, db, "ada", a, t1) {
		t.Error("locked after a success")
	}
	fail(t, db, "ada", a, t1, 5)
	if lockedAt(t, db, "ada", a, t1) {
		t.Error("locked after 5 failures following a success, want the count cleared")
	}
	// An hour without failure forgets them: 5 more are free again.
	t2 := t1.Add(time.Hour + time.Second)
	fail(t, db, "ada", a, t2, 5)
	if lockedAt(t, db, "ada", a, t2) {
		t.Error("locked after an hour's pause and 5 failures, want the old ones forgotten")
	}
	// A client naming the address "*" does not reach the per-name count.
	fail(t, db, "bea", "*", T0, 6)
	if !lockedAt(t, db, "bea", "*", T0) || lockedAt(t, db, "bea", b, T0) {
		t.Error(`the address "*" locks more than itself`)
	}
	if err := db.LoginSucceeded(t.Context(), "nobody", a); err != nil {
		t.Errorf("success without failures: %v", err)
	}
}

// testLoginThrottleGlobal: many addresses that each stay under their own
// threshold still lock the name, for every address, once they pass the
// per-name one; a success does not clear that.
func testLoginThrottleGlobal(t *testing.T, db IdentityStore) {
	for i := range 100 {
		fail(t, db, "ada", fmt.Sprintf("203.0.113.%d", i), T0, 1)
	}
	if lockedAt(t, db, "ada", "192.0.2.1", T0) {
		t.Fatal("name locked after 100 failures, want 100 free")
	}
	fail(t, db, "ada", "203.0.113.200", T0, 1)
	if !lockedAt(t, db, "ada", "192.0.2.1", T0) {
		t.Fatal("name not locked after 101 failures from many addresses")
	}
	if err := db.LoginSucceeded(t.Context(), "ada", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if !lockedAt(t, db, "ada", "192.0.2.1", T0.Add(59*time.Second)) {
		t.Error("a success lifted the name's lock")
	}
	if lockedAt(t, db, "ada", "192.0.2.1", T0.Add(time.Minute)) {
		t.Error("the name's lock lasts longer than a minute")
	}
}

// testLoginThrottleRace: failures counted at once by many callers (nodes)
// are all counted: ten at once give the tenth failure's lock.
func testLoginThrottleRace(t *testing.T, db IdentityStore) {
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Go(func() { errs <- db.LoginFailed(t.Context(), "ada", "192.0.2.1", T0) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// The tenth failure is the fifth over the free ones: 30s << 4 = 8 min.
	want := T0.Add(8 * time.Minute)
	if until, err := db.LoginLockedUntil(t.Context(), "ada", "192.0.2.1", T0); err != nil || !until.Equal(want) {
		t.Errorf("lock after 10 concurrent failures until %v, %v; want %v", until, err, want)
	}
}
