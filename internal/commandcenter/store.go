package commandcenter

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/outbox"
	"github.com/fusionfleet/fusionfleet/internal/sitedb"
	"github.com/fusionfleet/fusionfleet/internal/sqlitedb"
)

// Store is the Command Center's SQLite database: the site's printers with
// their pinned certificates, latest state and local history, the log of
// uploads, the update policy and the gateway's credentials, with the
// outbox of records waiting for the cloud (Outbox) in the same file. Safe
// for concurrent use.
type Store struct {
	// db is the one connection that writes: writers queue for it
	// (sitedb.Open). read is a pool of read-only connections, so that
	// reading never waits behind the pollers' writes.
	db, read *sql.DB
	ob       *outbox.Outbox // the outbox, in the same database
	// stmts are the statements of storing a poll, prepared once on db.
	stmts *sqlitedb.Stmts
	// version counts the changes of printer rows made other than by a
	// poller (printersVersion).
	version atomic.Uint64
	// dataVersion is SQLite's data_version of db as last read: it changes
	// when another connection, of another process too, commits
	// (noteOtherWriters).
	dataVersion atomic.Int64

	// live holds, by printer row ID, the latest status of printers whose
	// latest polls were quiet (Poller.quiet): newer than the row's, not
	// written yet. Readers of printers see it (withLive).
	liveMu sync.Mutex
	live   map[int64]liveStatus
}

// liveStatus is a printer's status as a quiet poll saw it at seen.
type liveStatus struct {
	status deviceapi.Status
	seen   time.Time
}

// keepLive keeps status, seen at seen, as printer id's latest, in memory:
// the next written poll of the printer, or Close, writes it.
func (s *Store) keepLive(id int64, status deviceapi.Status, seen time.Time) {
	s.liveMu.Lock()
	defer s.liveMu.Unlock()
	if s.live == nil {
		s.live = map[int64]liveStatus{}
	}
	s.live[id] = liveStatus{status, seen}
}

// withLive returns p with the status a later quiet poll kept in memory.
func (s *Store) withLive(p Printer) Printer {
	s.liveMu.Lock()
	l, ok := s.live[p.ID]
	s.liveMu.Unlock()
	if ok && l.seen.After(p.LastSeen) {
		status := l.status
		p.Status, p.LastSeen = &status, l.seen
	}
	return p
}

// stored notes that a poll of printer id seen at seen was written: a
// status kept in memory from before is older than the row's now.
func (s *Store) stored(id int64, seen time.Time) {
	s.liveMu.Lock()
	defer s.liveMu.Unlock()
	if l, ok := s.live[id]; ok && !l.seen.After(seen) {
		delete(s.live, id)
	}
}

