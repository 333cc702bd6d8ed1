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

// Wall returns how long d of c's time lasts in real time: d divided by the
// factor of a Scaled clock, else d itself. Loops that wait for their
// clock's time to come use it for their timers, so that they keep their
// cadence in the clock's time. The demo's clock (Demo) is left alone: its
// speed changes while it fills the past, and the demo gives its loops
// intervals in real time.
func Wall(c Clock, d time.Duration) time.Duration {
	if s, ok := c.(*Scaled); ok && s.Factor() > 0 {
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

// Demo is the one clock of a demo: it starts at a moment in the past, runs
// Fill times faster than real time until it has caught up with the real
// clock (the demo's simulated past), then Speed times faster (the demo's
// accelerated present, which runs ahead of the real clock). It stands
// still at its start until Start is called, so that a demo can set up
// (enrol gateways with tokens that expire on this clock) before time
// flows. Its time is a pure function of the real time elapsed since
// Start: every reader sees one history.
type Demo struct {
	from         time.Time
	fill, speed  float64
	mu           sync.Mutex
	started      bool
	origin, mono time.Time // the real time at Start, with its monotonic reading
}

// NewDemo returns a demo clock standing at from. A fill or speed <= 0 is
// taken as 1.
func NewDemo(from time.Time, fill, speed float64) *Demo {
	if fill <= 0 {
		fill = 1
	}
	if speed <= 0 {
		speed = 1
	}
	return &Demo{from: from.Round(0), fill: fill, speed: speed}
}

// Start lets the clock run; a second call does nothing.
func (d *Demo) Start() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.started {
		now := time.Now()
		d.started, d.origin, d.mono = true, now.Round(0), now
	}
}

// Now returns the demo time.
func (d *Demo) Now() time.Time {
	d.mu.Lock()
	started, origin, mono := d.started, d.origin, d.mono
	d.mu.Unlock()
	if !started {
		return d.from
	}
	return d.at(origin, time.Since(mono))
}

// at is the demo time elapsed real time after a Start at real time origin.
func (d *Demo) at(origin time.Time, elapsed time.Duration) time.Time {
	behind := origin.Sub(d.from)
	if behind <= 0 || d.fill <= 1 {
		// Nothing to fill: the present from the start.
		return d.from.Add(time.Duration(float64(elapsed) * d.speed))
	}
	// The past fills until demo and real time meet: from + fill·e =
	// origin + e, at e = behind / (fill-1).
	catchUp := time.Duration(float64(behind) / (d.fill - 1))
	if elapsed < catchUp {
		return d.from.Add(time.Duration(float64(elapsed) * d.fill))
	}
	return origin.Add(catchUp).Add(time.Duration(float64(elapsed-catchUp) * d.speed))
}

// Progress reports how much of the past is filled, from 0 to 1 (1 when
// there was none to fill), and the demo time reached.
func (d *Demo) Progress() (float64, time.Time) {
	d.mu.Lock()
	started, origin, mono := d.started, d.origin, d.mono
	d.mu.Unlock()
	if !started {
		if d.from.Before(time.Now()) {
			return 0, d.from
		}
		return 1, d.from
	}
	elapsed := time.Since(mono)
	now := d.at(origin, elapsed)
	behind := origin.Sub(d.from)
	if behind <= 0 || d.fill <= 1 {
		return 1, now
	}
	catchUp := time.Duration(float64(behind) / (d.fill - 1))
	return min(1, float64(elapsed)/float64(catchUp)), now
}

// Factor returns how many times faster than real time the clock runs now.
func (d *Demo) Factor() float64 {
	if p, _ := d.Progress(); p < 1 {
		return d.fill
	}
	return d.speed
}

// Speed returns the speed-up after the past is filled.
func (d *Demo) Speed() float64 { return d.speed }
