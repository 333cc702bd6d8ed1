package access

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// Feature is a set of the features an organisation's plan enables
// (R-FEAT-10): paid tiers switch them per customer. A route names the
// features it needs (Requirement.Feature), and Check refuses it to a
// principal whose organisation's plan lacks one.
type Feature uint64

// The features.
const (
	FeatureBenchmark Feature = 1 << iota // the anonymous fleet benchmark comparison
	FeatureExport                        // exporting all of the organisation's data
	FeatureAPI                           // the REST API and its tokens
)

// DefaultFeatures is the plan of an organisation that was given none:
// everything that existed before plans, so that nothing breaks.
const DefaultFeatures = FeatureBenchmark | FeatureExport | FeatureAPI

// ErrFeature is the refusal of a route that the organisation's plan does
// not include; it wraps ErrForbidden, so it is a 403 like any other.
var ErrFeature = fmt.Errorf("not in the organisation's plan: %w", ErrForbidden)

var featureNames = []struct {
	f    Feature
	name string
}{{FeatureBenchmark, "benchmark"}, {FeatureExport, "export"}, {FeatureAPI, "api"}}

// Has reports whether f holds every feature of want; the empty want is
// always held.
func (f Feature) Has(want Feature) bool { return f&want == want }

// Names lists the features of f by name, in a fixed order.
func (f Feature) Names() []string {
	out := []string{}
	for _, n := range featureNames {
		if f&n.f != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

func (f Feature) String() string { return strings.Join(f.Names(), ",") }

// AllFeatureNames lists every feature's name.
func AllFeatureNames() []string { return Feature(^uint64(0)).Names() }

// ParseFeatures parses feature names ("benchmark", "export", "api") into
// a set; an unknown name is an error.
func ParseFeatures(names []string) (Feature, error) {
	var f Feature
	for _, name := range names {
		i := slices.IndexFunc(featureNames, func(n struct {
			f    Feature
			name string
		}) bool {
			return n.name == name
		})
		if i < 0 {
			return 0, fmt.Errorf("unknown feature %q, want one of %s", name, strings.Join(AllFeatureNames(), ", "))
		}
		f |= featureNames[i].f
	}
	return f, nil
}

// Plans keeps the features each organisation's plan enables. An
// organisation never given a plan has DefaultFeatures; an unknown one is
// fleet.ErrNotFound.
type Plans interface {
	OrgFeatures(ctx context.Context, org fleet.OrgID) (Feature, error)
}

// WithFeatures returns p with the features of its organisation's plan
// from plans; nil plans give DefaultFeatures. Principals of an
// organisation that no longer exists get none.
func WithFeatures(ctx context.Context, plans Plans, p Principal) (Principal, error) {
	if plans == nil || p.Org == "" {
		p.Features = DefaultFeatures
		return p, nil
	}
	f, err := plans.OrgFeatures(ctx, p.Org)
	if errors.Is(err, fleet.ErrNotFound) {
		f, err = 0, nil
	}
	if err != nil {
		return Principal{}, fmt.Errorf("plan of %s: %w", p.Org, err)
	}
	p.Features = f
	return p, nil
}
