package learn

import (
	"sort"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// HeadCondition is the printer's printhead condition when a job started,
// as its newest consumables snapshot showed it: the printheads' mean usage
// hours and the share of them not "ok" (degraded, failed or due for
// replacement). The printers' hidden quality falls with lost printhead
// health, which grows with the hours a head has printed and shows as a
// degraded status; recoveries follow the hours at a steady rate and add
// nothing beyond them, so they are not used. Known is false when no
// snapshot at most MaxHeadAge old preceded the job: the build is then
// kept with the condition imputed as new heads and a flag term saying it
// is unknown.
type HeadCondition struct {
	Known    bool
	Hours    float64 // mean usage hours of the printheads
	Degraded float64 // share of the printheads not ok, 0..1
}

// MaxHeadAge is the oldest a consumables snapshot may be, at a job's
// start, to describe the job's printheads.
const MaxHeadAge = 48 * time.Hour

// HeadState is one consumables snapshot's printhead condition. Only the
// condition is kept: no printhead's serial number, UUID or install date.
type HeadState struct {
	Time  time.Time
	Heads HeadCondition
}

// HeadStateOf derives the printhead condition of a consumables snapshot;
// ok is false if it lists no printhead or no time.
func HeadStateOf(c fleet.Consumables) (HeadState, bool) {
	if len(c.Printheads) == 0 || c.Time.IsZero() {
		return HeadState{}, false
	}
	var hours, bad float64
	for _, h := range c.Printheads {
		hours += max(h.UsageHours, 0)
		if h.Status != "ok" {
			bad++
		}
	}
	n := float64(len(c.Printheads))
	return HeadState{Time: c.Time, Heads: HeadCondition{Known: true, Hours: hours / n, Degraded: bad / n}}, true
}

// HeadAt returns the condition of the newest state at or before at, not
// older than MaxHeadAge; states are oldest first. Without one the
// condition is unknown (the zero HeadCondition).
func HeadAt(states []HeadState, at time.Time) HeadCondition {
	i := sort.Search(len(states), func(i int) bool { return states[i].Time.After(at) })
	if i == 0 || at.Sub(states[i-1].Time) > MaxHeadAge {
		return HeadCondition{}
	}
	return states[i-1].Heads
}

// JobStart is when a job started printing, or, if its record has no
// start, when it was created.
func JobStart(j fleet.Job) time.Time {
	if !j.StartedAt.IsZero() {
		return j.StartedAt
	}
	return j.CreatedAt
}

// AttachHeads gives each of one printer's outcomes the printhead
// condition at its job's start, from the printer's consumables snapshots
// (in any order). It is how the cloud's store and the scoring both join
// the snapshots to the jobs.
func AttachHeads(outs []Outcome, snaps []fleet.Consumables) {
	states := make([]HeadState, 0, len(snaps))
	for _, c := range snaps {
		if s, ok := HeadStateOf(c); ok {
			states = append(states, s)
		}
	}
	sort.SliceStable(states, func(i, j int) bool { return states[i].Time.Before(states[j].Time) })
	for i := range outs {
		outs[i].Heads = HeadAt(states, JobStart(outs[i].Job))
	}
}
