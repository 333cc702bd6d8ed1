package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/sqlitedb"
)

// Pending returns up to limit records not yet acknowledged nor quarantined,
// oldest first.
func (o *Outbox) Pending(ctx context.Context, limit int) ([]fleet.Record, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("pending records: limit %d, want > 0", limit)
	}
	return o.queryRecords(ctx, "pending records",
		`SELECT seq, record FROM outbox WHERE quarantine = 0 ORDER BY seq LIMIT ?`, limit)
}

// PendingLane returns up to limit records for one upload, in seq order: the
// priority lanes' records observed since fresh, or for bulk every other
// record (bulk ones and priority ones older than fresh, which ride the
// drain oldest first).
func (o *Outbox) PendingLane(ctx context.Context, priority bool, fresh time.Time, limit int) ([]fleet.Record, error) {
	if priority {
		return o.queryRecords(ctx, "pending priority records", `SELECT seq, record FROM outbox
			WHERE lane IN (0, 1) AND observed >= ? AND quarantine = 0 ORDER BY seq LIMIT ?`, fresh.UnixMilli(), limit)
	}
	return o.queryRecords(ctx, "pending bulk records", `SELECT seq, record FROM outbox
		WHERE quarantine = 0 AND (lane = 2 OR observed < ?) ORDER BY seq LIMIT ?`, fresh.UnixMilli(), limit)
}

