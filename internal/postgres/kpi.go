package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/kpi"
	"github.com/jackc/pgx/v5"
)

// The rollup tables' columns (migration 0004): the additive sums in the
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

func sumsDest(s *kpi.Sums) []any {
	return []any{&s.Jobs, &s.JobsFailed, &s.Parts, &s.PartsInspected, &s.PartsPassed, &s.DensityVolume,
		&s.VolumeCM3, &s.PartsKG, &s.RecyclableKG, &s.PrintingSec, &s.CoolingSec}
}

func sumsArgs(s kpi.Sums) []any {
	return []any{s.Jobs, s.JobsFailed, s.Parts, s.PartsInspected, s.PartsPassed, s.DensityVolume,
		s.VolumeCM3, s.PartsKG, s.RecyclableKG, s.PrintingSec, s.CoolingSec}
}

// params returns "$from, $from+1, …" for n parameters.
func params(from, n int) string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprintf("$%d", from+i)
	}
	return strings.Join(s, ", ")
}

// kpiTouched collects the (printer, day) rollup rows an envelope changes.
type kpiTouched map[fleet.PrinterID]map[time.Time]bool

// touch adds the days of the stored versions of the jobs that recs (job
// and part records) are about: called before and after the records are
// written, it covers the old and the new versions.
func (k kpiTouched) touch(ctx context.Context, tx pgx.Tx, recs []fleet.Record) error {
	var jp, jid, pp, pid []string
	for _, r := range recs {
		switch {
		case r.Job != nil:
			jp, jid = append(jp, string(r.PrinterID)), append(jid, r.Job.ID)
		case r.Part != nil:
			jp, jid = append(jp, string(r.PrinterID)), append(jid, r.Part.JobID)
			pp, pid = append(pp, string(r.PrinterID)), append(pid, r.Part.ID)
		}
	}
	if len(jp) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT j.printer_id, j.data, j.report_time FROM jobs j
		WHERE (j.printer_id, j.job_id) IN (SELECT * FROM unnest($1::text[], $2::text[])
			UNION SELECT p.printer_id, p.job_id FROM parts p
				WHERE (p.printer_id, p.part_id) IN (SELECT * FROM unnest($3::text[], $4::text[])))`, jp, jid, pp, pid)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var p fleet.PrinterID
		var data string
		var report int64
		if err := rows.Scan(&p, &data, &report); err != nil {
			return err
		}
		var j fleet.Job
		if err := json.Unmarshal([]byte(data), &j); err != nil {
			return err
		}
		days := k[p]
		if days == nil {
			days = map[time.Time]bool{}
			k[p] = days
		}
		for _, d := range kpi.Days(kpi.JobReport{Job: j, Report: fromNanos(report)}) {
			days[d] = true
		}
	}
	return rows.Err()
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

// The advisory lock classes that serialise concurrent rebuilds of the
// same rollup rows, taken class by class, each in ascending order, so
// that two transactions never wait for each other in a cycle.
const (
	lockPrinterDay = 7301
	lockSiteDay    = 7302
	lockOrgMonth   = 7303
)

// lock takes the transaction-scoped advisory locks of keys in class.
func lock(ctx context.Context, tx pgx.Tx, class int32, keys []string) error {
	ids := make([]int32, 0, len(keys))
	for _, k := range keys {
		h := fnv.New32a()
		h.Write([]byte(k))
		ids = append(ids, int32(h.Sum32()))
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, id) FROM unnest($2::int[]) AS id ORDER BY id`, class, ids)
	return err
}

