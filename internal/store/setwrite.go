package store

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// setWrites are the status, counters and event rows of the envelopes of
// one transaction, written when they are all applied in one multi-row
// statement per table (and chunk of up to 64 rows) instead of statements
// per record: an upload of a few records per printer, many of them to a
// group commit, then costs a few statements in all. Status and the latest
// counters keep one row per printer, the newest (the rule the statements
// apply to the stored row, newerRecord and the later time); a statement
// that upserts a row twice would fail on PostgreSQL and, on either
// engine, keep what the order of its rows says rather than the newest.
//
// On PostgreSQL (copyBulk) the layers and log lines of all envelopes are
// COPYed at once too: a savepoint, a COPY per table and its release,
// instead of the three round trips per envelope.
type setWrites struct {
	copyBulk bool
	env      int       // the index of the envelope being applied
	bulk     []envBulk // with copyBulk: the layer and log rows of each envelope
	status   map[fleet.PrinterID]statusRow
	counters map[fleet.PrinterID]snapshotRow // the newest of each printer
	history  []snapshotRow                   // every counters snapshot
	events   [][]any
}

// envBulk are the layer and log rows of envelope env.
type envBulk struct {
	env          int
	layers, logs [][]any
}

type statusRow struct {
	gw  fleet.GatewayID
	seq uint64
	s   *fleet.Status
}

type snapshotRow struct {
	printer fleet.PrinterID
	at      int64 // nanos
	data    string
}

// add takes rec, a fresh record of env, if it is one of the kinds
// written by set, and reports whether it took it.
func (w *setWrites) add(env fleet.Envelope, rec fleet.Record) (bool, error) {
	switch rec.Kind {
	case fleet.KindStatus:
		row := statusRow{env.GatewayID, rec.Seq, rec.Status}
		if old, ok := w.status[rec.PrinterID]; !ok || newerStatus(old, row) {
			if w.status == nil {
				w.status = map[fleet.PrinterID]statusRow{}
			}
			w.status[rec.PrinterID] = row
		}
	case fleet.KindCounters:
		data, err := json.Marshal(rec.Counters)
		if err != nil {
			return false, err
		}
		row := snapshotRow{rec.PrinterID, nanos(rec.Counters.Time), string(data)}
		w.history = append(w.history, row)
		// The stored row yields to a strictly later one only: of equal
		// times, the first applied stays, as one statement per record kept it.
		if old, ok := w.counters[rec.PrinterID]; !ok || row.at > old.at {
			if w.counters == nil {
				w.counters = map[fleet.PrinterID]snapshotRow{}
			}
			w.counters[rec.PrinterID] = row
		}
	case fleet.KindEvent:
		e := rec.Event
		w.events = append(w.events, []any{env.GatewayID, int64(rec.Seq), rec.PrinterID, int64(e.Seq), e.Code, int(e.Severity),
			e.Description, e.Subsystem, e.Firmware, e.Details, nanos(e.Time)})
	default:
		return false, nil
	}
	return true, nil
}

// newerStatus is newerRecord for two status rows, in Go: whether row is
// newer than old.
func newerStatus(old, row statusRow) bool {
	at, oldAt := nanos(row.s.Time), nanos(old.s.Time)
	return at > oldAt || oldAt-int64(clockSlack) > at && (old.gw == "" || old.gw == row.gw && row.seq > old.seq)
}

// Statements of the set writes, without their VALUES rows.
var (
	statusUpsert = bulkInsert{"printer_status", []string{"printer_id", "state", "activity", "job_id", "progress",
		"etc_seconds", "pending_jobs", "time", "gateway_id", "record_seq"}}
	eventInsert = bulkInsert{"events", []string{"gateway_id", "record_seq", "printer_id", "seq", "code", "severity",
		"description", "subsystem", "firmware", "details", "time"}}
	countersLatest  = bulkInsert{"counters_latest", []string{"printer_id", "time", "data"}}
	countersHistory = bulkInsert{"counters_history", []string{"printer_id", "time", "data"}}
)

// statusSet is the upsert's conflict clause: the newest status wins (see
// newerRecord): a status from a wrong clock's future must not freeze the
// printer's.
var statusSet = ` ON CONFLICT (printer_id) DO UPDATE SET state = excluded.state, activity = excluded.activity,
	job_id = excluded.job_id, progress = excluded.progress, etc_seconds = excluded.etc_seconds,
	pending_jobs = excluded.pending_jobs, time = excluded.time,
	gateway_id = excluded.gateway_id, record_seq = excluded.record_seq
	WHERE ` + newerRecord("printer_status.gateway_id", "printer_status.record_seq", "printer_status.time",
	"excluded.gateway_id", "excluded.record_seq", "excluded.time")

