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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Wall(tt.c, tt.d); got != tt.want {
				t.Errorf("Wall(%v) = %v, want %v", tt.d, got, tt.want)
			}
		})
	}
}
