package sqlite

import (
	"errors"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
)

var siteSetCmp = cmp.Comparer(func(a, b access.SiteSet) bool { return a.Equal(b) })

func TestOrgKinds(t *testing.T) {
	ctx := t.Context()
	db := openTest(t)
	cust, err := db.CreateOrg(ctx, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := db.CreateOrgOfKind(ctx, "Fixers", access.OrgServiceProvider)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		id   fleet.OrgID
		want access.Org
	}{
		{cust, access.Org{ID: cust, Name: "Acme", Kind: access.OrgCustomer}},
		{sp, access.Org{ID: sp, Name: "Fixers", Kind: access.OrgServiceProvider}},
	} {
		got, err := db.Org(ctx, tt.id)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Org (-want +got):\n%s", diff)
		}
	}
	if _, err := db.Org(ctx, "org_unknown"); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("unknown org: %v, want ErrNotFound", err)
	}
	if _, err := db.CreateOrgOfKind(ctx, "X", access.OrgKind(7)); err == nil {
		t.Error("invalid kind accepted")
	}
	if _, err := db.CreateOrgOfKind(ctx, " ", access.OrgCustomer); err == nil {
		t.Error("empty name accepted")
	}
}

func TestMembers(t *testing.T) {
	ctx := t.Context()
	db := openTest(t)
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
	errTests := []struct {
		name string
		fn   func() error
		want error
	}{
		{"member of other org", func() error { _, err := db.Member(ctx, orgA, bob); return err }, fleet.ErrNotFound},
		{"set member of other org", func() error {
			return db.SetMember(ctx, orgA, bob, fleet.RoleViewer, access.AllSites())
		}, fleet.ErrNotFound},
		{"delete member of other org", func() error { return db.DeleteMember(ctx, orgA, bob) }, fleet.ErrNotFound},
		{"create with other org's site", func() error {
			_, err := db.CreateMember(ctx, orgA, "eve", "h", fleet.RoleViewer, access.OnlySites(siteB))
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
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.fn(); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	for _, tt := range []struct {
		name string
		fn   func() error
	}{
		{"empty name", func() error {
			_, err := db.CreateMember(ctx, orgA, "", "h", fleet.RoleViewer, access.AllSites())
			return err
		}},
		{"empty hash", func() error {
			_, err := db.CreateMember(ctx, orgA, "x", "", fleet.RoleViewer, access.AllSites())
			return err
		}},
		{"no role", func() error {
			_, err := db.CreateMember(ctx, orgA, "x", "h", fleet.RoleNone, access.AllSites())
			return err
		}},
		{"set no role", func() error { return db.SetMember(ctx, orgA, op, fleet.Role(9), access.AllSites()) }},
	} {
		if err := tt.fn(); err == nil {
			t.Errorf("%s: nil error", tt.name)
		}
	}
	// The failed changes left everything as it was.
	if m, _ := db.Member(ctx, orgA, admin); m.Role != fleet.RoleAdmin || m.Sites.Limited() {
		t.Errorf("admin after refused changes: %+v", m)
	}
	if m, _ := db.Member(ctx, orgA, op); !m.Sites.Equal(access.OnlySites()) {
		t.Errorf("operator after refused change: %+v", m)
	}
	// With a second admin the first may go; the user's sessions go too.
	second, err := db.CreateMember(ctx, orgA, "ali", "h", fleet.RoleAdmin, access.AllSites())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateSession(ctx, "s-ada", admin, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteMember(ctx, orgA, admin); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SessionMember(ctx, "s-ada", t0); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("session of removed user: %v, want ErrNotFound", err)
	}
	if _, err := db.Member(ctx, orgA, second); err != nil {
		t.Error(err)
	}
}

func TestSessionMember(t *testing.T) {
	ctx := t.Context()
	db := openTest(t)
	org, site := tenant(t, db, "A")
	uid, err := db.CreateMember(ctx, org, "vic", "h", fleet.RoleViewer, access.OnlySites(site))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateSession(ctx, "s1", uid, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	m, err := db.SessionMember(ctx, "s1", t0)
	if err != nil {
		t.Fatal(err)
	}
	want := access.Member{User: fleet.User{ID: uid, OrgID: org, Name: "vic", Role: fleet.RoleViewer}, Sites: access.OnlySites(site)}
	if diff := cmp.Diff(want, m, siteSetCmp); diff != "" {
		t.Errorf("SessionMember (-want +got):\n%s", diff)
	}
	if _, err := db.SessionMember(ctx, "s1", t0.Add(time.Hour)); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("expired: %v, want ErrNotFound", err)
	}
	if _, err := db.SessionMember(ctx, "nope", t0); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("unknown: %v, want ErrNotFound", err)
	}
}

func TestTOTPStore(t *testing.T) {
	ctx := t.Context()
	db := openTest(t)
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
		t.Errorf("pending TOTP = %q %v %d %v", secret, enabled, last, err)
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
	for _, tt := range []struct {
		step int64
		want error
	}{{100, fleet.ErrInvalidToken}, {99, fleet.ErrInvalidToken}, {101, nil}, {101, fleet.ErrInvalidToken}, {103, nil}} {
		if err := db.UseTOTPStep(ctx, uid, tt.step); !errors.Is(err, tt.want) && !(tt.want == nil && err == nil) {
			t.Errorf("UseTOTPStep(%d) = %v, want %v", tt.step, err, tt.want)
		}
	}
	if n, err := db.RecoveryCodesLeft(ctx, uid); err != nil || n != 2 {
		t.Errorf("codes left = %d, %v; want 2", n, err)
	}
	if err := db.UseRecoveryCode(ctx, uid, "r1", t0); err != nil {
		t.Fatal(err)
	}
	if err := db.UseRecoveryCode(ctx, uid, "r1", t0); !errors.Is(err, fleet.ErrInvalidToken) {
		t.Errorf("second use: %v, want ErrInvalidToken", err)
	}
	if err := db.UseRecoveryCode(ctx, uid, "rx", t0); !errors.Is(err, fleet.ErrInvalidToken) {
		t.Errorf("unknown code: %v, want ErrInvalidToken", err)
	}
	if n, _ := db.RecoveryCodesLeft(ctx, uid); n != 1 {
		t.Errorf("codes left = %d, want 1", n)
	}
	// Another user cannot spend this user's code.
	other, err := db.CreateUser(ctx, org, "eve", "h", fleet.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.UseRecoveryCode(ctx, other, "r2", t0); !errors.Is(err, fleet.ErrInvalidToken) {
		t.Errorf("other user's code: %v, want ErrInvalidToken", err)
	}
	if err := db.DisableTOTP(ctx, uid); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := db.TOTP(ctx, uid); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("TOTP after disable: %v, want ErrNotFound", err)
	}
	if n, _ := db.RecoveryCodesLeft(ctx, uid); n != 0 {
		t.Errorf("codes left after disable = %d", n)
	}
	if err := db.SetPendingTOTP(ctx, "usr_unknown", "S"); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("unknown user: %v, want ErrNotFound", err)
	}
	if err := db.SetPendingTOTP(ctx, uid, ""); err == nil {
		t.Error("empty secret accepted")
	}
	if err := db.EnableTOTP(ctx, uid, 1, nil); err == nil {
		t.Error("enable without recovery codes accepted")
	}
	if err := db.SetPendingTOTP(ctx, uid, "S"); err != nil {
		t.Fatal(err)
	}
	if err := db.EnableTOTP(ctx, uid, 1, []string{""}); err == nil {
		t.Error("empty recovery hash accepted")
	}
}

func TestLoginChallenges(t *testing.T) {
	ctx := t.Context()
	db := openTest(t)
	org, _ := tenant(t, db, "A")
	uid, err := db.CreateUser(ctx, org, "ada", "h", fleet.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateLoginChallenge(ctx, "c1", uid, t0.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateLoginChallenge(ctx, "c-old", uid, t0); err != nil {
		t.Fatal(err)
	}
	u, err := db.LoginChallengeUser(ctx, "c1", t0)
	if err != nil || u.ID != uid || u.Name != "ada" || u.Role != fleet.RoleAdmin {
		t.Errorf("LoginChallengeUser = %+v, %v", u, err)
	}
	if _, err := db.LoginChallengeUser(ctx, "c1", t0.Add(5*time.Minute)); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("expired: %v, want ErrNotFound", err)
	}
	if err := db.DeleteLoginChallenge(ctx, "c1", t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.LoginChallengeUser(ctx, "c1", t0); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("deleted: %v, want ErrNotFound", err)
	}
	if got := count(t, db, "login_challenges"); got != 0 {
		t.Errorf("challenges left = %d, want 0 (expired ones swept)", got)
	}
	if err := db.CreateLoginChallenge(ctx, "", uid, t0); err == nil {
		t.Error("empty hash accepted")
	}
	if err := db.CreateLoginChallenge(ctx, "c2", "usr_unknown", t0); err == nil {
		t.Error("unknown user accepted")
	}
}

func TestAPITokens(t *testing.T) {
	ctx := t.Context()
	db := openTest(t)
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
	t1 := mk(orgA, ada, "ci", access.ScopeRead, access.OnlySites(siteA), t0)
	id1, err := db.CreateAPIToken(ctx, t1, "hash1")
	if err != nil {
		t.Fatal(err)
	}
	t1.ID = id1
	t2 := mk(orgA, vic, "script", access.ScopeReadWrite, access.AllSites(), t0.Add(time.Minute))
	if t2.ID, err = db.CreateAPIToken(ctx, t2, "hash2"); err != nil {
		t.Fatal(err)
	}
	tb := mk(orgB, bob, "b", access.ScopeRead, access.AllSites(), t0)
	if tb.ID, err = db.CreateAPIToken(ctx, tb, "hashB"); err != nil {
		t.Fatal(err)
	}
	got, err := db.APITokenByHash(ctx, "hash1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(t1, got, siteSetCmp); diff != "" {
		t.Errorf("APITokenByHash (-want +got):\n%s", diff)
	}
	all, err := db.APITokens(ctx, orgA, "")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]access.Token{t2, t1}, all, siteSetCmp); diff != "" {
		t.Errorf("APITokens of org (-want +got):\n%s", diff)
	}
	mine, err := db.APITokens(ctx, orgA, vic)
	if err != nil || len(mine) != 1 || mine[0].ID != t2.ID {
		t.Errorf("APITokens of vic = %+v, %v", mine, err)
	}
	if none, err := db.APITokens(ctx, orgA, bob); err != nil || len(none) != 0 {
		t.Errorf("APITokens of org A for B's user = %+v, %v", none, err)
	}
	// Cross-org isolation.
	if _, err := db.APIToken(ctx, orgA, tb.ID); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("A reads B's token: %v, want ErrNotFound", err)
	}
	if err := db.RevokeAPIToken(ctx, orgA, tb.ID, t0); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("A revokes B's token: %v, want ErrNotFound", err)
	}
	if got, _ := db.APITokenByHash(ctx, "hashB"); !got.Revoked.IsZero() {
		t.Error("B's token revoked by A")
	}
	// Revocation keeps the first time.
	if err := db.RevokeAPIToken(ctx, orgA, t1.ID, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := db.RevokeAPIToken(ctx, orgA, t1.ID, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.APIToken(ctx, orgA, t1.ID); !got.Revoked.Equal(t0.Add(time.Hour)) {
		t.Errorf("revoked at %v, want %v", got.Revoked, t0.Add(time.Hour))
	}
	errTests := []struct {
		name string
		tok  access.Token
		hash string
		want error
	}{
		{"owner of other org", mk(orgA, bob, "x", access.ScopeRead, access.AllSites(), t0), "h3", fleet.ErrNotFound},
		{"site of other org", mk(orgA, ada, "x", access.ScopeRead, access.OnlySites(siteB), t0), "h4", fleet.ErrNotFound},
		{"hash taken", mk(orgA, ada, "x", access.ScopeRead, access.AllSites(), t0), "hash1", nil},
		{"empty hash", mk(orgA, ada, "x", access.ScopeRead, access.AllSites(), t0), "", nil},
		{"empty name", mk(orgA, ada, " ", access.ScopeRead, access.AllSites(), t0), "h5", nil},
		{"no scope", mk(orgA, ada, "x", access.ScopeNone, access.AllSites(), t0), "h6", nil},
		{"expires first", access.Token{OrgID: orgA, UserID: ada, Name: "x", Scope: access.ScopeRead, Created: t0, Expires: t0}, "h7", nil},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := db.CreateAPIToken(ctx, tt.tok, tt.hash)
			if err == nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
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

func TestIdentityClosed(t *testing.T) {
	ctx := t.Context()
	db := openTest(t)
	org, _ := tenant(t, db, "A")
	db.Close()
	notNotFound := func(name string, err error) {
		t.Helper()
		if err == nil || errors.Is(err, fleet.ErrNotFound) {
			t.Errorf("%s on closed db = %v, want a non-NotFound error", name, err)
		}
	}
	_, err := db.Member(ctx, org, "u")
	notNotFound("Member", err)
	_, err = db.Members(ctx, org)
	notNotFound("Members", err)
	_, err = db.SessionMember(ctx, "s", t0)
	notNotFound("SessionMember", err)
	_, err = db.Org(ctx, org)
	notNotFound("Org", err)
	_, err = db.CreateMember(ctx, org, "x", "h", fleet.RoleViewer, access.AllSites())
	notNotFound("CreateMember", err)
	notNotFound("SetMember", db.SetMember(ctx, org, "u", fleet.RoleViewer, access.AllSites()))
	notNotFound("DeleteMember", db.DeleteMember(ctx, org, "u"))
	_, _, _, err = db.TOTP(ctx, "u")
	notNotFound("TOTP", err)
	notNotFound("SetPendingTOTP", db.SetPendingTOTP(ctx, "u", "s"))
	notNotFound("EnableTOTP", db.EnableTOTP(ctx, "u", 1, []string{"r"}))
	notNotFound("UseTOTPStep", db.UseTOTPStep(ctx, "u", 1))
	notNotFound("UseRecoveryCode", db.UseRecoveryCode(ctx, "u", "r", t0))
	_, err = db.RecoveryCodesLeft(ctx, "u")
	notNotFound("RecoveryCodesLeft", err)
	notNotFound("DisableTOTP", db.DisableTOTP(ctx, "u"))
	notNotFound("CreateLoginChallenge", db.CreateLoginChallenge(ctx, "c", "u", t0))
	_, err = db.LoginChallengeUser(ctx, "c", t0)
	notNotFound("LoginChallengeUser", err)
	notNotFound("DeleteLoginChallenge", db.DeleteLoginChallenge(ctx, "c", t0))
	_, err = db.CreateAPIToken(ctx, access.Token{OrgID: org, UserID: "u", Name: "n", Scope: access.ScopeRead, Created: t0, Expires: t0.Add(time.Hour)}, "h")
	notNotFound("CreateAPIToken", err)
	_, err = db.APITokenByHash(ctx, "h")
	notNotFound("APITokenByHash", err)
	_, err = db.APIToken(ctx, org, "t")
	notNotFound("APIToken", err)
	_, err = db.APITokens(ctx, org, "")
	notNotFound("APITokens", err)
	notNotFound("RevokeAPIToken", db.RevokeAPIToken(ctx, org, "t", t0))
}
