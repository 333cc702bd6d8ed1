package deviceapi

import (
	"errors"
	"fmt"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// The client validates every answer before handing it on: a printer is
// another party, and a value that passes here can also be encoded again
// (no zero enums) and stored.

// Validate reports whether the identity is complete.
func (id Identity) Validate() error {
	var errs []error
	if err := id.Identity.Validate(); err != nil {
		errs = append(errs, err)
	}
	if id.Instance == "" {
		errs = append(errs, errors.New("identity: empty instance"))
	}
	return errors.Join(errs...)
}

// Validate reports whether the status is well-formed.
func (s Status) Validate() error {
	var errs []error
	if _, err := s.State.MarshalText(); err != nil {
		errs = append(errs, fmt.Errorf("status: invalid state %d", s.State))
	}
	if s.ETCSeconds < 0 || s.PendingJobs < 0 {
		errs = append(errs, errors.New("status: negative time to completion or pending jobs"))
	}
	if s.Time.IsZero() {
		errs = append(errs, errors.New("status: zero time"))
	}
	if s.Job != nil {
		if err := s.Job.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Validate reports whether the current job is well-formed.
func (j CurrentJob) Validate() error {
	var errs []error
	if j.ID == "" {
		errs = append(errs, errors.New("job: empty id"))
	}
	if !(j.Progress >= 0 && j.Progress <= 1) {
		errs = append(errs, fmt.Errorf("job %s: progress %v outside 0..1", j.ID, j.Progress))
	}
	if j.LayersDone < 0 || j.LayersTotal < 0 || j.LayersDone > j.LayersTotal {
		errs = append(errs, fmt.Errorf("job %s: %d of %d layers done", j.ID, j.LayersDone, j.LayersTotal))
	}
	return errors.Join(errs...)
}

// Validate reports whether a jobs-feed entry is well-formed: a valid job
// (fleet.Job.Validate), non-negative amounts, valid warnings and sub-jobs,
// and valid parts of this job with distinct IDs.
func (j Job) Validate() error {
	errs := []error{j.Job.Validate()}
	if j.VolumeCM3 < 0 || j.SurfaceCM2 < 0 || j.RecyclableKG < 0 || j.LayerThicknessMM < 0 {
		errs = append(errs, fmt.Errorf("job %s: negative volume, surface, recyclable material or layer thickness", j.ID))
	}
	for _, w := range j.Warnings {
		if _, err := w.Severity.MarshalText(); err != nil || w.ID == "" {
			errs = append(errs, fmt.Errorf("job %s: warning %q: empty id or invalid severity %d", j.ID, w.ID, w.Severity))
		}
	}
	for _, s := range j.SubJobs {
		if !(s.CompletionPercent >= 0 && s.CompletionPercent <= 100) || s.DurationSec < 0 {
			errs = append(errs, fmt.Errorf("job %s: sub-job %q: completion %v%% or duration %vs out of range", j.ID, s.Kind, s.CompletionPercent, s.DurationSec))
		}
	}
	seen := make(map[string]bool, len(j.Parts))
	for _, p := range j.Parts {
		if err := p.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("job %s: %w", j.ID, err))
		}
		if p.JobID != j.ID {
			errs = append(errs, fmt.Errorf("job %s: part %s belongs to job %s", j.ID, p.ID, p.JobID))
		}
		if seen[p.ID] {
			errs = append(errs, fmt.Errorf("job %s: part %s listed twice", j.ID, p.ID))
		}
		seen[p.ID] = true
	}
	return errors.Join(errs...)
}

// Validate reports whether the page is self-consistent: a non-empty
// instance, valid items in strictly increasing Seq order, none older than
// First, Next the last Seq returned, and (for a log) lines of one log.
func (p Page[T]) Validate() error {
	what := pageName(p)
	if p.Instance == "" {
		return fmt.Errorf("%s: empty instance", what)
	}
	var prev uint64
	for i, it := range p.Items {
		seq, err := validateItem(it)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if i > 0 && seq <= prev {
			return fmt.Errorf("%s: seq %d after %d, want increasing", what, seq, prev)
		}
		if seq < p.First {
			return fmt.Errorf("%s: seq %d older than first %d", what, seq, p.First)
		}
		prev = seq
	}
	if n := len(p.Items); n > 0 && p.Next != prev {
		return fmt.Errorf("%s: next %d, want last seq %d", what, p.Next, prev)
	}
	if lp, ok := any(p).(LogPage); ok {
		for _, l := range lp.Items {
			if l.Log != lp.Items[0].Log {
				return fmt.Errorf("%s: lines of logs %s and %s on one page", what, lp.Items[0].Log, l.Log)
			}
		}
	}
	return nil
}

// checkCursor reports whether page p answers a read after the cursor
// after with at most limit items.
func checkCursor[T any](p Page[T], after uint64, limit int) error {
	what := pageName(p)
	if len(p.Items) > 0 {
		if seq, _ := validateItem(p.Items[0]); seq <= after {
			return fmt.Errorf("%s: seq %d not after cursor %d", what, seq, after)
		}
	}
	if len(p.Items) == 0 && p.Next != after {
		return fmt.Errorf("%s: empty page moves cursor from %d to %d", what, after, p.Next)
	}
	if len(p.Items) > limit {
		return fmt.Errorf("%s: %d items, asked for at most %d", what, len(p.Items), limit)
	}
	return nil
}

// validateItem validates one feed item and returns its Seq.
func validateItem(v any) (uint64, error) {
	switch v := v.(type) {
	case fleet.Event:
		return v.Seq, v.Validate()
	case Job:
		return v.Seq, v.Validate()
	case fleet.Layer:
		return v.Seq, v.Validate()
	case fleet.LogLine:
		if !v.Log.Valid() {
			return v.Seq, fmt.Errorf("log line %d: unknown log %q", v.Seq, v.Log)
		}
		if v.Time.IsZero() {
			return v.Seq, fmt.Errorf("log line %d: zero time", v.Seq)
		}
		return v.Seq, nil
	}
	return 0, fmt.Errorf("no validation for items of type %T", v)
}

// pageName names a page in error messages.
func pageName(p any) string {
	switch p.(type) {
	case EventPage:
		return "event page"
	case JobPage:
		return "job page"
	case LayerPage:
		return "layer page"
	case LogPage:
		return "log page"
	}
	return fmt.Sprintf("%T", p)
}

// validateCounters reports whether usage counters are plausible: a time,
// no negative count or amount, completed jobs within total jobs, filter
// life a percentage.
func validateCounters(c fleet.Counters) error {
	var errs []error
	if c.Time.IsZero() {
		errs = append(errs, errors.New("counters: zero time"))
	}
	if c.TotalJobs < 0 || c.CompletedJobs < 0 || c.Layers < 0 || c.Parts < 0 || c.IntermediateTanks < 0 ||
		c.ServiceStationUses < 0 || c.CarriageCycles < 0 || c.SystemErrors < 0 {
		errs = append(errs, errors.New("counters: negative count"))
	}
	if c.CompletedJobs > c.TotalJobs {
		errs = append(errs, fmt.Errorf("counters: %d jobs completed of %d", c.CompletedJobs, c.TotalJobs))
	}
	if c.PrintVolumeCM3 < 0 || c.PrintTimeSec < 0 || c.MaterialConsumedKG < 0 || c.CoolingSystemHours < 0 ||
		c.LampUsageHours < 0 || c.AgentSystemHours < 0 {
		errs = append(errs, errors.New("counters: negative amount or time"))
	}
	if !percent(c.FilterStatusPercent) {
		errs = append(errs, fmt.Errorf("counters: filter status %v%% outside 0..100", c.FilterStatusPercent))
	}
	for agent, ml := range c.AgentsConsumedML {
		if agent == "" || ml < 0 {
			errs = append(errs, fmt.Errorf("counters: agent %q consumed %v ml", agent, ml))
		}
	}
	return errors.Join(errs...)
}

// validateConsumables reports whether a consumables snapshot is
// plausible: a time, percentages within 0..100, no negative amounts, and
// the identifiers that name each item present.
func validateConsumables(c fleet.Consumables) error {
	var errs []error
	if c.Time.IsZero() {
		errs = append(errs, errors.New("consumables: zero time"))
	}
	if !percent(c.CleaningRoll.UsagePercent) {
		errs = append(errs, fmt.Errorf("consumables: cleaning roll usage %v%% outside 0..100", c.CleaningRoll.UsagePercent))
	}
	for _, a := range c.Agents {
		if a.Agent == "" || a.UsedCC < 0 || a.BuildUnitInserts < 0 || !percent(a.SupplyLevelPercent) {
			errs = append(errs, fmt.Errorf("consumables: agent %q: empty name, negative use or level %v%% outside 0..100", a.Agent, a.SupplyLevelPercent))
		}
	}
	for _, h := range c.Printheads {
		if h.UUID == "" || h.AgentUsedCC < 0 || h.UsageHours < 0 || h.RecoveryLevel < 0 {
			errs = append(errs, fmt.Errorf("consumables: printhead in slot %d: empty uuid or negative use", h.Slot))
		}
	}
	if c.BuildUnits.TotalInserts < 0 {
		errs = append(errs, errors.New("consumables: negative build unit inserts"))
	}
	if u := c.BuildUnits.Installed; u != nil {
		if u.Inserts < 0 || u.UsageHours < 0 || u.MaterialKG < 0 || !percent(u.RecycledPercent) {
			errs = append(errs, fmt.Errorf("consumables: build unit %q: negative use or recycled %v%% outside 0..100", u.SerialNumber, u.RecycledPercent))
		}
	}
	for _, l := range c.Lamps {
		if l.Position == "" || l.Hours < 0 || l.IntensityPercent < 0 {
			errs = append(errs, fmt.Errorf("consumables: lamp %q: empty position or negative hours or intensity", l.Position))
		}
	}
	return errors.Join(errs...)
}

func percent(v float64) bool { return v >= 0 && v <= 100 }
