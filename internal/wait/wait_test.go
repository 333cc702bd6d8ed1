package wait

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"
)

func TestUntil(t *testing.T) {
	tests := []struct {
		name      string
		holdsFrom int // the call from which the condition holds; 0: never
		wantCalls int
		wantErr   string
	}{
		{"holds at once", 1, 1, ""},
		{"holds at the third look", 3, 3, ""},
		{"never holds", 0, 11, "after 1s: not yet 11"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				calls := 0
				err := Until(time.Second, 100*time.Millisecond, func() error {
					calls++
					if tt.holdsFrom > 0 && calls >= tt.holdsFrom {
						return nil
					}
					return fmt.Errorf("not yet %d", calls)
				})
				if calls != tt.wantCalls {
					t.Errorf("calls = %d, want %d", calls, tt.wantCalls)
				}
				gotErr := ""
				if err != nil {
					gotErr = err.Error()
				}
				if gotErr != tt.wantErr {
					t.Errorf("Until = %q, want %q", gotErr, tt.wantErr)
				}
				if want := time.Duration(tt.wantCalls-1) * 100 * time.Millisecond; time.Since(start) != want {
					t.Errorf("waited %v, want %v", time.Since(start), want)
				}
			})
		})
	}
}

func TestUntilKeepsTheLastError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errGone := errors.New("gone")
		if err := Until(time.Millisecond, time.Millisecond, func() error { return errGone }); !errors.Is(err, errGone) {
			t.Errorf("Until = %v, want it to wrap the condition's error", err)
		}
	})
}

func TestGo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		stopped := false
		r := Go(t, func(ctx context.Context) error {
			<-ctx.Done()
			stopped = true
			return nil
		})
		synctest.Wait()
		if stopped {
			t.Fatal("stopped before Stop")
		}
		r.Stop()
		if !stopped {
			t.Error("still running after Stop")
		}
		r.Stop() // again: nothing
	})
}

func TestHolds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if !Holds(time.Second, func() bool { return time.Since(start) >= 300*time.Millisecond }) {
			t.Error("a condition that came to hold did not")
		}
		if Holds(time.Second, func() bool { return false }) {
			t.Error("a condition that never held did")
		}
	})
}
