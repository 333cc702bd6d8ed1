// Package pagesbench measures the dashboard's pages over the store at
// 10,000 printers with a year of history (store.LoadPagesFleet): the bench
// command's pages scenarios. The store's own go benchmark (BenchmarkPages)
// reads the same pages over the same fixture.
package pagesbench

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/dashboard"
	"github.com/fusionfleet/fusionfleet/internal/sqlitedb"
	"github.com/fusionfleet/fusionfleet/internal/store"
	"github.com/fusionfleet/fusionfleet/internal/storetest"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver of the raw queries
)

// Bench is what Pages needs of a benchmark: the bench command's runner
// provides it, and so does *testing.B through benchrun.Testing.
type Bench interface {
	Helper()
	Context() context.Context
	Cleanup(func())
	Logf(format string, args ...any)
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	ReportMetric(n float64, unit string)
	N() int
}

// Reference is the page the others without a raw query (Raw) are
// measured against in the same run: the login page, which reads nothing
// of the fleet, is the dashboard's floor (routing, session, template,
// headers) on this machine at this moment.
const Reference = "login"

// rawQuery is the main read of a page written as plain SQL and run
// directly on the database: what the page could not be faster than. Its
// placeholders are ? (numbered for PostgreSQL); args are the organisation,
// the printer and the fixture's present in Unix nanoseconds.
type rawQuery struct {
	q    string
	args func(org string, p string, now int64) []any
}

const (
	day         = int64(24 * time.Hour)
	rawPrinters = `SELECT p.id, p.name, p.model, p.site_id, p.last_seen, s.state, s.activity, s.job_id, s.progress,
		s.etc_seconds, s.pending_jobs, s.time FROM printers p LEFT JOIN printer_status s ON s.printer_id = p.id
		WHERE p.org_id = ? ORDER BY p.name, p.id`
)

// raw are the pages with a raw main query, by name: the fleet overview
// (its printers with their status), the job history (its latest jobs),
// the year's jobs export and the alerts (the open ones and the resolved of
// the year). The printer page has none: it reads its year of counters and
// consumables condensed, and the rows raw take many times the page.
var raw = map[string]rawQuery{
	"printers":     {rawPrinters, func(org, _ string, _ int64) []any { return []any{org} }},
	"api-printers": {rawPrinters, func(org, _ string, _ int64) []any { return []any{org} }},
	"jobs": {`SELECT data FROM jobs WHERE org_id = ? ORDER BY created_at DESC LIMIT 100`,
		func(org, _ string, _ int64) []any { return []any{org} }},
	"jobs-csv-year": {`SELECT data FROM jobs WHERE org_id = ? AND created_at >= ? AND created_at < ? ORDER BY created_at`,
		func(org, _ string, now int64) []any { return []any{org, now - 365*day, now} }},
	"alerts": {`SELECT id, printer_id, rule, severity, title, detail, opened_at, updated_at, resolved_at FROM alerts
		WHERE org_id = ? AND (resolved_at = 0 OR resolved_at >= ?) ORDER BY opened_at DESC`,
		func(org, _ string, now int64) []any { return []any{org, now - 365*day} }},
}

// Raw reports whether page has a raw main query, reported as
// "<page>_raw_p50_ms" and "<page>_raw_p99_ms".
func Raw(page string) bool {
	_, ok := raw[page]
	return ok
}

// Options size Pages.
type Options struct {
	// Orgs is the number of organisations of 100 printers; 0 → 100
	// (10,000 printers).
	Orgs int
}

