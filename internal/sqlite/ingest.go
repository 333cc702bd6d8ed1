package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
)

// RejectedError reports an envelope, or records of it, that the store
// refused for good: malformed records, or a printer that belongs to another
// organisation. The envelope's other records were committed. Retrying the
// same envelope is pointless: it yields the same rejection and changes
// nothing else.
type RejectedError struct {
	Errs []error // one per refused record (or one for the whole envelope)
}

func (e *RejectedError) Error() string {
	msgs := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		msgs[i] = err.Error()
	}
	return "rejected: " + strings.Join(msgs, "; ")
}

// Unwrap returns the individual rejections.
func (e *RejectedError) Unwrap() []error { return e.Errs }

// Is makes every rejection match fleet.ErrRejected, for callers that must
// not depend on this package.
func (e *RejectedError) Is(target error) bool { return target == fleet.ErrRejected }

// reject marks an error as a permanent rejection of one record.
type reject struct{ err error }

func (r reject) Error() string { return r.err.Error() }

// ApplyEnvelope writes the records of an envelope in one transaction and
// returns how many were new. Records are idempotent by (gateway, seq): one
// already received is skipped, so applying an envelope twice, or envelopes
// that overlap, stores each record once.
//
// Identity records upsert the printer; status records keep only the newest
// status per printer; events and gaps are appended. A record about a printer
// that belongs to another organisation is refused and never moves or
// overwrites the printer (R-SEC-6). Refusals come back as a *RejectedError
// alongside the count of the records that were applied; any other error
// means nothing was written and the call may be retried.
func (d *DB) ApplyEnvelope(ctx context.Context, env uplink.Envelope) (applied int, err error) {
	if env.OrgID == "" || env.SiteID == "" || env.GatewayID == "" {
		return 0, &RejectedError{Errs: []error{errors.New("envelope without org, site or gateway")}}
	}
	var rejects []error
	err = d.tx(ctx, func(tx *sql.Tx) error {
		applied, rejects = 0, nil
		var siteOrg fleet.OrgID
		err := tx.QueryRowContext(ctx, `SELECT org_id FROM sites WHERE id = ?`, env.SiteID).Scan(&siteOrg)
		if errors.Is(err, sql.ErrNoRows) || err == nil && siteOrg != env.OrgID {
			return reject{fmt.Errorf("envelope of gateway %s: site %s is not a site of org %s", env.GatewayID, env.SiteID, env.OrgID)}
		}
		if err != nil {
			return err
		}
		for _, rec := range env.Records {
			dup, err := received(ctx, tx, env.GatewayID, rec.Seq)
			if err != nil {
				return err
			}
			if dup {
				continue
			}
			err = applyRecord(ctx, tx, env, rec)
			var rj reject
			if errors.As(err, &rj) {
				rejects = append(rejects, fmt.Errorf("record %d: %w", rec.Seq, rj.err))
				continue
			}
			if err != nil {
				return fmt.Errorf("record %d: %w", rec.Seq, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO received (gateway_id, seq) VALUES (?, ?)`, env.GatewayID, int64(rec.Seq)); err != nil {
				return fmt.Errorf("record %d: %w", rec.Seq, err)
			}
			applied++
		}
		return nil
	})
	var rj reject
	if errors.As(err, &rj) {
		return 0, &RejectedError{Errs: []error{rj.err}}
	}
	if err != nil {
		return 0, fmt.Errorf("apply envelope of gateway %s: %w", env.GatewayID, err)
	}
	if len(rejects) > 0 {
		return applied, &RejectedError{Errs: rejects}
	}
	return applied, nil
}

// received reports whether (gateway, seq) was applied before. A seq that
// does not fit the column is never stored, so it is not a duplicate.
func received(ctx context.Context, tx *sql.Tx, gw fleet.GatewayID, seq uint64) (bool, error) {
	if seq > math.MaxInt64 {
		return false, nil
	}
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM received WHERE gateway_id = ? AND seq = ?`, gw, int64(seq)).Scan(&n)
	return n > 0, err
}

// applyRecord writes one record. It returns a reject for a record refused
// for good, before writing anything.
func applyRecord(ctx context.Context, tx *sql.Tx, env uplink.Envelope, rec fleet.Record) error {
	if err := rec.Validate(); err != nil {
		return reject{err}
	}
	if rec.Seq > math.MaxInt64 {
		return reject{errors.New("seq too large")}
	}
	if rec.Kind == fleet.KindGap {
		// A gap needs no printer row: it is about the gateway's reading.
		if err := ownedElsewhere(ctx, tx, env.OrgID, rec.PrinterID); err != nil {
			return err
		}
		g := rec.Gap
		if g.FromSeq > math.MaxInt64 || g.ToSeq > math.MaxInt64 {
			return reject{errors.New("gap bounds too large")}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO gaps (gateway_id, record_seq, org_id, printer_id, feed, reason, from_seq, to_seq, time)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, env.GatewayID, int64(rec.Seq), env.OrgID, rec.PrinterID,
			g.Feed, g.Reason, int64(g.FromSeq), int64(g.ToSeq), nanos(rec.Time))
		return err
	}
	if rec.Kind == fleet.KindEvent && rec.Event.Seq > math.MaxInt64 {
		return reject{errors.New("event seq too large")}
	}
	if err := ensurePrinter(ctx, tx, env, rec.PrinterID, rec.Time); err != nil {
		return err
	}
	switch rec.Kind {
	case fleet.KindIdentity:
		id := rec.Identity
		_, err := tx.ExecContext(ctx, `UPDATE printers SET name = ?, model = ?, model_number = ?, serial_number = ?,
			firmware = ?, identity_time = ? WHERE id = ? AND identity_time <= ?`,
			id.Name, id.Model, id.ModelNumber, id.SerialNumber, id.Firmware, nanos(rec.Time), rec.PrinterID, nanos(rec.Time))
		return err
	case fleet.KindStatus:
		s := rec.Status
		_, err := tx.ExecContext(ctx, `INSERT INTO printer_status
			(printer_id, state, activity, job_id, progress, etc_seconds, pending_jobs, time)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (printer_id) DO UPDATE SET state = excluded.state, activity = excluded.activity,
				job_id = excluded.job_id, progress = excluded.progress, etc_seconds = excluded.etc_seconds,
				pending_jobs = excluded.pending_jobs, time = excluded.time
			WHERE excluded.time > printer_status.time`,
			rec.PrinterID, int(s.State), s.Activity, s.JobID, s.Progress, s.ETCSeconds, s.PendingJobs, nanos(s.Time))
		return err
	case fleet.KindEvent:
		e := rec.Event
		_, err := tx.ExecContext(ctx, `INSERT INTO events
			(gateway_id, record_seq, printer_id, seq, code, severity, description, subsystem, firmware, details, time)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			env.GatewayID, int64(rec.Seq), rec.PrinterID, int64(e.Seq), e.Code, int(e.Severity), e.Description,
			e.Subsystem, e.Firmware, e.Details, nanos(e.Time))
		return err
	}
	return reject{fmt.Errorf("unknown kind %q", rec.Kind)}
}

// ownedElsewhere returns a reject if the printer exists in another org.
func ownedElsewhere(ctx context.Context, tx *sql.Tx, org fleet.OrgID, p fleet.PrinterID) error {
	var owner fleet.OrgID
	err := tx.QueryRowContext(ctx, `SELECT org_id FROM printers WHERE id = ?`, p).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if owner != org {
		return reject{fmt.Errorf("printer %s belongs to another organisation: %w", p, fleet.ErrConflict)}
	}
	return nil
}

// ensurePrinter creates the printer row under the envelope's org and site
// if it is unknown, follows a move between sites of the same org, and
// advances last_seen. A printer of another org is a reject.
func ensurePrinter(ctx context.Context, tx *sql.Tx, env uplink.Envelope, p fleet.PrinterID, seen time.Time) error {
	if err := ownedElsewhere(ctx, tx, env.OrgID, p); err != nil {
		return err
	}
	s := nanos(seen)
	_, err := tx.ExecContext(ctx, `INSERT INTO printers (id, org_id, site_id, last_seen) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET site_id = excluded.site_id,
			last_seen = CASE WHEN printers.last_seen < excluded.last_seen THEN excluded.last_seen ELSE printers.last_seen END
		WHERE printers.org_id = excluded.org_id`, p, env.OrgID, env.SiteID, s)
	return err
}
