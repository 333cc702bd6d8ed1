// Package outbox is the gateway's durable queue of records bound for the
// cloud: every record is numbered with the gateway's own sequence (never
// reused), committed durably before Append returns (concurrent appends share
// one transaction: group commit), sorted into lanes by urgency, kept within
// a disk budget by a documented drop policy, and deleted only once the
// cloud acknowledged it. A batch the cloud refuses for its content is set
// aside (quarantined) until an operator releases it.
//
// The outbox lives in the Command Center's SQLite database (package
// sitedb), beside the site's local state: AppendTx appends within a
// caller's transaction, so that a printer's feed cursor never moves without
// the records it covers.
package outbox

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
	"github.com/fusionfleet/fusionfleet/internal/sqlitedb"
)

// Policies of the outbox:
//
//   - Durability. Append returns only once its records are committed with
//     synchronous=FULL. Concurrent Appends are committed together (group
//     commit): one caller leads a transaction for everyone queued, the others
//     wait for its fsync, so a site's printers do not pay one fsync each.
//   - Lanes. Every record has a Lane: alerts and status go ahead of bulk.
//     A status record appended as a state change (AppendTx) is marked so,
//     and Priority reports the oldest such mark: the uploader sends a
//     printer's change of state sooner than its routine status.
//   - Disk budget. The outbox holds at most its budget (DefaultBudget
//     unless SetBudget says otherwise) of record bytes. When an append
//     would exceed it, the oldest bulk records are dropped first, then the
//     oldest status records, then the oldest alerts, down to 90 % of the
//     budget; the records being appended are never dropped. Every drop is
//     logged per kind (Drops) and announced to the cloud by a KindGap record
//     per printer (feed "outbox", FromSeq–ToSeq the gateway's sequence
//     numbers dropped).
//   - Disk full. When SQLite cannot write (the disk is full), Append fails
//     with ErrDiskFull and nothing is half-written; State shows the
//     failure until an append (or a write reported to Stored) succeeds
//     again.

// Errors an append can fail with.
var (
	// ErrDiskFull: the disk holding the database is full. Nothing was stored.
	ErrDiskFull = errors.New("outbox: the disk is full")
	// ErrFull: the records of one append alone exceed the disk budget.
	ErrFull = errors.New("outbox: append exceeds the disk budget")
)

// DefaultBudget is the outbox's disk budget unless SetBudget
// sets another: 7 days offline of a 10-printer site in continuous
// production, with a margin. Per printer-hour such a site appends about 400
// layer, 60 status, 20 event, 12 counter, 12 consumable, 2 job and 20 part
// records, about 214 KB with the row overhead (TestDefaultBudget
// computes it from real records); 10 printers × 168 h × 214 KB ≈ 360 MB,
// which leaves half again for larger records and SQLite's page slack.
const DefaultBudget int64 = 512 << 20

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

// Outbox is the queue over the outbox tables of a site database (opened
// by sitedb.Open). It keeps in memory the group-commit queue and the
// health of the latest write. Safe for concurrent use.
type Outbox struct {
	// db is the site database's one writing connection; read, a pool of
	// read-only connections (sitedb.OpenReader), so that reading the
	// queue never waits behind the writers.
	db, read *sql.DB
	// stmts are the statements of an append, prepared once (Prepare).
	stmts *sqlitedb.Stmts

	mu      sync.Mutex
	queue   []*appendReq
	leading bool // a caller is committing a group

	healthMu sync.Mutex
	health   Health
}

// New returns the outbox in db, read through read; nil → through db.
func New(db, read *sql.DB) *Outbox {
	if read == nil {
		read = db
	}
	return &Outbox{db: db, read: read, stmts: sqlitedb.NewStmts(db)}
}

