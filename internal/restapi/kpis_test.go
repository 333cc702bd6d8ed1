package restapi

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/kpi"
)

func TestKPIRoutes(t *testing.T) {
	f := newFixture(t)
	admin, limited := f.a.tokens["admin"], f.a.tokens["limited"]
	tests := []struct {
		name, path, secret string
		status             int
		check              func(t *testing.T, body string)
	}{
		{"KPIs", "/api/v1/kpis?period=365d", admin, 200, func(t *testing.T, body string) {
			var got kpisJSON
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			if got.Printers != 2 || len(got.Values) != len(kpi.Definitions()) || len(got.Definitions) != len(got.Values) || got.Period.Days() != 365 {
				t.Errorf("answer %+v: want 2 printers, every KPI with its definition, 365 days", got)
			}
		}},
		{"KPIsLimited", "/api/v1/kpis", limited, 200, func(t *testing.T, body string) {
			var got kpisJSON
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			if got.Printers != 1 {
				t.Errorf("a site-limited token sees %d printers, want 1", got.Printers)
			}
		}},
		{"KPIsSiteOutsideLimit", "/api/v1/kpis?site=" + string(f.a.site), limited, 404, nil},
		{"KPIsForeignPrinter", "/api/v1/kpis?printer=" + string(f.b.printer), admin, 404, nil},
		{"KPIsBadPeriod", "/api/v1/kpis?period=custom&from=2026-01-01", admin, 400, nil},
		{"Usage", "/api/v1/usage?period=7d", admin, 200, func(t *testing.T, body string) {
			var got usageJSON
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			if got.Printers != 2 || got.Shares.Idle[0][0] <= 0 {
				t.Errorf("usage %+v: want 2 printers and idle time", got)
			}
		}},
		{"Benchmark", "/api/v1/benchmark?period=12m", admin, 200, func(t *testing.T, body string) {
			var got benchmarkJSON
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			if got.Model != "M1" || got.MinCohort != kpi.MinCohort || len(got.Bands) != len(kpi.Definitions()) {
				t.Fatalf("benchmark %+v", got)
			}
			for _, b := range got.Bands {
				if !b.TooSmall || b.P50 != 0 {
					t.Errorf("band %+v from a cohort of one other organisation", b)
				}
			}
		}},
		{"BenchmarkFreePeriod", "/api/v1/benchmark?period=30d", admin, 400, nil},
		{"BenchmarkUnknownModel", "/api/v1/benchmark?model=Other", admin, 404, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := f.do(t, http.MethodGet, tt.path, tt.secret, "")
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			if tt.check != nil {
				tt.check(t, body)
			}
		})
	}
}
