package retention

import (
	"context"
	"log/slog"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
)

const day = 24 * time.Hour

// MinReceived is the shortest time a store remembers that it applied a
// record, counted from the record's observation time. A gateway holds
// unacknowledged records through an outage of up to 30 days and then sends
// them; the stream keeps an accepted message up to 7 days and may deliver it
// again within that time (its own dedupe window is minutes). A record can
// therefore arrive again until 37 days after it was observed; one more day
// absorbs clock skew between gateway and cloud.
const MinReceived = 38 * day

// Retention is how long each kind of data is kept. A zero field takes its
// default (see Default).
type Retention struct {
	Layers   time.Duration // per-layer data of jobs
	Logs     time.Duration // device log lines
	Events   time.Duration // events, alerts and gaps
	Jobs     time.Duration // jobs and their parts
	History  time.Duration // counter and consumable snapshots
	Received time.Duration // the idempotency record; never below MinReceived
}

// Default returns the default retention.
func Default() Retention {
	return Retention{
		Layers:   90 * day,
		Logs:     30 * day,
		Events:   365 * day,
		Jobs:     5 * 365 * day,
		History:  2 * 365 * day,
		Received: 45 * day,
	}
}

// WithDefaults returns r with zero or negative fields set to their
// defaults and Received raised to at least MinReceived.
func (r Retention) WithDefaults() Retention {
	d := Default()
	for _, f := range []struct{ v, def *time.Duration }{
		{&r.Layers, &d.Layers}, {&r.Logs, &d.Logs}, {&r.Events, &d.Events},
		{&r.Jobs, &d.Jobs}, {&r.History, &d.History}, {&r.Received, &d.Received},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	r.Received = max(r.Received, MinReceived)
	return r
}

// Pruner removes data older than the retention allows, as of now, and
// reports how many rows (or partitions) it removed per kind.
type Pruner interface {
	Prune(ctx context.Context, now time.Time, r Retention) (map[string]int64, error)
}

// Run prunes s at once and then every interval (an interval <= 0 is one
// hour) until ctx is done, when it returns nil. A failed prune is logged
// and tried again at the next tick: retention is never urgent.
func Run(ctx context.Context, s Pruner, every time.Duration, r Retention, clk clock.Clock, logger *slog.Logger) error {
	if every <= 0 {
		every = time.Hour
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "retention")
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		removed, err := s.Prune(ctx, clk.Now(), r)
		// What went is said even when the prune failed or was cut short
		// by the end of ctx: the rows of the chunks it committed are gone.
		attrs := []any{}
		for kind, n := range removed {
			if n > 0 {
				attrs = append(attrs, kind, n)
			}
		}
		if len(attrs) > 0 {
			logger.Info("pruned", attrs...)
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			logger.Warn("prune failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
