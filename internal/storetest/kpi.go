package storetest

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/kpi"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// KPIs reads an organisation's daily KPI rollups, its usage by hour of
// the week and its material use, and the anonymous cohort of other
// organisations with a model that the benchmark compares with.
type KPIs interface {
	KPIDaily(ctx context.Context, org fleet.OrgID, f kpi.Filter) (kpi.Daily, error)
	UsageHeatmap(ctx context.Context, org fleet.OrgID, f kpi.Filter) (kpi.Usage, error)
	MaterialUse(ctx context.Context, org fleet.OrgID, f kpi.Filter) ([]kpi.MaterialDay, error)
	BenchmarkCohort(ctx context.Context, model string, exclude fleet.OrgID, from, to time.Time) ([]kpi.Aggregate, error)
}

// KPIStore is what RunKPIs drives: KPIs and benchmark, with organisations
// and the ingest that rolls them up.
type KPIStore interface {
	KPIs
	Orgs
	Ingest
}

// RunKPIs runs the KPIs and benchmark contract against stores made by
// open: the daily rollup as jobs and parts are reported again or move,
// even under concurrent ingest, its filters, usage and material reads,
// and the benchmark cohort.
func RunKPIs(t *testing.T, open func(t *testing.T) KPIStore) {
	runTests(t, open, []storeTest[KPIStore]{
		{"KPIRollup", testKPIRollup},
		{"KPIFilters", testKPIFilters},
		{"BenchmarkCohort", testBenchmarkCohort},
		{"KPIRollupUnderRace", testKPIRollupRace},
	})
}

// kpiDay is the UTC day the KPI contract's jobs are built around.
var kpiDay = time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)

// KPIJobRecord is a report of a job that was created at created, printed
// for printH hours from created and then cooled for coolH hours (a zero
// coolH leaves it cooling, reported at created+printH), in material.
func KPIJobRecord(seq uint64, p fleet.PrinterID, id, material string, created time.Time, printH, coolH float64, density, volume float64) fleet.Record {
	start := created
	fin := start.Add(time.Duration(printH * float64(time.Hour)))
	status := fleet.JobCooling
	cooling := fleet.SubJob{Kind: "cooling", Status: "running", Start: fin}
	at := fin
	if coolH > 0 {
		status = fleet.JobCompleted
		cooling.End = fin.Add(time.Duration(coolH * float64(time.Hour)))
		cooling.Status = "done"
		at = cooling.End
	}
	return fleet.Record{Seq: seq, Kind: fleet.KindJob, PrinterID: p, Time: at, Job: &fleet.Job{
		ID: id, CreatedAt: created, StartedAt: start, FinishedAt: fin, Material: material, Status: status,
		Density: density, VolumeCM3: volume, RecyclableKG: 9, PartCount: 3, PrintMode: "balanced", ParameterSet: "secret-set",
		SubJobs: []fleet.SubJob{{Kind: "printing", Status: "done", Start: start, End: fin}, cooling},
	}}
}

// kpiPart is a part of job with outcome, using grams of material.
func kpiPart(seq uint64, p fleet.PrinterID, job, id string, outcome fleet.PartOutcome, grams float64, at time.Time) fleet.Record {
	r := PartRecord(seq, p, job, id, outcome, at)
	r.Part.MaterialG = grams
	return r
}

// approx compares sums approximately; when printers were first seen is
// the FirstSeen test's.
var approx = cmp.Options{cmpopts.EquateApprox(0, 1e-9), cmpopts.IgnoreFields(kpi.Daily{}, "Since"), cmpopts.IgnoreFields(kpi.Usage{}, "Since")}

