package printer

import (
	"errors"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// Issue 13: a printer is never updated under a job. BeginUpdate refuses
// while a job prints, cools or is stopped by a fault; while an update
// holds the printer, a queued job waits, and starts once it ends.
func TestBeginUpdateOnlyWhenIdle(t *testing.T) {
	p, clk := newTestPrinter(t, 7, Options{})
	busy, held := 0, 0
	for range 3 * 24 * 60 {
		clk.Advance(time.Minute)
		s := p.Status()
		end, err := p.BeginUpdate()
		switch s.State {
		case fleet.StatePrinting, fleet.StateCooling, fleet.StateError:
			if s.State == fleet.StateError && s.Job == nil {
				break // a fault while idle: no job to protect
			}
			if !errors.Is(err, ErrBusy) {
				t.Fatalf("%v: BeginUpdate while %v: %v, want ErrBusy", s.Time, s.State, err)
			}
			busy++
			continue
		}
		if err != nil {
			if s.State == fleet.StateError {
				continue
			}
			t.Fatalf("%v: BeginUpdate while %v (%s): %v", s.Time, s.State, s.Activity, err)
		}
		held++
		if _, err := p.BeginUpdate(); !errors.Is(err, ErrBusy) {
			t.Fatalf("second BeginUpdate while held: %v, want ErrBusy", err)
		}
		// Held for six hours: whatever is queued waits.
		clk.Advance(6 * time.Hour)
		if s := p.Status(); s.State != fleet.StateIdle || s.Activity != "installing an update" {
			t.Fatalf("%v: held printer is %v (%s), want idle, installing an update", s.Time, s.State, s.Activity)
		}
		queued := p.Status().PendingJobs
		end()
		end() // a second call does nothing
		if queued > 0 {
			clk.Advance(time.Minute)
			if s := p.Status(); s.State != fleet.StatePrinting {
				t.Fatalf("%v: %d jobs queued, update ended a minute ago, printer is %v (%s), want printing",
					s.Time, queued, s.State, s.Activity)
			}
		}
	}
	if busy == 0 || held == 0 {
		t.Fatalf("in three simulated days BeginUpdate was refused %d and granted %d times; want both", busy, held)
	}
}
