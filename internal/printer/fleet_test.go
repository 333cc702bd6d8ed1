package printer

import (
	"math"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// TestFleetMonth runs ten printers for 30 simulated days and checks that
// what they did follows the hidden models: failures as many as the hazard
// predicts, most of them announced, and part quality falling with recycled
// powder and rising with robust printing.
func TestFleetMonth(t *testing.T) {
	clk := clock.NewManual(start)
	var printers []*Printer
	for i := range 10 {
		model := "4200"
		if i%3 == 2 {
			model = "5200"
		}
		printers = append(printers, New(Options{Seed: int64(1000 + i), Model: model, Clock: clk}))
	}
	comps := map[string]ComponentTruth{} // by serial, newest wins
	jobs := map[string]JobTruth{}
	failEvents := map[string]int{}
	for day := 0; day < 30; day += 2 {
		clk.Advance(48 * time.Hour)
		for _, p := range printers {
			tr := p.Truth()
			for _, c := range tr.Components {
				comps[c.Serial] = c
			}
			for _, j := range tr.Jobs {
				jobs[j.JobID] = j
			}
		}
	}
	for _, p := range printers {
		for _, e := range p.Events(0, math.MaxInt).Items {
			if e.Severity >= fleet.SeverityError {
				failEvents[e.Code]++
			}
		}
	}

	t.Run("failures follow the hazard", func(t *testing.T) {
		var n int
		var expected float64
		var warned int
		var leads []time.Duration
		for _, c := range comps {
			expected += c.CumulativeHazard
			if c.Failed && !c.Injected {
				n++
				if !c.WarnedAt.IsZero() && c.WarnedAt.Before(c.FailedAt) {
					warned++
					leads = append(leads, c.FailedAt.Sub(c.WarnedAt))
				}
			}
		}
		// The number of failures minus the summed cumulative hazard is a
		// martingale: within three standard deviations (Poisson) plus one.
		if band := 3*math.Sqrt(expected) + 1; math.Abs(float64(n)-expected) > band {
			t.Errorf("%d failures, hazard expects %.1f ± %.1f", n, expected, band)
		}
		if n < 3 {
			t.Fatalf("only %d failures in 300 printer-days (expected %.1f): nothing to predict", n, expected)
		}
		if float64(warned) < 0.5*float64(n) || warned == n && n > 8 {
			t.Errorf("%d of %d failures warned: want most, but not all", warned, n)
		}
		for _, l := range leads {
			if l <= 0 {
				t.Errorf("warning lead %v, want > 0", l)
			}
		}
		var total int
		for _, k := range []string{"PRINTHEAD_FAILED", "LAMP_FAILED", "FILTER_BLOCKED", "COOLING_SYSTEM_FAILED", "CARRIAGE_FAILED"} {
			total += failEvents[k]
		}
		if total != n {
			t.Errorf("%d failure events (%v), truth has %d failures", total, failEvents, n)
		}
		t.Logf("%d failures (hazard %.1f), %d warned; leads %v", n, expected, warned, leads)
	})

	t.Run("quality follows the hidden model", func(t *testing.T) {
		type tally struct {
			n, pass int
			p       float64
		}
		var all, lowRec, highRec tally
		modes := map[string]*tally{"fast": {}, "balanced": {}, "robust": {}}
		add := func(tl *tally, pt PartTruth) {
			tl.n++
			tl.p += pt.PPass
			if pt.Outcome == fleet.PartPass {
				tl.pass++
			}
		}
		for _, j := range jobs {
			if j.Status == fleet.JobFailed {
				continue
			}
			ref := 1 - processTableMaterial(t, j.Material).FreshShare
			for _, pt := range j.Parts {
				if s := pt.PPass + pt.PDimensional + pt.PPorosity + pt.PWarp; math.Abs(s-1) > 1e-9 {
					t.Fatalf("part %s: probabilities sum to %v", pt.PartID, s)
				}
				add(&all, pt)
				add(modes[j.PrintMode], pt)
				if j.RecycledShare > ref+0.03 {
					add(&highRec, pt)
				} else {
					add(&lowRec, pt)
				}
			}
		}
		if all.n < 1000 {
			t.Fatalf("only %d parts in 300 printer-days", all.n)
		}
		// Observed passes within four standard deviations of the model.
		sd := math.Sqrt(all.p * (1 - all.p/float64(all.n)))
		if math.Abs(float64(all.pass)-all.p) > 4*sd {
			t.Errorf("%d of %d parts passed, model expects %.0f ± %.0f", all.pass, all.n, all.p, 4*sd)
		}
		rate := func(tl *tally) float64 { return float64(tl.pass) / float64(tl.n) }
		if rate(&highRec) >= rate(&lowRec) || highRec.n < 100 {
			t.Errorf("pass rate %.3f with more recycled powder (n=%d), %.3f at the refresh ratio (n=%d): want lower",
				rate(&highRec), highRec.n, rate(&lowRec), lowRec.n)
		}
		if rate(modes["fast"]) >= rate(modes["robust"]) {
			t.Errorf("pass rate fast %.3f, robust %.3f: want robust higher", rate(modes["fast"]), rate(modes["robust"]))
		}
		t.Logf("%d parts, pass %.3f; recycled high %.3f low %.3f; fast %.3f balanced %.3f robust %.3f", all.n, rate(&all),
			rate(&highRec), rate(&lowRec), rate(modes["fast"]), rate(modes["balanced"]), rate(modes["robust"]))
	})
}

func processTableMaterial(t *testing.T, name string) material {
	t.Helper()
	for _, m := range processTable().Materials {
		if m.Name == name {
			return m
		}
	}
	t.Fatalf("no material %q", name)
	return material{}
}
