package storetest

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
)

// Grants keeps the grants customers give service providers: created on
// a customer's sites for a provider, listed on both sides, read afresh by
// ID on every request under one, revoked at once.
type Grants interface {
	CreateGrant(ctx context.Context, g access.Grant) (string, error)
	Grant(ctx context.Context, id string) (access.Grant, error)
	Grants(ctx context.Context, customer fleet.OrgID) ([]access.Grant, error)
	GrantsTo(ctx context.Context, provider fleet.OrgID) ([]access.Grant, error)
	RevokeGrant(ctx context.Context, customer fleet.OrgID, id string, now time.Time) error
}

// GrantStore is what RunGrants drives: grants between organisations.
type GrantStore interface {
	Orgs
	Grants
	io.Closer
}

// RunGrants runs the grants contract against stores made by open.
func RunGrants(t *testing.T, open func(t *testing.T) GrantStore) {
	runTests(t, open, []storeTest[GrantStore]{
		{"CreateListRevoke", testGrants},
		{"Refusals", testGrantRefusals},
	})
}

// grantParties makes two customers with two sites each and two service
// providers.
func grantParties(t *testing.T, db GrantStore) (custA, custB fleet.OrgID, sitesA, sitesB [2]fleet.SiteID, prov1, prov2 fleet.OrgID) {
	t.Helper()
	ctx := t.Context()
	custA, sitesA[0] = tenant(t, db, "Acme")
	custB, sitesB[0] = tenant(t, db, "Bolt")
	var err error
	if sitesA[1], err = db.CreateSite(ctx, custA, "Acme 2"); err != nil {
		t.Fatal(err)
	}
	if sitesB[1], err = db.CreateSite(ctx, custB, "Bolt 2"); err != nil {
		t.Fatal(err)
	}
	if prov1, err = db.CreateOrgOfKind(ctx, "Fixers", access.OrgServiceProvider); err != nil {
		t.Fatal(err)
	}
	if prov2, err = db.CreateOrgOfKind(ctx, "Menders", access.OrgServiceProvider); err != nil {
		t.Fatal(err)
	}
	return
}

