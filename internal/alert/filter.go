package alert

import (
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// Status selects alerts by whether they are active.
type Status uint8

// The statuses a Filter selects.
const (
	AnyStatus Status = iota
	ActiveOnly
	ResolvedOnly
)

// DefaultLimit and MaxLimit bound the alerts one query returns.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Filter selects alerts of one organisation. The zero value selects every
// alert at every site, the first DefaultLimit of them. Alerts come active
// first (worst first), then newest first.
type Filter struct {
	Status    Status
	Sites     access.SiteSet  // the zero value: every site
	PrinterID fleet.PrinterID // "" → every printer
	// From and To bound when alerts opened: [From, To); zero → unbounded.
	From, To time.Time
	Limit    int // 0 → DefaultLimit; at most MaxLimit
	Offset   int
}

// PageLimit returns the number of alerts the filter asks for.
func (f Filter) PageLimit() int {
	switch {
	case f.Limit <= 0:
		return DefaultLimit
	case f.Limit > MaxLimit:
		return MaxLimit
	}
	return f.Limit
}
