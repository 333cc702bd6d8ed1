package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/kpi"
)

// The rollup tables' columns (migration 0005): the additive sums in the
// order of kpi.Sums, and the printing and cooling seconds by hour.
var (
	kpiSumCols  = []string{"jobs", "jobs_failed", "parts", "parts_inspected", "parts_passed", "density_volume", "volume_cm3", "parts_kg", "recyclable_kg", "printing_sec", "cooling_sec"}
	kpiHourCols = hourCols()
)

func hourCols() []string {
	var c []string
	for _, k := range []string{"p", "c"} {
		for h := range 24 {
			c = append(c, fmt.Sprintf("%s%d", k, h))
		}
	}
	return c
}

// sumOf returns "SUM(a), SUM(b), …" of cols.
func sumOf(cols []string) string {
	s := make([]string, len(cols))
	for i, c := range cols {
		s[i] = "SUM(" + c + ")"
	}
	return strings.Join(s, ", ")
}

// sumsDest are the scan destinations of kpiSumCols in s.
func sumsDest(s *kpi.Sums) []any {
	return []any{&s.Jobs, &s.JobsFailed, &s.Parts, &s.PartsInspected, &s.PartsPassed, &s.DensityVolume,
		&s.VolumeCM3, &s.PartsKG, &s.RecyclableKG, &s.PrintingSec, &s.CoolingSec}
}

func sumsArgs(s kpi.Sums) []any {
	return []any{s.Jobs, s.JobsFailed, s.Parts, s.PartsInspected, s.PartsPassed, s.DensityVolume,
		s.VolumeCM3, s.PartsKG, s.RecyclableKG, s.PrintingSec, s.CoolingSec}
}

func hoursArgs(h kpi.Hours) []any {
	a := make([]any, 0, 48)
	for _, v := range h.Printing {
		a = append(a, v)
	}
	for _, v := range h.Cooling {
		a = append(a, v)
	}
	return a
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

// kpiTouched collects the (printer, day) rollup rows an envelope changes.
type kpiTouched map[fleet.PrinterID]map[time.Time]bool

// touch adds the days of the stored version of a job or part record's job:
// called before and after the record is written, it covers the old and
// the new version.
func (k kpiTouched) touch(ctx context.Context, tx *txn, rec fleet.Record) error {
	var job string
	switch {
	case rec.Job != nil:
		job = rec.Job.ID
	case rec.Part != nil:
		// The part's stored job, which the record may be about to change.
		err := tx.QueryRowContext(ctx, `SELECT job_id FROM parts WHERE printer_id = ? AND part_id = ?`,
			rec.PrinterID, rec.Part.ID).Scan(&job)
		if errors.Is(err, sql.ErrNoRows) {
			job = rec.Part.JobID
		} else if err != nil {
			return err
		}
	default:
		return nil
	}
	var data string
	var report int64
	err := tx.QueryRowContext(ctx, `SELECT data, report_time FROM jobs WHERE printer_id = ? AND job_id = ?`,
		rec.PrinterID, job).Scan(&data, &report)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return err
	default:
		var j fleet.Job
		if err := json.Unmarshal([]byte(data), &j); err != nil {
			return err
		}
		days := k[rec.PrinterID]
		if days == nil {
			days = map[time.Time]bool{}
			k[rec.PrinterID] = days
		}
		for _, d := range kpi.Days(kpi.JobReport{Job: j, Report: fromNanos(report)}) {
			days[d] = true
		}
	}
	if rec.Part != nil && rec.Part.JobID != job {
		return k.touch(ctx, tx, fleet.Record{PrinterID: rec.PrinterID, Job: &fleet.Job{ID: rec.Part.JobID}})
	}
	return nil
}

type siteKey struct {
	org        fleet.OrgID
	site       fleet.SiteID
	model, mat string
	day        int64
}

type monthKey struct {
	org   fleet.OrgID
	model string
	month int64
}