// testGrants: grants are listed by their customer and their provider
// only, read back whole by ID, and revoked once.
func testGrants(t *testing.T, db GrantStore) {
	ctx := t.Context()
	custA, custB, sitesA, sitesB, prov1, prov2 := grantParties(t, db)
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	create := func(g access.Grant) access.Grant {
		t.Helper()
		id, err := db.CreateGrant(ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		g.ID = id
		return g
	}
	a1 := create(access.Grant{Customer: custA, Provider: prov1, Role: fleet.RoleOperator, Sites: access.OnlySites(sitesA[1]),
		Scopes: access.GrantStatus | access.GrantLogs, Starts: t0, Expires: t0.Add(48 * time.Hour), Created: t0, CreatedBy: "usr_a"})
	a2 := create(access.Grant{Customer: custA, Provider: prov2, Role: fleet.RoleOperator, Sites: access.AllSites(),
		Scopes: access.GrantStatus, Starts: t0.Add(time.Hour), Expires: t0.Add(2 * time.Hour), Created: t0.Add(time.Minute), CreatedBy: "usr_a"})
	b1 := create(access.Grant{Customer: custB, Provider: prov1, Role: fleet.RoleViewer, Sites: access.OnlySites(sitesB[0], sitesB[1]),
		Scopes: access.GrantMaintenance, Starts: t0, Expires: t0.Add(time.Hour), Created: t0.Add(2 * time.Minute), CreatedBy: "usr_b"})

	cmpOpts := cmp.Comparer(func(x, y access.SiteSet) bool { return x.Equal(y) })
	for _, tt := range []struct {
		name string
		list func() ([]access.Grant, error)
		want []access.Grant
	}{
		{"customer A", func() ([]access.Grant, error) { return db.Grants(ctx, custA) }, []access.Grant{a2, a1}},
		{"customer B", func() ([]access.Grant, error) { return db.Grants(ctx, custB) }, []access.Grant{b1}},
		{"provider 1", func() ([]access.Grant, error) { return db.GrantsTo(ctx, prov1) }, []access.Grant{b1, a1}},
		{"provider 2", func() ([]access.Grant, error) { return db.GrantsTo(ctx, prov2) }, []access.Grant{a2}},
		{"a provider gives none", func() ([]access.Grant, error) { return db.Grants(ctx, prov1) }, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.list()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpOpts); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if got, err := db.Grant(ctx, a1.ID); err != nil {
		t.Fatal(err)
	} else if diff := cmp.Diff(a1, got, cmpOpts); diff != "" {
		t.Errorf("Grant (-want +got):\n%s", diff)
	}

	// Another customer cannot revoke A's grant; A can, once.
	if err := db.RevokeGrant(ctx, custB, a1.ID, t0.Add(time.Hour)); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("revoke by another customer: %v, want not found", err)
	}
	if got, _ := db.Grant(ctx, a1.ID); !got.Revoked.IsZero() {
		t.Error("another customer's revocation took effect")
	}
	if err := db.RevokeGrant(ctx, custA, a1.ID, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := db.RevokeGrant(ctx, custA, a1.ID, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err := db.Grant(ctx, a1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Revoked.Equal(t0.Add(time.Hour)) || got.Live(t0.Add(time.Hour)) || got.State(t0.Add(time.Hour)) != "revoked" {
		t.Errorf("revoked grant: revoked %v, state %s; want revoked at %v", got.Revoked, got.State(t0.Add(time.Hour)), t0.Add(time.Hour))
	}
	if g, _ := db.Grant(ctx, b1.ID); !g.Revoked.IsZero() {
		t.Error("revoking A's grant revoked B's")
	}
	checkErrs(t, []errCase{
		{"unknown grant", func() error { _, err := db.Grant(ctx, "grt_forged"); return err }, fleet.ErrNotFound},
		{"revoke unknown", func() error { return db.RevokeGrant(ctx, custA, "grt_forged", t0) }, fleet.ErrNotFound},
	})
}

// testGrantRefusals: a grant goes from a customer to a service provider,
// on the customer's own sites, with a scope and a window; anything else
// is refused and stores nothing.
func testGrantRefusals(t *testing.T, db GrantStore) {
	ctx := t.Context()
	custA, custB, sitesA, sitesB, prov1, _ := grantParties(t, db)
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	good := access.Grant{Customer: custA, Provider: prov1, Role: fleet.RoleOperator, Sites: access.OnlySites(sitesA[0]),
		Scopes: access.GrantStatus, Starts: t0, Expires: t0.Add(time.Hour), Created: t0, CreatedBy: "usr_a"}
	with := func(f func(g *access.Grant)) func() error {
		return func() error {
			g := good
			f(&g)
			_, err := db.CreateGrant(ctx, g)
			return err
		}
	}
	checkErrs(t, []errCase{
		{"to a customer", with(func(g *access.Grant) { g.Provider = custB }), fleet.ErrNotFound},
		{"from a provider", with(func(g *access.Grant) { g.Customer, g.Provider = prov1, prov1 }), fleet.ErrNotFound},
		{"unknown provider", with(func(g *access.Grant) { g.Provider = "org_forged" }), fleet.ErrNotFound},
		{"another customer's site", with(func(g *access.Grant) { g.Sites = access.OnlySites(sitesA[1], sitesB[0]) }), fleet.ErrNotFound},
		{"no scope", with(func(g *access.Grant) { g.Scopes = 0 }), nil},
		{"no role", with(func(g *access.Grant) { g.Role = fleet.RoleNone }), nil},
		{"ends before it starts", with(func(g *access.Grant) { g.Expires = g.Starts }), nil},
	})
	for _, org := range []fleet.OrgID{custA, custB} {
		if gs, err := db.Grants(ctx, org); err != nil || len(gs) != 0 {
			t.Errorf("Grants(%s) after refusals = %v, %v; want none", org, gs, err)
		}
	}
	if gs, err := db.GrantsTo(ctx, prov1); err != nil || len(gs) != 0 {
		t.Errorf("GrantsTo after refusals = %v, %v; want none", gs, err)
	}
}
