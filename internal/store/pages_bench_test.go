package store

import (
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/dashboard"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/storetest"
)

// loadPagesFleet loads the fleet of the dashboard's pages (fixture.go).
func loadPagesFleet(b *testing.B, db *DB) (fleet.OrgID, fleet.PrinterID) {
	b.Helper()
	skipBigSQLite(b)
	org, p, err := LoadPagesFleet(b.Context(), db, PagesFixture{Now: storetest.T0, JSON: PagesJSON(storetest.Fixtures()), Rules: storetest.RuleKeys})
	if err != nil {
		b.Fatal(err)
	}
	return org, p
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
	storetest.BenchPages(b, h, cookie, storetest.DashboardPages(p, PagesCurrentJob))
}