// flushLive writes the statuses kept in memory, each newer than its row's
// (stored).
func (s *Store) flushLive(ctx context.Context) error {
	s.liveMu.Lock()
	live := s.live
	s.live = nil
	s.liveMu.Unlock()
	if len(live) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for id, l := range live {
			b, err := json.Marshal(l.status)
			if err != nil {
				return err
			}
			seen := sqlitedb.FormatTime(l.seen)
			if _, err := tx.ExecContext(ctx, `UPDATE printers SET status = ?, last_seen = ? WHERE id = ?`,
				string(b), seen, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// printersVersion counts the changes of the printers' rows made other than
// by the poller's own polls and log requests: a printer added or re-pinned,
// a poll or failure stored by Observe or MarkFailed. The poller lists the
// printers again, and reads a printer's row again before its next poll,
// only when it changed.
func (s *Store) printersVersion() uint64 { return s.version.Load() }

// noteOtherWriters counts a change of the printers (printersVersion) when
// another process committed to the database since the last call: `fusionfleet
// commandcenter discover` pinning printers while the Command Center runs.
// It costs one pragma on the writer's connection.
func (s *Store) noteOtherWriters(ctx context.Context) error {
	var v int64
	if err := s.db.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&v); err != nil {
		return fmt.Errorf("read the database's data version: %w", err)
	}
	if old := s.dataVersion.Swap(v); old != 0 && old != v {
		s.version.Add(1)
	}
	return nil
}

// Open opens (creating if needed) the database at path and brings its
// schema up to date. The file is readable by its owner only: it holds the
// gateway's private key and the site's job names.
func Open(ctx context.Context, path string) (*Store, error) {
	db, err := sitedb.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	read, err := sitedb.OpenReader(path)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	s := &Store{db: db, read: read, ob: outbox.New(db, read), stmts: sqlitedb.NewStmts(db)}
	if err := errors.Join(s.stmts.Prepare(ctx, pollSQL...), s.ob.Prepare(ctx)); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	return s, nil
}

// Outbox returns the outbox of records bound for the cloud, kept in the
// store's database.
func (s *Store) Outbox() *outbox.Outbox { return s.ob }

// Close closes the database.
// Close writes the statuses of quiet polls kept in memory, then closes the
// database.
func (s *Store) Close() error {
	var flush error
	if err := s.flushLive(context.Background()); err != nil {
		flush = fmt.Errorf("close store: write the latest statuses: %w", err)
	}
	return errors.Join(flush, s.stmts.Close(), s.ob.Close(), s.read.Close(), s.db.Close())
}

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
	// CollectionBadInput: the printer answered, but part of what it sent
	// was refused (garbage, too large, too slow, a cursor going backwards);
	// the rest is collected and the refused part retried.
	CollectionBadInput CollectionState = "bad input"
	// CollectionCertificateChanged: the printer presented a certificate other
	// than the pinned one; collection stopped until Repin (R-SEC-9).
	CollectionCertificateChanged CollectionState = "certificate changed"
	// CollectionNotPaired: the printer refuses this Command Center its
	// private fields (401) until the operator pairs the Command Center's
	// certificate at the printer; retried with backoff, and collection
	// resumes where it stopped once paired.
	CollectionNotPaired CollectionState = "not paired"
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
	// continues; Jobs, Layers and Logs say the same of the other feeds.
	Instance    string                         `json:"instance,omitempty"`
	EventCursor uint64                         `json:"event_cursor"`
	Jobs        FeedPosition                   `json:"jobs_feed"`
	Layers      FeedPosition                   `json:"layers_feed"`
	Logs        map[fleet.LogKind]FeedPosition `json:"logs_feeds,omitempty"`
	// SnapshotAt is when counters and consumables were last read.
	SnapshotAt time.Time `json:"snapshot_at,omitzero"`
	// ResolvedAddress is the IP address (with port) that Address resolved
	// to at the latest poll.
	ResolvedAddress string `json:"resolved_address,omitempty"`

	State       CollectionState `json:"collection_state"`
	StateSince  time.Time       `json:"collection_state_since"`
	LastError   string          `json:"last_error,omitempty"`
	ErrorKind   PollErrorKind   `json:"error_kind,omitempty"` // what kind of failure LastError is
	LastErrorAt time.Time       `json:"last_error_at,omitzero"`
	LastSeen    time.Time       `json:"last_seen,omitzero"`

	// DisplayName is the name the site gave the printer in the local UI
	// (RenamePrinter); "" → the printer's own name. It stays on the site:
	// no record for the cloud carries it.
	DisplayName string `json:"display_name,omitempty"`
	// RetiredAt is when the printer was retired (RetirePrinter): it is not
	// polled, and its history stays. Zero while active.
	RetiredAt time.Time `json:"retired_at,omitzero"`
}

// Retired reports whether the printer was retired: not polled any more.
func (p Printer) Retired() bool { return !p.RetiredAt.IsZero() }

// FeedPosition says where reading one feed of a printer continues: after
// Cursor, within the printer's feed instance Instance ("" before the first
// read).
type FeedPosition struct {
	Instance string `json:"instance,omitempty"`
	Cursor   uint64 `json:"cursor"`
}

const printerColumns = `id, address, fingerprint, pinned_at, added_at, identity, status, instance, event_cursor,
	state, state_since, last_error, last_error_at, last_seen,
	jobs_instance, jobs_cursor, layers_instance, layers_cursor, log_positions, snapshot_at, resolved_address, error_kind,
	display_name, retired_at`

func scanPrinter(row interface{ Scan(...any) error }) (Printer, error) {
	var (
		p                                                                 Printer
		fp, pinned, added, ident, status, state, since, errAt, seen, snap string
		logs, kind, retired                                               string
		cursor, jobsCursor, layersCursor                                  int64
	)
	err := row.Scan(&p.ID, &p.Address, &fp, &pinned, &added, &ident, &status, &p.Instance, &cursor,
		&state, &since, &p.LastError, &errAt, &seen,
		&p.Jobs.Instance, &jobsCursor, &p.Layers.Instance, &layersCursor, &logs, &snap, &p.ResolvedAddress, &kind,
		&p.DisplayName, &retired)
	if err != nil {
		return Printer{}, err
	}
	p.Fingerprint = deviceapi.Fingerprint(fp)
	p.State = CollectionState(state)
	p.ErrorKind = PollErrorKind(kind)
	p.EventCursor = uint64(cursor)
	p.Jobs.Cursor, p.Layers.Cursor = uint64(jobsCursor), uint64(layersCursor)
	var errs []error
	for _, f := range []struct {
		dst *time.Time
		src string
	}{{&p.PinnedAt, pinned}, {&p.AddedAt, added}, {&p.StateSince, since}, {&p.LastErrorAt, errAt}, {&p.LastSeen, seen}, {&p.SnapshotAt, snap}, {&p.RetiredAt, retired}} {
		t, err := sqlitedb.ParseTime(f.src)
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
	if logs != "" && logs != "{}" {
		errs = append(errs, json.Unmarshal([]byte(logs), &p.Logs))
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
	ts := sqlitedb.FormatTime(now)
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
	s.version.Add(1)
	// Paired now: no longer waiting for an operator.
	if _, err := s.db.ExecContext(ctx, `DELETE FROM pending_printers WHERE address = ?`, address); err != nil {
		return Printer{}, fmt.Errorf("add printer %s: %w", address, err)
	}
	return s.printer(ctx, id)
}

// Printers returns every enrolled printer in the order they were added.
func (s *Store) Printers(ctx context.Context) ([]Printer, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+printerColumns+` FROM printers ORDER BY id`)
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
		ps = append(ps, s.withLive(p))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list printers: %w", err)
	}
	return ps, nil
}

// printer returns one printer by row ID.
func (s *Store) printer(ctx context.Context, id int64) (Printer, error) {
	p, err := scanPrinter(s.read.QueryRowContext(ctx, `SELECT `+printerColumns+` FROM printers WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Printer{}, fmt.Errorf("printer %d: %w", id, fleet.ErrNotFound)
	}
	if err != nil {
		return Printer{}, fmt.Errorf("printer %d: %w", id, err)
	}
	return s.withLive(p), nil
}

// Repin replaces the pinned certificate fingerprint of the printer at
// address, after an operator confirmed the printer's new certificate, and
// lets collection resume. An unknown address gives fleet.ErrNotFound.
func (s *Store) Repin(ctx context.Context, address string, fp deviceapi.Fingerprint, now time.Time) error {
	if fp == "" {
		return fmt.Errorf("repin %s: empty fingerprint", address)
	}
	ts := sqlitedb.FormatTime(now)
	defer s.version.Add(1)
	res, err := s.db.ExecContext(ctx, `UPDATE printers SET fingerprint = ?, pinned_at = ?, state = ?, state_since = ?,
		last_error = '', error_kind = '', last_error_at = '' WHERE address = ?`,
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

// Observation is what one successful poll learnt about a printer.
type Observation struct {
	Identity *deviceapi.Identity // nil: unchanged
	Status   deviceapi.Status
	Instance string // events feed
	Cursor   uint64 // events feed
	Jobs     FeedPosition
	Layers   FeedPosition
	Snapshot time.Time // when counters and consumables were read; zero: not this time
	Resolved string
	Seen     time.Time
	// Problem is set when the printer answered but part of what it sent
	// was refused: the printer is marked CollectionBadInput.
	Problem *PollProblem
	History History // what the local UI keeps
	// StateChange says the poll's status record carries a change of the
	// printer's state (stateChanged): the uploader sends it sooner.
	StateChange bool
}

// PollProblem is a refused part of an otherwise successful poll.
type PollProblem struct {
	Kind PollErrorKind
	Msg  string
}

// Observe stores a successful poll, its local history and its records in
// one transaction, so no feed cursor ever moves without the records it
// covers (and the other way round). The poller calls it; the local UI's
// tests use it to set the scene.
func (s *Store) Observe(ctx context.Context, id int64, o Observation, recs []fleet.Record) error {
	defer s.version.Add(1)
	return s.observe(ctx, id, o, recs)
}

// observe is Observe for the poller, which keeps the row it stores.
func (s *Store) observe(ctx context.Context, id int64, o Observation, recs []fleet.Record) error {
	if err := s.inTx(ctx, func(tx *sql.Tx) error { return s.observeTx(ctx, tx, id, o, recs) }); err != nil {
		return fmt.Errorf("store poll of printer %d: %w", id, err)
	}
	return nil
}

// The statements of storing a poll (observeTx, writeHistory, storePolls),
// prepared when the store opens.
const (
	observeSQL = `UPDATE printers SET status = ?, instance = ?, event_cursor = ?,
		jobs_instance = ?, jobs_cursor = ?, layers_instance = ?, layers_cursor = ?,
		snapshot_at = CASE WHEN ? = '' THEN snapshot_at ELSE ? END, resolved_address = ?,
		state_since = CASE WHEN state = ? THEN state_since ELSE ? END, state = ?,
		last_error = ?, error_kind = ?, last_error_at = ?, last_seen = ? WHERE id = ?`
	identitySQL = `UPDATE printers SET identity = ?, printer_id = ?, name = ?, model = ?,
		firmware = ? WHERE id = ?`
	eventSQL = `INSERT INTO events (printer, instance, seq, seen, event) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`
	gapSQL = `INSERT INTO gaps (printer, seen, gap) VALUES (?, ?, ?)`
	jobSQL = `INSERT INTO jobs (printer, job_id, feed_seq, updated, job) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (printer, job_id) DO UPDATE SET feed_seq = excluded.feed_seq, updated = excluded.updated,
		job = excluded.job`
	countersSQL    = `INSERT OR REPLACE INTO counters_history (printer, seen, counters) VALUES (?, ?, ?)`
	consumablesSQL = `INSERT OR REPLACE INTO consumables_history (printer, seen, consumables) VALUES (?, ?, ?)`
	savepointSQL   = `SAVEPOINT poll`
	rollbackToSQL  = `ROLLBACK TO poll`
	releaseSQL     = `RELEASE poll`
)

var pollSQL = []string{observeSQL, identitySQL, eventSQL, gapSQL, jobSQL, countersSQL, consumablesSQL,
	savepointSQL, rollbackToSQL, releaseSQL}

// observeTx is Observe within tx.
func (s *Store) observeTx(ctx context.Context, tx *sql.Tx, id int64, o Observation, recs []fleet.Record) error {
	status, err := json.Marshal(o.Status)
	if err != nil {
		return err
	}
	seen := sqlitedb.FormatTime(o.Seen)
	state, msg, kind, errAt := CollectionOK, "", PollErrorKind(""), ""
	if o.Problem != nil {
		state, msg, kind, errAt = CollectionBadInput, o.Problem.Msg, o.Problem.Kind, seen
	}
	res, err := s.stmts.Exec(ctx, tx, observeSQL,
		string(status), o.Instance, int64(o.Cursor),
		o.Jobs.Instance, int64(o.Jobs.Cursor), o.Layers.Instance, int64(o.Layers.Cursor),
		sqlitedb.FormatTime(o.Snapshot), sqlitedb.FormatTime(o.Snapshot), o.Resolved,
		string(state), seen, string(state), msg, string(kind), errAt, seen, id)
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
		if _, err := s.stmts.Exec(ctx, tx, identitySQL, string(ident), string(o.Identity.PrinterID), o.Identity.Name,
			o.Identity.Model, o.Identity.Firmware, id); err != nil {
			return err
		}
	}
	if err := s.writeHistory(ctx, tx, id, o.Seen, o.History); err != nil {
		return err
	}
	return s.ob.AppendTx(ctx, tx, recs, o.StateChange)
}

// MarkFailed records a failed poll of no particular kind (see markFailure).
func (s *Store) MarkFailed(ctx context.Context, id int64, state CollectionState, msg string, at time.Time) error {
	defer s.version.Add(1)
	return s.markFailure(ctx, id, state, "", msg, at)
}

// markFailure records a failed poll: the collection state, the error, its
// kind and its time. StateSince moves only when the state changes.
func (s *Store) markFailure(ctx context.Context, id int64, state CollectionState, kind PollErrorKind, msg string, at time.Time) error {
	ts := sqlitedb.FormatTime(at)
	_, err := s.db.ExecContext(ctx, `UPDATE printers SET
		state_since = CASE WHEN state = ? THEN state_since ELSE ? END, state = ?,
		last_error = ?, error_kind = ?, last_error_at = ? WHERE id = ?`,
		string(state), ts, string(state), msg, string(kind), ts, id)
	if err != nil {
		return fmt.Errorf("store failure of printer %d: %w", id, err)
	}
	return nil
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
	if err := s.read.QueryRowContext(ctx, `SELECT
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
