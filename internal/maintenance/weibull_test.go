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

// TestFitRecoversCovariates draws lives whose usage hours on non-original
// agent wear twice as fast, part of each life or all of it, with a
// material that does nothing, and checks that Fit finds the factor 2 and
// no effect of the material, and that the plain fit, blind to them, is
// further from the hidden life.
func TestFitRecoversCovariates(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var obs []Obs
	for range 600 {
		life := 450 * math.Pow(rng.ExpFloat64(), 1/2.0) // effective hours
		share := []float64{0, 0, 0.5, 1}[rng.IntN(4)]   // of usage on non-original agent
		usage := life / (1 + share)                     // an hour on it counts 2
		inspect := 700 * rng.Float64()
		failed := usage <= inspect
		usage = min(usage, inspect)
		// Half the printers print PP.
		var good, bad Covariates
		bad[CovNonOriginal] = 1
		if rng.IntN(2) == 0 {
			good[CovPP], bad[CovPP] = 1, 1
		}
		exp := []Exposure{{X: good, Hours: usage * (1 - share)}, {X: bad, Hours: usage * share}}
		// The hour it ends in is on non-original agent with its share.
		end := good
		if rng.Float64() < share {
			end = bad
		}
		obs = append(obs, Obs{Hours: usage, Failed: failed, Exposure: exp, End: end})
	}
	m := Fit(Printhead, obs)
	if !m.Fitted {
		t.Fatalf("not fitted: %s", m.Reason)
	}
	eff := func(j int) Effect { return m.Effects[j] }
	if e := eff(CovNonOriginal); !e.Fitted || math.Abs(math.Exp(e.Coef)-2) > 0.25 || !(e.SE > 0 && e.SE < 0.1) {
		t.Errorf("non-original agent %+v: want a factor near 2 with its standard error", e)
	}
	// PP does nothing: fitted near none, within three standard errors.
	if e := eff(CovPP); !e.Fitted || math.Abs(e.Coef) > 0.15 || math.Abs(e.Coef) > 3*e.SE {
		t.Errorf("material PP %+v: want no effect", e)
	}
	if e := eff(CovTPU); e.Fitted || e.Reason == "" {
		t.Errorf("material TPU %+v: fitted without data", e)
	}
	// The scale is in hours under the fleet's mean covariates: on original
	// agent, hours count 1/Pace(mean → reference) as much.
	ref := m.Scale / m.Pace(Covariates{})
	if math.Abs(m.Shape/2-1) > 0.15 || math.Abs(ref/450-1) > 0.1 {
		t.Errorf("shape %.2f, scale %.0f on original agent: want near 2 and 450", m.Shape, ref)
	}
	plain := FitPlain(Printhead, obs)
	if plain.Effects != nil || math.Abs(plain.Scale-450) < math.Abs(ref-450) {
		t.Errorf("plain fit %+v: want no effects and a scale further from 450 than %.0f", plain, ref)
	}
	// A component that ran 100 h on non-original agent is older than one
	// that ran 100 h on original, and wears faster from now on.
	var bad Covariates
	bad[CovNonOriginal] = 1
	if a, b := m.EffectiveAge(100, []Exposure{{X: bad, Hours: 100}}), m.EffectiveAge(100, []Exposure{{Hours: 100}}); !(a > 1.7*b) {
		t.Errorf("effective age %v on non-original, %v on original: want about twice", a, b)
	}
	if p := m.Pace(bad) / m.Pace(Covariates{}); math.Abs(p-2) > 0.25 {
		t.Errorf("pace on non-original %v times that on original: want near 2", p)
	}
}

func TestFitEffectsNeedData(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var obs []Obs
	var bad Covariates
	bad[CovExpired] = 1
	for i := range 20 { // 20 failures: a model, but too few for effects
		u := 450 * math.Pow(rng.ExpFloat64(), 0.5)
		x := Covariates{}
		if i%2 == 0 {
			x = bad
		}
		obs = append(obs, Obs{Hours: u, Failed: true, Exposure: []Exposure{{X: x, Hours: u}}, End: x})
	}
	m := Fit(Printhead, obs)
	if !m.Fitted {
		t.Fatalf("not fitted: %s", m.Reason)
	}
	for _, e := range m.Effects {
		if e.Fitted || e.Coef != 0 || e.Reason == "" {
			t.Errorf("effect %+v learned from 20 failures", e)
		}
	}
	if m.Pace(bad) != 1 || m.EffectiveAge(123, obs[0].Exposure) != 123 {
		t.Errorf("an unlearned effect changes the age or pace")
	}
}
