package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
	"github.com/fusionfleet/fusionfleet/internal/storetest"
)

// loadFleet generates the synthetic fleet (fixture.go) inside the
// database and returns one organisation and one of its printers.
func loadFleet(t testing.TB, db *DB) (fleet.OrgID, fleet.PrinterID) {
	t.Helper()
	skipBigSQLite(t)
	org, p, err := fixtureFleet(t.Context(), db, storetest.T0, fleetOrgs)
	if err != nil {
		t.Fatal(err)
	}
	return org, p
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
