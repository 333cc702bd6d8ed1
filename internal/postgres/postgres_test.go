package postgres

import (
	"context"
	"errors"
	"io/fs"
	"sync"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/ingest"
	"github.com/fusionfleet/fusionfleet/internal/postgres/pgtest"
	"github.com/fusionfleet/fusionfleet/internal/retention"
	"github.com/fusionfleet/fusionfleet/internal/storetest"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
)

// The store serves every part of the cloud that the SQLite store serves.
var (
	_ storetest.Store = (*DB)(nil)
	_ uplink.Gateways = (*DB)(nil)
	_ ingest.Store    = (*DB)(nil)
)

func openTest(t testing.TB) *DB {
	t.Helper()
	db, err := Open(t.Context(), pgtest.FreshDB(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return openTest(t) })
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(t.Context(), "not a url ::", Options{}); err == nil {
		t.Error("Open(bad url) = nil error")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	// Port 1 on loopback: nothing listens there.
	if _, err := Open(ctx, "postgres://root@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", Options{}); err == nil {
		t.Error("Open(unreachable) = nil error")
	}
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	u := pgtest.FreshDB(t)
	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			db, err := Open(t.Context(), u, Options{})
			if err == nil {
				db.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Errorf("concurrent Open: %v", err)
		}
	}
	db, err := Open(t.Context(), u, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	var versions int
	if err := db.queryRow(t.Context(), `SELECT COUNT(*) FROM schema_migrations`, nil, &versions); err != nil || versions != len(files) {
		t.Errorf("schema_migrations rows = %d, %v; want %d", versions, err, len(files))
	}
	// A database from a newer program is refused.
	if _, err := db.exec(t.Context(), `INSERT INTO schema_migrations (version) VALUES (999)`); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(t.Context(), u, Options{}); err == nil {
		t.Error("Open of a newer schema = nil error")
	}
}

// TestPartitions checks that layers land in monthly partitions, that a
// partition created later takes its month's rows from the default
// partition, and that retention drops whole partitions.
func TestPartitions(t *testing.T) {
	ctx := t.Context()
	db := openTest(t)
	org, err := db.CreateOrg(ctx, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	site, err := db.CreateSite(ctx, org, "Plant")
	if err != nil {
		t.Fatal(err)
	}
	const p = fleet.PrinterID("printer-0001")
	now := storetest.T0 // March 2026
	recs := []fleet.Record{
		storetest.LayerRecord(1, p, "job-1", 1, now.AddDate(0, 0, -1)), // February: before partitions exist
		storetest.LogRecord(2, p, fleet.LogSession, "x", now.AddDate(0, 0, -1)),
	}
	if n, err := db.ApplyEnvelope(ctx, storetest.Env(org, site, "gw", recs...)); err != nil || n != 2 {
		t.Fatalf("ApplyEnvelope = %d, %v", n, err)
	}
	countIn := func(table string) int {
		var n int
		if err := db.queryRow(ctx, `SELECT COUNT(*) FROM `+table, nil, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if got := countIn("layers_default"); got != 1 {
		t.Fatalf("layers_default = %d before partitions, want 1", got)
	}
	removed, err := db.Prune(ctx, now, retention.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	for table, want := range map[string]int{"layers_default": 0, "layers_y2026m02": 1, "logs_y2026m02": 1, "logs_default": 0} {
		if got := countIn(table); got != want {
			t.Errorf("%s = %d after EnsurePartitions, want %d", table, got, want)
		}
	}
	if removed["layers_partitions"] != 0 {
		t.Errorf("removed = %v, want no partitions dropped", removed)
	}
	// A layer of April goes straight to its partition and is idempotent.
	april := storetest.LayerRecord(3, p, "job-1", 2, now.AddDate(0, 1, 0))
	for _, want := range []int{1, 0} {
		if n, err := db.ApplyEnvelope(ctx, storetest.Env(org, site, "gw", april)); err != nil || n != want {
			t.Fatalf("ApplyEnvelope(april) = %d, %v; want %d", n, err, want)
		}
	}
	if got := countIn("layers_y2026m04"); got != 1 {
		t.Errorf("layers_y2026m04 = %d, want 1", got)
	}
	// A year later the old months' partitions are dropped whole.
	removed, err = db.Prune(ctx, now.AddDate(1, 0, 0), retention.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	if removed["layers_partitions"] < 3 || removed["logs_partitions"] < 3 {
		t.Errorf("removed = %v, want the old partitions dropped", removed)
	}
	if got := countIn("layers"); got != 0 {
		t.Errorf("layers = %d a year later, want 0", got)
	}
	var exists bool
	if err := db.queryRow(ctx, `SELECT to_regclass('layers_y2027m04') IS NOT NULL`, nil, &exists); err != nil || !exists {
		t.Errorf("partition for the coming month: %v, %v; want it created", exists, err)
	}
}

// TestUpgradeFromFirstSchema migrates a database of the first schema with
// data in it: its organisations become customers and its users keep every
// site.
func TestUpgradeFromFirstSchema(t *testing.T) {
	ctx := t.Context()
	u := pgtest.FreshDB(t)
	c, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	first, err := migrations.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PgConn().Exec(ctx, string(first)).ReadAll(); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY)`,
		`INSERT INTO schema_migrations (version) VALUES (1)`,
		`INSERT INTO orgs (id, name) VALUES ('org_1', 'Acme')`,
		`INSERT INTO users (id, org_id, name, password_hash, role) VALUES ('usr_1', 'org_1', 'ada', 'h', 3)`,
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db, err := Open(ctx, u, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	org, err := db.Org(ctx, "org_1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(access.Org{ID: "org_1", Name: "Acme", Kind: access.OrgCustomer}, org); diff != "" {
		t.Errorf("Org (-want +got):\n%s", diff)
	}
	m, err := db.Member(ctx, "org_1", "usr_1")
	if err != nil {
		t.Fatal(err)
	}
	want := access.Member{User: fleet.User{ID: "usr_1", OrgID: "org_1", Name: "ada", Role: fleet.RoleAdmin}, Sites: access.AllSites()}
	if diff := cmp.Diff(want, m, cmp.Comparer(func(a, b access.SiteSet) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("Member (-want +got):\n%s", diff)
	}
	if err := db.DeleteMember(ctx, "org_1", "usr_1"); !errors.Is(err, fleet.ErrConflict) {
		t.Errorf("DeleteMember(only admin) = %v, want ErrConflict", err)
	}
}

func TestOpenOptions(t *testing.T) {
	u := pgtest.FreshDB(t)
	tests := []struct {
		name string
		opts Options
		want int32
	}{
		{"default", Options{}, defaultMaxConns},
		{"set", Options{MaxConns: 3}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := Open(t.Context(), u, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if got := db.pool.Config().MaxConns; got != tt.want {
				t.Errorf("MaxConns = %d, want %d", got, tt.want)
			}
			if err := db.Ping(t.Context()); err != nil {
				t.Errorf("Ping: %v", err)
			}
		})
	}
	if _, err := Open(t.Context(), u, Options{MaxConns: -1}); err == nil {
		t.Error("Open with MaxConns -1 = nil error")
	}
}