// rebuild recomputes the touched printer days from the jobs and parts
// tables, then the site days and organisation months they roll up into.
func (k kpiTouched) rebuild(ctx context.Context, tx *txn) error {
	if len(k) == 0 {
		return nil
	}
	var keys []string
	for p, days := range k {
		for d := range days {
			keys = append(keys, fmt.Sprintf("%s\x00%d", p, d.UnixNano()))
		}
	}
	if err := tx.lock(ctx, lockPrinterDay, keys); err != nil {
		return fmt.Errorf("kpi rollup: %w", err)
	}
	sites := map[siteKey]bool{}
	for p, days := range k {
		var org fleet.OrgID
		var site fleet.SiteID
		var model string
		err := tx.QueryRowContext(ctx, `SELECT org_id, site_id, model FROM printers WHERE id = ?`, p).Scan(&org, &site, &model)
		if err != nil {
			return fmt.Errorf("kpi rollup of printer %s: %w", p, err)
		}
		for d := range days {
			if err := rebuildPrinterDay(ctx, tx, p, org, site, model, d, sites); err != nil {
				return fmt.Errorf("kpi rollup of printer %s on %s: %w", p, d.Format(time.DateOnly), err)
			}
		}
	}
	keys = keys[:0]
	for s := range sites {
		keys = append(keys, fmt.Sprintf("%s\x00%s\x00%s\x00%s\x00%d", s.org, s.site, s.model, s.mat, s.day))
	}
	if err := tx.lock(ctx, lockSiteDay, keys); err != nil {
		return fmt.Errorf("kpi rollup: %w", err)
	}
	months := map[monthKey]bool{}
	for s := range sites {
		if err := rebuildSiteDay(ctx, tx, s); err != nil {
			return fmt.Errorf("kpi rollup of site %s: %w", s.site, err)
		}
		months[monthKey{s.org, s.model, nanos(kpi.Month(fromNanos(s.day)))}] = true
	}
	keys = keys[:0]
	for m := range months {
		keys = append(keys, fmt.Sprintf("%s\x00%s\x00%d", m.org, m.model, m.month))
	}
	if err := tx.lock(ctx, lockOrgMonth, keys); err != nil {
		return fmt.Errorf("kpi rollup: %w", err)
	}
	for m := range months {
		if err := rebuildOrgMonth(ctx, tx, m); err != nil {
			return fmt.Errorf("kpi rollup of org %s: %w", m.org, err)
		}
	}
	return nil
}

// The PostgreSQL advisory lock classes. Concurrent rebuilds of the same
// rollup rows are serialised by the first three, taken class by class,
// each in ascending order, so that two transactions never wait for each
// other in a cycle.
const (
	lockPrinterDay = 7301
	lockSiteDay    = 7302
	lockOrgMonth   = 7303
	lockDelivery   = 7304 // one alert's deliveries to one recipient (notify.go)
)

