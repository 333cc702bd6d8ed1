package learn

import (
	"fmt"
	"math"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// TestAttackDominatedCohort plays an organisation that reads the
// learning loop's proposals to learn another's outcomes: in a cohort of
// MinCohort organisations where one prints far more than the rest, the
// fit and a proposal's defective share now would be that organisation's.
// Before the rule, a cohort of five organisations with 4 builds each and
// one with 60 trained on 80 builds, 75% of them the one organisation's.
func TestAttackDominatedCohort(t *testing.T) {
	for _, tt := range []struct {
		big    int
		used   bool
		reason string
	}{
		{big: 60, used: false, reason: ReasonDominated},
		{big: 21, used: false, reason: ReasonDominated},
		{big: 20, used: true},
		{big: 4, used: true},
	} {
		t.Run(fmt.Sprint(tt.big), func(t *testing.T) {
			outs := oneCohort(synth(1, 5, 4))
			for _, o := range oneCohort(synth(2, 1, tt.big)) {
				o.Org = "org-big"
				outs = append(outs, o)
			}
			tab := Anonymise(outs)
			if len(tab.Cohorts) != 1 || tab.Cohorts[0].Orgs != 6 || tab.Cohorts[0].Used != tt.used {
				t.Fatalf("cohorts %+v, want one of 6 organisations used %t", tab.Cohorts, tt.used)
			}
			want := 0
			if tt.used {
				want = 20 + tt.big
			}
			if len(tab.Builds) != want || tab.Excluded[ReasonDominated] != 20+tt.big-want {
				t.Errorf("%d builds trained, %d excluded as dominated; want %d and %d", len(tab.Builds), tab.Excluded[ReasonDominated], want, 20+tt.big-want)
			}
		})
	}
}

// TestAttackJoinBetweenTrainings plays an organisation that compares the
// proposals of two trainings between which one organisation joined a
// cohort of five, all else the same, to learn the newcomer's defective
// share: (current × parts after − current × parts before) / (parts
// after − parts before). On exact numbers that told it within 1.5 points;
// on what organisations read, the values the subtraction allows span at
// least 10 points (here 13 and 18, the newcomer holding a sixth of the
// parts; a larger share narrows it, which the cap of half the builds per
// organisation bounds).
func TestAttackJoinBetweenTrainings(t *testing.T) {
	for _, tt := range []struct {
		name  string
		worse bool // the newcomer's every other part defective
	}{{"like the others", false}, {"worse", true}} {
		t.Run(tt.name, func(t *testing.T) {
			base := oneCohort(synth(1, 5, 60))
			newcomer := oneCohort(synth(9, 1, 60))
			defective, parts := 0, 0
			for i := range newcomer {
				newcomer[i].Org = "newcomer"
				for k := range newcomer[i].Parts {
					if tt.worse && k%2 == 0 {
						newcomer[i].Parts[k].Outcome = fleet.PartWarp
					}
					parts++
					if newcomer[i].Parts[k].Outcome != fleet.PartPass {
						defective++
					}
				}
			}
			truth := float64(defective) / float64(parts)
			propose := func(outs []Outcome) Proposal {
				t.Helper()
				tab := Anonymise(outs)
				m, err := Train(tab, 1, day0)
				if err != nil {
					t.Fatal(err)
				}
				ps := Propose(tab, m, ProposeOptions{Seed: 1})
				if len(ps) != 1 {
					t.Fatalf("proposals %+v, want one", ps)
				}
				return ps[0]
			}
			before, after := propose(base), propose(append(append([]Outcome{}, base...), newcomer...))
			guess := func(ca, cb float64, pa, pb float64) float64 { return (cb*pb - ca*pa) / (pb - pa) }
			exact := guess(before.Current, after.Current, float64(before.Parts), float64(after.Parts))
			t.Logf("on exact numbers the subtraction gives %.3f", exact)
			// What the attacker reads, and every exact value it may stand for.
			pb, pa := before.Published(), after.Published()
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, ca := range []float64{pb.Current - 0.005, pb.Current + 0.005} {
				for _, cb := range []float64{pa.Current - 0.005, pa.Current + 0.005} {
					for _, na := range spanOf(pb.Parts) {
						for _, nb := range spanOf(pa.Parts) {
							g := guess(ca, cb, na, nb)
							lo, hi = min(lo, g), max(hi, g)
						}
					}
				}
			}
			// The attacker may also know the parts per build exactly and
			// count builds instead: the values both ways allow.
			perBuild := float64(before.Parts) / float64(before.Builds)
			blo, bhi := math.Inf(1), math.Inf(-1)
			for _, ca := range []float64{pb.Current - 0.005, pb.Current + 0.005} {
				for _, cb := range []float64{pa.Current - 0.005, pa.Current + 0.005} {
					for _, na := range spanOf(pb.Builds) {
						for _, nb := range spanOf(pa.Builds) {
							g := guess(ca, cb, na*perBuild, nb*perBuild)
							blo, bhi = min(blo, g), max(bhi, g)
						}
					}
				}
			}
			lo, hi = max(lo, blo), min(hi, bhi)
			t.Logf("the newcomer's share %.3f: the answers allow %.3f to %.3f", truth, lo, hi)
			if hi-lo < 0.10 || truth < lo || truth > hi {
				t.Errorf("the newcomer's share (%.3f) is told within %.3f–%.3f from %+v and %+v", truth, lo, hi, pb, pa)
			}
		})
	}
}

// spanOf is the range of counts CoarseCount turns into n.
func spanOf(n int) []float64 {
	if n < 100 {
		return []float64{float64(n), float64(n)}
	}
	half := math.Pow(10, math.Floor(math.Log10(float64(n)))-1) / 2
	return []float64{float64(n) - half, float64(n) + half}
}
