package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// RejectedError is the rejection every cloud store returns; see
// fleet.RejectedError.
type RejectedError = fleet.RejectedError

// ApplyEnvelope writes the records of an envelope in one transaction and
// returns how many were new, exactly as the SQLite store does (see
// sqlite.DB.ApplyEnvelope): idempotent by (gateway, seq), newest snapshot
// and report wins, appends for events, gaps, layers and log lines, and
// records about another organisation's printer refused as a
// *fleet.RejectedError beside the count of the records applied. Any other
// error means nothing was written and the call may be retried.
func (d *DB) ApplyEnvelope(ctx context.Context, env fleet.Envelope) (int, error) {
	if env.OrgID == "" || env.SiteID == "" || env.GatewayID == "" {
		return 0, &RejectedError{Errs: []error{errors.New("envelope without org, site or gateway")}}
	}
	var (
		rejects []error
		applied int
		whole   error // a rejection of the whole envelope
	)
	err := d.tx(ctx, func(tx pgx.Tx) error {
		applied, rejects, whole = 0, nil, nil
		var siteOrg fleet.OrgID
		err := tx.QueryRow(ctx, `SELECT org_id FROM sites WHERE id = $1`, env.SiteID).Scan(&siteOrg)
		if isNoRows(err) || err == nil && siteOrg != env.OrgID {
			whole = fmt.Errorf("envelope of gateway %s: site %s is not a site of org %s", env.GatewayID, env.SiteID, env.OrgID)
			return nil
		}
		if err != nil {
			return err
		}
		var ok []fleet.Record
		for _, rec := range env.Records {
			if err := fleet.StorableRecord(rec); err != nil {
				rejects = append(rejects, fmt.Errorf("record %d: %w", rec.Seq, err))
				continue
			}
			ok = append(ok, rec)
		}
		ok, foreign, err := ownedHere(ctx, tx, env.OrgID, ok)
		if err != nil {
			return err
		}
		rejects = append(rejects, foreign...)
		var singles, bulk []fleet.Record
		for _, rec := range ok {
			if rec.Kind == fleet.KindLayer || rec.Kind == fleet.KindLog {
				bulk = append(bulk, rec)
			} else {
				singles = append(singles, rec)
			}
		}
		seen := map[fleet.PrinterID]time.Time{} // printers with new records, latest observation
		touch := func(rec fleet.Record) {
			if t, ok := seen[rec.PrinterID]; !ok || rec.Time.After(t) {
				seen[rec.PrinterID] = rec.Time
			}
		}
		fresh, err := markReceived(ctx, tx, env.GatewayID, singles)
		if err != nil {
			return err
		}
		for _, rec := range fresh {
			if rec.Kind != fleet.KindGap {
				touch(rec)
			}
		}
		newBulk, err := insertBulk(ctx, tx, env.GatewayID, bulk)
		if err != nil {
			return err
		}
		for _, rec := range bulk {
			if newBulk[rec.PrinterID] > 0 {
				touch(rec)
			}
		}
		for _, n := range newBulk {
			applied += n
		}
		if err := ensurePrinters(ctx, tx, env, seen); err != nil {
			return err
		}
		touched := kpiTouched{}
		if err := touched.touch(ctx, tx, fresh); err != nil {
			return err
		}
		if err := applySingles(ctx, tx, env, fresh); err != nil {
			return err
		}
		if err := touched.touch(ctx, tx, fresh); err != nil {
			return err
		}
		if err := touched.rebuild(ctx, tx); err != nil {
			return err
		}
		applied += len(fresh)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("apply envelope of gateway %s: %w", env.GatewayID, err)
	}
	if whole != nil {
		return 0, &RejectedError{Errs: []error{whole}}
	}
	if len(rejects) > 0 {
		return applied, &RejectedError{Errs: rejects}
	}
	return applied, nil
}

// ownedHere splits records into those whose printer is unknown or belongs
// to org and rejections of the others.
func ownedHere(ctx context.Context, tx pgx.Tx, org fleet.OrgID, recs []fleet.Record) ([]fleet.Record, []error, error) {
	if len(recs) == 0 {
		return nil, nil, nil
	}
	var ids []string
	have := map[fleet.PrinterID]bool{}
	for _, r := range recs {
		if !have[r.PrinterID] {
			have[r.PrinterID] = true
			ids = append(ids, string(r.PrinterID))
		}
	}
	rows, err := tx.Query(ctx, `SELECT id FROM printers WHERE id = ANY($1) AND org_id <> $2`, ids, org)
	if err != nil {
		return nil, nil, err
	}
	foreign := map[fleet.PrinterID]bool{}
	for rows.Next() {
		var id fleet.PrinterID
		if err := rows.Scan(&id); err != nil {
			return nil, nil, err
		}
		foreign[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	if len(foreign) == 0 {
		return recs, nil, nil
	}
	var ok []fleet.Record
	var rejects []error
	for _, r := range recs {
		if foreign[r.PrinterID] {
			rejects = append(rejects, fmt.Errorf("record %d: printer %s belongs to another organisation: %w",
				r.Seq, r.PrinterID, fleet.ErrConflict))
			continue
		}
		ok = append(ok, r)
	}
	return ok, rejects, nil
}

// markReceived records (gateway, seq) of recs in one statement and returns
// the records not received before, in order.
func markReceived(ctx context.Context, tx pgx.Tx, gw fleet.GatewayID, recs []fleet.Record) ([]fleet.Record, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	seqs := make([]int64, len(recs))
	ats := make([]int64, len(recs))
	for i, r := range recs {
		seqs[i], ats[i] = int64(r.Seq), nanos(r.Time)
	}
	rows, err := tx.Query(ctx, `INSERT INTO received (gateway_id, seq, at)
		SELECT $1, s, a FROM unnest($2::bigint[], $3::bigint[]) AS u(s, a)
		ON CONFLICT DO NOTHING RETURNING seq`, gw, seqs, ats)
	if err != nil {
		return nil, err
	}
	isNew := map[int64]bool{}
	for rows.Next() {
		var s int64
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		isNew[s] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var fresh []fleet.Record
	for _, r := range recs {
		if isNew[int64(r.Seq)] {
			fresh = append(fresh, r)
			delete(isNew, int64(r.Seq)) // a seq twice in one envelope counts once
		}
	}
	return fresh, nil
}

// insertBulk appends layers and log lines, each kind in one multi-row
// insert from arrays, idempotent by the tables' primary keys. It returns
// the number of new rows per printer.
func insertBulk(ctx context.Context, tx pgx.Tx, gw fleet.GatewayID, recs []fleet.Record) (map[fleet.PrinterID]int, error) {
	out := map[fleet.PrinterID]int{}
	if len(recs) == 0 {
		return out, nil
	}
	var l layerCols
	var g logCols
	for _, r := range recs {
		if r.Layer != nil {
			l.add(r)
		} else {
			g.add(r)
		}
	}
	count := func(q string, args ...any) error {
		rows, err := tx.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var p fleet.PrinterID
			var n int
			if err := rows.Scan(&p, &n); err != nil {
				return err
			}
			out[p] += n
		}
		return rows.Err()
	}
	if len(l.seq) > 0 {
		copied, err := copyLayers(ctx, tx, gw, l)
		switch {
		case err != nil:
			return nil, fmt.Errorf("layers: %w", err)
		case copied:
			for _, p := range l.printer {
				out[fleet.PrinterID(p)]++
			}
		default:
			if err := count(`WITH ins AS (`+layerInsertSQL+` ON CONFLICT DO NOTHING RETURNING printer_id)
				SELECT printer_id, COUNT(*) FROM ins GROUP BY printer_id`, l.args(gw)...); err != nil {
				return nil, fmt.Errorf("layers: %w", err)
			}
		}
	}
	if len(g.seq) > 0 {
		if err := count(`WITH ins AS (INSERT INTO logs (gateway_id, record_seq, printer_id, log, seq, time, text)
				SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::text[])
				ON CONFLICT DO NOTHING RETURNING printer_id)
			SELECT printer_id, COUNT(*) FROM ins GROUP BY printer_id`,
			gw, g.recSeq, g.printer, g.log, g.seq, g.time, g.text); err != nil {
			return nil, fmt.Errorf("log lines: %w", err)
		}
	}
	return out, nil
}

// copyLayers COPYs the layers into their table under a savepoint and
// reports true. If one of them is there already (a resend after a lost
// acknowledgement) it rolls back to the savepoint and reports false, for
// the caller to insert the new ones with ON CONFLICT DO NOTHING. Layers
// are the bulk of the data and resends rare, so almost every batch takes
// the fast path.
func copyLayers(ctx context.Context, tx pgx.Tx, gw fleet.GatewayID, l layerCols) (bool, error) {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return false, err
	}
	_, err = sp.CopyFrom(ctx, pgx.Identifier{"layers"}, layerColumns, pgx.CopyFromSlice(len(l.seq), func(i int) ([]any, error) {
		return []any{gw, l.recSeq[i], l.printer[i], l.job[i], l.seq[i], l.index[i], l.size[i], l.dur[i], l.start[i], l.end[i]}, nil
	}))
	if err == nil {
		return true, sp.Commit(ctx)
	}
	if rerr := sp.Rollback(ctx); rerr != nil {
		return false, rerr
	}
	if isUniqueViolation(err) {
		return false, nil
	}
	return false, err
}

// layerColumns are the layers table's columns in layerCols' order.
var layerColumns = []string{"gateway_id", "record_seq", "printer_id", "job_id", "seq", "layer_index",
	"size_mm2", "duration_sec", "start_time", "end_time"}

// layerInsertSQL inserts the layers given as arrays by layerCols.args.
const layerInsertSQL = `INSERT INTO layers (gateway_id, record_seq, printer_id, job_id, seq, layer_index,
		size_mm2, duration_sec, start_time, end_time)
	SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::int[],
		$7::float8[], $8::float8[], $9::bigint[], $10::bigint[])`

// layerCols holds layers column by column.
type layerCols struct {
	recSeq, seq, start, end []int64
	printer, job            []string
	index                   []int32
	size, dur               []float64
}

func (c *layerCols) add(r fleet.Record) {
	l := r.Layer
	c.recSeq = append(c.recSeq, int64(r.Seq))
	c.printer = append(c.printer, string(r.PrinterID))
	c.job = append(c.job, l.JobID)
	c.seq = append(c.seq, int64(l.Seq))
	c.index = append(c.index, int32(l.Index))
	c.size = append(c.size, l.SizeMM2)
	c.dur = append(c.dur, l.DurationSec)
	c.start = append(c.start, nanos(l.Start))
	c.end = append(c.end, nanos(l.End))
}

func (c *layerCols) args(gw fleet.GatewayID) []any {
	return []any{gw, c.recSeq, c.printer, c.job, c.seq, c.index, c.size, c.dur, c.start, c.end}
}

// logCols holds log lines column by column.
type logCols struct {
	recSeq, seq, time  []int64
	printer, log, text []string
}

func (c *logCols) add(r fleet.Record) {
	g := r.Log
	c.recSeq = append(c.recSeq, int64(r.Seq))
	c.printer = append(c.printer, string(r.PrinterID))
	c.log = append(c.log, string(g.Log))
	c.seq = append(c.seq, int64(g.Seq))
	c.time = append(c.time, nanos(g.Time))
	c.text = append(c.text, g.Text)
}

// ensurePrinters creates or updates the printer rows of the envelope's org
// (see the SQLite store's ensurePrinter). A printer that another
// organisation claimed since ownedHere looked is an error, not a
// rejection: the retried envelope is then refused properly.
func ensurePrinters(ctx context.Context, tx pgx.Tx, env fleet.Envelope, seen map[fleet.PrinterID]time.Time) error {
	if len(seen) == 0 {
		return nil
	}
	var b pgx.Batch
	for p, t := range seen {
		b.Queue(`INSERT INTO printers (id, org_id, site_id, last_seen) VALUES ($1, $2, $3, $4)
			ON CONFLICT (id) DO UPDATE SET site_id = excluded.site_id,
				last_seen = GREATEST(printers.last_seen, excluded.last_seen)
			WHERE printers.org_id = excluded.org_id`, p, env.OrgID, env.SiteID, nanos(t)).Exec(
			func(tag pgconn.CommandTag) error {
				if tag.RowsAffected() != 1 {
					return fmt.Errorf("printer %s was claimed by another organisation meanwhile", p)
				}
				return nil
			})
	}
	return tx.SendBatch(ctx, &b).Close()
}

// applySingles writes the records other than layers and log lines, in
// order, in one round trip.
func applySingles(ctx context.Context, tx pgx.Tx, env fleet.Envelope, recs []fleet.Record) error {
	if len(recs) == 0 {
		return nil
	}
	var b pgx.Batch
	for _, rec := range recs {
		if err := queueRecord(&b, env, rec); err != nil {
			return fmt.Errorf("record %d: %w", rec.Seq, err)
		}
	}
	return tx.SendBatch(ctx, &b).Close()
}

func queueRecord(b *pgx.Batch, env fleet.Envelope, rec fleet.Record) error {
	switch rec.Kind {
	case fleet.KindGap:
		g := rec.Gap
		b.Queue(`INSERT INTO gaps (gateway_id, record_seq, org_id, printer_id, feed, reason, from_seq, to_seq, time)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, env.GatewayID, int64(rec.Seq), env.OrgID, rec.PrinterID,
			g.Feed, g.Reason, int64(g.FromSeq), int64(g.ToSeq), nanos(rec.Time))
	case fleet.KindIdentity:
		id := rec.Identity
		data, err := json.Marshal(id)
		if err != nil {
			return err
		}
		b.Queue(`UPDATE printers SET name = $1, model = $2, model_number = $3, serial_number = $4,
			firmware = $5, identity = $6, identity_time = $7 WHERE id = $8 AND identity_time <= $7`,
			id.Name, id.Model, id.ModelNumber, id.SerialNumber, id.Firmware, string(data), nanos(rec.Time), rec.PrinterID)
	case fleet.KindStatus:
		s := rec.Status
		b.Queue(`INSERT INTO printer_status
			(printer_id, state, activity, job_id, progress, etc_seconds, pending_jobs, time)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (printer_id) DO UPDATE SET state = excluded.state, activity = excluded.activity,
				job_id = excluded.job_id, progress = excluded.progress, etc_seconds = excluded.etc_seconds,
				pending_jobs = excluded.pending_jobs, time = excluded.time
			WHERE excluded.time > printer_status.time`,
			rec.PrinterID, int(s.State), s.Activity, s.JobID, s.Progress, s.ETCSeconds, s.PendingJobs, nanos(s.Time))
	case fleet.KindEvent:
		e := rec.Event
		b.Queue(`INSERT INTO events
			(gateway_id, record_seq, printer_id, seq, code, severity, description, subsystem, firmware, details, time)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			env.GatewayID, int64(rec.Seq), rec.PrinterID, int64(e.Seq), e.Code, int(e.Severity), e.Description,
			e.Subsystem, e.Firmware, e.Details, nanos(e.Time))
	case fleet.KindJob:
		j := rec.Job
		data, err := json.Marshal(j)
		if err != nil {
			return err
		}
		b.Queue(`INSERT INTO jobs (printer_id, job_id, org_id, created_at, report_time, data)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (printer_id, job_id) DO UPDATE SET created_at = excluded.created_at,
				report_time = excluded.report_time, data = excluded.data
			WHERE excluded.report_time >= jobs.report_time`,
			rec.PrinterID, j.ID, env.OrgID, nanos(j.CreatedAt), nanos(rec.Time), string(data))
	case fleet.KindPart:
		p := rec.Part
		data, err := json.Marshal(p)
		if err != nil {
			return err
		}
		b.Queue(`INSERT INTO parts (printer_id, part_id, job_id, created_at, report_time, data)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (printer_id, part_id) DO UPDATE SET job_id = excluded.job_id, created_at = excluded.created_at,
				report_time = excluded.report_time, data = excluded.data
			WHERE excluded.report_time >= parts.report_time`,
			rec.PrinterID, p.ID, p.JobID, nanos(p.CreatedAt), nanos(rec.Time), string(data))
	case fleet.KindCounters:
		return queueSnapshot(b, "counters", rec.PrinterID, rec.Counters.Time, rec.Counters)
	case fleet.KindConsumables:
		return queueSnapshot(b, "consumables", rec.PrinterID, rec.Consumables.Time, rec.Consumables)
	default:
		return fmt.Errorf("unexpected kind %q", rec.Kind)
	}
	return nil
}

// queueSnapshot stores v as the printer's latest <kind> snapshot if it is
// newer than the stored one, and in the <kind> history.
func queueSnapshot(b *pgx.Batch, kind string, p fleet.PrinterID, at time.Time, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b.Queue(`INSERT INTO `+kind+`_latest (printer_id, time, data) VALUES ($1, $2, $3)
		ON CONFLICT (printer_id) DO UPDATE SET time = excluded.time, data = excluded.data
		WHERE excluded.time > `+kind+`_latest.time`, p, nanos(at), string(data))
	b.Queue(`INSERT INTO `+kind+`_history (printer_id, time, data) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING`, p, nanos(at), string(data))
	return nil
}
