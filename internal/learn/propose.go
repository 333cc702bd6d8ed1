package learn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// Status says what came of a proposal.
type Status string

// The statuses of a proposal.
const (
	StatusProposed     Status = "proposed"        // a set with a gain whose band excludes zero
	StatusNoChange     Status = "no change"       // the defaults are already as good as any candidate
	StatusInsufficient Status = "too little data" // no confident statement is possible
)

// Proposal is the proposed defaults for one printer model and material,
// with the defective share predicted today and under them, and the gain's
// bootstrap band.
type Proposal struct {
	Model, Material string
	Status          Status
	Reason          string // why, for a proposal that is not StatusProposed
	Params          fleet.MaterialParameters
	Builds, Parts   int
	// Current and Proposed are predicted defective shares of the
	// group's builds as printed (at the default layer thickness) and
	// under Params. Gain is Current-Proposed; GainLow and GainHigh bound
	// it (5th and 95th percentile over bootstrap refits).
	Current, Proposed float64
	Gain              float64
	GainLow, GainHigh float64
}

// ProposeOptions tune Propose. The zero value works.
type ProposeOptions struct {
	Bootstrap int    // refits for the gain's band; zero: 20
	Seed      uint64 // of the bootstrap's resampling
	// Tolerance is how much predicted defective share (absolute) a less
	// restrictive set may give away to the best one; zero: 0.002.
	Tolerance float64
	// MinParts is the fewest parts of a model and material to propose
	// for; zero: 400.
	MinParts int
	// DefaultLayerMM is the layer thickness printers use without a set;
	// zero: 0.08.
	DefaultLayerMM float64
}

func (o ProposeOptions) withDefaults() ProposeOptions {
	if o.Bootstrap <= 0 {
		o.Bootstrap = 20
	}
	if o.Tolerance <= 0 {
		o.Tolerance = 0.002
	}
	if o.MinParts <= 0 {
		o.MinParts = 400
	}
	if o.DefaultLayerMM <= 0 {
		o.DefaultLayerMM = layerRefMM
	}
	return o
}

// maxSearchParts bounds the parts a candidate is predicted over.
const maxSearchParts = 4000

// candidates returns the parameter sets searched for a group: every mode
// seen in the data, recycled and density ceilings on a grid, and the layer
// thicknesses that enough builds of the material used (the model is not
// asked about a thickness it never saw).
func candidates(group, material []Build, ref float64) []fleet.MaterialParameters {
	modes := []string{""}
	for _, b := range group {
		if !slices.Contains(modes, b.Mode) {
			modes = append(modes, b.Mode)
		}
	}
	sort.Strings(modes)
	layerParts := map[float64]int{}
	for _, b := range material {
		layerParts[math.Round(b.LayerMM*1000)/1000] += len(b.Parts)
	}
	layers := []float64{0}
	for l, n := range layerParts {
		if n >= 200 {
			layers = append(layers, l)
		}
	}
	slices.Sort(layers)
	recs := []float64{0}
	for _, d := range []float64{0.15, 0.10, 0.05, 0} {
		if c := math.Round((ref+d)*100) / 100; c > 0 && c < 1 {
			recs = append(recs, c)
		}
	}
	dens := []float64{0, 0.18, 0.16, 0.14, 0.12, 0.10, 0.08}
	var out []fleet.MaterialParameters
	for _, m := range modes {
		for _, r := range recs {
			for _, d := range dens {
				for _, l := range layers {
					out = append(out, fleet.MaterialParameters{PrintMode: m, RecycledShareMax: r, DensityMax: d, LayerThicknessMM: l})
				}
			}
		}
	}
	return out
}

// apply returns build b as it would print under params, with layer the
// thickness used when params keep the default.
func apply(b Build, p fleet.MaterialParameters, layer float64) Build {
	if p.PrintMode != "" {
		b.Mode = p.PrintMode
	}
	if p.RecycledShareMax > 0 {
		b.Recycled = min(b.Recycled, p.RecycledShareMax)
	}
	if p.DensityMax > 0 {
		b.Density = min(b.Density, p.DensityMax)
	}
	b.LayerMM = layer
	if p.LayerThicknessMM > 0 {
		b.LayerMM = p.LayerThicknessMM
	}
	return b
}

// restrictiveness orders candidates from the least to the most
// restrictive: fields set, then how tight the ceilings are.
func restrictiveness(p fleet.MaterialParameters) [3]float64 {
	n := b2f(p.PrintMode != "") + b2f(p.RecycledShareMax > 0) + b2f(p.DensityMax > 0) + b2f(p.LayerThicknessMM > 0)
	d, r := p.DensityMax, p.RecycledShareMax
	if d == 0 {
		d = 1
	}
	if r == 0 {
		r = 1
	}
	return [3]float64{n, -d, -r}
}

// share is the mean predicted defective share of parts under params.
func (m *Model) share(sample []Build, p fleet.MaterialParameters, layer float64) float64 {
	x := make([]float64, len(m.Coef))
	var sum float64
	var n int
	for _, b := range sample {
		cb := apply(b, p, layer)
		for _, pt := range b.Parts {
			m.features(cb, pt, x)
			sum += m.pDefective(x)
			n++
		}
	}
	return sum / float64(max(n, 1))
}

