package storetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
)

// Accounts keeps users and their password hashes.
type Accounts interface {
	CreateUser(ctx context.Context, org fleet.OrgID, name, passwordHash string, role fleet.Role) (fleet.UserID, error)
	UserByName(ctx context.Context, name string) (fleet.User, string, error)
	SetPassword(ctx context.Context, user fleet.UserID, passwordHash string, now time.Time) error
	ChangePassword(ctx context.Context, org fleet.OrgID, user fleet.UserID, passwordHash, newSessionHash string, expires time.Time) error
	ResetPassword(ctx context.Context, org fleet.OrgID, user fleet.UserID, passwordHash string, now time.Time) error
}

// LoginThrottle counts failed logins per user name and client address and
// per user name, and says when logins are locked.
type LoginThrottle interface {
	LoginLockedUntil(ctx context.Context, name, address string, now time.Time) (time.Time, error)
	LoginFailed(ctx context.Context, name, address string, now time.Time) error
	LoginSucceeded(ctx context.Context, name, address string) error
}

// Sessions keeps the sessions of signed-in users and finds their user and
// member.
type Sessions interface {
	CreateSession(ctx context.Context, tokenHash string, user fleet.UserID, expires time.Time) error
	SessionUser(ctx context.Context, tokenHash string, now time.Time) (fleet.User, error)
	SessionMember(ctx context.Context, tokenHash string, now time.Time) (access.Member, error)
	DeleteSession(ctx context.Context, tokenHash string) error
}

// SecondFactors keeps users' TOTP secrets, the last time step each spent,
// and their recovery codes.
type SecondFactors interface {
	SetPendingTOTP(ctx context.Context, user fleet.UserID, secret string) error
	TOTP(ctx context.Context, user fleet.UserID) (secret string, enabled bool, lastStep int64, err error)
	EnableTOTP(ctx context.Context, user fleet.UserID, step int64, recoveryHashes []string) error
	UseTOTPStep(ctx context.Context, user fleet.UserID, step int64) error
	UseRecoveryCode(ctx context.Context, user fleet.UserID, codeHash string, now time.Time) error
	RecoveryCodesLeft(ctx context.Context, user fleet.UserID) (int, error)
	DisableTOTP(ctx context.Context, user fleet.UserID) error
}

// LoginChallenges keeps the challenges of users between their password
// and their second factor.
type LoginChallenges interface {
	CreateLoginChallenge(ctx context.Context, tokenHash string, user fleet.UserID, expires time.Time) error
	LoginChallengeUser(ctx context.Context, tokenHash string, now time.Time) (fleet.User, error)
	DeleteLoginChallenge(ctx context.Context, tokenHash string, now time.Time) error
}

// AccessTokens keeps the API tokens of users.
type AccessTokens interface {
	CreateAPIToken(ctx context.Context, tok access.Token, tokenHash string) (access.TokenID, error)
	APITokenByHash(ctx context.Context, tokenHash string) (access.Token, error)
	APIToken(ctx context.Context, org fleet.OrgID, id access.TokenID) (access.Token, error)
	APITokens(ctx context.Context, org fleet.OrgID, user fleet.UserID) ([]access.Token, error)
	RevokeAPIToken(ctx context.Context, org fleet.OrgID, id access.TokenID, now time.Time) error
}

// IdentityStore is what RunIdentity drives: identity and sessions, with
// organisations and members to hold the users.
type IdentityStore interface {
	Accounts
	Sessions
	SecondFactors
	LoginChallenges
	AccessTokens
	LoginThrottle
	Orgs       // the users' organisations
	Membership // a member's sites and second factor; removing a user
	io.Closer
}

// RunIdentity runs the identity and sessions contract against stores made
// by open: users and passwords, sessions, TOTP second factors and recovery
// codes spent once even under races, login challenges and API tokens.
func RunIdentity(t *testing.T, open func(t *testing.T) IdentityStore) {
	runTests(t, open, []storeTest[IdentityStore]{
		{"Users", testUsers},
		{"Sessions", testSessions},
		{"SessionMember", testSessionMember},
		{"SetPassword", testSetPassword},
		{"ChangePassword", testChangePassword},
		{"ResetPassword", testResetPassword},
		{"LoginThrottle", testLoginThrottle},
		{"LoginThrottleGlobal", testLoginThrottleGlobal},
		{"LoginThrottleUnderRace", testLoginThrottleRace},
		{"TOTP", testTOTP},
		{"TOTPSingleUseUnderRace", testTOTPReplayRace},
		{"LoginChallenges", testLoginChallenges},
		{"APITokens", testAPITokens},
		{"Closed", testIdentityClosed},
	})
}

