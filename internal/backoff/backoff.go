// Package backoff computes how long to wait before trying again after
// consecutive failures: a base wait doubled per failure, capped, and spread
// by jitter so that many clients failing together do not retry together.
// The notification dispatcher, the Command Center's poller and its
// uploader all wait by it.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Policy says how the wait grows. Its zero value waits not at all.
type Policy struct {
	// Base is the wait after the first failure; it doubles per failure.
	Base time.Duration
	// Max caps the wait (before jitter).
	Max time.Duration
	// Jitter is the fraction of the wait taken off at random, in [0, 1]:
	// 0 waits exactly, 0.5 waits between half and all of it.
	Jitter float64
	// Rand returns a number in [0, 1) for the jitter; nil → math/rand/v2.
	// Tests inject a constant.
	Rand func() float64
}

// Delay returns the wait after the n-th consecutive failure: Base doubled
// n-1 times, at most Max, less Jitter·r of it for r drawn from Rand. An n
// below 1 counts as 1.
func (p Policy) Delay(n int) time.Duration {
	d := p.Base
	for i := 1; i < n && d > 0 && d < p.Max; i++ {
		d *= 2
	}
	d = min(d, p.Max)
	if p.Jitter <= 0 || d <= 0 {
		return d
	}
	r := rand.Float64
	if p.Rand != nil {
		r = p.Rand
	}
	return d - time.Duration(min(p.Jitter, 1)*r()*float64(d))
}
