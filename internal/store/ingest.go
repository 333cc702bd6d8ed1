package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// RejectedError is the rejection every cloud store returns; see
// fleet.RejectedError.
type RejectedError = fleet.RejectedError

// reject marks an error as a permanent rejection of one record.
type reject struct{ err error }

func (r reject) Error() string { return r.err.Error() }

// bulkRows is the number of rows one prepared multi-row insert of layers
// or log lines writes.
const bulkRows = 64

// ApplyEnvelope writes the records of an envelope in one transaction and
// returns how many were new. Records are idempotent by (gateway, seq): one
// already received is skipped, so applying an envelope twice, or envelopes
// that overlap, stores each record once.
//
// Identity records upsert the printer; status, counters and consumables
// keep the newest snapshot per printer (counters and consumables also keep
// every snapshot as history); jobs and parts are upserted by (printer, id),
// the newest report winning; events, gaps, layers and log lines are
// appended. What is kept does not depend on the order in which envelopes
// are applied, so consumers may apply them concurrently or out of order.
//
// A printer is identified within the envelope's organisation: its records
// are stored under the key PrinterPlaces gives, so another organisation's
// printer of the same ID neither blocks it nor is touched (R-SEC-6). A
// printer belongs to the site whose gateway first sent its records and is
// never moved by a record: one from another site's gateway is refused
// (MovePrinter moves it). Refusals come back as a *RejectedError alongside
// the count of the records that were applied; any other error means
// nothing was written and the call may be retried.
func (d *DB) ApplyEnvelope(ctx context.Context, env fleet.Envelope) (applied int, err error) {
	n, errs, err := d.ApplyEnvelopes(ctx, []fleet.Envelope{env})
	if err != nil {
		return 0, err
	}
	return n[0], errs[0]
}

// ApplyEnvelopes applies envs as ApplyEnvelope does, in order, in one
// transaction: a group commit, one sync to disk for all of them. It
// returns each envelope's count of new records and its refusals (nil or a
// *RejectedError), or an error when nothing was written.
func (d *DB) ApplyEnvelopes(ctx context.Context, envs []fleet.Envelope) (applied []int, rejected []error, err error) {
	applied, rejected = make([]int, len(envs)), make([]error, len(envs))
	var seen []placeSeen
	err = d.tx(ctx, func(tx *txn) error {
		seen = seen[:0]
		set := setWrites{copyBulk: tx.dialect.kind == postgres}
		for i, env := range envs {
			set.env = i
			n, rejects, places, err := d.applyEnvelope(ctx, tx, env, &set)
			if err != nil {
				return fmt.Errorf("apply envelope of gateway %s: %w", env.GatewayID, err)
			}
			applied[i], rejected[i] = n, nil
			if len(rejects) > 0 {
				rejected[i] = &RejectedError{Errs: rejects}
			}
			seen = append(seen, places)
		}
		return set.flush(ctx, tx, applied)
	})
	if err != nil {
		return nil, nil, err
	}
	// Committed: the places read or made are the database's now.
	for _, p := range seen {
		d.places.add(p.org, p.places)
	}
	return applied, rejected, nil
}

// Appliers is how many ApplyEnvelopes calls profit from running at once:
// one on SQLite, whose transactions write one after the other anyway;
// two on PostgreSQL, where a transaction waits on round trips and the
// server's sync to disk, and a second one fills that time. What is kept
// does not depend on the order of the envelopes, so appliers need not
// coordinate; on PostgreSQL they lock printers in key order.
func (d *DB) Appliers() int {
	if d.dialect.kind == postgres {
		return 2
	}
	return 1
}

// placeSeen are the places of one envelope's printers, to cache once
// committed.
type placeSeen struct {
	org    fleet.OrgID
	places map[fleet.PrinterID]fleet.PrinterPlace
}

