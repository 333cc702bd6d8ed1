package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
)

var siteSetCmp = cmp.Comparer(func(a, b access.SiteSet) bool { return a.Equal(b) })

// race runs fn n times at once and returns the errors by call.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = fn(i) })
	}
	wg.Wait()
	return errs
}

// checkOneWins checks that exactly one of errs is nil and the rest match
// want.
func checkOneWins(t *testing.T, errs []error, want error) {
	t.Helper()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, want):
			t.Errorf("unexpected error: %v, want %v", err, want)
		}
	}
	if wins != 1 {
		t.Errorf("%d of %d racing calls won, want 1", wins, len(errs))
	}
}

func testOrgKinds(t *testing.T, db Store) {
	ctx := t.Context()
	cust, err := db.CreateOrg(ctx, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := db.CreateOrgOfKind(ctx, "Fixers", access.OrgServiceProvider)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		id   fleet.OrgID
		want access.Org
	}{
		{"customer", cust, access.Org{ID: cust, Name: "Acme", Kind: access.OrgCustomer}},
		{"service provider", sp, access.Org{ID: sp, Name: "Fixers", Kind: access.OrgServiceProvider}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.Org(ctx, tt.id)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Org (-want +got):\n%s", diff)
			}
		})
	}
	checkErrs(t, []errCase{
		{"unknown org", func() error { _, err := db.Org(ctx, "org_unknown"); return err }, fleet.ErrNotFound},
		{"invalid kind", func() error { _, err := db.CreateOrgOfKind(ctx, "X", access.OrgKind(7)); return err }, nil},
		{"no kind", func() error { _, err := db.CreateOrgOfKind(ctx, "X", 0); return err }, nil},
		{"empty name", func() error { _, err := db.CreateOrgOfKind(ctx, " ", access.OrgCustomer); return err }, nil},
	})
}

