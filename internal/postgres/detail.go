package postgres

import (
	"context"
	"fmt"
	"strconv"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
)

// jobHistorySQL is the job history query for q, and its arguments.
func jobHistorySQL(org fleet.OrgID, q fleetquery.JobQuery) (string, []any) {
	lo, hi := fleetquery.Bounds(q.From, q.To)
	args := []any{org, lo, hi}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	s := `SELECT printer_id, data FROM jobs WHERE org_id = $1 AND created_at >= $2 AND created_at < $3`
	if q.PrinterID != "" {
		s += ` AND printer_id = ` + arg(string(q.PrinterID))
	}
	if q.Sites != nil {
		sites := make([]string, len(q.Sites))
		for i, site := range q.Sites {
			sites[i] = string(site)
		}
		s += ` AND printer_id IN (SELECT id FROM printers WHERE org_id = $1 AND site_id = ANY(` + arg(sites) + `))`
	}
	if q.Status != "" {
		s += ` AND (data::jsonb)->>'status' = ` + arg(string(q.Status))
	}
	s += ` ORDER BY created_at DESC, printer_id, job_id LIMIT ` + arg(fleetquery.Limit(q.Limit))
	s += ` OFFSET ` + arg(fleetquery.ClampOffset(q.Offset))
	return s, args
}

// JobHistory lists one page of an organisation's jobs that match q,
// newest first.
func (d *DB) JobHistory(ctx context.Context, org fleet.OrgID, q fleetquery.JobQuery) ([]fleetquery.PrinterJob, error) {
	s, args := jobHistorySQL(org, q)
	jobs, err := collect(ctx, d, s, args, decodeJSON(func(p fleet.PrinterID, j fleet.Job) fleetquery.PrinterJob {
		return fleetquery.PrinterJob{PrinterID: p, Job: j}
	}))
	if err != nil {
		return nil, fmt.Errorf("job history of %s: %w", org, err)
	}
	return jobs, nil
}

// Job returns one job of a printer of org. A job that is unknown, or of a
// printer of another organisation, is fleet.ErrNotFound.
func (d *DB) Job(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, job string) (fleet.Job, error) {
	jobs, err := collect(ctx, d, `SELECT printer_id, data FROM jobs WHERE org_id = $1 AND printer_id = $2 AND job_id = $3`,
		[]any{org, p, job}, decodeJSON(func(_ fleet.PrinterID, j fleet.Job) fleet.Job { return j }))
	switch {
	case err != nil:
		return fleet.Job{}, fmt.Errorf("job %s of %s: %w", job, p, err)
	case len(jobs) == 0:
		return fleet.Job{}, fmt.Errorf("job %s of %s: %w", job, p, fleet.ErrNotFound)
	}
	return jobs[0], nil
}
