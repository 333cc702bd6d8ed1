package sqlite

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/storetest"
)

var _ storetest.Store = (*DB)(nil)

// tenant creates an org with one site.
func tenant(t *testing.T, db *DB, name string) (fleet.OrgID, fleet.SiteID) {
	t.Helper()
	org, err := db.CreateOrg(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	site, err := db.CreateSite(t.Context(), org, name+" plant")
	if err != nil {
		t.Fatal(err)
	}
	return org, site
}

func openTest(t *testing.T) *DB {
	t.Helper()
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "cloud.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return openTest(t) })
}

func TestOpenTwiceKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cloud.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	org, err := db.CreateOrg(t.Context(), "Acme")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(t.Context(), path) // migrations must not run again
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.CreateSite(t.Context(), org, "Berlin"); err != nil {
		t.Errorf("org lost after reopen: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(t.Context(), ""); err == nil {
		t.Error("Open(\"\") = nil error")
	}
	if _, err := Open(t.Context(), filepath.Join(t.TempDir(), "missing", "dir", "x.db")); err == nil {
		t.Error("Open in a missing directory = nil error")
	}
}

func count(t *testing.T, db *DB, table string) int {
	t.Helper()
	var n int
	if err := db.db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestStoredRows checks what the read methods do not show: gaps are kept,
// and bulk inserts of layers split into full prepared chunks and a rest.
func TestStoredRows(t *testing.T) {
	db := openTest(t)
	ctx := t.Context()
	org, site := tenant(t, db, "Acme")
	const p = fleet.PrinterID("printer-0001")
	recs := []fleet.Record{storetest.GapRecord(1, p, storetest.T0)}
	const layers = 2*bulkRows + 5
	for i := range layers {
		recs = append(recs, storetest.LayerRecord(uint64(i+2), p, "job-1", i+1, storetest.T0.Add(time.Duration(i)*time.Second)))
	}
	env := storetest.Env(org, site, "gw", recs...)
	for _, want := range []int{layers + 1, 0} {
		if n, err := db.ApplyEnvelope(ctx, env); err != nil || n != want {
			t.Fatalf("ApplyEnvelope = %d, %v; want %d", n, err, want)
		}
	}
	if got := count(t, db, "gaps"); got != 1 {
		t.Errorf("gaps = %d, want 1", got)
	}
	if got := count(t, db, "layers"); got != layers {
		t.Errorf("layers = %d, want %d", got, layers)
	}
}
