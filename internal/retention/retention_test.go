package retention

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/google/go-cmp/cmp"
)

func TestWithDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   Retention
		want Retention
	}{
		{"zero", Retention{}, Default()},
		{"kept", Retention{Layers: day, Logs: 2 * day, Events: 3 * day, Jobs: 4 * day, History: 5 * day, Received: 100 * day},
			Retention{Layers: day, Logs: 2 * day, Events: 3 * day, Jobs: 4 * day, History: 5 * day, Received: 100 * day}},
		{"received raised", Retention{Received: day}, func() Retention { r := Default(); r.Received = MinReceived; return r }()},
		{"negative", Retention{Layers: -1}, Default()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.in.WithDefaults()); diff != "" {
				t.Errorf("WithDefaults (-want +got):\n%s", diff)
			}
		})
	}
	if d := Default(); d.Received < MinReceived || d.Logs >= d.Jobs || d.Layers >= d.Jobs {
		t.Errorf("defaults out of order: %+v", d)
	}
}

type fakePruner struct {
	mu    sync.Mutex
	times []time.Time
	errs  []error // returned in turn; nil when used up
}

func (f *fakePruner) Prune(_ context.Context, now time.Time, _ Retention) (map[string]int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.times = append(f.times, now)
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		return nil, err
	}
	return map[string]int64{"layers": 3, "logs": 0}, nil
}

func TestRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		clk := clock.NewManual(t0)
		p := &fakePruner{errs: []error{errors.New("disk on fire")}}
		var buf bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&buf, nil))
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- Run(ctx, p, time.Minute, Retention{}, clk, logger) }()
		synctest.Wait()
		clk.Advance(time.Minute)
		time.Sleep(time.Minute)
		synctest.Wait()
		clk.Advance(time.Minute)
		time.Sleep(time.Minute)
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v, want nil after cancel", err)
		}
		want := []time.Time{t0, t0.Add(time.Minute), t0.Add(2 * time.Minute)}
		if diff := cmp.Diff(want, p.times); diff != "" {
			t.Errorf("prune times (-want +got):\n%s", diff)
		}
		out := buf.String()
		if !strings.Contains(out, "disk on fire") || !strings.Contains(out, "layers=3") || strings.Contains(out, "logs=0") {
			t.Errorf("log = %q, want the failure and the non-zero count only", out)
		}
	})
}

func TestRunCancelledDuringPrune(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	p := &fakePruner{errs: []error{context.Canceled}}
	if err := Run(ctx, p, 0, Retention{}, clock.Real{}, nil); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	if len(p.times) != 1 {
		t.Errorf("prunes = %d, want 1", len(p.times))
	}
}

// partialPruner removes some rows and ends the context, returning err
// (the context's error when nil), as a prune does when the node stops in
// the middle of it.
type partialPruner struct {
	cancel context.CancelFunc
	err    error
}

func (p partialPruner) Prune(ctx context.Context, _ time.Time, _ Retention) (map[string]int64, error) {
	p.cancel()
	if p.err != nil {
		return map[string]int64{"layers": 3187}, p.err
	}
	return map[string]int64{"layers": 3187}, ctx.Err()
}

// A prune cut short when the node stops has committed its first chunks,
// and Run said nothing of them, so the soak's audit, which counts the
// pruned log lines, could not account for those rows. What a prune
// removed is logged whatever ended it.
func TestRunLogsWhatAPruneCutShortRemoved(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"cancelled", nil},
		{"failed as it stopped", errors.New("interrupted")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var buf bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&buf, nil))
			if err := Run(ctx, partialPruner{cancel, tc.err}, time.Hour, Retention{}, clock.Real{}, logger); err != nil {
				t.Fatalf("Run = %v", err)
			}
			if out := buf.String(); !strings.Contains(out, "layers=3187") {
				t.Errorf("log = %q, want the 3187 layers removed", out)
			}
		})
	}
}
