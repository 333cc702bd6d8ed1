package kpi

import (
	"sort"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// MaxSpan is how long after its creation a job can still count: its
// attribution day and its printing and cooling hours are clipped to it.
const MaxSpan = 14 * 24 * time.Hour

const day = 24 * time.Hour

// Day returns the UTC day t falls on.
func Day(t time.Time) time.Time { return t.UTC().Truncate(day) }

// Sums are the additive quantities of jobs and parts that every KPI is
// computed from. Rollups add them up per printer, site, organisation and
// day.
type Sums struct {
	Jobs           int64   `json:"jobs"`            // jobs that finished printing
	JobsFailed     int64   `json:"jobs_failed"`     // jobs that failed
	Parts          int64   `json:"parts"`           // parts of the jobs that finished printing
	PartsInspected int64   `json:"parts_inspected"` // parts with an outcome other than pending
	PartsPassed    int64   `json:"parts_passed"`    // parts that passed inspection
	DensityVolume  float64 `json:"density_volume"`  // Σ density × volume of the finished jobs
	VolumeCM3      float64 `json:"volume_cm3"`      // Σ parts volume of the finished jobs
	PartsKG        float64 `json:"parts_kg"`        // material fused into parts
	RecyclableKG   float64 `json:"recyclable_kg"`   // unfused powder recovered after finished jobs
	PrintingSec    float64 `json:"printing_seconds"`
	CoolingSec     float64 `json:"cooling_seconds"`
}

// Add adds o to s.
func (s *Sums) Add(o Sums) {
	s.Jobs += o.Jobs
	s.JobsFailed += o.JobsFailed
	s.Parts += o.Parts
	s.PartsInspected += o.PartsInspected
	s.PartsPassed += o.PartsPassed
	s.DensityVolume += o.DensityVolume
	s.VolumeCM3 += o.VolumeCM3
	s.PartsKG += o.PartsKG
	s.RecyclableKG += o.RecyclableKG
	s.PrintingSec += o.PrintingSec
	s.CoolingSec += o.CoolingSec
}

// Hours are printing and cooling seconds by UTC hour of the day.
type Hours struct {
	Printing [24]float64
	Cooling  [24]float64
}

// Add adds o to h.
func (h *Hours) Add(o Hours) {
	for i := range 24 {
		h.Printing[i] += o.Printing[i]
		h.Cooling[i] += o.Cooling[i]
	}
}

// Row is one rollup row: a printer's day in one material.
type Row struct {
	Material string
	Sums
	Hours
}

// JobReport is a stored job and the observation time of its newest report.
type JobReport struct {
	Job    fleet.Job
	Report time.Time
}

// AttributedTo is the UTC day a job's counts (and its parts) belong to.
func AttributedTo(j fleet.Job) time.Time {
	t := j.CreatedAt
	if !j.FinishedAt.IsZero() && j.FinishedAt.Sub(j.CreatedAt) < MaxSpan && !j.FinishedAt.Before(j.CreatedAt) {
		t = j.FinishedAt
	}
	return Day(t)
}

// finished reports whether printing of j ended well.
func finished(j fleet.Job) bool {
	return !j.FinishedAt.IsZero() && (j.Status == fleet.JobCooling || j.Status == fleet.JobCompleted)
}

type interval struct{ from, to time.Time }

// phases returns j's printing and cooling intervals, clipped to MaxSpan
// after creation; a running phase ends at the report.
func phases(r JobReport) (printing, cooling interval) {
	j := r.Job
	limit := j.CreatedAt.Add(MaxSpan)
	clip := func(from, to time.Time) interval {
		if to.After(limit) {
			to = limit
		}
		if from.IsZero() || !to.After(from) {
			return interval{}
		}
		return interval{from, to}
	}
	phase := func(kind string) (fleet.SubJob, bool) {
		for _, s := range j.SubJobs {
			if s.Kind == kind {
				return s, true
			}
		}
		return fleet.SubJob{}, false
	}
	end := func(s fleet.SubJob) time.Time {
		if !s.End.IsZero() {
			return s.End
		}
		if s.Status == "running" {
			return r.Report
		}
		return time.Time{}
	}
	if s, ok := phase("printing"); ok && !s.Start.IsZero() {
		printing = clip(s.Start, end(s))
	} else if !j.StartedAt.IsZero() {
		to := j.FinishedAt
		if to.IsZero() && j.Status == fleet.JobPrinting {
			to = r.Report
		}
		printing = clip(j.StartedAt, to)
	}
	if s, ok := phase("cooling"); ok && !s.Start.IsZero() {
		cooling = clip(s.Start, end(s))
	}
	return printing, cooling
}

// Days returns the UTC days a version of a job contributes to, in order.
// When a job's report changes, the days of the old and the new version
// must be rebuilt.
func Days(r JobReport) []time.Time {
	set := map[time.Time]bool{AttributedTo(r.Job): true}
	p, c := phases(r)
	for _, iv := range []interval{p, c} {
		if iv.from.IsZero() {
			continue
		}
		for d := Day(iv.from); d.Before(iv.to); d = d.Add(day) {
			set[d] = true
		}
	}
	out := make([]time.Time, 0, len(set))
	for d := range set {
		out = append(out, d)
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Before(out[k]) })
	return out
}

// Rollup computes one printer's rows of day d (a UTC day) from the jobs
// created in [d-MaxSpan, d+1 day) and the parts of those jobs by job ID.
// Rows are per material, sorted by material; a day without anything
// yields no rows.
func Rollup(d time.Time, jobs []JobReport, parts map[string][]fleet.Part) []Row {
	d = Day(d)
	next := d.Add(day)
	rows := map[string]*Row{}
	row := func(m string) *Row {
		r := rows[m]
		if r == nil {
			r = &Row{Material: m}
			rows[m] = r
		}
		return r
	}
	for _, jr := range jobs {
		j := jr.Job
		if AttributedTo(j).Equal(d) {
			r := row(j.Material)
			switch {
			case finished(j):
				r.Jobs++
				r.Parts += int64(j.PartCount)
				r.DensityVolume += j.Density * j.VolumeCM3
				r.VolumeCM3 += j.VolumeCM3
				r.RecyclableKG += j.RecyclableKG
			case j.Status == fleet.JobFailed:
				r.JobsFailed++
			}
			for _, p := range parts[j.ID] {
				r.PartsKG += p.MaterialG / 1000
				switch p.Outcome {
				case fleet.PartPending:
				case fleet.PartPass:
					r.PartsInspected++
					r.PartsPassed++
				default:
					r.PartsInspected++
				}
			}
		}
		p, c := phases(jr)
		for k, iv := range []interval{p, c} {
			from, to := maxTime(iv.from, d), minTime(iv.to, next)
			if iv.from.IsZero() || !to.After(from) {
				continue
			}
			r := row(j.Material)
			for t := from; t.Before(to); {
				h := t.Truncate(time.Hour).Add(time.Hour)
				end := minTime(h, to)
				sec := end.Sub(t).Seconds()
				if k == 0 {
					r.Printing[t.Hour()] += sec
					r.PrintingSec += sec
				} else {
					r.Cooling[t.Hour()] += sec
					r.CoolingSec += sec
				}
				t = end
			}
		}
	}
	out := make([]Row, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Material < out[k].Material })
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
