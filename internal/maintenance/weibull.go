package maintenance

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/optimize"
)

// Obs is one component instance's life as seen so far: the usage hours it
// ran and whether it ended in a failure (otherwise it is still running or
// was replaced while working: right-censored).
type Obs struct {
	Hours  float64
	Failed bool
	// Entry is the usage at which the history first saw it (left
	// truncation): it is known to have survived that long.
	Entry float64
}

// MinFailures is the fewest failures of a kind Fit learns from; with fewer
// the model is not Fitted and forecasts use the rated life.
const MinFailures = 8

// Model is a kind's Weibull life model over usage hours.
type Model struct {
	Kind     Kind    `json:"kind"`
	Fitted   bool    `json:"fitted"`
	Shape    float64 `json:"shape,omitempty"`
	Scale    float64 `json:"scale_hours,omitempty"`
	Failures int     `json:"failures"`
	Censored int     `json:"censored"`
	// Reason says why a model is not Fitted.
	Reason string `json:"reason,omitempty"`
}

// Fit fits a Weibull distribution to obs by maximum likelihood, failed
// lives as observed and the others right-censored: each failure adds
// log f(t), each survivor log S(t), with S(t) = exp(-(t/scale)^shape).
func Fit(kind Kind, obs []Obs) Model {
	m := Model{Kind: kind}
	var ts, es []float64
	var ds []bool
	for _, o := range obs {
		if !(o.Hours > 0) || math.IsInf(o.Hours, 0) || !(o.Entry < o.Hours) && o.Entry != 0 {
			continue // a life of no usage says nothing about the shape
		}
		ts, ds, es = append(ts, o.Hours), append(ds, o.Failed), append(es, max(o.Entry, 0))
		if o.Failed {
			m.Failures++
		} else {
			m.Censored++
		}
	}
	if m.Failures < MinFailures {
		m.Reason = fmt.Sprintf("%d failures seen, %d needed", m.Failures, MinFailures)
		return m
	}
	logT, logE := make([]float64, len(ts)), make([]float64, len(ts))
	var meanLog float64
	for i, t := range ts {
		logT[i] = math.Log(t)
		logE[i] = math.Inf(-1)
		if es[i] > 0 {
			logE[i] = math.Log(es[i])
		}
		meanLog += logT[i]
	}
	meanLog /= float64(len(ts))
	// Parameters: x[0] = log shape, x[1] = log scale. The negative
	// log-likelihood and its gradient, an instance first seen at usage e
	// conditioned on surviving to e:
	//   -ℓ = -Σ_fail (log k - k log λ + (k-1) log t) + Σ ((t/λ)^k - (e/λ)^k)
	nll := func(x []float64) float64 {
		k, ll := math.Exp(x[0]), x[1]
		var s float64
		for i, lt := range logT {
			z := k * (lt - ll)
			s += math.Exp(z) - math.Exp(k*(logE[i]-ll))
			if ds[i] {
				s -= math.Log(k) + z - lt
			}
		}
		return s
	}
	grad := func(g, x []float64) {
		k, ll := math.Exp(x[0]), x[1]
		var gk, gl float64
		for i, lt := range logT {
			z := k * (lt - ll)
			e := math.Exp(z)
			gk += e * z // d/dlogk of e^z = e^z * z
			gl -= e * k
			if ze := k * (logE[i] - ll); !math.IsInf(ze, -1) {
				ee := math.Exp(ze)
				gk -= ee * ze
				gl += ee * k
			}
			if ds[i] {
				gk -= 1 + z
				gl += k
			}
		}
		g[0], g[1] = gk, gl
	}
	res, err := optimize.Minimize(optimize.Problem{Func: nll, Grad: grad}, []float64{0, meanLog + 0.5}, nil, &optimize.BFGS{})
	if err != nil && res == nil {
		m.Reason = "no fit: " + err.Error()
		return m
	}
	k, l := math.Exp(res.X[0]), math.Exp(res.X[1])
	if math.IsNaN(k) || math.IsNaN(l) || k <= 0.2 || k > 20 {
		m.Reason = fmt.Sprintf("no plausible fit (shape %.3g)", k)
		return m
	}
	m.Fitted, m.Shape, m.Scale = true, k, l
	return m
}

// cumHazard is (t/scale)^shape.
func (m Model) cumHazard(t float64) float64 { return math.Pow(max(t, 0)/m.Scale, m.Shape) }

// Remaining returns the usage hours left to a component that has run u
// hours at quantile q of its conditional life: P(remaining ≤ x) = q.
func (m Model) Remaining(u, q float64) float64 {
	h := m.cumHazard(u) - math.Log1p(-q)
	return max(m.Scale*math.Pow(h, 1/m.Shape)-u, 0)
}

// FailWithin returns the probability that a component that has run u hours
// fails within the next x hours.
func (m Model) FailWithin(u, x float64) float64 {
	return -math.Expm1(-(m.cumHazard(u+x) - m.cumHazard(u)))
}