// The statements of every append.
const (
	nextSeqSQL = `UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = 'next_seq'
		RETURNING CAST(value AS INTEGER)`
	insertSQL = `INSERT INTO outbox (seq, record, created, kind, printer_id, lane, observed, size, state_change)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	budgetSQL = `SELECT value FROM meta WHERE key = 'outbox_budget'`
	usageSQL  = `SELECT bytes FROM outbox_usage WHERE id = 1`
	// budgetUsageSQL reads both in one statement, as every append does.
	budgetUsageSQL = `SELECT (` + budgetSQL + `), (` + usageSQL + `)`
)

// Prepare prepares the statements of an append once, so that appends
// within callers' transactions (AppendTx) reuse them. Append prepares them
// by itself; a caller of AppendTx calls Prepare first, outside any
// transaction of the database (see sqlitedb.Stmts). Without it AppendTx
// works, only slower.
func (o *Outbox) Prepare(ctx context.Context) error {
	if err := o.stmts.Prepare(ctx, nextSeqSQL, insertSQL, budgetSQL, budgetUsageSQL); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

// Close closes the prepared statements (not the database).
func (o *Outbox) Close() error { return o.stmts.Close() }

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

// Health says whether appends succeed: when the disk is full,
// collection pauses and the local UI shows why.
type Health struct {
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
func (o *Outbox) Append(ctx context.Context, recs ...fleet.Record) error {
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
	o.mu.Lock()
	o.queue = append(o.queue, req)
	lead := !o.leading
	o.leading = true
	o.mu.Unlock()
	if !lead {
		res := <-req.done
		if !res.lead {
			return wrapAppendErr(res.err)
		}
	}
	// Lead one group: everything queued, this request included.
	o.mu.Lock()
	group := o.queue
	o.queue = nil
	o.mu.Unlock()
	o.commitGroup(ctx, group)
	// Hand the lead to the first request queued meanwhile, if any, so that
	// no caller leads for longer than one commit.
	o.mu.Lock()
	if len(o.queue) > 0 {
		o.queue[0].done <- appendResult{lead: true}
	} else {
		o.leading = false
	}
	o.mu.Unlock()
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
func (o *Outbox) commitGroup(ctx context.Context, group []*appendReq) {
	// One caller's cancellation must not fail the others' records.
	ctx = context.WithoutCancel(ctx)
	errs := make([]error, len(group))
	// Unprepared, appends still work: the error shows in the transaction.
	_ = o.Prepare(ctx)
	err := sqlitedb.Tx(ctx, o.db, func(tx *sql.Tx) error {
		for i, req := range group {
			if _, err := tx.ExecContext(ctx, `SAVEPOINT append_req`); err != nil {
				return err
			}
			if err := o.AppendTx(ctx, tx, req.recs, false); err != nil {
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
	o.noteAppend(health, group)
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

// Stored takes the outcome of a caller's transaction that appended with
// AppendTx (at: when its data was collected) and returns err, marked
// ErrDiskFull when the disk is full. The health follows: a full disk marks
// it failing, a success clears it (the disk took a write); other failures
// belong to the caller, not the disk, and leave it as it was.
func (o *Outbox) Stored(err error, at time.Time) error {
	err = storageErr(err)
	o.healthMu.Lock()
	defer o.healthMu.Unlock()
	switch {
	case err == nil:
		o.health = Health{}
	case errors.Is(err, ErrDiskFull):
		o.health = Health{Failing: true, DiskFull: true, LastError: err.Error(), LastErrorAt: at}
	}
	return err
}

// noteAppend keeps the health of the latest group commit.
func (o *Outbox) noteAppend(err error, group []*appendReq) {
	o.healthMu.Lock()
	defer o.healthMu.Unlock()
	if err == nil {
		o.health = Health{}
		return
	}
	var at time.Time
	for _, req := range group {
		for _, r := range req.recs {
			at = latest(at, r.Time)
		}
	}
	o.health = Health{Failing: true, DiskFull: errors.Is(err, ErrDiskFull), LastError: err.Error(), LastErrorAt: at}
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// AppendTx numbers and inserts recs within tx, a transaction on the
// outbox's database, then keeps the outbox within its disk budget: the
// records are committed with whatever else tx writes, or not at all. The
// first statement is a write, so the transaction holds the write lock
// before it reads next_seq. A caller reports the outcome of its commit to
// Stored, so that the health shows a full disk. stateChange says that the
// status records among recs carry a change of their printer's state (a
// state or job other than the printer's previous status record's), which
// the caller, knowing that previous record, decides.
func (o *Outbox) AppendTx(ctx context.Context, tx *sql.Tx, recs []fleet.Record, stateChange bool) error {
	if len(recs) == 0 {
		return nil
	}
	first, added, at, err := o.insertTx(ctx, tx, recs, stateChange)
	if err != nil {
		return err
	}
	return o.enforceBudget(ctx, tx, first, added, at)
}

// insertTx numbers and inserts recs. It returns the first sequence number,
// the bytes added and the latest record time.
func (o *Outbox) insertTx(ctx context.Context, tx *sql.Tx, recs []fleet.Record, stateChange bool) (first uint64, added int64, at time.Time, err error) {
	var end int64 // next_seq after this append
	if err := o.stmts.QueryRow(ctx, tx, nextSeqSQL, []any{len(recs)}, &end); err != nil {
		return 0, 0, at, fmt.Errorf("next sequence number: %w", err)
	}
	seq := uint64(end) - uint64(len(recs))
	first = seq
	stmt, err := o.stmts.Tx(ctx, tx, insertSQL)
	if err != nil {
		return 0, 0, at, err
	}
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
		if _, err := stmt.ExecContext(ctx, int64(seq), string(b), sqlitedb.FormatTime(r.Time), string(r.Kind), string(r.PrinterID),
			int(LaneOf(r)), r.Time.UnixMilli(), size, stateChange && r.Kind == fleet.KindStatus); err != nil {
			return 0, 0, at, fmt.Errorf("record %d: %w", seq, err)
		}
		added += size
		at = latest(at, r.Time)
		seq++
	}
	return first, added, at, nil
}

// outboxBudget returns the disk budget in bytes.
func budget(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int64, error) {
	var v sql.NullString
	if err := q.QueryRowContext(ctx, budgetSQL).Scan(&v); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("outbox budget: %w", err)
	}
	return parseBudget(v)
}

// parseBudget reads the stored budget, DefaultBudget when none is stored.
func parseBudget(v sql.NullString) (int64, error) {
	if !v.Valid {
		return DefaultBudget, nil
	}
	n, err := strconv.ParseInt(v.String, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("outbox budget: stored value %q is corrupt", v.String)
	}
	return n, nil
}

// SetBudget sets the outbox's disk budget in bytes; it applies from
// the next append on.
func (o *Outbox) SetBudget(ctx context.Context, bytes int64) error {
	if bytes < 64<<10 {
		return fmt.Errorf("set outbox budget: %d bytes, want at least 64 KiB", bytes)
	}
	_, err := o.db.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('outbox_budget', ?)
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
func (o *Outbox) enforceBudget(ctx context.Context, tx *sql.Tx, first uint64, added int64, at time.Time) error {
	var v sql.NullString
	var usage sql.NullInt64
	if err := o.stmts.QueryRow(ctx, tx, budgetUsageSQL, nil, &v, &usage); err != nil {
		return fmt.Errorf("outbox budget and usage: %w", err)
	}
	budget, err := parseBudget(v)
	if err != nil {
		return err
	}
	if !usage.Valid {
		return fmt.Errorf("outbox usage: %w", sql.ErrNoRows)
	}
	used := usage.Int64
	if used <= budget {
		return nil
	}
	if added > budget*9/10 {
		return fmt.Errorf("%w: %d bytes, the budget is %d", ErrFull, added, budget)
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
	ts := sqlitedb.FormatTime(at)
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
		if _, _, _, err := o.insertTx(ctx, tx, gaps, false); err != nil {
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