func testMembers(t *testing.T, db Store) {
	ctx := t.Context()
	orgA, siteA1 := tenant(t, db, "A")
	siteA2, err := db.CreateSite(ctx, orgA, "A second")
	if err != nil {
		t.Fatal(err)
	}
	orgB, siteB := tenant(t, db, "B")
	admin, err := db.CreateMember(ctx, orgA, "ada", "h", fleet.RoleAdmin, access.AllSites())
	if err != nil {
		t.Fatal(err)
	}
	op, err := db.CreateMember(ctx, orgA, "otto", "h", fleet.RoleOperator, access.OnlySites(siteA2, siteA1))
	if err != nil {
		t.Fatal(err)
	}
	bob, err := db.CreateMember(ctx, orgB, "bob", "h", fleet.RoleAdmin, access.AllSites())
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.Members(ctx, orgA)
	if err != nil {
		t.Fatal(err)
	}
	want := []access.Member{
		{User: fleet.User{ID: admin, OrgID: orgA, Name: "ada", Role: fleet.RoleAdmin}, Sites: access.AllSites()},
		{User: fleet.User{ID: op, OrgID: orgA, Name: "otto", Role: fleet.RoleOperator}, Sites: access.OnlySites(siteA1, siteA2)},
	}
	if diff := cmp.Diff(want, got, siteSetCmp); diff != "" {
		t.Errorf("Members (-want +got):\n%s", diff)
	}
	if got, err := db.Members(ctx, "org_unknown"); err != nil || len(got) != 0 {
		t.Errorf("Members(unknown org) = %v, %v; want none", got, err)
	}
	// A user made by CreateUser has every site.
	plain, err := db.CreateUser(ctx, orgA, "pia", "h", fleet.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := db.Member(ctx, orgA, plain); err != nil || m.Sites.Limited() || m.TwoFactor {
		t.Errorf("Member(CreateUser's user) = %+v, %v; want all sites, no second factor", m, err)
	}
	// Change role and sites; narrow to none.
	if err := db.SetMember(ctx, orgA, op, fleet.RoleViewer, access.OnlySites()); err != nil {
		t.Fatal(err)
	}
	m, err := db.Member(ctx, orgA, op)
	if err != nil {
		t.Fatal(err)
	}
	if m.Role != fleet.RoleViewer || !m.Sites.Equal(access.OnlySites()) {
		t.Errorf("after SetMember: %+v", m)
	}
	checkErrs(t, []errCase{
		{"member of other org", func() error { _, err := db.Member(ctx, orgA, bob); return err }, fleet.ErrNotFound},
		{"unknown member", func() error { _, err := db.Member(ctx, orgA, "usr_unknown"); return err }, fleet.ErrNotFound},
		{"set member of other org", func() error {
			return db.SetMember(ctx, orgA, bob, fleet.RoleViewer, access.AllSites())
		}, fleet.ErrNotFound},
		{"delete member of other org", func() error { return db.DeleteMember(ctx, orgA, bob) }, fleet.ErrNotFound},
		{"create with other org's site", func() error {
			_, err := db.CreateMember(ctx, orgA, "eve", "h", fleet.RoleViewer, access.OnlySites(siteB))
			return err
		}, fleet.ErrNotFound},
		{"create with unknown site", func() error {
			_, err := db.CreateMember(ctx, orgA, "eve", "h", fleet.RoleViewer, access.OnlySites(siteA1, "site_unknown"))
			return err
		}, fleet.ErrNotFound},
		{"set other org's site", func() error {
			return db.SetMember(ctx, orgA, op, fleet.RoleViewer, access.OnlySites(siteB))
		}, fleet.ErrNotFound},
		{"name taken", func() error {
			_, err := db.CreateMember(ctx, orgA, "bob", "h", fleet.RoleViewer, access.AllSites())
			return err
		}, fleet.ErrConflict},
		{"unknown org", func() error {
			_, err := db.CreateMember(ctx, "org_x", "x", "h", fleet.RoleViewer, access.AllSites())
			return err
		}, fleet.ErrNotFound},
		{"demote last admin", func() error {
			return db.SetMember(ctx, orgA, admin, fleet.RoleOperator, access.AllSites())
		}, fleet.ErrConflict},
		{"limit last admin", func() error {
			return db.SetMember(ctx, orgA, admin, fleet.RoleAdmin, access.OnlySites(siteA1))
		}, fleet.ErrConflict},
		{"delete last admin", func() error { return db.DeleteMember(ctx, orgA, admin) }, fleet.ErrConflict},
		{"empty name", func() error {
			_, err := db.CreateMember(ctx, orgA, "", "h", fleet.RoleViewer, access.AllSites())
			return err
		}, nil},
		{"empty hash", func() error {
			_, err := db.CreateMember(ctx, orgA, "x", "", fleet.RoleViewer, access.AllSites())
			return err
		}, nil},
		{"no role", func() error {
			_, err := db.CreateMember(ctx, orgA, "x", "h", fleet.RoleNone, access.AllSites())
			return err
		}, nil},
		{"set no role", func() error { return db.SetMember(ctx, orgA, op, fleet.Role(9), access.AllSites()) }, nil},
	})
	// The refused changes left everything as it was.
	if m, err := db.Member(ctx, orgA, admin); err != nil || m.Role != fleet.RoleAdmin || m.Sites.Limited() {
		t.Errorf("admin after refused changes: %+v, %v", m, err)
	}
	if m, err := db.Member(ctx, orgA, op); err != nil || !m.Sites.Equal(access.OnlySites()) {
		t.Errorf("operator after refused change: %+v, %v", m, err)
	}
	if _, _, err := db.UserByName(ctx, "eve"); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("user of a refused CreateMember: %v, want ErrNotFound", err)
	}
	// With a second admin the first may go; the user's sessions go too.
	second, err := db.CreateMember(ctx, orgA, "ali", "h", fleet.RoleAdmin, access.AllSites())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateSession(ctx, "s-ada", admin, T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteMember(ctx, orgA, admin); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SessionMember(ctx, "s-ada", T0); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("session of removed user: %v, want ErrNotFound", err)
	}
	if _, err := db.Member(ctx, orgA, admin); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("removed user: %v, want ErrNotFound", err)
	}
	if _, err := db.Member(ctx, orgA, second); err != nil {
		t.Error(err)
	}
	// An organisation that never had an admin for all sites may change
	// its users freely.
	orgC, siteC := tenant(t, db, "C")
	lim, err := db.CreateMember(ctx, orgC, "lim", "h", fleet.RoleAdmin, access.OnlySites(siteC))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetMember(ctx, orgC, lim, fleet.RoleViewer, access.OnlySites(siteC)); err != nil {
		t.Errorf("SetMember in an org without a full admin: %v", err)
	}
	if err := db.DeleteMember(ctx, orgC, lim); err != nil {
		t.Errorf("DeleteMember in an org without a full admin: %v", err)
	}
}

