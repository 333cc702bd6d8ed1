package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
)

// ownPrinter returns fleet.ErrNotFound unless the printer belongs to org.
func (d *DB) ownPrinter(ctx context.Context, org fleet.OrgID, p fleet.PrinterID) error {
	var one int
	err := d.db.QueryRowContext(ctx, `SELECT 1 FROM printers WHERE id = ? AND org_id = ?`, p, org).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("printer %s: %w", p, fleet.ErrNotFound)
	}
	return err
}

// jobsSQL is the job history query for a filter, and its arguments.
func jobsSQL(org fleet.OrgID, f fleetquery.JobFilter) (string, []any) {
	lo, hi := fleetquery.Bounds(f.From, f.To)
	q := `SELECT printer_id, data FROM jobs WHERE org_id = ? AND created_at >= ? AND created_at < ?`
	args := []any{org, lo, hi}
	if f.PrinterID != "" {
		q += ` AND printer_id = ?`
		args = append(args, f.PrinterID)
	}
	q += ` ORDER BY created_at DESC, printer_id, job_id LIMIT ?`
	return q, append(args, fleetquery.Limit(f.Limit))
}

// Jobs lists an organisation's jobs created in the filter's time range,
// newest first.
func (d *DB) Jobs(ctx context.Context, org fleet.OrgID, f fleetquery.JobFilter) ([]fleetquery.PrinterJob, error) {
	q, args := jobsSQL(org, f)
	jobs, err := queryJSON(ctx, d.db, q, args, func(p fleet.PrinterID, j fleet.Job) fleetquery.PrinterJob {
		return fleetquery.PrinterJob{PrinterID: p, Job: j}
	})
	if err == nil {
		err = d.jobsWithLayersReported(ctx, jobs)
	}
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
	parts, err := queryJSON(ctx, d.db, `SELECT printer_id, data FROM parts WHERE printer_id = ? AND job_id = ?
		ORDER BY created_at, part_id`, []any{p, job}, func(_ fleet.PrinterID, v fleet.Part) fleet.Part { return v })
	if err != nil {
		return nil, fmt.Errorf("parts of job %s: %w", job, err)
	}
	return parts, nil
}

// queryJSON runs a query of (printer_id, data) rows and decodes data.
func queryJSON[T, R any](ctx context.Context, db querier, q string, args []any, mk func(fleet.PrinterID, T) R) ([]R, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []R
	for rows.Next() {
		var p fleet.PrinterID
		var data string
		if err := rows.Scan(&p, &data); err != nil {
			return nil, err
		}
		var v T
		if err := json.Unmarshal([]byte(data), &v); err != nil {
			return nil, err
		}
		out = append(out, mk(p, v))
	}
	return out, rows.Err()
}

// JobLayers lists the layers of a job of a printer of org, by index.
func (d *DB) JobLayers(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, job string) ([]fleet.Layer, error) {
	if err := d.ownPrinter(ctx, org, p); err != nil {
		return nil, fmt.Errorf("layers of job %s: %w", job, err)
	}
	rows, err := d.db.QueryContext(ctx, `SELECT seq, job_id, layer_index, size_mm2, duration_sec, start_time, end_time
		FROM layers WHERE printer_id = ? AND job_id = ? ORDER BY layer_index, start_time`, p, job)
	if err != nil {
		return nil, fmt.Errorf("layers of job %s: %w", job, err)
	}
	defer rows.Close()
	var out []fleet.Layer
	for rows.Next() {
		var l fleet.Layer
		var start, end int64
		if err := rows.Scan(&l.Seq, &l.JobID, &l.Index, &l.SizeMM2, &l.DurationSec, &start, &end); err != nil {
			return nil, fmt.Errorf("layers of job %s: %w", job, err)
		}
		l.Start, l.End = fromNanos(start), fromNanos(end)
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
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
	out, err := queryJSON(ctx, d.db, `SELECT printer_id, data FROM `+kind+`_history
		WHERE printer_id = ? AND time >= ? AND time < ? ORDER BY time`, []any{p, lo, hi},
		func(_ fleet.PrinterID, v T) T { return v })
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
	rows, err := d.db.QueryContext(ctx, `SELECT seq, code, description, severity, time, firmware, subsystem, details
		FROM events WHERE printer_id = ? AND time >= ? AND time < ?
		ORDER BY time DESC, gateway_id, record_seq DESC LIMIT ?`, p, lo, hi, fleetquery.Limit(limit))
	if err != nil {
		return nil, fmt.Errorf("events of %s: %w", p, err)
	}
	defer rows.Close()
	var out []fleet.Event
	for rows.Next() {
		var e fleet.Event
		var at int64
		if err := rows.Scan(&e.Seq, &e.Code, &e.Description, &e.Severity, &at, &e.Firmware, &e.Subsystem, &e.Details); err != nil {
			return nil, fmt.Errorf("events of %s: %w", p, err)
		}
		e.Time = fromNanos(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
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
	rows, err := d.db.QueryContext(ctx, `SELECT seq, log, time, text FROM logs
		WHERE printer_id = ? AND log = ? AND time >= ? AND time < ?
		ORDER BY time DESC, seq DESC LIMIT ?`, p, string(log), lo, hi, fleetquery.Limit(limit))
	if err != nil {
		return nil, fmt.Errorf("%s log of %s: %w", log, p, err)
	}
	defer rows.Close()
	var out []fleet.LogLine
	for rows.Next() {
		var l fleet.LogLine
		var at int64
		if err := rows.Scan(&l.Seq, &l.Log, &at, &l.Text); err != nil {
			return nil, fmt.Errorf("%s log of %s: %w", log, p, err)
		}
		l.Time = fromNanos(at)
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s log of %s: %w", log, p, err)
	}
	return out, nil
}
