package kpi

import (
	"errors"
	"math"
	"net/url"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var d0 = time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)

func job(id string, created time.Time, printH, coolH float64, status fleet.JobStatus) JobReport {
	fin := created.Add(time.Duration(printH * float64(time.Hour)))
	j := fleet.Job{ID: id, CreatedAt: created, StartedAt: created, FinishedAt: fin, Status: status, Material: "PA12",
		Density: 0.2, VolumeCM3: 500, PartCount: 4, RecyclableKG: 3,
		SubJobs: []fleet.SubJob{{Kind: "printing", Status: "done", Start: created, End: fin},
			{Kind: "cooling", Status: "done", Start: fin, End: fin.Add(time.Duration(coolH * float64(time.Hour)))}}}
	return JobReport{Job: j, Report: fin.Add(time.Duration(coolH * float64(time.Hour)))}
}

func TestRollup(t *testing.T) {
	a := job("a", d0.Add(22*time.Hour+30*time.Minute), 3, 2, fleet.JobCompleted) // 22:30–01:30, cooling to 03:30
	failed := job("f", d0.Add(time.Hour), 1, 0, fleet.JobFailed)
	failed.Job.SubJobs = failed.Job.SubJobs[:1]
	running := job("r", d0.Add(-time.Hour), 5, 0, fleet.JobPrinting)
	running.Job.FinishedAt = time.Time{}
	running.Job.SubJobs = []fleet.SubJob{{Kind: "printing", Status: "running", Start: d0.Add(-time.Hour)}}
	running.Report = d0.Add(time.Hour)
	jobs := []JobReport{a, failed, running}
	parts := map[string][]fleet.Part{"a": {{Outcome: fleet.PartPass, MaterialG: 1500}, {Outcome: fleet.PartPorosity, MaterialG: 500},
		{Outcome: fleet.PartPending}}, "f": {{Outcome: fleet.PartNotPrinted}}}

	t.Run("FirstDay", func(t *testing.T) {
		got := Rollup(d0, jobs, parts)
		var want Row
		want.Material = "PA12"
		want.JobsFailed = 1
		want.PartsInspected = 1               // the failed job's part, not printed
		want.PrintingSec = 3600 + 3600 + 5400 // running 00:00–01:00, failed 01:00–02:00, a 22:30–24:00
		want.CoolingSec = 0
		want.Printing[0], want.Printing[1], want.Printing[22], want.Printing[23] = 3600, 3600, 1800, 3600
		if diff := cmp.Diff([]Row{want}, got); diff != "" {
			t.Errorf("Rollup (-want +got):\n%s", diff)
		}
	})
	t.Run("SecondDay", func(t *testing.T) {
		got := Rollup(d0.Add(24*time.Hour), jobs, parts)
		var want Row
		want.Material = "PA12"
		want.Sums = Sums{Jobs: 1, Parts: 4, PartsInspected: 2, PartsPassed: 1, DensityVolume: 100, VolumeCM3: 500,
			PartsKG: 2, RecyclableKG: 3, PrintingSec: 5400, CoolingSec: 7200}
		want.Printing[0], want.Printing[1] = 3600, 1800
		want.Cooling[1], want.Cooling[2], want.Cooling[3] = 1800, 3600, 1800
		if diff := cmp.Diff([]Row{want}, got); diff != "" {
			t.Errorf("Rollup (-want +got):\n%s", diff)
		}
	})
	t.Run("Days", func(t *testing.T) {
		if diff := cmp.Diff([]time.Time{d0, d0.Add(24 * time.Hour)}, Days(a)); diff != "" {
			t.Errorf("Days (-want +got):\n%s", diff)
		}
	})
	t.Run("ClippedToMaxSpan", func(t *testing.T) {
		long := job("l", d0, 24*20, 0, fleet.JobCooling)
		days := Days(long)
		if last := days[len(days)-1]; !last.Before(d0.Add(MaxSpan)) {
			t.Errorf("last day %v, want before %v", last, d0.Add(MaxSpan))
		}
		if !AttributedTo(long.Job).Equal(d0) {
			t.Errorf("a job finishing after MaxSpan is attributed to %v, want its creation day", AttributedTo(long.Job))
		}
	})
}

