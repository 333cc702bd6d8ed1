package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// Plans keeps the features each organisation's plan enables (R-FEAT-10).
type Plans interface {
	access.Plans
	SetOrgFeatures(ctx context.Context, org fleet.OrgID, f access.Feature) error
}

// PlanStore is what RunPlans drives: plans, with organisations.
type PlanStore interface {
	Plans
	Orgs
}

// RunPlans runs the plans' contract against stores made by open: an
// organisation has the default plan until given another, per
// organisation.
func RunPlans(t *testing.T, open func(t *testing.T) PlanStore) {
	runTests(t, open, []storeTest[PlanStore]{
		{"DefaultAndSet", testPlans},
	})
}

func testPlans(t *testing.T, db PlanStore) {
	ctx := t.Context()
	a, _ := tenant(t, db, "A")
	b, _ := tenant(t, db, "B")
	for _, org := range []fleet.OrgID{a, b} {
		if f, err := db.OrgFeatures(ctx, org); err != nil || f != access.DefaultFeatures {
			t.Errorf("new organisation's plan = %s, %v; want the default %s", f, err, access.DefaultFeatures)
		}
	}
	for _, f := range []access.Feature{access.FeatureAPI, 0, access.DefaultFeatures} {
		if err := db.SetOrgFeatures(ctx, a, f); err != nil {
			t.Fatal(err)
		}
		if got, err := db.OrgFeatures(ctx, a); err != nil || got != f {
			t.Errorf("plan set to %q reads %q, %v", f, got, err)
		}
	}
	if err := db.SetOrgFeatures(ctx, a, access.FeatureExport); err != nil {
		t.Fatal(err)
	}
	if f, err := db.OrgFeatures(ctx, b); err != nil || f != access.DefaultFeatures {
		t.Errorf("the other organisation's plan changed to %s, %v", f, err)
	}
	if _, err := db.OrgFeatures(ctx, "org_none"); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("plan of an unknown organisation: %v, want ErrNotFound", err)
	}
	if err := db.SetOrgFeatures(ctx, "org_none", 0); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("setting an unknown organisation's plan: %v, want ErrNotFound", err)
	}
}
