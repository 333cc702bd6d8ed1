package maintscore

import (
	"bytes"
	"context"
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
	o := Options{TrainSeeds: []int64{1}, TestSeeds: []int64{101}, Printers: 4, Days: 90}
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
	if !m.Fitted || m.Scale < 300 || m.Scale > 600 || m.Shape < 1.3 || m.Shape > 3 {
		t.Errorf("printhead model %+v: want a fit near the hidden shape 2, scale 450 h", m)
	}
	if rep.Models[maintenance.Carriage].Fitted {
		t.Errorf("carriage fitted from %d failures", rep.Models[maintenance.Carriage].Failures)
	}
	if rep.Model.Precision <= rep.Baseline.Precision {
		t.Errorf("model precision %.3f, baseline %.3f: want better", rep.Model.Precision, rep.Baseline.Precision)
	}
	for _, want := range []string{"train seeds [1], test seeds [101], 4 printers per fleet, 90 days", "rated-life baseline", "carriage  rated life"} {
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