// testUsers: a user belongs to an organisation and is found by name with
// its password hash; a name is taken in every organisation.
func testUsers(t *testing.T, db IdentityStore) {
	ctx := t.Context()
	org, _ := tenant(t, db, "Acme")
	other, _ := tenant(t, db, "Other")
	uid, err := db.CreateUser(ctx, org, "ada", "$argon2id$hash", fleet.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	u, hash, err := db.UserByName(ctx, "ada")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fleet.User{ID: uid, OrgID: org, Name: "ada", Role: fleet.RoleAdmin}, u); diff != "" {
		t.Errorf("UserByName (-want +got):\n%s", diff)
	}
	if hash != "$argon2id$hash" {
		t.Errorf("hash = %q", hash)
	}
	checkErrs(t, []errCase{
		{"user duplicate", func() error { _, err := db.CreateUser(ctx, org, "ada", "h", fleet.RoleViewer); return err }, fleet.ErrConflict},
		{"user duplicate other org", func() error { _, err := db.CreateUser(ctx, other, "ada", "h", fleet.RoleViewer); return err }, fleet.ErrConflict},
		{"user unknown org", func() error { _, err := db.CreateUser(ctx, "org_x", "bob", "h", fleet.RoleViewer); return err }, fleet.ErrNotFound},
		{"user empty name", func() error { _, err := db.CreateUser(ctx, org, "", "h", fleet.RoleViewer); return err }, nil},
		{"user empty hash", func() error { _, err := db.CreateUser(ctx, org, "bob", "", fleet.RoleViewer); return err }, nil},
		{"user no role", func() error { _, err := db.CreateUser(ctx, org, "bob", "h", fleet.RoleNone); return err }, nil},
		{"user bad role", func() error { _, err := db.CreateUser(ctx, org, "bob", "h", fleet.Role(9)); return err }, nil},
		{"user unknown", func() error { _, _, err := db.UserByName(ctx, "nobody"); return err }, fleet.ErrNotFound},
	})
}

