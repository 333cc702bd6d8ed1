package storetest

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
)

// BundleImports keeps the newest air-gapped bundle each gateway's site
// carried to the cloud.
type BundleImports interface {
	SaveBundleImport(ctx context.Context, imp fleet.BundleImport) error
	LatestBundleImport(ctx context.Context, gw fleet.GatewayID) (fleet.BundleImport, error)
}

// BundleImportStore is what RunBundleImports drives: bundle imports, with
// tenants and gateways to import for.
type BundleImportStore interface {
	BundleImports
	Orgs
	Gateways
	io.Closer
}

// RunBundleImports runs the bundle-import contract against stores made by
// open: an import is read back as saved; only a newer serial replaces it;
// an import of a gateway unknown, or named with another organisation or
// site, is fleet.ErrNotFound, as is the import of a gateway with none.
func RunBundleImports(t *testing.T, open func(t *testing.T) BundleImportStore) {
	runTests(t, open, []storeTest[BundleImportStore]{
		{"RoundTrip", testBundleRoundTrip},
		{"NewestKept", testBundleNewestKept},
		{"Unknown", testBundleUnknown},
	})
}

// bundleGateway enrols a gateway of a new organisation's site.
func bundleGateway(t *testing.T, db BundleImportStore, name string) fleet.Gateway {
	t.Helper()
	_, site := tenant(t, db, name)
	if err := db.CreateEnrolmentToken(t.Context(), site, "tok-"+name, T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	gw, err := db.Enrol(t.Context(), "tok-"+name, name+" gateway", make([]byte, ed25519.PublicKeySize), T0)
	if err != nil {
		t.Fatal(err)
	}
	return gw
}

func bundleImport(gw fleet.Gateway, serial uint64) fleet.BundleImport {
	return fleet.BundleImport{GatewayID: gw.ID, OrgID: gw.OrgID, SiteID: gw.SiteID, Serial: serial,
		Created: T0, Imported: T0.Add(time.Duration(serial) * time.Hour), Records: 7,
		Held:    []fleet.SeqRange{{First: 1, Last: 5}, {First: 8, Last: 9}},
		Refused: []fleet.RefusedRecord{{Seq: 6, Reason: "printer of another site"}}}
}

func testBundleRoundTrip(t *testing.T, db BundleImportStore) {
	gw := bundleGateway(t, db, "acme")
	want := bundleImport(gw, 3)
	if err := db.SaveBundleImport(t.Context(), want); err != nil {
		t.Fatal(err)
	}
	got, err := db.LatestBundleImport(t.Context(), gw.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("import (-want +got):\n%s", diff)
	}
}

func testBundleNewestKept(t *testing.T, db BundleImportStore) {
	gw := bundleGateway(t, db, "acme")
	for _, serial := range []uint64{2, 5, 4, 5} {
		imp := bundleImport(gw, serial)
		imp.Records = int(serial) * 10
		if err := db.SaveBundleImport(t.Context(), imp); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.LatestBundleImport(t.Context(), gw.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Serial != 5 || got.Records != 50 {
		t.Errorf("newest: serial %d, %d records; want 5, 50", got.Serial, got.Records)
	}
}

func testBundleUnknown(t *testing.T, db BundleImportStore) {
	gw := bundleGateway(t, db, "acme")
	other := bundleGateway(t, db, "globex")
	if _, err := db.LatestBundleImport(t.Context(), gw.ID); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("latest with none: %v, want fleet.ErrNotFound", err)
	}
	for name, imp := range map[string]fleet.BundleImport{
		"unknown gateway": bundleImport(fleet.Gateway{ID: "gw_nobody", OrgID: gw.OrgID, SiteID: gw.SiteID}, 1),
		"another org":     bundleImport(fleet.Gateway{ID: gw.ID, OrgID: other.OrgID, SiteID: gw.SiteID}, 1),
		"another site":    bundleImport(fleet.Gateway{ID: gw.ID, OrgID: gw.OrgID, SiteID: other.SiteID}, 1),
	} {
		if err := db.SaveBundleImport(t.Context(), imp); !errors.Is(err, fleet.ErrNotFound) {
			t.Errorf("%s: %v, want fleet.ErrNotFound", name, err)
		}
	}
	if err := db.SaveBundleImport(t.Context(), fleet.BundleImport{GatewayID: gw.ID, OrgID: gw.OrgID, SiteID: gw.SiteID}); err == nil {
		t.Error("an import without serial was saved")
	}
	if _, err := db.LatestBundleImport(t.Context(), gw.ID); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("latest after refused saves: %v, want fleet.ErrNotFound", err)
	}
}
