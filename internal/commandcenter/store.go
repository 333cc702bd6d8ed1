package commandcenter

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/sqlitedb"
)

//go:embed schema/*.sql
var schemaFS embed.FS

// Store is the Command Center's SQLite database: the site's printers with
// their pinned certificates and latest state, the outbox of records waiting
// for the cloud, and the gateway's credentials. Safe for concurrent use.
type Store struct {
	db *sql.DB
}

// Open opens (creating if needed) the database at path and brings its
// schema up to date. The file is readable by its owner only: it holds the
// gateway's private key and the site's job names.
func Open(ctx context.Context, path string) (*Store, error) {
	schema, err := fs.Sub(schemaFS, "schema")
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	db, err := sqlitedb.Open(ctx, path, schema)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// inTx runs fn in a transaction and commits it, or rolls back on error.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	return sqlitedb.Tx(ctx, s.db, fn)
}

// CollectionState says whether the Command Center can collect from a printer.
type CollectionState string

// The collection states.
const (
	// CollectionNew: added or re-pinned, not yet contacted.
	CollectionNew CollectionState = "new"
	// CollectionOK: the last poll succeeded.
	CollectionOK CollectionState = "ok"
	// CollectionUnreachable: the last poll failed; retried with backoff.
	CollectionUnreachable CollectionState = "unreachable"
	// CollectionCertificateChanged: the printer presented a certificate other
	// than the pinned one; collection stopped until Repin (R-SEC-9).
	CollectionCertificateChanged CollectionState = "certificate changed"
)

// Printer is the Command Center's local view of one printer. It includes
// private names (job, user, host) in Status: it is shown on the site only.
type Printer struct {
	ID          int64                 `json:"id"`
	Address     string                `json:"address"`
	Fingerprint deviceapi.Fingerprint `json:"fingerprint"`
	PinnedAt    time.Time             `json:"pinned_at"`
	AddedAt     time.Time             `json:"added_at"`

	// Identity and Status are nil until the printer was first reached.
	Identity *deviceapi.Identity `json:"identity,omitempty"`
	Status   *deviceapi.Status   `json:"status,omitempty"`

	// Instance and EventCursor say where reading the printer's event feed
	// continues.
	Instance    string `json:"instance,omitempty"`
	EventCursor uint64 `json:"event_cursor"`

	State       CollectionState `json:"collection_state"`
	StateSince  time.Time       `json:"collection_state_since"`
	LastError   string          `json:"last_error,omitempty"`
	LastErrorAt time.Time       `json:"last_error_at,omitzero"`
	LastSeen    time.Time       `json:"last_seen,omitzero"`
}

const printerColumns = `id, address, fingerprint, pinned_at, added_at, identity, status, instance, event_cursor,
	state, state_since, last_error, last_error_at, last_seen`

func scanPrinter(row interface{ Scan(...any) error }) (Printer, error) {
	var (
		p                                                           Printer
		fp, pinned, added, ident, status, state, since, errAt, seen string
		cursor                                                      int64
	)
	err := row.Scan(&p.ID, &p.Address, &fp, &pinned, &added, &ident, &status, &p.Instance, &cursor,
		&state, &since, &p.LastError, &errAt, &seen)
	if err != nil {
		return Printer{}, err
	}
	p.Fingerprint = deviceapi.Fingerprint(fp)
	p.State = CollectionState(state)
	p.EventCursor = uint64(cursor)
	var errs []error
	for _, f := range []struct {
		dst *time.Time
		src string
	}{{&p.PinnedAt, pinned}, {&p.AddedAt, added}, {&p.StateSince, since}, {&p.LastErrorAt, errAt}, {&p.LastSeen, seen}} {
		t, err := parseTime(f.src)
		errs = append(errs, err)
		*f.dst = t
	}
	if ident != "" {
		p.Identity = new(deviceapi.Identity)
		errs = append(errs, json.Unmarshal([]byte(ident), p.Identity))
	}
	if status != "" {
		p.Status = new(deviceapi.Status)
		errs = append(errs, json.Unmarshal([]byte(status), p.Status))
	}
	if err := errors.Join(errs...); err != nil {
		return Printer{}, fmt.Errorf("printer %d (%s): corrupt row: %w", p.ID, p.Address, err)
	}
	return p, nil
}

