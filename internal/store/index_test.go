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
)

// loadFleet generates the synthetic fleet inside SQLite, in one
// transaction, and returns one organisation and one of its printers.
func loadFleet(t testing.TB, db *DB) (fleet.OrgID, fleet.PrinterID) {
	t.Helper()
	ctx := t.Context()
	start := nanos(storetest.T0.AddDate(-1, 0, 0))
	perOrg := fleetPrinters / fleetOrgs
	stmts := []struct {
		q    string
		args []any
	}{
		{`INSERT INTO orgs (id, name) WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
			SELECT printf('org_%03d', i), printf('Org %d', i) FROM n`, []any{fleetOrgs}},
		{`INSERT INTO sites (id, org_id, name) SELECT replace(id, 'org_', 'site_'), id, name FROM orgs`, nil},
		{`INSERT INTO printers (id, org_id, site_id, name, model, last_seen)
			WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
			SELECT printf('printer-%03d-%04d', i / ?, i % ?), printf('org_%03d', i / ?), printf('site_%03d', i / ?),
				printf('3DP %d', i % ?), 'Jet 4200', ? FROM n`,
			[]any{fleetPrinters, perOrg, perOrg, perOrg, perOrg, perOrg, nanos(storetest.T0)}},
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
	err := db.tx(ctx, func(tx *txn) error {
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s.q, s.args...); err != nil {
				return fmt.Errorf("%.60s: %w", s.q, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return "org_042", "printer-042-0007"
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
	ctx := t.Context()
	db := openTest(t)
	began := time.Now()
	org, p := loadFleet(t, db)
	t.Logf("loaded %d printers and %d jobs in %v", fleetPrinters, fleetPrinters*jobsPerYear, time.Since(began).Round(time.Millisecond))

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
		{"fleet overview", printersSQL, []any{org}},
		{"job history", jobsQ, jobsArgs},
		{"job history of a printer", printerQ, printerArgs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := plan(ctx, t, db, tt.q, tt.args...)
			for _, l := range lines {
				if strings.HasPrefix(l, "SCAN ") && !strings.Contains(l, "INDEX") {
					t.Errorf("full scan in plan %q", lines)
				}
			}
			if !strings.Contains(strings.Join(lines, "\n"), "USING INDEX") && !strings.Contains(strings.Join(lines, "\n"), "PRIMARY KEY") {
				t.Errorf("plan %q uses no index", lines)
			}
			t.Logf("plan: %q", lines)
		})
	}
	// The queries answer correctly on the big fleet.
	printers, err := db.Printers(ctx, org)
	if err != nil || len(printers) != fleetPrinters/fleetOrgs {
		t.Errorf("Printers = %d, %v; want %d", len(printers), err, fleetPrinters/fleetOrgs)
	}
	jobs, err := db.Jobs(ctx, org, byPrinter)
	if err != nil || len(jobs) != jobsPerYear {
		t.Errorf("Jobs of a printer = %d, %v; want %d", len(jobs), err, jobsPerYear)
	}
}