// Propose proposes defaults for every printer model and material of the
// table, using model m (trained on it) and bootstrap refits for the band.
func Propose(t Table, m *Model, opts ProposeOptions) []Proposal {
	o := opts.withDefaults()
	groups := map[[2]string][]Build{}
	byMaterial := map[string][]Build{}
	for _, b := range t.Builds {
		k := [2]string{b.Model, b.Material}
		groups[k] = append(groups[k], b)
		byMaterial[b.Material] = append(byMaterial[b.Material], b)
	}
	keys := make([][2]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int {
		if c := cmpString(a[0], b[0]); c != 0 {
			return c
		}
		return cmpString(a[1], b[1])
	})
	var out []Proposal
	var todo []int // proposals needing a band
	for _, k := range keys {
		g := groups[k]
		p := Proposal{Model: k[0], Material: k[1], Builds: len(g)}
		for _, b := range g {
			p.Parts += len(b.Parts)
		}
		if p.Parts < o.MinParts || !m.Knows(g[0]) {
			p.Status, p.Reason = StatusInsufficient, fmt.Sprintf("%d parts in %d builds, want at least %d parts", p.Parts, p.Builds, o.MinParts)
			out = append(out, p)
			continue
		}
		sample := thin(g, maxSearchParts)
		p.Current = m.share(sample, fleet.MaterialParameters{}, o.DefaultLayerMM)
		type scored struct {
			p     fleet.MaterialParameters
			share float64
		}
		var cs []scored
		best := math.Inf(1)
		for _, c := range candidates(g, byMaterial[k[1]], reference(k[1])) {
			s := m.share(sample, c, o.DefaultLayerMM)
			cs = append(cs, scored{c, s})
			best = min(best, s)
		}
		var pick *scored
		for i := range cs {
			c := &cs[i]
			if c.share > best+o.Tolerance {
				continue
			}
			if pick == nil || less(restrictiveness(c.p), restrictiveness(pick.p)) {
				pick = c
			}
		}
		p.Params, p.Proposed = pick.p, pick.share
		p.Gain = p.Current - p.Proposed
		if p.Params == (fleet.MaterialParameters{}) || p.Gain <= o.Tolerance {
			p.Status, p.Reason = StatusNoChange, "no candidate predicts fewer defective parts than the defaults by more than the tolerance"
			p.Params, p.Proposed, p.Gain = fleet.MaterialParameters{}, p.Current, 0
		} else {
			p.Status = StatusProposed
			todo = append(todo, len(out))
		}
		out = append(out, p)
	}
	if len(todo) == 0 {
		return out
	}
	// The band: refit on builds resampled with replacement, and predict
	// the same gain with each refit.
	rng := rand.New(rand.NewPCG(o.Seed, 0x6c6561726e))
	train, _ := split(t.Builds)
	gains := make([][]float64, len(out))
	for range o.Bootstrap {
		res := make([]Build, len(train))
		for i := range res {
			res[i] = train[rng.IntN(len(train))]
		}
		bm, err := fit(res, m.Coef)
		if err != nil || !slices.Equal(bm.Features, m.Features) {
			continue
		}
		for _, i := range todo {
			p := &out[i]
			sample := thin(groups[[2]string{p.Model, p.Material}], maxSearchParts)
			gains[i] = append(gains[i], bm.share(sample, fleet.MaterialParameters{}, o.DefaultLayerMM)-bm.share(sample, p.Params, o.DefaultLayerMM))
		}
	}
	for _, i := range todo {
		p := &out[i]
		g := gains[i]
		if len(g) < o.Bootstrap/2 {
			p.Status, p.Reason = StatusInsufficient, "the bootstrap refits failed; the gain's uncertainty is unknown"
			continue
		}
		slices.Sort(g)
		p.GainLow, p.GainHigh = quantile(g, 0.05), quantile(g, 0.95)
		if p.GainLow <= 0 {
			p.Status = StatusInsufficient
			p.Reason = fmt.Sprintf("the gain's band %.4f to %.4f includes zero", p.GainLow, p.GainHigh)
		}
	}
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func less(a, b [3]float64) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// thin returns at most about limit parts' worth of builds, evenly spread.
func thin(bs []Build, limit int) []Build {
	var n int
	for _, b := range bs {
		n += len(b.Parts)
	}
	if n <= limit {
		return bs
	}
	step := float64(n) / float64(limit)
	var out []Build
	var acc float64
	for _, b := range bs {
		acc += float64(len(b.Parts))
		if acc >= step {
			out = append(out, b)
			acc -= step * math.Floor(acc/step)
		}
	}
	return out
}

// quantile of sorted values, linearly interpolated.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	return sorted[lo] + (pos-float64(lo))*(sorted[hi]-sorted[lo])
}

// SetFor returns the parameter set of printer model model made of the
// proposals in ps that are StatusProposed, and false if there is none.
func SetFor(model, name string, ps []Proposal) (fleet.ParameterSet, bool) {
	s := fleet.ParameterSet{Schema: fleet.ParameterSetSchema, Name: name, Model: model,
		Materials: map[string]fleet.MaterialParameters{}}
	var notes []string
	for _, p := range ps {
		if p.Model != model || p.Status != StatusProposed {
			continue
		}
		s.Materials[p.Material] = p.Params
		notes = append(notes, fmt.Sprintf("%s: defective %.1f%% → %.1f%% (gain %.1f, band %.1f to %.1f points)",
			p.Material, 100*p.Current, 100*p.Proposed, 100*p.Gain, 100*p.GainLow, 100*p.GainHigh))
	}
	if len(s.Materials) == 0 {
		return fleet.ParameterSet{}, false
	}
	s.Notes = "learned from anonymous fleet outcomes; " + joinNotes(notes)
	return s, s.Validate() == nil
}

func joinNotes(n []string) string {
	out := ""
	for i, s := range n {
		if i > 0 {
			out += "; "
		}
		out += s
	}
	if len(out) > 3500 {
		out = out[:3500]
	}
	return out
}