// Pages fills the fresh database at dsn with the pages fixture, then reads
// every GET page of the dashboard (storetest.DashboardPages) b.N() times as
// the administrator of an organisation of 100 printers, after a first read
// that must answer 200 with the page's data, and reports each page's
// server time: "<page>_p50_ms" and "<page>_p99_ms" (nearest rank).
// The pages are read in turns, one request of each page per turn, so that
// a burst of load on the machine falls on every page alike.
func Pages(b Bench, dsn string, o Options) {
	b.Helper()
	ctx := b.Context()
	db, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	began := time.Now()
	org, p, err := store.LoadPagesFleet(ctx, db, Fixture(o.Orgs))
	if err != nil {
		b.Fatalf("load the pages fixture: %v", err)
	}
	cookie := storetest.SeedPagesOrg(b, db, org)
	b.Logf("fleet of %d printers loaded in %v", orgs(o)*100, time.Since(began).Round(time.Millisecond))
	d := dashboard.Deps{Sessions: db, TwoFactor: db, Members: db, Sites: db, Tokens: db, Printers: db, Jobs: db,
		History: db, Alerts: db, AlertRules: db, WorstAlerts: db, Channels: db, NotifyPrefs: db, KPIs: db}
	h := dashboard.NewHandler(d, dashboard.NewHub(), dashboard.Options{Clock: clock.NewManual(storetest.T0)})

	pages := storetest.DashboardPages(p, store.PagesCurrentJob)
	get := func(pg storetest.Page) (*httptest.ResponseRecorder, time.Duration) {
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, pg.Path, nil)
		if !pg.Anonymous {
			req.AddCookie(cookie)
		}
		rec := httptest.NewRecorder()
		t0 := time.Now()
		h.ServeHTTP(rec, req)
		return rec, time.Since(t0)
	}
	for _, pg := range pages {
		rec, _ := get(pg)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET %s: %d %.500s", pg.Path, rec.Code, rec.Body.String())
		}
		if !strings.Contains(rec.Body.String(), pg.Want) {
			b.Fatalf("GET %s: answer without %q:\n%.2000s", pg.Path, pg.Want, rec.Body.String())
		}
	}
	sqlDB := openRaw(b, dsn)
	now := storetest.T0.UnixNano()
	query := func(r rawQuery) time.Duration {
		t0 := time.Now()
		rows, err := sqlDB.QueryContext(ctx, r.q, r.args(string(org), string(p), now)...)
		if err != nil {
			b.Fatalf("raw query: %v", err)
		}
		defer rows.Close()
		cols, err := rows.ColumnTypes()
		if err != nil {
			b.Fatal(err)
		}
		dest := make([]any, len(cols))
		for i := range dest {
			dest[i] = new(sql.RawBytes)
		}
		n := 0
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				b.Fatal(err)
			}
			n++
		}
		if err := rows.Err(); err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			b.Fatalf("raw query read no rows: %.200s", r.q)
		}
		return time.Since(t0)
	}
	queries := maps.Clone(raw)
	if isPostgres(dsn) {
		for name, r := range queries {
			r.q = numbered(r.q)
			queries[name] = r
		}
	}
	times := make([][]time.Duration, len(pages))
	rawTimes := make([][]time.Duration, len(pages))
	for range max(1, b.N()) {
		for i, pg := range pages {
			rec, took := get(pg)
			if rec.Code != http.StatusOK {
				b.Fatalf("GET %s: %d", pg.Path, rec.Code)
			}
			times[i] = append(times[i], took)
			if r, ok := queries[pg.Name]; ok {
				rawTimes[i] = append(rawTimes[i], query(r))
			}
		}
	}
	for i, pg := range pages {
		b.ReportMetric(ms(percentile(times[i], 0.50)), pg.Name+"_p50_ms")
		b.ReportMetric(ms(percentile(times[i], 0.99)), pg.Name+"_p99_ms")
		if len(rawTimes[i]) > 0 {
			b.ReportMetric(ms(percentile(rawTimes[i], 0.50)), pg.Name+"_raw_p50_ms")
			b.ReportMetric(ms(percentile(rawTimes[i], 0.99)), pg.Name+"_raw_p99_ms")
		}
	}
}

// openRaw opens the database at dsn directly, for the raw queries: a
// read-only connection to the SQLite file, or a PostgreSQL pool.
func openRaw(b Bench, dsn string) *sql.DB {
	b.Helper()
	var db *sql.DB
	var err error
	if isPostgres(dsn) {
		db, err = sql.Open("pgx", dsn)
	} else {
		db, err = sqlitedb.OpenReader(dsn)
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// isPostgres reports whether dsn names a PostgreSQL database, as
// store.Open tells them apart.
func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// numbered turns the ? placeholders of q into PostgreSQL's $1, $2, ….
func numbered(q string) string {
	var out strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&out, "$%d", n)
			continue
		}
		out.WriteRune(r)
	}
	return out.String()
}

// Fixture is the store's pages fixture of orgs organisations of 100
// printers (0 → 100), as storetest describes it.
func Fixture(orgs int) store.PagesFixture {
	return store.PagesFixture{Orgs: orgs, Now: storetest.T0, JSON: store.PagesJSON(storetest.Fixtures()), Rules: storetest.RuleKeys}
}

// PageNames are the names of the pages Pages reports, in its order.
func PageNames() []string {
	var names []string
	for _, pg := range storetest.DashboardPages("", "") {
		names = append(names, pg.Name)
	}
	return names
}

func orgs(o Options) int {
	if o.Orgs <= 0 {
		return 100
	}
	return o.Orgs
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// percentile returns the q-quantile of ds (nearest rank).
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[max(0, int(math.Ceil(q*float64(len(s))))-1)]
}