// applyEnvelope writes env's records in tx, but for the status, counters
// and events it leaves to set, and returns how many were new, the
// refusals of records or of the whole envelope, and the places of its
// printers.
func (d *DB) applyEnvelope(ctx context.Context, tx *txn, env fleet.Envelope, set *setWrites) (applied int, rejects []error, _ placeSeen, _ error) {
	if env.OrgID == "" || env.SiteID == "" || env.GatewayID == "" {
		return 0, []error{errors.New("envelope without org, site or gateway")}, placeSeen{}, nil
	}
	var siteOrg fleet.OrgID
	err := tx.queryRowHot(ctx, `SELECT org_id FROM sites WHERE id = ?`, env.SiteID).Scan(&siteOrg)
	if errors.Is(err, sql.ErrNoRows) || err == nil && siteOrg != env.OrgID {
		return 0, []error{fmt.Errorf("envelope of gateway %s: site %s is not a site of org %s", env.GatewayID, env.SiteID, env.OrgID)}, placeSeen{}, nil
	}
	if err != nil {
		return 0, nil, placeSeen{}, err
	}
	keys, err := d.keyPrinters(ctx, tx, env)
	if err != nil {
		return 0, nil, placeSeen{}, err
	}
	var bulk, single []fleet.Record
	for _, rec := range env.Records {
		if err := fleet.StorableRecord(rec); err != nil {
			rejects = append(rejects, fmt.Errorf("record %d: %w", rec.Seq, err))
			continue
		}
		pl := keys.places[rec.PrinterID]
		if pl.SiteID != "" && pl.SiteID != env.SiteID {
			// An administrator moved the printer after the uplink
			// checked its site: refused as the uplink refuses.
			rejects = append(rejects, fmt.Errorf("record %d: %w", rec.Seq, fleet.OtherSiteError(rec.PrinterID, pl.SiteID)))
			continue
		}
		rec.PrinterID = pl.Key
		if rec.Kind == fleet.KindLayer || rec.Kind == fleet.KindLog {
			bulk = append(bulk, rec)
		} else {
			single = append(single, rec)
		}
	}
	fresh, err := markReceived(ctx, tx, env.GatewayID, single)
	if err != nil {
		return 0, nil, placeSeen{}, err
	}
	// The printers of all fresh records, with the newest observation of
	// each by newerRecord's rule, in one statement before any record
	// refers to them.
	var observed []fleet.Record
	for _, rec := range slices.Concat(fresh, bulk) {
		if rec.Kind != fleet.KindGap { // a gap needs no printer row: it is about the gateway's reading
			observed = append(observed, rec)
		}
	}
	slices.SortStableFunc(observed, func(a, b fleet.Record) int { return cmp.Compare(a.Seq, b.Seq) })
	seen := map[fleet.PrinterID]fleet.Record{}
	// The earliest observation of each printer moves its first_seen back
	// (utilisation counts a printer's time from then).
	first := map[fleet.PrinterID]time.Time{}
	for _, rec := range observed {
		if r, ok := seen[rec.PrinterID]; !ok || newerOfGateway(r, rec) {
			seen[rec.PrinterID] = rec
		}
		if f, ok := first[rec.PrinterID]; !ok || rec.Time.Before(f) {
			first[rec.PrinterID] = rec.Time
		}
	}
	if err := ensurePrinters(ctx, tx, env, keys, seen, first); err != nil {
		// The cache may have sent records to a printer's old site: the
		// retry reads the places afresh.
		d.places.forget(env.OrgID)
		return 0, nil, placeSeen{}, err
	}
	touched := kpiTouched{}
	for _, rec := range fresh {
		if ok, err := set.add(env, rec); err != nil {
			return 0, nil, placeSeen{}, fmt.Errorf("record %d: %w", rec.Seq, err)
		} else if ok {
			applied++
			continue
		}
		if err := touched.touch(ctx, tx, rec); err != nil {
			return 0, nil, placeSeen{}, fmt.Errorf("record %d: %w", rec.Seq, err)
		}
		if err := applyRecord(ctx, tx, env, rec); err != nil {
			return 0, nil, placeSeen{}, fmt.Errorf("record %d: %w", rec.Seq, err)
		}
		if err := touched.touch(ctx, tx, rec); err != nil {
			return 0, nil, placeSeen{}, fmt.Errorf("record %d: %w", rec.Seq, err)
		}
		applied++
	}
	n, err := d.applyBulk(ctx, tx, env, bulk, set)
	applied += n
	if err != nil {
		return 0, nil, placeSeen{}, err
	}
	if err := touched.rebuild(ctx, tx); err != nil {
		return 0, nil, placeSeen{}, err
	}
	// What the envelope's printers are now: known, or made here at the
	// envelope's site.
	places := make(map[fleet.PrinterID]fleet.PrinterPlace, len(keys.places))
	for dev, pl := range keys.places {
		if pl.SiteID == "" {
			if _, ok := seen[pl.Key]; !ok {
				continue // not made: none of its records was stored
			}
			pl.SiteID = env.SiteID
		}
		places[dev] = pl
	}
	return applied, rejects, placeSeen{env.OrgID, places}, nil
}