func TestCompute(t *testing.T) {
	s := Sums{Jobs: 14, Parts: 70, PartsInspected: 50, PartsPassed: 45, DensityVolume: 30, VolumeCM3: 200,
		PartsKG: 10, RecyclableKG: 30, PrintingSec: 2 * 7 * 12 * 3600}
	got := Compute(s, 2, 7)
	want := []Value{{PackingDensity, 15, true}, {Utilisation, 50, true}, {Recycling, 75, true},
		{JobsPerDay, 2, true}, {PartsPerDay, 10, true}, {FirstTimeRight, 90, true}}
	if diff := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("Compute (-want +got):\n%s", diff)
	}
	for _, v := range Compute(Sums{}, 0, 7) {
		if v.OK && v.Key != JobsPerDay && v.Key != PartsPerDay {
			t.Errorf("%s defined without data: %v", v.Key, v.Value)
		}
	}
	if len(Definitions()) != len(got) {
		t.Errorf("%d definitions for %d KPIs", len(Definitions()), len(got))
	}
}

func TestParsePeriod(t *testing.T) {
	now := d0.Add(15 * time.Hour)
	tests := []struct {
		key, from, to string
		want          Period
		err           bool
	}{
		{"", "", "", Period{"30d", d0.AddDate(0, 0, -29), d0.AddDate(0, 0, 1)}, false},
		{"7d", "", "", Period{"7d", d0.AddDate(0, 0, -6), d0.AddDate(0, 0, 1)}, false},
		{"365d", "", "", Period{"365d", d0.AddDate(0, 0, -364), d0.AddDate(0, 0, 1)}, false},
		{"custom", "2026-01-01", "2026-01-31", Period{"custom", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)}, false},
		{"custom", "2026-02-01", "2026-01-01", Period{}, true},
		{"custom", "2020-01-01", "2026-01-01", Period{}, true},
		{"custom", "yesterday", "2026-01-01", Period{}, true},
		{"5d", "", "", Period{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.key+tt.from, func(t *testing.T) {
			got, err := ParsePeriod(tt.key, tt.from, tt.to, now)
			if tt.err != (err != nil) || tt.err && !errors.Is(err, ErrPeriod) {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParsePeriod (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTrends(t *testing.T) {
	p := Period{From: d0, To: d0.AddDate(0, 0, 3)}
	d := Daily{Printers: 1, Days: []DaySums{
		{Day: d0, Sums: Sums{Jobs: 2, DensityVolume: 10, VolumeCM3: 100}},
		{Day: d0.AddDate(0, 0, 2), Sums: Sums{Jobs: 4, DensityVolume: 30, VolumeCM3: 100, PrintingSec: 43200}},
	}}
	got := Trends(d, p)
	if diff := cmp.Diff([]Point{{d0, 10}, {d0.AddDate(0, 0, 2), 30}}, got[0].Points); diff != "" {
		t.Errorf("packing density trend (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Point{{d0, 0}, {d0.AddDate(0, 0, 1), 0}, {d0.AddDate(0, 0, 2), 50}}, got[1].Points); diff != "" {
		t.Errorf("utilisation trend (-want +got):\n%s", diff)
	}
	year := Period{From: d0, To: d0.AddDate(0, 0, 365)}
	if n := len(Trends(d, year)[3].Points); n != 53 {
		t.Errorf("a year has %d weekly jobs points, want 53", n)
	}
}

func TestShares(t *testing.T) {
	var u Usage
	u.Printers = 2
	w := d0.Weekday()
	u.Printing[w][9] = 3600 // one of two printers for the hour
	u.Cooling[w][9] = 1800
	got := u.Shares(Period{From: d0, To: d0.AddDate(0, 0, 7)}, d0.AddDate(1, 0, 0))
	if got.Printing[w][9] != 50 || got.Cooling[w][9] != 25 || got.Idle[w][9] != 25 || got.Idle[w][10] != 100 {
		t.Errorf("shares at 9:00 = %v/%v/%v, idle at 10:00 %v; want 50/25/25, 100",
			got.Printing[w][9], got.Cooling[w][9], got.Idle[w][9], got.Idle[w][10])
	}
}

// Utilisation counts a printer's time only from when it was first seen: a
// printer enrolled on the last day of a 30-day period that printed half
// of that day is 50 % utilised, not 1.7 %; one of two printers there all
// the time and one enrolled at noon of the last day share 36 hours.
func TestUtilisationOverTheTimeAPrinterWasThere(t *testing.T) {
	p := Period{From: d0, To: d0.AddDate(0, 0, 30)}
	last := p.To.Add(-24 * time.Hour)
	tests := []struct {
		name     string
		printers int
		since    []time.Time
		printing float64
		want     float64
	}{
		{"enrolled on the last day", 1, []time.Time{last}, 12 * 3600, 50},
		{"enrolled before the period", 1, []time.Time{d0.AddDate(0, -1, 0)}, 12 * 3600, 100.0 / 60},
		{"first seen unknown", 1, nil, 12 * 3600, 100.0 / 60},
		{"one old, one since noon", 2, []time.Time{{}, last.Add(12 * time.Hour)}, 12 * 3600, 100 * 12.0 / (30*24 + 12)},
		{"enrolled after the period", 1, []time.Time{p.To.Add(time.Hour)}, 0, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Daily{Printers: tt.printers, Since: tt.since, Days: []DaySums{{Day: last, Sums: Sums{PrintingSec: tt.printing}}}}
			v := d.Compute(p)[1]
			if v.Key != Utilisation {
				t.Fatalf("value 1 is %s", v.Key)
			}
			if tt.want < 0 {
				if v.OK {
					t.Errorf("utilisation = %v, want undefined: no printer time", v.Value)
				}
				return
			}
			if !v.OK || math.Abs(v.Value-tt.want) > 1e-9 {
				t.Errorf("utilisation = %v (ok %v), want %v", v.Value, v.OK, tt.want)
			}
			// The trend's last day agrees; days before the printer was
			// there have no point.
			trend := Trends(d, p)[1].Points
			if len(tt.since) == 1 && tt.since[0].Equal(last) && (len(trend) != 1 || trend[0].Value != 50) {
				t.Errorf("utilisation trend = %v, want one point of 50 on the last day", trend)
			}
			// Nor do jobs per day have zeros before the printer was there.
			if jobs := Trends(d, p)[3].Points; len(tt.since) == 1 && tt.since[0].Equal(last) && len(jobs) != 1 {
				t.Errorf("jobs per day trend = %v, want one point, on the last day", jobs)
			}
		})
	}
}

// Hours before any printer was there have no printer time and no shares:
// not 100 % idle.
func TestSharesBeforeThePrintersWereThere(t *testing.T) {
	since := d0.Add(3*24*time.Hour + 10*time.Hour) // the fourth day, 10:00
	u := Usage{Printers: 1, Since: []time.Time{since}}
	now := d0.Add(6*24*time.Hour + 12*time.Hour + 30*time.Minute) // the last day, 12:30
	got := u.Shares(Period{From: d0, To: d0.AddDate(0, 0, 7)}, now)
	early, later := d0.Weekday(), since.Weekday()
	if got.PrinterHours[early][9] != 0 || got.Idle[early][9] != 0 {
		t.Errorf("before the printer: %v printer hours, %v %% idle; want none", got.PrinterHours[early][9], got.Idle[early][9])
	}
	if got.PrinterHours[later][9] != 0 || got.PrinterHours[later][10] != 1 || got.Idle[later][10] != 100 {
		t.Errorf("its first day: %v printer hours at 9:00, %v at 10:00 (%v %% idle); want 0, 1 (100)",
			got.PrinterHours[later][9], got.PrinterHours[later][10], got.Idle[later][10])
	}
	// Hours still to come have no printer time either: on the last day,
	// 12:00 has half an hour so far, 13:00 none.
	last := now.Weekday()
	if got.PrinterHours[last][12] != 0.5 || got.PrinterHours[last][13] != 0 || got.Idle[last][13] != 0 {
		t.Errorf("today: %v printer hours at 12:00, %v at 13:00 (%v %% idle); want 0.5, 0 (0)",
			got.PrinterHours[last][12], got.PrinterHours[last][13], got.Idle[last][13])
	}
}

// cohortOf returns n aggregates whose packing density is the given values.
func cohortOf(densities ...float64) []Aggregate {
	var out []Aggregate
	for _, v := range densities {
		out = append(out, Aggregate{Printers: 1, Sums: Sums{Jobs: 10, DensityVolume: v / 100 * 1000, VolumeCM3: 1000}})
	}
	return out
}

func TestBands(t *testing.T) {
	you := cohortOf(12)[0]
	t.Run("TooSmall", func(t *testing.T) {
		for _, b := range Bands(cohortOf(10, 11, 12, 13), you, 30) {
			if !b.TooSmall || b.P50 != 0 {
				t.Errorf("%s from 4 others: %+v, want too small and no values", b.Key, b)
			}
		}
	})
	t.Run("Percentiles", func(t *testing.T) {
		// Each value is the mean of the Window members around the
		// percentile's nearest rank, the window kept inside the cohort.
		for _, tt := range []struct {
			cohort []float64
			want   Band
		}{
			{[]float64{10, 20, 30, 40, 50}, Band{Key: PackingDensity, P10: 20, P25: 20, P50: 30, P75: 40, P90: 40, You: 12, YouOK: true}},
			{[]float64{10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21}, Band{Key: PackingDensity, P10: 11, P25: 13, P50: 16, P75: 18, P90: 20, You: 12, YouOK: true}},
		} {
			b := Bands(cohortOf(tt.cohort...), you, 30)[0]
			if diff := cmp.Diff(tt.want, b); diff != "" {
				t.Errorf("band of %v (-want +got):\n%s", tt.cohort, diff)
			}
		}
	})
	t.Run("Grid", func(t *testing.T) {
		for _, tt := range []struct {
			unit string
			v    float64
			want float64
		}{{"%", 14.4, 14}, {"%", 14.6, 15}, {"/day", 1234, 1200}, {"/day", 0.0456, 0.046}, {"/day", 0, 0}} {
			if got := Grid(tt.unit, tt.v); got-tt.want > 1e-12 || tt.want-got > 1e-12 {
				t.Errorf("Grid(%q, %v) = %v, want %v", tt.unit, tt.v, got, tt.want)
			}
		}
	})
}

// TestBenchmarkDifferencing plays an attacker who watches the bands while
// a victim organisation changes: the bands must not reveal the victim.
func TestBenchmarkDifferencing(t *testing.T) {
	you := cohortOf(20)[0]
	others := cohortOf(18.2, 21.4, 24.9, 27.3, 30.1, 33.6)
	before := Bands(others, you, 30)
	t.Run("CohortOfOneBelowMinimum", func(t *testing.T) {
		// Narrowing the cohort to the victim alone, or to the minimum less
		// one, yields no values at all.
		for n := 1; n < MinCohort; n++ {
			for _, b := range Bands(others[:n], you, 30) {
				if !b.TooSmall || b.P10 != 0 || b.P90 != 0 {
					t.Errorf("cohort of %d: %+v, want too small without values", n, b)
				}
			}
		}
	})
	t.Run("NoMinOrMax", func(t *testing.T) {
		// The outer band never reports any member's own extreme value.
		b := before[0]
		if b.P10 == 18 || b.P90 == 34 {
			t.Errorf("band %+v shows the cohort's extremes", b)
		}
	})
	t.Run("FixedPeriods", func(t *testing.T) {
		// The benchmark periods end with the last complete month: what a
		// victim does this month is not in any band yet.
		now := time.Date(2026, 3, 20, 10, 0, 0, 0, time.UTC)
		for _, k := range BenchmarkPeriods {
			p, err := BenchmarkPeriod(k, now)
			if err != nil {
				t.Fatal(err)
			}
			if !p.To.Equal(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)) || p.From.Day() != 1 {
				t.Errorf("period %s = %v–%v, want whole months ending 1 March", k, p.From, p.To)
			}
		}
		if _, err := BenchmarkPeriod("7d", now); !errors.Is(err, ErrPeriod) {
			t.Errorf("a free period is accepted for benchmarks: %v", err)
		}
	})
}

// FuzzParseQuery feeds the query reader whatever a caller may put in a
// URL: it never panics, and a period it accepts is whole days, forward,
// and at most MaxDays long.
func FuzzParseQuery(f *testing.F) {
	f.Add("period=30d")
	f.Add("period=custom&from=2026-01-01&to=2026-01-31&site=s&printer=p&model=Jet")
	f.Add("period=custom&from=2026-02-30&to=1999-01-01")
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := ParseQuery(v, d0)
		if err != nil {
			return
		}
		p := q.Period
		if !p.To.After(p.From) || p.Days() > MaxDays || !Day(p.From).Equal(p.From) || !Day(p.To).Equal(p.To) {
			t.Errorf("ParseQuery(%q) = period %v–%v", raw, p.From, p.To)
		}
	})
}
