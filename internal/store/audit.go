package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/audit"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// maxAuditField bounds each text field of an audit entry: a typed login
// name or a route's target IDs, never a document.
const maxAuditField = 2048

// Record appends e to its organisation's audit chain (audit.SystemOrg for
// the operator's). Appends to one chain queue on its head's row, so the
// chain has no gaps and no forks whichever nodes append.
func (d *DB) Record(ctx context.Context, e audit.Event) error {
	if err := d.tx(ctx, func(tx *txn) error { return recordAudit(ctx, tx, e) }); err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	return nil
}

// recordAudit appends e within tx.
func recordAudit(ctx context.Context, tx *txn, e audit.Event) error {
	if e.Action == "" || e.Time.IsZero() {
		return errors.New("an audit event needs an action and a time")
	}
	for _, f := range []string{string(e.Org), string(e.ActorOrg), string(e.Actor), e.Name, e.Action, e.Target, e.Grant, e.Detail} {
		if len(f) > maxAuditField {
			return fmt.Errorf("an audit field of %d bytes is longer than %d", len(f), maxAuditField)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_heads (org_id, seq, hash) VALUES (?, 0, '') ON CONFLICT (org_id) DO NOTHING`, e.Org); err != nil {
		return err
	}
	lock := "" // SQLite's write transactions run one at a time anyway
	if tx.dialect.kind == postgres {
		lock = " FOR UPDATE"
	}
	h := audit.Head{Org: e.Org}
	if err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_heads WHERE org_id = ?`+lock, e.Org).Scan(&h.Seq, &h.Hash); err != nil {
		return err
	}
	x := audit.Chain(h, e)
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log (org_id, seq, time, actor_org, actor, name, action, target, grant_id, detail, prev, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, x.Org, x.Seq, x.Time.UnixNano(), x.ActorOrg, x.Actor, x.Name, x.Action,
		x.Target, x.Grant, x.Detail, x.Prev, x.Hash); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE audit_heads SET seq = ?, hash = ? WHERE org_id = ?`, x.Seq, x.Hash, x.Org)
	return err
}

const auditCols = `org_id, seq, time, actor_org, actor, name, action, target, grant_id, detail, prev, hash`

// AuditEntries calls fn with org's entries that f selects, newest first,
// streaming: fn's error stops the walk and is returned.
func (d *DB) AuditEntries(ctx context.Context, org fleet.OrgID, f audit.Filter, fn func(audit.Entry) error) error {
	q := `SELECT ` + auditCols + ` FROM audit_log WHERE org_id = ?`
	args := []any{org}
	if !f.From.IsZero() {
		q += ` AND time >= ?`
		args = append(args, f.From.UnixNano())
	}
	if !f.To.IsZero() {
		q += ` AND time < ?`
		args = append(args, f.To.UnixNano())
	}
	switch {
	case f.Action == "":
	case f.Action[len(f.Action)-1] == '.':
		q += ` AND substr(action, 1, ?) = ?`
		args = append(args, len(f.Action), f.Action)
	default:
		q += ` AND action = ?`
		args = append(args, f.Action)
	}
	if f.Actor != "" {
		q += ` AND (actor = ? OR name = ?)`
		args = append(args, f.Actor, f.Actor)
	}
	if f.Before > 0 {
		q += ` AND seq < ?`
		args = append(args, f.Before)
	}
	q += ` ORDER BY seq DESC`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	if err := eachAudit(ctx, d.db, q, args, fn); err != nil {
		return fmt.Errorf("audit log of %s: %w", org, err)
	}
	return nil
}

// eachAudit runs q on db and calls fn with each entry it yields.
func eachAudit(ctx context.Context, db querier, q string, args []any, fn func(audit.Entry) error) error {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var x audit.Entry
		var t int64
		if err := rows.Scan(&x.Org, &x.Seq, &t, &x.ActorOrg, &x.Actor, &x.Name, &x.Action, &x.Target, &x.Grant,
			&x.Detail, &x.Prev, &x.Hash); err != nil {
			return err
		}
		x.Time = time.Unix(0, t).UTC()
		if err := fn(x); err != nil {
			return err
		}
	}
	return rows.Err()
}

// AuditHead returns the stored head of org's chain; nil for an
// organisation with no audit log.
func (d *DB) AuditHead(ctx context.Context, org fleet.OrgID) (*audit.Head, error) {
	return auditHead(ctx, d.db, org)
}

func auditHead(ctx context.Context, db querier, org fleet.OrgID) (*audit.Head, error) {
	h := audit.Head{Org: org}
	rows, err := db.QueryContext(ctx, `SELECT seq, hash FROM audit_heads WHERE org_id = ?`, org)
	if err != nil {
		return nil, fmt.Errorf("audit head of %s: %w", org, err)
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	if err := rows.Scan(&h.Seq, &h.Hash); err != nil {
		return nil, fmt.Errorf("audit head of %s: %w", org, err)
	}
	return &h, nil
}

// VerifyAudit checks org's chain from its first entry to its stored head
// and against anchors (heads kept from earlier checks; others' are
// ignored). It returns the chain's head as found and every problem.
//
// The head and the entries are read in one snapshot, so appends that
// other nodes make meanwhile are not mistaken for tampering.
func (d *DB) VerifyAudit(ctx context.Context, org fleet.OrgID, anchors []audit.Head) (audit.Head, []audit.Problem, error) {
	v := audit.NewVerifier(org, anchors)
	var problems []audit.Problem
	err := d.snapshot(ctx, func(tx *txn) error {
		stored, err := auditHead(ctx, tx, org)
		if err != nil {
			return err
		}
		err = eachAudit(ctx, tx, `SELECT `+auditCols+` FROM audit_log WHERE org_id = ? ORDER BY seq`, []any{org},
			func(x audit.Entry) error { v.Add(x); return nil })
		problems = v.Finish(stored)
		return err
	})
	if err != nil {
		return audit.Head{}, nil, fmt.Errorf("verify audit log of %s: %w", org, err)
	}
	return v.Head(), problems, nil
}

// snapshot runs fn in a read-only transaction whose reads all see one
// state of the database: PostgreSQL's repeatable read; on SQLite a
// deferred transaction, whose reads (in WAL mode) see the database as at
// its first read while writers go on beside it.
func (d *DB) snapshot(ctx context.Context, fn func(*txn) error) error {
	c, err := d.db.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	// Read-only: on SQLite a deferred transaction (the driver begins
	// IMMEDIATE otherwise, taking the write lock for the whole read), whose
	// snapshot starts at its first read; on PostgreSQL repeatable read.
	opts := &sql.TxOptions{ReadOnly: true}
	if d.dialect.kind == postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := c.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(&txn{tx: tx, conn: c, dialect: d.dialect, db: d.db.db})
}

// AuditOrgs lists every organisation that has an audit chain, or had one
// (a stored head, or entries), the operator's first.
func (d *DB) AuditOrgs(ctx context.Context) ([]fleet.OrgID, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT org_id FROM audit_heads UNION SELECT DISTINCT org_id FROM audit_log ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("audit organisations: %w", err)
	}
	defer rows.Close()
	var out []fleet.OrgID
	for rows.Next() {
		var o fleet.OrgID
		if err := rows.Scan(&o); err != nil {
			return nil, fmt.Errorf("audit organisations: %w", err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}
