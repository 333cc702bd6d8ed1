package localui

import (
	"context"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/outbox"
)

// The local UI reads the Command Center's store through these interfaces,
// one per thing it shows; *commandcenter.Store is all but Queue, and
// *outbox.Outbox is Queue (Sources builds the set from a store).

// Printers is the site's printers and the local history kept of them.
type Printers interface {
	Printers(ctx context.Context) ([]commandcenter.Printer, error)
	Jobs(ctx context.Context, printerID int64, limit int) ([]commandcenter.LocalJob, error)
	Events(ctx context.Context, printerID int64, limit int) ([]commandcenter.LocalEvent, error)
	Gaps(ctx context.Context, printerID int64, limit int) ([]commandcenter.LocalGap, error)
	ConsumablesHistory(ctx context.Context, printerID int64, from, to time.Time) ([]commandcenter.ConsumablesSample, error)
}

// Uplink is the way to the cloud: the latest outcome, the log of what
// was sent and the bandwidth it took.
type Uplink interface {
	UplinkState(ctx context.Context) (commandcenter.UplinkState, error)
	Uploads(ctx context.Context, limit int) ([]commandcenter.UploadEntry, error)
	Upload(ctx context.Context, id int64) (commandcenter.UploadDetail, error)
	Bandwidth(ctx context.Context, now time.Time) (commandcenter.Bandwidth, error)
}

// Queue is the outbox at a glance.
type Queue interface {
	State(ctx context.Context) (outbox.State, error)
	PendingCount(ctx context.Context) (int, error)
	Quarantined(ctx context.Context) ([]outbox.Quarantine, error)
	Drops(ctx context.Context, limit int) ([]outbox.Drop, error)
}

// Updates is the site's say in when its printers update.
type Updates interface {
	Releases(ctx context.Context, m commandcenter.Mirror, now time.Time) ([]commandcenter.Release, commandcenter.UpdatePolicy, error)
	SetUpdatePolicy(ctx context.Context, p commandcenter.UpdatePolicy) error
	ApproveUpdate(ctx context.Context, target string, at time.Time) error
	WithdrawUpdate(ctx context.Context, target string) error
}

// Sources is what the local UI reads and the few things it changes.
type Sources struct {
	Printers Printers
	Uplink   Uplink
	Queue    Queue
	Updates  Updates
	// Diagnostics is nil on a Command Center without remote diagnostics.
	Diagnostics Diagnostics
	// Admin is nil where the site's printers are not managed here: the
	// Manage printers page and its routes answer 503.
	Admin PrinterAdmin
}

// SourcesOf returns the sources a Command Center's store provides.
func SourcesOf(st *commandcenter.Store) Sources {
	return Sources{Printers: st, Uplink: st, Queue: st.Outbox(), Updates: st, Diagnostics: st, Admin: st}
}
