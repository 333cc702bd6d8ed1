package learn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
)

// TrainerOptions tune a Trainer. The zero value works.
type TrainerOptions struct {
	Clock  clock.Clock   // zero: the real clock
	Every  time.Duration // between retrainings by Clock; zero: a week
	Logger *slog.Logger  // zero: discard
	// Wall and WallGap keep retrainings apart in real time too, where
	// Clock runs fast (a demo): at least WallGap by Wall between two.
	// Zero WallGap: no such limit.
	Wall    clock.Clock
	WallGap time.Duration
	// FirstAfter delays the first retraining by this much real time (by
	// Wall), so a starting node does its other work first; zero: at once.
	FirstAfter time.Duration
	// Versions is the newest version stored before (the next is one
	// more); zero: the version of the model in service, or none.
	Versions int
	// Publish, if set, is called with every decision and the table the
	// candidate was trained on (to store the version and, if promoted,
	// its proposals). An error fails the retraining.
	Publish func(ctx context.Context, d Decision, t Table) error
}

// Trainer retrains the model on a schedule and keeps the one in service:
// a candidate is promoted only if it scores no worse than the model in
// service on the candidate's held-out builds, which neither saw.
type Trainer struct {
	load func(ctx context.Context) ([]Outcome, error)
	opts TrainerOptions

	mu       sync.Mutex
	current  *Model
	versions int
	last     Decision
}

// Decision is the outcome of one retraining.
type Decision struct {
	Candidate *Model
	Promoted  bool
	Reason    string
	// Current is the model in service scored on the candidate's held-out
	// builds (zero when there was none).
	Current Accuracy
}

// NewTrainer returns a trainer that reads the outcomes with load. current
// is the model in service (nil: none).
func NewTrainer(load func(ctx context.Context) ([]Outcome, error), current *Model, opts TrainerOptions) *Trainer {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Every <= 0 {
		opts.Every = 7 * 24 * time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Wall == nil {
		opts.Wall = clock.Real{}
	}
	t := &Trainer{load: load, opts: opts, current: current}
	if current != nil {
		t.versions = current.Version
	}
	t.versions = max(t.versions, opts.Versions)
	return t
}

// Current returns the model in service, nil if none.
func (t *Trainer) Current() *Model {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.current
}

// Last returns the latest retraining's decision.
func (t *Trainer) Last() Decision {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}

// promotionMargin is how much worse (in log loss per part) a candidate may
// score than the model in service and still be promoted: only the noise of
// the arithmetic.
const promotionMargin = 1e-9

// Retrain trains a candidate on the outcomes now and promotes it if it
// scores no worse than the model in service.
func (t *Trainer) Retrain(ctx context.Context) (Decision, error) {
	outs, err := t.load(ctx)
	if err != nil {
		return Decision{}, fmt.Errorf("retrain: %w", err)
	}
	tab := Anonymise(outs)
	t.mu.Lock()
	version := t.versions + 1
	cur := t.current
	t.mu.Unlock()
	cand, err := Train(tab, version, t.opts.Clock.Now())
	if err != nil {
		return Decision{}, fmt.Errorf("retrain: %w", err)
	}
	d := decide(cand, cur, tab)
	if t.opts.Publish != nil {
		if err := t.opts.Publish(ctx, d, tab); err != nil {
			return Decision{}, fmt.Errorf("retrain: publish version %d: %w", version, err)
		}
	}
	t.mu.Lock()
	t.versions = version
	if d.Promoted {
		t.current = cand
	}
	t.last = d
	t.mu.Unlock()
	return d, nil
}

// decide compares a candidate with the model in service on the
// candidate's held-out builds.
func decide(cand, cur *Model, tab Table) Decision {
	d := Decision{Candidate: cand}
	if cur == nil {
		d.Promoted, d.Reason = true, "no model in service"
		return d
	}
	_, held := split(tab.Builds)
	d.Current = cur.Score(held)
	if cand.Held.LogLoss <= d.Current.LogLoss+promotionMargin {
		d.Promoted = true
		d.Reason = fmt.Sprintf("log loss %.4f on %d held-out builds, in service %.4f", cand.Held.LogLoss, cand.Held.Builds, d.Current.LogLoss)
		return d
	}
	d.Reason = fmt.Sprintf("not promoted: log loss %.4f on %d held-out builds, worse than %.4f of version %d in service",
		cand.Held.LogLoss, cand.Held.Builds, d.Current.LogLoss, cur.Version)
	return d
}

// Run retrains after opts.FirstAfter and then every opts.Every by the
// clock, until ctx ends. It looks at the clock once a real minute.
func (t *Trainer) Run(ctx context.Context) error {
	log := t.opts.Logger.With("component", "learn-trainer")
	const look = time.Minute
	var last, lastWall time.Time
	started := t.opts.Wall.Now()
	for {
		now, wall := t.opts.Clock.Now(), t.opts.Wall.Now()
		first := last.IsZero() && wall.Sub(started) >= t.opts.FirstAfter
		if first || !last.IsZero() && now.Sub(last) >= t.opts.Every && wall.Sub(lastWall) >= t.opts.WallGap {
			last, lastWall = now, wall
			d, err := t.Retrain(ctx)
			switch {
			case errors.Is(err, ErrTooLittleData):
				log.Info("quality model not retrained", "reason", err)
			case err != nil && ctx.Err() == nil:
				log.Warn("retraining the quality model failed", "err", err)
			case err == nil:
				log.Info("quality model retrained", "version", d.Candidate.Version, "promoted", d.Promoted, "reason", d.Reason)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(look):
		}
	}
}