const latestSet = ` ON CONFLICT (printer_id) DO UPDATE SET time = excluded.time, data = excluded.data
	WHERE excluded.time > counters_latest.time`

// flush writes the collected rows in tx, printers in key order (so that
// concurrent writers on PostgreSQL lock them in one order), and adds the
// layers and log lines new to the database to applied, by envelope.
func (w *setWrites) flush(ctx context.Context, tx *txn, applied []int) error {
	if err := w.copyAll(ctx, tx, applied); err != nil {
		return err
	}
	var status [][]any
	for _, p := range slices.Sorted(maps.Keys(w.status)) {
		r := w.status[p]
		s := r.s
		status = append(status, []any{p, int(s.State), s.Activity, s.JobID, s.Progress, s.ETCSeconds, s.PendingJobs,
			nanos(s.Time), r.gw, int64(r.seq)})
	}
	var latest, history [][]any
	for _, p := range slices.Sorted(maps.Keys(w.counters)) {
		r := w.counters[p]
		latest = append(latest, []any{r.printer, r.at, r.data})
	}
	slices.SortStableFunc(w.history, func(a, b snapshotRow) int { return cmp.Compare(a.printer, b.printer) })
	for _, r := range w.history {
		history = append(history, []any{r.printer, r.at, r.data})
	}
	for _, s := range []struct {
		b      bulkInsert
		suffix string
		rows   [][]any
	}{
		{statusUpsert, statusSet, status},
		{countersLatest, latestSet, latest},
		{countersHistory, " ON CONFLICT DO NOTHING", history},
		{eventInsert, "", w.events},
	} {
		if err := execRows(ctx, tx, s.b, s.suffix, s.rows); err != nil {
			return err
		}
	}
	*w = setWrites{}
	return nil
}

// execRows writes rows with b's multi-row insert followed by suffix, in
// chunks of preparedChunk rows: seven statements, each prepared once,
// serve any number of rows.
func execRows(ctx context.Context, tx *txn, b bulkInsert, suffix string, rows [][]any) error {
	args := make([]any, 0, bulkRows*len(b.cols))
	for len(rows) > 0 {
		chunk := rows[:preparedChunk(len(rows))]
		rows = rows[len(chunk):]
		args = args[:0]
		for _, r := range chunk {
			args = append(args, r...)
		}
		if _, err := tx.execHot(ctx, b.values(len(chunk))+suffix, args...); err != nil {
			return fmt.Errorf("%s: %w", b.table, err)
		}
	}
	return nil
}

// copyAll COPYs the layers and log lines of w.bulk under a savepoint. If
// one of them is stored already (a resend after a lost acknowledgement)
// it rolls back to the savepoint and inserts each envelope's new ones as
// bulkLoad does. Layers and log lines are the bulk of the data and resends
// rare, so almost every transaction takes the fast path.
func (w *setWrites) copyAll(ctx context.Context, tx *txn, applied []int) error {
	var layers, logs [][]any
	for _, b := range w.bulk {
		layers, logs = append(layers, b.layers...), append(logs, b.logs...)
	}
	if len(layers)+len(logs) == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `SAVEPOINT bulk`); err != nil {
		return err
	}
	err := copyRows(ctx, tx, layerInsert, layers)
	if err == nil {
		err = copyRows(ctx, tx, logInsert, logs)
	}
	if err == nil {
		if _, err := tx.ExecContext(ctx, `RELEASE SAVEPOINT bulk`); err != nil {
			return err
		}
		for _, b := range w.bulk {
			applied[b.env] += len(b.layers) + len(b.logs)
		}
		return nil
	}
	if _, rerr := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT bulk`); rerr != nil {
		return rerr
	}
	if !tx.dialect.isUniqueViolation(err) {
		return err
	}
	for _, b := range w.bulk {
		nl, err := insertRows(ctx, tx, nil, layerInsert, b.layers)
		if err != nil {
			return fmt.Errorf("layers: %w", err)
		}
		ng, err := insertRows(ctx, tx, nil, logInsert, b.logs)
		if err != nil {
			return fmt.Errorf("log lines: %w", err)
		}
		applied[b.env] += int(nl + ng)
	}
	return nil
}

// copyRows COPYs rows into b's table, all of them new.
func copyRows(ctx context.Context, tx *txn, b bulkInsert, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	n, err := tx.copyFrom(ctx, b.table, b.cols, rows)
	if err == nil && n != int64(len(rows)) {
		err = fmt.Errorf("%s: copied %d of %d rows", b.table, n, len(rows))
	}
	return err
}
