package store

import (
	"context"
	"database/sql"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
)

// withLayersReported raises the layers done of every printing job to the
// highest layer its printer reported. A printer reports a job when it is
// queued, starts and ends, never layer by layer, while its layers come one
// by one: without this, the jobs page said 0 layers done of a job whose
// 1,283rd layer the printer page showed. Only printing jobs are looked
// up, each by the layers' (printer, job, index) index.
func (d *DB) withLayersReported(ctx context.Context, p fleet.PrinterID, j *fleet.Job) error {
	if j.Status != fleet.JobPrinting {
		return nil
	}
	var top sql.NullInt64
	if err := d.db.QueryRowContext(ctx, `SELECT MAX(layer_index) FROM layers WHERE printer_id = ? AND job_id = ?`, p, j.ID).Scan(&top); err != nil {
		return err
	}
	if n := int(top.Int64); n > j.LayersDone {
		j.LayersDone = min(n, j.LayerCount)
	}
	return nil
}

// jobsWithLayersReported is withLayersReported of every job of jobs.
func (d *DB) jobsWithLayersReported(ctx context.Context, jobs []fleetquery.PrinterJob) error {
	for i := range jobs {
		if err := d.withLayersReported(ctx, jobs[i].PrinterID, &jobs[i].Job); err != nil {
			return err
		}
	}
	return nil
}