// rebuild recomputes the touched printer days from the jobs and parts
// tables, then the site days and organisation months they roll up into.
func (k kpiTouched) rebuild(ctx context.Context, tx pgx.Tx) error {
	if len(k) == 0 {
		return nil
	}
	var keys []string
	for p, days := range k {
		for d := range days {
			keys = append(keys, fmt.Sprintf("%s\x00%d", p, d.UnixNano()))
		}
	}
	if err := lock(ctx, tx, lockPrinterDay, keys); err != nil {
		return fmt.Errorf("kpi rollup: %w", err)
	}
	sites := map[siteKey]bool{}
	for p, days := range k {
		var org fleet.OrgID
		var site fleet.SiteID
		var model string
		err := tx.QueryRow(ctx, `SELECT org_id, site_id, model FROM printers WHERE id = $1`, p).Scan(&org, &site, &model)
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
	if err := lock(ctx, tx, lockSiteDay, keys); err != nil {
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
	if err := lock(ctx, tx, lockOrgMonth, keys); err != nil {
		return fmt.Errorf("kpi rollup: %w", err)
	}
	for m := range months {
		if err := rebuildOrgMonth(ctx, tx, m); err != nil {
			return fmt.Errorf("kpi rollup of org %s: %w", m.org, err)
		}
	}
	return nil
}

// rebuildPrinterDay replaces printer p's rows of day d and adds the site
// rows before and after to sites.
func rebuildPrinterDay(ctx context.Context, tx pgx.Tx, p fleet.PrinterID, org fleet.OrgID, site fleet.SiteID, model string, d time.Time, sites map[siteKey]bool) error {
	dn := nanos(d)
	rows, err := tx.Query(ctx, `DELETE FROM kpi_daily WHERE printer_id = $1 AND day = $2 RETURNING org_id, site_id, model, material`, p, dn)
	if err != nil {
		return err
	}
	old, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (siteKey, error) {
		s := siteKey{day: dn}
		err := r.Scan(&s.org, &s.site, &s.model, &s.mat)
		return s, err
	})
	if err != nil {
		return err
	}
	for _, s := range old {
		sites[s] = true
	}
	rows, err = tx.Query(ctx, `SELECT data, report_time FROM jobs WHERE printer_id = $1 AND created_at >= $2 AND created_at < $3`,
		p, nanos(d.Add(-kpi.MaxSpan)), nanos(d.Add(24*time.Hour)))
	if err != nil {
		return err
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kpi.JobReport, error) {
		var data string
		var report int64
		if err := r.Scan(&data, &report); err != nil {
			return kpi.JobReport{}, err
		}
		var j fleet.Job
		err := json.Unmarshal([]byte(data), &j)
		return kpi.JobReport{Job: j, Report: fromNanos(report)}, err
	})
	if err != nil {
		return err
	}
	var ids []string
	for _, j := range jobs {
		if kpi.AttributedTo(j.Job).Equal(d) {
			ids = append(ids, j.Job.ID)
		}
	}
	parts := map[string][]fleet.Part{}
	if len(ids) > 0 {
		rows, err = tx.Query(ctx, `SELECT data FROM parts WHERE printer_id = $1 AND job_id = ANY($2)`, p, ids)
		if err != nil {
			return err
		}
		ps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (fleet.Part, error) {
			var data string
			var v fleet.Part
			if err := r.Scan(&data); err != nil {
				return v, err
			}
			return v, json.Unmarshal([]byte(data), &v)
		})
		if err != nil {
			return err
		}
		for _, v := range ps {
			parts[v.JobID] = append(parts[v.JobID], v)
		}
	}
	cols := append(append([]string{"printer_id", "day", "material", "org_id", "site_id", "model", "weekday"}, kpiSumCols...), kpiHourCols...)
	ins := `INSERT INTO kpi_daily (` + strings.Join(cols, ", ") + `) VALUES (` + params(1, len(cols)) + `)`
	for _, r := range kpi.Rollup(d, jobs, parts) {
		args := append([]any{p, dn, r.Material, org, site, model, int(d.Weekday())}, sumsArgs(r.Sums)...)
		for _, v := range r.Printing {
			args = append(args, v)
		}
		for _, v := range r.Cooling {
			args = append(args, v)
		}
		if _, err := tx.Exec(ctx, ins, args...); err != nil {
			return err
		}
		sites[siteKey{org, site, model, r.Material, dn}] = true
	}
	return nil
}

