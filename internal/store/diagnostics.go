package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// The remote diagnostics of printers (R-FEAT-7): the requests, their state
// as the sites report it, and their results in chunks. Every change goes
// through fleet.DiagnosticState.CanMove, in a transaction that locks the
// request's row, so two nodes taking reports of one request apply them one
// after the other.

// maxPendingDiagnostics bounds the requests handed to a site in one answer.
const maxPendingDiagnostics = 20

// maxListedDiagnostics bounds the requests listed for a printer.
const maxListedDiagnostics = 100

const diagColumns = `id, org_id, site_id, printer_id, device_id, kind, logs, window_from, window_to, max_bytes,
	requested_by, requester_org, requester, grant_id, created, expires, state, reason, updated, chunks, size, sha256,
	(SELECT COUNT(*) FROM diagnostic_chunks c WHERE c.diagnostic_id = diagnostics.id)`

// scanDiagnostic reads a row of diagColumns.
func scanDiagnostic(sc interface{ Scan(...any) error }) (fleet.Diagnostic, error) {
	var d fleet.Diagnostic
	var logs string
	var from, to, created, expires, updated int64
	err := sc.Scan(&d.ID, &d.Org, &d.Site, &d.Printer, &d.PrinterID, &d.Kind, &logs, &from, &to, &d.MaxBytes,
		&d.RequestedBy, &d.RequesterOrg, &d.Requester, &d.Grant, &created, &expires, &d.State, &d.Reason, &updated,
		&d.Chunks, &d.Size, &d.SHA256, &d.Received)
	if err != nil {
		return fleet.Diagnostic{}, err
	}
	if logs != "" {
		for _, l := range strings.Split(logs, ",") {
			d.Logs = append(d.Logs, fleet.LogKind(l))
		}
	}
	d.From, d.To, d.Created, d.Expires, d.Updated = fromNanos(from), fromNanos(to), fromNanos(created), fromNanos(expires), fromNanos(updated)
	return d, nil
}

