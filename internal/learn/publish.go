package learn

import (
	"maps"
	"math"
)

// What the learning loop shows organisations is coarse: between two
// trainings, exact counts and shares let an organisation subtract the
// one from the other. When a sixth organisation joined a cohort of five,
// (current share × parts after − current share × parts before) / (parts
// after − parts before) told its defective share within 1.5 points. With
// counts to two significant digits and shares to whole percentage points
// the same subtraction spans tens of points (TestAttackJoinBetweenTrainings).

// CoarseCount rounds a count to two significant digits.
func CoarseCount(n int) int {
	if n < 100 && n > -100 {
		return n
	}
	mag := math.Pow(10, math.Floor(math.Log10(math.Abs(float64(n))))-1)
	return int(math.Round(float64(n)/mag) * mag)
}

// CoarseShare rounds a share (0–1) to whole percentage points.
func CoarseShare(x float64) float64 { return math.Round(x*100) / 100 }

// Published is p as organisations read it: counts to two significant
// digits, shares and gains to whole percentage points.
func (p Proposal) Published() Proposal {
	p.Builds, p.Parts = CoarseCount(p.Builds), CoarseCount(p.Parts)
	p.Current, p.Proposed = CoarseShare(p.Current), CoarseShare(p.Proposed)
	p.Gain, p.GainLow, p.GainHigh = CoarseShare(p.Gain), CoarseShare(p.GainLow), CoarseShare(p.GainHigh)
	return p
}

// Published is d as organisations read it: every count to two
// significant digits.
func (d DataDescription) Published() DataDescription {
	d.Builds, d.Parts, d.HeldBuilds, d.HeadsUnknown = CoarseCount(d.Builds), CoarseCount(d.Parts), CoarseCount(d.HeldBuilds), CoarseCount(d.HeadsUnknown)
	cs := make([]Cohort, len(d.Cohorts))
	for i, c := range d.Cohorts {
		c.Builds, c.Parts = CoarseCount(c.Builds), CoarseCount(c.Parts)
		cs[i] = c
	}
	d.Cohorts = cs
	d.Excluded = maps.Clone(d.Excluded)
	for k, n := range d.Excluded {
		d.Excluded[k] = CoarseCount(n)
	}
	return d
}

// Published is s as organisations read it (see Proposal.Published).
func (s SetProposal) Published() SetProposal {
	ps := make([]Proposal, len(s.Proposals))
	for i, p := range s.Proposals {
		ps[i] = p.Published()
	}
	s.Proposals = ps
	return s
}

// Published is m as organisations read it: its training data and its
// held-out counts coarse (see DataDescription.Published).
func (m *Model) Published() Model {
	c := *m
	c.Data = c.Data.Published()
	c.Held.Builds, c.Held.Parts = CoarseCount(c.Held.Builds), CoarseCount(c.Held.Parts)
	return c
}
