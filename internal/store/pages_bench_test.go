package store

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/dashboard"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/storetest"
)

// The page fixture beyond loadKPIFleet. The read organisation has 100
// printers; the read printer is one of them.
const (
	pagesParts       = 40   // parts of every job of the read organisation
	pagesLayers      = 1500 // layers of a finished job; the current job is half printed
	pagesSnapshotSec = 300  // counters and consumables every 5 minutes, as the Command Center reads them
	pagesEventsSec   = 3 * 3600
	pagesPastAlerts  = 5000 // resolved alerts of the read organisation in the year
	pagesOtherAlerts = 50   // resolved alerts of every other organisation
	pagesCurrentJob  = "job-current"
)

// sqlTime is the SQL expression of the RFC 3339 text of a Unix-nanos
// expression, as encoding/json writes a whole-second UTC time.
func sqlTime(ns string) string {
	return "strftime('%Y-%m-%dT%H:%M:%SZ', (" + ns + ") / 1000000000, 'unixepoch')"
}

// sqlSeries is a CTE n(i) of 0..count-1.
func sqlSeries(count int) string {
	return fmt.Sprintf("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %d) ", count-1)
}

// loadPagesFleet loads the KPI fleet (10,000 printers in 100
// organisations, a year of jobs and KPI rollups) and everything else the
// dashboard's pages read, in bulk SQL with rows shaped as ingest writes
// them: identities and a status for every printer, every job's JSON, a
// current job per printer, parts of the read organisation's jobs, layers
// of the read printer's jobs and of the organisation's current jobs, a
// year of counters and consumables snapshots every 5 minutes for the read
// printer, events, active and resolved alerts, and notification
// deliveries with their attempts.
func loadPagesFleet(b *testing.B, db *DB) (fleet.OrgID, fleet.PrinterID) {
	if db.dialect.kind == postgres {
		return pgLoadPagesFleet(b, db)
	}
	b.Helper()
	org, p := loadKPIFleet(b, db)
	fx := storetest.Fixtures()
	now := nanos(storetest.T0)
	start := nanos(storetest.T0.AddDate(-1, 0, 0))
	const hour, minute = int64(time.Hour), int64(time.Minute)
	snapshots := int(storetest.T0.Sub(storetest.T0.AddDate(-1, 0, 0)) / (pagesSnapshotSec * time.Second))
	// num is the printer's number within its organisation, 0..99.
	const num = `CAST(substr(%s, -4) AS INTEGER)`
	pn := fmt.Sprintf(num, "id")

	pastRule, pastTitle := ruleCase("n.i")
	activeRule, activeTitle := ruleCase("n.i / 100")
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
			identity = ` + storetest.FillJSON(fx.Identity, map[string]string{"@PRINTER@": "id", "@NAME@": "name",
			"@MODEL@": "model", "@CREATED@": sqlTime(fmt.Sprint(start))}), []any{start}},
		// Every job's JSON: one in 17 failed, the others completed.
		{`UPDATE jobs SET data = ` + storetest.FillJSON(fx.Job, map[string]string{"@JOB@": "job_id",
			"@STATUS@":  "CASE WHEN created_at / 3600000000000 % 17 = 0 THEN 'failed' ELSE 'completed' END",
			"@CREATED@": sqlTime("created_at"), "@STARTED@": sqlTime("created_at + 60000000000"),
			"@LAYERS@": fmt.Sprint(pagesLayers), "@PHASE@": "'done'"}), nil},
		// A job printing now on every printer.
		{`INSERT INTO jobs (printer_id, job_id, org_id, created_at, report_time, data)
			SELECT id, ?, org_id, ?, ?, ` + storetest.FillJSON(fx.Job, map[string]string{"@JOB@": "'" + pagesCurrentJob + "'",
			"@STATUS@": "'printing'", "@CREATED@": sqlTime(fmt.Sprint(now - 10*hour)),
			"@STARTED@": sqlTime(fmt.Sprint(now - 10*hour + minute)), "@LAYERS@": fmt.Sprint(pagesLayers / 2),
			"@PHASE@": "'running'"}) + ` FROM printers`, []any{pagesCurrentJob, now - 10*hour, now - minute}},
		// States: six in ten printing, then cooling, idle, error.
		{`UPDATE printer_status SET
			state = CASE ` + fmt.Sprintf(num, "printer_id") + ` % 10 WHEN 6 THEN 3 WHEN 8 THEN 1 WHEN 9 THEN 4 ELSE 2 END,
			activity = CASE ` + fmt.Sprintf(num, "printer_id") + ` % 10 WHEN 6 THEN 'cooling' WHEN 8 THEN 'idle' WHEN 9 THEN 'error' ELSE 'printing' END,
			job_id = CASE WHEN ` + fmt.Sprintf(num, "printer_id") + ` % 10 IN (6, 8, 9) THEN '' ELSE ? END,
			progress = 0.5, etc_seconds = 5 * 3600, pending_jobs = ` + fmt.Sprintf(num, "printer_id") + ` % 3, time = ?`,
			[]any{pagesCurrentJob, now - 30*int64(time.Second)}},
		// Parts of every job of the read organisation.
		{`INSERT INTO parts (printer_id, part_id, job_id, created_at, report_time, data) ` + sqlSeries(pagesParts) + `
			SELECT j.printer_id, j.job_id || '-part-' || n.i, j.job_id, j.created_at, j.report_time, ` +
			storetest.FillJSON(fx.Part, map[string]string{"@PART@": "j.job_id || '-part-' || n.i", "@JOB@": "j.job_id",
				"@OUTCOME@": "CASE WHEN j.job_id = '" + pagesCurrentJob + "' THEN 'pending' WHEN n.i % 23 = 5 THEN 'warp' WHEN n.i % 31 = 7 THEN 'porosity' ELSE 'pass' END",
				"@CREATED@": sqlTime("j.created_at"), "@STARTED@": sqlTime("j.created_at + 60000000000")}) + `
			FROM jobs j, n WHERE j.org_id = ?`, []any{org}},
		// Layers of the read printer's jobs and of the organisation's current jobs.
		{`INSERT INTO layers (gateway_id, record_seq, printer_id, job_id, seq, layer_index, size_mm2, duration_sec, start_time, end_time) ` +
			sqlSeries(pagesLayers) + `
			SELECT 'gw_pages', j.rowid * 10000 + n.i, j.printer_id, j.job_id, n.i + 1, n.i + 1, 20000.0 + n.i * 37 % 9000,
				9.0 + n.i % 13 * 0.1, j.created_at + 60000000000 + n.i * 10000000000, j.created_at + 60000000000 + n.i * 10000000000 + 9500000000
			FROM jobs j, n WHERE j.org_id = ? AND (j.printer_id = ? OR j.job_id = ?) AND (j.job_id <> ? OR n.i < ?)`,
			[]any{org, p, pagesCurrentJob, pagesCurrentJob, pagesLayers / 2}},
		// A year of snapshots of the read printer.
		{`INSERT INTO consumables_history (printer_id, time, data) ` + sqlSeries(snapshots) + `
			SELECT ?, ? + n.i * ?, ` + storetest.FillJSON(fx.Consumables, consumablesValues(fmt.Sprintf("? + n.i * %d", pagesSnapshotSec*int64(time.Second)))) + ` FROM n`,
			[]any{p, start, pagesSnapshotSec * int64(time.Second), start}},
		{`INSERT INTO counters_history (printer_id, time, data) ` + sqlSeries(snapshots) + `
			SELECT ?, ? + n.i * ?, ` + storetest.FillJSON(fx.Counters, map[string]string{
			"@TIME@": sqlTime(fmt.Sprintf("? + n.i * %d", pagesSnapshotSec*int64(time.Second))), "@JOBS@": "CAST(n.i / 288 AS TEXT)",
			"@FILTER@": "CAST(100 - n.i % 17280 / 172.8 AS TEXT)"}) + ` FROM n`,
			[]any{p, start, pagesSnapshotSec * int64(time.Second), start}},
		// The latest snapshot of every printer of the organisation.
		{`INSERT INTO consumables_latest (printer_id, time, data)
			SELECT p.id, COALESCE(h.time, ?), COALESCE(h.data, ` + storetest.FillJSON(fx.Consumables, consumablesValues(fmt.Sprint(now-minute))) + `)
			FROM printers p LEFT JOIN consumables_history h ON h.printer_id = p.id AND h.time = (SELECT MAX(time) FROM consumables_history)
			WHERE p.org_id = ?`, []any{now - minute, org}},
		{`INSERT INTO counters_latest (printer_id, time, data)
			SELECT p.id, COALESCE(h.time, ?), COALESCE(h.data, ` + storetest.FillJSON(fx.Counters, map[string]string{
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
	stmts = slices.Insert(stmts, len(stmts)-1, deliveriesFixture(fx.Alert, sqlTime, "r.v")...)
	execAll(b, db, stmts)
	return org, p
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
			storetest.FillJSON(alertJSON, map[string]string{"@ALERT@": "a.id", "@SITE@": "a.site_id", "@PRINTER@": "a.printer_id",
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
func ruleCase(i string) (key, title string) {
	var k, t strings.Builder
	fmt.Fprintf(&k, "CASE (%s) %% %d", i, len(storetest.RuleKeys))
	fmt.Fprintf(&t, "CASE (%s) %% %d", i, len(storetest.RuleKeys))
	for n, r := range storetest.RuleKeys {
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

// BenchmarkPages reads every GET page of the dashboard as an administrator
// of an organisation of 100 printers, in a fleet of 10,000 printers with a
// year of history, and reports the server time of each against the budget
// of 100 ms (see storetest.BenchPages).
func benchPages(b *testing.B, dsn string) {
	db := openDSN(b, dsn)
	began := time.Now()
	org, p := loadPagesFleet(b, db)
	cookie := storetest.SeedPagesOrg(b, db, org)
	b.Logf("fleet loaded in %v", time.Since(began).Round(time.Millisecond))
	d := dashboard.Deps{Sessions: db, TwoFactor: db, Members: db, Sites: db, Tokens: db, Printers: db, Jobs: db,
		History: db, Alerts: db, AlertRules: db, WorstAlerts: db, Channels: db, NotifyPrefs: db, KPIs: db}
	h := dashboard.NewHandler(d, dashboard.NewHub(), dashboard.Options{Clock: clock.NewManual(storetest.T0)})
	storetest.BenchPages(b, h, cookie, storetest.DashboardPages(p, pagesCurrentJob))
}
