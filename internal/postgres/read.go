package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
	"github.com/jackc/pgx/v5"
)

// collect runs a query on a pooled connection and scans every row with fn.
func collect[T any](ctx context.Context, d *DB, q string, args []any, fn func(pgx.CollectableRow) (T, error)) ([]T, error) {
	rows, err := d.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, fn)
	if len(out) == 0 {
		out = nil
	}
	return out, err
}

// decodeJSON scans (printer_id, data) and decodes data.
func decodeJSON[T, R any](mk func(fleet.PrinterID, T) R) func(pgx.CollectableRow) (R, error) {
	return func(r pgx.CollectableRow) (R, error) {
		var p fleet.PrinterID
		var data string
		var v T
		if err := r.Scan(&p, &data); err != nil {
			var zero R
			return zero, err
		}
		if err := json.Unmarshal([]byte(data), &v); err != nil {
			var zero R
			return zero, err
		}
		return mk(p, v), nil
	}
}

const viewColumns = `p.id, p.name, p.model, p.site_id, p.last_seen,
	s.state, s.activity, s.job_id, s.progress, s.etc_seconds, s.pending_jobs, s.time`

// viewScan holds the nullable columns of viewColumns.
type viewScan struct {
	v               fleet.PrinterView
	lastSeen        int64
	state, pending  *int64
	activity, job   *string
	progress        *float64
	etc, statusTime *int64
}

func (s *viewScan) dest() []any {
	return []any{&s.v.ID, &s.v.Name, &s.v.Model, &s.v.SiteID, &s.lastSeen,
		&s.state, &s.activity, &s.job, &s.progress, &s.etc, &s.pending, &s.statusTime}
}

func (s *viewScan) view() fleet.PrinterView {
	v := s.v
	v.LastSeen = fromNanos(s.lastSeen)
	if s.state != nil {
		v.State = fleet.State(*s.state)
		v.Activity = *s.activity
		v.JobID = *s.job
		v.Progress = *s.progress
		v.ETCSeconds = *s.etc
		v.PendingJobs = int(*s.pending)
		v.StatusTime = fromNanos(*s.statusTime)
	}
	return v
}

// printersSQL is the fleet overview query: an organisation's printers with
// their status. The status is a LATERAL lookup with LIMIT, which the
// planner cannot turn into a hash join over every printer's status: the
// query stays an index walk over the organisation's printers however large
// the fleet.
const printersSQL = `SELECT ` + viewColumns + `
	FROM printers p LEFT JOIN LATERAL (SELECT * FROM printer_status WHERE printer_id = p.id LIMIT 1) s ON true
	WHERE p.org_id = $1 ORDER BY p.name, p.id`

