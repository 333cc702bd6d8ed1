package printer

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// runDays runs a printer with set (nil: none) for days and returns its
// truth, without the jobs planned before the set was installed.
func runDays(t *testing.T, seed int64, days int, set *fleet.ParameterSet) (*Printer, Truth) {
	t.Helper()
	p, clk := newTestPrinter(t, seed, Options{TruthJobs: 1 << 20})
	before := map[string]bool{}
	for _, j := range p.Jobs(0, 100).Items {
		before[j.ID] = true
	}
	if set != nil {
		doc, err := set.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if err := p.ApplyParameterSet(set.Name, doc); err != nil {
			t.Fatal(err)
		}
	}
	for range days * 4 {
		clk.Advance(6 * time.Hour)
	}
	tr := p.Truth()
	tr.Jobs = slices.DeleteFunc(tr.Jobs, func(j JobTruth) bool { return before[j.JobID] })
	return p, tr
}

func meanPass(tr Truth) (float64, int) {
	var sum float64
	var n int
	for _, j := range tr.Jobs {
		for _, pt := range j.Parts {
			if j.Status == fleet.JobCompleted {
				sum += pt.PPass
				n++
			}
		}
	}
	return sum / float64(max(n, 1)), n
}

// A set without content for a material changes nothing: today's truth
// stays today's.
func TestEmptyParameterSetChangesNothing(t *testing.T) {
	_, want := runDays(t, 5, 40, nil)
	empty := fleet.ParameterSet{Schema: fleet.ParameterSetSchema, Name: "std-4200-2.1", Model: "FF-4200",
		Materials: map[string]fleet.MaterialParameters{"PA12": {}, "TPU": {}}}
	_, got := runDays(t, 5, 40, &empty)
	if len(want.Jobs) < 10 {
		t.Fatalf("only %d jobs in 40 days", len(want.Jobs))
	}
	if d := cmp.Diff(want.Jobs, got.Jobs); d != "" {
		t.Errorf("an empty set changed the jobs (-none +empty):\n%s", d)
	}
}

// The printer applies the installed set to the jobs it plans, and the
// hidden quality model responds: the best set passes more parts.
func TestParameterSetShapesJobsAndQuality(t *testing.T) {
	best, err := BestParameterSet("4200", "oracle-4200")
	if err != nil {
		t.Fatal(err)
	}
	p, tr := runDays(t, 9, 120, &best)
	if got := p.Identity().ParameterSet; got != "oracle-4200" {
		t.Errorf("printer reports parameter set %q", got)
	}
	var started int
	for _, j := range tr.Jobs {
		mp := best.Materials[j.Material]
		if j.PrintMode != mp.PrintMode {
			t.Errorf("job %s in mode %s, set says %s", j.JobID, j.PrintMode, mp.PrintMode)
		}
		if j.Density > mp.DensityMax+1e-9 {
			t.Errorf("job %s packed at %.3f, above the ceiling %.3f", j.JobID, j.Density, mp.DensityMax)
		}
		if j.Status != fleet.JobQueued {
			started++
			if j.RecycledShare > mp.RecycledShareMax+1e-9 {
				t.Errorf("job %s with %.3f recycled, above the ceiling %.3f", j.JobID, j.RecycledShare, mp.RecycledShareMax)
			}
		}
	}
	if started < 20 {
		t.Fatalf("only %d jobs started", started)
	}
	// The records show the layer thickness the set gave.
	for _, j := range p.Jobs(0, 1000).Items {
		if !slices.ContainsFunc(tr.Jobs, func(jt JobTruth) bool { return jt.JobID == j.ID }) {
			continue
		}
		if want := best.Materials[j.Material].LayerThicknessMM; j.LayerThicknessMM != want {
			t.Errorf("job %s record: layer %.3f mm, set says %.3f", j.ID, j.LayerThicknessMM, want)
		}
	}
	_, base := runDays(t, 9, 120, nil)
	pb, nb := meanPass(base)
	po, no := meanPass(tr)
	t.Logf("mean pass probability: defaults %.4f (%d parts), best set %.4f (%d parts)", pb, nb, po, no)
	if !(1-po < 0.7*(1-pb)) {
		t.Errorf("best set fails %.4f of parts, defaults %.4f: want at least 30%% fewer", 1-po, 1-pb)
	}
}

func TestLayerPenaltyHasAnOptimum(t *testing.T) {
	p, _ := newTestPrinter(t, 1, Options{})
	tpu := p.materialIndex("TPU")
	if got := p.layerPenalty(tpu, p.spec.LayerMM); got != 0 {
		t.Errorf("penalty at the default thickness %v, want 0", got)
	}
	at := func(mm float64) float64 { return p.layerPenalty(tpu, mm) }
	if !(at(0.10) < 0 && at(0.10) < at(0.09) && at(0.10) < at(0.11) && at(0.12) > at(0.10)) {
		t.Errorf("TPU penalties 0.09: %v, 0.10: %v, 0.11: %v, 0.12: %v: want a minimum at 0.10", at(0.09), at(0.10), at(0.11), at(0.12))
	}
}

func TestApplyParameterSetRefuses(t *testing.T) {
	ok := fleet.ParameterSet{Schema: fleet.ParameterSetSchema, Name: "x", Model: "FF-4200",
		Materials: map[string]fleet.MaterialParameters{"PA12": {PrintMode: "robust"}}}
	wrongModel := ok
	wrongModel.Model = "FF-5200"
	unknownMat := ok
	unknownMat.Materials = map[string]fleet.MaterialParameters{"PEEK": {}}
	enc := func(s fleet.ParameterSet) []byte {
		b, err := s.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name string
		doc  []byte
		want string
	}{
		{"not a set", []byte("parameters 2.2"), "parameter set"},
		{"another model", enc(wrongModel), "is for FF-5200"},
		{"unknown material", enc(unknownMat), "unknown material"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := newTestPrinter(t, 1, Options{})
			err := p.ApplyParameterSet("x", tt.doc)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
			if tt.name != "not a set" && !errors.Is(err, ErrInvalid) {
				t.Errorf("got %v, want ErrInvalid", err)
			}
			if p.params != nil || p.Identity().ParameterSet != "std-4200-2.1" {
				t.Errorf("refused set was installed")
			}
		})
	}
}
