package maintenance

import (
	"maps"
	"math"
	"slices"
	"strings"
)

// The covariates of a life: what a component runs under, as the uplinked
// history shows it, hour by hour of its usage. A life model weighs each
// usage hour by exp(β·x) for the covariates x in effect then (an
// accelerated-failure-time model with time-varying covariates): an hour on
// non-original agent may count as two.
//
// The values are coarse on purpose: a component's usage is kept as hours
// per distinct covariate vector, so a few dozen vectors cover a life and a
// fit stays quick.
const (
	CovNonOriginal = iota // printheads: firing non-original agent (0/1)
	CovExpired            // printheads: firing expired agent (0/1)
	CovPA11               // printing PA11, against PA12 (0/1)
	CovPA12GB             // printing glass-bead-filled PA12 (0/1)
	CovTPU                // printing TPU (0/1)
	CovPP                 // printing PP (0/1)
	CovFast               // print mode fast, against balanced (0/1)
	CovRobust             // print mode robust (0/1)
	CovRate               // the printer's usage rate: (hours a day − 10) / 10, in steps of 0.25
	CovRecoveries         // recoveries (minor symptoms) per 100 usage hours so far, 0…8 in steps of 1
	NumCovariates
)

// CovariateNames names the covariates for people and reports, in order.
var CovariateNames = [NumCovariates]string{
	"non-original agent", "expired agent", "material PA11", "material PA12 GB", "material TPU", "material PP",
	"print mode fast", "print mode robust", "usage rate", "recoveries",
}

// Covariates is one covariate vector.
type Covariates [NumCovariates]float64

// Exposure is usage hours run under one covariate vector. Unknown hours
// ran before the history saw the component; they count as under the
// fleet's mean covariates.
type Exposure struct {
	X       Covariates
	Hours   float64
	Unknown bool
}

// materialCov maps a job's material to its covariate; PA12 and unknown
// materials are the reference.
func materialCov(name string) int {
	switch strings.ToUpper(strings.TrimSpace(name)) {
	case "PA11":
		return CovPA11
	case "PA12 GB", "PA12GB":
		return CovPA12GB
	case "TPU":
		return CovTPU
	case "PP":
		return CovPP
	}
	return -1
}

// modeCov maps a job's print mode to its covariate; balanced and unknown
// modes are the reference.
func modeCov(name string) int {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "fast":
		return CovFast
	case "robust":
		return CovRobust
	}
	return -1
}

// rateCov is the usage-rate covariate of rate hours a day.
func rateCov(rate float64) float64 {
	if !(rate > 0) {
		return 0
	}
	v := (min(rate, 24) - 10) / 10
	return math.Round(v*4) / 4
}

// recoveryCov is the recoveries covariate of n recoveries in usage hours.
func recoveryCov(n int, usage float64) float64 {
	if n <= 0 || !(usage > 0) {
		return 0
	}
	// Too few hours to say a rate: the count alone, as if over 100 h.
	return min(math.Round(100*float64(n)/max(usage, 100)), 8)
}

// exposures accumulates usage hours by covariate vector, in the order
// the vectors first came, so sums over them repeat exactly.
type exposures struct {
	idx     map[Covariates]int
	items   []Exposure
	counted float64 // the usage hours accounted for
}

// add attributes the usage from counted up to usage to x.
func (e *exposures) add(usage float64, x Covariates) {
	d := usage - e.counted
	if !(d > 0) || math.IsInf(d, 0) {
		return
	}
	if i, ok := e.idx[x]; ok {
		e.items[i].Hours += d
	} else {
		if e.idx == nil {
			e.idx = map[Covariates]int{}
		}
		e.idx[x] = len(e.items)
		e.items = append(e.items, Exposure{X: x, Hours: d})
	}
	e.counted = usage
}

// clone returns a copy that grows apart from e.
func (e *exposures) clone() exposures {
	return exposures{idx: maps.Clone(e.idx), items: slices.Clone(e.items), counted: e.counted}
}

// list returns the exposures, with the usage from counted up to usage
// attributed to x; hours before start (usage before the history saw the
// component) are unknown.
func (e *exposures) list(start, usage float64, x Covariates) []Exposure {
	out := make([]Exposure, 0, len(e.items)+2)
	if start > 0 {
		out = append(out, Exposure{Hours: start, Unknown: true})
	}
	out = append(out, e.items...)
	if d := usage - max(e.counted, start); d > 0 && !math.IsInf(d, 0) {
		out = append(out, Exposure{X: x, Hours: d})
	}
	return out
}
