package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// pgSQLTime is the SQL expression of the RFC 3339 text of a Unix-nanos
// expression, as encoding/json writes a whole-second UTC time.
func pgSQLTime(ns string) string {
	return `to_char(to_timestamp(((` + ns + `) / 1000000000)::double precision) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')`
}

// pgSQLSeries is a CTE n(i) of 0..count-1.
func pgSQLSeries(count int) string {
	return fmt.Sprintf("WITH n(i) AS (SELECT generate_series(0, %d)) ", count-1)
}

// pgNum is the printer's number within its organisation (0..99) of a
// printer ID expression.
func pgNum(id string) string { return "right(" + id + ", 4)::int" }

// pgLoadPagesFleet loads the KPI fleet and everything else the dashboard's
// pages read, in bulk SQL with rows shaped as ingest writes them; see the
// SQLite fixture's for the inventory.
func pgLoadPagesFleet(ctx context.Context, db *DB, fx PagesFixture) (fleet.OrgID, fleet.PrinterID, error) {
	org, p, err := pgLoadKPIFleet(ctx, db, fx.Now, cmp.Or(fx.Orgs, fleetOrgs))
	if err != nil {
		return "", "", err
	}
	now := nanos(fx.Now)
	start := nanos(fx.Now.AddDate(-1, 0, 0))
	const hour, minute, second = int64(time.Hour), int64(time.Minute), int64(time.Second)
	snapshots := int(fx.Now.Sub(fx.Now.AddDate(-1, 0, 0)) / (pagesSnapshotSec * time.Second))
	snapAt := fmt.Sprintf("%d + n.i * %d::bigint", start, pagesSnapshotSec*second)

	pastRule, pastTitle := ruleCase(fx.Rules, "n.i")
	activeRule, activeTitle := ruleCase(fx.Rules, "n.i / 100")
	// alertsOf inserts resolved alerts of the organisations that where
	// selects, count each over the year.
	alertsOf := func(where string, count int) string {
		opened := fmt.Sprintf("%d + n.i * %d::bigint", start, (now-start)/int64(count))
		resolved := fmt.Sprintf("%s + %d", opened, 2*hour)
		return `INSERT INTO alerts (id, org_id, site_id, printer_id, rule, severity, title, detail, opened_at, updated_at,
				resolved_at, revision, seen_at, acked_by, acked_at, assignee) ` + pgSQLSeries(count) + `
			SELECT format('alr_%s_p%s', o.id, lpad(n.i::text, 6, '0')), o.id, replace(o.id, 'org_', 'site_'),
				format('printer-%s-%s', substr(o.id, 5), lpad((n.i * 7 % 100)::text, 4, '0')), ` + pastRule + `, 2 + n.i % 2, ` + pastTitle + `,
				'Reported by the printer.', ` + opened + `, ` + resolved + `, ` + resolved + `, 2, ` + resolved + `, '', 0, ''
			FROM orgs o, n WHERE ` + where
	}
	consumables := func(at, i string) string {
		return fillJSON(fx.JSON.Consumables, map[string]string{
			"@TIME@":     pgSQLTime(at),
			"@AGENT@":    "CAST(100 - " + i + " % 2016 * 0.04 AS TEXT)",
			"@ROLL@":     "CAST(round(" + i + " % 8640 / 86.4, 3) AS TEXT)",
			"@LAMP@":     "CAST(round(100 - " + i + " / 5256.0, 3) AS TEXT)",
			"@HEAD@":     "CAST(round(" + i + " / 12.0, 3) AS TEXT)",
			"@RECYCLED@": "CAST(20 + " + i + " % 288 / 10.0 AS TEXT)",
		})
	}
	counters := func(at, i string) string {
		return fillJSON(fx.JSON.Counters, map[string]string{"@TIME@": pgSQLTime(at), "@JOBS@": "CAST(" + i + " / 288 AS TEXT)",
			"@FILTER@": "CAST(round(100 - " + i + " % 17280 / 172.8, 3) AS TEXT)"})
	}
	job := func(id, status, created, layers, phase string) string {
		return fillJSON(fx.JSON.Job, map[string]string{"@JOB@": id, "@STATUS@": status, "@CREATED@": pgSQLTime(created),
			"@STARTED@": pgSQLTime(created + " + 60000000000"), "@LAYERS@": layers, "@PHASE@": phase})
	}
	stmts := []loadStmt{
		// Every printer's identity, as the identity report writes it.
		{`UPDATE printers SET model_number = 'M0P44A', serial_number = 'SN-' || name, firmware = '1.0', identity_time = $1,
			identity = ` + fillJSON(fx.JSON.Identity, map[string]string{"@PRINTER@": "id", "@NAME@": "name",
			"@MODEL@": "model", "@CREATED@": pgSQLTime("$1::bigint")}), []any{start}},
		// Every job's JSON: one in 17 failed, the others completed.
		{`UPDATE jobs SET data = ` + job("job_id", "CASE WHEN created_at / 3600000000000 % 17 = 0 THEN 'failed' ELSE 'completed' END",
			"created_at", fmt.Sprintf("'%d'", pagesLayers), "'done'"), nil},
		// A job printing now on every printer.
		{`INSERT INTO jobs (printer_id, job_id, org_id, created_at, report_time, data)
			SELECT id, $1, org_id, $2::bigint, $3::bigint, ` + job("$1::text", "'printing'", "$2::bigint",
			fmt.Sprintf("'%d'", pagesLayers/2), "'running'") + ` FROM printers`, []any{PagesCurrentJob, now - 10*hour, now - minute}},
		// States: six in ten printing, then cooling, idle, error.
		{`UPDATE printer_status SET
			state = CASE ` + pgNum("printer_id") + ` % 10 WHEN 6 THEN 3 WHEN 8 THEN 1 WHEN 9 THEN 4 ELSE 2 END,
			activity = CASE ` + pgNum("printer_id") + ` % 10 WHEN 6 THEN 'cooling' WHEN 8 THEN 'idle' WHEN 9 THEN 'error' ELSE 'printing' END,
			job_id = CASE WHEN ` + pgNum("printer_id") + ` % 10 IN (6, 8, 9) THEN '' ELSE $1 END,
			progress = 0.5, etc_seconds = 5 * 3600, pending_jobs = ` + pgNum("printer_id") + ` % 3, time = $2`,
			[]any{PagesCurrentJob, now - 30*second}},
		// Parts of every job of the read organisation.
		{`INSERT INTO parts (printer_id, part_id, job_id, created_at, report_time, data) ` + pgSQLSeries(pagesParts) + `
			SELECT j.printer_id, j.job_id || '-part-' || n.i, j.job_id, j.created_at, j.report_time, ` +
			fillJSON(fx.JSON.Part, map[string]string{"@PART@": "j.job_id || '-part-' || n.i", "@JOB@": "j.job_id",
				"@OUTCOME@": "CASE WHEN j.job_id = '" + PagesCurrentJob + "' THEN 'pending' WHEN n.i % 23 = 5 THEN 'warp' WHEN n.i % 31 = 7 THEN 'porosity' ELSE 'pass' END",
				"@CREATED@": pgSQLTime("j.created_at"), "@STARTED@": pgSQLTime("j.created_at + 60000000000")}) + `
			FROM jobs j, n WHERE j.org_id = $1`, []any{org}},
		// Layers of the read printer's jobs and of the organisation's current jobs.
		{`INSERT INTO layers (gateway_id, record_seq, printer_id, job_id, seq, layer_index, size_mm2, duration_sec, start_time, end_time) ` +
			pgSQLSeries(pagesLayers) + `
			SELECT 'gw_pages', j.r * 10000 + n.i, j.printer_id, j.job_id, n.i + 1, n.i + 1, 20000.0 + n.i * 37 % 9000,
				9.0 + n.i % 13 * 0.1, j.created_at + 60000000000 + n.i * 10000000000::bigint, j.created_at + 60000000000 + n.i * 10000000000::bigint + 9500000000
			FROM (SELECT printer_id, job_id, created_at, row_number() OVER (ORDER BY printer_id, job_id) AS r FROM jobs
				WHERE org_id = $1 AND (printer_id = $2 OR job_id = $3)) j, n
			WHERE j.job_id <> $3 OR n.i < $4`,
			[]any{org, p, PagesCurrentJob, pagesLayers / 2}},
		// A year of snapshots of the read printer.
		{`INSERT INTO consumables_history (printer_id, time, data) ` + pgSQLSeries(snapshots) + `
			SELECT $1, ` + snapAt + `, ` + consumables(snapAt, "n.i") + ` FROM n`, []any{p}},
		{`INSERT INTO counters_history (printer_id, time, data) ` + pgSQLSeries(snapshots) + `
			SELECT $1, ` + snapAt + `, ` + counters(snapAt, "n.i") + ` FROM n`, []any{p}},
		// The latest snapshot of every printer of the organisation.
		{`INSERT INTO consumables_latest (printer_id, time, data)
			SELECT p.id, COALESCE(h.time, $1::bigint), COALESCE(h.data, ` + consumables("$1::bigint", "0") + `)
			FROM printers p LEFT JOIN consumables_history h ON h.printer_id = p.id AND h.time = (SELECT MAX(time) FROM consumables_history)
			WHERE p.org_id = $2`, []any{now - minute, org}},
		{`INSERT INTO counters_latest (printer_id, time, data)
			SELECT p.id, COALESCE(h.time, $1::bigint), COALESCE(h.data, ` + counters("$1::bigint", "0") + `)
			FROM printers p LEFT JOIN counters_history h ON h.printer_id = p.id AND h.time = (SELECT MAX(time) FROM counters_history)
			WHERE p.org_id = $2`, []any{now - minute, org}},
		// Events of the organisation's printers every 3 hours.
		{`INSERT INTO events (gateway_id, record_seq, printer_id, seq, code, severity, description, subsystem, firmware, details, time) ` +
			pgSQLSeries(int((now-start)/(pagesEventsSec*second))) + `
			SELECT 'gw_pages', ` + pgNum("p.id") + ` * 100000 + n.i, p.id, n.i + 1,
				CASE n.i % 4 WHEN 0 THEN '0x0401' WHEN 1 THEN '0x0702' WHEN 2 THEN '0x1103' ELSE '0x2004' END, 1 + n.i % 3,
				CASE n.i % 4 WHEN 0 THEN 'Job started' WHEN 1 THEN 'Lamp intensity below 90 %' WHEN 2 THEN 'Cleaning roll advanced' ELSE 'Build unit inserted' END,
				CASE n.i % 4 WHEN 0 THEN 'job' WHEN 1 THEN 'lamp' WHEN 2 THEN 'service-station' ELSE 'build-unit' END,
				'1.0', 'slot 1', ` + fmt.Sprintf("%d + n.i * %d::bigint", start, pagesEventsSec*second) + `
			FROM printers p, n WHERE p.org_id = $1`, []any{org}},
		// Resolved alerts over the year, active ones now.
		{alertsOf("o.id = $1", pagesPastAlerts), []any{org}},
		{alertsOf("o.id <> $1", pagesOtherAlerts), []any{org}},
		{`INSERT INTO alerts (id, org_id, site_id, printer_id, rule, severity, title, detail, opened_at, updated_at,
				resolved_at, revision, seen_at, acked_by, acked_at, assignee) ` + pgSQLSeries(150) + `
			SELECT format('alr_%s_a%s', o.id, lpad(n.i::text, 6, '0')), o.id, replace(o.id, 'org_', 'site_'),
				format('printer-%s-%s', substr(o.id, 5), lpad((n.i % 100)::text, 4, '0')), ` + activeRule + `, 2 + n.i % 3, ` + activeTitle + `,
				'Reported by the printer.', $1::bigint - n.i * $2::bigint, $1::bigint - n.i * $2::bigint, 0, 1, $1::bigint, '', 0, ''
			FROM orgs o, n WHERE o.id = $3 OR n.i < 3`, []any{now, hour, org}},
		{`ANALYZE`, nil},
	}
	stmts = slices.Insert(stmts, len(stmts)-1, deliveriesFixture(fx.JSON.Alert, pgSQLTime, "r.v::text")...)
	if err := execFixture(ctx, db, stmts); err != nil {
		return "", "", err
	}
	return org, p, nil
}
