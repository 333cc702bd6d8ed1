package store

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/store/pgtest"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/dashboard"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/identity"
	"github.com/fusionfleet/fusionfleet/internal/kpi"
	"github.com/fusionfleet/fusionfleet/internal/storetest"
)


// pgHourValues returns the expressions of the 48 hour columns of a
// synthetic rollup row, from a seed expression.
func pgHourValues(seed string) string {
	v := make([]string, 48)
	for i := range v {
		v[i] = fmt.Sprintf("((%s + %d) %% 7) * 300.0", seed, i)
	}
	return strings.Join(v, ", ")
}

// pgLoadKPIFleet loads the synthetic fleet of pgLoadFleet and a year of KPI
// rollups, as the SQLite store's test does.
func pgLoadKPIFleet(t testing.TB, db *DB) (fleet.OrgID, fleet.PrinterID) {
	t.Helper()
	org, p := pgLoadFleet(t, db)
	ctx := t.Context()
	first := kpi.Day(storetest.T0.AddDate(-1, 0, 0))
	cols := strings.Join(append(append([]string{}, kpiSumCols...), kpiHourCols...), ", ")
	sums := `1 + i % 3, i % 5 / 4, 10 + i % 7, 9 + i % 7, 8 + i % 5, 150.0 + i % 50, 1000.0, 3.5, 9.0, 30000.0 + i % 1000 * 30, 20000.0`
	model := `'Jet 42' || (substr(%s, 5)::int %% 4) || '0'`
	stmts := []struct {
		q    string
		args []any
	}{
		{`UPDATE printers SET model = ` + fmt.Sprintf(model, "org_id"), nil},
		{`INSERT INTO kpi_site_daily (org_id, site_id, model, material, day, weekday, ` + cols + `)
			SELECT s.org_id, s.id, ` + fmt.Sprintf(model, "s.org_id") + `, 'M' || k, $1::bigint + i * 86400000000000, ($2::int + i) % 7, ` + sums + `, ` + pgHourValues("i") + `
			FROM sites s, generate_series(0, 364) i, generate_series(0, $3::int - 1) k`, []any{nanos(first), int(first.Weekday()), kpiMaterials}},
		{`INSERT INTO kpi_daily (printer_id, day, material, org_id, site_id, model, weekday, ` + cols + `)
			SELECT p.id, $1::bigint + i * 86400000000000, 'M0', p.org_id, p.site_id, p.model, ($2::int + i) % 7, ` + sums + `, ` + pgHourValues("i") + `
			FROM printers p, generate_series(0, 364) i WHERE p.org_id = $3`, []any{nanos(first), int(first.Weekday()), org}},
		{`INSERT INTO kpi_org_month (model, month, org_id, ` + strings.Join(kpiSumCols, ", ") + `)
			SELECT model, $1::bigint + (day - $1::bigint) / (30 * 86400000000000) * 30 * 86400000000000, org_id, ` + sumOf(kpiSumCols) + `
			FROM kpi_site_daily GROUP BY 1, 2, 3`, []any{nanos(first)}},
		{`ANALYZE`, nil},
	}
	for _, s := range stmts {
		if _, err := db.db.ExecContext(ctx, s.q, s.args...); err != nil {
			t.Fatalf("%.60s: %v", s.q, err)
		}
	}
	return org, p
}

