package commandcenter

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
	"github.com/klauspost/compress/zstd"
)

// The outbox holds every record bound for the cloud until the cloud
// acknowledged it. Its policies:
//
//   - Durability. Append returns only once its records are committed with
//     synchronous=FULL. Concurrent Appends are committed together (group
//     commit): one caller leads a transaction for everyone queued, the others
//     wait for its fsync, so a site's printers do not pay one fsync each.
//   - Lanes. Every record has a Lane: alerts and status go ahead of bulk.
//   - Disk budget. The outbox holds at most its budget (DefaultOutboxBudget
//     unless SetOutboxBudget says otherwise) of record bytes. When an append
//     would exceed it, the oldest bulk records are dropped first, then the
//     oldest status records, then the oldest alerts, down to 90 % of the
//     budget; the records being appended are never dropped. Every drop is
//     logged per kind (Drops) and announced to the cloud by a KindGap record
//     per printer (feed "outbox", FromSeq–ToSeq the gateway's sequence
//     numbers dropped).
//   - Disk full. When SQLite cannot write (the disk is full), Append fails
//     with ErrDiskFull and nothing is half-written; OutboxState shows the
//     failure until an append succeeds again.

// Errors an append can fail with.
var (
	// ErrDiskFull: the disk holding the store is full. Nothing was stored.
	ErrDiskFull = errors.New("outbox: the disk is full")
	// ErrOutboxFull: the records of one append alone exceed the disk budget.
	ErrOutboxFull = errors.New("outbox: append exceeds the disk budget")
)

// DefaultOutboxBudget is the outbox's disk budget unless SetOutboxBudget
// sets another: 7 days offline of a 10-printer site in continuous
// production, with a margin. Per printer-hour such a site appends about 400
// layer, 60 status, 20 event, 12 counter, 12 consumable, 2 job and 20 part
// records, about 214 KB with the row overhead (TestDefaultOutboxBudget
// computes it from real records); 10 printers × 168 h × 214 KB ≈ 360 MB,
// which leaves half again for larger records and SQLite's page slack.
const DefaultOutboxBudget int64 = 512 << 20

// rowOverhead is what the budget counts per outbox row beyond the record's
// JSON: the row's other columns, its index entry and page slack.
const rowOverhead = 64

// Lane says how urgently a record must reach the cloud.
type Lane uint8

// The lanes, most urgent first.
const (
	// LaneAlert: events of severity warning or worse, sent at once.
	LaneAlert Lane = iota
	// LaneStatus: status, identity and gap records, sent within seconds.
	LaneStatus
	// LaneBulk: layers, counters, consumables, logs, jobs, parts and
	// informational events, sent in batches.
	LaneBulk
)

var laneNames = [...]string{"alert", "status", "bulk"}

func (l Lane) String() string {
	if int(l) < len(laneNames) {
		return laneNames[l]
	}
	return "Lane(" + strconv.Itoa(int(l)) + ")"
}

// MarshalText encodes the lane by name.
func (l Lane) MarshalText() ([]byte, error) {
	if int(l) >= len(laneNames) {
		return nil, fmt.Errorf("unknown lane %d", l)
	}
	return []byte(laneNames[l]), nil
}

// LaneOf returns the lane r travels in.
func LaneOf(r fleet.Record) Lane {
	switch r.Kind {
	case fleet.KindEvent:
		if r.Event != nil && r.Event.Severity >= fleet.SeverityWarning {
			return LaneAlert
		}
	case fleet.KindStatus, fleet.KindIdentity, fleet.KindGap:
		return LaneStatus
	}
	return LaneBulk
}

// outbox is the Store's in-memory outbox state: the group-commit queue and
// the health of the latest append. Its zero value is ready.
type outbox struct {
	mu      sync.Mutex
	queue   []*appendReq
	leading bool // a caller is committing a group

	healthMu sync.Mutex
	health   OutboxHealth
}

// appendReq is one caller's records waiting for a group commit.
type appendReq struct {
	recs []fleet.Record
	done chan appendResult // buffered: the committer never blocks
}

// appendResult is either the outcome of a request or the order to lead the
// next group.
type appendResult struct {
	err  error
	lead bool
}

