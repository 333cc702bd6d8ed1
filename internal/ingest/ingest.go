package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// ChangedSubject is the subject on which a writer announces that an
// organisation's data changed; the payload is the organisation ID.
const ChangedSubject = "fleet.changed"

// Store applies envelopes idempotently: a record already applied (same
// gateway and sequence number) is skipped. An error matching
// fleet.ErrRejected means some records were refused for good and the rest
// applied; any other error means nothing was applied.
type Store interface {
	ApplyEnvelope(ctx context.Context, env fleet.Envelope) (applied int, err error)
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
	if w.m.StoreSeconds != nil {
		w.m.StoreSeconds.Observe(w.clock.Now().Sub(start).Seconds())
	}
	add(w.m.RecordsApplied, float64(applied))
	switch {
	case errors.Is(err, fleet.ErrRejected):
		// The store refused some records for good and kept the rest:
		// redelivery would change nothing.
		add(w.m.RecordsRejected, float64(rejectedRecords(err, len(env.Records)-applied)))
		w.logger.Error("records refused by the store", "gateway", env.GatewayID, "err", err)
	case err != nil:
		add(w.m.StoreErrors, 1)
		return fmt.Errorf("apply envelope from %s: %w", env.GatewayID, err)
	}
	if applied > 0 {
		if err := w.notify.Notify(ChangedSubject, []byte(env.OrgID)); err != nil {
			// The data is stored; dashboards catch up on their next refresh.
			w.logger.Warn("announce change", "org", env.OrgID, "err", err)
		}
	}
	return nil
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