// printerKeys are the places of the printers of one envelope, by device
// ID, and the device ID of each key.
type printerKeys struct {
	places map[fleet.PrinterID]fleet.PrinterPlace
	device map[fleet.PrinterID]fleet.PrinterID
}

// keyPrinters places the printers of env's records in env's organisation,
// from the cache where it knows them at env's site, else from the
// database. A printer new to it whose ID another organisation's printer
// has as key gets a random key. Two writers that choose differently for
// one printer at once (on PostgreSQL) collide on the organisation's
// unique device ID when ensurePrinters inserts it: an error, and the
// retry finds the key the first stored.
func (d *DB) keyPrinters(ctx context.Context, tx *txn, env fleet.Envelope) (printerKeys, error) {
	// A cached place is checked by ensurePrinters, which gap records
	// skip: a printer with gaps only is looked up.
	checked := map[fleet.PrinterID]bool{}
	for _, r := range env.Records {
		if r.Kind != fleet.KindGap {
			checked[r.PrinterID] = true
		}
	}
	places := map[fleet.PrinterID]fleet.PrinterPlace{}
	var devices []fleet.PrinterID
	for _, r := range env.Records {
		if _, ok := places[r.PrinterID]; ok {
			continue
		}
		// Only a hit at the envelope's own site is taken: a refusal for
		// another site is for the database to decide, never the cache.
		if pl, ok := d.places.get(env.OrgID, r.PrinterID); ok && pl.SiteID == env.SiteID && checked[r.PrinterID] {
			places[r.PrinterID] = pl
			continue
		}
		places[r.PrinterID] = fleet.PrinterPlace{}
		devices = append(devices, r.PrinterID)
	}
	if len(devices) > 0 {
		found, collided, err := placePrinters(ctx, tx, env.OrgID, devices)
		if err != nil {
			return printerKeys{}, err
		}
		maps.Copy(places, found)
		for _, dev := range collided {
			places[dev] = fleet.PrinterPlace{Key: newPrinterKey()}
		}
	}
	k := printerKeys{places: places, device: make(map[fleet.PrinterID]fleet.PrinterID, len(places))}
	for dev, pl := range places {
		k.device[pl.Key] = dev
	}
	return k, nil
}

