package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
	"github.com/fusionfleet/fusionfleet/internal/storetest"
)

// Size of the synthetic fleet: 10,000 printers in 100 organisations, each
// printer with jobsPerYear jobs spread over a year.
const (
	fleetOrgs     = 100
	fleetPrinters = 10000
	jobsPerYear   = 20
)

// loadStmt is a statement of a synthetic fixture, with its arguments.
type loadStmt struct {
	q    string
	args []any
}

// execAll runs the statements of a fixture in one transaction.
func execAll(t testing.TB, db *DB, stmts []loadStmt) {
	t.Helper()
	err := db.tx(t.Context(), func(tx *txn) error {
		for _, s := range stmts {
			if _, err := tx.ExecContext(t.Context(), s.q, s.args...); err != nil {
				return fmt.Errorf("%.80s: %w", s.q, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// loadFleet generates the synthetic fleet inside the database and returns
// one organisation and one of its printers.
func loadFleet(t testing.TB, db *DB) (fleet.OrgID, fleet.PrinterID) {
	if db.dialect.kind == postgres {
		return pgLoadFleet(t, db)
	}
	skipBigSQLite(t)
	return sqliteLoadFleet(t, db)
}

// skipBigSQLite skips, under the race detector, a test that loads the
// synthetic fleet into SQLite: the detector slows SQLite's engine some
// thirty times (the index tests took four minutes), and it finds nothing
// in a query plan. make test runs them without it (the Makefile's unit).
// PostgreSQL, which runs in its own process, loads its fleet either way.
func skipBigSQLite(t testing.TB) {
	t.Helper()
	if raceDetector {
		t.Skip("the synthetic fleet in SQLite: run without the race detector (make test does)")
	}
}

// yearJobs is how many jobs each printer of the synthetic fleet ran in its
// year.
func yearJobs(db *DB) int {
	if db.dialect.kind == postgres {
		return pgJobsPerYear
	}
	return jobsPerYear
}

// sqliteLoadFleet generates the synthetic fleet inside SQLite, in one
// transaction.
func sqliteLoadFleet(t testing.TB, db *DB) (fleet.OrgID, fleet.PrinterID) {
	t.Helper()
	start := nanos(storetest.T0.AddDate(-1, 0, 0))
	perOrg := fleetPrinters / fleetOrgs
	stmts := []loadStmt{
		{`INSERT INTO orgs (id, name) WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
			SELECT printf('org_%03d', i), printf('Org %d', i) FROM n`, []any{fleetOrgs}},
		{`INSERT INTO sites (id, org_id, name) SELECT replace(id, 'org_', 'site_'), id, name FROM orgs`, nil},
		{`INSERT INTO printers (id, device_id, org_id, site_id, name, model, last_seen)
			WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
			SELECT printf('printer-%03d-%04d', i / ?, i % ?), printf('printer-%03d-%04d', i / ?, i % ?),
				printf('org_%03d', i / ?), printf('site_%03d', i / ?), printf('3DP %d', i % ?), 'Jet 4200', ? FROM n`,
			[]any{fleetPrinters, perOrg, perOrg, perOrg, perOrg, perOrg, perOrg, perOrg, nanos(storetest.T0)}},
		{`INSERT INTO printer_status (printer_id, state, activity, job_id, progress, etc_seconds, pending_jobs, time)
			SELECT id, 2, 'printing', 'job', 0.5, 100, 1, last_seen FROM printers`, nil},
		{`INSERT INTO jobs (printer_id, job_id, org_id, created_at, report_time, data)
			WITH RECURSIVE n(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM n WHERE j < ? - 1)
			SELECT p.id, 'job-' || n.j, p.org_id, ? + (n.j * (8760 / ?) + p.rowid % 24) * 3600000000000,
				? + (n.j * (8760 / ?) + p.rowid % 24) * 3600000000000,
				printf('{"id":"job-%d","status":"completed"}', n.j)
			FROM printers p, n`, []any{jobsPerYear, start, jobsPerYear, start, jobsPerYear}},
		{`ANALYZE`, nil},
	}
	execAll(t, db, stmts)
	return "org_042", "printer-042-0007"
}

// explain returns the indexes the plan of q uses and the tables it reads
// whole.
func explain(t *testing.T, db *DB, q string, args ...any) (indexes, scans []string) {
	t.Helper()
	if db.dialect.kind == postgres {
		pgExplain(t.Context(), t, db, q, args).walk(func(n pgPlanNode) {
			if n.NodeType == "Seq Scan" {
				scans = append(scans, n.Relation)
			}
			if n.Index != "" {
				indexes = append(indexes, n.Index)
			}
		})
		return indexes, scans
	}
	for _, l := range plan(t.Context(), t, db, q, args...) {
		if strings.HasPrefix(l, "SCAN ") && !strings.Contains(l, "INDEX") {
			scans = append(scans, l)
		}
		if _, name, ok := strings.Cut(l, " INDEX "); ok {
			name, _, _ = strings.Cut(name, " ")
			indexes = append(indexes, name)
		}
		if strings.Contains(l, "PRIMARY KEY") {
			indexes = append(indexes, "primary key")
		}
	}
	return indexes, scans
}

// checkIndexed fails t if q reads a table whole or uses no index.
func checkIndexed(t *testing.T, db *DB, q string, args ...any) []string {
	t.Helper()
	indexes, scans := explain(t, db, q, args...)
	if len(scans) > 0 {
		t.Errorf("full scans %q", scans)
	}
	if len(indexes) == 0 {
		t.Errorf("plan uses no index")
	}
	return indexes
}

// plan returns the EXPLAIN QUERY PLAN lines of q.
func plan(ctx context.Context, t *testing.T, db *DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

func TestQueriesUseIndexes(t *testing.T) {
	if testing.Short() {
		t.Skip("loads a large synthetic fleet")
	}
	forEachDialect(t, func(t *testing.T, dsn func(testing.TB) string) {
		ctx := t.Context()
		db := openDSN(t, dsn(t))
		began := time.Now()
		org, p := loadFleet(t, db)
		t.Logf("loaded %d printers and %d jobs in %v", fleetPrinters, fleetPrinters*yearJobs(db), time.Since(began).Round(time.Millisecond))

		year := fleetquery.JobFilter{From: storetest.T0.AddDate(-1, 0, 0), To: storetest.T0}
		byPrinter := year
		byPrinter.PrinterID = p
		jobsQ, jobsArgs := jobsSQL(org, year)
		printerQ, printerArgs := jobsSQL(org, byPrinter)
		tests := []struct {
			name string
			q    string
			args []any
		}{
			{"fleet overview", printersSQL(db.dialect), []any{org}},
			{"job history", jobsQ, jobsArgs},
			{"job history of a printer", printerQ, printerArgs},
			{"printer places", placesSQL(2), []any{org, p, "printer-none"}},
			{"printer keys taken", takenSQL(2), []any{p, "printer-none"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Logf("indexes: %q", checkIndexed(t, db, tt.q, tt.args...))
			})
		}
		// The queries answer correctly on the big fleet.
		printers, err := db.Printers(ctx, org)
		if err != nil || len(printers) != fleetPrinters/fleetOrgs {
			t.Errorf("Printers = %d, %v; want %d", len(printers), err, fleetPrinters/fleetOrgs)
		}
		jobs, err := db.Jobs(ctx, org, byPrinter)
		if err != nil || len(jobs) != yearJobs(db) {
			t.Errorf("Jobs of a printer = %d, %v; want %d", len(jobs), err, yearJobs(db))
		}
	})
}