// rebuildSiteDay replaces a site row with the sum of its printer rows.
func rebuildSiteDay(ctx context.Context, tx pgx.Tx, s siteKey) error {
	if _, err := tx.Exec(ctx, `DELETE FROM kpi_site_daily WHERE org_id = $1 AND site_id = $2 AND model = $3 AND material = $4 AND day = $5`,
		s.org, s.site, s.model, s.mat, s.day); err != nil {
		return err
	}
	cols := append(append([]string{}, kpiSumCols...), kpiHourCols...)
	_, err := tx.Exec(ctx, `INSERT INTO kpi_site_daily (org_id, site_id, model, material, day, weekday, `+strings.Join(cols, ", ")+`)
		SELECT $1, $2, $3, $4, $5, $6, `+sumOf(cols)+` FROM kpi_daily
		WHERE site_id = $2 AND model = $3 AND material = $4 AND day = $5 AND org_id = $1 HAVING COUNT(*) > 0`,
		s.org, s.site, s.model, s.mat, s.day, int(fromNanos(s.day).Weekday()))
	return err
}

// rebuildOrgMonth replaces a benchmark row with the sum of its site rows.
func rebuildOrgMonth(ctx context.Context, tx pgx.Tx, m monthKey) error {
	if _, err := tx.Exec(ctx, `DELETE FROM kpi_org_month WHERE model = $1 AND month = $2 AND org_id = $3`,
		m.model, m.month, m.org); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO kpi_org_month (model, month, org_id, `+strings.Join(kpiSumCols, ", ")+`)
		SELECT $1, $2, $3, `+sumOf(kpiSumCols)+` FROM kpi_site_daily
		WHERE org_id = $3 AND day >= $2 AND day < $4 AND model = $1 HAVING COUNT(*) > 0`,
		m.model, m.month, m.org, nanos(fromNanos(m.month).AddDate(0, 1, 0)))
	return err
}

// kpiWhere is the rollup table and the condition a filter reads, and the
// printer count's condition, with their arguments (see the SQLite store).
func kpiWhere(org fleet.OrgID, f kpi.Filter) (table, where string, args []any, pwhere string, pargs []any) {
	table = "kpi_site_daily"
	if f.Printer != "" {
		table = "kpi_daily"
	}
	where, args = `org_id = $1 AND day >= $2 AND day < $3`, []any{org, nanos(f.From), nanos(f.To)}
	pwhere, pargs = `org_id = $1`, []any{org}
	add := func(cond string, v any) {
		args = append(args, v)
		pargs = append(pargs, v)
		where += " AND " + fmt.Sprintf(cond, len(args))
		pwhere += " AND " + fmt.Sprintf(cond, len(pargs))
	}
	if f.Sites != nil {
		ids := make([]string, len(f.Sites))
		for i, s := range f.Sites {
			ids[i] = string(s)
		}
		add("site_id = ANY($%d)", ids)
	}
	if f.Site != "" {
		add("site_id = $%d", f.Site)
	}
	if f.Model != "" {
		add("model = $%d", f.Model)
	}
	if f.Printer != "" {
		args = append(args, f.Printer)
		pargs = append(pargs, f.Printer)
		where += fmt.Sprintf(" AND printer_id = $%d", len(args))
		pwhere += fmt.Sprintf(" AND id = $%d", len(pargs))
	}
	return table, where, args, pwhere, pargs
}

// The read queries of a filter's table and condition (see kpiWhere).
func kpiPrintersSQL(where string) string { return `SELECT COUNT(*) FROM printers WHERE ` + where }

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

// cohortSQL reads the benchmark cohort; its arguments are model, first
// month, end, excluded org.
var cohortSQL = `SELECT (SELECT COUNT(*) FROM printers p WHERE p.model = $1 AND p.org_id = m.org_id), ` +
	sumOf(kpiSumCols) + ` FROM kpi_org_month m WHERE model = $1 AND month >= $2 AND month < $3 AND org_id <> $4 GROUP BY org_id`

// KPIDaily returns the sums of every day of the filter's period that has
// any, and how many printers the filter selects, for an organisation.
func (d *DB) KPIDaily(ctx context.Context, org fleet.OrgID, f kpi.Filter) (kpi.Daily, error) {
	table, where, args, pwhere, pargs := kpiWhere(org, f)
	var out kpi.Daily
	if err := d.queryRow(ctx, kpiPrintersSQL(pwhere), pargs, &out.Printers); err != nil {
		return kpi.Daily{}, fmt.Errorf("kpis of %s: %w", org, err)
	}
	days, err := collect(ctx, d, kpiDailySQL(table, where), args,
		func(r pgx.CollectableRow) (kpi.DaySums, error) {
			var x kpi.DaySums
			var dn int64
			err := r.Scan(append([]any{&dn}, sumsDest(&x.Sums)...)...)
			x.Day = fromNanos(dn)
			return x, err
		})
	if err != nil {
		return kpi.Daily{}, fmt.Errorf("kpis of %s: %w", org, err)
	}
	out.Days = days
	return out, nil
}

// UsageHeatmap returns printing and cooling seconds by UTC weekday and
// hour over the filter's period.
func (d *DB) UsageHeatmap(ctx context.Context, org fleet.OrgID, f kpi.Filter) (kpi.Usage, error) {
	table, where, args, pwhere, pargs := kpiWhere(org, f)
	var u kpi.Usage
	if err := d.queryRow(ctx, kpiPrintersSQL(pwhere), pargs, &u.Printers); err != nil {
		return kpi.Usage{}, fmt.Errorf("usage of %s: %w", org, err)
	}
	_, err := collect(ctx, d, usageSQL(table, where), args,
		func(r pgx.CollectableRow) (int, error) {
			var w int16
			var h kpi.Hours
			dest := []any{&w}
			for i := range h.Printing {
				dest = append(dest, &h.Printing[i])
			}
			for i := range h.Cooling {
				dest = append(dest, &h.Cooling[i])
			}
			if err := r.Scan(dest...); err != nil {
				return 0, err
			}
			if w >= 0 && w < 7 {
				u.Printing[w], u.Cooling[w] = h.Printing, h.Cooling
			}
			return int(w), nil
		})
	if err != nil {
		return kpi.Usage{}, fmt.Errorf("usage of %s: %w", org, err)
	}
	return u, nil
}

// MaterialUse returns each material's use per day over the filter's
// period, by day and material.
func (d *DB) MaterialUse(ctx context.Context, org fleet.OrgID, f kpi.Filter) ([]kpi.MaterialDay, error) {
	table, where, args, _, _ := kpiWhere(org, f)
	out, err := collect(ctx, d, materialSQL(table, where), args,
		func(r pgx.CollectableRow) (kpi.MaterialDay, error) {
			var m kpi.MaterialDay
			var dn int64
			err := r.Scan(&dn, &m.Material, &m.Jobs, &m.PartsKG, &m.RecyclableKG)
			m.Day = fromNanos(dn)
			return m, err
		})
	if err != nil {
		return nil, fmt.Errorf("material use of %s: %w", org, err)
	}
	return out, nil
}

// BenchmarkCohort returns the anonymous aggregates over the months in
// [from, to) of every organisation other than exclude with printers of
// model. The result carries no identities and its order says nothing
// about them.
func (d *DB) BenchmarkCohort(ctx context.Context, model string, exclude fleet.OrgID, from, to time.Time) ([]kpi.Aggregate, error) {
	out, err := collect(ctx, d, cohortSQL, []any{model, nanos(kpi.Month(from)), nanos(to), exclude},
		func(r pgx.CollectableRow) (kpi.Aggregate, error) {
			var a kpi.Aggregate
			err := r.Scan(append([]any{&a.Printers}, sumsDest(&a.Sums)...)...)
			return a, err
		})
	if err != nil {
		return nil, fmt.Errorf("benchmark cohort of %s: %w", model, err)
	}
	sort.Slice(out, func(i, k int) bool {
		a, b := out[i], out[k]
		if a.PrintingSec != b.PrintingSec {
			return a.PrintingSec < b.PrintingSec
		}
		if a.Jobs != b.Jobs {
			return a.Jobs < b.Jobs
		}
		return a.VolumeCM3 < b.VolumeCM3
	})
	return out, nil
}
