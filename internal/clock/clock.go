// Package clock provides the time sources FusionFleet injects everywhere
// instead of calling time.Now: the real clock, a scaled clock that runs the
// demo's virtual printers faster than real time, and a manual clock for
// tests.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// Real is the system clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// Scaled runs Factor times faster than real time from the moment it was
// made: Scaled time starts at the real time of creation.
type Scaled struct {
	origin time.Time // real and scaled time at creation
	mono   time.Time // the monotonic reading at creation
	factor float64
}

// NewScaled returns a clock that starts now and advances factor times faster
// than real time. A factor <= 0 is taken as 1.
func NewScaled(factor float64) *Scaled {
	if factor <= 0 {
		factor = 1
	}
	now := time.Now()
	return &Scaled{origin: now.Round(0), mono: now, factor: factor}
}

// Now returns the scaled time.
func (s *Scaled) Now() time.Time {
	elapsed := time.Since(s.mono)
	return s.origin.Add(time.Duration(float64(elapsed) * s.factor))
}

// Factor returns how many times faster than real time the clock runs.
func (s *Scaled) Factor() float64 { return s.factor }

// Wall returns how long d of c's time lasts in real time: d itself, or d
// divided by the factor of a clock running faster than real time (such as
// Scaled). Loops that wait for their clock's time to come use it for their
// timers, so that they keep their cadence in the clock's time.
func Wall(c Clock, d time.Duration) time.Duration {
	if s, ok := c.(interface{ Factor() float64 }); ok && s.Factor() > 0 {
		return time.Duration(float64(d) / s.Factor())
	}
	return d
}

// Manual is a clock that moves only when told to. Safe for concurrent use.
type Manual struct {
	mu  sync.Mutex
	now time.Time
}

// NewManual returns a manual clock set to t.
func NewManual(t time.Time) *Manual { return &Manual{now: t} }

// Now returns the clock's time.
func (m *Manual) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

// Advance moves the clock forward by d.
func (m *Manual) Advance(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = m.now.Add(d)
}

// Set sets the clock to t.
func (m *Manual) Set(t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = t
}
