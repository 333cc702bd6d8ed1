package store

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/storetest"
)

// pgJobsPerYear is how many jobs each printer of the synthetic fleet runs
// in its year on PostgreSQL: one every 18 days or so.
const pgJobsPerYear = 20

// pgLoadFleet generates the synthetic fleet inside PostgreSQL.
func pgLoadFleet(t testing.TB, db *DB) (fleet.OrgID, fleet.PrinterID) {
	t.Helper()
	start := nanos(storetest.T0.AddDate(-1, 0, 0))
	perOrg := fleetPrinters / fleetOrgs
	stmts := []loadStmt{
		{`INSERT INTO orgs (id, name) SELECT format('org_%s', lpad(i::text, 3, '0')), format('Org %s', i)
			FROM generate_series(0, $1::int - 1) i`, []any{fleetOrgs}},
		{`INSERT INTO sites (id, org_id, name) SELECT replace(id, 'org_', 'site_'), id, name FROM orgs`, nil},
		{`INSERT INTO printers (id, device_id, org_id, site_id, name, model, last_seen)
			SELECT format('printer-%s-%s', lpad((i / $2::int)::text, 3, '0'), lpad((i % $2::int)::text, 4, '0')),
				format('printer-%s-%s', lpad((i / $2::int)::text, 3, '0'), lpad((i % $2::int)::text, 4, '0')),
				format('org_%s', lpad((i / $2::int)::text, 3, '0')), format('site_%s', lpad((i / $2::int)::text, 3, '0')),
				format('3DP %s', i % $2::int), 'Jet 4200', $3::bigint
			FROM generate_series(0, $1::int - 1) i`, []any{fleetPrinters, perOrg, nanos(storetest.T0)}},
		{`INSERT INTO printer_status (printer_id, state, activity, job_id, progress, etc_seconds, pending_jobs, time)
			SELECT id, 2, 'printing', 'job', 0.5, 100, 1, last_seen FROM printers`, nil},
		{`INSERT INTO jobs (printer_id, job_id, org_id, created_at, report_time, data)
			SELECT p.id, 'job-' || j, p.org_id, c, c, format('{"id":"job-%s","status":"completed"}', j)
			FROM printers p, generate_series(0, $1::int - 1) j,
				LATERAL (SELECT $2::bigint + (j * (8760 / $1::int) + abs(hashtext(p.id)) % 24)::bigint * 3600000000000 AS c) t`,
			[]any{pgJobsPerYear, start}},
		{`ANALYZE`, nil},
	}
	execAll(t, db, stmts)
	return "org_042", "printer-042-0007"
}

// pgPlanNode is a node of EXPLAIN (FORMAT JSON) output.
type pgPlanNode struct {
	NodeType string       `json:"Node Type"`
	Relation string       `json:"Relation Name"`
	Index    string       `json:"Index Name"`
	Plans    []pgPlanNode `json:"Plans"`
}

func (n pgPlanNode) walk(fn func(pgPlanNode)) {
	fn(n)
	for _, c := range n.Plans {
		c.walk(fn)
	}
}

func pgExplain(ctx context.Context, t *testing.T, db *DB, q string, args []any) pgPlanNode {
	t.Helper()
	var out []byte
	if err := db.db.QueryRowContext(ctx, "EXPLAIN (FORMAT JSON) "+q, args...).Scan(&out); err != nil {
		t.Fatal(err)
	}
	var plans []struct {
		Plan pgPlanNode `json:"Plan"`
	}
	if err := json.Unmarshal(out, &plans); err != nil || len(plans) != 1 {
		t.Fatalf("pgExplain output %s: %v", out, err)
	}
	return plans[0].Plan
}
