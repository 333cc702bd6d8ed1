package main

import (
	"context"
	"errors"
	"log/slog"

	"golang.org/x/sync/errgroup"

	"github.com/fusionfleet/fusionfleet/internal/alert"
	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/ingest"
	"github.com/fusionfleet/fusionfleet/internal/stream"
)

// alertsConsumer is the durable JetStream consumer of the alert evaluator.
// Cloud nodes share it, as they share the SQL writer's.
const alertsConsumer = "alerts"

// startAlerts builds a cloud node's alert evaluator: a durable consumer
// of the stream that evaluates every message's records, and the periodic
// sweep for offline printers, stalled jobs and quiet faults, timed by clk.
// Every alert change is announced to the dashboards of every node (so the
// printer cards show it at once) and handed to n, which may be nil (an
// untyped nil: a nil pointer in the interface would be called). It returns
// the evaluator, for findings computed elsewhere (Report), and a function
// that runs both until ctx is done.
func startAlerts(s *stream.Stream, st alert.SweepStore, n alert.Notifier, clk clock.Clock, logger *slog.Logger) (*alert.Evaluator, func(ctx context.Context) error) {
	ev := alert.NewEvaluator(st, announcing{s, n}, alert.Options{Logger: logger, Clock: clk})
	return ev, func(ctx context.Context) error {
		g, ctx := errgroup.WithContext(ctx)
		g.Go(func() error { return s.Consume(ctx, alertsConsumer, ev.Handle) })
		g.Go(func() error { return ev.Run(ctx) })
		return g.Wait()
	}
}

// announcing tells the dashboards of an alert change, then next.
type announcing struct {
	changes ingest.Notifier
	next    alert.Notifier
}

func (a announcing) Notify(ctx context.Context, al fleet.Alert) error {
	err := a.changes.Notify(ingest.ChangedSubject, []byte(al.OrgID))
	if a.next != nil {
		err = errors.Join(err, a.next.Notify(ctx, al))
	}
	return err
}