// markReceived records (gateway, seq) of recs and returns those that are
// new, in one statement per chunk. One statement decides, so two nodes
// applying the same record at once on PostgreSQL apply it once: the
// second waits for the first's row and then finds it.
func markReceived(ctx context.Context, tx *txn, gw fleet.GatewayID, recs []fleet.Record) ([]fleet.Record, error) {
	var fresh []fleet.Record
	for len(recs) > 0 {
		chunk := recs[:preparedChunk(len(recs))]
		recs = recs[len(chunk):]
		args := make([]any, 0, 3*len(chunk))
		for _, rec := range chunk {
			args = append(args, gw, int64(rec.Seq), nanos(rec.Time))
		}
		q := `INSERT INTO received (gateway_id, seq, at) VALUES (?, ?, ?)` + strings.Repeat(", (?, ?, ?)", len(chunk)-1) +
			` ON CONFLICT DO NOTHING RETURNING seq`
		rows, err := tx.queryHot(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		isNew := map[int64]bool{}
		for rows.Next() {
			var seq int64
			if err := rows.Scan(&seq); err != nil {
				rows.Close()
				return nil, err
			}
			isNew[seq] = true
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, err
		}
		for _, rec := range chunk {
			if isNew[int64(rec.Seq)] {
				fresh = append(fresh, rec)
				delete(isNew, int64(rec.Seq)) // a seq twice in one envelope is applied once
			}
		}
	}
	return fresh, nil
}

// applyRecord writes one record that is storable and whose printer the
// envelope's organisation may write, of the kinds setWrites does not
// write.
func applyRecord(ctx context.Context, tx *txn, env fleet.Envelope, rec fleet.Record) error {
	if rec.Kind == fleet.KindGap {
		// A gap needs no printer row: it is about the gateway's reading.
		g := rec.Gap
		_, err := tx.execHot(ctx, `INSERT INTO gaps (gateway_id, record_seq, org_id, printer_id, feed, reason, from_seq, to_seq, time)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, env.GatewayID, int64(rec.Seq), env.OrgID, rec.PrinterID,
			g.Feed, g.Reason, int64(g.FromSeq), int64(g.ToSeq), nanos(rec.Time))
		return err
	}
	switch rec.Kind {
	case fleet.KindIdentity:
		id := rec.Identity
		data, err := json.Marshal(id)
		if err != nil {
			return err
		}
		_, err = tx.execHot(ctx, `UPDATE printers SET name = ?, model = ?, model_number = ?, serial_number = ?,
			firmware = ?, identity = ?, identity_time = ? WHERE id = ? AND identity_time <= ?`,
			id.Name, id.Model, id.ModelNumber, id.SerialNumber, id.Firmware, string(data), nanos(rec.Time),
			rec.PrinterID, nanos(rec.Time))
		return err
	case fleet.KindJob:
		j := rec.Job
		data, err := json.Marshal(j)
		if err != nil {
			return err
		}
		_, err = tx.execHot(ctx, `INSERT INTO jobs (printer_id, job_id, org_id, created_at, report_time, data)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (printer_id, job_id) DO UPDATE SET created_at = excluded.created_at,
				report_time = excluded.report_time, data = excluded.data
			WHERE excluded.report_time >= jobs.report_time`,
			rec.PrinterID, j.ID, env.OrgID, nanos(j.CreatedAt), nanos(rec.Time), string(data))
		return err
	case fleet.KindPart:
		p := rec.Part
		data, err := json.Marshal(p)
		if err != nil {
			return err
		}
		_, err = tx.execHot(ctx, `INSERT INTO parts (printer_id, part_id, job_id, created_at, report_time, data)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (printer_id, part_id) DO UPDATE SET job_id = excluded.job_id, created_at = excluded.created_at,
				report_time = excluded.report_time, data = excluded.data
			WHERE excluded.report_time >= parts.report_time`,
			rec.PrinterID, p.ID, p.JobID, nanos(p.CreatedAt), nanos(rec.Time), string(data))
		return err
	case fleet.KindConsumables:
		return snapshot(ctx, tx, "consumables", rec.PrinterID, rec.Consumables.Time, rec.Consumables)
	}
	return fmt.Errorf("unexpected kind %q", rec.Kind)
}

// snapshot stores v as the printer's latest <kind> snapshot if it is newer
// than the stored one, and in the <kind> history.
func snapshot(ctx context.Context, tx *txn, kind string, p fleet.PrinterID, at time.Time, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = tx.execHot(ctx, `INSERT INTO `+kind+`_latest (printer_id, time, data) VALUES (?, ?, ?)
		ON CONFLICT (printer_id) DO UPDATE SET time = excluded.time, data = excluded.data
		WHERE excluded.time > `+kind+`_latest.time`, p, nanos(at), string(data))
	if err != nil {
		return err
	}
	_, err = tx.execHot(ctx, `INSERT INTO `+kind+`_history (printer_id, time, data) VALUES (?, ?, ?)
		ON CONFLICT DO NOTHING`, p, nanos(at), string(data))
	return err
}

// applyBulk appends layers and log lines, idempotent by their own primary
// key (gateway, record seq), with prepared multi-row inserts. It returns
// how many rows were new. On PostgreSQL it leaves them to set, which
// COPYs the rows of all envelopes of the transaction at once.
func (d *DB) applyBulk(ctx context.Context, tx *txn, env fleet.Envelope, recs []fleet.Record, set *setWrites) (int, error) {
	if len(recs) == 0 {
		return 0, nil
	}
	var layers, logs [][]any
	for _, rec := range recs {
		if l := rec.Layer; l != nil {
			layers = append(layers, []any{env.GatewayID, int64(rec.Seq), rec.PrinterID, l.JobID, int64(l.Seq),
				l.Index, l.SizeMM2, l.DurationSec, nanos(l.Start), nanos(l.End)})
		} else {
			g := rec.Log
			logs = append(logs, []any{env.GatewayID, int64(rec.Seq), rec.PrinterID, string(g.Log), int64(g.Seq),
				nanos(g.Time), g.Text})
		}
	}
	if set.copyBulk {
		set.bulk = append(set.bulk, envBulk{set.env, layers, logs})
		return 0, nil
	}
	nl, err := bulkLoad(ctx, tx, d.insertLayers, layerInsert, layers)
	if err != nil {
		return 0, fmt.Errorf("layers: %w", err)
	}
	ng, err := bulkLoad(ctx, tx, d.insertLogs, logInsert, logs)
	if err != nil {
		return 0, fmt.Errorf("log lines: %w", err)
	}
	return int(nl + ng), nil
}

// The bulk tables' insert statements without their VALUES rows.
var (
	layerInsert = bulkInsert{"layers", []string{"gateway_id", "record_seq", "printer_id", "job_id", "seq", "layer_index",
		"size_mm2", "duration_sec", "start_time", "end_time"}}
	logInsert = bulkInsert{"logs", []string{"gateway_id", "record_seq", "printer_id", "log", "seq", "time", "text"}}
)

type bulkInsert struct {
	table string
	cols  []string
}

// values returns the plain insert of n rows.
func (b bulkInsert) values(n int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", len(b.cols)), ",") + ")"
	return "INSERT INTO " + b.table + " (" + strings.Join(b.cols, ", ") + ") VALUES " +
		strings.TrimSuffix(strings.Repeat(row+",", n), ",")
}

// sql returns the insert of n rows that skips rows already stored.
func (b bulkInsert) sql(n int) string { return b.values(n) + " ON CONFLICT DO NOTHING" }

// bulkLoad writes rows and returns how many were new. On PostgreSQL it
// COPYs them under a savepoint; if one of them is there already (a resend
// after a lost acknowledgement) it rolls back to the savepoint and inserts
// the new ones with insertRows. Layers and log lines are the bulk of the
// data and resends rare, so almost every batch takes the fast path.
func bulkLoad(ctx context.Context, tx *txn, full *sql.Stmt, b bulkInsert, rows [][]any) (int64, error) {
	if tx.dialect.kind != postgres || len(rows) == 0 {
		return insertRows(ctx, tx, full, b, rows)
	}
	if _, err := tx.ExecContext(ctx, `SAVEPOINT bulk`); err != nil {
		return 0, err
	}
	n, err := tx.copyFrom(ctx, b.table, b.cols, rows)
	if err == nil {
		_, err = tx.ExecContext(ctx, `RELEASE SAVEPOINT bulk`)
		return n, err
	}
	if _, rerr := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT bulk`); rerr != nil {
		return 0, rerr
	}
	if !tx.dialect.isUniqueViolation(err) {
		return 0, err
	}
	return insertRows(ctx, tx, nil, b, rows)
}

// insertRows writes rows in chunks of bulkRows with the prepared full
// chunk statement, the rest in chunks of powers of two (see
// preparedChunk), and returns how many rows were new.
func insertRows(ctx context.Context, tx *txn, full *sql.Stmt, b bulkInsert, rows [][]any) (int64, error) {
	var n int64
	args := make([]any, 0, bulkRows*len(b.cols))
	for len(rows) > 0 {
		chunk := rows[:preparedChunk(len(rows))]
		rows = rows[len(chunk):]
		args = args[:0]
		for _, r := range chunk {
			args = append(args, r...)
		}
		var res sql.Result
		var err error
		if len(chunk) == bulkRows && full != nil {
			res, err = tx.tx.StmtContext(ctx, full).ExecContext(ctx, args...)
		} else {
			res, err = tx.execHot(ctx, b.sql(len(chunk)), args...)
		}
		if err != nil {
			return 0, err
		}
		k, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		n += k
	}
	return n, nil
}

// preparedChunk is how many of n rows the next statement of a multi-row
// write takes: 64, else the largest power of two that fits. Seven
// statements, each prepared once, serve every n.
func preparedChunk(n int) int {
	if n >= 64 {
		return 64
	}
	c := 1
	for c*2 <= n {
		c *= 2
	}
	return c
}

// printerChunk is the most printers one statement names, well within
// both engines' limits of parameters.
const printerChunk = 500

// ensurePrinters creates the printer rows of seen (printer key → newest
// observation) under the envelope's org and site where they are unknown,
// and advances last_seen, in one statement. It never moves a printer: the
// caller has checked that each belongs to the envelope's site, and a
// printer moved or claimed since (by a concurrent writer on PostgreSQL)
// fails the call, whose retry refuses its records properly.
func ensurePrinters(ctx context.Context, tx *txn, env fleet.Envelope, keys printerKeys, seen map[fleet.PrinterID]fleet.Record, first map[fleet.PrinterID]time.Time) error {
	if len(seen) == 0 {
		return nil
	}
	// In key order, so that concurrent writers on PostgreSQL lock the rows
	// in one order.
	for chunk := range slices.Chunk(slices.Sorted(maps.Keys(seen)), printerChunk) {
		args := make([]any, 0, 8*len(chunk))
		for _, p := range chunk {
			args = append(args, p, keys.device[p], env.OrgID, env.SiteID, nanos(seen[p].Time), env.GatewayID, int64(seen[p].Seq),
				max(nanos(first[p]), 0)) // no time says nothing about when the printer was there
		}
		newer := newerRecord("printers.seen_gateway", "printers.seen_seq", "printers.last_seen",
			"excluded.seen_gateway", "excluded.seen_seq", "excluded.last_seen")
		pick := func(col string) string {
			return col + ` = CASE WHEN ` + newer + ` THEN excluded.` + col + ` ELSE printers.` + col + ` END`
		}
		// first_seen moves back to the earliest record so far: records
		// arrive out of order, history after the present.
		res, err := tx.ExecContext(ctx, `INSERT INTO printers (id, device_id, org_id, site_id, last_seen, seen_gateway, seen_seq, first_seen)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`+strings.Repeat(", (?, ?, ?, ?, ?, ?, ?, ?)", len(chunk)-1)+`
			ON CONFLICT (id) DO UPDATE SET `+pick("last_seen")+`, `+pick("seen_gateway")+`, `+pick("seen_seq")+`,
				first_seen = CASE WHEN excluded.first_seen > 0 AND (printers.first_seen = 0 OR excluded.first_seen < printers.first_seen)
					THEN excluded.first_seen ELSE printers.first_seen END
			WHERE printers.org_id = excluded.org_id AND printers.site_id = excluded.site_id
				AND printers.device_id = excluded.device_id`, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != int64(len(chunk)) {
			return fmt.Errorf("printers %v: one was stored or moved by another writer meanwhile", chunk)
		}
	}
	return nil
}

// clockSlack is how far a gateway's later record may be dated before its
// earlier one and still be ordered by time: clocks are corrected, and a
// gateway's reports of one printer arrive out of time order by minutes.
// More than that, and the earlier record's time was wrong.
const clockSlack = 24 * time.Hour

// newerOfGateway is newerRecord for two records of one gateway, in Go:
// whether rec is newer than old.
func newerOfGateway(old, rec fleet.Record) bool {
	at, oldAt := nanos(rec.Time), nanos(old.Time)
	return at > oldAt || oldAt-int64(clockSlack) > at && rec.Seq > old.Seq
}

// newerRecord returns an SQL condition that is true when the record
// (gateway, seq, at) in the new* columns is newer than the one in the old*
// columns. The later time wins, unless the gateway's sequence proves the
// stored time wrong: a gateway numbers its records in the order it
// observes them, so its later record dated more than clockSlack before
// its earlier one means the earlier one came from a wrong clock's future,
// and the later record wins. A status dated in the year 2200 thus holds
// only until the printer's next report instead of for ever. Between
// gateways (a printer moved to another Command Center) only the times can
// tell. A row that no gateway set (written before rows kept it) and that
// lies more than clockSlack ahead yields to any record.
func newerRecord(oldGW, oldSeq, oldAt, newGW, newSeq, newAt string) string {
	slack := strconv.FormatInt(int64(clockSlack), 10)
	return `(` + newAt + ` > ` + oldAt + ` OR ` + oldAt + ` - ` + slack + ` > ` + newAt + ` AND (` +
		oldGW + ` = '' OR ` + oldGW + ` = ` + newGW + ` AND ` + newSeq + ` > ` + oldSeq + `))`
}
