package cloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/learn"
)

// learnStore is what the learning loop reads and writes.
type learnStore interface {
	LearnOutcomes(ctx context.Context, from, to time.Time) ([]learn.Outcome, error)
	SaveLearnModel(ctx context.Context, m learn.StoredModel) error
	LearnModels(ctx context.Context, limit int) ([]learn.StoredModel, error)
	InServiceModel(ctx context.Context) (learn.Model, error)
	SaveLearnProposal(ctx context.Context, p learn.SetProposal) error
}

// learnWallGap keeps retrainings six real hours apart where the clock
// runs fast (a demo): a fit and its bootstrap take seconds of CPU.
const learnWallGap = 6 * time.Hour

// learnFirstAfter lets a starting node serve, ingest and evaluate alerts
// for ten real minutes before it first reads every outcome and fits.
const learnFirstAfter = 10 * time.Minute

// learnWindow is how far back the learning loop reads job outcomes.
const learnWindow = 180 * 24 * time.Hour

// newLearner builds the trainer of the part-quality model: weekly, on the
// anonymous table of every organisation's job outcomes of the last
// learnWindow; each version is stored, and a promoted one's proposals wait
// on the Learning page for an engineer. Nothing is released from here.
func newLearner(ctx context.Context, st learnStore, clk, wall clock.Clock, log *slog.Logger) (*learn.Trainer, error) {
	var cur *learn.Model
	switch m, err := st.InServiceModel(ctx); {
	case err == nil:
		cur = &m
	case !errors.Is(err, fleet.ErrNotFound):
		return nil, fmt.Errorf("learning: %w", err)
	}
	versions := 0
	ms, err := st.LearnModels(ctx, 1)
	if err != nil {
		return nil, fmt.Errorf("learning: %w", err)
	}
	if len(ms) > 0 {
		versions = ms[0].Model.Version
	}
	load := func(ctx context.Context) ([]learn.Outcome, error) {
		now := clk.Now()
		return st.LearnOutcomes(ctx, now.Add(-learnWindow), now)
	}
	publish := func(ctx context.Context, d learn.Decision, t learn.Table) error {
		if err := st.SaveLearnModel(ctx, learn.StoredModel{Model: *d.Candidate, Promoted: d.Promoted, Reason: d.Reason}); err != nil {
			return err
		}
		if !d.Promoted {
			return nil
		}
		ps := learn.Propose(t, d.Candidate, learn.ProposeOptions{Seed: uint64(d.Candidate.Version)})
		for _, sp := range learn.Proposals(d.Candidate, ps, clk.Now()) {
			if err := st.SaveLearnProposal(ctx, sp); err != nil {
				return err
			}
		}
		return nil
	}
	return learn.NewTrainer(load, cur, learn.TrainerOptions{Clock: clk, Wall: wall, WallGap: learnWallGap, FirstAfter: learnFirstAfter, Logger: log,
		Versions: versions, Publish: publish}), nil
}
