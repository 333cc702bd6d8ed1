package maintenance_test

import (
	"context"
	"math"
	"sort"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/maintenance"
	"github.com/fusionfleet/fusionfleet/internal/printer"
)

// history is a HistoryReader over records kept in memory, as the store
// would keep them: snapshots oldest first, events newest first.
type history map[fleet.PrinterID][]fleet.Record

func (h history) between(p fleet.PrinterID, from, to time.Time, kind fleet.Kind) []fleet.Record {
	var out []fleet.Record
	for _, r := range h[p] {
		if r.Kind == kind && !r.Time.Before(from) && r.Time.Before(to) {
			out = append(out, r)
		}
	}
	return out
}

func (h history) CountersHistory(_ context.Context, _ fleet.OrgID, p fleet.PrinterID, from, to time.Time) ([]fleet.Counters, error) {
	var out []fleet.Counters
	for _, r := range h.between(p, from, to, fleet.KindCounters) {
		out = append(out, *r.Counters)
	}
	return out, nil
}

func (h history) ConsumablesHistory(_ context.Context, _ fleet.OrgID, p fleet.PrinterID, from, to time.Time) ([]fleet.Consumables, error) {
	var out []fleet.Consumables
	for _, r := range h.between(p, from, to, fleet.KindConsumables) {
		out = append(out, *r.Consumables)
	}
	return out, nil
}

func (h history) Events(_ context.Context, _ fleet.OrgID, p fleet.PrinterID, from, to time.Time, limit int) ([]fleet.Event, error) {
	var out []fleet.Event
	for _, r := range h.between(p, from, to, fleet.KindEvent) {
		out = append(out, *r.Event)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	return out[:min(len(out), limit)], nil
}

// TestTrainerLearnsFromStoredHistory runs virtual printers for 150 days,
// keeps what a cloud would store of them (events, hourly counters and
// consumables), and trains on it: the printhead model comes out near the
// printers' hidden Weibull life (shape 2, scale 450 h), the carriage,
// which rarely fails, falls back to its rated life.
func TestTrainerLearnsFromStoredHistory(t *testing.T) {
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	end := start.Add(150 * 24 * time.Hour)
	h := history{}
	var refs []maintenance.PrinterRef
	for i := range 6 {
		clk := clock.NewManual(start)
		p := printer.New(printer.Options{Seed: int64(500 + i), Clock: clk})
		id := p.Identity().PrinterID
		refs = append(refs, maintenance.PrinterRef{Org: "org", Printer: id})
		var after uint64
		for at := start; !at.After(end); at = at.Add(time.Hour) {
			clk.Set(at)
			pg := p.Events(after, 10000)
			for _, e := range pg.Items {
				h[id] = append(h[id], fleet.Record{Kind: fleet.KindEvent, Time: e.Time, Event: &e})
			}
			if len(pg.Items) > 0 {
				after = pg.Next
			}
			c, cs := p.Counters(), p.Consumables()
			h[id] = append(h[id], fleet.Record{Kind: fleet.KindCounters, Time: at, Counters: &c},
				fleet.Record{Kind: fleet.KindConsumables, Time: at, Consumables: &cs})
		}
	}
	tr := maintenance.NewTrainer(h, func(context.Context) ([]maintenance.PrinterRef, error) { return refs, nil },
		maintenance.TrainerOptions{Clock: clock.NewManual(end)})
	if models, _ := tr.Models(); models[maintenance.Printhead].Fitted {
		t.Fatal("fitted before training")
	}
	if err := tr.Retrain(t.Context()); err != nil {
		t.Fatal(err)
	}
	models, training := tr.Models()
	ph := models[maintenance.Printhead]
	if !ph.Fitted || math.Abs(ph.Shape-2) > 0.6 || math.Abs(ph.Scale/450-1) > 0.2 {
		t.Errorf("printhead model %+v: want near shape 2, scale 450 h", ph)
	}
	if ph.Failures < maintenance.MinFailures || ph.Censored < 6*6 {
		t.Errorf("printhead model from %d failures and %d censored: want every installed head censored", ph.Failures, ph.Censored)
	}
	if c := models[maintenance.Carriage]; c.Fitted || c.Reason == "" {
		t.Errorf("carriage model %+v: want the rated-life fallback with a reason", c)
	}
	if training.Printers != 6 || !training.At.Equal(end) {
		t.Errorf("training %+v", training)
	}
}

// TestTrainerRunCadence runs the trainer in a bubble of fake time: it
// trains at once, then once Every has passed, and stops with its context.
func TestTrainerRunCadence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var trainings atomic.Int32
		list := func(context.Context) ([]maintenance.PrinterRef, error) {
			trainings.Add(1)
			return nil, nil
		}
		tr := maintenance.NewTrainer(history{}, list, maintenance.TrainerOptions{Every: 6 * time.Hour})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- tr.Run(ctx) }()
		synctest.Wait()
		if n := trainings.Load(); n != 1 {
			t.Fatalf("%d trainings at the start, want 1", n)
		}
		time.Sleep(5*time.Hour + 59*time.Minute)
		synctest.Wait()
		if n := trainings.Load(); n != 1 {
			t.Fatalf("%d trainings before 6 h, want 1", n)
		}
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if n := trainings.Load(); n != 2 {
			t.Fatalf("%d trainings after 6 h, want 2", n)
		}
		if _, tg := tr.Models(); tg.Printers != 0 || tg.At.IsZero() {
			t.Errorf("training %+v", tg)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}
