package maintenance

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestFitRecoversWeibull draws lives from known Weibull distributions,
// censors some at a random inspection time, and checks that Fit finds the
// parameters: censoring ignored would bias the scale down.
func TestFitRecoversWeibull(t *testing.T) {
	tests := []struct {
		name         string
		shape, scale float64
		n            int
	}{
		{"printhead-like", 2, 450, 400},
		{"lamp-like", 1.6, 2200, 400},
		{"filter-like", 6, 420, 300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			var obs []Obs
			for range tt.n {
				life := tt.scale * math.Pow(rng.ExpFloat64(), 1/tt.shape)
				inspect := tt.scale * 1.5 * rng.Float64()
				obs = append(obs, Obs{Hours: min(life, inspect), Failed: life <= inspect})
			}
			m := Fit(Printhead, obs)
			if !m.Fitted {
				t.Fatalf("not fitted: %s", m.Reason)
			}
			if math.Abs(m.Shape/tt.shape-1) > 0.2 || math.Abs(m.Scale/tt.scale-1) > 0.1 {
				t.Errorf("got shape %.3f scale %.1f, want %.3f %.1f", m.Shape, m.Scale, tt.shape, tt.scale)
			}
			if m.Censored == 0 || m.Failures+m.Censored != tt.n {
				t.Errorf("failures %d censored %d, want both summing to %d", m.Failures, m.Censored, tt.n)
			}
		})
	}
}

func TestFitTooLittleData(t *testing.T) {
	obs := []Obs{{Hours: 100, Failed: true}, {Hours: 200, Failed: true}, {Hours: 300}, {Hours: 0, Failed: true}, {Hours: math.NaN(), Failed: true}}
	m := Fit(Lamp, obs)
	if m.Fitted || m.Reason == "" {
		t.Fatalf("fitted from 2 failures: %+v", m)
	}
	if m.Failures != 2 || m.Censored != 1 {
		t.Errorf("got %d failures %d censored, want 2 and 1 (zero and NaN lives skipped)", m.Failures, m.Censored)
	}
}

func TestRemainingAndFailWithin(t *testing.T) {
	m := Model{Kind: Printhead, Fitted: true, Shape: 2, Scale: 450}
	for _, u := range []float64{0, 100, 400, 900} {
		for _, q := range []float64{0.1, 0.5, 0.9} {
			x := m.Remaining(u, q)
			if got := m.FailWithin(u, x); math.Abs(got-q) > 1e-9 {
				t.Errorf("u=%v q=%v: FailWithin(Remaining) = %v", u, q, got)
			}
		}
	}
	if lo, hi := m.Remaining(100, 0.1), m.Remaining(100, 0.9); !(lo < hi) {
		t.Errorf("band %v..%v not ordered", lo, hi)
	}
}
