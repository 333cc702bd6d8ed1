package kpi

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// Key names a KPI.
type Key string

// The KPIs.
const (
	PackingDensity Key = "packing_density"
	Utilisation    Key = "utilisation"
	Recycling      Key = "material_recycling"
	JobsPerDay     Key = "jobs_per_day"
	PartsPerDay    Key = "parts_per_day"
	FirstTimeRight Key = "first_time_right"
)

// Definition says what a KPI is, for the page next to its value.
type Definition struct {
	Key        Key    `json:"key"`
	Name       string `json:"name"`
	Unit       string `json:"unit"` // "%" or "/day"
	Definition string `json:"definition"`
}

// Definitions lists every KPI in the order pages show them.
func Definitions() []Definition {
	return []Definition{
		{PackingDensity, "Packing density", "%",
			"Volume-weighted mean packing density (parts volume over build volume) of the jobs that finished printing."},
		{Utilisation, "Utilisation", "%",
			"Printing time of the printers over their available time: the time in the period since each printer was first seen."},
		{Recycling, "Material recycling", "%",
			"Share of the powder of finished jobs that was recovered as recyclable instead of being fused into parts."},
		{JobsPerDay, "Jobs per day", "/day",
			"Jobs that finished printing, per day of the period."},
		{PartsPerDay, "Parts per day", "/day",
			"Parts of the jobs that finished printing, per day of the period."},
		{FirstTimeRight, "First-time-right rate", "%",
			"Parts that passed inspection over all inspected parts, including parts that were not printed."},
	}
}

// Value is a KPI's value; OK is false when the data does not define it
// (no finished jobs, no inspected parts, no printers).
type Value struct {
	Key   Key     `json:"key"`
	Value float64 `json:"value"`
	OK    bool    `json:"ok"`
}

// Compute returns every KPI, in the order of Definitions, of sums over
// days days of printers printers, each there all the time.
func Compute(s Sums, printers int, days int) []Value {
	return compute(s, float64(printers)*float64(days)*day.Seconds(), days)
}

// compute returns every KPI of sums over days days in which the printers
// were there for available seconds together.
func compute(s Sums, available float64, days int) []Value {
	ratio := func(k Key, num, den float64, scale float64) Value {
		if den <= 0 {
			return Value{Key: k}
		}
		return Value{Key: k, Value: scale * num / den, OK: true}
	}
	return []Value{
		ratio(PackingDensity, s.DensityVolume, s.VolumeCM3, 100),
		ratio(Utilisation, s.PrintingSec, available, 100),
		ratio(Recycling, s.RecyclableKG, s.RecyclableKG+s.PartsKG, 100),
		ratio(JobsPerDay, float64(s.Jobs), float64(days), 1),
		ratio(PartsPerDay, float64(s.Parts), float64(days), 1),
		ratio(FirstTimeRight, float64(s.PartsPassed), float64(s.PartsInspected), 100),
	}
}

// Filter selects what a KPI read covers. Org scoping is the store's
// parameter; Sites limits the read to a user's sites (nil: all sites).
type Filter struct {
	Sites   []fleet.SiteID // nil: every site of the organisation
	Site    fleet.SiteID
	Printer fleet.PrinterID
	Model   string
	From    time.Time // first UTC day
	To      time.Time // day after the last one
}

// Day is one day's sums.
type DaySums struct {
	Day time.Time `json:"day"`
	Sums
}

// Daily is what the store returns for a KPI read: the number of printers
// selected, when each was first seen, and the sums of each day that has
// any, in order.
type Daily struct {
	Printers int         `json:"printers"`
	Since    []time.Time `json:"-"` // see Available
	Days     []DaySums   `json:"days"`
}

// Compute returns every KPI of d over p, utilisation over the time each
// printer was there.
func (d Daily) Compute(p Period) []Value {
	return compute(d.Total(), Available(d.Printers, d.Since, p.From, p.To), p.Days())
}

// Available is the printer time, in seconds, that printers had in [from,
// to): each from since[i], the time it was first seen, on. A printer
// without one (i beyond since, or the zero time) counts all the time. A
// printer is not there before its first record: counting those days would
// make a printer enrolled yesterday look idle for the month.
func Available(printers int, since []time.Time, from, to time.Time) float64 {
	var sec float64
	for i := range printers {
		start := from
		if i < len(since) && since[i].After(start) {
			start = since[i]
		}
		if to.After(start) {
			sec += to.Sub(start).Seconds()
		}
	}
	return sec
}

// Total adds up all days.
func (d Daily) Total() Sums {
	var s Sums
	for _, x := range d.Days {
		s.Add(x.Sums)
	}
	return s
}

