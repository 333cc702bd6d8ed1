package dashboard

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/i18n"
	"github.com/fusionfleet/fusionfleet/internal/kpi"
	"github.com/fusionfleet/fusionfleet/internal/storetest"
)

// jobs applies finished jobs of printer p, one a day from first, n days.
func (f *fixture) jobs(t *testing.T, org fleet.OrgID, site fleet.SiteID, p fleet.PrinterID, first time.Time, n int, density float64) {
	t.Helper()
	var recs []fleet.Record
	for i := range n {
		f.seq++
		r := storetest.KPIJobRecord(f.seq, p, fmt.Sprintf("job-%s-%d-%d", p, first.Unix(), i), "PA12",
			first.Add(time.Duration(i)*24*time.Hour), 5, 8, density, 1000)
		recs = append(recs, r)
	}
	env := fleet.Envelope{OrgID: org, SiteID: site, GatewayID: fleet.GatewayID("gw_" + string(org)), Records: recs}
	if _, err := f.db.ApplyEnvelope(t.Context(), env); err != nil {
		t.Fatal(err)
	}
}

func TestKPIPages(t *testing.T) {
	f := newFixture(t)
	f.jobs(t, f.orgA, f.siteA, "printer-a001", t0.AddDate(0, 0, -20), 10, 0.15)
	f.jobs(t, f.orgB, f.siteB, "printer-b001", t0.AddDate(0, 0, -20), 10, 0.55)
	c, _ := f.login(t, "ada")
	tests := []struct {
		name, path string
		status     int
		want       []string
	}{
		{"KPIs", "/kpis", 200, []string{"Packing density", "15 %", "Volume-weighted mean packing density", "<svg", "1 printers selected"}},
		{"KPIsWeek", "/kpis?period=7d", 200, []string{"no data"}},
		{"KPIsCustom", "/kpis?period=custom&from=2026-02-01&to=2026-02-28", 200, []string{"15 %", `value="2026-02-01"`}},
		{"KPIsBadPeriod", "/kpis?period=custom&from=2026-02-01", 400, []string{"Choose a period"}},
		{"KPIsForeignPrinter", "/kpis?printer=printer-b001", 400, []string{"Unknown printer."}},
		{"KPIsPrinter", "/kpis?printer=printer-a001", 200, []string{"15 %"}},
		{"Usage", "/usage", 200, []string{"Printing time", "Idle time", "PA12", "90 kg"}},
		// The printer was first seen 20 days ago: the 3 days before are no
		// idle time, nor are the hours after now.
		{"UsageBeforeThePrinter", "/usage?period=custom&from=" + t0.AddDate(0, 0, -23).Format(time.DateOnly) +
			"&to=" + t0.AddDate(0, 0, -17).Format(time.DateOnly), 200, []string{`class="heat none"`, "No printer time", `class="heat h`}},
		{"Benchmark", "/benchmark", 200, []string{"Fewer than 5 other organisations", "cohort too small"}},
		{"BenchmarkFreePeriod", "/benchmark?period=7d", 400, []string{"whole calendar months"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, c, f.srv.URL+tt.path)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d:\n%s", resp.StatusCode, tt.status, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, bad := range []string{"printer-b001", "55 %", string(f.orgB)} {
				if strings.Contains(body, bad) {
					t.Errorf("page shows %q of the other organisation", bad)
				}
			}
		})
	}
	t.Run("German", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet, f.srv.URL+"/kpis", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept-Language", "de")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		if _, err := fmt.Fprint(&b, resp.Status); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1<<20)
		n, _ := resp.Body.Read(buf)
		for n > 0 {
			b.Write(buf[:n])
			n, _ = resp.Body.Read(buf)
		}
		if !strings.Contains(b.String(), "Packdichte") {
			t.Errorf("German KPI page lacks the German KPI name")
		}
	})
}

// bandCells are the benchmark table's cells, which must say nothing new
// to an attacker who watches them.
var bandCells = regexp.MustCompile(`(?s)<tbody>.*</tbody>`)

