package learn

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/kpi"
)

// Outcome is one job as the cloud holds it: the job record, its parts'
// records, the printer's model and build volume, and the organisation it
// came from, and the printer's printhead condition at the job's start
// (see AttachHeads). The organisation is only counted (for the cohort
// threshold); nothing of it, nor any ID of the records, enters the table.
type Outcome struct {
	Org   string
	Model string
	Build fleet.Vec3 // build volume in mm
	Job   fleet.Job
	Parts []fleet.Part
	Heads HeadCondition
}

// Build is one anonymous build: the conditions it was printed under and
// its parts' positions and outcomes.
type Build struct {
	Model, Material, Mode string
	LayerMM               float64
	Recycled              float64 // recycled share of the powder, 0..1
	Density               float64 // packing density, 0..1
	Heads                 HeadCondition
	Day                   time.Time
	Parts                 []PartRow
}

// PartRow is one part of a build: how close it sat to a side wall and
// below the build's top, and whether it failed inspection.
type PartRow struct {
	WallMM, TopMM float64
	Defective     bool
}

// CohortKey groups builds by the parameters a set decides.
type CohortKey struct {
	Model, Material, Mode string
	LayerUM               int // layer thickness in µm
}

func (k CohortKey) String() string {
	return fmt.Sprintf("%s %s %s %d µm", k.Model, k.Material, k.Mode, k.LayerUM)
}

// Cohort describes one cohort's size; Used is false for one below the
// k-anonymity threshold.
type Cohort struct {
	Key    CohortKey
	Orgs   int
	Builds int
	Parts  int
	Used   bool
}

// Table is the training data: the builds of the cohorts that may be used,
// and a description of what went in and what was left out.
type Table struct {
	Builds   []Build
	From, To time.Time // days of the first and last build
	Cohorts  []Cohort
	// Excluded counts the jobs left out, by reason.
	Excluded map[string]int
}

// Parts returns the number of parts in the table.
func (t Table) Parts() int {
	var n int
	for _, b := range t.Builds {
		n += len(b.Parts)
	}
	return n
}

// Reasons a job is excluded from the training data.
const (
	ReasonNotCompleted  = "not completed"
	ReasonPending       = "parts not yet inspected"
	ReasonMissingParts  = "parts missing"
	ReasonContradictory = "contradictory record"
	ReasonDuplicate     = "reported twice"
	ReasonUnknownModel  = "unknown model or build volume"
	ReasonSmallCohort   = "cohort below the k-anonymity threshold"
	ReasonDominated     = "cohort dominated by one organisation"
)

// Anonymise derives the training table from job outcomes. Builds are
// shuffled out of their input order by sorting on their conditions, so
// not even the order of the records survives.
func Anonymise(outs []Outcome) Table {
	t := Table{Excluded: map[string]int{}}
	type entry struct {
		key  CohortKey
		org  string
		b    Build
		jobs int
	}
	var entries []entry
	seen := map[string]bool{}
	for _, o := range outs {
		reason, b := row(o)
		if reason == "" {
			id := o.Org + "\x00" + o.Job.ID
			if seen[id] {
				reason = ReasonDuplicate
			}
			seen[id] = true
		}
		if reason != "" {
			t.Excluded[reason]++
			continue
		}
		k := CohortKey{b.Model, b.Material, b.Mode, int(math.Round(b.LayerMM * 1000))}
		entries = append(entries, entry{key: k, org: o.Org, b: b})
	}
	orgs := map[CohortKey]map[string]int{}
	sizes := map[CohortKey]*Cohort{}
	for _, e := range entries {
		if orgs[e.key] == nil {
			orgs[e.key] = map[string]int{}
			sizes[e.key] = &Cohort{Key: e.key}
		}
		orgs[e.key][e.org]++
		sizes[e.key].Builds++
		sizes[e.key].Parts += len(e.b.Parts)
	}
	reason := map[CohortKey]string{}
	for k, c := range sizes {
		c.Orgs = len(orgs[k])
		largest := 0
		for _, n := range orgs[k] {
			largest = max(largest, n)
		}
		// Five organisations are not enough when one of them holds most
		// of the builds: the fit, and a proposal's defective share now,
		// would then be that organisation's. The others together must
		// hold at least as many builds as the largest.
		switch {
		case c.Orgs < kpi.MinCohort:
			reason[k] = ReasonSmallCohort
		case 2*largest > c.Builds:
			reason[k] = ReasonDominated
		}
		c.Used = reason[k] == ""
		t.Cohorts = append(t.Cohorts, *c)
	}
	sort.Slice(t.Cohorts, func(i, j int) bool { return t.Cohorts[i].Key.String() < t.Cohorts[j].Key.String() })
	for _, e := range entries {
		if r := reason[e.key]; r != "" {
			t.Excluded[r]++
			continue
		}
		t.Builds = append(t.Builds, e.b)
		if t.From.IsZero() || e.b.Day.Before(t.From) {
			t.From = e.b.Day
		}
		if e.b.Day.After(t.To) {
			t.To = e.b.Day
		}
	}
	sortBuilds(t.Builds)
	return t
}

