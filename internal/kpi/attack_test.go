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

// windowStarts are the first ranks of the windows the bands of n members
// average, as smoothed picks them.
func windowStarts(n int) []int {
	seen := map[int]bool{}
	var out []int
	for _, p := range []float64{0.10, 0.25, 0.50, 0.75, 0.90} {
		c := int(math.Round(p * float64(n-1)))
		lo := min(max(c-Window/2, 0), n-Window)
		if !seen[lo] {
			seen[lo] = true
			out = append(out, lo)
		}
	}
	return out
}

// joinShift returns a change x of the n+1 sorted members of a cohort
// with a victim at rank r that leaves every window of the cohort with and
// without the victim unchanged, with x[r] = 1; false if there is none, if
// the bands before and after the victim joined determine its value.
func joinShift(n, r int) ([]float64, bool) {
	var rows [][]float64
	for _, lo := range windowStarts(n + 1) {
		row := make([]float64, n+1)
		for k := lo; k < lo+Window; k++ {
			row[k] = 1
		}
		rows = append(rows, row)
	}
	for _, lo := range windowStarts(n) {
		row := make([]float64, n+1)
		for k := lo; k < lo+Window; k++ {
			if k >= r {
				row[k+1] = 1 // the members above the victim move up a rank
			} else {
				row[k] = 1
			}
		}
		rows = append(rows, row)
	}
	// Solve rows·x = 0 with x[r] = 1: the other unknowns against −column r,
	// by Gauss–Jordan elimination, free unknowns at zero.
	cols := []int{}
	for k := range n + 1 {
		if k != r {
			cols = append(cols, k)
		}
	}
	m := make([][]float64, len(rows))
	for i, row := range rows {
		for _, k := range cols {
			m[i] = append(m[i], row[k])
		}
		m[i] = append(m[i], -row[r])
	}
	pivots := map[int]int{} // column -> row
	rank := 0
	for c := range cols {
		p := -1
		for i := rank; i < len(m); i++ {
			if math.Abs(m[i][c]) > 1e-9 && (p < 0 || math.Abs(m[i][c]) > math.Abs(m[p][c])) {
				p = i
			}
		}
		if p < 0 {
			continue
		}
		m[rank], m[p] = m[p], m[rank]
		for i := range m {
			if i != rank && m[i][c] != 0 {
				f := m[i][c] / m[rank][c]
				for k := range m[i] {
					m[i][k] -= f * m[rank][k]
				}
			}
		}
		pivots[c] = rank
		rank++
	}
	for i := rank; i < len(m); i++ {
		if math.Abs(m[i][len(cols)]) > 1e-9 {
			return nil, false // inconsistent: x[r] must be 0
		}
	}
	x := make([]float64, n+1)
	x[r] = 1
	for c, k := range cols {
		if i, ok := pivots[c]; ok {
			x[k] = m[i][len(cols)] / m[i][c]
		}
	}
	return x, true
}

// TestAttackJoinUndetermined plays the attacker who reads a closed
// month's bands before and after a victim's data for that month arrive
// (it joined with its history, or its site was offline): the same
// other members, with and without the victim. For every cohort of
// MinCohort to 12 others and every rank of the victim there are two
// worlds, the victim's value differing by more than the tolerance, in
// which both answers are the same.
func TestAttackJoinUndetermined(t *testing.T) {
	least := math.Inf(1)
	defer func() { t.Logf("the victim moves by at least %.2f points unseen", least) }()
	for n := MinCohort; n <= 12; n++ {
		for seed := range uint64(3) {
			vs := attackCohort(100+seed, n+1)
			for r := range n + 1 {
				x, ok := joinShift(n, r)
				if !ok {
					t.Errorf("n=%d victim at rank %d: the bands before and after determine the victim", n, r)
					continue
				}
				// The largest step that keeps the members' order, at most
				// one that moves anyone by 3 points.
				step := 3.0
				for _, v := range x {
					step = min(step, 3/math.Abs(v))
				}
				for i := range n {
					if d := x[i] - x[i+1]; d > 0 {
						step = min(step, 0.9*(vs[i+1]-vs[i])/d)
					}
				}
				alt := make([]float64, len(vs))
				for i := range vs {
					alt[i] = vs[i] + step*x[i]
				}
				without := func(v []float64) []float64 { return append(append([]float64{}, v[:r]...), v[r+1:]...) }
				if band0(vs) != band0(alt) || band0(without(vs)) != band0(without(alt)) {
					t.Errorf("n=%d victim at rank %d: the shift %v changes the bands", n, r, x)
				}
				moved := step * math.Abs(x[r])
				least = min(least, moved)
				if moved <= tolerance {
					t.Errorf("n=%d victim at rank %d of %v: the victim is told within %.2f points", n, r, vs, moved)
				}
			}
		}
	}
}