// rebuildPrinterDay replaces printer p's rows of day d and adds the site
// rows before and after to sites.
func rebuildPrinterDay(ctx context.Context, tx *txn, p fleet.PrinterID, org fleet.OrgID, site fleet.SiteID, model string, d time.Time, sites map[siteKey]bool) error {
	dn := nanos(d)
	rows, err := tx.QueryContext(ctx, `SELECT org_id, site_id, model, material FROM kpi_daily WHERE printer_id = ? AND day = ?`, p, dn)
	if err != nil {
		return err
	}
	for rows.Next() {
		s := siteKey{day: dn}
		if err := rows.Scan(&s.org, &s.site, &s.model, &s.mat); err != nil {
			rows.Close()
			return err
		}
		sites[s] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	jobs, err := jobsAround(ctx, tx, p, d)
	if err != nil {
		return err
	}
	parts := map[string][]fleet.Part{}
	for _, j := range jobs {
		if !kpi.AttributedTo(j.Job).Equal(d) {
			continue
		}
		ps, err := jobPartsTx(ctx, tx, p, j.Job.ID)
		if err != nil {
			return err
		}
		parts[j.Job.ID] = ps
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM kpi_daily WHERE printer_id = ? AND day = ?`, p, dn); err != nil {
		return err
	}
	cols := append(append([]string{"printer_id", "day", "material", "org_id", "site_id", "model", "weekday"}, kpiSumCols...), kpiHourCols...)
	ins := `INSERT INTO kpi_daily (` + strings.Join(cols, ", ") + `) VALUES (` + placeholders(len(cols)) + `)`
	for _, r := range kpi.Rollup(d, jobs, parts) {
		args := append(append([]any{p, dn, r.Material, org, site, model, int(d.Weekday())}, sumsArgs(r.Sums)...), hoursArgs(r.Hours)...)
		if _, err := tx.ExecContext(ctx, ins, args...); err != nil {
			return err
		}
		sites[siteKey{org, site, model, r.Material, dn}] = true
	}
	return nil
}

// jobsAround returns printer p's jobs created in the MaxSpan before day d
// and on d: every job that can count on d.
func jobsAround(ctx context.Context, tx *txn, p fleet.PrinterID, d time.Time) ([]kpi.JobReport, error) {
	rows, err := tx.QueryContext(ctx, `SELECT data, report_time FROM jobs WHERE printer_id = ? AND created_at >= ? AND created_at < ?`,
		p, nanos(d.Add(-kpi.MaxSpan)), nanos(d.Add(24*time.Hour)))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []kpi.JobReport
	for rows.Next() {
		var data string
		var report int64
		if err := rows.Scan(&data, &report); err != nil {
			return nil, err
		}
		var j fleet.Job
		if err := json.Unmarshal([]byte(data), &j); err != nil {
			return nil, err
		}
		out = append(out, kpi.JobReport{Job: j, Report: fromNanos(report)})
	}
	return out, rows.Err()
}

func jobPartsTx(ctx context.Context, tx *txn, p fleet.PrinterID, job string) ([]fleet.Part, error) {
	rows, err := tx.QueryContext(ctx, `SELECT data FROM parts WHERE printer_id = ? AND job_id = ?`, p, job)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []fleet.Part
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		var v fleet.Part
		if err := json.Unmarshal([]byte(data), &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// rebuildSiteDay replaces a site row with the sum of its printer rows.
func rebuildSiteDay(ctx context.Context, tx *txn, s siteKey) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM kpi_site_daily WHERE org_id = ? AND site_id = ? AND model = ? AND material = ? AND day = ?`,
		s.org, s.site, s.model, s.mat, s.day); err != nil {
		return err
	}
	cols := append(append([]string{}, kpiSumCols...), kpiHourCols...)
	_, err := tx.ExecContext(ctx, `INSERT INTO kpi_site_daily (org_id, site_id, model, material, day, weekday, `+strings.Join(cols, ", ")+`)
		SELECT ?, ?, ?, ?, ?, ?, `+sumOf(cols)+` FROM kpi_daily
		WHERE site_id = ? AND model = ? AND material = ? AND day = ? AND org_id = ? HAVING COUNT(*) > 0`,
		s.org, s.site, s.model, s.mat, s.day, int(fromNanos(s.day).Weekday()), s.site, s.model, s.mat, s.day, s.org)
	return err
}

// rebuildOrgMonth replaces a benchmark row with the sum of its site rows.
func rebuildOrgMonth(ctx context.Context, tx *txn, m monthKey) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM kpi_org_month WHERE model = ? AND month = ? AND org_id = ?`,
		m.model, m.month, m.org); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO kpi_org_month (model, month, org_id, `+strings.Join(kpiSumCols, ", ")+`)
		SELECT ?, ?, ?, `+sumOf(kpiSumCols)+` FROM kpi_site_daily
		WHERE org_id = ? AND day >= ? AND day < ? AND model = ? HAVING COUNT(*) > 0`,
		m.model, m.month, m.org, m.org, m.month, nanos(fromNanos(m.month).AddDate(0, 1, 0)), m.model)
	return err
}

