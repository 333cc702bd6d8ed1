package printer

import (
	"fmt"
	"math"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// This file is how the printer applies the content of its installed
// print-parameter set. A set names per material a print mode, a recycled
// share ceiling, a refresh ratio, a packing-density ceiling and a layer
// thickness; each zero field keeps the printer's own behaviour, so a
// printer without a set (or with an empty one) prints exactly as before.
// The hidden quality model responds to what the set changes in the
// printed jobs, never to the set itself.

// ApplyParameterSet installs a parameter set document (called by the
// update agent with the verified target's content) and records name as
// in effect for new jobs. A document that is not a valid set for this
// model is refused and the printer keeps the set it had.
func (p *Printer) ApplyParameterSet(name string, doc []byte) error {
	s, err := fleet.ParseParameterSet(doc)
	if err != nil {
		return err
	}
	if s.Model != p.spec.Model {
		return fmt.Errorf("parameter set %s is for %s, not %s: %w", s.Name, s.Model, p.spec.Model, ErrInvalid)
	}
	for m := range s.Materials {
		if p.materialIndex(m) < 0 {
			return fmt.Errorf("parameter set %s: unknown material %q: %w", s.Name, m, ErrInvalid)
		}
	}
	p.mu.Lock()
	p.advance(p.clk.Now())
	p.params = &s
	p.mu.Unlock()
	p.SetParameterSet(name)
	return nil
}

// materialIndex returns the index of the named material, or -1.
func (p *Printer) materialIndex(name string) int {
	for i, m := range p.tab.Materials {
		if m.Name == name {
			return i
		}
	}
	return -1
}

// materialParams returns the installed set's parameters for material mat
// (the zero value, which changes nothing, without a set).
func (p *Printer) materialParams(mat int) fleet.MaterialParameters {
	if p.params == nil {
		return fleet.MaterialParameters{}
	}
	return p.params.Materials[p.tab.Materials[mat].Name]
}

// planMode returns the print mode a planned job of material mat runs in:
// the set's, or drawn (the mode the customer asked for).
func (p *Printer) planMode(mat, drawn int) int {
	if m := p.materialParams(mat).PrintMode; m != "" {
		for i, pm := range p.tab.Modes {
			if pm.Name == m {
				return i
			}
		}
	}
	return drawn
}

// layerMM returns the layer thickness of material mat.
func (p *Printer) layerMM(mat int) float64 {
	if t := p.materialParams(mat).LayerThicknessMM; t > 0 {
		return t
	}
	return p.spec.LayerMM
}

// freshShare returns the share of fresh powder in a build of material
// mat, given u in [0,1) drawn for whether the site saves powder and v for
// how much: the set's refresh ratio (or the material's), cut by a saving
// site, then raised to respect the set's recycled share ceiling.
func (p *Printer) freshShare(mat int, u, v float64) float64 {
	mp := p.materialParams(mat)
	fresh := p.tab.Materials[mat].FreshShare
	if mp.RefreshRatio > 0 {
		fresh = mp.RefreshRatio
	}
	if u < 0.35 { // saving powder: more recycled than recommended
		fresh *= 0.25 + 0.75*v
	}
	if mp.RecycledShareMax > 0 {
		fresh = max(fresh, 1-mp.RecycledShareMax)
	}
	return fresh
}

// layerPenalty is the hidden model's logit penalty of printing material
// mat at layer thickness t: quadratic around the material's optimum,
// measured from the model's default thickness so that the default costs
// nothing.
func (p *Printer) layerPenalty(mat int, t float64) float64 {
	opt := p.tab.Materials[mat].LayerOptMM
	t0 := p.spec.LayerMM
	return p.tab.Quality.LayerCurv * (math.Pow(t-opt, 2) - math.Pow(t0-opt, 2))
}

// BestParameterSet returns the parameter set that is best for model
// under the hidden quality model: the set an oracle would release. It is
// for scoring what a learner proposes, never an input to one.
func BestParameterSet(model, name string) (fleet.ParameterSet, error) {
	tab := processTable()
	spec, err := specFor(tab.Models, model)
	if err != nil {
		return fleet.ParameterSet{}, err
	}
	s := fleet.ParameterSet{Schema: fleet.ParameterSetSchema, Name: name, Model: spec.Model,
		Materials: map[string]fleet.MaterialParameters{}}
	best := 0
	for i, m := range tab.Modes {
		if m.Quality > tab.Modes[best].Quality {
			best = i
		}
	}
	for _, m := range tab.Materials {
		s.Materials[m.Name] = fleet.MaterialParameters{
			PrintMode:        tab.Modes[best].Name,
			RecycledShareMax: 1 - m.FreshShare,
			DensityMax:       tab.Quality.DensityRef,
			LayerThicknessMM: m.LayerOptMM,
		}
	}
	return s, s.Validate()
}