// OutboxHealth says whether appends succeed: when the disk is full,
// collection pauses and the local UI shows why.
type OutboxHealth struct {
	Failing     bool      `json:"failing"`
	DiskFull    bool      `json:"disk_full"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

// Append adds records to the outbox, numbering them with the gateway's
// next sequence numbers in one transaction: either all are stored, durably,
// when Append returns, or none. Sequence numbers are never reused, not even
// after Ack deleted every row. Each record must be valid once numbered.
//
// Concurrent calls share transactions (group commit); a call's failure,
// such as an invalid record, fails that call only. Append waits for the
// commit even when ctx is cancelled meanwhile, so that its answer is true.
func (s *Store) Append(ctx context.Context, recs ...fleet.Record) error {
	if len(recs) == 0 {
		return nil
	}
	for i, r := range recs {
		r.Seq = 1 // numbered later; validity does not depend on the number
		if err := r.Validate(); err != nil {
			return fmt.Errorf("append to outbox: record %d of %d: %w", i+1, len(recs), err)
		}
	}
	req := &appendReq{recs: recs, done: make(chan appendResult, 1)}
	s.ob.mu.Lock()
	s.ob.queue = append(s.ob.queue, req)
	lead := !s.ob.leading
	s.ob.leading = true
	s.ob.mu.Unlock()
	if !lead {
		res := <-req.done
		if !res.lead {
			return wrapAppendErr(res.err)
		}
	}
	// Lead one group: everything queued, this request included.
	s.ob.mu.Lock()
	group := s.ob.queue
	s.ob.queue = nil
	s.ob.mu.Unlock()
	s.commitGroup(ctx, group)
	// Hand the lead to the first request queued meanwhile, if any, so that
	// no caller leads for longer than one commit.
	s.ob.mu.Lock()
	if len(s.ob.queue) > 0 {
		s.ob.queue[0].done <- appendResult{lead: true}
	} else {
		s.ob.leading = false
	}
	s.ob.mu.Unlock()
	return wrapAppendErr((<-req.done).err)
}

func wrapAppendErr(err error) error {
	if err != nil {
		return fmt.Errorf("append to outbox: %w", err)
	}
	return nil
}

// commitGroup appends every request of group in one transaction, each in a
// savepoint of its own, and tells each its outcome.
func (s *Store) commitGroup(ctx context.Context, group []*appendReq) {
	// One caller's cancellation must not fail the others' records.
	ctx = context.WithoutCancel(ctx)
	errs := make([]error, len(group))
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for i, req := range group {
			if _, err := tx.ExecContext(ctx, `SAVEPOINT append_req`); err != nil {
				return err
			}
			if err := appendTx(ctx, tx, req.recs); err != nil {
				errs[i] = storageErr(err)
				if _, err := tx.ExecContext(ctx, `ROLLBACK TO append_req`); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, `RELEASE append_req`); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		err = storageErr(err)
		for i := range errs {
			errs[i] = err
		}
	}
	health := err
	for _, e := range errs {
		if health == nil && errors.Is(e, ErrDiskFull) {
			health = e
		}
	}
	s.noteAppend(health, group)
	for i, req := range group {
		req.done <- appendResult{err: errs[i]}
	}
}

// storageErr marks a failure to write as ErrDiskFull when SQLite says the
// disk is full (SQLITE_FULL).
func storageErr(err error) error {
	var coded interface{ Code() int }
	if errors.As(err, &coded) && coded.Code()&0xff == 13 {
		return fmt.Errorf("%w: %w", ErrDiskFull, err)
	}
	return err
}

// noteAppend keeps the health of the latest group commit.
func (s *Store) noteAppend(err error, group []*appendReq) {
	s.ob.healthMu.Lock()
	defer s.ob.healthMu.Unlock()
	if err == nil {
		s.ob.health = OutboxHealth{}
		return
	}
	var at time.Time
	for _, req := range group {
		for _, r := range req.recs {
			at = latest(at, r.Time)
		}
	}
	s.ob.health = OutboxHealth{Failing: true, DiskFull: errors.Is(err, ErrDiskFull), LastError: err.Error(), LastErrorAt: at}
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// appendTx numbers and inserts recs within tx, then keeps the outbox within
// its disk budget. The first statement is a write, so the transaction holds
// the write lock before it reads next_seq.
func appendTx(ctx context.Context, tx *sql.Tx, recs []fleet.Record) error {
	if len(recs) == 0 {
		return nil
	}
	first, added, at, err := insertTx(ctx, tx, recs)
	if err != nil {
		return err
	}
	return enforceBudget(ctx, tx, first, added, at)
}

// insertTx numbers and inserts recs. It returns the first sequence number,
// the bytes added and the latest record time.
func insertTx(ctx context.Context, tx *sql.Tx, recs []fleet.Record) (first uint64, added int64, at time.Time, err error) {
	var end int64 // next_seq after this append
	if err := tx.QueryRowContext(ctx, `UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = 'next_seq'
		RETURNING CAST(value AS INTEGER)`, len(recs)).Scan(&end); err != nil {
		return 0, 0, at, fmt.Errorf("next sequence number: %w", err)
	}
	seq := uint64(end) - uint64(len(recs))
	first = seq
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO outbox (seq, record, created, kind, printer_id, lane, observed, size)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return 0, 0, at, err
	}
	defer stmt.Close()
	for _, r := range recs {
		r.Seq = seq
		if err := r.Validate(); err != nil {
			return 0, 0, at, err
		}
		b, err := json.Marshal(r)
		if err != nil {
			return 0, 0, at, fmt.Errorf("record %d: %w", seq, err)
		}
		size := int64(len(b) + rowOverhead)
		if _, err := stmt.ExecContext(ctx, int64(seq), string(b), formatTime(r.Time), string(r.Kind), string(r.PrinterID),
			int(LaneOf(r)), r.Time.UnixMilli(), size); err != nil {
			return 0, 0, at, fmt.Errorf("record %d: %w", seq, err)
		}
		added += size
		at = latest(at, r.Time)
		seq++
	}
	return first, added, at, nil
}

// outboxBudget returns the disk budget in bytes.
func outboxBudget(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int64, error) {
	var v sql.NullString
	if err := q.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'outbox_budget'`).Scan(&v); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("outbox budget: %w", err)
	}
	if !v.Valid {
		return DefaultOutboxBudget, nil
	}
	n, err := strconv.ParseInt(v.String, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("outbox budget: stored value %q is corrupt", v.String)
	}
	return n, nil
}