// kpiWhere is the rollup table and the condition a filter reads, and the
// printer count's condition, with their arguments. A printer filter reads
// the printer rows, anything else the site rows.
func kpiWhere(org fleet.OrgID, f kpi.Filter) (table, where string, args []any, pwhere string, pargs []any) {
	table = "kpi_site_daily"
	if f.Printer != "" {
		table = "kpi_daily"
	}
	where, args = `org_id = ? AND day >= ? AND day < ?`, []any{org, nanos(f.From), nanos(f.To)}
	pwhere, pargs = `org_id = ?`, []any{org}
	add := func(cond string, v ...any) {
		where += " AND " + cond
		args = append(args, v...)
		pwhere += " AND " + cond
		pargs = append(pargs, v...)
	}
	if f.Sites != nil {
		v := make([]any, len(f.Sites))
		for i, s := range f.Sites {
			v[i] = s
		}
		if len(v) == 0 {
			add("1 = 0")
		} else {
			add("site_id IN ("+placeholders(len(v))+")", v...)
		}
	}
	if f.Site != "" {
		add("site_id = ?", f.Site)
	}
	if f.Model != "" {
		add("model = ?", f.Model)
	}
	if f.Printer != "" {
		where += " AND printer_id = ?"
		args = append(args, f.Printer)
		pwhere += " AND id = ?"
		pargs = append(pargs, f.Printer)
	}
	return table, where, args, pwhere, pargs
}

// kpiPrinters returns when each printer a filter selects was first seen
// (the zero time where that is unknown): their number, and the start of
// the time each was there, which utilisation and idle time count.
func (d *DB) kpiPrinters(ctx context.Context, where string, args []any) ([]time.Time, error) {
	rows, err := d.db.QueryContext(ctx, kpiPrintersSQL(where), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, fromNanos(n))
	}
	return out, rows.Err()
}

// The read queries of a filter's table and condition (see kpiWhere).
func kpiPrintersSQL(where string) string {
	return `SELECT first_seen FROM printers WHERE ` + where + ` ORDER BY first_seen`
}

func kpiDailySQL(table, where string) string {
	return `SELECT day, ` + sumOf(kpiSumCols) + ` FROM ` + table + ` WHERE ` + where + ` GROUP BY day ORDER BY day`
}

func usageSQL(table, where string) string {
	return `SELECT weekday, ` + sumOf(kpiHourCols) + ` FROM ` + table + ` WHERE ` + where + ` GROUP BY weekday`
}

func materialSQL(table, where string) string {
	return `SELECT day, material, SUM(jobs), SUM(parts_kg), SUM(recyclable_kg) FROM ` + table + `
		WHERE ` + where + ` GROUP BY day, material ORDER BY day, material`
}

// cohortSQL reads the benchmark cohort; its arguments are model, end,
// model, first month, end, excluded org. A member's printers are those
// seen before the period's end: counting today's printers moved the bands
// of closed months as soon as a member added a printer, and showed it.
var cohortSQL = `SELECT (SELECT COUNT(*) FROM printers p WHERE p.model = ? AND p.org_id = m.org_id AND p.first_seen < ?), ` +
	sumOf(kpiSumCols) + ` FROM kpi_org_month m WHERE model = ? AND month >= ? AND month < ? AND org_id <> ? GROUP BY org_id`

// KPIDaily returns the sums of every day of the filter's period that has
// any, and how many printers the filter selects, for an organisation.
func (d *DB) KPIDaily(ctx context.Context, org fleet.OrgID, f kpi.Filter) (kpi.Daily, error) {
	table, where, args, pwhere, pargs := kpiWhere(org, f)
	var out kpi.Daily
	var err error
	if out.Since, err = d.kpiPrinters(ctx, pwhere, pargs); err != nil {
		return kpi.Daily{}, fmt.Errorf("kpis of %s: %w", org, err)
	}
	out.Printers = len(out.Since)
	rows, err := d.db.QueryContext(ctx, kpiDailySQL(table, where), args...)
	if err != nil {
		return kpi.Daily{}, fmt.Errorf("kpis of %s: %w", org, err)
	}
	defer rows.Close()
	for rows.Next() {
		var x kpi.DaySums
		var dn int64
		if err := rows.Scan(append([]any{&dn}, sumsDest(&x.Sums)...)...); err != nil {
			return kpi.Daily{}, fmt.Errorf("kpis of %s: %w", org, err)
		}
		x.Day = fromNanos(dn)
		out.Days = append(out.Days, x)
	}
	if err := rows.Err(); err != nil {
		return kpi.Daily{}, fmt.Errorf("kpis of %s: %w", org, err)
	}
	return out, nil
}

