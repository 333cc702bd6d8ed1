package storetest

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
)

// Orgs keeps organisations, of a kind, and their sites.
type Orgs interface {
	CreateOrg(ctx context.Context, name string) (fleet.OrgID, error)
	CreateOrgOfKind(ctx context.Context, name string, kind access.OrgKind) (fleet.OrgID, error)
	Org(ctx context.Context, id fleet.OrgID) (access.Org, error)
	CreateSite(ctx context.Context, org fleet.OrgID, name string) (fleet.SiteID, error)
	Sites(ctx context.Context, org fleet.OrgID) ([]fleet.Site, error)
}

// Membership keeps the members of an organisation: their role, the sites
// they may see and their display preferences, never leaving it without an
// administrator for all sites.
type Membership interface {
	CreateMember(ctx context.Context, org fleet.OrgID, name, passwordHash string, role fleet.Role, sites access.SiteSet) (fleet.UserID, error)
	Member(ctx context.Context, org fleet.OrgID, user fleet.UserID) (access.Member, error)
	Members(ctx context.Context, org fleet.OrgID) ([]access.Member, error)
	SetMember(ctx context.Context, org fleet.OrgID, user fleet.UserID, role fleet.Role, sites access.SiteSet) error
	DeleteMember(ctx context.Context, org fleet.OrgID, user fleet.UserID) error
	SetPrefs(ctx context.Context, org fleet.OrgID, user fleet.UserID, p fleet.Prefs) error
}

// Gateways keeps the enrolment tokens of sites and the gateways enrolled
// with them.
type Gateways interface {
	CreateEnrolmentToken(ctx context.Context, site fleet.SiteID, tokenHash string, expires time.Time) error
	Enrol(ctx context.Context, tokenHash, name string, pub []byte, now time.Time) (fleet.Gateway, error)
	Gateway(ctx context.Context, id fleet.GatewayID) (fleet.Gateway, error)
	RevokeGateway(ctx context.Context, id fleet.GatewayID) error
}

// TenantStore is what RunTenants drives: tenants and sites, with users
// and sessions to see members through.
type TenantStore interface {
	Orgs
	Membership
	Gateways
	Accounts // users made without sites; a refused member leaves no user
	Sessions // a removed member's sessions; preferences read by session
	io.Closer
}

// RunTenants runs the tenants and sites contract against stores made by
// open: organisations and their kinds, sites, members limited to sites,
// the last administrator even under races, display preferences, enrolment
// tokens spent once and gateways.
func RunTenants(t *testing.T, open func(t *testing.T) TenantStore) {
	runTests(t, open, []storeTest[TenantStore]{
		{"Sites", testSites},
		{"OrgKinds", testOrgKinds},
		{"Members", testMembers},
		{"LastAdminUnderRace", testLastAdminRace},
		{"Prefs", testPrefs},
		{"Enrolment", testEnrolment},
		{"EnrolTokenSingleUseUnderRace", testEnrolRace},
		{"EnrolRetrySameKey", testEnrolRetry},
		{"EnrolRetrySameKeyUnderRace", testEnrolRetryRace},
		{"Closed", testTenantsClosed},
	})
}

