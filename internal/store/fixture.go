package store

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/kpi"
)

// This file generates synthetic fleets inside a store's database in bulk
// SQL, with rows shaped as ingest writes them: the fleet of the query-plan
// tests (fixtureFleet, fixtureKPIFleet) and the fleet of the dashboard's
// page benchmarks (LoadPagesFleet), which the bench command runs too. Each
// returns the organisation its tests and pages read and one of its
// printers.

// Size of the synthetic fleet: 10,000 printers in 100 organisations, each
// printer with jobsPerYear jobs spread over a year.
const (
	fleetOrgs     = 100
	fleetPrinters = 10000
	fleetPerOrg   = fleetPrinters / fleetOrgs
	jobsPerYear   = 20
	// pgJobsPerYear is how many jobs each printer of the synthetic fleet
	// runs in its year on PostgreSQL: one every 18 days or so.
	pgJobsPerYear = 20
	// kpiMaterials is how many materials every site of the synthetic
	// fleet prints each day: each is a rollup row per site and day.
	kpiMaterials = 4
)

// loadStmt is a statement of a synthetic fixture, with its arguments.
type loadStmt struct {
	q    string
	args []any
}

// execFixture runs the statements of a fixture in one transaction.
func execFixture(ctx context.Context, db *DB, stmts []loadStmt) error {
	return db.tx(ctx, func(tx *txn) error {
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s.q, s.args...); err != nil {
				return fmt.Errorf("%.80s: %w", s.q, err)
			}
		}
		return nil
	})
}

// fixtureFleet generates the synthetic fleet of orgs organisations of
// 100 printers (the tests' is fleetOrgs) inside the database, its year
// ending at now.
func fixtureFleet(ctx context.Context, db *DB, now time.Time, orgs int) (fleet.OrgID, fleet.PrinterID, error) {
	if db.dialect.kind == postgres {
		return pgLoadFleet(ctx, db, now, orgs)
	}
	return sqliteLoadFleet(ctx, db, now, orgs)
}

// fixtureRead returns the organisation of a fleet of orgs organisations
// that its tests read, and one of its printers: of 100, the 42nd.
func fixtureRead(orgs int) (fleet.OrgID, fleet.PrinterID) {
	i := orgs * 42 / 100
	return fleet.OrgID(fmt.Sprintf("org_%03d", i)), fleet.PrinterID(fmt.Sprintf("printer-%03d-0007", i))
}