// testLastAdminRace removes every admin of an organisation at once: the
// changes serialise, so exactly one admin is kept.
func testLastAdminRace(t *testing.T, db Store) {
	ctx := t.Context()
	org, _ := tenant(t, db, "A")
	const n = 4
	var admins []fleet.UserID
	for i := range n {
		id, err := db.CreateMember(ctx, org, fmt.Sprintf("admin%d", i), "h", fleet.RoleAdmin, access.AllSites())
		if err != nil {
			t.Fatal(err)
		}
		admins = append(admins, id)
	}
	errs := race(n, func(i int) error {
		if i%2 == 0 {
			return db.DeleteMember(ctx, org, admins[i])
		}
		return db.SetMember(ctx, org, admins[i], fleet.RoleOperator, access.AllSites())
	})
	conflicts := 0
	for _, err := range errs {
		switch {
		case errors.Is(err, fleet.ErrConflict):
			conflicts++
		case err != nil:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if conflicts != 1 {
		t.Errorf("%d of %d changes refused, want 1", conflicts, n)
	}
	ms, err := db.Members(ctx, org)
	if err != nil {
		t.Fatal(err)
	}
	left := 0
	for _, m := range ms {
		if m.Role == fleet.RoleAdmin && !m.Sites.Limited() {
			left++
		}
	}
	if left != 1 {
		t.Errorf("%d admins for all sites left, want 1: %+v", left, ms)
	}
}

func testSessionMember(t *testing.T, db Store) {
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

func testTOTP(t *testing.T, db Store) {
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
func testTOTPReplayRace(t *testing.T, db Store) {
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

func testLoginChallenges(t *testing.T, db Store) {
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

func testAPITokens(t *testing.T, db Store) {
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

// testIdentityClosed checks that a closed store fails every identity call
// with an error other than fleet.ErrNotFound, which would read as "no such
// user" or "no such token".
func testIdentityClosed(t *testing.T, db Store) {
	ctx := t.Context()
	org, _ := tenant(t, db, "A")
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("Ping of an open store: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	tok := access.Token{OrgID: org, UserID: "u", Name: "n", Scope: access.ScopeRead, Created: T0, Expires: T0.Add(time.Hour)}
	calls := []struct {
		name string
		fn   func() error
	}{
		{"Ping", func() error { return db.Ping(ctx) }},
		{"CreateOrgOfKind", func() error { _, err := db.CreateOrgOfKind(ctx, "x", access.OrgCustomer); return err }},
		{"Org", func() error { _, err := db.Org(ctx, org); return err }},
		{"Member", func() error { _, err := db.Member(ctx, org, "u"); return err }},
		{"Members", func() error { _, err := db.Members(ctx, org); return err }},
		{"SessionMember", func() error { _, err := db.SessionMember(ctx, "s", T0); return err }},
		{"CreateMember", func() error {
			_, err := db.CreateMember(ctx, org, "x", "h", fleet.RoleViewer, access.AllSites())
			return err
		}},
		{"SetMember", func() error { return db.SetMember(ctx, org, "u", fleet.RoleViewer, access.AllSites()) }},
		{"DeleteMember", func() error { return db.DeleteMember(ctx, org, "u") }},
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
	}
	for _, tt := range calls {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.fn(); err == nil || errors.Is(err, fleet.ErrNotFound) || errors.Is(err, fleet.ErrInvalidToken) {
				t.Errorf("on closed store = %v, want an error that is neither ErrNotFound nor ErrInvalidToken", err)
			}
		})
	}
}
