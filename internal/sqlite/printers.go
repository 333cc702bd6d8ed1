package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// Printers lists an organisation's printers with their latest status,
// sorted by name (then ID). Printers of other organisations never appear.
func (d *DB) Printers(ctx context.Context, org fleet.OrgID) ([]fleet.PrinterView, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT p.id, p.name, p.model, p.site_id, p.last_seen,
			s.state, s.activity, s.job_id, s.progress, s.etc_seconds, s.pending_jobs, s.time
		FROM printers p LEFT JOIN printer_status s ON s.printer_id = p.id
		WHERE p.org_id = ?
		ORDER BY p.name, p.id`, org)
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
