package maintscore

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fusionfleet/fusionfleet/internal/maintenance"
)

// TestRunSmallFleet scores a small fleet and checks that the report is
// made of what it says: failures found in the truth, a printhead model
// learned from the training fleet near the hidden one, and a forecast
// that beats the rated-life baseline's precision.
func TestRunSmallFleet(t *testing.T) {
	var log bytes.Buffer
	// Half the printers on non-original agent for a while, so a small
	// fleet shows its effect.
	o := Options{TrainSeeds: []int64{1}, TestSeeds: []int64{101}, Printers: 4, Days: 90, NonOriginalShare: 0.55}
	rep, err := Run(context.Background(), o, &log)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.Print(&out)
	t.Log("\n" + log.String() + out.String())
	if rep.Failures == 0 || rep.Warned == 0 || rep.Warned > rep.Failures {
		t.Errorf("%d failures, %d announced: want some of each", rep.Failures, rep.Warned)
	}
	m := rep.Models[maintenance.Printhead]
	// The scale is in hours under the fleet's mean covariates; on
	// original agent an hour counts less.
	scale := m.Scale
	for _, j := range []int{maintenance.CovNonOriginal, maintenance.CovExpired} {
		if j < len(m.Effects) {
			scale *= math.Exp(m.Effects[j].Coef * m.Effects[j].Mean)
		}
	}
	if !m.Fitted || scale < 300 || scale > 600 || m.Shape < 1.3 || m.Shape > 3 {
		t.Errorf("printhead model %+v, scale %.0f h on original agent: want a fit near the hidden shape 2, scale 450 h", m, scale)
	}
	if rep.Models[maintenance.Carriage].Fitted {
		t.Errorf("carriage fitted from %d failures", rep.Models[maintenance.Carriage].Failures)
	}
	if rep.Model.Precision <= rep.Baseline.Precision {
		t.Errorf("model precision %.3f, baseline %.3f: want better", rep.Model.Precision, rep.Baseline.Precision)
	}
	if e := m.Effects[maintenance.CovNonOriginal]; !e.Fitted || e.Coef <= 0 {
		t.Errorf("non-original agent %+v: want learned, wearing faster", e)
	}
	if rep.Plain.TP+rep.Plain.FP == 0 || rep.PlainThresholds[maintenance.Printhead] == 0 {
		t.Errorf("no plain model scored: %+v, thresholds %v", rep.Plain, rep.PlainThresholds)
	}
	for _, want := range []string{"train seeds [1], test seeds [101], 4 printers per fleet, 90 days", "rated-life baseline", "carriage  rated life", "model w/o covariates", "supplies: 55 % of printers on non-original"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestEvaluate(t *testing.T) {
	o := Options{}.withDefaults()
	at := o.Start
	day := o.Horizon / 7
	fail := at.Add(10 * day)
	var samples []sample
	for d := range 10 {
		samples = append(samples, sample{kind: maintenance.Printhead, at: at.Add(day * time.Duration(d)), truthKey: "a", failAt: fail, warned: true, rate: 10})
	}
	for d := range 10 {
		samples = append(samples, sample{kind: maintenance.Printhead, at: at.Add(day * time.Duration(d)), truthKey: "b", rate: 10})
	}
	// Due from day 5 on for a, day 8 on for b.
	pred := func(s sample) (bool, float64) {
		d := s.at.Sub(at) / day
		return s.truthKey == "a" && d >= 5 || s.truthKey == "b" && d >= 8, float64(10 - d)
	}
	got := evaluate(samples, o, pred)
	// Labels: a's days 3..9 fail within 7 days (failAt ≤ at+7d and after at).
	want := Score{TP: 5, FP: 2, FN: 2, Precision: 5.0 / 7, Recall: 5.0 / 7, MedianLeadDays: 5, LeadFailures: 1, Caught: 1, MAEDays: 0}
	if diff := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("score (-want +got):\n%s", diff)
	}
}

// TestFastEvalMatchesEvaluate scores random verdicts both ways.
func TestFastEvalMatchesEvaluate(t *testing.T) {
	o := Options{}.withDefaults()
	rng := rand.New(rand.NewPCG(7, 8))
	var samples []sample
	for k := range 40 {
		fail := time.Time{}
		if k%3 != 0 {
			fail = o.Start.Add(time.Duration(5+rng.IntN(20)) * 24 * time.Hour)
		}
		for d := range 30 {
			samples = append(samples, sample{kind: maintenance.Printhead, at: o.Start.Add(time.Duration(d) * 24 * time.Hour),
				truthKey: fmt.Sprint("k", k), failAt: fail, warned: k%4 != 1, rate: 10})
		}
	}
	ev := newFastEval(samples, o)
	for range 20 {
		due := make([]bool, len(samples))
		for i := range due {
			due[i] = rng.Float64() < 0.3
		}
		i := 0
		want := evaluate(samples, o, func(sample) (bool, float64) { i++; return due[i-1], math.NaN() })
		prec, rec, lead := ev.score(due)
		if diff := cmp.Diff([]float64{want.Precision, want.Recall, want.MedianLeadDays}, []float64{prec, rec, lead}, cmpopts.EquateApprox(0, 1e-12)); diff != "" {
			t.Fatalf("precision, recall, lead (-evaluate +fast):\n%s", diff)
		}
	}
}

// TestSupplyPlan: a fleet's supplies come from its seed alone, and some
// printers of a fleet run on non-original or expired agent.
func TestSupplyPlan(t *testing.T) {
	o := Full.withDefaults()
	var nonOriginal, expired int
	for i := range 200 {
		a, b := supplyPlan(o, 7, i), supplyPlan(o, 7, i)
		if *a != *b {
			t.Fatalf("printer %d: plans %+v and %+v from one seed", i, a, b)
		}
		if a.nonOriginal && a.expired {
			t.Fatalf("printer %d: both non-original and expired", i)
		}
		if a.nonOriginal {
			nonOriginal++
		}
		if a.expired {
			expired++
		}
		if !a.until.IsZero() && !a.until.After(a.from) {
			t.Errorf("printer %d: back to original at %v, before %v", i, a.until, a.from)
		}
	}
	if nonOriginal < 20 || nonOriginal > 60 || expired < 15 || expired > 50 {
		t.Errorf("%d of 200 on non-original, %d expired: want about %.0f and %.0f", nonOriginal, expired, 200*nonOriginalShare, 200*expiredShare)
	}
}
