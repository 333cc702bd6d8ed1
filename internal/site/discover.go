package site

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// Discovery's defaults and limits, as commandcenter.Discover has them.
const (
	DefaultDiscoverPort    = commandcenter.DefaultDiscoverPort
	DefaultDiscoverRate    = commandcenter.DefaultDiscoverRate
	MaxDiscoverRate        = commandcenter.MaxDiscoverRate
	DefaultDiscoverTimeout = commandcenter.DefaultDiscoverTimeout
)

// DiscoverOptions say which subnet `commandcenter discover` scans and what
// it does with the printers it finds.
type DiscoverOptions struct {
	// DataDir is the Command Center's data directory: its database says
	// which printers are paired already, and takes the pairings.
	DataDir string
	Subnet  string        // CIDR, at most an IPv4 /16 (commandcenter.ParseSubnet)
	Ports   string        // comma-separated; "" → DefaultDiscoverPort
	Rate    float64       // connections a second; 0 → DefaultDiscoverRate
	Timeout time.Duration // one host; 0 → DefaultDiscoverTimeout
	// Progress, if set, learns after each probe how many of total are done.
	Progress func(done, total int)
	// Pending keeps every printer found that is not paired yet as a
	// pending pairing, which an operator confirms in the local UI.
	Pending bool
	// Confirm, if set, is asked of each printer found that is not paired
	// yet, after the scan: true pins its certificate at once. It is asked
	// before Pending applies: a printer confirmed is not kept pending.
	Confirm func(d Discovered) (bool, error)
	Now     func() time.Time // nil → time.Now
}

// DiscoveredState says what a printer found is to this Command Center.
type DiscoveredState string

// The states of a printer found.
const (
	DiscoveredPaired  DiscoveredState = "paired"  // paired before the scan
	DiscoveredRetired DiscoveredState = "retired" // paired before, retired since
	DiscoveredPinned  DiscoveredState = "pinned"  // confirmed and pinned now
	DiscoveredPending DiscoveredState = "pending" // kept for the local UI
	DiscoveredNew     DiscoveredState = "new"     // left alone
	// DiscoveredMismatch: an address paired before presents another
	// certificate than the pinned one.
	DiscoveredMismatch DiscoveredState = "certificate differs from the pinned one"
)

// Discovered is a printer found, and what came of it.
type Discovered struct {
	commandcenter.Found
	State DiscoveredState
}

// Discover scans opts.Subnet for printers and offers those not paired yet
// for pairing (opts.Confirm, opts.Pending). The database is opened only
// after the scan, and created only when a pairing is to be written: a
// scan alone changes nothing.
func Discover(ctx context.Context, opts DiscoverOptions) ([]Discovered, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	prefix, err := commandcenter.ParseSubnet(opts.Subnet)
	if err != nil {
		return nil, fmt.Errorf("discover: %w", err)
	}
	scan := commandcenter.DiscoverOptions{Rate: opts.Rate, Timeout: opts.Timeout, Progress: opts.Progress}
	if opts.Ports != "" {
		if scan.Ports, err = commandcenter.ParsePorts(opts.Ports); err != nil {
			return nil, fmt.Errorf("discover: ports: %w", err)
		}
	}
	found, err := commandcenter.Discover(ctx, prefix, scan)
	out := make([]Discovered, len(found))
	for i, f := range found {
		out[i] = Discovered{Found: f, State: DiscoveredNew}
	}
	if err != nil {
		return out, err // interrupted: what was found so far, not offered
	}
	path := filepath.Join(opts.DataDir, "commandcenter.db")
	writes := opts.Pending || opts.Confirm != nil
	if _, err := os.Stat(path); err != nil && !writes {
		return out, nil // no Command Center here yet: nothing is paired
	}
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return out, fmt.Errorf("discover: %w", err)
	}
	st, err := commandcenter.Open(ctx, path)
	if err != nil {
		return out, fmt.Errorf("discover: %w", err)
	}
	defer st.Close()
	known, err := st.Printers(ctx)
	if err != nil {
		return out, fmt.Errorf("discover: %w", err)
	}
	waiting, err := st.PendingPrinters(ctx)
	if err != nil {
		return out, fmt.Errorf("discover: %w", err)
	}
	for i := range out {
		d := &out[i]
		for _, p := range waiting {
			if p.Address == d.Address && p.Fingerprint == d.Fingerprint && opts.Confirm == nil {
				d.State = DiscoveredPending // from an earlier scan
			}
		}
		for _, p := range known {
			if p.Address != d.Address {
				continue
			}
			switch {
			case p.Fingerprint != d.Fingerprint:
				d.State = DiscoveredMismatch
			case p.Retired():
				d.State = DiscoveredRetired
			default:
				d.State = DiscoveredPaired
			}
		}
		if d.State != DiscoveredNew {
			continue
		}
		if opts.Confirm != nil {
			ok, err := opts.Confirm(*d)
			if err != nil {
				return out, fmt.Errorf("discover: %w", err)
			}
			if ok {
				_, err := st.AddPrinter(ctx, d.Address, d.Fingerprint, opts.Now())
				if err != nil && !errors.Is(err, fleet.ErrConflict) {
					return out, fmt.Errorf("discover: %w", err)
				}
				d.State = DiscoveredPinned
				continue
			}
		}
		if opts.Pending {
			id := d.Identity
			if err := st.SavePending(ctx, commandcenter.PendingPrinter{Address: d.Address, Fingerprint: d.Fingerprint,
				Identity: &id, FoundAt: opts.Now()}); err != nil {
				return out, fmt.Errorf("discover: %w", err)
			}
			d.State = DiscoveredPending
		}
	}
	return out, nil
}
