package benchsuite

import (
	"strings"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/benchrun"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestTarget(t *testing.T) {
	tests := []struct {
		target   Target
		v, r     float64
		wantMet  bool
		wantText string
	}{
		{Target{Ratio: true, Bound: 0.5}, 100, 0.6, true, "ratio ≥ 0.5"},
		{Target{Ratio: true, Bound: 0.5}, 100, 0.4, false, "ratio ≥ 0.5"},
		{Target{Ratio: true, AtMost: true, Bound: 1.5}, 1, 1.5, true, "ratio ≤ 1.5"},
		{Target{AtMost: true, Bound: 10, Unit: "s"}, 10.1, 0, false, "≤ 10 s"},
		{Target{AtMost: true, Bound: 250, Unit: "ms"}, 90, 0, true, "≤ 250 ms"},
		{Target{}, 1, 1, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.wantText, func(t *testing.T) {
			if got := tt.target.String(); got != tt.wantText {
				t.Errorf("String() = %q, want %q", got, tt.wantText)
			}
			if tt.target.IsZero() {
				return
			}
			if got := tt.target.Met(tt.v, tt.r); got != tt.wantMet {
				t.Errorf("Met(%v, %v) = %v, want %v", tt.v, tt.r, got, tt.wantMet)
			}
		})
	}
}

func TestFormatNumber(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{
		{0, "0"}, {0.0481, "0.048"}, {0.29, "0.29"}, {1.234, "1.23"}, {12.34, "12.3"}, {123.4, "123"},
		{1234, "1.2k"}, {34012, "34k"}, {1_250_000, "1.2M"}, {12_500_000, "12M"}, {-2500, "-2.5k"},
	}
	for _, tt := range tests {
		if got := FormatNumber(tt.v); got != tt.want {
			t.Errorf("FormatNumber(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

// A scenario's rows carry its figures, the same-run references, ratios and
// targets; a skipped scenario gives one row saying why, a failing one a
// row with its error and the error.
func TestScenarioRun(t *testing.T) {
	met, missed := true, false
	figures := []Figure{
		{Name: "end to end", Metric: "e2e", Unit: "rec/s", Ref: "raw", RefName: "raw INSERT", Target: Target{Ratio: true, Bound: 0.5}},
		{Name: "p99", Metric: "p99", Unit: "ms", Target: Target{AtMost: true, Bound: 100, Unit: "ms"}},
		{Name: "budget", Metric: "bps", Unit: "bit/s", RefValue: 25000, RefName: "budget"},
	}
	tests := []struct {
		name    string
		s       Scenario
		o       Options
		want    []Row
		wantErr string
	}{
		{"figures", Scenario{Name: "s", N: 5, QuickN: 1, Figures: figures, Bench: func(b benchrun.B, _ Options) {
			b.ReportMetric(float64(b.N()*10), "e2e")
			b.ReportMetric(100, "raw")
			b.ReportMetric(250, "p99")
			b.ReportMetric(2500, "bps")
		}}, Options{}, []Row{
			{Scenario: "s", Figure: "end to end", Value: 50, Unit: "rec/s", Reference: "raw INSERT", RefValue: 100, Ratio: 0.5, Target: "ratio ≥ 0.5", Met: &met},
			{Scenario: "s", Figure: "p99", Value: 250, Unit: "ms", Target: "≤ 100 ms", Met: &missed},
			{Scenario: "s", Figure: "budget", Value: 2500, Unit: "bit/s", Reference: "budget", RefValue: 25000, Ratio: 0.1},
		}, ""},
		{"quick size", Scenario{Name: "q", N: 5, QuickN: 2, Figures: figures[:1], Bench: func(b benchrun.B, _ Options) {
			b.ReportMetric(float64(b.N()), "e2e")
			b.ReportMetric(4, "raw")
		}}, Options{Quick: true}, []Row{
			{Scenario: "q", Figure: "end to end", Value: 2, Unit: "rec/s", Reference: "raw INSERT", RefValue: 4, Ratio: 0.5, Target: "ratio ≥ 0.5", Met: &met},
		}, ""},
		{"skipped", Scenario{Name: "pg", Skip: func(o Options) string { return "no server" }, Bench: func(b benchrun.B, _ Options) {
			b.Fatal("ran")
		}}, Options{}, []Row{{Scenario: "pg", Skipped: "no server"}}, ""},
		{"failed", Scenario{Name: "f", N: 1, Figures: figures, Bench: func(b benchrun.B, _ Options) {
			b.Fatal("broken pipe")
		}}, Options{}, []Row{{Scenario: "f", Error: "broken pipe"}}, "f: broken pipe"},
		{"a figure not reported", Scenario{Name: "m", N: 1, Figures: figures[1:2], Bench: func(b benchrun.B, _ Options) {}},
			Options{}, []Row{{Scenario: "m", Figure: "p99", Unit: "ms", Target: "≤ 100 ms", Error: `the harness reported no "p99"`}}, `reported no "p99"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.s.Run(t.Context(), tt.o)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Run: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Run error = %v, want one containing %q", err, tt.wantErr)
			}
			for _, r := range got {
				if r.CPUs < 1 {
					t.Errorf("row %s/%s: %d CPUs", r.Scenario, r.Figure, r.CPUs)
				}
			}
			ignore := cmpopts.IgnoreFields(Row{}, "LoadStart", "LoadEnd", "CPUs", "Seconds")
			if diff := cmp.Diff(tt.want, got, ignore); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
}

// Every scenario has a unique name, a summary, sizes and figures.
func TestScenarios(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Scenarios() {
		if seen[s.Name] || s.Name == "" || s.Summary == "" || s.N < 1 || s.QuickN < 1 || s.QuickN > s.N || len(s.Figures) == 0 || s.Bench == nil {
			t.Errorf("scenario %+v: want a unique name, a summary, 1 ≤ QuickN ≤ N, figures and a harness", s.Name)
		}
		seen[s.Name] = true
	}
}
