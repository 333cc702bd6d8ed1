package kpi

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// The attacks below play an organisation's user against the benchmark
// bands. What counts as learning a member's value: naming a value that
// is within Tolerance (in the KPI's unit) of it, when the bands shown are
// equally consistent with a cohort in which that member's value differs
// by more. The attacker knows the bands, the cohort size and Window, and
// may read the bands as often as it likes: they do not change between
// reads (no fresh noise to average away).

// tolerance is how close a guess must be to count as learning a share
// (percentage points).
const tolerance = 1.0

// attackCohort returns n seeded packing densities (percent), sorted, at
// least 4 points apart so that the gaps exceed the tolerance.
func attackCohort(seed uint64, n int) []float64 {
	r := rand.New(rand.NewPCG(seed, 1))
	v := make([]float64, n)
	x := 10.0
	for i := range v {
		x += 4 + r.Float64()*6
		v[i] = math.Round(x*1000) / 1000
	}
	return v
}

// band0 is the packing-density band of the cohort of values vs.
func band0(vs []float64) Band {
	return Bands(cohortOf(vs...), cohortOf(20)[0], 30)[0]
}

// invertInterpolated is the attack that broke the interpolated
// percentiles: with five members p25, p50 and p75 are the second, third
// and fourth member and p10 and p90 solve for the first and the last.
func invertInterpolated(b Band) []float64 {
	return []float64{(b.P10 - 0.4*b.P25) / 0.6, b.P25, b.P50, b.P75, (b.P90 - 0.4*b.P75) / 0.6}
}

// TestAttackInvertBands reads a cohort of five off its bands, the attack
// that broke the interpolated percentiles: it recovered 99 of the 100
// members of these 20 cohorts within a point (the worst by 1.05). The
// means of Window members leave the middle members only as well placed
// as a guess from evenly spread values (TestAttackUndetermined shows no
// attacker does better), and the lowest and highest members, the ones
// that stand out, are not recovered at all.
func TestAttackInvertBands(t *testing.T) {
	for seed := range uint64(20) {
		vs := attackCohort(seed, MinCohort)
		guess := invertInterpolated(band0(vs))
		for _, i := range []int{0, MinCohort - 1} {
			if math.Abs(guess[i]-vs[i]) <= tolerance {
				t.Errorf("seed %d: inverting the bands of %v gives %v: member %d within %g points", seed, vs, guess, i, tolerance)
			}
		}
	}
}

// nullShift returns a change of the sorted cohort vs that leaves the sum
// of every Window consecutive members, hence every band, unchanged, and
// moves member i by d: the pattern (a, b, −a−b) repeated.
func nullShift(vs []float64, i int, d float64) []float64 {
	pattern := [Window]float64{}
	pattern[i%Window] = d
	pattern[(i+1)%Window] = -d
	out := make([]float64, len(vs))
	for k, v := range vs {
		out[k] = v + pattern[k%Window]
	}
	return out
}

// TestAttackUndetermined shows, for every member of cohorts of MinCohort
// to 12 organisations, a second cohort with the same bands in which that
// member's value differs by more than the tolerance: no attacker, however
// clever, can tell the member's value within the tolerance from the bands.
func TestAttackUndetermined(t *testing.T) {
	for n := MinCohort; n <= 12; n++ {
		for seed := range uint64(5) {
			vs := attackCohort(seed, n)
			want := band0(vs)
			for i := range vs {
				t.Run(fmt.Sprintf("n%d/seed%d/member%d", n, seed, i), func(t *testing.T) {
					// Gaps are at least 4 points: a shift of 1.5 keeps the order.
					alt := nullShift(vs, i, 1.5*tolerance)
					if !sort.Float64sAreSorted(alt) {
						t.Fatalf("shift reorders the cohort: %v", alt)
					}
					if got := band0(alt); got != want {
						t.Errorf("member %d of %v moved by %g changes the bands:\n%+v\n%+v", i, vs, 1.5*tolerance, want, got)
					}
				})
			}
		}
	}
}

// TestAttackOwnFleet changes the attacker's own side, which is all an
// organisation controls: its printers, sites and results never move the
// cohort's bands, since the caller's organisation is never in its cohort.
func TestAttackOwnFleet(t *testing.T) {
	others := cohortOf(attackCohort(7, 6)...)
	want := Bands(others, Aggregate{}, 30)
	for _, you := range []Aggregate{
		{},
		{Printers: 1, Sums: Sums{Jobs: 1}},
		{Printers: 40, Sums: Sums{Jobs: 900, JobsFailed: 300, Parts: 9000, DensityVolume: 900, VolumeCM3: 1000}},
	} {
		got := Bands(others, you, 30)
		for i := range got {
			got[i].You, got[i].YouOK = 0, false
		}
		for i := range want {
			want[i].You, want[i].YouOK = 0, false
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("own fleet %+v moves the band %s: %+v, was %+v", you, got[i].Key, got[i], want[i])
			}
		}
	}
}