// AddPrinter enrols the printer at address with the certificate fingerprint
// the operator confirmed. A printer with the same address already enrolled
// gives fleet.ErrConflict.
func (s *Store) AddPrinter(ctx context.Context, address string, fp deviceapi.Fingerprint, now time.Time) (Printer, error) {
	if address == "" || fp == "" {
		return Printer{}, errors.New("add printer: empty address or fingerprint")
	}
	ts := formatTime(now)
	var id int64
	err := s.db.QueryRowContext(ctx, `INSERT INTO printers (address, fingerprint, pinned_at, added_at, state, state_since)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (address) DO NOTHING RETURNING id`,
		address, string(fp), ts, ts, string(CollectionNew), ts).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return Printer{}, fmt.Errorf("add printer %s: %w", address, fleet.ErrConflict)
	}
	if err != nil {
		return Printer{}, fmt.Errorf("add printer %s: %w", address, err)
	}
	return s.printer(ctx, id)
}

// Printers returns every enrolled printer in the order they were added.
func (s *Store) Printers(ctx context.Context) ([]Printer, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+printerColumns+` FROM printers ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list printers: %w", err)
	}
	defer rows.Close()
	var ps []Printer
	for rows.Next() {
		p, err := scanPrinter(rows)
		if err != nil {
			return nil, fmt.Errorf("list printers: %w", err)
		}
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list printers: %w", err)
	}
	return ps, nil
}

// printer returns one printer by row ID.
func (s *Store) printer(ctx context.Context, id int64) (Printer, error) {
	p, err := scanPrinter(s.db.QueryRowContext(ctx, `SELECT `+printerColumns+` FROM printers WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Printer{}, fmt.Errorf("printer %d: %w", id, fleet.ErrNotFound)
	}
	if err != nil {
		return Printer{}, fmt.Errorf("printer %d: %w", id, err)
	}
	return p, nil
}

// Repin replaces the pinned certificate fingerprint of the printer at
// address, after an operator confirmed the printer's new certificate, and
// lets collection resume. An unknown address gives fleet.ErrNotFound.
func (s *Store) Repin(ctx context.Context, address string, fp deviceapi.Fingerprint, now time.Time) error {
	if fp == "" {
		return fmt.Errorf("repin %s: empty fingerprint", address)
	}
	ts := formatTime(now)
	res, err := s.db.ExecContext(ctx, `UPDATE printers SET fingerprint = ?, pinned_at = ?, state = ?, state_since = ?,
		last_error = '', last_error_at = '' WHERE address = ?`,
		string(fp), ts, string(CollectionNew), ts, address)
	if err != nil {
		return fmt.Errorf("repin %s: %w", address, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("repin %s: %w", address, err)
	} else if n == 0 {
		return fmt.Errorf("repin %s: %w", address, fleet.ErrNotFound)
	}
	return nil
}

// observation is what one successful poll learnt about a printer.
type observation struct {
	Identity *deviceapi.Identity // nil: unchanged
	Status   deviceapi.Status
	Instance string
	Cursor   uint64
	Seen     time.Time
}

// observe stores a successful poll and appends its records in one
// transaction, so the event cursor never moves without the records it
// covers (and the other way round).
func (s *Store) observe(ctx context.Context, id int64, o observation, recs []fleet.Record) error {
	status, err := json.Marshal(o.Status)
	if err != nil {
		return fmt.Errorf("store poll of printer %d: %w", id, err)
	}
	seen := formatTime(o.Seen)
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE printers SET status = ?, instance = ?, event_cursor = ?,
			state_since = CASE WHEN state = ? THEN state_since ELSE ? END, state = ?,
			last_error = '', last_error_at = '', last_seen = ? WHERE id = ?`,
			string(status), o.Instance, int64(o.Cursor), string(CollectionOK), seen, string(CollectionOK), seen, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fleet.ErrNotFound
		}
		if o.Identity != nil {
			ident, err := json.Marshal(o.Identity)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE printers SET identity = ?, printer_id = ?, name = ?, model = ?,
				firmware = ? WHERE id = ?`, string(ident), string(o.Identity.PrinterID), o.Identity.Name,
				o.Identity.Model, o.Identity.Firmware, id); err != nil {
				return err
			}
		}
		return appendTx(ctx, tx, recs)
	})
	if err != nil {
		return fmt.Errorf("store poll of printer %d: %w", id, err)
	}
	return nil
}

