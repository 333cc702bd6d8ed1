package maintenance

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
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
	// Exposure splits Hours by the covariates in effect (nil: all on the
	// reference vector); End is the covariate vector at its end.
	Exposure []Exposure
	End      Covariates
}

// MinFailures is the fewest failures of a kind Fit learns from; with fewer
// the model is not Fitted and forecasts use the rated life.
const MinFailures = 8

// A covariate's effect is learned only from at least MinCovariateHours of
// usage and MinCovariateFailures failures with it set; otherwise it is held
// at no effect and its Reason says why.
// Effects at all are learned only for a kind with MinEffectFailures.
const (
	MinCovariateHours    = 300
	MinCovariateFailures = 10
	MinEffectFailures    = 30
)

// covariatePrior is the standard deviation of the normal prior on each
// effect (a ridge penalty): an effect of ±1 (a factor e) needs evidence.
const covariatePrior = 1.0

// Effect is what a model learned of one covariate.
type Effect struct {
	Name string `json:"name"`
	// Coef is β: an hour with the covariate at 1 counts as exp(β) hours.
	Coef float64 `json:"coef"`
	// Hours and Failures are the usage and failures with it set.
	Hours    float64 `json:"hours"`
	Failures int     `json:"failures"`
	Fitted   bool    `json:"fitted"`
	// SE is the standard error of Coef, from the curvature of the
	// likelihood at the fit.
	SE float64 `json:"se,omitempty"`
	// Mean is the covariate's mean over the fleet's usage hours: an hour
	// at the mean of every covariate counts one.
	Mean   float64 `json:"mean,omitempty"`
	Reason string  `json:"reason,omitempty"`
}

// Model is a kind's Weibull life model over usage hours, each hour
// weighed by its covariates. With effects, Scale is in effective hours:
// usage hours under the fleet's mean covariates.
type Model struct {
	Kind     Kind    `json:"kind"`
	Fitted   bool    `json:"fitted"`
	Shape    float64 `json:"shape,omitempty"`
	Scale    float64 `json:"scale_hours,omitempty"`
	Failures int     `json:"failures"`
	Censored int     `json:"censored"`
	// Effects are the covariates' effects; none when fitted without.
	Effects []Effect `json:"effects,omitempty"`
	// Reason says why a model is not Fitted.
	Reason string `json:"reason,omitempty"`
}

// Fit fits a Weibull accelerated-failure-time model to obs by maximum
// likelihood: failed lives as observed, the others right-censored, each
// usage hour weighed by exp(β·x) for its covariates x (the effective age
// u = Σ hours·exp(β·x)). Each failure adds log h(t) − H(t), each survivor
// −H(t), with H = (u/scale)^shape; a normal prior keeps β near 0 where
// the data say little.
func Fit(kind Kind, obs []Obs) Model { return fit(kind, obs, true) }

// FitPlain fits the Weibull model without covariates: every usage hour
// counts the same.
func FitPlain(kind Kind, obs []Obs) Model { return fit(kind, obs, false) }

// life is one usable observation.
type life struct {
	exp    []Exposure
	entry  float64 // usage when first seen, on the reference vector
	failed bool
	end    Covariates
}

