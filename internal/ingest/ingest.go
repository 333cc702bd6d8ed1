package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// ChangedSubject is the subject on which a writer announces that an
// organisation's data changed; the payload is the organisation ID.
const ChangedSubject = "fleet.changed"

// Store applies envelopes idempotently: a record already applied (same
// gateway and sequence number) is skipped. An error matching
// fleet.ErrRejected means some records were refused for good and the rest
// applied; any other error means nothing was applied. ApplyEnvelopes
// applies several in one transaction, returning each one's count and
// refusals, or an error when nothing was applied.
type Store interface {
	ApplyEnvelope(ctx context.Context, env fleet.Envelope) (applied int, err error)
	ApplyEnvelopes(ctx context.Context, envs []fleet.Envelope) (applied []int, rejected []error, err error)
}

// Notifier announces changes to every cloud node.
type Notifier interface {
	Notify(subject string, data []byte) error
}

// Options tune a Writer. The zero value is ready to use.
type Options struct {
	Logger  *slog.Logger // nil → discard
	Metrics Metrics      // the zero value records nothing
	Clock   clock.Clock  // times store writes; nil → the real clock
}

// Writer is the SQL writer consumer.
type Writer struct {
	store  Store
	notify Notifier
	logger *slog.Logger
	m      Metrics
	clock  clock.Clock
	full   atomic.Bool // the store said it is full, and has taken no write since
}

// NewWriter returns a writer that applies to st and announces on n.
func NewWriter(st Store, n Notifier, opts Options) *Writer {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	return &Writer{store: st, notify: n, logger: opts.Logger.With("component", "ingest"), m: opts.Metrics, clock: opts.Clock}
}

// Handle applies one stream message. It returns nil when the message is
// done with (applied, already applied, or poison — which is logged, since
// retrying cannot help) and an error when it should be redelivered.
func (w *Writer) Handle(ctx context.Context, data []byte) error {
	env, err := fleet.DecodeEnvelope(data)
	if err != nil {
		add(w.m.Poison, 1)
		w.logger.Error("dropping message that can never be applied", "err", err, "bytes", len(data))
		return nil
	}
	start := w.clock.Now()
	applied, err := w.store.ApplyEnvelope(ctx, env)
	w.observe(start)
	return w.done(env, applied, err)
}

// txRecords is about the most records HandleBatch commits in one
// transaction. Many small uploads share one sync to disk; a transaction
// of tens of thousands of rows outgrows SQLite's page cache and is slower
// per row than a few of a few thousand.
const txRecords = 2000

// HandleBatch applies stream messages with few transactions (group
// commits: of up to about txRecords records, in order) and returns nil
// when all are done with, else each one's result as Handle would return
// it. If a transaction fails, each of its messages is applied on its own,
// so that one that cannot be stored now holds up only itself.
func (w *Writer) HandleBatch(ctx context.Context, data [][]byte) []error {
	var errs []error
	var envs []fleet.Envelope
	var msgs []int // the message of each envelope
	records := 0
	flush := func() {
		if len(envs) == 0 {
			return
		}
		if failed := w.applyGroup(ctx, data, envs, msgs); failed != nil {
			if errs == nil {
				errs = make([]error, len(data))
			}
			for i, err := range failed {
				errs[msgs[i]] = err
			}
		}
		envs, msgs, records = envs[:0], msgs[:0], 0
	}
	for i, d := range data {
		env, err := fleet.DecodeEnvelope(d)
		if err != nil {
			add(w.m.Poison, 1)
			w.logger.Error("dropping message that can never be applied", "err", err, "bytes", len(d))
			continue
		}
		if records > 0 && records+len(env.Records) > txRecords {
			flush()
		}
		envs, msgs = append(envs, env), append(msgs, i)
		records += len(env.Records)
	}
	flush()
	if errors.Join(errs...) == nil {
		return nil
	}
	return errs
}