func testSessions(t *testing.T, db IdentityStore) {
	ctx := t.Context()
	org, _ := tenant(t, db, "Acme")
	uid, err := db.CreateUser(ctx, org, "ada", "h", fleet.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateSession(ctx, "hash1", uid, T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	want := fleet.User{ID: uid, OrgID: org, Name: "ada", Role: fleet.RoleViewer}
	tests := []struct {
		name    string
		hash    string
		now     time.Time
		wantErr bool
	}{
		{"valid", "hash1", T0, false},
		{"just before expiry", "hash1", T0.Add(time.Hour - time.Nanosecond), false},
		{"at expiry", "hash1", T0.Add(time.Hour), true},
		{"after expiry", "hash1", T0.Add(2 * time.Hour), true},
		{"unknown", "hash2", T0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.SessionUser(ctx, tt.hash, tt.now)
			if tt.wantErr {
				if !errors.Is(err, fleet.ErrNotFound) {
					t.Errorf("err = %v, want ErrNotFound", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("SessionUser (-want +got):\n%s", diff)
			}
		})
	}
	if err := db.CreateSession(ctx, "hash1", uid, T0); err == nil {
		t.Error("duplicate session hash accepted")
	}
	if err := db.CreateSession(ctx, "", uid, T0); err == nil {
		t.Error("empty session hash accepted")
	}
	if err := db.DeleteSession(ctx, "hash1"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SessionUser(ctx, "hash1", T0); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("after delete: err = %v, want ErrNotFound", err)
	}
	if err := db.DeleteSession(ctx, "hash1"); err != nil {
		t.Errorf("second delete: %v", err)
	}
}

func testSetPassword(t *testing.T, db IdentityStore) {
	ctx := t.Context()
	org, _ := tenant(t, db, "Acme")
	uid, err := db.CreateUser(ctx, org, "ada", "old", fleet.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateSession(ctx, "s1", uid, T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := db.SetPassword(ctx, uid, "new", T0); err != nil {
		t.Fatal(err)
	}
	if _, hash, err := db.UserByName(ctx, "ada"); err != nil || hash != "new" {
		t.Errorf("hash after reset: got %q, %v; want %q", hash, err, "new")
	}
	if _, err := db.SessionUser(ctx, "s1", T0); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("session after reset: err = %v, want ErrNotFound", err)
	}
	if err := db.SetPassword(ctx, "usr_unknown", "x", T0); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("unknown user: err = %v, want ErrNotFound", err)
	}
	if err := db.SetPassword(ctx, uid, "", T0); err == nil {
		t.Error("empty hash accepted")
	}
}

func testSessionMember(t *testing.T, db IdentityStore) {
	ctx := t.Context()
	org, site := tenant(t, db, "A")
	uid, err := db.CreateMember(ctx, org, "vic", "h", fleet.RoleViewer, access.OnlySites(site))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateSession(ctx, "s1", uid, T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	m, err := db.SessionMember(ctx, "s1", T0)
	if err != nil {
		t.Fatal(err)
	}
	want := access.Member{User: fleet.User{ID: uid, OrgID: org, Name: "vic", Role: fleet.RoleViewer}, Sites: access.OnlySites(site)}
	if diff := cmp.Diff(want, m, siteSetCmp); diff != "" {
		t.Errorf("SessionMember (-want +got):\n%s", diff)
	}
	checkErrs(t, []errCase{
		{"expired", func() error { _, err := db.SessionMember(ctx, "s1", T0.Add(time.Hour)); return err }, fleet.ErrNotFound},
		{"unknown", func() error { _, err := db.SessionMember(ctx, "nope", T0); return err }, fleet.ErrNotFound},
	})
}

func testTOTP(t *testing.T, db IdentityStore) {
	ctx := t.Context()
	org, _ := tenant(t, db, "A")
	uid, err := db.CreateUser(ctx, org, "ada", "h", fleet.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := db.TOTP(ctx, uid); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("TOTP before setup: %v, want ErrNotFound", err)
	}
	if err := db.EnableTOTP(ctx, uid, 5, []string{"r1"}); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("enable without pending: %v, want ErrNotFound", err)
	}
	if err := db.SetPendingTOTP(ctx, uid, "FIRST"); err != nil {
		t.Fatal(err)
	}
	if err := db.SetPendingTOTP(ctx, uid, "SECRET"); err != nil {
		t.Fatal(err)
	}
	if err := db.UseTOTPStep(ctx, uid, 9); !errors.Is(err, fleet.ErrInvalidToken) {
		t.Errorf("use step while pending: %v, want ErrInvalidToken", err)
	}
	secret, enabled, last, err := db.TOTP(ctx, uid)
	if err != nil || secret != "SECRET" || enabled || last != 0 {
		t.Errorf("pending TOTP = %q %v %d %v; want SECRET false 0 nil", secret, enabled, last, err)
	}
	if m, _ := db.Member(ctx, org, uid); m.TwoFactor {
		t.Error("Member.TwoFactor true while pending")
	}
	if err := db.EnableTOTP(ctx, uid, 100, []string{"r1", "r2"}); err != nil {
		t.Fatal(err)
	}
	if m, _ := db.Member(ctx, org, uid); !m.TwoFactor {
		t.Error("Member.TwoFactor false after enabling")
	}
	if err := db.SetPendingTOTP(ctx, uid, "OTHER"); !errors.Is(err, fleet.ErrConflict) {
		t.Errorf("new pending while enabled: %v, want ErrConflict", err)
	}
	if err := db.EnableTOTP(ctx, uid, 200, []string{"r3"}); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("enable twice: %v, want ErrNotFound", err)
	}
	steps := []struct {
		step int64
		want error
	}{{100, fleet.ErrInvalidToken}, {99, fleet.ErrInvalidToken}, {101, nil}, {101, fleet.ErrInvalidToken}, {103, nil}}
	for _, tt := range steps {
		t.Run(fmt.Sprintf("step %d", tt.step), func(t *testing.T) {
			err := db.UseTOTPStep(ctx, uid, tt.step)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("UseTOTPStep(%d) = %v, want %v", tt.step, err, tt.want)
			}
		})
	}
	if secret, enabled, last, err := db.TOTP(ctx, uid); err != nil || secret != "SECRET" || !enabled || last != 103 {
		t.Errorf("TOTP = %q %v %d %v; want SECRET true 103 nil", secret, enabled, last, err)
	}
	if n, err := db.RecoveryCodesLeft(ctx, uid); err != nil || n != 2 {
		t.Errorf("codes left = %d, %v; want 2", n, err)
	}
	if err := db.UseRecoveryCode(ctx, uid, "r1", T0); err != nil {
		t.Fatal(err)
	}
	other, err := db.CreateUser(ctx, org, "eve", "h", fleet.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	checkErrs(t, []errCase{
		{"second use", func() error { return db.UseRecoveryCode(ctx, uid, "r1", T0) }, fleet.ErrInvalidToken},
		{"unknown code", func() error { return db.UseRecoveryCode(ctx, uid, "rx", T0) }, fleet.ErrInvalidToken},
		{"other user's code", func() error { return db.UseRecoveryCode(ctx, other, "r2", T0) }, fleet.ErrInvalidToken},
		{"step of user without TOTP", func() error { return db.UseTOTPStep(ctx, other, 500) }, fleet.ErrInvalidToken},
	})
	if n, _ := db.RecoveryCodesLeft(ctx, uid); n != 1 {
		t.Errorf("codes left = %d, want 1", n)
	}
	if err := db.DisableTOTP(ctx, uid); err != nil {
		t.Fatal(err)
	}
	if err := db.DisableTOTP(ctx, uid); err != nil {
		t.Errorf("second DisableTOTP: %v", err)
	}
	if _, _, _, err := db.TOTP(ctx, uid); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("TOTP after disable: %v, want ErrNotFound", err)
	}
	if n, _ := db.RecoveryCodesLeft(ctx, uid); n != 0 {
		t.Errorf("codes left after disable = %d", n)
	}
	if m, _ := db.Member(ctx, org, uid); m.TwoFactor {
		t.Error("Member.TwoFactor true after disabling")
	}
	checkErrs(t, []errCase{
		{"unknown user", func() error { return db.SetPendingTOTP(ctx, "usr_unknown", "S") }, fleet.ErrNotFound},
		{"empty secret", func() error { return db.SetPendingTOTP(ctx, uid, "") }, nil},
		{"no recovery codes", func() error { return db.EnableTOTP(ctx, uid, 1, nil) }, nil},
	})
	// A refused enabling leaves the secret pending and the old codes gone.
	if err := db.SetPendingTOTP(ctx, uid, "S"); err != nil {
		t.Fatal(err)
	}
	if err := db.EnableTOTP(ctx, uid, 1, []string{"ok", ""}); err == nil {
		t.Error("empty recovery hash accepted")
	}
	if _, enabled, _, err := db.TOTP(ctx, uid); err != nil || enabled {
		t.Errorf("after refused enable: enabled %v, %v; want pending", enabled, err)
	}
	// Enabling again replaces the recovery codes.
	if err := db.EnableTOTP(ctx, uid, 1, []string{"n1", "n2", "n3"}); err != nil {
		t.Fatal(err)
	}
	if n, _ := db.RecoveryCodesLeft(ctx, uid); n != 3 {
		t.Errorf("codes left after re-enabling = %d, want 3", n)
	}
	// Removing the user removes their second factor.
	if err := db.DeleteMember(ctx, org, other); err != nil {
		t.Fatal(err)
	}
	if err := db.SetPendingTOTP(ctx, other, "S"); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("SetPendingTOTP of removed user: %v, want ErrNotFound", err)
	}
}