func fit(kind Kind, obs []Obs, withCov bool) Model {
	m := Model{Kind: kind}
	var lives []life
	for _, o := range obs {
		if !(o.Hours > 0) || math.IsInf(o.Hours, 0) || !(o.Entry < o.Hours) && o.Entry != 0 {
			continue // a life of no usage says nothing about the shape
		}
		l := life{exp: o.Exposure, entry: max(o.Entry, 0), failed: o.Failed, end: o.End}
		if l.exp == nil || !withCov {
			l.exp = []Exposure{{Hours: o.Hours}}
		}
		lives = append(lives, l)
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
	// Which covariates the data can speak to.
	var active []int
	if withCov {
		m.Effects = make([]Effect, NumCovariates)
		for j := range NumCovariates {
			e := &m.Effects[j]
			e.Name = CovariateNames[j]
			for _, l := range lives {
				for _, x := range l.exp {
					if x.X[j] != 0 {
						e.Hours += x.Hours
					}
				}
				if l.failed && l.end[j] != 0 {
					e.Failures++
				}
			}
			switch {
			case m.Failures < MinEffectFailures:
				e.Reason = fmt.Sprintf("%d failures of the kind, %d needed for effects", m.Failures, MinEffectFailures)
			case e.Hours < MinCovariateHours:
				e.Reason = fmt.Sprintf("%.0f hours with it, %d needed", e.Hours, MinCovariateHours)
			case e.Failures < MinCovariateFailures:
				e.Reason = fmt.Sprintf("%d failures with it, %d needed", e.Failures, MinCovariateFailures)
			default:
				e.Fitted = true
				active = append(active, j)
			}
		}
	}
	// The active covariates centred on their hour-weighted fleet mean, so
	// the prior pulls an effect the data cannot tell from the scale (a
	// covariate every life ran about as much of) to none, not the scale
	// with it; the scale is turned back to the reference vector after.
	var mean Covariates
	if len(active) > 0 {
		var total float64
		for _, l := range lives {
			for _, x := range l.exp {
				if x.Unknown {
					continue
				}
				total += x.Hours
				for _, j := range active {
					mean[j] += x.Hours * x.X[j]
				}
			}
		}
		for _, j := range active {
			mean[j] /= max(total, 1)
		}
		for i := range lives {
			l := &lives[i]
			c := make([]Exposure, len(l.exp))
			for n, x := range l.exp {
				c[n] = x
				for _, j := range active {
					if x.Unknown {
						c[n].X[j] = 0 // the mean, centred
					} else {
						c[n].X[j] -= mean[j]
					}
				}
			}
			l.exp = c
			for _, j := range active {
				l.end[j] -= mean[j]
			}
		}
	}
	// Parameters: x[0] = log shape, x[1] = log scale, then the active
	// effects. With k the shape, b the log scale and u the effective age,
	//   -ℓ = Σ ((u/λ)^k − (e/λ)^k) − Σ_fail (log k − k b + (k−1) log u + β·x_end) + |β|²/2σ²
	var meanLog float64
	for _, l := range lives {
		meanLog += math.Log(effAge(l.exp, nil))
	}
	meanLog /= float64(len(lives))
	beta := make([]float64, NumCovariates)
	du := make([]float64, NumCovariates)
	nllGrad := func(active []int, g, x []float64) float64 {
		k, b := math.Exp(x[0]), x[1]
		clear(beta)
		for i, j := range active {
			beta[j] = x[2+i]
		}
		if g != nil {
			clear(g)
		}
		var s float64
		for _, l := range lives {
			u := effAge(l.exp, beta)
			if g != nil {
				effAgeGrad(l.exp, beta, active, du)
			}
			lu := math.Log(u)
			a := math.Exp(k * (lu - b))
			s += a
			if g != nil {
				g[0] += a * k * (lu - b)
				g[1] -= k * a
				for i := range active {
					g[2+i] += k * a / u * du[i]
				}
			}
			if l.entry > 0 {
				ae := math.Exp(k * (math.Log(l.entry) - b))
				s -= ae
				if g != nil {
					g[0] -= ae * k * (math.Log(l.entry) - b)
					g[1] += k * ae
				}
			}
			if l.failed {
				s -= math.Log(k) - k*b + (k-1)*lu
				if g != nil {
					g[0] -= 1 + k*(lu-b)
					g[1] += k
				}
				for i, j := range active {
					s -= beta[j] * l.end[j]
					if g != nil {
						g[2+i] -= (k-1)/u*du[i] + l.end[j]
					}
				}
			}
		}
		for i, j := range active {
			s += beta[j] * beta[j] / (2 * covariatePrior * covariatePrior)
			if g != nil {
				g[2+i] += beta[j] / (covariatePrior * covariatePrior)
			}
		}
		return s
	}
	solve := func(active []int) (*optimize.Result, error) {
		x0 := make([]float64, 2+len(active))
		x0[1] = meanLog + 0.5
		return optimize.Minimize(optimize.Problem{
			Func: func(x []float64) float64 { return nllGrad(active, nil, x) },
			Grad: func(g, x []float64) { nllGrad(active, g, x) },
		}, x0, nil, &optimize.BFGS{})
	}
	res, err := solve(active)
	if err != nil && res == nil {
		m.Reason = "no fit: " + err.Error()
		return m
	}
	// Each effect's standard error, so a reader can tell a clear effect
	// from one the data hardly support. None is taken out for being
	// unclear: on the scoring fleets that lost more precision than it
	// gained in honesty (see the README).
	if len(active) > 0 {
		se := stdErrors(func(g, x []float64) { nllGrad(active, g, x) }, res.X)
		for i, j := range active {
			m.Effects[j].SE = se[2+i]
		}
	}
	k, l := math.Exp(res.X[0]), math.Exp(res.X[1])
	if math.IsNaN(k) || math.IsNaN(l) || k <= 0.2 || k > 20 {
		m.Reason = fmt.Sprintf("no plausible fit (shape %.3g)", k)
		m.Effects = nil
		return m
	}
	// Centred: an hour under the fleet's mean covariates counts one, and
	// the scale is in such hours, comparable with a fit without them.
	for i, j := range active {
		m.Effects[j].Coef, m.Effects[j].Mean = res.X[2+i], mean[j]
	}
	m.Fitted, m.Shape, m.Scale = true, k, l
	return m
}

// maxLogWeight bounds |β·x|, so a wild fit cannot overflow an age.
const maxLogWeight = 10

func logWeight(beta []float64, x *Covariates) float64 {
	var v float64
	for j, b := range beta {
		v += b * x[j]
	}
	return max(min(v, maxLogWeight), -maxLogWeight)
}

// effAge is Σ hours·exp(β·x); nil beta counts every hour once.
func effAge(exp []Exposure, beta []float64) float64 {
	var u float64
	for i := range exp {
		w := 1.0
		if beta != nil {
			w = math.Exp(logWeight(beta, &exp[i].X))
		}
		u += exp[i].Hours * w
	}
	return u
}

// effAgeGrad sets du[i] to ∂u/∂β_active[i].
func effAgeGrad(exp []Exposure, beta []float64, active []int, du []float64) {
	clear(du)
	for i := range exp {
		w := math.Exp(logWeight(beta, &exp[i].X))
		for a, j := range active {
			du[a] += exp[i].Hours * exp[i].X[j] * w
		}
	}
}

// coefs returns the model's effects as β and β·mean, the log weight of
// an hour under the fleet's mean covariates; nil when it has none.
func (m Model) coefs() ([]float64, float64) {
	var beta []float64
	var centre float64
	for j, e := range m.Effects {
		if e.Coef != 0 && j < NumCovariates {
			if beta == nil {
				beta = make([]float64, NumCovariates)
			}
			beta[j] = e.Coef
			centre += e.Coef * e.Mean
		}
	}
	return beta, centre
}

// EffectiveAge returns the effective age of a component that has run usage
// hours under exp, in hours under the fleet's mean covariates: usage
// itself when the model has no effects.
func (m Model) EffectiveAge(usage float64, exp []Exposure) float64 {
	beta, centre := m.coefs()
	if beta == nil || len(exp) == 0 {
		return usage
	}
	var u float64
	for i := range exp {
		if exp[i].Unknown {
			u += exp[i].Hours
			continue
		}
		u += exp[i].Hours * math.Exp(logWeight(beta, &exp[i].X)-centre)
	}
	return u
}

// Pace is how many hours of effective age one usage hour under x adds.
func (m Model) Pace(x Covariates) float64 {
	beta, centre := m.coefs()
	if beta == nil {
		return 1
	}
	return math.Exp(logWeight(beta, &x) - centre)
}

// cumHazard is (t/scale)^shape.
func (m Model) cumHazard(t float64) float64 { return math.Pow(max(t, 0)/m.Scale, m.Shape) }

// Remaining returns the effective hours left to a component of effective
// age u at quantile q of its conditional life: P(remaining ≤ x) = q.
// Without effects, effective hours are usage hours.
func (m Model) Remaining(u, q float64) float64 {
	h := m.cumHazard(u) - math.Log1p(-q)
	return max(m.Scale*math.Pow(h, 1/m.Shape)-u, 0)
}

// FailWithin returns the probability that a component of effective age u
// fails within the next x effective hours.
func (m Model) FailWithin(u, x float64) float64 {
	return -math.Expm1(-(m.cumHazard(u+x) - m.cumHazard(u)))
}

// stdErrors returns the standard errors of the parameters at x: the
// square roots of the inverse Hessian's diagonal, the Hessian by central
// differences of the gradient. A parameter the curvature does not pin
// down gets +Inf.
func stdErrors(grad func(g, x []float64), x []float64) []float64 {
	n := len(x)
	h := mat.NewSymDense(n, nil)
	gp, gm := make([]float64, n), make([]float64, n)
	xs := slices.Clone(x)
	cols := make([][]float64, n)
	for j := range n {
		step := 1e-4 * max(1, math.Abs(x[j]))
		xs[j] = x[j] + step
		grad(gp, xs)
		xs[j] = x[j] - step
		grad(gm, xs)
		xs[j] = x[j]
		cols[j] = make([]float64, n)
		for i := range n {
			cols[j][i] = (gp[i] - gm[i]) / (2 * step)
		}
	}
	for i := range n {
		for j := i; j < n; j++ {
			h.SetSym(i, j, (cols[j][i]+cols[i][j])/2)
		}
	}
	out := make([]float64, n)
	var inv mat.Dense
	if err := inv.Inverse(h); err != nil {
		for i := range out {
			out[i] = math.Inf(1)
		}
		return out
	}
	for i := range n {
		v := inv.At(i, i)
		out[i] = math.Inf(1)
		if v > 0 && !math.IsInf(v, 0) {
			out[i] = math.Sqrt(v)
		}
	}
	return out
}