// sortBuilds orders builds by their content alone.
func sortBuilds(bs []Build) {
	key := func(b Build) string {
		return fmt.Sprintf("%s|%s|%s|%.4f|%.4f|%.4f|%t|%.2f|%.4f|%d|%d", b.Model, b.Material, b.Mode, b.LayerMM, b.Recycled, b.Density,
			b.Heads.Known, b.Heads.Hours, b.Heads.Degraded, b.Day.Unix(), len(b.Parts))
	}
	slices.SortStableFunc(bs, func(a, b Build) int {
		ka, kb := key(a), key(b)
		switch {
		case ka < kb:
			return -1
		case ka > kb:
			return 1
		}
		return 0
	})
}

// row turns one outcome into a build, or says why it cannot.
func row(o Outcome) (string, Build) {
	j := o.Job
	switch {
	case j.Status != fleet.JobCompleted:
		return ReasonNotCompleted, Build{}
	case o.Model == "" || !(o.Build.X > 0 && o.Build.Y > 0 && o.Build.Z > 0):
		return ReasonUnknownModel, Build{}
	case len(o.Parts) == 0 || len(o.Parts) != j.PartCount:
		return ReasonMissingParts, Build{}
	case j.Validate() != nil || j.Material == "" || !slices.Contains(fleet.PrintModes, j.PrintMode) ||
		!(j.LayerThicknessMM >= fleet.MinLayerMM && j.LayerThicknessMM <= fleet.MaxLayerMM) ||
		!(j.Density > 0 && j.Density < 1) || !(j.RecycledShare > 0 && j.RecycledShare < 1):
		return ReasonContradictory, Build{}
	}
	day := j.CreatedAt.UTC().Truncate(24 * time.Hour)
	b := Build{Model: o.Model, Material: j.Material, Mode: j.PrintMode, LayerMM: j.LayerThicknessMM,
		Recycled: j.RecycledShare, Density: j.Density, Heads: o.Heads, Day: day}
	top := j.BoundingBox.Max.Z
	ids := map[string]bool{}
	for _, p := range o.Parts {
		switch {
		case p.JobID != j.ID || ids[p.ID] || p.Validate() != nil:
			return ReasonContradictory, Build{}
		case p.Outcome == fleet.PartPending:
			return ReasonPending, Build{}
		case p.Outcome == fleet.PartNotPrinted:
			return ReasonContradictory, Build{} // a completed job printed all its parts
		}
		ids[p.ID] = true
		bb := p.BoundingBox
		if bb.Min.X < 0 || bb.Min.Y < 0 || bb.Min.Z < 0 || bb.Max.X > o.Build.X || bb.Max.Y > o.Build.Y || bb.Max.Z > top+1e-6 {
			return ReasonContradictory, Build{}
		}
		wall := min(bb.Min.X, bb.Min.Y, o.Build.X-bb.Max.X, o.Build.Y-bb.Max.Y)
		b.Parts = append(b.Parts, PartRow{WallMM: wall, TopMM: top - bb.Max.Z, Defective: p.Outcome != fleet.PartPass})
	}
	return "", b
}

// BuildVolume parses a printer identity's build size, "380x284x380 mm";
// zero if it cannot.
func BuildVolume(size string) fleet.Vec3 {
	f := strings.Split(strings.TrimSuffix(size, " mm"), "x")
	if len(f) != 3 {
		return fleet.Vec3{}
	}
	var v [3]float64
	for i, s := range f {
		x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return fleet.Vec3{}
		}
		v[i] = x
	}
	return fleet.Vec3{X: v[0], Y: v[1], Z: v[2]}
}
