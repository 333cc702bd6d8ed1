package fleetquery

import (
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// Limits on the number of rows one read returns.
const (
	DefaultLimit = 100
	MaxLimit     = 10000
)

// Limit returns n clamped to 1..MaxLimit; n <= 0 means DefaultLimit.
func Limit(n int) int {
	switch {
	case n <= 0:
		return DefaultLimit
	case n > MaxLimit:
		return MaxLimit
	}
	return n
}

// Bounds converts a time range to the stores' stored form (Unix
// nanoseconds) as a half-open interval [from, to). A zero From is the
// beginning of time, a zero To the end.
func Bounds(from, to time.Time) (lo, hi int64) {
	lo, hi = -1<<63, 1<<63-1
	if !from.IsZero() {
		lo = from.UnixNano()
	}
	if !to.IsZero() {
		hi = to.UnixNano()
	}
	return lo, hi
}

// JobFilter selects jobs of one organisation by creation time, newest
// first. A zero PrinterID means every printer of the organisation; a zero
// From or To leaves that end open; Limit is clamped by Limit.
type JobFilter struct {
	PrinterID fleet.PrinterID
	From, To  time.Time
	Limit     int
}

// PrinterJob is a job together with the printer that ran it.
type PrinterJob struct {
	PrinterID fleet.PrinterID `json:"printer_id"`
	fleet.Job
}

// PrinterDetail is everything the cloud knows about one printer now: the
// overview row, the latest identity report and the latest counters and
// consumables snapshots (nil until one arrived).
type PrinterDetail struct {
	View fleet.PrinterView `json:"view"`
	// DeviceID is the printer's own ID, as its gateway reports it. The
	// view's ID is the cloud's key of the printer, which is the same but
	// where another organisation's printer had the ID first.
	DeviceID    fleet.PrinterID    `json:"device_id"`
	Identity    *fleet.Identity    `json:"identity,omitempty"`
	Counters    *fleet.Counters    `json:"counters,omitempty"`
	Consumables *fleet.Consumables `json:"consumables,omitempty"`
}
