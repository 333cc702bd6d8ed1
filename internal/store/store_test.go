package store

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/ingest"
	"github.com/fusionfleet/fusionfleet/internal/retention"
	"github.com/fusionfleet/fusionfleet/internal/store/pgtest"
	"github.com/fusionfleet/fusionfleet/internal/storetest"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
)

// The store serves every part of the cloud.
var (
	_ storetest.Store = (*DB)(nil)
	_ uplink.Gateways = (*DB)(nil)
	_ uplink.Printers = (*DB)(nil)
	_ ingest.Store    = (*DB)(nil)
)

// dialects opens a fresh store of each dialect for a test.
var dialects = []struct {
	name string
	dsn  func(t testing.TB) string
}{
	{"sqlite", func(t testing.TB) string { return filepath.Join(t.TempDir(), "cloud.db") }},
	{"postgres", func(t testing.TB) string { return pgtest.FreshDB(t) }},
}

// forEachDialect runs test once per dialect, as a subtest.
func forEachDialect(t *testing.T, test func(t *testing.T, dsn func(testing.TB) string)) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel() // each dialect has its own database
			test(t, d.dsn)
		})
	}
}

func openDSN(t testing.TB, dsn string) *DB {
	t.Helper()
	db, err := Open(t.Context(), dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// tenant creates an org with one site.
func tenant(t testing.TB, db *DB, name string) (fleet.OrgID, fleet.SiteID) {
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

func TestContract(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn func(testing.TB) string) {
		storetest.Run(t, func(t *testing.T) storetest.Store { return openDSN(t, dsn(t)) })
	})
}

func TestOpenTwiceKeepsData(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn func(testing.TB) string) {
		path := dsn(t)
		db, err := Open(t.Context(), path, Options{})
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
		db = openDSN(t, path) // migrations must not run again
		if _, err := db.CreateSite(t.Context(), org, "Berlin"); err != nil {
			t.Errorf("org lost after reopen: %v", err)
		}
	})
}

func TestOpenErrors(t *testing.T) {
	for _, dsn := range []string{"", filepath.Join(t.TempDir(), "missing", "dir", "x.db"), "postgres://not a url ::"} {
		if _, err := Open(t.Context(), dsn, Options{}); err == nil {
			t.Errorf("Open(%q) = nil error", dsn)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	// Port 1 on loopback: nothing listens there.
	if _, err := Open(ctx, "postgres://root@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", Options{}); err == nil {
		t.Error("Open(unreachable) = nil error")
	}
	if _, err := Open(ctx, "postgres://root@127.0.0.1:1/x", Options{MaxConns: -1}); err == nil {
		t.Error("Open with MaxConns -1 = nil error")
	}
}

func count(t testing.TB, db *DB, table string) int {
	t.Helper()
	var n int
	if err := db.db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestStoredRows checks what the read methods do not show: gaps are kept,
// and bulk inserts of layers split into full prepared chunks and a rest
// (SQLite) or are COPYed and, resent, skipped (PostgreSQL).
func TestStoredRows(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn func(testing.TB) string) {
		db := openDSN(t, dsn(t))
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
	})
}

// TestConcurrentOpenMigratesOnce starts several nodes on one PostgreSQL
// database at once: they migrate once (a SQLite file has one node). A
// database of a newer schema is refused on both engines.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn func(testing.TB) string) {
		u := dsn(t)
		n := 4
		if !isPostgres(u) {
			n = 1
		}
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
		db := openDSN(t, u)
		ms, err := migrations()
		if err != nil {
			t.Fatal(err)
		}
		if got := count(t, db, "store_migrations"); got != len(ms) {
			t.Errorf("store_migrations rows = %d, want %d", got, len(ms))
		}
		// A database from a newer program is refused.
		if _, err := db.db.ExecContext(t.Context(), `INSERT INTO store_migrations (version) VALUES (999)`); err != nil {
			t.Fatal(err)
		}
		if db, err := Open(t.Context(), u, Options{}); err == nil {
			db.Close()
			t.Error("Open of a newer schema = nil error")
		}
	})
}

func TestOpenOptions(t *testing.T) {
	u := pgtest.FreshDB(t)
	tests := []struct {
		name string
		opts Options
		want int
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
			if got := db.db.db.Stats().MaxOpenConnections; got != tt.want {
				t.Errorf("MaxOpenConnections = %d, want %d", got, tt.want)
			}
			if err := db.Ping(t.Context()); err != nil {
				t.Errorf("Ping: %v", err)
			}
		})
	}
}

