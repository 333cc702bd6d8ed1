package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
)

// jobHistorySQL is the job history query for q, and its arguments.
func (d *DB) jobHistorySQL(org fleet.OrgID, q fleetquery.JobQuery) (string, []any) {
	lo, hi := fleetquery.Bounds(q.From, q.To)
	s := `SELECT printer_id, data FROM jobs WHERE org_id = ? AND created_at >= ? AND created_at < ?`
	args := []any{org, lo, hi}
	if q.PrinterID != "" {
		s += ` AND printer_id = ?`
		args = append(args, q.PrinterID)
	}
	if q.Sites != nil {
		// The NULL keeps the list valid when empty; it matches no site.
		s += ` AND printer_id IN (SELECT id FROM printers WHERE org_id = ? AND site_id IN (NULL` +
			strings.Repeat(", ?", len(q.Sites)) + `))`
		args = append(args, org)
		for _, site := range q.Sites {
			args = append(args, site)
		}
	}
	if q.Status != "" {
		s += ` AND ` + d.dialect.jsonText("data", "status") + ` = ?`
		args = append(args, string(q.Status))
	}
	s += ` ORDER BY created_at DESC, printer_id, job_id LIMIT ? OFFSET ?`
	return s, append(args, fleetquery.Limit(q.Limit), fleetquery.ClampOffset(q.Offset))
}

// JobHistory lists one page of an organisation's jobs that match q,
// newest first.
func (d *DB) JobHistory(ctx context.Context, org fleet.OrgID, q fleetquery.JobQuery) ([]fleetquery.PrinterJob, error) {
	s, args := d.jobHistorySQL(org, q)
	jobs, err := queryJSON(ctx, d.db, s, args, func(p fleet.PrinterID, j fleet.Job) fleetquery.PrinterJob {
		return fleetquery.PrinterJob{PrinterID: p, Job: j}
	})
	if err == nil {
		err = d.jobsWithLayersReported(ctx, jobs)
	}
	if err != nil {
		return nil, fmt.Errorf("job history of %s: %w", org, err)
	}
	return jobs, nil
}

// Job returns one job of a printer of org. A job that is unknown, or of a
// printer of another organisation, is fleet.ErrNotFound.
func (d *DB) Job(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, job string) (fleet.Job, error) {
	jobs, err := queryJSON(ctx, d.db, `SELECT printer_id, data FROM jobs WHERE org_id = ? AND printer_id = ? AND job_id = ?`,
		[]any{org, p, job}, func(_ fleet.PrinterID, j fleet.Job) fleet.Job { return j })
	switch {
	case err != nil:
		return fleet.Job{}, fmt.Errorf("job %s of %s: %w", job, p, err)
	case len(jobs) == 0:
		return fleet.Job{}, fmt.Errorf("job %s of %s: %w", job, p, fleet.ErrNotFound)
	}
	if err := d.withLayersReported(ctx, p, &jobs[0]); err != nil {
		return fleet.Job{}, fmt.Errorf("job %s of %s: %w", job, p, err)
	}
	return jobs[0], nil
}
