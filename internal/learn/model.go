package learn

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"gonum.org/v1/gonum/mat"
)

// PublishedFresh is the refresh ratio of each material's data sheet: the
// share of fresh powder for stable part properties. Recycled share is
// measured from it; a material not listed uses DefaultFresh.
var PublishedFresh = map[string]float64{"PA12": 0.20, "PA11": 0.30, "PA12 GB": 0.30, "TPU": 0.20, "PP": 0.10}

// DefaultFresh is the reference refresh ratio of an unlisted material.
const DefaultFresh = 0.20

func reference(material string) float64 {
	if f, ok := PublishedFresh[material]; ok {
		return 1 - f
	}
	return 1 - DefaultFresh
}

// Position thresholds: a part this close to a side wall or to the top of
// the build counts as near it.
const (
	nearWallMM = 15
	nearTopMM  = 15
	layerRefMM = 0.08 // the layer thickness the layer terms are centred on
)

// Model is a fitted, versioned model of a part failing inspection.
type Model struct {
	Version   int
	TrainedAt time.Time
	Data      DataDescription
	Models    []string // printer models, the first is the reference
	Materials []string // materials, the first is the reference
	Features  []string
	Coef      []float64
	Held      Accuracy // on the held-out builds of its own training
}

// DataDescription says what a model was trained on.
type DataDescription struct {
	Builds, Parts int
	HeldBuilds    int
	From, To      time.Time
	Cohorts       []Cohort
	Excluded      map[string]int
	// HeadsUnknown counts the builds kept without a known printhead
	// condition (imputed as new printheads, with the flag term set).
	HeadsUnknown int `json:",omitempty"`
}

// Accuracy is a model's score on held-out builds: R² and mean absolute
// error of each build's defective share, and the mean log loss per part.
type Accuracy struct {
	Builds, Parts int
	R2, MAE       float64
	LogLoss       float64
}

// ErrTooLittleData means there is not enough data to fit or propose.
var ErrTooLittleData = errors.New("too little data")

// MinParts is the fewest training parts a model is fitted from.
const MinParts = 300

// newModel lays out the basis for the models and materials of builds.
func newModel(builds []Build) *Model {
	m := &Model{}
	for _, b := range builds {
		if !slices.Contains(m.Models, b.Model) {
			m.Models = append(m.Models, b.Model)
		}
		if !slices.Contains(m.Materials, b.Material) {
			m.Materials = append(m.Materials, b.Material)
		}
	}
	slices.Sort(m.Models)
	slices.Sort(m.Materials)
	m.Features = append(m.Features, "intercept")
	for _, x := range m.Models[min(1, len(m.Models)):] {
		m.Features = append(m.Features, "model "+x)
	}
	for _, x := range m.Materials[min(1, len(m.Materials)):] {
		m.Features = append(m.Features, "material "+x)
	}
	m.Features = append(m.Features, "mode fast", "mode robust",
		"recycled above reference", "recycled above reference+0.1",
		"density", "density above 0.08", "density above 0.12", "density above 0.16")
	for _, x := range m.Materials {
		m.Features = append(m.Features, "layer "+x, "layer² "+x)
	}
	m.Features = append(m.Features, "printhead hours/100", "printheads not ok", "printhead condition unknown",
		"near a side wall", "near the top")
	return m
}

// features writes the basis of part p of build b into x.
func (m *Model) features(b Build, p PartRow, x []float64) {
	clear(x)
	i := 0
	x[i] = 1
	i++
	for _, v := range m.Models[min(1, len(m.Models)):] {
		if b.Model == v {
			x[i] = 1
		}
		i++
	}
	for _, v := range m.Materials[min(1, len(m.Materials)):] {
		if b.Material == v {
			x[i] = 1
		}
		i++
	}
	x[i], x[i+1] = b2f(b.Mode == "fast"), b2f(b.Mode == "robust")
	i += 2
	rec := b.Recycled - reference(b.Material)
	x[i], x[i+1] = 10*max(rec, 0), 10*max(rec-0.1, 0)
	i += 2
	d := b.Density
	x[i], x[i+1], x[i+2], x[i+3] = 10*d, 10*max(d-0.08, 0), 10*max(d-0.12, 0), 10*max(d-0.16, 0)
	i += 4
	for _, v := range m.Materials {
		if b.Material == v {
			dt := 100 * (b.LayerMM - layerRefMM)
			x[i], x[i+1] = dt, dt*dt
		}
		i += 2
	}
	if m.hasHeads() {
		h := b.Heads
		x[i], x[i+1], x[i+2] = h.Hours/100, h.Degraded, b2f(!h.Known)
		i += 3
	}
	x[i], x[i+1] = b2f(p.WallMM < nearWallMM), b2f(p.TopMM < nearTopMM)
}

// headTerms are the printhead condition's terms.
const headTerms = 3