// TestPartitions checks that layers land in monthly partitions, that a
// partition created later takes its month's rows from the default
// partition, and that retention drops whole partitions.
func TestPartitions(t *testing.T) {
	ctx := t.Context()
	db := openDSN(t, pgtest.FreshDB(t))
	org, site := tenant(t, db, "Acme")
	const p = fleet.PrinterID("printer-0001")
	now := storetest.T0 // March 2026
	recs := []fleet.Record{
		storetest.LayerRecord(1, p, "job-1", 1, now.AddDate(0, 0, -1)), // February: before partitions exist
		storetest.LogRecord(2, p, fleet.LogSession, "x", now.AddDate(0, 0, -1)),
	}
	if n, err := db.ApplyEnvelope(ctx, storetest.Env(org, site, "gw", recs...)); err != nil || n != 2 {
		t.Fatalf("ApplyEnvelope = %d, %v", n, err)
	}
	if got := count(t, db, "layers_default"); got != 1 {
		t.Fatalf("layers_default = %d before partitions, want 1", got)
	}
	removed, err := db.Prune(ctx, now, retention.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	for table, want := range map[string]int{"layers_default": 0, "layers_y2026m02": 1, "logs_y2026m02": 1, "logs_default": 0} {
		if got := count(t, db, table); got != want {
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
	if got := count(t, db, "layers_y2026m04"); got != 1 {
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
	if got := count(t, db, "layers"); got != 0 {
		t.Errorf("layers = %d a year later, want 0", got)
	}
	var exists bool
	if err := db.db.QueryRowContext(ctx, `SELECT to_regclass('layers_y2027m04') IS NOT NULL`).Scan(&exists); err != nil || !exists {
		t.Errorf("partition for the coming month: %v, %v; want it created", exists, err)
	}
}

// The benchmarks run once per dialect; see the README for the figures.

func BenchmarkPages(b *testing.B) {
	for _, d := range dialects {
		b.Run(d.name, func(b *testing.B) { benchPages(b, d.dsn(b)) })
	}
}

func BenchmarkKPIPages(b *testing.B) {
	for _, d := range dialects {
		b.Run(d.name, func(b *testing.B) { benchKPIPages(b, d.dsn(b)) })
	}
}

// BenchmarkPrinterVersions: see storetest.BenchPrinterVersions.
func BenchmarkPrinterVersions(b *testing.B) {
	for _, d := range dialects {
		b.Run(d.name, func(b *testing.B) { storetest.BenchPrinterVersions(b, openDSN(b, d.dsn(b))) })
	}
}

// TestNanosClamps: times int64 nanoseconds cannot hold are clamped, not
// overflowed into the wrong order.
func TestNanosClamps(t *testing.T) {
	tests := []struct {
		at   time.Time
		want int64
	}{
		{time.Time{}, 0},
		{time.Unix(0, 1), 1},
		{time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), math.MaxInt64},
		{time.Unix(0, math.MaxInt64), math.MaxInt64},
		{time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC), math.MinInt64},
	}
	for _, tt := range tests {
		if got := nanos(tt.at); got != tt.want {
			t.Errorf("nanos(%s) = %d, want %d", tt.at, got, tt.want)
		}
	}
}

// A printer moved by another node is not written at its old site on the
// word of this node's place cache: the store's check refuses, the cache
// forgets and the writer's retry refuses the records for good. Nor does a
// stale entry refuse records of the site the printer is back at.
func TestPlaceCacheMovedByAnotherNode(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn func(testing.TB) string) {
		ctx := t.Context()
		name := dsn(t)
		node1, node2 := openDSN(t, name), openDSN(t, name)
		org, siteA := tenant(t, node1, "Acme")
		siteB, err := node1.CreateSite(ctx, org, "Second plant")
		if err != nil {
			t.Fatal(err)
		}
		const p = fleet.PrinterID("printer-aaaa")
		// applyRetrying applies as the SQL writer does: an error that is
		// not a refusal means redelivery.
		applyRetrying := func(env fleet.Envelope) (int, error) {
			for range 3 {
				n, err := node1.ApplyEnvelope(ctx, env)
				if err == nil || errors.Is(err, fleet.ErrRejected) {
					return n, err
				}
			}
			return 0, errors.New("still failing after 3 attempts")
		}
		status := func(seq uint64, site fleet.SiteID, st fleet.State, min int) fleet.Envelope {
			return storetest.Env(org, site, fleet.GatewayID("gw_"+site), storetest.StatusRecord(seq, p, st, storetest.T0.Add(time.Duration(min)*time.Minute)))
		}
		if n, err := applyRetrying(status(1, siteA, fleet.StatePrinting, 0)); n != 1 || err != nil {
			t.Fatalf("first record: %d, %v", n, err)
		}
		if err := node2.MovePrinter(ctx, org, p, siteA, siteB); err != nil {
			t.Fatal(err)
		}
		if n, err := applyRetrying(status(2, siteA, fleet.StateIdle, 1)); n != 0 || !errors.Is(err, fleet.ErrRejected) {
			t.Errorf("old site after the move: %d, %v; want 0, rejected", n, err)
		}
		if n, err := applyRetrying(status(3, siteB, fleet.StateCooling, 2)); n != 1 || err != nil {
			t.Errorf("new site after the move: %d, %v; want 1, nil", n, err)
		}
		if err := node2.MovePrinter(ctx, org, p, siteB, siteA); err != nil {
			t.Fatal(err)
		}
		if n, err := applyRetrying(status(4, siteA, fleet.StatePrinting, 3)); n != 1 || err != nil {
			t.Errorf("back at the first site: %d, %v; want 1, nil", n, err)
		}
		det, err := node2.PrinterDetail(ctx, org, p)
		if err != nil || det.View.SiteID != siteA || det.View.State != fleet.StatePrinting {
			t.Errorf("printer: site %s, state %v, %v; want %s, printing", det.View.SiteID, det.View.State, err, siteA)
		}
	})
}