// UsageHeatmap returns printing and cooling seconds by UTC weekday and
// hour over the filter's period.
func (d *DB) UsageHeatmap(ctx context.Context, org fleet.OrgID, f kpi.Filter) (kpi.Usage, error) {
	table, where, args, pwhere, pargs := kpiWhere(org, f)
	var u kpi.Usage
	var err error
	if u.Since, err = d.kpiPrinters(ctx, pwhere, pargs); err != nil {
		return kpi.Usage{}, fmt.Errorf("usage of %s: %w", org, err)
	}
	u.Printers = len(u.Since)
	rows, err := d.db.QueryContext(ctx, usageSQL(table, where), args...)
	if err != nil {
		return kpi.Usage{}, fmt.Errorf("usage of %s: %w", org, err)
	}
	defer rows.Close()
	for rows.Next() {
		var w int
		var h kpi.Hours
		dest := []any{&w}
		for i := range h.Printing {
			dest = append(dest, &h.Printing[i])
		}
		for i := range h.Cooling {
			dest = append(dest, &h.Cooling[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return kpi.Usage{}, fmt.Errorf("usage of %s: %w", org, err)
		}
		if w >= 0 && w < 7 {
			u.Printing[w], u.Cooling[w] = h.Printing, h.Cooling
		}
	}
	if err := rows.Err(); err != nil {
		return kpi.Usage{}, fmt.Errorf("usage of %s: %w", org, err)
	}
	return u, nil
}

// MaterialUse returns each material's use per day over the filter's
// period, by day and material.
func (d *DB) MaterialUse(ctx context.Context, org fleet.OrgID, f kpi.Filter) ([]kpi.MaterialDay, error) {
	table, where, args, _, _ := kpiWhere(org, f)
	rows, err := d.db.QueryContext(ctx, materialSQL(table, where), args...)
	if err != nil {
		return nil, fmt.Errorf("material use of %s: %w", org, err)
	}
	defer rows.Close()
	var out []kpi.MaterialDay
	for rows.Next() {
		var m kpi.MaterialDay
		var dn int64
		if err := rows.Scan(&dn, &m.Material, &m.Jobs, &m.PartsKG, &m.RecyclableKG); err != nil {
			return nil, fmt.Errorf("material use of %s: %w", org, err)
		}
		m.Day = fromNanos(dn)
		out = append(out, m)
	}
	return out, rows.Err()
}

// BenchmarkCohort returns the anonymous aggregates over the months in
// [from, to) of every organisation other than exclude with printers of
// model. The result carries no identities and its order says nothing
// about them.
func (d *DB) BenchmarkCohort(ctx context.Context, model string, exclude fleet.OrgID, from, to time.Time) ([]kpi.Aggregate, error) {
	rows, err := d.db.QueryContext(ctx, cohortSQL, model, nanos(to), model, nanos(kpi.Month(from)), nanos(to), exclude)
	if err != nil {
		return nil, fmt.Errorf("benchmark cohort of %s: %w", model, err)
	}
	defer rows.Close()
	var out []kpi.Aggregate
	for rows.Next() {
		var a kpi.Aggregate
		if err := rows.Scan(append([]any{&a.Printers}, sumsDest(&a.Sums)...)...); err != nil {
			return nil, fmt.Errorf("benchmark cohort of %s: %w", model, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("benchmark cohort of %s: %w", model, err)
	}
	sort.Slice(out, func(i, k int) bool { return lessAggregate(out[i], out[k]) })
	return out, nil
}

// lessAggregate orders aggregates by their values, not their owners.
func lessAggregate(a, b kpi.Aggregate) bool {
	if a.PrintingSec != b.PrintingSec {
		return a.PrintingSec < b.PrintingSec
	}
	if a.Jobs != b.Jobs {
		return a.Jobs < b.Jobs
	}
	return a.VolumeCM3 < b.VolumeCM3
}