// Printers lists an organisation's printers with their latest status,
// sorted by name (then ID). Printers of other organisations never appear.
func (d *DB) Printers(ctx context.Context, org fleet.OrgID) ([]fleet.PrinterView, error) {
	out, err := collect(ctx, d, printersSQL, []any{org},
		func(r pgx.CollectableRow) (fleet.PrinterView, error) {
			var s viewScan
			err := r.Scan(s.dest()...)
			return s.view(), err
		})
	if err != nil {
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
	var counters, consumables *string
	err := d.queryRow(ctx, `SELECT `+viewColumns+`, p.identity, c.data, k.data
		FROM printers p LEFT JOIN printer_status s ON s.printer_id = p.id
			LEFT JOIN counters_latest c ON c.printer_id = p.id
			LEFT JOIN consumables_latest k ON k.printer_id = p.id
		WHERE p.id = $1 AND p.org_id = $2`, []any{p, org}, append(s.dest(), &identity, &counters, &consumables)...)
	if isNoRows(err) {
		return det, fmt.Errorf("printer %s: %w", p, fleet.ErrNotFound)
	}
	if err != nil {
		return det, fmt.Errorf("printer %s: %w", p, err)
	}
	det.View = s.view()
	for _, f := range []struct {
		data *string
		dst  any
	}{{&identity, &det.Identity}, {counters, &det.Counters}, {consumables, &det.Consumables}} {
		if f.data == nil || *f.data == "" {
			continue
		}
		if err := json.Unmarshal([]byte(*f.data), f.dst); err != nil {
			return det, fmt.Errorf("printer %s: %w", p, err)
		}
	}
	return det, nil
}

// ownPrinter returns fleet.ErrNotFound unless the printer belongs to org.
func (d *DB) ownPrinter(ctx context.Context, org fleet.OrgID, p fleet.PrinterID) error {
	var one int
	err := d.queryRow(ctx, `SELECT 1 FROM printers WHERE id = $1 AND org_id = $2`, []any{p, org}, &one)
	if isNoRows(err) {
		return fmt.Errorf("printer %s: %w", p, fleet.ErrNotFound)
	}
	return err
}

// jobsSQL is the job history query for a filter, and its arguments.
func jobsSQL(org fleet.OrgID, f fleetquery.JobFilter) (string, []any) {
	lo, hi := fleetquery.Bounds(f.From, f.To)
	q := `SELECT printer_id, data FROM jobs WHERE org_id = $1 AND created_at >= $2 AND created_at < $3`
	args := []any{org, lo, hi, fleetquery.Limit(f.Limit)}
	if f.PrinterID != "" {
		q += ` AND printer_id = $5`
		args = append(args, f.PrinterID)
	}
	return q + ` ORDER BY created_at DESC, printer_id, job_id LIMIT $4`, args
}

// Jobs lists an organisation's jobs created in the filter's time range,
// newest first.
func (d *DB) Jobs(ctx context.Context, org fleet.OrgID, f fleetquery.JobFilter) ([]fleetquery.PrinterJob, error) {
	q, args := jobsSQL(org, f)
	jobs, err := collect(ctx, d, q, args, decodeJSON(func(p fleet.PrinterID, j fleet.Job) fleetquery.PrinterJob {
		return fleetquery.PrinterJob{PrinterID: p, Job: j}
	}))
	if err != nil {
		return nil, fmt.Errorf("jobs of %s: %w", org, err)
	}
	return jobs, nil
}

// JobParts lists the parts of a job of a printer of org, by creation time.
func (d *DB) JobParts(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, job string) ([]fleet.Part, error) {
	if err := d.ownPrinter(ctx, org, p); err != nil {
		return nil, fmt.Errorf("parts of job %s: %w", job, err)
	}
	parts, err := collect(ctx, d, `SELECT printer_id, data FROM parts WHERE printer_id = $1 AND job_id = $2
		ORDER BY created_at, part_id`, []any{p, job}, decodeJSON(func(_ fleet.PrinterID, v fleet.Part) fleet.Part { return v }))
	if err != nil {
		return nil, fmt.Errorf("parts of job %s: %w", job, err)
	}
	return parts, nil
}

// JobLayers lists the layers of a job of a printer of org, by index.
func (d *DB) JobLayers(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, job string) ([]fleet.Layer, error) {
	if err := d.ownPrinter(ctx, org, p); err != nil {
		return nil, fmt.Errorf("layers of job %s: %w", job, err)
	}
	out, err := collect(ctx, d, `SELECT seq, job_id, layer_index, size_mm2, duration_sec, start_time, end_time
		FROM layers WHERE printer_id = $1 AND job_id = $2 ORDER BY layer_index, start_time`, []any{p, job},
		func(r pgx.CollectableRow) (fleet.Layer, error) {
			var l fleet.Layer
			var start, end int64
			err := r.Scan(&l.Seq, &l.JobID, &l.Index, &l.SizeMM2, &l.DurationSec, &start, &end)
			l.Start, l.End = fromNanos(start), fromNanos(end)
			return l, err
		})
	if err != nil {
		return nil, fmt.Errorf("layers of job %s: %w", job, err)
	}
	return out, nil
}

// CountersHistory lists a printer's counter snapshots taken in [from, to)
// (a zero bound is open), oldest first.
func (d *DB) CountersHistory(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time) ([]fleet.Counters, error) {
	return history[fleet.Counters](ctx, d, "counters", org, p, from, to)
}

// ConsumablesHistory lists a printer's consumables snapshots taken in
// [from, to) (a zero bound is open), oldest first.
func (d *DB) ConsumablesHistory(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time) ([]fleet.Consumables, error) {
	return history[fleet.Consumables](ctx, d, "consumables", org, p, from, to)
}

func history[T any](ctx context.Context, d *DB, kind string, org fleet.OrgID, p fleet.PrinterID, from, to time.Time) ([]T, error) {
	if err := d.ownPrinter(ctx, org, p); err != nil {
		return nil, fmt.Errorf("%s history: %w", kind, err)
	}
	lo, hi := fleetquery.Bounds(from, to)
	out, err := collect(ctx, d, `SELECT printer_id, data FROM `+kind+`_history
		WHERE printer_id = $1 AND time >= $2 AND time < $3 ORDER BY time`, []any{p, lo, hi},
		decodeJSON(func(_ fleet.PrinterID, v T) T { return v }))
	if err != nil {
		return nil, fmt.Errorf("%s history of %s: %w", kind, p, err)
	}
	return out, nil
}

// Events lists a printer's events that happened in [from, to) (a zero
// bound is open), newest first, at most limit (see fleetquery.Limit).
func (d *DB) Events(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time, limit int) ([]fleet.Event, error) {
	if err := d.ownPrinter(ctx, org, p); err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	lo, hi := fleetquery.Bounds(from, to)
	out, err := collect(ctx, d, `SELECT seq, code, description, severity, time, firmware, subsystem, details
		FROM events WHERE printer_id = $1 AND time >= $2 AND time < $3
		ORDER BY time DESC, gateway_id, record_seq DESC LIMIT $4`, []any{p, lo, hi, fleetquery.Limit(limit)},
		func(r pgx.CollectableRow) (fleet.Event, error) {
			var e fleet.Event
			var at int64
			var sev int
			err := r.Scan(&e.Seq, &e.Code, &e.Description, &sev, &at, &e.Firmware, &e.Subsystem, &e.Details)
			e.Severity, e.Time = fleet.Severity(sev), fromNanos(at)
			return e, err
		})
	if err != nil {
		return nil, fmt.Errorf("events of %s: %w", p, err)
	}
	return out, nil
}

// Logs lists a printer's lines of one device log written in [from, to) (a
// zero bound is open), newest first, at most limit (see fleetquery.Limit).
func (d *DB) Logs(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, log fleet.LogKind, from, to time.Time, limit int) ([]fleet.LogLine, error) {
	if err := d.ownPrinter(ctx, org, p); err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	lo, hi := fleetquery.Bounds(from, to)
	out, err := collect(ctx, d, `SELECT seq, log, time, text FROM logs
		WHERE printer_id = $1 AND log = $2 AND time >= $3 AND time < $4
		ORDER BY time DESC, seq DESC LIMIT $5`, []any{p, string(log), lo, hi, fleetquery.Limit(limit)},
		func(r pgx.CollectableRow) (fleet.LogLine, error) {
			var l fleet.LogLine
			var at int64
			var kind string
			err := r.Scan(&l.Seq, &kind, &at, &l.Text)
			l.Log, l.Time = fleet.LogKind(kind), fromNanos(at)
			return l, err
		})
	if err != nil {
		return nil, fmt.Errorf("%s log of %s: %w", log, p, err)
	}
	return out, nil
}