// On SQLite the store's writers queue for one writer slot in the process
// instead of polling SQLite's lock: a writer waits while another holds it,
// gives up when its context ends (not with SQLITE_BUSY after the busy
// timeout), and goes on once the slot is free.
func TestSQLiteWritersQueue(t *testing.T) {
	db := openDSN(t, filepath.Join(t.TempDir(), "store.db"))
	held, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- db.tx(t.Context(), func(tx *txn) error {
			close(held)
			<-release
			_, err := tx.ExecContext(t.Context(), `UPDATE printers SET name = name WHERE 0 = 1`)
			return err
		})
	}()
	<-held

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	began := time.Now()
	if _, err := db.db.ExecContext(ctx, `UPDATE printers SET name = name WHERE 0 = 1`); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a write while another holds the slot, its context ending: %v, want %v", err, context.DeadlineExceeded)
	}
	if err := db.tx(ctx, func(*txn) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a transaction while another holds the slot, its context ending: %v, want %v", err, context.DeadlineExceeded)
	}
	if waited := time.Since(began); waited > 5*time.Second {
		t.Errorf("gave up after %v: want the context's end, not SQLite's busy timeout", waited)
	}

	queued := make(chan error, 1)
	go func() {
		_, err := db.db.ExecContext(t.Context(), `UPDATE printers SET name = name WHERE 0 = 1`)
		queued <- err
	}()
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("the holding transaction: %v", err)
	}
	if err := <-queued; err != nil {
		t.Errorf("the queued write, once the slot was free: %v", err)
	}
}

// A writer that finds the slot taken gets it after the current holder,
// however busy the others: a loop of back-to-back transactions does not
// starve it. (Left to SQLite's lock, the waiter sleeps between tries and
// finds the lock taken again each time it looks, until its busy timeout.)
func TestSQLiteWriterNotStarved(t *testing.T) {
	db := openDSN(t, filepath.Join(t.TempDir(), "store.db"))
	ctx, stop := context.WithCancel(t.Context())
	hogging := make(chan struct{})
	hog := make(chan error, 1)
	go func() {
		once := sync.OnceFunc(func() { close(hogging) })
		for ctx.Err() == nil {
			err := db.tx(ctx, func(tx *txn) error {
				once()
				_, err := tx.ExecContext(ctx, `UPDATE printers SET name = name WHERE 0 = 1`)
				time.Sleep(20 * time.Millisecond)
				return err
			})
			if err != nil && ctx.Err() == nil {
				hog <- err
				return
			}
		}
		hog <- nil
	}()
	<-hogging
	wctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	for i := range 5 {
		if _, err := db.db.ExecContext(wctx, `UPDATE printers SET name = name WHERE 0 = 1`); err != nil {
			t.Errorf("write %d beside a loop of transactions: %v", i, err)
			break
		}
	}
	stop()
	if err := <-hog; err != nil {
		t.Errorf("the loop of transactions: %v", err)
	}
}
