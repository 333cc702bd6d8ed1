package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
)

// printersSQL is the fleet overview query: an organisation's printers with
// their status. On PostgreSQL the status is a LATERAL lookup with LIMIT,
// which the planner cannot turn into a hash join over every printer's
// status: the query stays an index walk over the organisation's printers
// however large the fleet. SQLite joins by lookup anyway, and has no
// LATERAL.
func printersSQL(d *dialect) string {
	status := `LEFT JOIN printer_status s ON s.printer_id = p.id`
	if d.kind == postgres {
		status = `LEFT JOIN LATERAL (SELECT * FROM printer_status WHERE printer_id = p.id LIMIT 1) s ON true`
	}
	return `SELECT p.id, p.name, p.model, p.site_id, p.last_seen,
		s.state, s.activity, s.job_id, s.progress, s.etc_seconds, s.pending_jobs, s.time
	FROM printers p ` + status + ` WHERE p.org_id = ? ORDER BY p.name, p.id`
}

// Printers lists an organisation's printers with their latest status,
// sorted by name (then ID). Printers of other organisations never appear.
func (d *DB) Printers(ctx context.Context, org fleet.OrgID) ([]fleet.PrinterView, error) {
	rows, err := d.db.QueryContext(ctx, printersSQL(d.dialect), org)
	if err != nil {
		return nil, fmt.Errorf("printers of %s: %w", org, err)
	}
	defer rows.Close()
	var out []fleet.PrinterView
	for rows.Next() {
		var v fleet.PrinterView
		var lastSeen int64
		var state, pending sql.NullInt64
		var activity, job sql.NullString
		var progress sql.NullFloat64
		var etc, statusTime sql.NullInt64
		if err := rows.Scan(&v.ID, &v.Name, &v.Model, &v.SiteID, &lastSeen,
			&state, &activity, &job, &progress, &etc, &pending, &statusTime); err != nil {
			return nil, fmt.Errorf("printers of %s: %w", org, err)
		}
		v.LastSeen = fromNanos(lastSeen)
		if state.Valid {
			v.State = fleet.State(state.Int64)
			v.Activity = activity.String
			v.JobID = job.String
			v.Progress = progress.Float64
			v.ETCSeconds = etc.Int64
			v.PendingJobs = int(pending.Int64)
			v.StatusTime = fromNanos(statusTime.Int64)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("printers of %s: %w", org, err)
	}
	return out, nil
}

// PrinterDetail returns what the cloud knows about one printer of an
// organisation now. A printer that is unknown or belongs to another
// organisation is fleet.ErrNotFound.
func (d *DB) PrinterDetail(ctx context.Context, org fleet.OrgID, p fleet.PrinterID) (fleetquery.PrinterDetail, error) {
	var det fleetquery.PrinterDetail
	v := &det.View
	var lastSeen int64
	var state, pending sql.NullInt64
	var activity, job sql.NullString
	var progress sql.NullFloat64
	var etc, statusTime sql.NullInt64
	var identity string
	var counters, consumables sql.NullString
	err := d.db.QueryRowContext(ctx, `SELECT p.id, p.name, p.model, p.site_id, p.last_seen, p.identity,
			s.state, s.activity, s.job_id, s.progress, s.etc_seconds, s.pending_jobs, s.time,
			c.data, k.data
		FROM printers p LEFT JOIN printer_status s ON s.printer_id = p.id
			LEFT JOIN counters_latest c ON c.printer_id = p.id
			LEFT JOIN consumables_latest k ON k.printer_id = p.id
		WHERE p.id = ? AND p.org_id = ?`, p, org).Scan(&v.ID, &v.Name, &v.Model, &v.SiteID, &lastSeen, &identity,
		&state, &activity, &job, &progress, &etc, &pending, &statusTime, &counters, &consumables)
	if errors.Is(err, sql.ErrNoRows) {
		return det, fmt.Errorf("printer %s: %w", p, fleet.ErrNotFound)
	}
	if err != nil {
		return det, fmt.Errorf("printer %s: %w", p, err)
	}
	v.LastSeen = fromNanos(lastSeen)
	if state.Valid {
		v.State = fleet.State(state.Int64)
		v.Activity = activity.String
		v.JobID = job.String
		v.Progress = progress.Float64
		v.ETCSeconds = etc.Int64
		v.PendingJobs = int(pending.Int64)
		v.StatusTime = fromNanos(statusTime.Int64)
	}
	for _, f := range []struct {
		data string
		dst  any
	}{{identity, &det.Identity}, {counters.String, &det.Counters}, {consumables.String, &det.Consumables}} {
		if f.data == "" {
			continue
		}
		if err := json.Unmarshal([]byte(f.data), f.dst); err != nil {
			return det, fmt.Errorf("printer %s: %w", p, err)
		}
	}
	return det, nil
}