func (o *Outbox) queryRecords(ctx context.Context, what, query string, args ...any) ([]fleet.Record, error) {
	rows, err := o.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var recs []fleet.Record
	for rows.Next() {
		var (
			seq int64
			b   []byte
		)
		if err := rows.Scan(&seq, &b); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		r, err := decodeRecord(uint64(seq), b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		recs = append(recs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return recs, nil
}

// Waiting describes the priority records waiting for an upload.
type Waiting struct {
	N      int       // how many
	Oldest time.Time // the oldest's time; zero when N is 0
	Alert  bool      // one is an alert
	// OldestChange is the time of the oldest status record appended as a
	// state change (AppendTx); zero: none is waiting.
	OldestChange time.Time
}

// Priority describes the priority records observed since fresh.
func (o *Outbox) Priority(ctx context.Context, fresh time.Time) (Waiting, error) {
	var (
		n                          int
		minObs, minLane, minChange sql.NullInt64
	)
	err := o.read.QueryRowContext(ctx, `SELECT COUNT(*), MIN(observed), MIN(lane),
		MIN(CASE WHEN state_change = 1 THEN observed END) FROM outbox
		WHERE lane IN (0, 1) AND observed >= ? AND quarantine = 0`, fresh.UnixMilli()).Scan(&n, &minObs, &minLane, &minChange)
	if err != nil {
		return Waiting{}, fmt.Errorf("pending priority records: %w", err)
	}
	if n == 0 {
		return Waiting{}, nil
	}
	w := Waiting{N: n, Oldest: time.UnixMilli(minObs.Int64), Alert: minLane.Int64 == int64(LaneAlert)}
	if minChange.Valid {
		w.OldestChange = time.UnixMilli(minChange.Int64)
	}
	return w, nil
}

// HasBulk reports whether a bulk upload has anything to carry.
func (o *Outbox) HasBulk(ctx context.Context, fresh time.Time) (bool, error) {
	var seq int64
	err := o.read.QueryRowContext(ctx, `SELECT seq FROM outbox WHERE quarantine = 0 AND (lane = 2 OR observed < ?)
		ORDER BY seq LIMIT 1`, fresh.UnixMilli()).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("pending bulk records: %w", err)
	}
	return true, nil
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
// The uploader acknowledges exactly the records it sent (AckSeqs), as a
// priority batch may go ahead of older bulk records.
func (o *Outbox) Ack(ctx context.Context, through uint64) error {
	err := sqlitedb.Tx(ctx, o.db, func(tx *sql.Tx) error {
		if err := checkAssigned(ctx, tx, through); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE seq <= ?`, int64(through))
		return err
	})
	if err != nil {
		return fmt.Errorf("ack through %d: %w", through, err)
	}
	return nil
}

func checkAssigned(ctx context.Context, tx *sql.Tx, seq uint64) error {
	var next int64
	if err := tx.QueryRowContext(ctx, `SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'next_seq'`).Scan(&next); err != nil {
		return err
	}
	if seq >= uint64(next) {
		return fmt.Errorf("seq %d was never assigned (last is %d)", seq, next-1)
	}
	return nil
}

// AckSeqs deletes the records with the given sequence numbers: the cloud
// holds them durably. Numbers no longer in the outbox are ignored.
func (o *Outbox) AckSeqs(ctx context.Context, seqs []uint64) error {
	if len(seqs) == 0 {
		return nil
	}
	err := sqlitedb.Tx(ctx, o.db, func(tx *sql.Tx) error {
		if err := checkAssigned(ctx, tx, slices.Max(seqs)); err != nil {
			return err
		}
		return execEach(ctx, tx, `DELETE FROM outbox WHERE seq = ?`, seqs)
	})
	if err != nil {
		return fmt.Errorf("ack %d records: %w", len(seqs), err)
	}
	return nil
}

func execEach(ctx context.Context, tx *sql.Tx, query string, seqs []uint64, args ...any) error {
	stmt, err := tx.PrepareContext(ctx, query)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, seq := range seqs {
		if _, err := stmt.ExecContext(ctx, append(slices.Clone(args), int64(seq))...); err != nil {
			return err
		}
	}
	return nil
}

// PendingCount returns how many records wait for the cloud (quarantined
// ones do not wait).
func (o *Outbox) PendingCount(ctx context.Context) (int, error) {
	var n int
	if err := o.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE quarantine = 0`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count pending records: %w", err)
	}
	return n, nil
}

// Quarantine is a batch the cloud refused for its content (a 4xx answer
// other than authentication or rate limits): its records are kept, not
// retried, until an operator releases them.
type Quarantine struct {
	ID       int64     `json:"id"`
	At       time.Time `json:"at"`
	Reason   string    `json:"reason"`
	FirstSeq uint64    `json:"first_seq"`
	LastSeq  uint64    `json:"last_seq"`
	Records  int       `json:"records"`
	// Held is how many of the records are still in the outbox (the disk
	// budget may have dropped some).
	Held       int       `json:"held"`
	ReleasedAt time.Time `json:"released_at,omitzero"`
}

// SetAside quarantines the records with seqs (in increasing order) aside with
// the reason.
func (o *Outbox) SetAside(ctx context.Context, seqs []uint64, reason string, at time.Time) (int64, error) {
	var id int64
	err := sqlitedb.Tx(ctx, o.db, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `INSERT INTO outbox_quarantine (at, reason, first_seq, last_seq, records)
			VALUES (?, ?, ?, ?, ?) RETURNING id`, sqlitedb.FormatTime(at), reason, int64(seqs[0]), int64(seqs[len(seqs)-1]), len(seqs)).Scan(&id); err != nil {
			return err
		}
		return execEach(ctx, tx, `UPDATE outbox SET quarantine = ? WHERE seq = ?`, seqs, id)
	})
	if err != nil {
		return 0, fmt.Errorf("quarantine records %d–%d: %w", seqs[0], seqs[len(seqs)-1], err)
	}
	return id, nil
}

// Quarantined lists the quarantined batches, newest first.
func (o *Outbox) Quarantined(ctx context.Context) ([]Quarantine, error) {
	rows, err := o.read.QueryContext(ctx, `SELECT q.id, q.at, q.reason, q.first_seq, q.last_seq, q.records, q.released_at,
		(SELECT COUNT(*) FROM outbox o WHERE o.quarantine = q.id) FROM outbox_quarantine q ORDER BY q.id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	defer rows.Close()
	var qs []Quarantine
	for rows.Next() {
		var (
			q            Quarantine
			at, released string
			first, last  int64
		)
		if err := rows.Scan(&q.ID, &at, &q.Reason, &first, &last, &q.Records, &released, &q.Held); err != nil {
			return nil, fmt.Errorf("list quarantine: %w", err)
		}
		q.FirstSeq, q.LastSeq = uint64(first), uint64(last)
		var e1, e2 error
		q.At, e1 = sqlitedb.ParseTime(at)
		q.ReleasedAt, e2 = sqlitedb.ParseTime(released)
		if err := errors.Join(e1, e2); err != nil {
			return nil, fmt.Errorf("list quarantine: entry %d: %w", q.ID, err)
		}
		qs = append(qs, q)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	return qs, nil
}

// ReleaseQuarantine puts a quarantined batch's records back in line, after
// the operator fixed the cause (or the cloud was updated). An unknown or
// already released batch gives fleet.ErrNotFound.
func (o *Outbox) ReleaseQuarantine(ctx context.Context, id int64, now time.Time) error {
	err := sqlitedb.Tx(ctx, o.db, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE outbox_quarantine SET released_at = ? WHERE id = ? AND released_at = ''`,
			sqlitedb.FormatTime(now), id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fleet.ErrNotFound
		}
		_, err = tx.ExecContext(ctx, `UPDATE outbox SET quarantine = 0 WHERE quarantine = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("release quarantined batch %d: %w", id, err)
	}
	return nil
}

// Drop is one kind of records dropped at once because the outbox ran out
// of its disk budget.
type Drop struct {
	ID       int64      `json:"id"`
	At       time.Time  `json:"at"`
	Kind     fleet.Kind `json:"kind"`
	Records  int        `json:"records"`
	Bytes    int64      `json:"bytes"`
	FirstSeq uint64     `json:"first_seq"` // the lowest gateway seq dropped
	LastSeq  uint64     `json:"last_seq"`  // the highest
}

// Drops lists up to limit drops, newest first.
func (o *Outbox) Drops(ctx context.Context, limit int) ([]Drop, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("list drops: limit %d, want > 0", limit)
	}
	rows, err := o.read.QueryContext(ctx, `SELECT id, at, kind, records, bytes, first_seq, last_seq FROM outbox_drops
		ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("list drops: %w", err)
	}
	defer rows.Close()
	var ds []Drop
	for rows.Next() {
		var (
			d           Drop
			at, kind    string
			first, last int64
		)
		if err := rows.Scan(&d.ID, &at, &kind, &d.Records, &d.Bytes, &first, &last); err != nil {
			return nil, fmt.Errorf("list drops: %w", err)
		}
		d.Kind, d.FirstSeq, d.LastSeq = fleet.Kind(kind), uint64(first), uint64(last)
		if d.At, err = sqlitedb.ParseTime(at); err != nil {
			return nil, fmt.Errorf("list drops: entry %d: %w", d.ID, err)
		}
		ds = append(ds, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list drops: %w", err)
	}
	return ds, nil
}

// State is the outbox at a glance, for the local UI and the metrics.
type State struct {
	Pending        int       `json:"pending"`     // records waiting for the cloud
	Quarantined    int       `json:"quarantined"` // records set aside
	Bytes          int64     `json:"bytes"`       // counted against the budget
	Budget         int64     `json:"budget"`
	Oldest         time.Time `json:"oldest,omitzero"` // the oldest waiting record's time
	DroppedRecords int64     `json:"dropped_records"`
	Health         Health    `json:"health"`
}

// State returns the outbox's depth, disk use and health.
func (o *Outbox) State(ctx context.Context) (State, error) {
	var (
		st     State
		oldest sql.NullInt64
	)
	err := o.read.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM outbox WHERE quarantine = 0),
		(SELECT COUNT(*) FROM outbox WHERE quarantine != 0),
		(SELECT bytes FROM outbox_usage WHERE id = 1),
		(SELECT MIN(observed) FROM outbox WHERE quarantine = 0),
		(SELECT COALESCE(SUM(records), 0) FROM outbox_drops)`).Scan(&st.Pending, &st.Quarantined, &st.Bytes, &oldest, &st.DroppedRecords)
	if err != nil {
		return State{}, fmt.Errorf("outbox state: %w", err)
	}
	if oldest.Valid {
		st.Oldest = time.UnixMilli(oldest.Int64).UTC()
	}
	if st.Budget, err = budget(ctx, o.db); err != nil {
		return State{}, fmt.Errorf("outbox state: %w", err)
	}
	o.healthMu.Lock()
	st.Health = o.health
	o.healthMu.Unlock()
	return st, nil
}
