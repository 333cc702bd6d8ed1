package clock

import (
	"testing"
	"testing/synctest"
	"time"
)

func TestManual(t *testing.T) {
	start := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	m := NewManual(start)
	m.Advance(90 * time.Minute)
	if got, want := m.Now(), start.Add(90*time.Minute); !got.Equal(want) {
		t.Errorf("after Advance: got %v, want %v", got, want)
	}
	m.Set(start)
	if got := m.Now(); !got.Equal(start) {
		t.Errorf("after Set: got %v, want %v", got, start)
	}
}

func TestScaledRunsFaster(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewScaled(3600)
		t0 := s.Now()
		time.Sleep(20 * time.Millisecond) // on the bubble's fake clock: no real wait
		if got, want := s.Now().Sub(t0), 72*time.Second; got != want {
			t.Errorf("scaled clock advanced %v in 20ms real, want %v", got, want)
		}
	})
	if NewScaled(0).Factor() != 1 {
		t.Errorf("factor 0 should be taken as 1")
	}
}

// The demo clock stands still until started, fills the past at its fill
// speed until it meets the real time, then runs at its own speed ahead
// of the real clock; started ahead of the real time, it has nothing to
// fill.
func TestDemo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const day = 24 * time.Hour
		origin := time.Now()
		d := NewDemo(origin.Add(-10*day), 86400, 60)
		time.Sleep(time.Second)
		if got, want := d.Now(), origin.Add(-10*day); !got.Equal(want) {
			t.Errorf("before Start: %v, want the start %v", got, want)
		}
		if p, _ := d.Progress(); p != 0 {
			t.Errorf("before Start: progress %v, want 0", p)
		}
		d.Start()
		start := time.Now()
		time.Sleep(5 * time.Second)
		if got, want := d.Now(), origin.Add(-5*day); got.Sub(want).Abs() > time.Second {
			t.Errorf("5 s into the fill: %v, want about %v (a day a second)", got, want)
		}
		if p, _ := d.Progress(); p < 0.49 || p > 0.51 {
			t.Errorf("5 s into the fill: progress %v, want one half", p)
		}
		if got := d.Factor(); got != 86400 {
			t.Errorf("factor while filling %v, want 86400", got)
		}
		time.Sleep(15 * time.Second) // caught up after 10 days/86399 ≈ 10.0001 s
		catchUp := time.Duration(float64(start.Sub(origin.Add(-10*day))) / 86399)
		want := start.Add(catchUp).Add((20*time.Second - catchUp) * 60)
		if got := d.Now(); got.Sub(want).Abs() > time.Millisecond {
			t.Errorf("after the fill: %v, want %v", got, want)
		}
		if p, _ := d.Progress(); p != 1 {
			t.Errorf("after the fill: progress %v, want 1", p)
		}
		if got := d.Factor(); got != 60 {
			t.Errorf("factor after the fill %v, want 60", got)
		}
		if !d.Now().After(time.Now()) {
			t.Error("after the fill the demo clock should run ahead of the real one")
		}

		ahead := NewDemo(time.Now().Add(time.Hour), 86400, 60)
		if p, _ := ahead.Progress(); p != 1 {
			t.Errorf("started ahead of the real time: progress %v, want 1 (nothing to fill)", p)
		}
		ahead.Start()
		t0 := ahead.Now()
		time.Sleep(time.Second)
		if got := ahead.Now().Sub(t0); got != time.Minute {
			t.Errorf("started ahead: advanced %v in a second, want a minute", got)
		}
	})
}

func TestWall(t *testing.T) {
	tests := []struct {
		name string
		c    Clock
		d    time.Duration
		want time.Duration
	}{
		{"real", Real{}, 5 * time.Second, 5 * time.Second},
		{"manual", NewManual(time.Time{}), 5 * time.Second, 5 * time.Second},
		{"scaled 60x", NewScaled(60), 5 * time.Minute, 5 * time.Second},
		{"scaled 0.5x", NewScaled(0.5), time.Second, 2 * time.Second},
		// The demo's loops are given real-time intervals.
		{"demo", NewDemo(time.Now().Add(-time.Hour), 86400, 60), 5 * time.Second, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Wall(tt.c, tt.d); got != tt.want {
				t.Errorf("Wall(%v) = %v, want %v", tt.d, got, tt.want)
			}
		})
	}
}
