package updaterepo

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/update"
	"github.com/google/go-cmp/cmp"
)

// fakeFailures answers FailureRates from a table keyed by model and
// version, and records the windows it was asked about.
type fakeFailures struct {
	rates map[[2]string][2]Rate
	since map[string]time.Time
}

func (f *fakeFailures) FailureRates(ctx context.Context, kind update.Kind, model, version string, since time.Time) (Rate, Rate, error) {
	f.since[version] = since
	r := f.rates[[2]string{model, version}]
	return r[0], r[1], nil
}

func TestRolloutController(t *testing.T) {
	tests := []struct {
		name   string
		target Rate
		others Rate
		want   []string
	}{
		{"failing far above baseline", Rate{Printers: 10, Failing: 4}, Rate{Printers: 100, Failing: 5}, []string{"halt"}},
		{"within the margin", Rate{Printers: 10, Failing: 1}, Rate{Printers: 100, Failing: 5}, nil},
		{"sample too small", Rate{Printers: 4, Failing: 4}, Rate{Printers: 100, Failing: 0}, nil},
		{"baseline as bad", Rate{Printers: 10, Failing: 5}, Rate{Printers: 100, Failing: 45}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ti := f.release(firmware("4.3.0", model4200))
			src := &fakeFailures{rates: map[[2]string][2]Rate{{model4200, "4.3.0"}: {tt.target, tt.others}}, since: map[string]time.Time{}}
			c := NewRolloutController(f.repo, src, ControllerOptions{Clock: f.clk})
			got, err := c.Evaluate(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			if tt.want != nil {
				want = []string{ti.Name}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("halted (-want +got):\n%s", diff)
			}
			st, err := f.repo.Rollout()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, st.HaltedNames(), cmp.Transformer("nil", func(s []string) []string {
				if len(s) == 0 {
					return nil
				}
				return s
			})); diff != "" {
				t.Errorf("persisted halts (-want +got):\n%s", diff)
			}
			if got := src.since["4.3.0"]; !got.Equal(f.clk.Now()) {
				t.Errorf("failure window starts %v, want when first seen %v", got, f.clk.Now())
			}
		})
	}
}

func TestRolloutUnhaltSticks(t *testing.T) {
	f := newFixture(t)
	ti := f.release(firmware("4.3.0", model4200))
	src := &fakeFailures{rates: map[[2]string][2]Rate{{model4200, "4.3.0"}: {{Printers: 10, Failing: 9}, {Printers: 10}}}, since: map[string]time.Time{}}
	c := NewRolloutController(f.repo, src, ControllerOptions{Clock: f.clk})
	if _, err := c.Evaluate(t.Context()); err != nil {
		t.Fatal(err)
	}
	first := src.since["4.3.0"]
	if err := f.repo.Unhalt(ti.Name); err != nil {
		t.Fatal(err)
	}
	if err := f.repo.Unhalt(ti.Name); !errors.Is(err, ErrNotHalted) {
		t.Errorf("second Unhalt = %v, want ErrNotHalted", err)
	}
	f.clk.Advance(time.Hour)
	got, err := c.Evaluate(t.Context())
	if err != nil || len(got) != 0 {
		t.Errorf("after unhalt Evaluate = %v, %v; want nothing halted", got, err)
	}
	// Reopened from disk, the state is the same: halts persist.
	reopened, err := OpenRepo(f.repo.Dir(), RepoOptions{Clock: f.clk})
	if err != nil {
		t.Fatal(err)
	}
	st, err := reopened.Rollout()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Halted) != 0 || st.Unhalted[ti.Name].IsZero() || !st.FirstSeen[ti.Name].Equal(first) {
		t.Errorf("reopened state = %+v", st)
	}
	if err := reopened.Halt(ti.Name, "by hand"); err != nil {
		t.Fatal(err)
	}
	if err := reopened.Halt("no-such-target", "x"); !errors.Is(err, update.ErrNoUpdate) {
		t.Errorf("Halt of an unknown target = %v", err)
	}
}
