package fleet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// ParameterSetSchema names the format of a print-parameter set document.
const ParameterSetSchema = "fusionfleet.parameter-set/1"

// MaxParameterSetBytes bounds a parameter set document.
const MaxParameterSetBytes = 64 << 10

// PrintModes are the print modes a parameter set may name.
var PrintModes = []string{"fast", "balanced", "robust"}

// Bounds of the tunables of a parameter set.
const (
	MinLayerMM   = 0.06
	MaxLayerMM   = 0.12
	MinRefresh   = 0.05
	MinDensityMx = 0.03
	MaxDensityMx = 0.40
)

// ParameterSet is the content of a print-parameter set: the defaults a
// printer of one model applies, per material, to the jobs it plans. It
// travels as a signed update target of kind "parameters"; a zero field
// keeps the printer's own default, so an empty set changes nothing.
type ParameterSet struct {
	Schema string `json:"schema"`
	Name   string `json:"name"`  // what the printer reports, e.g. "std-4200-2.2"
	Model  string `json:"model"` // printer model, e.g. "FF-4200"
	// Materials maps a material name ("PA12") to its parameters.
	Materials map[string]MaterialParameters `json:"materials"`
	Notes     string                        `json:"notes,omitempty"`
}

// MaterialParameters are the defaults for one material.
type MaterialParameters struct {
	// PrintMode replaces the mode of the jobs the printer plans
	// ("fast", "balanced" or "robust"); empty: each job's own.
	PrintMode string `json:"print_mode,omitempty"`
	// RecycledShareMax is the ceiling of recycled powder in a build,
	// 0..1, enforced even when the site saves powder; 0: none.
	RecycledShareMax float64 `json:"recycled_share_max,omitempty"`
	// RefreshRatio is the share of fresh powder mixed into each build;
	// 0: the material's published ratio.
	RefreshRatio float64 `json:"refresh_ratio,omitempty"`
	// DensityMax is the packing-density ceiling of planned builds; 0: none.
	DensityMax float64 `json:"density_max,omitempty"`
	// LayerThicknessMM is the layer thickness; 0: the model's default.
	LayerThicknessMM float64 `json:"layer_thickness_mm,omitempty"`
}

// Validate reports whether the parameters are within their bounds.
func (m MaterialParameters) Validate() error {
	var errs []error
	if m.PrintMode != "" && !slices.Contains(PrintModes, m.PrintMode) {
		errs = append(errs, fmt.Errorf("print mode %q: want one of %v", m.PrintMode, PrintModes))
	}
	check := func(name string, v, lo, hi float64) {
		if math.IsNaN(v) || v != 0 && (v < lo || v > hi) {
			errs = append(errs, fmt.Errorf("%s %v: want 0 (default) or %v to %v", name, v, lo, hi))
		}
	}
	check("recycled share ceiling", m.RecycledShareMax, 0.01, 1)
	check("refresh ratio", m.RefreshRatio, MinRefresh, 1)
	check("density ceiling", m.DensityMax, MinDensityMx, MaxDensityMx)
	check("layer thickness", m.LayerThicknessMM, MinLayerMM, MaxLayerMM)
	if m.RecycledShareMax != 0 && m.RefreshRatio != 0 && 1-m.RefreshRatio > m.RecycledShareMax+1e-9 {
		errs = append(errs, fmt.Errorf("refresh ratio %v leaves %v recycled, above the ceiling %v", m.RefreshRatio, 1-m.RefreshRatio, m.RecycledShareMax))
	}
	return errors.Join(errs...)
}

// Validate reports whether the set is well-formed.
func (s ParameterSet) Validate() error {
	var errs []error
	if s.Schema != ParameterSetSchema {
		errs = append(errs, fmt.Errorf("schema %q: want %q", s.Schema, ParameterSetSchema))
	}
	if err := validLabel("name", s.Name); err != nil {
		errs = append(errs, err)
	}
	if err := validLabel("model", s.Model); err != nil {
		errs = append(errs, err)
	}
	if len(s.Materials) == 0 || len(s.Materials) > 32 {
		errs = append(errs, fmt.Errorf("materials: want 1 to 32, got %d", len(s.Materials)))
	}
	names := make([]string, 0, len(s.Materials))
	for n := range s.Materials {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := validLabel("material", n); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := s.Materials[n].Validate(); err != nil {
			errs = append(errs, fmt.Errorf("material %s: %w", n, err))
		}
	}
	if len(s.Notes) > 4096 {
		errs = append(errs, errors.New("notes: at most 4096 bytes"))
	}
	return errors.Join(errs...)
}

// validLabel checks a short printable label.
func validLabel(what, s string) error {
	if s == "" || len(s) > 64 || strings.TrimSpace(s) != s {
		return fmt.Errorf("%s %q: want 1 to 64 characters without surrounding spaces", what, s)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%s %q: control character", what, s)
		}
	}
	return nil
}

// ParseParameterSet decodes and validates a parameter set document;
// unknown fields are refused, so a typo cannot silently keep a default.
func ParseParameterSet(b []byte) (ParameterSet, error) {
	var s ParameterSet
	if len(b) > MaxParameterSetBytes {
		return s, fmt.Errorf("parameter set: %d bytes, limit %d", len(b), MaxParameterSetBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return ParameterSet{}, fmt.Errorf("parameter set: %w", err)
	}
	if dec.More() {
		return ParameterSet{}, errors.New("parameter set: trailing data")
	}
	if err := s.Validate(); err != nil {
		return ParameterSet{}, fmt.Errorf("parameter set: %w", err)
	}
	return s, nil
}

// Encode returns the set as an indented JSON document.
func (s ParameterSet) Encode() ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