// markFailed records a failed poll: the collection state, the error and its
// time. StateSince moves only when the state changes.
func (s *Store) markFailed(ctx context.Context, id int64, state CollectionState, msg string, at time.Time) error {
	ts := formatTime(at)
	_, err := s.db.ExecContext(ctx, `UPDATE printers SET
		state_since = CASE WHEN state = ? THEN state_since ELSE ? END, state = ?,
		last_error = ?, last_error_at = ? WHERE id = ?`,
		string(state), ts, string(state), msg, ts, id)
	if err != nil {
		return fmt.Errorf("store failure of printer %d: %w", id, err)
	}
	return nil
}

// Append adds records to the outbox, numbering them with the gateway's
// next sequence numbers in one transaction: either all are stored, durably,
// when Append returns, or none. Sequence numbers are never reused, not even
// after Ack deleted every row. Each record must be valid once numbered.
func (s *Store) Append(ctx context.Context, recs ...fleet.Record) error {
	if len(recs) == 0 {
		return nil
	}
	if err := s.inTx(ctx, func(tx *sql.Tx) error { return appendTx(ctx, tx, recs) }); err != nil {
		return fmt.Errorf("append to outbox: %w", err)
	}
	return nil
}

// appendTx numbers and inserts recs within tx. The first statement is a
// write, so the transaction holds the write lock before it reads next_seq.
func appendTx(ctx context.Context, tx *sql.Tx, recs []fleet.Record) error {
	if len(recs) == 0 {
		return nil
	}
	var end int64 // next_seq after this append
	if err := tx.QueryRowContext(ctx, `UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = 'next_seq'
		RETURNING CAST(value AS INTEGER)`, len(recs)).Scan(&end); err != nil {
		return fmt.Errorf("next sequence number: %w", err)
	}
	seq := uint64(end) - uint64(len(recs))
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO outbox (seq, record, created) VALUES (?, ?, ?)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, r := range recs {
		r.Seq = seq
		if err := r.Validate(); err != nil {
			return err
		}
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("record %d: %w", seq, err)
		}
		if _, err := stmt.ExecContext(ctx, int64(seq), string(b), formatTime(r.Time)); err != nil {
			return fmt.Errorf("record %d: %w", seq, err)
		}
		seq++
	}
	return nil
}

// Pending returns up to limit records not yet acknowledged, oldest first.
func (s *Store) Pending(ctx context.Context, limit int) ([]fleet.Record, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("pending records: limit %d, want > 0", limit)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT seq, record FROM outbox ORDER BY seq LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("pending records: %w", err)
	}
	defer rows.Close()
	var recs []fleet.Record
	for rows.Next() {
		var (
			seq int64
			b   []byte
		)
		if err := rows.Scan(&seq, &b); err != nil {
			return nil, fmt.Errorf("pending records: %w", err)
		}
		r, err := decodeRecord(uint64(seq), b)
		if err != nil {
			return nil, fmt.Errorf("pending records: %w", err)
		}
		recs = append(recs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pending records: %w", err)
	}
	return recs, nil
}

// decodeRecord decodes one outbox row and checks it is the record that was
// stored under seq.
func decodeRecord(seq uint64, b []byte) (fleet.Record, error) {
	var r fleet.Record
	if err := json.Unmarshal(b, &r); err != nil {
		return fleet.Record{}, fmt.Errorf("outbox record %d is corrupt: %w", seq, err)
	}
	if r.Seq != seq {
		return fleet.Record{}, fmt.Errorf("outbox record %d is corrupt: it carries seq %d", seq, r.Seq)
	}
	if err := r.Validate(); err != nil {
		return fleet.Record{}, fmt.Errorf("outbox record %d is corrupt: %w", seq, err)
	}
	return r, nil
}

