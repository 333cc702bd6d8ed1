package cloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fusionfleet/fusionfleet/internal/alert"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/ingest"
	"github.com/fusionfleet/fusionfleet/internal/stream"
	"github.com/fusionfleet/fusionfleet/internal/update"
	"github.com/fusionfleet/fusionfleet/internal/updaterepo"
)

// alertsConsumer is the durable JetStream consumer of the alert evaluator.
// Nodes share it, as they share the SQL writer's.
const alertsConsumer = "alerts"

// alertsBatch bounds what the alert evaluator takes from the stream at
// once: the messages of a batch share their reads of rules, printers and
// alerts, and the next batch is fetched while one is evaluated.
var alertsBatch = stream.Batch{Messages: 64, Bytes: 1 << 20}

// newAlerts builds a node's alert evaluator: a durable consumer of the
// stream that evaluates every message's records, a batch at a time, and the periodic sweep
// for offline printers, stalled jobs and quiet faults, as opts say.
// Every alert change is announced to the dashboards of every node (so the
// printer cards show it at once) and handed to n, which may be nil (an
// untyped nil: a nil pointer in the interface would be called). It returns
// the evaluator, for findings computed elsewhere (Report), and a function
// that runs both until ctx is done.
func newAlerts(s *stream.Stream, st alert.SweepStore, n alert.Notifier, opts alert.Options) (*alert.Evaluator, func(ctx context.Context) error) {
	ev := alert.NewEvaluator(st, announcing{s, n}, opts)
	return ev, func(ctx context.Context) error {
		g, ctx := errgroup.WithContext(ctx)
		g.Go(func() error { return s.ConsumeBatches(ctx, alertsConsumer, alertsBatch, ev.HandleBatch) })
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

// updateAlertsEvery is how often a node looks which printers could
// install a newer release (besides right after the repository changed).
const updateAlertsEvery = 10 * time.Minute

// releases is the update repository as the update alerts see it.
type releases interface {
	Releases(ctx context.Context) ([]update.Offer, error)
	Changed() <-chan struct{}
}

// runUpdateAlerts tells organisations of the updates their printers could
// install, through ev's alerts (and so its notifications): every
// updateAlertsEvery and right after the repository appeared or changed,
// until ctx ends.
func runUpdateAlerts(ctx context.Context, rel releases, st alert.VersionStore, ev *alert.Evaluator, logger *slog.Logger) error {
	t := time.NewTicker(updateAlertsEvery)
	defer t.Stop()
	select {
	case <-rel.Changed(): // the first sweep sees it
	default:
	}
	for {
		if err := sweepUpdateAlerts(ctx, rel, st, ev); err != nil && ctx.Err() == nil {
			logger.Warn("update alerts", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-rel.Changed():
		}
	}
}

// sweepUpdateAlerts is one sweep of the update alerts over the releases
// on offer now.
func sweepUpdateAlerts(ctx context.Context, rel releases, st alert.VersionStore, ev *alert.Evaluator) error {
	offers, err := rel.Releases(ctx)
	if err != nil {
		return fmt.Errorf("update alerts: releases: %w", err)
	}
	return ev.SweepUpdates(ctx, st, offeredTo(offers))
}

// offeredTo picks, by the dashboard's rule (update.NewestOffer of the
// installed version), the newest firmware and parameter set of offers
// each printer could install.
func offeredTo(offers []update.Offer) alert.UpdateOffers {
	newest := func(kind update.Kind, model, reported string) *alert.UpdateOffer {
		o := update.NewestOffer(offers, kind, model, update.InstalledVersion(offers, kind, model, reported))
		if o == nil {
			return nil
		}
		return &alert.UpdateOffer{Name: o.DisplayName(), Notes: o.Notes}
	}
	return func(v alert.PrinterVersion) (firmware, parameters *alert.UpdateOffer) {
		return newest(update.KindFirmware, v.Model, v.Firmware), newest(update.KindParameters, v.Model, v.ParameterSet)
	}
}

// storeFailures adapts the store's failure counts per version
// (fleet.VersionQuery) to the rollout controller: alerts of severity error
// or worse count as failures.
type storeFailures struct {
	st interface {
		VersionFailures(ctx context.Context, q fleet.VersionQuery) (fleet.VersionFailures, error)
	}
}

func (s storeFailures) FailureRates(ctx context.Context, kind update.Kind, model, version string, since time.Time) (updaterepo.Rate, updaterepo.Rate, error) {
	f, err := s.st.VersionFailures(ctx, fleet.VersionQuery{Model: model, Version: version,
		ParameterSet: kind == update.KindParameters, Since: since})
	return updaterepo.Rate{Printers: f.Printers, Failing: f.Failing}, updaterepo.Rate{Printers: f.OtherPrinters, Failing: f.OtherFailing}, err
}
