package store

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/kpi"
	"github.com/fusionfleet/fusionfleet/internal/storetest"
)

// pgLoadKPIFleet loads the synthetic fleet of pgLoadFleet and a year of KPI
// rollups, as loadKPIFleet does on SQLite.
func pgLoadKPIFleet(t testing.TB, db *DB) (fleet.OrgID, fleet.PrinterID) {
	t.Helper()
	org, p := pgLoadFleet(t, db)
	first := kpi.Day(storetest.T0.AddDate(-1, 0, 0))
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
	execAll(t, db, stmts)
	return org, p
}