// sqliteLoadFleet generates the synthetic fleet inside SQLite, in one
// transaction.
func sqliteLoadFleet(ctx context.Context, db *DB, now time.Time, orgs int) (fleet.OrgID, fleet.PrinterID, error) {
	start := nanos(now.AddDate(-1, 0, 0))
	perOrg := fleetPerOrg
	stmts := []loadStmt{
		{`INSERT INTO orgs (id, name) WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
			SELECT printf('org_%03d', i), printf('Org %d', i) FROM n`, []any{orgs}},
		{`INSERT INTO sites (id, org_id, name) SELECT replace(id, 'org_', 'site_'), id, name FROM orgs`, nil},
		{`INSERT INTO printers (id, device_id, org_id, site_id, name, model, last_seen)
			WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
			SELECT printf('printer-%03d-%04d', i / ?, i % ?), printf('printer-%03d-%04d', i / ?, i % ?),
				printf('org_%03d', i / ?), printf('site_%03d', i / ?), printf('3DP %d', i % ?), 'Jet 4200', ? FROM n`,
			[]any{orgs * perOrg, perOrg, perOrg, perOrg, perOrg, perOrg, perOrg, perOrg, nanos(now)}},
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
	if err := execFixture(ctx, db, stmts); err != nil {
		return "", "", err
	}
	org, p := fixtureRead(orgs)
	return org, p, nil
}

// pgLoadFleet generates the synthetic fleet inside PostgreSQL.
func pgLoadFleet(ctx context.Context, db *DB, now time.Time, orgs int) (fleet.OrgID, fleet.PrinterID, error) {
	start := nanos(now.AddDate(-1, 0, 0))
	perOrg := fleetPerOrg
	stmts := []loadStmt{
		{`INSERT INTO orgs (id, name) SELECT format('org_%s', lpad(i::text, 3, '0')), format('Org %s', i)
			FROM generate_series(0, $1::int - 1) i`, []any{orgs}},
		{`INSERT INTO sites (id, org_id, name) SELECT replace(id, 'org_', 'site_'), id, name FROM orgs`, nil},
		{`INSERT INTO printers (id, device_id, org_id, site_id, name, model, last_seen)
			SELECT format('printer-%s-%s', lpad((i / $2::int)::text, 3, '0'), lpad((i % $2::int)::text, 4, '0')),
				format('printer-%s-%s', lpad((i / $2::int)::text, 3, '0'), lpad((i % $2::int)::text, 4, '0')),
				format('org_%s', lpad((i / $2::int)::text, 3, '0')), format('site_%s', lpad((i / $2::int)::text, 3, '0')),
				format('3DP %s', i % $2::int), 'Jet 4200', $3::bigint
			FROM generate_series(0, $1::int - 1) i`, []any{orgs * perOrg, perOrg, nanos(now)}},
		{`INSERT INTO printer_status (printer_id, state, activity, job_id, progress, etc_seconds, pending_jobs, time)
			SELECT id, 2, 'printing', 'job', 0.5, 100, 1, last_seen FROM printers`, nil},
		{`INSERT INTO jobs (printer_id, job_id, org_id, created_at, report_time, data)
			SELECT p.id, 'job-' || j, p.org_id, c, c, format('{"id":"job-%s","status":"completed"}', j)
			FROM printers p, generate_series(0, $1::int - 1) j,
				LATERAL (SELECT $2::bigint + (j * (8760 / $1::int) + abs(hashtext(p.id)) % 24)::bigint * 3600000000000 AS c) t`,
			[]any{pgJobsPerYear, start}},
		{`ANALYZE`, nil},
	}
	if err := execFixture(ctx, db, stmts); err != nil {
		return "", "", err
	}
	org, p := fixtureRead(orgs)
	return org, p, nil
}

// hourValues returns the expressions of the 48 hour columns of a
// synthetic rollup row, from a seed expression.
func hourValues(seed string) string {
	v := make([]string, 48)
	for i := range v {
		v[i] = fmt.Sprintf("((%s + %d) %% 7) * 300.0", seed, i)
	}
	return strings.Join(v, ", ")
}

// fixtureKPIFleet loads the synthetic fleet of fixtureFleet and its KPI rollups
// for a year: a site row per organisation, material and day, a benchmark
// row per organisation and month, and printer rows for the returned
// organisation's printers (the other organisations' printer rows are
// never read by its pages).
func fixtureKPIFleet(ctx context.Context, db *DB, now time.Time, orgs int) (fleet.OrgID, fleet.PrinterID, error) {
	if db.dialect.kind == postgres {
		return pgLoadKPIFleet(ctx, db, now, orgs)
	}
	org, p, err := fixtureFleet(ctx, db, now, orgs)
	if err != nil {
		return "", "", err
	}
	first := kpi.Day(now.AddDate(-1, 0, 0))
	cols := strings.Join(append(append([]string{}, kpiSumCols...), kpiHourCols...), ", ")
	sums := `1 + d.i % 3, d.i % 5 / 4, 10 + d.i % 7, 9 + d.i % 7, 8 + d.i % 5, 150.0 + d.i % 50, 1000.0, 3.5, 9.0, 30000.0 + d.i % 1000 * 30, 20000.0`
	days := `WITH RECURSIVE d(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM d WHERE i < 364)`
	mats := `, m(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM m WHERE k < ? - 1)`
	stmts := []loadStmt{
		{`UPDATE printers SET model = 'Jet 42' || (CAST(substr(org_id, 5) AS INTEGER) % 4) || '0'`, nil},
		{`INSERT INTO kpi_site_daily (org_id, site_id, model, material, day, weekday, ` + cols + `) ` + days + mats + `
			SELECT s.org_id, s.id, 'Jet 42' || (CAST(substr(s.org_id, 5) AS INTEGER) % 4) || '0', 'M' || m.k, ? + d.i * 86400000000000, (? + d.i) % 7, ` + sums + `, ` + hourValues("d.i") + `
			FROM sites s, d, m`, []any{kpiMaterials, nanos(first), int(first.Weekday())}},
		{`INSERT INTO kpi_daily (printer_id, day, material, org_id, site_id, model, weekday, ` + cols + `) ` + days + `
			SELECT p.id, ? + d.i * 86400000000000, 'M0', p.org_id, p.site_id, p.model, (? + d.i) % 7, ` + sums + `, ` + hourValues("d.i") + `
			FROM printers p, d WHERE p.org_id = ?`, []any{nanos(first), int(first.Weekday()), org}},
		{`INSERT INTO kpi_org_month (model, month, org_id, ` + strings.Join(kpiSumCols, ", ") + `)
			SELECT model, ` + fmt.Sprintf("(day - %d) / (30 * 86400000000000)", nanos(first)) + `, org_id, ` + sumOf(kpiSumCols) + `
			FROM kpi_site_daily GROUP BY 1, 2, 3`, nil},
		{`UPDATE kpi_org_month SET month = ? + month * 30 * 86400000000000`, []any{nanos(first)}},
		{`ANALYZE`, nil},
	}
	if err := execFixture(ctx, db, stmts); err != nil {
		return "", "", err
	}
	return org, p, nil
}

// pgLoadKPIFleet loads the synthetic fleet of pgLoadFleet and a year of KPI
// rollups, as fixtureKPIFleet does on SQLite.
func pgLoadKPIFleet(ctx context.Context, db *DB, now time.Time, orgs int) (fleet.OrgID, fleet.PrinterID, error) {
	org, p, err := pgLoadFleet(ctx, db, now, orgs)
	if err != nil {
		return "", "", err
	}
	first := kpi.Day(now.AddDate(-1, 0, 0))
	cols := strings.Join(append(append([]string{}, kpiSumCols...), kpiHourCols...), ", ")
	sums := `1 + i % 3, i % 5 / 4, 10 + i % 7, 9 + i % 7, 8 + i % 5, 150.0 + i % 50, 1000.0, 3.5, 9.0, 30000.0 + i % 1000 * 30, 20000.0`
	model := `'Jet 42' || (substr(%s, 5)::int %% 4) || '0'`
	stmts := []loadStmt{
		{`UPDATE printers SET model = ` + fmt.Sprintf(model, "org_id"), nil},
		{`INSERT INTO kpi_site_daily (org_id, site_id, model, material, day, weekday, ` + cols + `)
			SELECT s.org_id, s.id, ` + fmt.Sprintf(model, "s.org_id") + `, 'M' || k, $1::bigint + i * 86400000000000, ($2::int + i) % 7, ` + sums + `, ` + hourValues("i") + `
			FROM sites s, generate_series(0, 364) i, generate_series(0, $3::int - 1) k`, []any{nanos(first), int(first.Weekday()), kpiMaterials}},
		{`INSERT INTO kpi_daily (printer_id, day, material, org_id, site_id, model, weekday, ` + cols + `)
			SELECT p.id, $1::bigint + i * 86400000000000, 'M0', p.org_id, p.site_id, p.model, ($2::int + i) % 7, ` + sums + `, ` + hourValues("i") + `
			FROM printers p, generate_series(0, 364) i WHERE p.org_id = $3`, []any{nanos(first), int(first.Weekday()), org}},
		{`INSERT INTO kpi_org_month (model, month, org_id, ` + strings.Join(kpiSumCols, ", ") + `)
			SELECT model, $1::bigint + (day - $1::bigint) / (30 * 86400000000000) * 30 * 86400000000000, org_id, ` + sumOf(kpiSumCols) + `
			FROM kpi_site_daily GROUP BY 1, 2, 3`, []any{nanos(first)}},
		{`ANALYZE`, nil},
	}
	if err := execFixture(ctx, db, stmts); err != nil {
		return "", "", err
	}
	return org, p, nil
}

// The page fixture beyond fixtureKPIFleet. The read organisation has 100
// printers; the read printer is one of them.
const (
	pagesParts       = 40   // parts of every job of the read organisation
	pagesLayers      = 1500 // layers of a finished job; the current job is half printed
	pagesSnapshotSec = 300  // counters and consumables every 5 minutes, as the Command Center reads them
	pagesEventsSec   = 3 * 3600
	pagesPastAlerts  = 5000 // resolved alerts of the read organisation in the year
	pagesOtherAlerts = 50   // resolved alerts of every other organisation
	// PagesCurrentJob is the job every printer of the pages fixture is
	// printing.
	PagesCurrentJob = "job-current"
)

// PagesFixture is what LoadPagesFleet fills the fleet with: its present
// (the end of its year), the JSON documents of its rows and the alert rules
// of its alerts (storetest.Fixtures and storetest.RuleKeys).
type PagesFixture struct {
	// Orgs is the number of organisations of 100 printers; 0 → 100.
	Orgs  int
	Now   time.Time
	JSON  PagesJSON
	Rules []struct {
		Key   fleet.RuleKey
		Title string
	}
}

// PagesJSON holds JSON documents shaped exactly as the store writes them,
// with tokens such as @JOB@ where the bulk insert puts its own values (see
// storetest.FixtureJSON, which converts to it).
type PagesJSON struct {
	Job, Part, Counters, Consumables, Identity, Alert string
}

// fillJSON returns an SQL expression (both dialects) that is the document
// tpl with each token replaced by the value of an SQL expression, e.g.
// fillJSON(fx.JSON.Job, map[string]string{"@JOB@": "job_id", ...}). Every token
// of tpl must have a value.
func fillJSON(tpl string, values map[string]string) string {
	expr := "'" + strings.ReplaceAll(tpl, "'", "''") + "'"
	for _, tok := range slices.Sorted(maps.Keys(values)) {
		if !strings.Contains(tpl, tok) {
			panic("fillJSON: token " + tok + " not in the document") // a fixture's own mistake
		}
		expr = "replace(" + expr + ", '" + tok + "', " + values[tok] + ")"
	}
	return expr
}

// sqlTime is the SQL expression of the RFC 3339 text of a Unix-nanos
// expression, as encoding/json writes a whole-second UTC time.
func sqlTime(ns string) string {
	return "strftime('%Y-%m-%dT%H:%M:%SZ', (" + ns + ") / 1000000000, 'unixepoch')"
}

// sqlSeries is a CTE n(i) of 0..count-1.
func sqlSeries(count int) string {
	return fmt.Sprintf("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %d) ", count-1)
}

// LoadPagesFleet loads the KPI fleet (10,000 printers in 100
// organisations, a year of jobs and KPI rollups) and everything else the
// dashboard's pages read, in bulk SQL with rows shaped as ingest writes
// them: identities and a status for every printer, every job's JSON, a
// current job per printer, parts of the read organisation's jobs, layers
// of the read printer's jobs and of the organisation's current jobs, a
// year of counters and consumables snapshots every 5 minutes for the read
// printer, events, active and resolved alerts, and notification
// deliveries with their attempts. It returns the organisation the pages
// are read as and the printer whose pages are read; the database must be
// fresh, and takes a few minutes to fill.
func LoadPagesFleet(ctx context.Context, db *DB, fx PagesFixture) (fleet.OrgID, fleet.PrinterID, error) {
	if db.dialect.kind == postgres {
		return pgLoadPagesFleet(ctx, db, fx)
	}
	org, p, err := fixtureKPIFleet(ctx, db, fx.Now, cmp.Or(fx.Orgs, fleetOrgs))
	if err != nil {
		return "", "", err
	}
	now := nanos(fx.Now)
	start := nanos(fx.Now.AddDate(-1, 0, 0))
	const hour, minute = int64(time.Hour), int64(time.Minute)
	snapshots := int(fx.Now.Sub(fx.Now.AddDate(-1, 0, 0)) / (pagesSnapshotSec * time.Second))
	// num is the printer's number within its organisation, 0..99.
	const num = `CAST(substr(%s, -4) AS INTEGER)`
	pn := fmt.Sprintf(num, "id")

	pastRule, pastTitle := ruleCase(fx.Rules, "n.i")
	activeRule, activeTitle := ruleCase(fx.Rules, "n.i / 100")
	// alertsOf inserts resolved alerts of the organisations that where
	// selects, count each over the year.
	alertsOf := func(where string, count int) string {
		step := (now - start) / int64(count)
		return `INSERT INTO alerts (id, org_id, site_id, printer_id, rule, severity, title, detail, opened_at, updated_at,
				resolved_at, revision, seen_at, acked_by, acked_at, assignee) ` + sqlSeries(count) + `
			SELECT printf('alr_%s_p%06d', o.id, n.i), o.id, replace(o.id, 'org_', 'site_'),
				printf('printer-%s-%04d', substr(o.id, 5), n.i * 7 % 100), ` + pastRule + `, 2 + n.i % 2, ` + pastTitle + `,
				'Reported by the printer.', ` + fmt.Sprintf("%d + n.i * %d", start, step) + `,
				` + fmt.Sprintf("%d + n.i * %d + 2 * %d", start, step, hour) + `, ` + fmt.Sprintf("%d + n.i * %d + 2 * %d", start, step, hour) + `,
				2, ` + fmt.Sprintf("%d + n.i * %d + 2 * %d", start, step, hour) + `, '', 0, ''
			FROM orgs o, n WHERE ` + where
	}
	stmts := []loadStmt{
		// Every printer's identity, as the identity report writes it.
		{`UPDATE printers SET model_number = 'M0P44A', serial_number = 'SN-' || name, firmware = '1.0', identity_time = ?,
			identity = ` + fillJSON(fx.JSON.Identity, map[string]string{"@PRINTER@": "id", "@NAME@": "name",
			"@MODEL@": "model", "@CREATED@": sqlTime(fmt.Sprint(start))}), []any{start}},
		// Every job's JSON: one in 17 failed, the others completed.
		{`UPDATE jobs SET data = ` + fillJSON(fx.JSON.Job, map[string]string{"@JOB@": "job_id",
			"@STATUS@":  "CASE WHEN created_at / 3600000000000 % 17 = 0 THEN 'failed' ELSE 'completed' END",
			"@CREATED@": sqlTime("created_at"), "@STARTED@": sqlTime("created_at + 60000000000"),
			"@LAYERS@": fmt.Sprint(pagesLayers), "@PHASE@": "'done'"}), nil},
		// A job printing now on every printer.
		{`INSERT INTO jobs (printer_id, job_id, org_id, created_at, report_time, data)
			SELECT id, ?, org_id, ?, ?, ` + fillJSON(fx.JSON.Job, map[string]string{"@JOB@": "'" + PagesCurrentJob + "'",
			"@STATUS@": "'printing'", "@CREATED@": sqlTime(fmt.Sprint(now - 10*hour)),
			"@STARTED@": sqlTime(fmt.Sprint(now - 10*hour + minute)), "@LAYERS@": fmt.Sprint(pagesLayers / 2),
			"@PHASE@": "'running'"}) + ` FROM printers`, []any{PagesCurrentJob, now - 10*hour, now - minute}},
		// States: six in ten printing, then cooling, idle, error.
		{`UPDATE printer_status SET
			state = CASE ` + fmt.Sprintf(num, "printer_id") + ` % 10 WHEN 6 THEN 3 WHEN 8 THEN 1 WHEN 9 THEN 4 ELSE 2 END,
			activity = CASE ` + fmt.Sprintf(num, "printer_id") + ` % 10 WHEN 6 THEN 'cooling' WHEN 8 THEN 'idle' WHEN 9 THEN 'error' ELSE 'printing' END,
			job_id = CASE WHEN ` + fmt.Sprintf(num, "printer_id") + ` % 10 IN (6, 8, 9) THEN '' ELSE ? END,
			progress = 0.5, etc_seconds = 5 * 3600, pending_jobs = ` + fmt.Sprintf(num, "printer_id") + ` % 3, time = ?`,
			[]any{PagesCurrentJob, now - 30*int64(time.Second)}},
		// Parts of every job of the read organisation.
		{`INSERT INTO parts (printer_id, part_id, job_id, created_at, report_time, data) ` + sqlSeries(pagesParts) + `
			SELECT j.printer_id, j.job_id || '-part-' || n.i, j.job_id, j.created_at, j.report_time, ` +
			fillJSON(fx.JSON.Part, map[string]string{"@PART@": "j.job_id || '-part-' || n.i", "@JOB@": "j.job_id",
				"@OUTCOME@": "CASE WHEN j.job_id = '" + PagesCurrentJob + "' THEN 'pending' WHEN n.i % 23 = 5 THEN 'warp' WHEN n.i % 31 = 7 THEN 'porosity' ELSE 'pass' END",
				"@CREATED@": sqlTime("j.created_at"), "@STARTED@": sqlTime("j.created_at + 60000000000")}) + `
			FROM jobs j, n WHERE j.org_id = ?`, []any{org}},
		// Layers of the read printer's jobs and of the organisation's current jobs.
		{`INSERT INTO layers (gateway_id, record_seq, printer_id, job_id, seq, layer_index, size_mm2, duration_sec, start_time, end_time) ` +
			sqlSeries(pagesLayers) + `
			SELECT 'gw_pages', j.rowid * 10000 + n.i, j.printer_id, j.job_id, n.i + 1, n.i + 1, 20000.0 + n.i * 37 % 9000,
				9.0 + n.i % 13 * 0.1, j.created_at + 60000000000 + n.i * 10000000000, j.created_at + 60000000000 + n.i * 10000000000 + 9500000000
			FROM jobs j, n WHERE j.org_id = ? AND (j.printer_id = ? OR j.job_id = ?) AND (j.job_id <> ? OR n.i < ?)`,
			[]any{org, p, PagesCurrentJob, PagesCurrentJob, pagesLayers / 2}},
		// A year of snapshots of the read printer.
		{`INSERT INTO consumables_history (printer_id, time, data) ` + sqlSeries(snapshots) + `
			SELECT ?, ? + n.i * ?, ` + fillJSON(fx.JSON.Consumables, consumablesValues(fmt.Sprintf("? + n.i * %d", pagesSnapshotSec*int64(time.Second)))) + ` FROM n`,
			[]any{p, start, pagesSnapshotSec * int64(time.Second), start}},
		{`INSERT INTO counters_history (printer_id, time, data) ` + sqlSeries(snapshots) + `
			SELECT ?, ? + n.i * ?, ` + fillJSON(fx.JSON.Counters, map[string]string{
			"@TIME@": sqlTime(fmt.Sprintf("? + n.i * %d", pagesSnapshotSec*int64(time.Second))), "@JOBS@": "CAST(n.i / 288 AS TEXT)",
			"@FILTER@": "CAST(100 - n.i % 17280 / 172.8 AS TEXT)"}) + ` FROM n`,
			[]any{p, start, pagesSnapshotSec * int64(time.Second), start}},
		// The latest snapshot of every printer of the organisation.
		{`INSERT INTO consumables_latest (printer_id, time, data)
			SELECT p.id, COALESCE(h.time, ?), COALESCE(h.data, ` + fillJSON(fx.JSON.Consumables, consumablesValues(fmt.Sprint(now-minute))) + `)
			FROM printers p LEFT JOIN consumables_history h ON h.printer_id = p.id AND h.time = (SELECT MAX(time) FROM consumables_history)
			WHERE p.org_id = ?`, []any{now - minute, org}},
		{`INSERT INTO counters_latest (printer_id, time, data)
			SELECT p.id, COALESCE(h.time, ?), COALESCE(h.data, ` + fillJSON(fx.JSON.Counters, map[string]string{
			"@TIME@": sqlTime(fmt.Sprint(now - minute)), "@JOBS@": "'365'", "@FILTER@": "'42.5'"}) + `)
			FROM printers p LEFT JOIN counters_history h ON h.printer_id = p.id AND h.time = (SELECT MAX(time) FROM counters_history)
			WHERE p.org_id = ?`, []any{now - minute, org}},
		// Events of the organisation's printers every 3 hours.
		{`INSERT INTO events (gateway_id, record_seq, printer_id, seq, code, severity, description, subsystem, firmware, details, time) ` +
			sqlSeries(int((now-start)/(pagesEventsSec*int64(time.Second)))) + `
			SELECT 'gw_pages', ` + pn + ` * 100000 + n.i, p.id, n.i + 1,
				CASE n.i % 4 WHEN 0 THEN '0x0401' WHEN 1 THEN '0x0702' WHEN 2 THEN '0x1103' ELSE '0x2004' END, 1 + n.i % 3,
				CASE n.i % 4 WHEN 0 THEN 'Job started' WHEN 1 THEN 'Lamp intensity below 90 %' WHEN 2 THEN 'Cleaning roll advanced' ELSE 'Build unit inserted' END,
				CASE n.i % 4 WHEN 0 THEN 'job' WHEN 1 THEN 'lamp' WHEN 2 THEN 'service-station' ELSE 'build-unit' END,
				'1.0', 'slot 1', ? + n.i * ?
			FROM printers p, n WHERE p.org_id = ?`, []any{start, pagesEventsSec * int64(time.Second), org}},
		// Resolved alerts over the year, active ones now.
		{alertsOf("o.id = ?", pagesPastAlerts), []any{org}},
		{alertsOf("o.id <> ?", pagesOtherAlerts), []any{org}},
		{`INSERT INTO alerts (id, org_id, site_id, printer_id, rule, severity, title, detail, opened_at, updated_at,
				resolved_at, revision, seen_at, acked_by, acked_at, assignee) ` + sqlSeries(150) + `
			SELECT printf('alr_%s_a%06d', o.id, n.i), o.id, replace(o.id, 'org_', 'site_'),
				printf('printer-%s-%04d', substr(o.id, 5), n.i % 100), ` + activeRule + `, 2 + n.i % 3, ` + activeTitle + `,
				'Reported by the printer.', ? - n.i * ?, ? - n.i * ?, 0, 1, ?, '', 0, ''
			FROM orgs o, n WHERE o.id = ? OR n.i < 3`, []any{now, hour, now, hour, now, org}},
		{`ANALYZE`, nil},
	}
	stmts = slices.Insert(stmts, len(stmts)-1, deliveriesFixture(fx.JSON.Alert, sqlTime, "r.v")...)
	if err := execFixture(ctx, db, stmts); err != nil {
		return "", "", err
	}
	return org, p, nil
}

// deliveriesFixture inserts deliveries of both revisions of every resolved
// alert to two targets, each sent on its first attempt, and the attempts.
// timeText is the dialect's RFC 3339 text of a Unix-nanos expression,
// revision the text of the revision r.v.
func deliveriesFixture(alertJSON string, timeText func(string) string, revision string) []loadStmt {
	return []loadStmt{
		{`INSERT INTO notify_deliveries (id, org_id, alert_id, revision, target_key, kind, target, channel_id, user_id, lang,
				alert, status, attempts, next_at, lease_until, created_at, updated_at, last_error)
			WITH r(v) AS (VALUES (1), (2)), t(k) AS (VALUES ('webhook'), ('mail'))
			SELECT 'dlv_' || a.id || '_' || r.v || t.k, a.org_id, a.id, r.v, t.k || ':' || a.org_id,
				CASE t.k WHEN 'mail' THEN 1 ELSE 2 END,
				CASE t.k WHEN 'mail' THEN 'shift@example.com' ELSE 'https://mes.example.com/hook' END, '', '', 'en', ` +
			fillJSON(alertJSON, map[string]string{"@ALERT@": "a.id", "@SITE@": "a.site_id", "@PRINTER@": "a.printer_id",
				"@NAME@": "a.printer_id", "@RULE@": "a.rule", "@TITLE@": "a.title", "@CREATED@": timeText("a.opened_at"),
				"@STARTED@": timeText("CASE r.v WHEN 1 THEN a.opened_at ELSE a.resolved_at END"), "@REVISION@": revision}) + `,
				2, 1, 0, 0, CASE r.v WHEN 1 THEN a.opened_at ELSE a.resolved_at END, CASE r.v WHEN 1 THEN a.opened_at ELSE a.resolved_at END + 2000000000, ''
			FROM alerts a, r, t WHERE a.resolved_at <> 0`, nil},
		{`INSERT INTO notify_attempts (delivery_id, attempt, at, status, error, org_id)
			SELECT id, 1, updated_at, 2, '', org_id FROM notify_deliveries`, nil},
	}
}

// ruleCase returns the SQL expressions of the key and the title of the
// alert rule of number i (an SQL expression), cycling through the rules.
func ruleCase(rules []struct {
	Key   fleet.RuleKey
	Title string
}, i string) (key, title string) {
	var k, t strings.Builder
	fmt.Fprintf(&k, "CASE (%s) %% %d", i, len(rules))
	fmt.Fprintf(&t, "CASE (%s) %% %d", i, len(rules))
	for n, r := range rules {
		fmt.Fprintf(&k, " WHEN %d THEN '%s'", n, r.Key)
		fmt.Fprintf(&t, " WHEN %d THEN '%s'", n, r.Title)
	}
	return k.String() + " END", t.String() + " END"
}

// consumablesValues fills a consumables snapshot taken at the Unix-nanos
// expression at, the n-th of the year (n.i): agents refilled weekly, the
// cleaning roll replaced monthly, lamps and printheads wearing all year.
func consumablesValues(at string) map[string]string {
	i := "n.i"
	if !strings.Contains(at, "n.i") {
		i = "0"
	}
	return map[string]string{
		"@TIME@":     sqlTime(at),
		"@AGENT@":    "CAST(100 - " + i + " % 2016 * 0.04 AS TEXT)",
		"@ROLL@":     "CAST(" + i + " % 8640 / 86.4 AS TEXT)",
		"@LAMP@":     "CAST(100 - " + i + " / 5256.0 AS TEXT)",
		"@HEAD@":     "CAST(" + i + " / 12.0 AS TEXT)",
		"@RECYCLED@": "CAST(20 + " + i + " % 288 / 10.0 AS TEXT)",
	}
}
