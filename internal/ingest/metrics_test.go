package ingest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
)

type value struct{ v float64 }

func (c *value) Add(v float64) { c.v += v }

type samples struct{ v []float64 }

func (o *samples) Observe(v float64) { o.v = append(o.v, v) }

// slowStore takes 250 ms of the manual clock per write and answers with
// the next scripted result.
type slowStore struct {
	clk     *clock.Manual
	results []result
}

type result struct {
	applied int
	err     error
}

func (s *slowStore) ApplyEnvelope(context.Context, fleet.Envelope) (int, error) {
	s.clk.Advance(250 * time.Millisecond)
	r := s.results[0]
	s.results = s.results[1:]
	return r.applied, r.err
}

// ApplyEnvelopes answers each envelope with the next scripted result in
// one write; a failure fails them all.
func (s *slowStore) ApplyEnvelopes(_ context.Context, envs []fleet.Envelope) ([]int, []error, error) {
	s.clk.Advance(250 * time.Millisecond)
	applied, rejected := make([]int, len(envs)), make([]error, len(envs))
	for i := range envs {
		r := s.results[0]
		s.results = s.results[1:]
		if r.err != nil && !errors.Is(r.err, fleet.ErrRejected) {
			return nil, nil, r.err
		}
		applied[i], rejected[i] = r.applied, r.err
	}
	return applied, rejected, nil
}

// perRecord is a store's rejection with one error per refused record.
type perRecord struct{ errs []error }

func (e *perRecord) Error() string        { return fmt.Sprint(e.errs) }
func (e *perRecord) Unwrap() []error      { return e.errs }
func (e *perRecord) Is(target error) bool { return target == fleet.ErrRejected }
func rejectedOf(n int) error {
	e := &perRecord{}
	for i := range n {
		e.errs = append(e.errs, fmt.Errorf("record %d: printer of another organisation", i+1))
	}
	return fmt.Errorf("apply: %w", e)
}

func TestMetrics(t *testing.T) {
	for _, batch := range []bool{false, true} {
		t.Run(fmt.Sprintf("batch=%t", batch), func(t *testing.T) { testMetrics(t, batch) })
	}
}

// testMetrics counts the same results of Handle, or of one HandleBatch
// (whose group commit fails on the last envelope, then applies each).
func testMetrics(t *testing.T, batch bool) {
	clk := clock.NewManual(time.Unix(1e9, 0))
	st := &slowStore{clk: clk, results: []result{
		{applied: 3},                     // applied
		{applied: 0},                     // all already stored
		{applied: 1, err: rejectedOf(2)}, // two records refused
		{applied: 0, err: fmt.Errorf("apply: %w", fleet.ErrRejected)}, // refused without details: the rest
		{err: errors.New("disk full")},                                // redelivered
	}}
	var latency samples
	var applied, rejected, poison, storeErrs value
	w := NewWriter(st, &fakeNotifier{}, Options{Clock: clk, Metrics: Metrics{
		StoreSeconds: &latency, RecordsApplied: &applied, RecordsRejected: &rejected, Poison: &poison, StoreErrors: &storeErrs,
	}})
	msgs := [][]byte{envelope(1, 2, 3), envelope(1, 2, 3), envelope(4, 5, 6), envelope(7, 8), envelope(9), []byte("{"), envelope(2, 1)}
	wantLatency := []float64{0.25, 0.25, 0.25, 0.25, 0.25}
	want := map[string]float64{"applied": 4, "rejected": 4, "poison": 2, "store errors": 1}
	if batch {
		// The group fails on its fifth envelope (disk full), and the five
		// are applied again one by one, with the same results.
		st.results = append(st.results, st.results...)
		wantLatency = append(wantLatency, 0.25)
		want["store errors"] = 2
		errs := w.HandleBatch(t.Context(), msgs)
		if len(errs) != len(msgs) || errs[4] == nil || errors.Join(append(errs[:4:4], errs[5:]...)...) != nil {
			t.Errorf("HandleBatch = %v, want the fifth message to be redelivered only", errs)
		}
	} else {
		for _, m := range msgs {
			_ = w.Handle(t.Context(), m)
		}
	}
	got := map[string]float64{"applied": applied.v, "rejected": rejected.v, "poison": poison.v, "store errors": storeErrs.v}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantLatency, latency.v); diff != "" {
		t.Errorf("store latencies (-want +got):\n%s", diff)
	}
}
