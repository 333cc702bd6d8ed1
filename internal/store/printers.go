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
	return `SELECT ` + viewColumns + ` FROM printers p ` + status + ` WHERE p.org_id = ? ORDER BY p.name, p.id`
}

// viewColumns are a printer's (p) columns and its status's (s).
const viewColumns = `p.id, p.name, p.model, p.site_id, p.last_seen,
	s.state, s.activity, s.job_id, s.progress, s.etc_seconds, s.pending_jobs, s.time`

// viewScan holds the scanned viewColumns, the status's nullable.
type viewScan struct {
	v               fleet.PrinterView
	lastSeen        int64
	state, pending  sql.NullInt64
	activity, job   sql.NullString
	progress        sql.NullFloat64
	etc, statusTime sql.NullInt64
}

func (s *viewScan) dest() []any {
	return []any{&s.v.ID, &s.v.Name, &s.v.Model, &s.v.SiteID, &s.lastSeen,
		&s.state, &s.activity, &s.job, &s.progress, &s.etc, &s.pending, &s.statusTime}
}

// view is the scanned printer; without a status row its status fields
// stay zero.
func (s *viewScan) view() fleet.PrinterView {
	v := s.v
	v.LastSeen = fromNanos(s.lastSeen)
	if s.state.Valid {
		v.State = fleet.State(s.state.Int64)
		v.Activity = s.activity.String
		v.JobID = s.job.String
		v.Progress = s.progress.Float64
		v.ETCSeconds = s.etc.Int64
		v.PendingJobs = int(s.pending.Int64)
		v.StatusTime = fromNanos(s.statusTime.Int64)
	}
	return v
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
		var s viewScan
		if err := rows.Scan(s.dest()...); err != nil {
			return nil, fmt.Errorf("printers of %s: %w", org, err)
		}
		out = append(out, s.view())
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
	var s viewScan
	var identity string
	var counters, consumables sql.NullString
	err := d.db.QueryRowContext(ctx, `SELECT `+viewColumns+`, p.device_id, p.identity, c.data, k.data
		FROM printers p LEFT JOIN printer_status s ON s.printer_id = p.id
			LEFT JOIN counters_latest c ON c.printer_id = p.id
			LEFT JOIN consumables_latest k ON k.printer_id = p.id
		WHERE p.id = ? AND p.org_id = ?`, p, org).Scan(append(s.dest(), &det.DeviceID, &identity, &counters, &consumables)...)
	if errors.Is(err, sql.ErrNoRows) {
		return det, fmt.Errorf("printer %s: %w", p, fleet.ErrNotFound)
	}
	if err != nil {
		return det, fmt.Errorf("printer %s: %w", p, err)
	}
	det.View = s.view()
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