// testSites: an organisation lists its own sites by name.
func testSites(t *testing.T, db TenantStore) {
	ctx := t.Context()
	org, err := db.CreateOrg(ctx, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	tenant(t, db, "Other") // whose site Acme does not list
	b, err := db.CreateSite(ctx, org, "Berlin")
	if err != nil {
		t.Fatal(err)
	}
	a, err := db.CreateSite(ctx, org, "Aachen")
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.Sites(ctx, org)
	if err != nil {
		t.Fatal(err)
	}
	want := []fleet.Site{{ID: a, OrgID: org, Name: "Aachen"}, {ID: b, OrgID: org, Name: "Berlin"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Sites (-want +got):\n%s", diff)
	}
	if got, err := db.Sites(ctx, "org_unknown"); err != nil || len(got) != 0 {
		t.Errorf("Sites(unknown) = %v, %v; want none", got, err)
	}
	checkErrs(t, []errCase{
		{"org empty name", func() error { _, err := db.CreateOrg(ctx, " "); return err }, nil},
		{"site empty name", func() error { _, err := db.CreateSite(ctx, org, ""); return err }, nil},
		{"site unknown org", func() error { _, err := db.CreateSite(ctx, "org_x", "X"); return err }, fleet.ErrNotFound},
	})
}

func testOrgKinds(t *testing.T, db TenantStore) {
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

func testMembers(t *testing.T, db TenantStore) {
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
func testLastAdminRace(t *testing.T, db TenantStore) {
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

// testPrefs: a user's display preferences are stored per user, come back
// with Member, Members and SessionMember, are refused when invalid or for
// another organisation's user (leaving the stored ones as they were), and
// go with the user.
func testPrefs(t *testing.T, db TenantStore) {
	ctx := t.Context()
	org, _ := tenant(t, db, "A")
	other, _ := tenant(t, db, "B")
	admin, err := db.CreateMember(ctx, org, "ada", "h", fleet.RoleAdmin, access.AllSites())
	if err != nil {
		t.Fatal(err)
	}
	uid, err := db.CreateMember(ctx, org, "vic", "h", fleet.RoleViewer, access.AllSites())
	if err != nil {
		t.Fatal(err)
	}
	prefsOf := func(t *testing.T) fleet.Prefs {
		t.Helper()
		m, err := db.Member(ctx, org, uid)
		if err != nil {
			t.Fatal(err)
		}
		return m.Prefs
	}
	if got := prefsOf(t); got != (fleet.Prefs{}) {
		t.Errorf("prefs before any are set = %+v, want zero", got)
	}
	berlin := fleet.Prefs{Lang: "de", TimeZone: "Europe/Berlin"}
	steps := []struct {
		name string
		set  fleet.Prefs
		want fleet.Prefs
	}{
		{"first", berlin, berlin},
		{"overwrite", fleet.Prefs{Lang: "en", TimeZone: "America/New_York"}, fleet.Prefs{Lang: "en", TimeZone: "America/New_York"}},
		{"back to defaults", fleet.Prefs{}, fleet.Prefs{}},
		{"again", berlin, berlin},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if err := db.SetPrefs(ctx, org, uid, s.set); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(s.want, prefsOf(t)); diff != "" {
				t.Errorf("Member prefs (-want +got):\n%s", diff)
			}
		})
	}

	if err := db.CreateSession(ctx, "s-vic", uid, T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	m, err := db.SessionMember(ctx, "s-vic", T0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(berlin, m.Prefs); diff != "" {
		t.Errorf("SessionMember prefs (-want +got):\n%s", diff)
	}
	ms, err := db.Members(ctx, org)
	if err != nil {
		t.Fatal(err)
	}
	got := map[fleet.UserID]fleet.Prefs{}
	for _, m := range ms {
		got[m.ID] = m.Prefs
	}
	if diff := cmp.Diff(map[fleet.UserID]fleet.Prefs{admin: {}, uid: berlin}, got); diff != "" {
		t.Errorf("Members prefs (-want +got):\n%s", diff)
	}

	for _, bad := range []fleet.Prefs{
		{TimeZone: "Mars/Olympus_Mons"}, {TimeZone: "../../etc/passwd"}, {TimeZone: "Local"},
		{Lang: "DE"}, {Lang: "deutsch-lang"},
	} {
		if err := db.SetPrefs(ctx, org, uid, bad); err == nil {
			t.Errorf("SetPrefs(%+v) succeeded", bad)
		}
	}
	checkErrs(t, []errCase{
		{"other organisation", func() error { return db.SetPrefs(ctx, other, uid, fleet.Prefs{Lang: "en"}) }, fleet.ErrNotFound},
		{"unknown user", func() error { return db.SetPrefs(ctx, org, "usr_nobody", fleet.Prefs{Lang: "en"}) }, fleet.ErrNotFound},
	})
	if diff := cmp.Diff(berlin, prefsOf(t)); diff != "" {
		t.Errorf("prefs after refused changes (-want +got):\n%s", diff)
	}

	if err := db.DeleteMember(ctx, org, uid); err != nil {
		t.Fatalf("delete a user with prefs: %v", err)
	}
	if _, err := db.Member(ctx, org, uid); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("Member after delete: %v, want ErrNotFound", err)
	}
}

func pubKey(t *testing.T) []byte {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func testEnrolment(t *testing.T, db TenantStore) {
	ctx := t.Context()
	org, site := tenant(t, db, "Acme")
	if err := db.CreateEnrolmentToken(ctx, site, "tok1", T0.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateEnrolmentToken(ctx, site, "tok2", T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	pub := pubKey(t)
	gw, err := db.Enrol(ctx, "tok1", "Command Center 1", pub, T0)
	if err != nil {
		t.Fatal(err)
	}
	want := fleet.Gateway{ID: gw.ID, OrgID: org, SiteID: site, Name: "Command Center 1", PublicKey: pub}
	if diff := cmp.Diff(want, gw); diff != "" {
		t.Errorf("Enrol (-want +got):\n%s", diff)
	}
	got, err := db.Gateway(ctx, gw.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Gateway (-want +got):\n%s", diff)
	}
	invalid := []struct {
		name string
		hash string
		now  time.Time
	}{
		{"used", "tok1", T0},
		{"expired", "tok2", T0.Add(time.Hour)},
		{"unknown", "tok9", T0},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := db.Enrol(ctx, tt.hash, "cc", pubKey(t), tt.now); !errors.Is(err, fleet.ErrInvalidToken) {
				t.Errorf("err = %v, want ErrInvalidToken", err)
			}
		})
	}
	// Bad input does not consume the token.
	if _, err := db.Enrol(ctx, "tok2", "cc", []byte("short"), T0); err == nil || errors.Is(err, fleet.ErrInvalidToken) {
		t.Errorf("short key: err = %v, want a key error", err)
	}
	if _, err := db.Enrol(ctx, "tok2", " ", pubKey(t), T0); err == nil {
		t.Error("empty name accepted")
	}
	if _, err := db.Enrol(ctx, "tok2", "cc2", pubKey(t), T0); err != nil {
		t.Errorf("tok2 consumed by rejected attempts: %v", err)
	}
	checkErrs(t, []errCase{
		{"token for unknown site", func() error { return db.CreateEnrolmentToken(ctx, "site_unknown", "tok3", T0) }, fleet.ErrNotFound},
		{"empty token hash", func() error { return db.CreateEnrolmentToken(ctx, site, "", T0) }, nil},
		{"duplicate token hash", func() error { return db.CreateEnrolmentToken(ctx, site, "tok1", T0) }, nil},
		{"revoke unknown", func() error { return db.RevokeGateway(ctx, "gw_unknown") }, fleet.ErrNotFound},
		{"unknown gateway", func() error { _, err := db.Gateway(ctx, "gw_unknown"); return err }, fleet.ErrNotFound},
	})
	if err := db.RevokeGateway(ctx, gw.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.RevokeGateway(ctx, gw.ID); err != nil {
		t.Errorf("second revoke: %v", err)
	}
	if got, err := db.Gateway(ctx, gw.ID); err != nil || !got.Revoked {
		t.Errorf("after revoke: %+v, %v; want revoked", got, err)
	}
}

func testEnrolRace(t *testing.T, db TenantStore) {
	ctx := t.Context()
	_, site := tenant(t, db, "Acme")
	if err := db.CreateEnrolmentToken(ctx, site, "tok", T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	errs := race(8, func(int) error { _, err := db.Enrol(ctx, "tok", "cc", pubKey(t), T0); return err })
	checkOneWins(t, errs, fleet.ErrInvalidToken)
}

// testEnrolRetry: a gateway whose answer was lost repeats its enrolment
// with the same key and gets the same gateway; nobody else can.
func testEnrolRetry(t *testing.T, db TenantStore) {
	ctx := t.Context()
	org, site := tenant(t, db, "Acme")
	expires := T0.Add(time.Hour)
	if err := db.CreateEnrolmentToken(ctx, site, "tok", expires); err != nil {
		t.Fatal(err)
	}
	pub := pubKey(t)
	gw, err := db.Enrol(ctx, "tok", "cc", pub, T0)
	if err != nil {
		t.Fatal(err)
	}
	want := fleet.Gateway{ID: gw.ID, OrgID: org, SiteID: site, Name: "cc", PublicKey: pub}
	same := []struct {
		name string
		now  time.Time
	}{
		{"at once", T0},
		{"before expiry", T0.Add(30 * time.Minute)},
		{"in the grace after expiry", expires.Add(24*time.Hour - time.Nanosecond)},
	}
	for _, tt := range same {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.Enrol(ctx, "tok", "renamed", pub, tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("repeated Enrol (-want +got):\n%s", diff)
			}
		})
	}
	if got, err := db.Gateway(ctx, gw.ID); err != nil || got.Name != "cc" {
		t.Errorf("Gateway after retries = %+v, %v; want the first name kept", got, err)
	}
	checkErrs(t, []errCase{
		{"other key", func() error { _, err := db.Enrol(ctx, "tok", "cc", pubKey(t), T0); return err }, fleet.ErrInvalidToken},
		{"grace over", func() error { _, err := db.Enrol(ctx, "tok", "cc", pub, expires.Add(24*time.Hour)); return err }, fleet.ErrInvalidToken},
		{"same key other token", func() error { _, err := db.Enrol(ctx, "tok-unknown", "cc", pub, T0); return err }, fleet.ErrInvalidToken},
	})
	if err := db.RevokeGateway(ctx, gw.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Enrol(ctx, "tok", "cc", pub, T0); !errors.Is(err, fleet.ErrInvalidToken) {
		t.Errorf("revoked gateway re-enrols: err = %v, want ErrInvalidToken", err)
	}
}

// testEnrolRetryRace: one gateway sending its enrolment several times at
// once gets one gateway, every time.
func testEnrolRetryRace(t *testing.T, db TenantStore) {
	ctx := t.Context()
	_, site := tenant(t, db, "Acme")
	if err := db.CreateEnrolmentToken(ctx, site, "tok", T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	pub := pubKey(t)
	ids := make([]fleet.GatewayID, 8)
	errs := race(len(ids), func(i int) error {
		gw, err := db.Enrol(ctx, "tok", "cc", pub, T0)
		ids[i] = gw.ID
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("Enrol %d: %v", i, err)
		}
		if ids[i] != ids[0] {
			t.Errorf("Enrol %d = %s, want %s like the first", i, ids[i], ids[0])
		}
	}
}

// testTenantsClosed: a closed store fails every tenant call.
func testTenantsClosed(t *testing.T, db TenantStore) {
	ctx := t.Context()
	org, site := tenant(t, db, "A")
	checkClosed(t, db, []closedCall{
		{"CreateOrg", func() error { _, err := db.CreateOrg(ctx, "x"); return err }},
		{"CreateOrgOfKind", func() error { _, err := db.CreateOrgOfKind(ctx, "x", access.OrgCustomer); return err }},
		{"Org", func() error { _, err := db.Org(ctx, org); return err }},
		{"CreateSite", func() error { _, err := db.CreateSite(ctx, org, "x"); return err }},
		{"Sites", func() error { _, err := db.Sites(ctx, org); return err }},
		{"CreateMember", func() error {
			_, err := db.CreateMember(ctx, org, "x", "h", fleet.RoleViewer, access.AllSites())
			return err
		}},
		{"Member", func() error { _, err := db.Member(ctx, org, "u"); return err }},
		{"Members", func() error { _, err := db.Members(ctx, org); return err }},
		{"SetMember", func() error { return db.SetMember(ctx, org, "u", fleet.RoleViewer, access.AllSites()) }},
		{"DeleteMember", func() error { return db.DeleteMember(ctx, org, "u") }},
		{"SetPrefs", func() error { return db.SetPrefs(ctx, org, "u", fleet.Prefs{Lang: "en"}) }},
		{"CreateEnrolmentToken", func() error { return db.CreateEnrolmentToken(ctx, site, "tok", T0) }},
		{"Enrol", func() error { _, err := db.Enrol(ctx, "tok", "cc", pubKey(t), T0); return err }},
		{"Gateway", func() error { _, err := db.Gateway(ctx, "gw"); return err }},
		{"RevokeGateway", func() error { return db.RevokeGateway(ctx, "gw") }},
	})
}