// SetOutboxBudget sets the outbox's disk budget in bytes; it applies from
// the next append on.
func (s *Store) SetOutboxBudget(ctx context.Context, bytes int64) error {
	if bytes < 64<<10 {
		return fmt.Errorf("set outbox budget: %d bytes, want at least 64 KiB", bytes)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('outbox_budget', ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, strconv.FormatInt(bytes, 10))
	if err != nil {
		return fmt.Errorf("set outbox budget: %w", err)
	}
	return nil
}

// dropStats sums the records of one kind (or one printer) dropped at once.
type dropStats struct {
	records     int
	bytes       int64
	first, last uint64
	kinds       map[fleet.Kind]int
}

func (d *dropStats) add(seq uint64, size int64, kind fleet.Kind) {
	if d.records == 0 || seq < d.first {
		d.first = seq
	}
	d.last = max(d.last, seq)
	d.records++
	d.bytes += size
	if d.kinds == nil {
		d.kinds = map[fleet.Kind]int{}
	}
	d.kinds[kind]++
}

// enforceBudget drops the oldest records, bulk before status before alerts,
// until the outbox is back to 90 % of its budget, when it exceeds it. The
// records from seq first on were just appended and are kept.
func enforceBudget(ctx context.Context, tx *sql.Tx, first uint64, added int64, at time.Time) error {
	budget, err := outboxBudget(ctx, tx)
	if err != nil {
		return err
	}
	var used int64
	if err := tx.QueryRowContext(ctx, `SELECT bytes FROM outbox_usage WHERE id = 1`).Scan(&used); err != nil {
		return fmt.Errorf("outbox usage: %w", err)
	}
	if used <= budget {
		return nil
	}
	if added > budget*9/10 {
		return fmt.Errorf("%w: %d bytes, the budget is %d", ErrOutboxFull, added, budget)
	}
	target := budget * 9 / 10
	byKind := map[fleet.Kind]*dropStats{}
	byPrinter := map[fleet.PrinterID]*dropStats{}
	del, err := tx.PrepareContext(ctx, `DELETE FROM outbox WHERE seq = ?`)
	if err != nil {
		return err
	}
	defer del.Close()
	for lane := LaneBulk; used > target; lane-- {
		for used > target {
			n, freed, err := dropOldest(ctx, tx, del, lane, first, used-target, byKind, byPrinter)
			if err != nil {
				return fmt.Errorf("drop from the outbox: %w", err)
			}
			used -= freed
			if n == 0 {
				break
			}
		}
		if lane == LaneAlert {
			break
		}
	}
	ts := formatTime(at)
	for _, kind := range slices.Sorted(maps.Keys(byKind)) {
		d := byKind[kind]
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox_drops (at, kind, records, bytes, first_seq, last_seq)
			VALUES (?, ?, ?, ?, ?, ?)`, ts, string(kind), d.records, d.bytes, int64(d.first), int64(d.last)); err != nil {
			return fmt.Errorf("log dropped records: %w", err)
		}
	}
	// Tell the cloud, one gap per printer, in the lane for status.
	var gaps []fleet.Record
	for _, pid := range slices.Sorted(maps.Keys(byPrinter)) {
		if pid.Validate() != nil {
			continue // a row from before printer IDs were stored: logged above
		}
		d := byPrinter[pid]
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(d.kinds)) {
			parts = append(parts, fmt.Sprintf("%d %s", d.kinds[k], k))
		}
		gaps = append(gaps, fleet.Record{Kind: fleet.KindGap, PrinterID: pid, Time: at, Gap: &fleet.Gap{
			Feed: "outbox",
			Reason: fmt.Sprintf("the gateway's outbox ran out of its disk budget: %d records dropped (%s), gateway seqs %d–%d",
				d.records, strings.Join(parts, ", "), d.first, d.last),
			FromSeq: d.first, ToSeq: d.last,
		}})
	}
	if len(gaps) > 0 {
		if _, _, _, err := insertTx(ctx, tx, gaps); err != nil {
			return fmt.Errorf("record the drop: %w", err)
		}
	}
	return nil
}

// dropOldest deletes up to a chunk of the oldest records of lane older than
// seq keep, stopping once need bytes are freed.
func dropOldest(ctx context.Context, tx *sql.Tx, del *sql.Stmt, lane Lane, keep uint64, need int64,
	byKind map[fleet.Kind]*dropStats, byPrinter map[fleet.PrinterID]*dropStats) (n int, freed int64, err error) {
	rows, err := tx.QueryContext(ctx, `SELECT seq, size, kind, printer_id FROM outbox
		WHERE lane = ? AND seq < ? ORDER BY observed, seq LIMIT 512`, int(lane), int64(keep))
	if err != nil {
		return 0, 0, err
	}
	type victim struct {
		seq  int64
		size int64
		kind string
		pid  string
	}
	var vs []victim
	for rows.Next() {
		var v victim
		if err := rows.Scan(&v.seq, &v.size, &v.kind, &v.pid); err != nil {
			rows.Close()
			return 0, 0, err
		}
		vs = append(vs, v)
		if freed += v.size; freed >= need {
			break
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, err
	}
	for _, v := range vs {
		if _, err := del.ExecContext(ctx, v.seq); err != nil {
			return 0, 0, err
		}
		kind, pid := fleet.Kind(v.kind), fleet.PrinterID(v.pid)
		if byKind[kind] == nil {
			byKind[kind] = &dropStats{}
		}
		byKind[kind].add(uint64(v.seq), v.size, kind)
		if byPrinter[pid] == nil {
			byPrinter[pid] = &dropStats{}
		}
		byPrinter[pid].add(uint64(v.seq), v.size, kind)
	}
	return len(vs), freed, nil
}

// Pending returns up to limit records not yet acknowledged nor quarantined,
// oldest first.
func (s *Store) Pending(ctx context.Context, limit int) ([]fleet.Record, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("pending records: limit %d, want > 0", limit)
	}
	return s.queryRecords(ctx, "pending records",
		`SELECT seq, record FROM outbox WHERE quarantine = 0 ORDER BY seq LIMIT ?`, limit)
}

// pendingLane returns up to limit records for one upload, in seq order: the
// priority lanes' records observed since fresh, or for bulk every other
// record (bulk ones and priority ones older than fresh, which ride the
// drain oldest first).
func (s *Store) pendingLane(ctx context.Context, priority bool, fresh time.Time, limit int) ([]fleet.Record, error) {
	if priority {
		return s.queryRecords(ctx, "pending priority records", `SELECT seq, record FROM outbox
			WHERE lane IN (0, 1) AND observed >= ? AND quarantine = 0 ORDER BY seq LIMIT ?`, fresh.UnixMilli(), limit)
	}
	return s.queryRecords(ctx, "pending bulk records", `SELECT seq, record FROM outbox
		WHERE quarantine = 0 AND (lane = 2 OR observed < ?) ORDER BY seq LIMIT ?`, fresh.UnixMilli(), limit)
}

func (s *Store) queryRecords(ctx context.Context, what, query string, args ...any) ([]fleet.Record, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
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

// priorityInfo describes the priority records observed since fresh: how
// many, the oldest's time and whether one is an alert.
func (s *Store) priorityInfo(ctx context.Context, fresh time.Time) (n int, oldest time.Time, alert bool, err error) {
	var minObs, anyAlert sql.NullInt64
	err = s.db.QueryRowContext(ctx, `SELECT COUNT(*), MIN(observed), MIN(lane) FROM outbox
		WHERE lane IN (0, 1) AND observed >= ? AND quarantine = 0`, fresh.UnixMilli()).Scan(&n, &minObs, &anyAlert)
	if err != nil {
		return 0, time.Time{}, false, fmt.Errorf("pending priority records: %w", err)
	}
	if n == 0 {
		return 0, time.Time{}, false, nil
	}
	return n, time.UnixMilli(minObs.Int64), anyAlert.Int64 == int64(LaneAlert), nil
}

// hasBulk reports whether a bulk upload has anything to carry.
func (s *Store) hasBulk(ctx context.Context, fresh time.Time) (bool, error) {
	var seq int64
	err := s.db.QueryRowContext(ctx, `SELECT seq FROM outbox WHERE quarantine = 0 AND (lane = 2 OR observed < ?)
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
// The uploader acknowledges exactly the records it sent (ackSeqs), as a
// priority batch may go ahead of older bulk records.
func (s *Store) Ack(ctx context.Context, through uint64) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
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

// ackSeqs deletes the records with the given sequence numbers: the cloud
// holds them durably. Numbers no longer in the outbox are ignored.
func (s *Store) ackSeqs(ctx context.Context, seqs []uint64) error {
	if len(seqs) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
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
func (s *Store) PendingCount(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE quarantine = 0`).Scan(&n); err != nil {
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

// quarantine sets the records with seqs (in increasing order) aside with
// the reason.
func (s *Store) quarantine(ctx context.Context, seqs []uint64, reason string, at time.Time) (int64, error) {
	var id int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `INSERT INTO outbox_quarantine (at, reason, first_seq, last_seq, records)
			VALUES (?, ?, ?, ?, ?) RETURNING id`, formatTime(at), reason, int64(seqs[0]), int64(seqs[len(seqs)-1]), len(seqs)).Scan(&id); err != nil {
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
func (s *Store) Quarantined(ctx context.Context) ([]Quarantine, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT q.id, q.at, q.reason, q.first_seq, q.last_seq, q.records, q.released_at,
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
		q.At, e1 = parseTime(at)
		q.ReleasedAt, e2 = parseTime(released)
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
func (s *Store) ReleaseQuarantine(ctx context.Context, id int64, now time.Time) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE outbox_quarantine SET released_at = ? WHERE id = ? AND released_at = ''`,
			formatTime(now), id)
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
func (s *Store) Drops(ctx context.Context, limit int) ([]Drop, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("list drops: limit %d, want > 0", limit)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, at, kind, records, bytes, first_seq, last_seq FROM outbox_drops
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
		if d.At, err = parseTime(at); err != nil {
			return nil, fmt.Errorf("list drops: entry %d: %w", d.ID, err)
		}
		ds = append(ds, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list drops: %w", err)
	}
	return ds, nil
}

// OutboxState is the outbox at a glance, for the local UI.
type OutboxState struct {
	Pending        int          `json:"pending"`     // records waiting for the cloud
	Quarantined    int          `json:"quarantined"` // records set aside
	Bytes          int64        `json:"bytes"`       // counted against the budget
	Budget         int64        `json:"budget"`
	Oldest         time.Time    `json:"oldest,omitzero"` // the oldest waiting record's time
	DroppedRecords int64        `json:"dropped_records"`
	Health         OutboxHealth `json:"health"`
}

// OutboxState returns the outbox's depth, disk use and health.
func (s *Store) OutboxState(ctx context.Context) (OutboxState, error) {
	var (
		st     OutboxState
		oldest sql.NullInt64
	)
	err := s.db.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM outbox WHERE quarantine = 0),
		(SELECT COUNT(*) FROM outbox WHERE quarantine != 0),
		(SELECT bytes FROM outbox_usage WHERE id = 1),
		(SELECT MIN(observed) FROM outbox WHERE quarantine = 0),
		(SELECT COALESCE(SUM(records), 0) FROM outbox_drops)`).Scan(&st.Pending, &st.Quarantined, &st.Bytes, &oldest, &st.DroppedRecords)
	if err != nil {
		return OutboxState{}, fmt.Errorf("outbox state: %w", err)
	}
	if oldest.Valid {
		st.Oldest = time.UnixMilli(oldest.Int64).UTC()
	}
	if st.Budget, err = outboxBudget(ctx, s.db); err != nil {
		return OutboxState{}, fmt.Errorf("outbox state: %w", err)
	}
	s.ob.healthMu.Lock()
	st.Health = s.ob.health
	s.ob.healthMu.Unlock()
	return st, nil
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

// UploadOutcome says what came of an upload attempt.
type UploadOutcome string

// The outcomes of an upload.
const (
	// UploadAcknowledged: the cloud holds the batch (or the part of it it
	// acknowledged) durably.
	UploadAcknowledged UploadOutcome = "acknowledged"
	// UploadFailed: the batch did not get through; it is sent again later.
	UploadFailed UploadOutcome = "failed"
	// UploadQuarantined: the cloud refused the batch for its content; its
	// records are kept aside (Quarantined).
	UploadQuarantined UploadOutcome = "quarantined"
	// UploadSplit: the cloud found the batch too large; it is sent again in
	// smaller batches.
	UploadSplit UploadOutcome = "split"
)

// UploadEntry is one upload attempt in the log of what was sent (R-PRIV-5).
type UploadEntry struct {
	ID       int64              `json:"id"`
	At       time.Time          `json:"at"`
	Priority bool               `json:"priority"` // the alert and status lane, not bulk
	Outcome  UploadOutcome      `json:"outcome"`
	Error    string             `json:"error,omitempty"`
	Records  int                `json:"records"`
	Kinds    map[fleet.Kind]int `json:"kinds"`
	FirstSeq uint64             `json:"first_seq"`
	LastSeq  uint64             `json:"last_seq"`
	// BodyBytes is the compressed body; WireBytes the estimated TCP payload
	// of the whole exchange, TLS handshake and answer included.
	BodyBytes int `json:"body_bytes"`
	WireBytes int `json:"wire_bytes"`
	// HasPayload says whether Upload can show the payload: it is kept for
	// uploads the cloud acknowledged or refused, not for failed attempts
	// (the same records go out again).
	HasPayload bool `json:"has_payload"`
}

// UploadDetail is one upload with its payload.
type UploadDetail struct {
	UploadEntry
	// Payload is the batch's JSON exactly as it was compressed and sent;
	// nil when HasPayload is false.
	Payload json.RawMessage `json:"payload,omitempty"`
	Batch   uplink.Batch    `json:"-"`
}

// maxPayloadBytes bounds a stored payload once decompressed: the cloud
// refuses larger batches anyway.
const maxPayloadBytes = 64 << 20

// logUpload adds an attempt to the upload log with its compressed payload
// (nil: none) and keeps the newest keep entries.
func (s *Store) logUpload(ctx context.Context, e UploadEntry, payload []byte, keep int) (int64, error) {
	kinds, err := json.Marshal(e.Kinds)
	if err != nil {
		return 0, fmt.Errorf("log upload: %w", err)
	}
	lane := LaneBulk
	if e.Priority {
		lane = LaneStatus
	}
	var id int64
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `INSERT INTO uploads (at, at_ms, lane, outcome, error, records, kinds,
			first_seq, last_seq, body_bytes, wire_bytes, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			formatTime(e.At), e.At.UnixMilli(), int(lane), string(e.Outcome), e.Error, e.Records, string(kinds),
			int64(e.FirstSeq), int64(e.LastSeq), e.BodyBytes, e.WireBytes, payload).Scan(&id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM uploads WHERE id <= ?`, id-int64(keep))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("log upload: %w", err)
	}
	return id, nil
}

const uploadColumns = `id, at, lane, outcome, error, records, kinds, first_seq, last_seq, body_bytes, wire_bytes`

func scanUpload(row interface{ Scan(...any) error }, extra ...any) (UploadEntry, error) {
	var (
		e                  UploadEntry
		at, outcome, kinds string
		lane               int
		first, last        int64
	)
	err := row.Scan(append([]any{&e.ID, &at, &lane, &outcome, &e.Error, &e.Records, &kinds, &first, &last,
		&e.BodyBytes, &e.WireBytes}, extra...)...)
	if err != nil {
		return UploadEntry{}, err
	}
	e.Priority, e.Outcome, e.FirstSeq, e.LastSeq = lane != int(LaneBulk), UploadOutcome(outcome), uint64(first), uint64(last)
	e1 := json.Unmarshal([]byte(kinds), &e.Kinds)
	var e2 error
	e.At, e2 = parseTime(at)
	if err := errors.Join(e1, e2); err != nil {
		return UploadEntry{}, fmt.Errorf("upload %d: corrupt entry: %w", e.ID, err)
	}
	return e, nil
}

// Uploads lists up to limit upload attempts, newest first.
func (s *Store) Uploads(ctx context.Context, limit int) ([]UploadEntry, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("list uploads: limit %d, want > 0", limit)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+uploadColumns+`, payload IS NOT NULL FROM uploads ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("list uploads: %w", err)
	}
	defer rows.Close()
	var es []UploadEntry
	for rows.Next() {
		var has bool
		e, err := scanUpload(rows, &has)
		if err != nil {
			return nil, fmt.Errorf("list uploads: %w", err)
		}
		e.HasPayload = has
		es = append(es, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list uploads: %w", err)
	}
	return es, nil
}

// Upload returns one upload attempt with its decoded payload. An unknown
// id gives fleet.ErrNotFound.
func (s *Store) Upload(ctx context.Context, id int64) (UploadDetail, error) {
	var payload []byte
	e, err := scanUpload(s.db.QueryRowContext(ctx, `SELECT `+uploadColumns+`, payload FROM uploads WHERE id = ?`, id), &payload)
	if errors.Is(err, sql.ErrNoRows) {
		return UploadDetail{}, fmt.Errorf("upload %d: %w", id, fleet.ErrNotFound)
	}
	if err != nil {
		return UploadDetail{}, fmt.Errorf("upload %d: %w", id, err)
	}
	d := UploadDetail{UploadEntry: e}
	if payload == nil {
		return d, nil
	}
	d.HasPayload = true
	if d.Payload, d.Batch, err = decodePayload(payload); err != nil {
		return UploadDetail{}, fmt.Errorf("upload %d: %w", id, err)
	}
	return d, nil
}

// decodePayload decompresses a stored payload and decodes its batch.
func decodePayload(b []byte) (json.RawMessage, uplink.Batch, error) {
	zd, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxPayloadBytes))
	if err != nil {
		return nil, uplink.Batch{}, err
	}
	defer zd.Close()
	raw, err := zd.DecodeAll(b, nil)
	if err != nil {
		return nil, uplink.Batch{}, fmt.Errorf("stored payload is corrupt: %w", err)
	}
	var batch uplink.Batch
	if err := json.Unmarshal(raw, &batch); err != nil {
		return nil, uplink.Batch{}, fmt.Errorf("stored payload is corrupt: %w", err)
	}
	return raw, batch, nil
}

// Bandwidth is the uplink's use of the site's link: TCP payload both ways,
// TLS handshakes included, as estimated per upload.
type Bandwidth struct {
	Current float64 `json:"current_bps"` // bits per second over the last minute
	Hour    float64 `json:"hour_bps"`    // bits per second over the last hour
	Average float64 `json:"average_bps"` // bits per second over the last 24 hours
}

// Bandwidth returns the uplink bandwidth as of now, from the upload log.
func (s *Store) Bandwidth(ctx context.Context, now time.Time) (Bandwidth, error) {
	ms := now.UnixMilli()
	var minute, hour, day int64
	err := s.db.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(CASE WHEN at_ms > ? THEN wire_bytes END), 0),
		COALESCE(SUM(CASE WHEN at_ms > ? THEN wire_bytes END), 0),
		COALESCE(SUM(wire_bytes), 0)
		FROM uploads WHERE at_ms > ? AND at_ms <= ?`,
		ms-time.Minute.Milliseconds(), ms-time.Hour.Milliseconds(), ms-(24*time.Hour).Milliseconds(), ms).Scan(&minute, &hour, &day)
	if err != nil {
		return Bandwidth{}, fmt.Errorf("uplink bandwidth: %w", err)
	}
	return Bandwidth{Current: float64(minute*8) / 60, Hour: float64(hour*8) / 3600, Average: float64(day*8) / 86400}, nil
}