// testTOTPReplayRace spends one time step and one recovery code from many
// requests at once: each is accepted once.
func testTOTPReplayRace(t *testing.T, db IdentityStore) {
	ctx := t.Context()
	org, _ := tenant(t, db, "A")
	uid, err := db.CreateUser(ctx, org, "ada", "h", fleet.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetPendingTOTP(ctx, uid, "SECRET"); err != nil {
		t.Fatal(err)
	}
	if err := db.EnableTOTP(ctx, uid, 100, []string{"r1", "r2"}); err != nil {
		t.Fatal(err)
	}
	const n = 8
	t.Run("step", func(t *testing.T) {
		checkOneWins(t, race(n, func(int) error { return db.UseTOTPStep(ctx, uid, 101) }), fleet.ErrInvalidToken)
	})
	t.Run("recovery code", func(t *testing.T) {
		checkOneWins(t, race(n, func(int) error { return db.UseRecoveryCode(ctx, uid, "r1", T0) }), fleet.ErrInvalidToken)
	})
	if n, err := db.RecoveryCodesLeft(ctx, uid); err != nil || n != 1 {
		t.Errorf("codes left = %d, %v; want 1", n, err)
	}
}

func testLoginChallenges(t *testing.T, db IdentityStore) {
	ctx := t.Context()
	org, _ := tenant(t, db, "A")
	uid, err := db.CreateUser(ctx, org, "ada", "h", fleet.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateLoginChallenge(ctx, "c1", uid, T0.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateLoginChallenge(ctx, "c-old", uid, T0); err != nil {
		t.Fatal(err)
	}
	want := fleet.User{ID: uid, OrgID: org, Name: "ada", Role: fleet.RoleAdmin}
	for _, hash := range []string{"c1", "c-old"} {
		u, err := db.LoginChallengeUser(ctx, hash, T0.Add(-time.Second))
		if err != nil {
			t.Fatalf("LoginChallengeUser(%s): %v", hash, err)
		}
		if diff := cmp.Diff(want, u); diff != "" {
			t.Errorf("LoginChallengeUser(%s) (-want +got):\n%s", hash, diff)
		}
	}
	checkErrs(t, []errCase{
		{"expired", func() error { _, err := db.LoginChallengeUser(ctx, "c1", T0.Add(5*time.Minute)); return err }, fleet.ErrNotFound},
		{"unknown", func() error { _, err := db.LoginChallengeUser(ctx, "c9", T0); return err }, fleet.ErrNotFound},
		{"empty hash", func() error { return db.CreateLoginChallenge(ctx, "", uid, T0) }, nil},
		{"duplicate hash", func() error { return db.CreateLoginChallenge(ctx, "c1", uid, T0) }, nil},
		{"unknown user", func() error { return db.CreateLoginChallenge(ctx, "c2", "usr_unknown", T0) }, nil},
	})
	// Deleting one also sweeps the expired ones.
	if err := db.DeleteLoginChallenge(ctx, "c1", T0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, hash := range []string{"c1", "c-old"} {
		if _, err := db.LoginChallengeUser(ctx, hash, T0.Add(-time.Second)); !errors.Is(err, fleet.ErrNotFound) {
			t.Errorf("%s after delete: %v, want ErrNotFound", hash, err)
		}
	}
	if err := db.DeleteLoginChallenge(ctx, "c1", T0); err != nil {
		t.Errorf("second delete: %v", err)
	}
}

func testAPITokens(t *testing.T, db IdentityStore) {
	ctx := t.Context()
	orgA, siteA := tenant(t, db, "A")
	orgB, siteB := tenant(t, db, "B")
	ada, err := db.CreateUser(ctx, orgA, "ada", "h", fleet.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	vic, err := db.CreateUser(ctx, orgA, "vic", "h", fleet.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := db.CreateUser(ctx, orgB, "bob", "h", fleet.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(org fleet.OrgID, user fleet.UserID, name string, scope access.Scope, sites access.SiteSet, created time.Time) access.Token {
		return access.Token{OrgID: org, UserID: user, Name: name, Scope: scope, Sites: sites, Created: created, Expires: created.Add(24 * time.Hour)}
	}
	t1 := mk(orgA, ada, "ci", access.ScopeRead, access.OnlySites(siteA), T0)
	if t1.ID, err = db.CreateAPIToken(ctx, t1, "hash1"); err != nil {
		t.Fatal(err)
	}
	t2 := mk(orgA, vic, "script", access.ScopeReadWrite, access.AllSites(), T0.Add(time.Minute))
	if t2.ID, err = db.CreateAPIToken(ctx, t2, "hash2"); err != nil {
		t.Fatal(err)
	}
	tb := mk(orgB, bob, "b", access.ScopeRead, access.AllSites(), T0)
	if tb.ID, err = db.CreateAPIToken(ctx, tb, "hashB"); err != nil {
		t.Fatal(err)
	}
	tNone := mk(orgA, ada, "none", access.ScopeRead, access.OnlySites(), T0.Add(-time.Minute))
	if tNone.ID, err = db.CreateAPIToken(ctx, tNone, "hashN"); err != nil {
		t.Fatal(err)
	}
	byHash := []struct {
		hash string
		want access.Token
	}{{"hash1", t1}, {"hash2", t2}, {"hashB", tb}, {"hashN", tNone}}
	for _, tt := range byHash {
		t.Run("by hash "+tt.hash, func(t *testing.T) {
			got, err := db.APITokenByHash(ctx, tt.hash)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, siteSetCmp); diff != "" {
				t.Errorf("APITokenByHash (-want +got):\n%s", diff)
			}
		})
	}
	all, err := db.APITokens(ctx, orgA, "")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]access.Token{t2, t1, tNone}, all, siteSetCmp); diff != "" {
		t.Errorf("APITokens of org (-want +got):\n%s", diff)
	}
	mine, err := db.APITokens(ctx, orgA, vic)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]access.Token{t2}, mine, siteSetCmp); diff != "" {
		t.Errorf("APITokens of vic (-want +got):\n%s", diff)
	}
	if none, err := db.APITokens(ctx, orgA, bob); err != nil || len(none) != 0 {
		t.Errorf("APITokens of org A for B's user = %+v, %v", none, err)
	}
	// Cross-org isolation.
	if _, err := db.APIToken(ctx, orgA, tb.ID); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("A reads B's token: %v, want ErrNotFound", err)
	}
	if err := db.RevokeAPIToken(ctx, orgA, tb.ID, T0); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("A revokes B's token: %v, want ErrNotFound", err)
	}
	if err := db.RevokeAPIToken(ctx, orgA, "tok_unknown", T0); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("revoke unknown token: %v, want ErrNotFound", err)
	}
	if got, err := db.APITokenByHash(ctx, "hashB"); err != nil || !got.Revoked.IsZero() {
		t.Errorf("B's token after A's revoke: %+v, %v; want not revoked", got, err)
	}
	// Revocation keeps the first time.
	if err := db.RevokeAPIToken(ctx, orgA, t1.ID, T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := db.RevokeAPIToken(ctx, orgA, t1.ID, T0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, err := db.APIToken(ctx, orgA, t1.ID); err != nil || !got.Revoked.Equal(T0.Add(time.Hour)) {
		t.Errorf("revoked at %v, %v; want %v", got.Revoked, err, T0.Add(time.Hour))
	}
	errTests := []struct {
		name string
		tok  access.Token
		hash string
		want error // nil: any error
	}{
		{"owner of other org", mk(orgA, bob, "x", access.ScopeRead, access.AllSites(), T0), "h3", fleet.ErrNotFound},
		{"unknown owner", mk(orgA, "usr_unknown", "x", access.ScopeRead, access.AllSites(), T0), "h3", fleet.ErrNotFound},
		{"site of other org", mk(orgA, ada, "x", access.ScopeRead, access.OnlySites(siteB), T0), "h4", fleet.ErrNotFound},
		{"hash taken", mk(orgA, ada, "x", access.ScopeRead, access.AllSites(), T0), "hash1", nil},
		{"empty hash", mk(orgA, ada, "x", access.ScopeRead, access.AllSites(), T0), "", nil},
		{"empty name", mk(orgA, ada, " ", access.ScopeRead, access.AllSites(), T0), "h5", nil},
		{"no scope", mk(orgA, ada, "x", access.ScopeNone, access.AllSites(), T0), "h6", nil},
		{"expires first", access.Token{OrgID: orgA, UserID: ada, Name: "x", Scope: access.ScopeRead, Created: T0, Expires: T0}, "h7", nil},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := db.CreateAPIToken(ctx, tt.tok, tt.hash)
			if err == nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	// The refused tokens left nothing behind.
	if all, err := db.APITokens(ctx, orgA, ""); err != nil || len(all) != 3 {
		t.Errorf("tokens of A after refusals = %d, %v; want 3", len(all), err)
	}
	if _, err := db.APITokenByHash(ctx, "nope"); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("unknown hash: %v, want ErrNotFound", err)
	}
	// Removing the owner removes the token.
	if err := db.DeleteMember(ctx, orgA, vic); err != nil {
		t.Fatal(err)
	}
	if _, err := db.APITokenByHash(ctx, "hash2"); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("token of removed user: %v, want ErrNotFound", err)
	}
}

