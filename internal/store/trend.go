package store

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
	// One index seek per span: SQLite looks each up in a recursive list
	// of spans, PostgreSQL in a LATERAL join over a series of them.
	q := `WITH RECURSIVE span(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM span WHERE k < CAST(? AS INTEGER) - 1)
		SELECT printer_id, data FROM ` + kind + `_history WHERE printer_id = ? AND time IN (
			SELECT (SELECT time FROM ` + kind + `_history WHERE printer_id = ? AND time >= CAST(? AS BIGINT) + span.k * CAST(? AS BIGINT)
				AND time < CAST(? AS BIGINT) + (span.k + 1) * CAST(? AS BIGINT) AND time < ? ORDER BY time DESC LIMIT 1) FROM span)
		ORDER BY time`
	args := []any{n, p, p, lo, width, lo, width, hi}
	if d.dialect.kind == postgres {
		q = `SELECT h.printer_id, h.data FROM generate_series(0, CAST(? AS int) - 1) k
			CROSS JOIN LATERAL (SELECT printer_id, data, time FROM ` + kind + `_history
				WHERE printer_id = ? AND time >= CAST(? AS bigint) + k * CAST(? AS bigint)
					AND time < LEAST(CAST(? AS bigint) + (k + 1) * CAST(? AS bigint), CAST(? AS bigint))
				ORDER BY time DESC LIMIT 1) h
			ORDER BY h.time`
		args = []any{n, p, lo, width, lo, width, hi}
	}
	out, err := queryJSON(ctx, d.db, q, args, func(_ fleet.PrinterID, v T) T { return v })
	if err != nil {
		return nil, fmt.Errorf("%s trend of %s: %w", kind, p, err)
	}
	return out, nil
}