func kpiDaily(t *testing.T, s KPIs, org fleet.OrgID, f kpi.Filter) kpi.Daily {
	t.Helper()
	if f.From.IsZero() {
		f.From, f.To = kpiDay.AddDate(0, 0, -30), kpiDay.AddDate(0, 0, 30)
	}
	d, err := s.KPIDaily(t.Context(), org, f)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// testKPIRollup checks the daily rollup: what a day sums up to, that a job
// reported again counts once, that a job moving to another day leaves the
// old one, and that parts count with their job.
func testKPIRollup(t *testing.T, s KPIStore) {
	org, site := tenant(t, s, "acme")
	other, otherSite := tenant(t, s, "other")
	p := fleet.PrinterID("printer-kpi-1")
	created := kpiDay.Add(20 * time.Hour) // printing 20:00–02:00, finishes the next day
	apply(t, s, Env(org, site, "gw-k", IdentityRecord(1, p, "jet", kpiDay),
		KPIJobRecord(2, p, "job-a", "PA12", created, 6, 0, 0.10, 1000),
		KPIJobRecord(3, p, "job-b", "PA12", kpiDay.Add(-48*time.Hour), 2, 10, 0.20, 3000),
		kpiPart(4, p, "job-a", "part-1", fleet.PartPass, 500, created),
		kpiPart(5, p, "job-a", "part-2", fleet.PartWarp, 500, created),
		kpiPart(6, p, "job-a", "part-3", fleet.PartPending, 1000, created)), 6)
	apply(t, s, Env(other, otherSite, "gw-o", IdentityRecord(1, "printer-other", "x", kpiDay),
		KPIJobRecord(2, "printer-other", "job-x", "PA12", created, 6, 0, 0.5, 99)), 2)

	next := kpiDay.Add(24 * time.Hour)
	wantA := kpi.DaySums{Day: next, Sums: kpi.Sums{Jobs: 1, Parts: 3, PartsInspected: 2, PartsPassed: 1,
		DensityVolume: 100, VolumeCM3: 1000, PartsKG: 2, RecyclableKG: 9, PrintingSec: 2 * 3600}}
	want := kpi.Daily{Printers: 1, Days: []kpi.DaySums{
		{Day: kpiDay.Add(-48 * time.Hour), Sums: kpi.Sums{Jobs: 1, Parts: 3, DensityVolume: 600, VolumeCM3: 3000,
			RecyclableKG: 9, PrintingSec: 2 * 3600, CoolingSec: 10 * 3600}},
		{Day: kpiDay, Sums: kpi.Sums{PrintingSec: 4 * 3600}},
		wantA,
	}}
	// job-a is still cooling: its cooling counts up to its report, none.
	if diff := cmp.Diff(want, kpiDaily(t, s, org, kpi.Filter{}), approx); diff != "" {
		t.Fatalf("KPIDaily (-want +got):\n%s", diff)
	}

	t.Run("ReportedAgainCountsOnce", func(t *testing.T) {
		apply(t, s, Env(org, site, "gw-k", KPIJobRecord(7, p, "job-a", "PA12", created, 6, 0, 0.10, 1000),
			kpiPart(8, p, "job-a", "part-1", fleet.PartPass, 500, created)), 2)
		if diff := cmp.Diff(want, kpiDaily(t, s, org, kpi.Filter{}), approx); diff != "" {
			t.Errorf("KPIDaily (-want +got):\n%s", diff)
		}
	})
	t.Run("PartOutcomeChanges", func(t *testing.T) {
		apply(t, s, Env(org, site, "gw-k", kpiPart(9, p, "job-a", "part-3", fleet.PartPass, 1000, created.Add(time.Hour))), 1)
		got := kpiDaily(t, s, org, kpi.Filter{From: next, To: next.Add(24 * time.Hour)})
		w := wantA
		w.PartsInspected, w.PartsPassed = 3, 2
		if diff := cmp.Diff(kpi.Daily{Printers: 1, Days: []kpi.DaySums{w}}, got, approx); diff != "" {
			t.Errorf("KPIDaily (-want +got):\n%s", diff)
		}
	})
	t.Run("JobMovesDay", func(t *testing.T) {
		// job-b is reported again with a later creation: it leaves its old day.
		apply(t, s, Env(org, site, "gw-k", KPIJobRecord(10, p, "job-b", "PA12", kpiDay.Add(-24*time.Hour), 2, 10, 0.20, 3000)), 1)
		got := kpiDaily(t, s, org, kpi.Filter{From: kpiDay.Add(-72 * time.Hour), To: kpiDay})
		wantB := kpi.Daily{Printers: 1, Days: []kpi.DaySums{{Day: kpiDay.Add(-24 * time.Hour), Sums: kpi.Sums{Jobs: 1, Parts: 3,
			DensityVolume: 600, VolumeCM3: 3000, RecyclableKG: 9, PrintingSec: 2 * 3600, CoolingSec: 10 * 3600}}}}
		if diff := cmp.Diff(wantB, got, approx); diff != "" {
			t.Errorf("KPIDaily (-want +got):\n%s", diff)
		}
	})
	t.Run("FirstSeen", func(t *testing.T) {
		// The earliest record so far is job-b's report, 36 hours before
		// kpiDay; an older record moves it back, a newer one does not.
		since := func() []time.Time { return kpiDaily(t, s, org, kpi.Filter{}).Since }
		if diff := cmp.Diff([]time.Time{kpiDay.Add(-36 * time.Hour)}, since()); diff != "" {
			t.Fatalf("first seen (-want +got):\n%s", diff)
		}
		old := kpiDay.AddDate(0, 0, -10)
		apply(t, s, Env(org, site, "gw-k", IdentityRecord(20, p, "jet", old), IdentityRecord(21, p, "jet", kpiDay.AddDate(0, 0, 5))), 2)
		if diff := cmp.Diff([]time.Time{old}, since()); diff != "" {
			t.Errorf("first seen after an older record (-want +got):\n%s", diff)
		}
		u, err := s.UsageHeatmap(t.Context(), org, kpi.Filter{From: kpiDay, To: kpiDay.Add(24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]time.Time{old}, u.Since); diff != "" {
			t.Errorf("usage's first seen (-want +got):\n%s", diff)
		}
		// Utilisation over the 60 days read: the printer was there for 40
		// of them, printing 8 hours.
		f := kpi.Filter{From: kpiDay.AddDate(0, 0, -30), To: kpiDay.AddDate(0, 0, 30)}
		d := kpiDaily(t, s, org, f)
		got := d.Compute(kpi.Period{From: f.From, To: f.To})[1]
		if want := 100 * 8.0 / (40 * 24); !got.OK || math.Abs(got.Value-want) > 1e-9 {
			t.Errorf("utilisation = %v, want %v: over the days the printer was there", got.Value, want)
		}
	})
	t.Run("Isolation", func(t *testing.T) {
		got := kpiDaily(t, s, other, kpi.Filter{})
		if got.Printers != 1 || len(got.Days) != 2 || got.Total().VolumeCM3 != 99 {
			t.Errorf("other org's KPIs = %+v, want only its own job", got)
		}
		if got := kpiDaily(t, s, org, kpi.Filter{Printer: "printer-other"}); got.Printers != 0 || len(got.Days) != 0 {
			t.Errorf("org reading another org's printer = %+v, want nothing", got)
		}
	})
}

// testKPIFilters checks site, site-limit, model and printer filters and
// the usage and material reads.
func testKPIFilters(t *testing.T, s KPIStore) {
	org, site1 := tenant(t, s, "acme")
	site2, err := s.CreateSite(t.Context(), org, "second plant")
	if err != nil {
		t.Fatal(err)
	}
	at := kpiDay.Add(9 * time.Hour) // a Tuesday, 09:00
	apply(t, s, Env(org, site1, "gw-1", IdentityRecord(1, "printer-1", "one", kpiDay),
		KPIJobRecord(2, "printer-1", "j1", "PA12", at, 1.5, 1, 0.1, 100),
		kpiPart(3, "printer-1", "j1", "x1", fleet.PartPass, 2000, at)), 3)
	apply(t, s, Env(org, site2, "gw-2", IdentityRecord(1, "printer-2", "two", kpiDay), IdentityRecord(2, "printer-3", "three", kpiDay),
		KPIJobRecord(3, "printer-2", "j2", "PA11", at, 1, 0, 0.3, 300)), 3)

	tests := []struct {
		name     string
		f        kpi.Filter
		printers int
		volume   float64
	}{
		{"Org", kpi.Filter{}, 3, 400},
		{"Site", kpi.Filter{Site: site2}, 2, 300},
		{"SiteLimit", kpi.Filter{Sites: []fleet.SiteID{site1}}, 1, 100},
		{"SiteLimitNone", kpi.Filter{Sites: []fleet.SiteID{}}, 0, 0},
		{"SiteOutsideLimit", kpi.Filter{Sites: []fleet.SiteID{site1}, Site: site2}, 0, 0},
		{"Printer", kpi.Filter{Printer: "printer-2"}, 1, 300},
		{"PrinterOutsideLimit", kpi.Filter{Printer: "printer-2", Sites: []fleet.SiteID{site1}}, 0, 0},
		{"Model", kpi.Filter{Model: "Jet 4200"}, 3, 400},
		{"OtherModel", kpi.Filter{Model: "Jet 5200"}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := kpiDaily(t, s, org, tt.f)
			if got.Printers != tt.printers || got.Total().VolumeCM3 != tt.volume {
				t.Errorf("printers, volume = %d, %v; want %d, %v", got.Printers, got.Total().VolumeCM3, tt.printers, tt.volume)
			}
		})
	}

	t.Run("Usage", func(t *testing.T) {
		f := kpi.Filter{From: kpiDay, To: kpiDay.Add(48 * time.Hour)}
		u, err := s.UsageHeatmap(t.Context(), org, f)
		if err != nil {
			t.Fatal(err)
		}
		var want kpi.Usage
		want.Printers = 3
		tue := int(kpiDay.Weekday())
		want.Printing[tue][9] = 3600 + 3600 // p1 09:00–10:30, p2 09:00–10:00
		want.Printing[tue][10] = 1800
		want.Cooling[tue][10] = 1800 // p1 10:30–11:30; p2 cooling since 10:00, reported then: none yet
		want.Cooling[tue][11] = 1800
		if diff := cmp.Diff(want, u, approx); diff != "" {
			t.Errorf("UsageHeatmap (-want +got):\n%s", diff)
		}
		u, err = s.UsageHeatmap(t.Context(), org, kpi.Filter{From: f.From, To: f.To, Printer: "printer-2"})
		if err != nil {
			t.Fatal(err)
		}
		if u.Printers != 1 || u.Printing[tue][9] != 3600 || u.Printing[tue][10] != 0 {
			t.Errorf("UsageHeatmap of p2 = %d printers, %v at 9:00; want 1, 3600", u.Printers, u.Printing[tue][9])
		}
	})
	t.Run("MaterialUse", func(t *testing.T) {
		got, err := s.MaterialUse(t.Context(), org, kpi.Filter{From: kpiDay, To: kpiDay.Add(24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		want := []kpi.MaterialDay{
			{Day: kpiDay, Material: "PA11", Jobs: 1, RecyclableKG: 9},
			{Day: kpiDay, Material: "PA12", Jobs: 1, PartsKG: 2, RecyclableKG: 9},
		}
		if diff := cmp.Diff(want, got, approx); diff != "" {
			t.Errorf("MaterialUse (-want +got):\n%s", diff)
		}
	})
}

// testBenchmarkCohort checks that a cohort holds every other organisation
// with the model, once, summed over the months asked for, and never the
// caller.
func testBenchmarkCohort(t *testing.T, s KPIStore) {
	month := kpi.Month(kpiDay)
	var orgs []fleet.OrgID
	var sites []fleet.SiteID
	for i := range 4 {
		org, site := tenant(t, s, fmt.Sprintf("org%d", i))
		orgs, sites = append(orgs, org), append(sites, site)
		p := fleet.PrinterID(fmt.Sprintf("printer-b-%d", i))
		recs := []fleet.Record{IdentityRecord(1, p, "jet", kpiDay), IdentityRecord(2, p+"-2", "jet2", kpiDay)}
		for k := range i + 1 {
			recs = append(recs, KPIJobRecord(uint64(10+k), p, fmt.Sprintf("j%d", k), "PA12", month.Add(time.Duration(k)*24*time.Hour+time.Hour), 1, 1, 0.1, 10))
		}
		// A job of the previous month, outside the asked months.
		recs = append(recs, KPIJobRecord(30, p, "old", "PA12", month.AddDate(0, 0, -5), 1, 1, 0.1, 1000))
		apply(t, s, Env(org, site, fleet.GatewayID(fmt.Sprintf("gw-%d", i)), recs...), len(recs))
	}
	got, err := s.BenchmarkCohort(t.Context(), "Jet 4200", orgs[0], month, month.AddDate(0, 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	var want []kpi.Aggregate
	for i := 1; i < 4; i++ {
		n := int64(i + 1)
		want = append(want, kpi.Aggregate{Printers: 2, Sums: kpi.Sums{Jobs: n, Parts: 3 * n, DensityVolume: float64(n),
			VolumeCM3: 10 * float64(n), RecyclableKG: 9 * float64(n), PrintingSec: 3600 * float64(n), CoolingSec: 3600 * float64(n)}})
	}
	if diff := cmp.Diff(want, got, approx); diff != "" {
		t.Errorf("BenchmarkCohort (-want +got):\n%s", diff)
	}
	// A member that adds printers after the month must not move the
	// closed month's cohort: an attacker comparing the bands would see it.
	var recs []fleet.Record
	for k := range 3 {
		recs = append(recs, IdentityRecord(uint64(40+k), fleet.PrinterID(fmt.Sprintf("printer-b-1-new-%d", k)), "jet", month.AddDate(0, 1, 2)))
	}
	apply(t, s, Env(orgs[1], sites[1], "gw-1", recs...), len(recs))
	got, err = s.BenchmarkCohort(t.Context(), "Jet 4200", orgs[0], month, month.AddDate(0, 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, approx); diff != "" {
		t.Errorf("BenchmarkCohort after a member added printers next month (-want +got):\n%s", diff)
	}
	got, err = s.BenchmarkCohort(t.Context(), "Jet 5200", "", month, month.AddDate(0, 1, 0))
	if err != nil || len(got) != 0 {
		t.Errorf("cohort of an unknown model = %v, %v; want none", got, err)
	}
}

// testKPIRollupRace applies jobs of several printers of one site on one
// day concurrently: the site's and the month's rollups hold every job.
func testKPIRollupRace(t *testing.T, s KPIStore) {
	org, site := tenant(t, s, "acme")
	other, otherSite := tenant(t, s, "other")
	const printers, rounds = 4, 5
	for i := range printers {
		p := fleet.PrinterID(fmt.Sprintf("printer-race-%d", i))
		apply(t, s, Env(org, site, fleet.GatewayID(fmt.Sprintf("gw-race-%d", i)), IdentityRecord(1, p, "jet", kpiDay)), 1)
	}
	var wg sync.WaitGroup
	errs := make(chan error, printers*rounds)
	for i := range printers {
		wg.Go(func() {
			p := fleet.PrinterID(fmt.Sprintf("printer-race-%d", i))
			for k := range rounds {
				at := kpiDay.Add(time.Duration(k) * time.Hour)
				_, err := s.ApplyEnvelope(t.Context(), Env(org, site, fleet.GatewayID(fmt.Sprintf("gw-race-%d", i)),
					KPIJobRecord(uint64(10+k), p, fmt.Sprintf("job-%d", k), "PA12", at, 1, 1, 0.1, 10)))
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("ApplyEnvelope: %v", err)
	}
	d := kpiDaily(t, s, org, kpi.Filter{Site: site})
	if got := d.Total().Jobs; got != printers*rounds {
		t.Errorf("site rollup holds %d jobs, want %d", got, printers*rounds)
	}
	month := kpi.Month(kpiDay)
	// The month's benchmark row, seen from another organisation's cohort.
	apply(t, s, Env(other, otherSite, "gw-other", IdentityRecord(1, "printer-other", "x", kpiDay)), 1)
	cohort, err := s.BenchmarkCohort(t.Context(), "Jet 4200", other, month, month.AddDate(0, 1, 0))
	if err != nil || len(cohort) != 1 || cohort[0].Jobs != printers*rounds {
		t.Errorf("cohort = %+v, %v; want one member with %d jobs", cohort, err, printers*rounds)
	}
}
