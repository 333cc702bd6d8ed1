// Package pagesbench measures the dashboard's pages over the store at
// 10,000 printers with a year of history (store.LoadPagesFleet): the bench
// command's pages scenarios. The store's own go benchmark (BenchmarkPages)
// reads the same pages over the same fixture.
package pagesbench

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/dashboard"
	"github.com/fusionfleet/fusionfleet/internal/store"
	"github.com/fusionfleet/fusionfleet/internal/storetest"
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

// Reference is the page the others are measured against in the same run:
// the login page, which reads nothing of the fleet, is the dashboard's
// floor (routing, session, template, headers) on this machine at this
// moment.
const Reference = "login"

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
	times := make([][]time.Duration, len(pages))
	for range max(1, b.N()) {
		for i, pg := range pages {
			rec, took := get(pg)
			if rec.Code != http.StatusOK {
				b.Fatalf("GET %s: %d", pg.Path, rec.Code)
			}
			times[i] = append(times[i], took)
		}
	}
	for i, pg := range pages {
		b.ReportMetric(ms(percentile(times[i], 0.50)), pg.Name+"_p50_ms")
		b.ReportMetric(ms(percentile(times[i], 0.99)), pg.Name+"_p99_ms")
	}
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
