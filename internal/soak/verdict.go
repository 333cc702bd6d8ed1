package soak

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Check is one line of a verdict.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Verdict is every check of a soak.
type Verdict struct {
	Checks []Check `json:"checks"`
}

// OK reports whether every check passed.
func (v Verdict) OK() bool {
	for _, c := range v.Checks {
		if !c.OK {
			return false
		}
	}
	return true
}

// Failed returns the names of the checks that failed.
func (v Verdict) Failed() []string {
	var out []string
	for _, c := range v.Checks {
		if !c.OK {
			out = append(out, c.Name)
		}
	}
	return out
}

// String is the verdict as text, a line per check.
func (v Verdict) String() string {
	var b strings.Builder
	for _, c := range v.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(&b, "%s %s: %s\n", mark, c.Name, c.Detail)
	}
	return b.String()
}

// Bound is how much a quantity may grow over the second half of a soak
// and still count as flat: Abs plus Rel times its mean over that half.
// The first half is left out: caches fill, the stores' pages and the
// printers' queues reach their working size, and connections are made.
type Bound struct {
	Rel, Abs float64
}

// Growth is how much the least-squares line through (xs, ys) rises over
// the span of xs; 0 for fewer than two points or no span.
func Growth(xs, ys []float64) float64 {
	n := float64(len(xs))
	if len(xs) < 2 || len(xs) != len(ys) {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return 0
	}
	slope := (n*sxy - sx*sy) / den
	return slope * (xs[len(xs)-1] - xs[0])
}

// minHalf is the fewest samples the second half of a soak needs for a
// slope that means something.
const minHalf = 4

// Flat checks that the quantity get reads of the samples is flat: the
// line through the baseline of the soak's second half (by simulated day)
// rises by no more than b allows. Falling is fine. The baseline of a
// sample is the least of it and its neighbours: a sample taken while an
// upload or a prune runs catches their goroutines and buffers, a spike
// that is gone at the next sample and would tilt the line if it fell at
// the end, while a leak lifts every sample, the least of three too.
func Flat(name string, samples []Sample, get func(Sample) float64, b Bound, unit string) Check {
	c := Check{Name: name + " flat"}
	if len(samples) == 0 {
		c.Detail = "no samples"
		return c
	}
	half := samples[len(samples)-1].Day / 2
	var xs, ys []float64
	var sum float64
	for _, s := range samples {
		if s.Day >= half {
			xs, ys = append(xs, s.Day), append(ys, get(s))
			sum += get(s)
		}
	}
	if len(xs) < minHalf {
		c.Detail = fmt.Sprintf("%d samples in the second half, want at least %d", len(xs), minHalf)
		return c
	}
	mean := sum / float64(len(xs))
	g := Growth(xs, baseline(ys))
	limit := b.Abs + b.Rel*mean
	c.OK = g <= limit
	c.Detail = fmt.Sprintf("second half (days %.1f–%.1f, %d samples): mean %s, the fitted line rises %s (bound %s = %s + %.0f%% of the mean)",
		xs[0], xs[len(xs)-1], len(xs), human(mean, unit), human(g, unit), human(limit, unit), human(b.Abs, unit), b.Rel*100)
	return c
}

// baseline is ys with each value replaced by the least of it and its
// neighbours.
func baseline(ys []float64) []float64 {
	out := make([]float64, len(ys))
	for i := range ys {
		out[i] = ys[i]
		if i > 0 {
			out[i] = min(out[i], ys[i-1])
		}
		if i+1 < len(ys) {
			out[i] = min(out[i], ys[i+1])
		}
	}
	return out
}

// Table is what retention predicts of one table: its rate from what the
// soak inserted and pruned, and how many rows it should hold at the end.
type Table struct {
	Name        string        `json:"name"`
	Rows        int64         `json:"rows"`   // at the end
	Pruned      int64         `json:"pruned"` // over the soak
	Keep        time.Duration `json:"keep_ns"`
	PerDay      float64       `json:"per_day"`
	Predicted   float64       `json:"predicted"`
	BytesPerRow float64       `json:"bytes_per_row"` // table and its indexes, 0 where unknown
}

// Predict fills t's rate and prediction for a soak of days simulated
// days: rows arrive at (rows + pruned) / days a day and retention keeps
// the last Keep of them (all of them if Keep is longer than the soak).
func Predict(t Table, days float64) Table {
	if days > 0 {
		t.PerDay = float64(t.Rows+t.Pruned) / days
	}
	keep := min(t.Keep.Hours()/24, days)
	t.Predicted = t.PerDay * keep
	return t
}

// Rows checks a table's rows at the end against the prediction: within
// tol of it, plus, above, the rows of one pruning interval every (a table
// is pruned every so often, not continuously).
func Rows(t Table, every time.Duration, tol float64) Check {
	c := Check{Name: "rows of " + t.Name}
	slack := t.PerDay * every.Hours() / 24
	lo, hi := t.Predicted*(1-tol), t.Predicted*(1+tol)+slack
	c.OK = float64(t.Rows) >= math.Floor(lo) && float64(t.Rows) <= math.Ceil(hi)
	c.Detail = fmt.Sprintf("%d rows (%d pruned); %.0f a day kept %s predict %.0f (accepted %.0f–%.0f)",
		t.Rows, t.Pruned, t.PerDay, days(t.Keep), t.Predicted, lo, hi)
	return c
}

// Disk checks a store's file against the bytes its tables should take
// as predicted (each table's bytes a row times its predicted rows, the
// rows of one pruning interval more, since the file keeps its largest
// size and reuses freed pages): at most tol above it plus slack bytes.
// It also says what the file would take without retention.
func Disk(name string, size int64, tables []Table, every time.Duration, days float64, tol float64, slack int64) Check {
	var predicted, without float64
	for _, t := range tables {
		predicted += t.BytesPerRow * (t.Predicted + t.PerDay*every.Hours()/24)
		without += t.BytesPerRow * t.PerDay * days
	}
	limit := predicted*(1+tol) + float64(slack)
	return Check{
		Name: "disk of " + name,
		OK:   float64(size) <= limit,
		Detail: fmt.Sprintf("%s; retention predicts %s (accepted up to %s); without retention %s",
			human(float64(size), "B"), human(predicted, "B"), human(limit, "B"), human(without, "B")),
	}
}

func days(d time.Duration) string {
	if d >= 24*time.Hour {
		return fmt.Sprintf("%g days", d.Hours()/24)
	}
	return d.String()
}

// human formats v with unit: bytes in KiB, MiB and GiB, others plain.
func human(v float64, unit string) string {
	if unit != "B" {
		return fmt.Sprintf("%.1f %s", v, unit)
	}
	a := math.Abs(v)
	switch {
	case a >= 1<<30:
		return fmt.Sprintf("%.2f GiB", v/(1<<30))
	case a >= 1<<20:
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	case a >= 1<<10:
		return fmt.Sprintf("%.1f KiB", v/(1<<10))
	}
	return fmt.Sprintf("%.0f B", v)
}