// testIdentityClosed: a closed store fails every identity call.
func testIdentityClosed(t *testing.T, db IdentityStore) {
	ctx := t.Context()
	org, _ := tenant(t, db, "A")
	tok := access.Token{OrgID: org, UserID: "u", Name: "n", Scope: access.ScopeRead, Created: T0, Expires: T0.Add(time.Hour)}
	checkClosed(t, db, []closedCall{
		{"CreateUser", func() error { _, err := db.CreateUser(ctx, org, "x", "h", fleet.RoleViewer); return err }},
		{"UserByName", func() error { _, _, err := db.UserByName(ctx, "x"); return err }},
		{"SetPassword", func() error { return db.SetPassword(ctx, "u", "h", T0) }},
		{"ChangePassword", func() error { return db.ChangePassword(ctx, org, "u", "h", "s", T0) }},
		{"ResetPassword", func() error { return db.ResetPassword(ctx, org, "u", "h", T0) }},
		{"LoginLockedUntil", func() error { _, err := db.LoginLockedUntil(ctx, "x", "a", T0); return err }},
		{"LoginFailed", func() error { return db.LoginFailed(ctx, "x", "a", T0) }},
		{"LoginSucceeded", func() error { return db.LoginSucceeded(ctx, "x", "a") }},
		{"CreateSession", func() error { return db.CreateSession(ctx, "x", "u", T0) }},
		{"SessionUser", func() error { _, err := db.SessionUser(ctx, "x", T0); return err }},
		{"SessionMember", func() error { _, err := db.SessionMember(ctx, "s", T0); return err }},
		{"DeleteSession", func() error { return db.DeleteSession(ctx, "x") }},
		{"TOTP", func() error { _, _, _, err := db.TOTP(ctx, "u"); return err }},
		{"SetPendingTOTP", func() error { return db.SetPendingTOTP(ctx, "u", "s") }},
		{"EnableTOTP", func() error { return db.EnableTOTP(ctx, "u", 1, []string{"r"}) }},
		{"UseTOTPStep", func() error { return db.UseTOTPStep(ctx, "u", 1) }},
		{"UseRecoveryCode", func() error { return db.UseRecoveryCode(ctx, "u", "r", T0) }},
		{"RecoveryCodesLeft", func() error { _, err := db.RecoveryCodesLeft(ctx, "u"); return err }},
		{"DisableTOTP", func() error { return db.DisableTOTP(ctx, "u") }},
		{"CreateLoginChallenge", func() error { return db.CreateLoginChallenge(ctx, "c", "u", T0) }},
		{"LoginChallengeUser", func() error { _, err := db.LoginChallengeUser(ctx, "c", T0); return err }},
		{"DeleteLoginChallenge", func() error { return db.DeleteLoginChallenge(ctx, "c", T0) }},
		{"CreateAPIToken", func() error { _, err := db.CreateAPIToken(ctx, tok, "h"); return err }},
		{"APITokenByHash", func() error { _, err := db.APITokenByHash(ctx, "h"); return err }},
		{"APIToken", func() error { _, err := db.APIToken(ctx, org, "t"); return err }},
		{"APITokens", func() error { _, err := db.APITokens(ctx, org, ""); return err }},
		{"RevokeAPIToken", func() error { return db.RevokeAPIToken(ctx, org, "t", T0) }},
	})
}