// Period is a span of whole UTC days [From, To).
type Period struct {
	Key  string    `json:"key"` // 7d, 30d, 90d, 365d, custom
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Days is the number of days in p.
func (p Period) Days() int { return int(p.To.Sub(p.From) / day) }

// Periods are the selectable periods besides custom ones.
var Periods = []string{"7d", "30d", "90d", "365d"}

// ErrPeriod is returned for a period that cannot be read.
var ErrPeriod = errors.New("invalid period")

// MaxDays is the longest period that can be asked for.
const MaxDays = 3 * 366

// ParsePeriod reads a period: one of Periods, ending with today; or
// "custom" with from and to as YYYY-MM-DD (both included). An empty key is
// the last 30 days.
func ParsePeriod(key, from, to string, now time.Time) (Period, error) {
	today := Day(now).Add(day)
	switch key {
	case "":
		key = "30d"
	case "custom":
		f, err1 := time.Parse(time.DateOnly, from)
		t, err2 := time.Parse(time.DateOnly, to)
		if err1 != nil || err2 != nil {
			return Period{}, fmt.Errorf("%w: from and to must be dates like 2026-03-01", ErrPeriod)
		}
		t = t.Add(day)
		if !t.After(f) || t.Sub(f) > MaxDays*day {
			return Period{}, fmt.Errorf("%w: from must precede to, at most %d days", ErrPeriod, MaxDays)
		}
		return Period{Key: key, From: f, To: t}, nil
	}
	for _, k := range Periods {
		if k == key {
			var n int
			fmt.Sscanf(k, "%dd", &n)
			return Period{Key: key, From: today.Add(-time.Duration(n) * day), To: today}, nil
		}
	}
	return Period{}, fmt.Errorf("%w: %q", ErrPeriod, key)
}

// Point is a trend point: the KPI over the bucket starting at T.
type Point struct {
	T     time.Time `json:"t"`
	Value float64   `json:"value"`
}

// Trend is one KPI's points over a period.
type Trend struct {
	Key    Key     `json:"key"`
	Points []Point `json:"points"`
}

// BucketDays is the width of trend buckets for a period: days up to 90
// days, weeks beyond.
func BucketDays(p Period) int {
	if p.Days() > 90 {
		return 7
	}
	return 1
}

// Trends computes every KPI per bucket of the period (see BucketDays);
// buckets where a KPI is undefined have no point, nor have buckets before
// any printer was there.
func Trends(d Daily, p Period) []Trend {
	n := BucketDays(p)
	var buckets []DaySums
	for t := p.From; t.Before(p.To); t = t.Add(time.Duration(n) * day) {
		buckets = append(buckets, DaySums{Day: t})
	}
	for _, x := range d.Days {
		i := int(x.Day.Sub(p.From) / day / time.Duration(n))
		if x.Day.Before(p.From) || i >= len(buckets) {
			continue
		}
		buckets[i].Add(x.Sums)
	}
	defs := Definitions()
	out := make([]Trend, len(defs))
	for i, def := range defs {
		out[i].Key = def.Key
	}
	for _, b := range buckets {
		days := min(n, int(p.To.Sub(b.Day)/day))
		end := b.Day.Add(time.Duration(days) * day)
		avail := Available(d.Printers, d.Since, b.Day, end)
		if avail <= 0 && b.Sums == (Sums{}) {
			continue // no printer was there yet: no point, not a zero
		}
		for i, v := range compute(b.Sums, avail, days) {
			if v.OK {
				out[i].Points = append(out[i].Points, Point{T: b.Day, Value: v.Value})
			}
		}
	}
	return out
}

// Usage is printing and cooling seconds by UTC weekday (0 Sunday) and
// hour, over the printers selected, and when each was first seen.
type Usage struct {
	Printers int            `json:"printers"`
	Since    []time.Time    `json:"-"` // see Available
	Printing [7][24]float64 `json:"printing_seconds"`
	Cooling  [7][24]float64 `json:"cooling_seconds"`
}

// Shares are the shares of available printer time spent printing, cooling
// and idle, by weekday and hour, in percent, and the printer hours
// available in each: where none were (no printer was there yet), the
// shares are zero and mean nothing.
type Shares struct {
	Printing     [7][24]float64 `json:"printing"`
	Cooling      [7][24]float64 `json:"cooling"`
	Idle         [7][24]float64 `json:"idle"`
	PrinterHours [7][24]float64 `json:"printer_hours"`
}

// Shares divides u by the printer time available in each weekday-hour of
// p: the hours of each printer since it was first seen (see Available),
// up to now: an hour still to come is not idle.
func (u Usage) Shares(p Period, now time.Time) Shares {
	var s Shares
	for t := p.From; t.Before(p.To); t = t.Add(day) {
		for h := range 24 {
			from := t.Add(time.Duration(h) * time.Hour)
			to := from.Add(time.Hour)
			if to.After(now) {
				to = now
			}
			s.PrinterHours[t.Weekday()][h] += Available(u.Printers, u.Since, from, to) / 3600
		}
	}
	for w := range 7 {
		for h := range 24 {
			avail := s.PrinterHours[w][h] * 3600
			if avail <= 0 {
				continue
			}
			pr := math.Min(100, 100*u.Printing[w][h]/avail)
			co := math.Min(100-pr, 100*u.Cooling[w][h]/avail)
			s.Printing[w][h], s.Cooling[w][h], s.Idle[w][h] = pr, co, 100-pr-co
		}
	}
	return s
}

// MaterialDay is one material's use on one day.
type MaterialDay struct {
	Day          time.Time `json:"day"`
	Material     string    `json:"material"`
	Jobs         int64     `json:"jobs"`
	PartsKG      float64   `json:"parts_kg"`
	RecyclableKG float64   `json:"recyclable_kg"`
}

// Query is what a KPI, usage or benchmark request asks for, as read from
// its URL query: period, from, to (YYYY-MM-DD), site, printer, model.
// Whether the caller may see the site or printer is the caller's check.
type Query struct {
	Period  Period
	Site    fleet.SiteID
	Printer fleet.PrinterID
	Model   string
}

// ParseQuery reads a query's period (see ParsePeriod) and selection.
func ParseQuery(v url.Values, now time.Time) (Query, error) {
	p, err := ParsePeriod(v.Get("period"), v.Get("from"), v.Get("to"), now)
	if err != nil {
		return Query{}, err
	}
	return Query{Period: p, Site: fleet.SiteID(v.Get("site")), Printer: fleet.PrinterID(v.Get("printer")), Model: v.Get("model")}, nil
}

// Filter is the store filter of q limited to sites (nil: all sites).
func (q Query) Filter(sites []fleet.SiteID) Filter {
	return Filter{Sites: sites, Site: q.Site, Printer: q.Printer, Model: q.Model, From: q.Period.From, To: q.Period.To}
}