func TestKPIQueriesUseIndexesPostgres(t *testing.T) {
	ctx := t.Context()
	db := openDSN(t, pgtest.FreshDB(t))
	org, p := pgLoadKPIFleet(t, db)
	year := kpi.Filter{From: kpi.Day(storetest.T0.AddDate(-1, 0, 0)), To: kpi.Day(storetest.T0)}
	type query struct {
		name string
		q    string
		args []any
	}
	var tests []query
	for _, f := range []struct {
		name string
		f    kpi.Filter
	}{
		{"org", year},
		{"site", kpi.Filter{Site: "site_042", From: year.From, To: year.To}},
		{"site limit", kpi.Filter{Sites: []fleet.SiteID{"site_042", "site_043"}, From: year.From, To: year.To}},
		{"printer", kpi.Filter{Printer: p, From: year.From, To: year.To}},
		{"model", kpi.Filter{Model: kpiModel, From: year.From, To: year.To}},
	} {
		table, where, args, pwhere, pargs := kpiWhere(org, f.f)
		tests = append(tests,
			query{"daily of " + f.name, kpiDailySQL(table, where), args},
			query{"usage of " + f.name, usageSQL(table, where), args},
			query{"material of " + f.name, materialSQL(table, where), args},
			query{"printers of " + f.name, kpiPrintersSQL(pwhere), pargs})
	}
	tests = append(tests,
		query{"benchmark cohort", cohortSQL, []any{kpiModel, nanos(year.From), nanos(year.To), org}},
		query{"rebuild: jobs around a day", `SELECT data, report_time FROM jobs WHERE printer_id = $1 AND created_at >= $2 AND created_at < $3`,
			[]any{p, nanos(year.From), nanos(year.To)}},
		query{"rebuild: site day", `SELECT ` + sumOf(kpiSumCols) + ` FROM kpi_daily
			WHERE site_id = $1 AND model = $2 AND material = $3 AND day = $4 AND org_id = $5`, []any{"site_042", kpiModel, "M0", nanos(year.From), org}},
		query{"rebuild: org month", `SELECT ` + sumOf(kpiSumCols) + ` FROM kpi_site_daily
			WHERE org_id = $1 AND day >= $2 AND day < $3 AND model = $4`, []any{org, nanos(year.From), nanos(year.From.AddDate(0, 1, 0)), kpiModel}},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := pgExplain(ctx, t, db, tt.q, tt.args)
			var indexes []string
			root.walk(func(n pgPlanNode) {
				if n.NodeType == "Seq Scan" {
					t.Errorf("full scan of %s", n.Relation)
				}
				if n.Index != "" {
					indexes = append(indexes, n.Relation+"."+n.Index)
				}
			})
			if len(indexes) == 0 {
				t.Errorf("plan uses no index: %+v", root)
			}
			t.Logf("indexes: %v", indexes)
		})
	}
	d, err := db.KPIDaily(ctx, org, year)
	if err != nil || d.Printers != fleetPrinters/fleetOrgs || len(d.Days) != 365 {
		t.Errorf("KPIDaily = %d printers, %d days, %v; want %d, 365", d.Printers, len(d.Days), err, fleetPrinters/fleetOrgs)
	}
	cohort, err := db.BenchmarkCohort(ctx, kpiModel, org, year.From, year.To)
	if err != nil || len(cohort) != fleetOrgs/4-1 {
		t.Errorf("BenchmarkCohort = %d members, %v; want %d", len(cohort), err, fleetOrgs/4-1)
	}
}

// benchKPIPagesPostgres renders the KPI, benchmark and usage pages of one
// organisation of the synthetic fleet (10,000 printers, a year of
// rollups) and reports the time per page against the budget of 100 ms
// (budget_ratio below 1 is within it).
func benchKPIPagesPostgres(b *testing.B) {
	db := openDSN(b, pgtest.FreshDB(b))
	org, p := pgLoadKPIFleet(b, db)
	ctx := b.Context()
	user, err := db.CreateMember(ctx, org, "bench", "x", fleet.RoleViewer, access.AllSites())
	if err != nil {
		b.Fatal(err)
	}
	const secret = "bench-session-token"
	if err := db.CreateSession(ctx, identity.HashToken(secret), user, storetest.T0.Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	h := dashboard.NewHandler(db, dashboard.NewHub(), dashboard.Options{Clock: clock.NewManual(storetest.T0)})
	for _, page := range []string{"/kpis?period=365d", "/kpis?period=30d", "/kpis?period=365d&printer=" + string(p),
		"/benchmark?period=12m", "/usage?period=365d", "/usage?period=365d&site=site_042"} {
		b.Run(page, func(b *testing.B) {
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, page, nil)
				req.AddCookie(&http.Cookie{Name: "ff_session", Value: secret})
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("GET %s: %d %s", page, rec.Code, rec.Body.String())
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e8, "budget_ratio")
		})
	}
}
