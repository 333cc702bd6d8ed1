package fleetquery

import (
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// MaxOffset bounds how deep a job history may be paged: deeper pages cost
// the store a walk over every skipped row. Narrow the period instead.
const MaxOffset = 100000

// JobQuery selects one page of an organisation's job history, newest
// first: the filters of the jobs page and its CSV export.
type JobQuery struct {
	// PrinterID, when set, selects one printer's jobs.
	PrinterID fleet.PrinterID
	// Sites, when non-nil, keeps jobs of printers at these sites only; an
	// empty non-nil slice selects nothing. A caller limited to some sites
	// passes them here, so that the limit holds in the store.
	Sites []fleet.SiteID
	// Status, when set, keeps jobs in that status.
	Status fleet.JobStatus
	// From and To bound the creation time, [From, To); a zero end is open.
	From, To time.Time
	// Offset skips that many jobs (clamped to 0..MaxOffset); Limit is
	// clamped by Limit.
	Offset int
	Limit  int
}

// ClampOffset returns n clamped to 0..MaxOffset.
func ClampOffset(n int) int { return max(0, min(n, MaxOffset)) }