// TestBenchmarkDifferencing plays organisation A as an attacker who
// watches the benchmark while a victim organisation joins the cohort and
// changes its production, and who narrows the request to single sites and
// printers: nothing it sees identifies the victim or its settings.
func TestBenchmarkDifferencing(t *testing.T) {
	f := newFixture(t)
	feb := time.Date(2026, 2, 2, 6, 0, 0, 0, time.UTC)
	f.jobs(t, f.orgA, f.siteA, "printer-a001", feb, 5, 0.15)
	// Four other organisations printed in February (B and three more).
	f.jobs(t, f.orgB, f.siteB, "printer-b001", feb, 5, 0.20)
	for i := range 3 {
		org, site := f.otherOrg(t, fmt.Sprintf("Other %d", i), fleet.PrinterID(fmt.Sprintf("printer-o%03d", i)))
		f.jobs(t, org, site, fleet.PrinterID(fmt.Sprintf("printer-o%03d", i)), feb, 5+i, 0.25+0.05*float64(i))
	}
	c, _ := f.login(t, "ada")
	page := func(path string) string {
		t.Helper()
		resp, body := get(t, c, f.srv.URL+path)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: status %d", path, resp.StatusCode)
		}
		return bandCells.FindString(body)
	}
	before := page("/benchmark?period=1m")
	if !strings.Contains(before, "cohort too small") {
		t.Fatalf("4 other organisations give bands:\n%s", before)
	}

	// The victim joins now (March, the running month) with a distinctive
	// parameter set and production.
	victim, vsite := f.otherOrg(t, "Victim GmbH", "printer-victim")
	f.jobs(t, victim, vsite, "printer-victim", f.clock.Now().Add(-10*time.Hour), 1, 0.61)
	if after := page("/benchmark?period=1m"); after != before {
		t.Errorf("the bands changed while the victim's month runs:\nbefore %s\nafter %s", before, after)
	}
	for _, narrow := range []string{"&site=" + string(f.siteA), "&printer=printer-a001", "&from=2026-03-01&to=2026-03-02"} {
		if got := page("/benchmark?period=1m" + narrow); got != before {
			t.Errorf("a narrowing parameter %q changed the answer:\n%s", narrow, got)
		}
	}

	// A month later the victim's March is part of a 5-organisation cohort,
	// with February's four: bands appear, but no value is the victim's.
	f.clock.Set(time.Date(2026, 4, 2, 9, 0, 0, 0, time.UTC))
	c, _ = f.login(t, "ada")
	resp, body := get(t, c, f.srv.URL+"/benchmark?period=3m")
	if resp.StatusCode != http.StatusOK || strings.Contains(body, `data-cohort="too-small"`) {
		t.Fatalf("status %d; a cohort of 5 others gives no bands:\n%s", resp.StatusCode, bandCells.FindString(body))
	}
	for _, secret := range []string{"Victim", "printer-victim", string(victim), "secret-set", "61 %"} {
		if strings.Contains(body, secret) {
			t.Errorf("benchmark reveals %q", secret)
		}
	}
	// Narrowing never reaches the cohort side.
	for _, narrow := range []string{"&site=" + string(f.siteA), "&printer=printer-a001"} {
		if got := page("/benchmark?period=3m" + narrow); got != bandCells.FindString(body) {
			t.Errorf("a narrowing parameter %q changed the answer", narrow)
		}
	}
}

// otherOrg creates an organisation with a site and a printer of the
// fixture's model.
func (f *fixture) otherOrg(t *testing.T, name string, p fleet.PrinterID) (fleet.OrgID, fleet.SiteID) {
	t.Helper()
	org, err := f.db.CreateOrg(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	site, err := f.db.CreateSite(t.Context(), org, name+" plant")
	if err != nil {
		t.Fatal(err)
	}
	f.status(t, org, site, p, name+" printer", fleet.StateIdle)
	return org, site
}

// A rate's chart is titled by its name, which says "per day" already, and
// its unit is in the reader's language.
func TestKPICardTitlesAndUnits(t *testing.T) {
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	daily := kpi.Daily{Printers: 1, Days: []kpi.DaySums{{Day: from, Sums: kpi.Sums{Jobs: 2, Parts: 6}}}}
	tests := []struct {
		name      string
		lang      i18n.Lang
		days      int
		want, not []string
	}{
		{"English days", i18n.English, 30, []string{"Jobs per day: ", "Packing density per day", "0.07 /day"}, []string{"per day per day"}},
		{"English weeks", i18n.English, 365, []string{"Jobs per day (weekly mean)", "Packing density per week"}, []string{"per day per week"}},
		{"German", i18n.German, 30, []string{"/Tag"}, []string{"/day", "pro Tag pro Tag"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var all strings.Builder
			for _, c := range kpiCards(tt.lang, daily, kpi.Period{From: from, To: from.AddDate(0, 0, tt.days)}) {
				fmt.Fprintf(&all, "%s\n%s\n", c.Value, c.Chart)
			}
			for _, w := range tt.want {
				if !strings.Contains(all.String(), w) {
					t.Errorf("cards lack %q", w)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(all.String(), w) {
					t.Errorf("cards say %q", w)
				}
			}
		})
	}
}
