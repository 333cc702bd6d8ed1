package backoff

import (
	"fmt"
	"testing"
	"time"
)

func TestDelay(t *testing.T) {
	constant := func(r float64) func() float64 { return func() float64 { return r } }
	tests := []struct {
		name   string
		policy Policy
		n      int
		want   time.Duration
	}{
		{"first failure waits the base", Policy{Base: 5 * time.Second, Max: time.Minute}, 1, 5 * time.Second},
		{"doubles per failure", Policy{Base: 5 * time.Second, Max: time.Minute}, 2, 10 * time.Second},
		{"doubles again", Policy{Base: 5 * time.Second, Max: time.Minute}, 4, 40 * time.Second},
		{"capped", Policy{Base: 5 * time.Second, Max: time.Minute}, 5, time.Minute},
		{"capped for ever", Policy{Base: 5 * time.Second, Max: time.Minute}, 50, time.Minute},
		{"huge n does not overflow", Policy{Base: time.Second, Max: time.Hour}, 1 << 30, time.Hour},
		{"n below 1 counts as 1", Policy{Base: 5 * time.Second, Max: time.Minute}, 0, 5 * time.Second},
		{"base above max is capped", Policy{Base: time.Hour, Max: time.Minute}, 1, time.Minute},
		{"zero policy waits not at all", Policy{}, 3, 0},
		{"zero base with huge n returns at once", Policy{Max: time.Minute}, 1 << 62, 0},
		{"jitter at its low draw keeps all", Policy{Base: 5 * time.Second, Max: time.Minute, Jitter: 0.5, Rand: constant(0)}, 1, 5 * time.Second},
		{"jitter at its high draw takes off half", Policy{Base: 5 * time.Second, Max: time.Minute, Jitter: 0.5, Rand: constant(0.999999)}, 1, 2500 * time.Millisecond},
		{"jitter applies after the cap", Policy{Base: 5 * time.Second, Max: 5 * time.Minute, Jitter: 0.5, Rand: constant(0.5)}, 20, 225 * time.Second},
		{"jitter above 1 counts as 1", Policy{Base: 4 * time.Second, Max: time.Minute, Jitter: 3, Rand: constant(0.5)}, 1, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.policy.Delay(tt.n).Round(time.Millisecond)
			if got != tt.want {
				t.Errorf("Delay(%d) = %v, want %v", tt.n, got, tt.want)
			}
		})
	}
}

// The default jitter stays within its bounds.
func TestDelayDefaultRand(t *testing.T) {
	p := Policy{Base: time.Second, Max: time.Minute, Jitter: 0.5}
	for n := range 10 {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			full := Policy{Base: p.Base, Max: p.Max}.Delay(n)
			if got := p.Delay(n); got <= full/2 || got > full {
				t.Errorf("Delay(%d) = %v, want in (%v, %v]", n, got, full/2, full)
			}
		})
	}
}