// Ack deletes every record with Seq <= through: the cloud holds them
// durably. Acknowledging a sequence number never assigned is an error.
func (s *Store) Ack(ctx context.Context, through uint64) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var next int64
		if err := tx.QueryRowContext(ctx, `SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'next_seq'`).Scan(&next); err != nil {
			return err
		}
		if through >= uint64(next) {
			return fmt.Errorf("seq %d was never assigned (last is %d)", through, next-1)
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE seq <= ?`, int64(through))
		return err
	})
	if err != nil {
		return fmt.Errorf("ack through %d: %w", through, err)
	}
	return nil
}

// PendingCount returns how many records wait for the cloud.
func (s *Store) PendingCount(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count pending records: %w", err)
	}
	return n, nil
}

// SaveCredentials stores the gateway's identity after enrolment.
func (s *Store) SaveCredentials(ctx context.Context, id fleet.GatewayID, key ed25519.PrivateKey) error {
	if id == "" || len(key) != ed25519.PrivateKeySize {
		return errors.New("save credentials: want a gateway ID and an Ed25519 private key")
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for k, v := range map[string]string{"gateway_id": string(id), "gateway_key": hex.EncodeToString(key)} {
			if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
				ON CONFLICT (key) DO UPDATE SET value = excluded.value`, k, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	return nil
}

// Credentials returns the gateway's identity; ok is false when the gateway
// is not enrolled yet.
func (s *Store) Credentials(ctx context.Context) (id fleet.GatewayID, key ed25519.PrivateKey, ok bool, err error) {
	var g, k sql.NullString
	if err := s.db.QueryRowContext(ctx, `SELECT
		(SELECT value FROM meta WHERE key = 'gateway_id'),
		(SELECT value FROM meta WHERE key = 'gateway_key')`).Scan(&g, &k); err != nil {
		return "", nil, false, fmt.Errorf("read credentials: %w", err)
	}
	if !g.Valid && !k.Valid {
		return "", nil, false, nil
	}
	b, err := hex.DecodeString(k.String)
	if err != nil || len(b) != ed25519.PrivateKeySize || g.String == "" {
		return "", nil, false, errors.New("read credentials: stored gateway credentials are corrupt")
	}
	key = ed25519.PrivateKey(b)
	if !ed25519.NewKeyFromSeed(key.Seed()).Equal(key) {
		return "", nil, false, errors.New("read credentials: stored private key does not match its public half")
	}
	return fleet.GatewayID(g.String), key, true, nil
}

// UplinkState is what the Command Center knows about its link to the cloud
// (R-ARCH-8: warn when the cloud has not been reached for long).
type UplinkState struct {
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

// UplinkState returns the outcome of the latest uploads.
func (s *Store) UplinkState(ctx context.Context) (UplinkState, error) {
	var ok, msg, at sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT
		(SELECT value FROM meta WHERE key = 'uplink_last_success'),
		(SELECT value FROM meta WHERE key = 'uplink_last_error'),
		(SELECT value FROM meta WHERE key = 'uplink_last_error_at')`).Scan(&ok, &msg, &at)
	if err != nil {
		return UplinkState{}, fmt.Errorf("read uplink state: %w", err)
	}
	var u UplinkState
	var errs []error
	u.LastSuccess, err = parseTime(ok.String)
	errs = append(errs, err)
	u.LastErrorAt, err = parseTime(at.String)
	errs = append(errs, err)
	u.LastError = msg.String
	if err := errors.Join(errs...); err != nil {
		return UplinkState{}, fmt.Errorf("read uplink state: %w", err)
	}
	return u, nil
}

// recordUpload stores the outcome of an upload attempt. A success clears
// the last error.
func (s *Store) recordUpload(ctx context.Context, at time.Time, uploadErr error) error {
	kv := map[string]string{"uplink_last_success": formatTime(at), "uplink_last_error": "", "uplink_last_error_at": ""}
	if uploadErr != nil {
		kv = map[string]string{"uplink_last_error": uploadErr.Error(), "uplink_last_error_at": formatTime(at)}
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for k, v := range kv {
			if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
				ON CONFLICT (key) DO UPDATE SET value = excluded.value`, k, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record upload outcome: %w", err)
	}
	return nil
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad time %q: %w", s, err)
	}
	return t, nil
}
