// Package benchsuite holds the scenarios of the bench command: each runs
// one of the project's benchmark harnesses (the code the go test
// benchmarks run too) at a full or a quick size and turns what it reported
// into rows of one table: a figure, the reference measured in the same
// run, their ratio, the target and the machine's load while it ran.
package benchsuite

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/benchrun"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
)

// Options are what a run of the scenarios may vary.
type Options struct {
	// Quick runs a small version of every scenario: for seeing that each
	// still works, not for its figures.
	Quick bool
	// Postgres is the URL of a PostgreSQL server where the scenarios may
	// create and drop databases; without it the PostgreSQL scenarios are
	// skipped.
	Postgres string
	// PrinterProcess returns the command of a process serving n printers
	// that pair collector, with printer.ServeFleet on its standard input
	// and output; without it the poll scenario is skipped.
	PrinterProcess func(n int, collector deviceapi.Fingerprint) *exec.Cmd
}

// Scenario is one benchmark of the bench command.
type Scenario struct {
	Name    string
	Summary string
	// Skip, if set, says why the scenario cannot run with the options
	// given ("" when it can).
	Skip func(o Options) string
	// N and QuickN are the numbers of operations of a full and of a quick
	// run.
	N, QuickN int
	// Bench is the harness.
	Bench   func(b benchrun.B, o Options)
	Figures []Figure
}

// Figure is how one row is read from the metrics a harness reported.
type Figure struct {
	Name   string // what the row shows
	Metric string // the harness's unit for it
	Unit   string // the unit shown
	// Ref is the metric of the reference measured in the same run, and
	// RefName what it is; "" where the figure has no reference.
	Ref, RefName string
	// RefValue is a fixed reference (a budget) where Ref is "".
	RefValue float64
	Target   Target
}

// Target is what a figure should come to: its ratio to the reference
// (Ratio) or its value, at least or at most Bound. The zero Target is no
// target.
type Target struct {
	Ratio  bool
	AtMost bool
	Bound  float64
	Unit   string // of Bound, when it is a value
}

// IsZero reports whether t is no target.
func (t Target) IsZero() bool { return t == Target{} }

func (t Target) String() string {
	if t.IsZero() {
		return ""
	}
	op := "≥"
	if t.AtMost {
		op = "≤"
	}
	if t.Ratio {
		return fmt.Sprintf("ratio %s %g", op, t.Bound)
	}
	return strings.TrimSpace(fmt.Sprintf("%s %g %s", op, t.Bound, t.Unit))
}

// Met reports whether a figure of value v and ratio r meets t.
func (t Target) Met(v, r float64) bool {
	x := v
	if t.Ratio {
		x = r
	}
	if math.IsNaN(x) {
		return false
	}
	if t.AtMost {
		return x <= t.Bound
	}
	return x >= t.Bound
}

// Row is one line of the table.
type Row struct {
	Scenario  string  `json:"scenario"`
	Figure    string  `json:"figure"`
	Value     float64 `json:"value"`
	Unit      string  `json:"unit"`
	Reference string  `json:"reference,omitempty"`
	RefValue  float64 `json:"reference_value,omitempty"`
	Ratio     float64 `json:"ratio,omitempty"`
	Target    string  `json:"target,omitempty"`
	// Met is whether the target was met; nil where there is none.
	Met *bool `json:"met,omitempty"`
	// Load is the 1-minute load average when the scenario began and
	// ended; CPUs the number of CPUs of the machine.
	LoadStart float64 `json:"load_start"`
	LoadEnd   float64 `json:"load_end"`
	CPUs      int     `json:"cpus"`
	// Seconds is how long the scenario ran.
	Seconds float64 `json:"seconds"`
	// Skipped says why the scenario did not run; Error why it failed.
	Skipped string `json:"skipped,omitempty"`
	Error   string `json:"error,omitempty"`
}

// Run runs s and returns its rows: one per figure, or one saying why it
// was skipped or failed (with the error returned too).
func (s Scenario) Run(ctx context.Context, o Options) ([]Row, error) {
	base := Row{Scenario: s.Name, CPUs: runtime.NumCPU()}
	if s.Skip != nil {
		if why := s.Skip(o); why != "" {
			base.Skipped = why
			return []Row{base}, nil
		}
	}
	n := s.N
	if o.Quick {
		n = s.QuickN
	}
	base.LoadStart = LoadAverage()
	began := time.Now()
	res, err := benchrun.Run(ctx, n, func(b benchrun.B) { s.Bench(b, o) })
	base.LoadEnd = LoadAverage()
	base.Seconds = time.Since(began).Seconds()
	if err != nil {
		base.Error = err.Error()
		return []Row{base}, fmt.Errorf("%s: %w", s.Name, err)
	}
	rows := make([]Row, 0, len(s.Figures))
	for _, f := range s.Figures {
		r := base
		r.Figure, r.Unit, r.Target = f.Name, f.Unit, f.Target.String()
		v, ok := res.Metrics[f.Metric]
		if !ok {
			r.Error = fmt.Sprintf("the harness reported no %q", f.Metric)
			rows = append(rows, r)
			err = fmt.Errorf("%s: %s", s.Name, r.Error)
			continue
		}
		r.Value = v
		r.Reference, r.RefValue = f.RefName, f.RefValue
		if f.Ref != "" {
			r.RefValue = res.Metrics[f.Ref]
		}
		if r.RefValue != 0 {
			r.Ratio = v / r.RefValue
		}
		if !f.Target.IsZero() {
			met := f.Target.Met(r.Value, r.Ratio)
			r.Met = &met
		}
		rows = append(rows, r)
	}
	return rows, err
}

// FormatNumber formats v with three significant digits at most, and
// thousands as k or M.
func FormatNumber(v float64) string {
	a := math.Abs(v)
	switch {
	case v == 0:
		return "0"
	case a >= 10e6:
		return strconv.FormatFloat(v/1e6, 'f', 0, 64) + "M"
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 1, 64) + "M"
	case a >= 10e3:
		return strconv.FormatFloat(v/1e3, 'f', 0, 64) + "k"
	case a >= 1000:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "k"
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'g', 2, 64)
	}
}

// LoadAverage is the machine's load average over the last minute; 0 where
// it cannot be read.
func LoadAverage() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _, _ := strings.Cut(string(data), " ")
	v, _ := strconv.ParseFloat(f, 64)
	return v
}
