package kpi

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// MinCohort is the fewest other organisations a band is computed from.
const MinCohort = 5

// Window is how many organisations' values every band value averages:
// no band is ever one organisation's value, nor an interpolation that
// leans on the cohort's lowest or highest member.
const Window = 3

// A band needs a whole window: MinCohort must not fall below Window.
const _ = uint(MinCohort - Window)

// Aggregate is one anonymous cohort member: an organisation's sums over a
// benchmark period for one printer model, and how many printers of the
// model it has. It carries no identity.
type Aggregate struct {
	Printers int
	Sums
}

// BenchmarkPeriods are the fixed benchmark periods: the last 1, 3 or 12
// complete calendar months.
var BenchmarkPeriods = []string{"1m", "3m", "12m"}

// Month returns the first instant of t's UTC month.
func Month(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// BenchmarkPeriod returns the fixed period key names ("" is 3m) as of now:
// whole UTC months, the running month excluded.
func BenchmarkPeriod(key string, now time.Time) (Period, error) {
	if key == "" {
		key = "3m"
	}
	n := map[string]int{"1m": 1, "3m": 3, "12m": 12}[key]
	if n == 0 {
		return Period{}, fmt.Errorf("%w: benchmark periods are 1m, 3m and 12m, not %q", ErrPeriod, key)
	}
	to := Month(now)
	return Period{Key: key, From: to.AddDate(0, -n, 0), To: to}, nil
}

// Band is one KPI's cohort percentiles and the caller's own value.
// TooSmall means fewer than MinCohort other organisations have a value for
// the KPI: then the percentiles are zero and must not be shown.
type Band struct {
	Key      Key     `json:"key"`
	TooSmall bool    `json:"too_small"`
	P10      float64 `json:"p10"`
	P25      float64 `json:"p25"`
	P50      float64 `json:"p50"`
	P75      float64 `json:"p75"`
	P90      float64 `json:"p90"`
	You      float64 `json:"you"`
	YouOK    bool    `json:"you_ok"`
}

// Bands computes the bands of every KPI, in the order of Definitions, of
// the cohort others (which must not contain the caller) against you, over
// a period of days days. Jobs and parts per day are per printer here.
func Bands(others []Aggregate, you Aggregate, days int) []Band {
	defs := Definitions()
	vals := make([][]float64, len(defs))
	for _, o := range others {
		for i, v := range comparable(o, days) {
			if v.OK {
				vals[i] = append(vals[i], v.Value)
			}
		}
	}
	mine := comparable(you, days)
	out := make([]Band, len(defs))
	for i, def := range defs {
		b := Band{Key: def.Key, You: mine[i].Value, YouOK: mine[i].OK}
		if len(vals[i]) < MinCohort {
			b.TooSmall = true
			out[i] = b
			continue
		}
		v := vals[i]
		sort.Float64s(v)
		g := func(p float64) float64 { return Grid(def.Unit, smoothed(v, p)) }
		b.P10, b.P25, b.P50, b.P75, b.P90 = g(0.10), g(0.25), g(0.50), g(0.75), g(0.90)
		out[i] = b
	}
	return out
}

// comparable computes a's KPIs so that organisations of different sizes
// compare: rates per day become rates per printer and day.
func comparable(a Aggregate, days int) []Value {
	vs := Compute(a.Sums, a.Printers, days)
	for i, v := range vs {
		if v.Key == JobsPerDay || v.Key == PartsPerDay {
			if a.Printers <= 0 {
				vs[i] = Value{Key: v.Key}
				continue
			}
			vs[i].Value /= float64(a.Printers)
		}
	}
	return vs
}

// smoothed is the p-th percentile of sorted v (at least Window values)
// as the mean of the Window values around its nearest rank, the window
// kept inside v. An interpolated percentile of five values would be one
// member's value at p25, p50 and p75, and give away the lowest and the
// highest member at p10 and p90 (p90 = v3 + 0.6(v4 − v3) solves for v4);
// a mean of three is neither, and five such means leave the members'
// values undetermined.
func smoothed(v []float64, p float64) float64 {
	c := int(math.Round(p * float64(len(v)-1)))
	lo := min(max(c-Window/2, 0), len(v)-Window)
	var sum float64
	for _, x := range v[lo : lo+Window] {
		sum += x
	}
	return sum / Window
}

// Grid rounds a band value to the coarse grid of its unit: whole
// percentage points for shares, two significant digits for rates.
func Grid(unit string, v float64) float64 {
	if unit == "%" {
		return math.Round(v)
	}
	if v == 0 {
		return 0
	}
	mag := math.Pow(10, math.Floor(math.Log10(math.Abs(v)))-1)
	return math.Round(v/mag) * mag
}

// CohortReader is what Benchmark reads: an organisation's own daily sums
// and the anonymous cohort of a model.
type CohortReader interface {
	KPIDaily(ctx context.Context, org fleet.OrgID, f Filter) (Daily, error)
	BenchmarkCohort(ctx context.Context, model string, exclude fleet.OrgID, from, to time.Time) ([]Aggregate, error)
}

// Reader is what the KPI, benchmark and usage pages and API read: an
// organisation's daily sums and the benchmark cohort (CohortReader), its
// usage by hour and its material use by day.
type Reader interface {
	CohortReader
	UsageHeatmap(ctx context.Context, org fleet.OrgID, f Filter) (Usage, error)
	MaterialUse(ctx context.Context, org fleet.OrgID, f Filter) ([]MaterialDay, error)
}

// Benchmark compares org, limited to sites (nil: all sites), with the
// other organisations using model over period (see BenchmarkPeriod). The
// cohort side is never filtered by site.
func Benchmark(ctx context.Context, st CohortReader, org fleet.OrgID, sites []fleet.SiteID, model string, period Period) ([]Band, error) {
	mine, err := st.KPIDaily(ctx, org, Filter{Sites: sites, Model: model, From: period.From, To: period.To})
	if err != nil {
		return nil, fmt.Errorf("benchmark of %s: %w", model, err)
	}
	cohort, err := st.BenchmarkCohort(ctx, model, org, period.From, period.To)
	if err != nil {
		return nil, fmt.Errorf("benchmark of %s: %w", model, err)
	}
	return Bands(cohort, Aggregate{Printers: mine.Printers, Sums: mine.Total()}, period.Days()), nil
}
