package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
)

// CountersTrend lists a printer's counter snapshots of [from, to) thinned
// to at most points: the newest of each of points equal spans, oldest
// first (see fleetquery.Trend).
func (d *DB) CountersTrend(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time, points int) ([]fleet.Counters, error) {
	return trend[fleet.Counters](ctx, d, "counters", org, p, from, to, points)
}

// ConsumablesTrend lists a printer's consumables snapshots of [from, to)
// thinned to at most points, like CountersTrend.
func (d *DB) ConsumablesTrend(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time, points int) ([]fleet.Consumables, error) {
	return trend[fleet.Consumables](ctx, d, "consumables", org, p, from, to, points)
}

// trend reads one index seek per span, so that a year of snapshots every
// few minutes costs what the plot shows, not what was stored.
func trend[T any](ctx context.Context, d *DB, kind string, org fleet.OrgID, p fleet.PrinterID, from, to time.Time, points int) ([]T, error) {
	lo, width, n, err := fleetquery.Trend(from, to, points)
	if err != nil {
		return nil, fmt.Errorf("%s trend of %s: %w", kind, p, err)
	}
	if err := d.ownPrinter(ctx, org, p); err != nil {
		return nil, fmt.Errorf("%s trend: %w", kind, err)
	}
	_, hi := fleetquery.Bounds(from, to)
	out, err := collect(ctx, d, `SELECT h.printer_id, h.data FROM generate_series(0, $2::int - 1) k
		CROSS JOIN LATERAL (SELECT printer_id, data, time FROM `+kind+`_history
			WHERE printer_id = $1 AND time >= $3::bigint + k * $4::bigint
				AND time < LEAST($3::bigint + (k + 1) * $4::bigint, $5::bigint)
			ORDER BY time DESC LIMIT 1) h
		ORDER BY h.time`, []any{p, n, lo, width, hi},
		decodeJSON(func(_ fleet.PrinterID, v T) T { return v }))
	if err != nil {
		return nil, fmt.Errorf("%s trend of %s: %w", kind, p, err)
	}
	return out, nil
}