// applyGroup applies envs, decoded from the messages msgs of data, in one
// transaction and returns nil, or each envelope's result as Handle would
// return it.
func (w *Writer) applyGroup(ctx context.Context, data [][]byte, envs []fleet.Envelope, msgs []int) []error {
	start := w.clock.Now()
	applied, rejected, err := w.store.ApplyEnvelopes(ctx, envs)
	w.observe(start)
	if err != nil {
		add(w.m.StoreErrors, 1)
		errs := make([]error, len(envs))
		if len(envs) == 1 {
			w.noteFull(envs[0], err)
			errs[0] = fmt.Errorf("apply envelope from %s: %w", envs[0].GatewayID, err)
			return errs
		}
		w.logger.Warn("group commit failed, applying its messages one by one", "messages", len(envs), "err", err)
		for k, i := range msgs {
			errs[k] = w.Handle(ctx, data[i])
		}
		return errs
	}
	w.noteRoom()
	changed := map[fleet.OrgID]bool{}
	for k, env := range envs {
		w.count(env, applied[k], rejected[k])
		if applied[k] > 0 {
			changed[env.OrgID] = true
		}
	}
	for org := range changed {
		w.announce(org)
	}
	return nil
}

func (w *Writer) observe(start time.Time) {
	if w.m.StoreSeconds != nil {
		w.m.StoreSeconds.Observe(w.clock.Now().Sub(start).Seconds())
	}
}

// done finishes Handle: counts, logs and announces what the store did
// with env, and returns an error if the message should be redelivered.
func (w *Writer) done(env fleet.Envelope, applied int, err error) error {
	if err != nil && !errors.Is(err, fleet.ErrRejected) {
		add(w.m.RecordsApplied, float64(applied))
		add(w.m.StoreErrors, 1)
		w.noteFull(env, err)
		return fmt.Errorf("apply envelope from %s: %w", env.GatewayID, err)
	}
	w.noteRoom()
	w.count(env, applied, err)
	if applied > 0 {
		w.announce(env.OrgID)
	}
	return nil
}

// count counts env's applied records and logs and counts those the store
// refused for good (err matching fleet.ErrRejected): redelivery would
// change nothing.
func (w *Writer) count(env fleet.Envelope, applied int, err error) {
	add(w.m.RecordsApplied, float64(applied))
	if err != nil {
		add(w.m.RecordsRejected, float64(rejectedRecords(err, len(env.Records)-applied)))
		w.logger.Error("records refused by the store", "gateway", env.GatewayID, "err", err)
	}
}

// storeFull reports whether err is a store's "disk full": SQLite's
// SQLITE_FULL (its disk, or the file's cap) or PostgreSQL's disk_full
// (SQLSTATE 53100). Retrying helps only once an operator made room, so
// it is logged as an error, not a warning.
func storeFull(err error) bool {
	var coded interface{ Code() int }
	if errors.As(err, &coded) && coded.Code()&0xff == 13 {
		return true
	}
	var pg interface{ SQLState() string }
	return errors.As(err, &pg) && pg.SQLState() == "53100"
}

// noteFull logs, once until the store takes a write again, that it is
// full, when err says so.
func (w *Writer) noteFull(env fleet.Envelope, err error) {
	if storeFull(err) && w.full.CompareAndSwap(false, true) {
		w.logger.Error("the store is full: records stay in the stream until it has room", "gateway", env.GatewayID, "err", err)
	}
}

// noteRoom logs that a store reported full took a write again.
func (w *Writer) noteRoom() {
	if w.full.CompareAndSwap(true, false) {
		w.logger.Info("the store has room again")
	}
}

// announce tells every node that org's data changed.
func (w *Writer) announce(org fleet.OrgID) {
	if err := w.notify.Notify(ChangedSubject, []byte(org)); err != nil {
		// The data is stored; dashboards catch up on their next refresh.
		w.logger.Warn("announce change", "org", org, "err", err)
	}
}

// rejectedRecords counts the refusals a store reported: one per joined
// error (fleet.RejectedError has one per record), else notApplied.
func rejectedRecords(err error, notApplied int) int {
	if multi, ok := errors.AsType[interface {
		error
		Unwrap() []error
	}](err); ok {
		return len(multi.Unwrap())
	}
	return max(notApplied, 1)
}

// OrgOf decodes a change announcement.
func OrgOf(data []byte) fleet.OrgID { return fleet.OrgID(data) }
