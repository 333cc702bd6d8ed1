package fleetquery

import (
	"context"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// The fleet reads of the cloud store that the dashboard and the REST API
// both use, declared once here beside the shapes they answer in. Every
// read is scoped by organisation: another organisation's printer or job is
// fleet.ErrNotFound.

// PrinterReader reads an organisation's printers: the list and one
// printer's detail.
type PrinterReader interface {
	Printers(ctx context.Context, org fleet.OrgID) ([]fleet.PrinterView, error)
	PrinterDetail(ctx context.Context, org fleet.OrgID, p fleet.PrinterID) (PrinterDetail, error)
}

// JobReader reads print jobs: a printer's recent jobs, the filtered job
// history, and one job with its parts and layers.
type JobReader interface {
	Jobs(ctx context.Context, org fleet.OrgID, f JobFilter) ([]PrinterJob, error)
	JobHistory(ctx context.Context, org fleet.OrgID, q JobQuery) ([]PrinterJob, error)
	Job(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, job string) (fleet.Job, error)
	JobParts(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, job string) ([]fleet.Part, error)
	JobLayers(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, job string) ([]fleet.Layer, error)
}

// HistoryReader reads a printer's past: its counters and consumables
// snapshots, in full or thinned to a number of points for a plot, and its
// events.
type HistoryReader interface {
	CountersHistory(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time) ([]fleet.Counters, error)
	ConsumablesHistory(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time) ([]fleet.Consumables, error)
	CountersTrend(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time, points int) ([]fleet.Counters, error)
	ConsumablesTrend(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time, points int) ([]fleet.Consumables, error)
	Events(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time, limit int) ([]fleet.Event, error)
}
