package maintenance

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
)

// HistoryReader is what Replay reads of the cloud store.
type HistoryReader interface {
	CountersHistory(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time) ([]fleet.Counters, error)
	ConsumablesHistory(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time) ([]fleet.Consumables, error)
	Events(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time, limit int) ([]fleet.Event, error)
}

// JobReader is what Replay reads of a printer's jobs, when the history
// reader has them: the material and print mode covariates.
type JobReader interface {
	Jobs(ctx context.Context, org fleet.OrgID, f fleetquery.JobFilter) ([]fleetquery.PrinterJob, error)
}

// jobLookback is how long before a replay's start it looks for the job
// printing then: longer than any build and its queue.
const jobLookback = 3 * 24 * time.Hour

// Replay feeds a printer's stored history in [from, to) to t in time
// order: counters, consumables, its newest events (at most
// fleetquery.MaxLimit; a failure older than those is not matched) and,
// when h is also a JobReader, its started jobs.
func Replay(ctx context.Context, h HistoryReader, t *Tracker, org fleet.OrgID, p fleet.PrinterID, from, to time.Time) error {
	ctrs, err := h.CountersHistory(ctx, org, p, from, to)
	if err != nil {
		return fmt.Errorf("replay %s: %w", p, err)
	}
	cons, err := h.ConsumablesHistory(ctx, org, p, from, to)
	if err != nil {
		return fmt.Errorf("replay %s: %w", p, err)
	}
	evs, err := h.Events(ctx, org, p, from, to, fleetquery.MaxLimit)
	if err != nil {
		return fmt.Errorf("replay %s: %w", p, err)
	}
	var jobs []fleetquery.PrinterJob
	if jr, ok := h.(JobReader); ok {
		// A job is stored by its creation and runs later: look back far
		// enough to see the one printing at from. Taking a job twice does
		// no harm.
		jobs, err = jr.Jobs(ctx, org, fleetquery.JobFilter{PrinterID: p, From: from.Add(-jobLookback), To: to, Limit: fleetquery.MaxLimit})
		if err != nil {
			return fmt.Errorf("replay %s: %w", p, err)
		}
	}
	recs := make([]fleet.Record, 0, len(ctrs)+len(cons)+len(evs)+len(jobs))
	for i := range jobs {
		if j := &jobs[i].Job; !j.StartedAt.IsZero() {
			recs = append(recs, fleet.Record{Kind: fleet.KindJob, PrinterID: p, Time: j.StartedAt, Job: j})
		}
	}
	for i := range evs {
		recs = append(recs, fleet.Record{Kind: fleet.KindEvent, PrinterID: p, Time: evs[i].Time, Event: &evs[i]})
	}
	for i := range ctrs {
		recs = append(recs, fleet.Record{Kind: fleet.KindCounters, PrinterID: p, Time: ctrs[i].Time, Counters: &ctrs[i]})
	}
	for i := range cons {
		recs = append(recs, fleet.Record{Kind: fleet.KindConsumables, PrinterID: p, Time: cons[i].Time, Consumables: &cons[i]})
	}
	// Events first at equal times: a gateway reads the feeds, then the
	// snapshots.
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Time.Before(recs[j].Time) })
	for _, r := range recs {
		t.Add(r)
	}
	return nil
}

// PrinterRef names a stored printer for training.
type PrinterRef struct {
	Org     fleet.OrgID
	Printer fleet.PrinterID
}

// Training describes the data a set of models was learned from: counts
// and period only, no organisation, site or printer.
type Training struct {
	At       time.Time      `json:"trained_at"`
	From     time.Time      `json:"from"`
	Printers int            `json:"printers"`
	Excluded map[string]int `json:"excluded"`
}

// TrainerOptions tune a Trainer. The zero value works.
type TrainerOptions struct {
	Clock  clock.Clock   // nil → the real clock
	Logger *slog.Logger  // nil → discard
	Every  time.Duration // how often Run retrains; zero → 6 hours
	Window time.Duration // how much history it learns from; zero → 365 days
}

// Trainer learns the life models from every stored printer's history and
// keeps the newest set. Only the lives (usage hours, failed or not) of
// each kind enter a model: no identity does.
type Trainer struct {
	h    HistoryReader
	list func(ctx context.Context) ([]PrinterRef, error)
	opts TrainerOptions

	mu       sync.Mutex
	models   map[Kind]Model
	training Training
}

// NewTrainer returns a trainer reading h for the printers list names.
func NewTrainer(h HistoryReader, list func(ctx context.Context) ([]PrinterRef, error), opts TrainerOptions) *Trainer {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Every <= 0 {
		opts.Every = 6 * time.Hour
	}
	if opts.Window <= 0 {
		opts.Window = 365 * 24 * time.Hour
	}
	return &Trainer{h: h, list: list, opts: opts}
}

// Retrain learns the models anew.
func (t *Trainer) Retrain(ctx context.Context) error {
	now := t.opts.Clock.Now()
	refs, err := t.list(ctx)
	if err != nil {
		return fmt.Errorf("retrain: %w", err)
	}
	tr := NewTracker()
	from := now.Add(-t.opts.Window)
	for _, r := range refs {
		if err := Replay(ctx, t.h, tr, r.Org, r.Printer, from, now.Add(time.Second)); err != nil {
			return fmt.Errorf("retrain: %w", err)
		}
	}
	obs := tr.Observations(now)
	models := map[Kind]Model{}
	for _, k := range Kinds() {
		models[k] = Fit(k, obs[k])
	}
	t.mu.Lock()
	t.models, t.training = models, Training{At: now, From: from, Printers: len(refs), Excluded: tr.Excluded}
	t.mu.Unlock()
	return nil
}

// Models returns the newest models (not fitted ones before the first
// training) and what they were learned from.
func (t *Trainer) Models() (map[Kind]Model, Training) {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[Kind]Model{}
	for _, k := range Kinds() {
		m, ok := t.models[k]
		if !ok {
			m = Model{Kind: k, Reason: "not trained yet"}
		}
		out[k] = m
	}
	return out, t.training
}

// Run retrains at once and then whenever Every of the clock's time has
// passed, looking once a minute of real time, until ctx is done; a failed
// training is logged and the previous models stay. A training reads
// every printer's history, so a demo whose clock runs thousands of times
// faster than real time still trains at most once a minute.
func (t *Trainer) Run(ctx context.Context) error {
	log := t.opts.Logger.With("component", "maintenance-trainer")
	const look = time.Minute
	var last time.Time
	for {
		if now := t.opts.Clock.Now(); last.IsZero() || now.Sub(last) >= t.opts.Every {
			last = now
			if err := t.Retrain(ctx); err != nil && ctx.Err() == nil {
				log.Error("training the maintenance models failed", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(look):
		}
	}
}