// hasHeads reports whether the model has the printhead terms: a version
// trained before they existed has not, and is still scored and used
// without them.
func (m *Model) hasHeads() bool {
	base := 1 + max(len(m.Models)-1, 0) + max(len(m.Materials)-1, 0) + 2 + 2 + 4 + 2*len(m.Materials) + 2
	return len(m.Coef) == base+headTerms || len(m.Features) == base+headTerms
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Knows reports whether the model has terms for a build's model and
// material.
func (m *Model) Knows(b Build) bool {
	return slices.Contains(m.Models, b.Model) && slices.Contains(m.Materials, b.Material)
}

// PDefective returns the probability that part p of build b fails
// inspection.
func (m *Model) PDefective(b Build, p PartRow) float64 {
	x := make([]float64, len(m.Coef))
	m.features(b, p, x)
	return m.pDefective(x)
}

func (m *Model) pDefective(x []float64) float64 {
	var z float64
	for i, c := range m.Coef {
		z += c * x[i]
	}
	return 1 / (1 + math.Exp(-z))
}

// ridge is the L2 penalty on every coefficient but the intercept: it
// keeps terms the data barely inform (a layer thickness few builds used)
// near zero rather than wild.
const ridge = 2.0

// Fit fits the model to builds by iteratively reweighted least squares,
// starting from start (nil: zero).
func fit(builds []Build, start []float64) (*Model, error) {
	var parts int
	for _, b := range builds {
		parts += len(b.Parts)
	}
	if parts < MinParts {
		return nil, fmt.Errorf("%w: %d parts, want at least %d", ErrTooLittleData, parts, MinParts)
	}
	m := newModel(builds)
	k := len(m.Features)
	m.Coef = make([]float64, k)
	if len(start) == k {
		copy(m.Coef, start)
	}
	x := make([]float64, k)
	h := mat.NewSymDense(k, nil)
	g := mat.NewVecDense(k, nil)
	for iter := range 25 {
		h.Zero()
		g.Zero()
		hd := h.RawSymmetric().Data
		for _, b := range builds {
			for _, p := range b.Parts {
				m.features(b, p, x)
				mu := m.pDefective(x)
				w := max(mu*(1-mu), 1e-6)
				r := b2f(p.Defective) - mu
				for a := range k {
					if x[a] == 0 {
						continue
					}
					g.SetVec(a, g.AtVec(a)+x[a]*r)
					wa := w * x[a]
					row := hd[a*k:]
					for c := a; c < k; c++ {
						row[c] += wa * x[c]
					}
				}
			}
		}
		for a := 1; a < k; a++ {
			h.SetSym(a, a, h.At(a, a)+ridge)
			g.SetVec(a, g.AtVec(a)-ridge*m.Coef[a])
		}
		var ch mat.Cholesky
		if !ch.Factorize(h) {
			return nil, errors.New("fit: information matrix not positive definite")
		}
		var step mat.VecDense
		if err := ch.SolveVecTo(&step, g); err != nil {
			return nil, fmt.Errorf("fit: %w", err)
		}
		var size float64
		for a := range k {
			m.Coef[a] += step.AtVec(a)
			size = max(size, math.Abs(step.AtVec(a)))
		}
		if size < 1e-6 && iter > 0 {
			break
		}
	}
	return m, nil
}

// Score returns the model's accuracy on builds.
func (m *Model) Score(builds []Build) Accuracy {
	var acc Accuracy
	x := make([]float64, len(m.Coef))
	var act, pred []float64
	for _, b := range builds {
		if !m.Knows(b) || len(b.Parts) == 0 {
			continue
		}
		var bad, sum float64
		for _, p := range b.Parts {
			m.features(b, p, x)
			mu := min(max(m.pDefective(x), 1e-9), 1-1e-9)
			sum += mu
			if p.Defective {
				bad++
				acc.LogLoss -= math.Log(mu)
			} else {
				acc.LogLoss -= math.Log(1 - mu)
			}
			acc.Parts++
		}
		act = append(act, bad/float64(len(b.Parts)))
		pred = append(pred, sum/float64(len(b.Parts)))
	}
	acc.Builds = len(act)
	if acc.Parts == 0 {
		acc.LogLoss = math.Inf(1)
		return acc
	}
	acc.LogLoss /= float64(acc.Parts)
	var mean float64
	for _, a := range act {
		mean += a
	}
	mean /= float64(len(act))
	var sse, sst, abs float64
	for i, a := range act {
		sse += (a - pred[i]) * (a - pred[i])
		sst += (a - mean) * (a - mean)
		abs += math.Abs(a - pred[i])
	}
	acc.MAE = abs / float64(len(act))
	if sst > 0 {
		acc.R2 = 1 - sse/sst
	}
	return acc
}

// split deals builds into training and held-out ones: every fifth build
// in the table's content order is held out.
func split(builds []Build) (train, held []Build) {
	for i, b := range builds {
		if i%5 == 4 {
			held = append(held, b)
		} else {
			train = append(train, b)
		}
	}
	return train, held
}

// Train fits a model to the table, holding out a fifth of the builds to
// score it on.
func Train(t Table, version int, now time.Time) (*Model, error) {
	train, held := split(t.Builds)
	m, err := fit(train, nil)
	if err != nil {
		return nil, err
	}
	m.Version, m.TrainedAt = version, now
	m.Data = DataDescription{Builds: len(t.Builds), Parts: t.Parts(), HeldBuilds: len(held), From: t.From, To: t.To,
		Cohorts: t.Cohorts, Excluded: t.Excluded}
	for _, b := range t.Builds {
		if !b.Heads.Known {
			m.Data.HeadsUnknown++
		}
	}
	m.Held = m.Score(held)
	return m, nil
}