// CreateDiagnostic stores a new request in state requested for printer
// d.Printer of organisation d.Org, and returns it as stored: with the
// printer's site and device ID. d.ID, the requester, the kind, window and
// size come from the caller; the request must validate. An unknown
// printer, or one of another organisation, is fleet.ErrNotFound.
func (d *DB) CreateDiagnostic(ctx context.Context, dg fleet.Diagnostic) (fleet.Diagnostic, error) {
	err := d.tx(ctx, func(tx *txn) error {
		err := tx.QueryRowContext(ctx, `SELECT site_id, device_id FROM printers WHERE org_id = ? AND id = ?`, dg.Org, dg.Printer).
			Scan(&dg.Site, &dg.PrinterID)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("printer %s: %w", dg.Printer, fleet.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if err := dg.DiagnosticRequest.Validate(); err != nil {
			return fmt.Errorf("%w: %w", fleet.ErrRejected, err)
		}
		logs := make([]string, len(dg.Logs))
		for i, l := range dg.Logs {
			logs[i] = string(l)
		}
		dg.State, dg.Updated = fleet.DiagRequested, dg.Created
		_, err = tx.ExecContext(ctx, `INSERT INTO diagnostics (id, org_id, site_id, printer_id, device_id, kind, logs,
			window_from, window_to, max_bytes, requested_by, requester_org, requester, grant_id, created, expires, state, updated)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			dg.ID, dg.Org, dg.Site, dg.Printer, dg.PrinterID, dg.Kind, strings.Join(logs, ","), nanos(dg.From), nanos(dg.To),
			dg.MaxBytes, dg.RequestedBy, dg.RequesterOrg, dg.Requester, dg.Grant, nanos(dg.Created), nanos(dg.Expires),
			dg.State, nanos(dg.Updated))
		return err
	})
	if err != nil {
		return fleet.Diagnostic{}, fmt.Errorf("create diagnostic: %w", err)
	}
	return dg, nil
}

// Diagnostic returns a request of org; another organisation's, or an
// unknown ID, is fleet.ErrNotFound.
func (d *DB) Diagnostic(ctx context.Context, org fleet.OrgID, id fleet.DiagnosticID) (fleet.Diagnostic, error) {
	dg, err := scanDiagnostic(d.db.QueryRowContext(ctx, `SELECT `+diagColumns+` FROM diagnostics WHERE org_id = ? AND id = ?`, org, id))
	if errors.Is(err, sql.ErrNoRows) {
		return fleet.Diagnostic{}, fmt.Errorf("diagnostic %s: %w", id, fleet.ErrNotFound)
	}
	if err != nil {
		return fleet.Diagnostic{}, fmt.Errorf("diagnostic %s: %w", id, err)
	}
	return dg, nil
}

// Diagnostics lists the latest requests for printer p of org, newest
// first.
func (d *DB) Diagnostics(ctx context.Context, org fleet.OrgID, p fleet.PrinterID) ([]fleet.Diagnostic, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+diagColumns+` FROM diagnostics WHERE org_id = ? AND printer_id = ?
		ORDER BY created DESC, id DESC LIMIT ?`, org, p, maxListedDiagnostics)
	if err != nil {
		return nil, fmt.Errorf("diagnostics of %s: %w", p, err)
	}
	defer rows.Close()
	var out []fleet.Diagnostic
	for rows.Next() {
		dg, err := scanDiagnostic(rows)
		if err != nil {
			return nil, fmt.Errorf("diagnostics of %s: %w", p, err)
		}
		out = append(out, dg)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("diagnostics of %s: %w", p, err)
	}
	return out, nil
}

// PendingDiagnostics returns the requests waiting for gateway gw's site,
// oldest first, at most maxPendingDiagnostics. Requests whose time ran out
// by now become expired instead. It is asked at every upload, so it only
// reads (by an index) unless a request waits: most sites have none.
func (d *DB) PendingDiagnostics(ctx context.Context, gw fleet.Gateway, now time.Time) ([]fleet.DiagnosticRequest, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+diagColumns+` FROM diagnostics WHERE site_id = ? AND state = ?
		ORDER BY created, id LIMIT ?`, gw.SiteID, fleet.DiagRequested, maxPendingDiagnostics)
	if err != nil {
		return nil, fmt.Errorf("pending diagnostics: %w", err)
	}
	var out []fleet.DiagnosticRequest
	expired := false
	for rows.Next() {
		dg, err := scanDiagnostic(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("pending diagnostics: %w", err)
		}
		switch {
		case dg.Org != gw.OrgID:
		case !dg.Expires.After(now):
			expired = true
		default:
			out = append(out, dg.DiagnosticRequest)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pending diagnostics: %w", err)
	}
	if expired {
		if err := d.expireDiagnostics(ctx, gw.SiteID, now); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// expireDiagnostics moves the requests of site that waited for it beyond
// their expiry to expired.
func (d *DB) expireDiagnostics(ctx context.Context, site fleet.SiteID, now time.Time) error {
	if _, err := d.db.ExecContext(ctx, `UPDATE diagnostics SET state = ?, reason = ?, updated = ?
		WHERE site_id = ? AND state IN (?, ?) AND expires <= ?`,
		fleet.DiagExpired, "not taken up by the site in time", nanos(now), site, fleet.DiagRequested, fleet.DiagDelivered, nanos(now)); err != nil {
		return fmt.Errorf("expire diagnostics: %w", err)
	}
	return nil
}

// CancelDiagnostic withdraws a request of org that its site has not
// approved yet. A request further along is fleet.ErrConflict.
func (d *DB) CancelDiagnostic(ctx context.Context, org fleet.OrgID, id fleet.DiagnosticID, now time.Time) (fleet.Diagnostic, error) {
	var dg fleet.Diagnostic
	err := d.tx(ctx, func(tx *txn) error {
		var err error
		if dg, err = lockDiagnostic(ctx, tx, d, id, `org_id = ?`, org); err != nil {
			return err
		}
		if !dg.State.CanMove(fleet.DiagCancelled) {
			return fmt.Errorf("diagnostic %s is %s: %w", id, dg.State, fleet.ErrConflict)
		}
		dg.State, dg.Updated = fleet.DiagCancelled, now
		_, err = tx.ExecContext(ctx, `UPDATE diagnostics SET state = ?, updated = ? WHERE id = ?`, dg.State, nanos(now), id)
		return err
	})
	if err != nil {
		return fleet.Diagnostic{}, fmt.Errorf("cancel diagnostic: %w", err)
	}
	return dg, nil
}

// lockDiagnostic reads request id under the condition where (on
// organisation or site) and locks its row until the transaction ends.
func lockDiagnostic(ctx context.Context, tx *txn, d *DB, id fleet.DiagnosticID, where string, scope ...any) (fleet.Diagnostic, error) {
	dg, err := scanDiagnostic(tx.QueryRowContext(ctx, `SELECT `+diagColumns+` FROM diagnostics WHERE `+where+` AND id = ?`+
		d.dialect.forUpdate("FOR UPDATE"), append(scope, id)...))
	if errors.Is(err, sql.ErrNoRows) {
		return fleet.Diagnostic{}, fmt.Errorf("diagnostic %s: %w", id, fleet.ErrNotFound)
	}
	return dg, err
}

// ReportDiagnostic applies what gateway gw reports of a request of its
// site and returns the request as it stands after. A request of another
// site or organisation is fleet.ErrNotFound. A report that is no move from
// the stored state (a replay, a report that crossed a cancellation) changes
// nothing and is no error: the answer shows the state the cloud keeps.
// Done is accepted only with every chunk stored and the result's size and
// SHA-256 matching them, else fleet.ErrConflict; a count of chunks other
// than the one the chunks declared is fleet.ErrConflict too. A request the
// site decides on after its expiry expires instead.
func (d *DB) ReportDiagnostic(ctx context.Context, gw fleet.Gateway, r fleet.DiagnosticReport, now time.Time) (fleet.Diagnostic, error) {
	if err := r.Validate(); err != nil {
		return fleet.Diagnostic{}, fmt.Errorf("report diagnostic: %w: %w", fleet.ErrRejected, err)
	}
	var dg fleet.Diagnostic
	err := d.tx(ctx, func(tx *txn) error {
		var err error
		if dg, err = lockDiagnostic(ctx, tx, d, r.ID, `org_id = ? AND site_id = ?`, gw.OrgID, gw.SiteID); err != nil {
			return err
		}
		if dg.Site != gw.SiteID {
			return fmt.Errorf("diagnostic %s: %w", r.ID, fleet.ErrNotFound)
		}
		if r.Chunks > 0 && dg.Chunks != 0 && dg.Chunks != r.Chunks {
			return fmt.Errorf("diagnostic %s: %d chunks reported, %d declared: %w", r.ID, r.Chunks, dg.Chunks, fleet.ErrConflict)
		}
		if (dg.State == fleet.DiagRequested || dg.State == fleet.DiagDelivered) && !dg.Expires.After(now) {
			// The site took it up too late: it expires, whatever the site says.
			dg.State, dg.Reason, dg.Updated = fleet.DiagExpired, "not taken up by the site in time", now
			_, err = tx.ExecContext(ctx, `UPDATE diagnostics SET state = ?, reason = ?, updated = ? WHERE id = ?`, dg.State, dg.Reason, nanos(now), dg.ID)
			return err
		}
		if !dg.State.CanMove(r.State) {
			return nil
		}
		if r.Chunks > 0 {
			dg.Chunks = r.Chunks
		}
		if r.State == fleet.DiagDone {
			size, sum, err := diagnosticDigest(ctx, tx, dg)
			if err != nil {
				return err
			}
			if size != r.Size || sum != r.SHA256 {
				return fmt.Errorf("diagnostic %s: the stored chunks hold %d bytes with SHA-256 %s, the site reports %d bytes, %s: %w",
					r.ID, size, sum, r.Size, r.SHA256, fleet.ErrConflict)
			}
			dg.Size, dg.SHA256 = size, sum
		}
		dg.State, dg.Reason, dg.Updated = r.State, r.Reason, now
		if r.State == fleet.DiagFailed && dg.Reason == "" {
			dg.Reason = "failed at the site"
		}
		_, err = tx.ExecContext(ctx, `UPDATE diagnostics SET state = ?, reason = ?, updated = ?, chunks = ?, size = ?, sha256 = ? WHERE id = ?`,
			dg.State, dg.Reason, nanos(now), dg.Chunks, dg.Size, dg.SHA256, dg.ID)
		return err
	})
	if err != nil {
		return fleet.Diagnostic{}, fmt.Errorf("report diagnostic: %w", err)
	}
	return dg, nil
}

// diagnosticDigest returns the size and SHA-256 of a request's result from
// its stored chunks, or fleet.ErrConflict while one is missing.
func diagnosticDigest(ctx context.Context, tx *txn, dg fleet.Diagnostic) (int64, string, error) {
	if dg.Chunks == 0 {
		return 0, "", fmt.Errorf("diagnostic %s: no chunks declared: %w", dg.ID, fleet.ErrConflict)
	}
	rows, err := tx.QueryContext(ctx, `SELECT idx, data FROM diagnostic_chunks WHERE diagnostic_id = ? ORDER BY idx`, dg.ID)
	if err != nil {
		return 0, "", err
	}
	defer rows.Close()
	h := sha256.New()
	var size int64
	next := 0
	for rows.Next() {
		var idx int
		var data []byte
		if err := rows.Scan(&idx, &data); err != nil {
			return 0, "", err
		}
		if idx != next {
			return 0, "", fmt.Errorf("diagnostic %s: chunk %d missing: %w", dg.ID, next, fleet.ErrConflict)
		}
		h.Write(data)
		size += int64(len(data))
		next++
	}
	if err := rows.Err(); err != nil {
		return 0, "", err
	}
	if next != dg.Chunks {
		return 0, "", fmt.Errorf("diagnostic %s: %d of %d chunks stored: %w", dg.ID, next, dg.Chunks, fleet.ErrConflict)
	}
	return size, hex.EncodeToString(h.Sum(nil)), nil
}

// PutDiagnosticChunk stores one chunk of a result that gateway gw uploads
// for a request of its site, and returns the request as it stands after
// (uploading, with the chunks received). The request must be approved,
// running or uploading; a chunk sent again with the same bytes, even once
// the request is done, changes nothing. Chunks may come in any order.
// Refused: a request of another site (fleet.ErrNotFound), a request in
// another state, a count of chunks other than the first chunk declared,
// or a chunk of other bytes at a stored index (fleet.ErrConflict), more
// chunks than the request's size allows (fleet.ErrRejected).
func (d *DB) PutDiagnosticChunk(ctx context.Context, gw fleet.Gateway, c fleet.DiagnosticChunkData, now time.Time) (fleet.Diagnostic, error) {
	if err := c.Validate(); err != nil {
		return fleet.Diagnostic{}, fmt.Errorf("diagnostic chunk: %w: %w", fleet.ErrRejected, err)
	}
	var dg fleet.Diagnostic
	err := d.tx(ctx, func(tx *txn) error {
		var err error
		if dg, err = lockDiagnostic(ctx, tx, d, c.ID, `org_id = ? AND site_id = ?`, gw.OrgID, gw.SiteID); err != nil {
			return err
		}
		if dg.Site != gw.SiteID {
			return fmt.Errorf("diagnostic %s: %w", c.ID, fleet.ErrNotFound)
		}
		var stored []byte
		err = tx.QueryRowContext(ctx, `SELECT data FROM diagnostic_chunks WHERE diagnostic_id = ? AND idx = ?`, c.ID, c.Index).Scan(&stored)
		switch {
		case err == nil:
			if string(stored) != string(c.Data) || dg.Chunks != c.Chunks {
				return fmt.Errorf("diagnostic %s: chunk %d sent again with other content: %w", c.ID, c.Index, fleet.ErrConflict)
			}
			return nil // a duplicate
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		switch dg.State {
		case fleet.DiagApproved, fleet.DiagRunning, fleet.DiagUploading:
		default:
			return fmt.Errorf("diagnostic %s is %s, takes no chunks: %w", c.ID, dg.State, fleet.ErrConflict)
		}
		if dg.Chunks != 0 && dg.Chunks != c.Chunks {
			return fmt.Errorf("diagnostic %s: chunk says %d chunks, %d declared: %w", c.ID, c.Chunks, dg.Chunks, fleet.ErrConflict)
		}
		if most := (dg.MaxBytes + fleet.DiagnosticChunk - 1) / fleet.DiagnosticChunk; int64(c.Chunks) > most {
			return fmt.Errorf("diagnostic %s: %d chunks exceed the request's %d bytes: %w", c.ID, c.Chunks, dg.MaxBytes, fleet.ErrRejected)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO diagnostic_chunks (diagnostic_id, idx, data) VALUES (?, ?, ?)`, c.ID, c.Index, c.Data); err != nil {
			return err
		}
		dg.Chunks, dg.State, dg.Updated = c.Chunks, fleet.DiagUploading, now
		dg.Received++
		_, err = tx.ExecContext(ctx, `UPDATE diagnostics SET state = ?, chunks = ?, updated = ? WHERE id = ?`, dg.State, dg.Chunks, nanos(now), dg.ID)
		return err
	})
	if err != nil {
		return fleet.Diagnostic{}, fmt.Errorf("diagnostic chunk: %w", err)
	}
	return dg, nil
}

// DiagnosticResult writes the result of a done request of org to w, chunk
// by chunk. A request not done is fleet.ErrConflict.
func (d *DB) DiagnosticResult(ctx context.Context, org fleet.OrgID, id fleet.DiagnosticID, w io.Writer) error {
	dg, err := d.Diagnostic(ctx, org, id)
	if err != nil {
		return fmt.Errorf("diagnostic result: %w", err)
	}
	if dg.State != fleet.DiagDone {
		return fmt.Errorf("diagnostic result: %s is %s: %w", id, dg.State, fleet.ErrConflict)
	}
	for i := 0; i < dg.Chunks; i++ {
		var data []byte
		if err := d.db.QueryRowContext(ctx, `SELECT data FROM diagnostic_chunks WHERE diagnostic_id = ? AND idx = ?`, id, i).Scan(&data); err != nil {
			return fmt.Errorf("diagnostic result %s chunk %d: %w", id, i, err)
		}
		if _, err := w.Write(data); err != nil {
			return fmt.Errorf("diagnostic result %s: %w", id, err)
		}
	}
	return nil
}
