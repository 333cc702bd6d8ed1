package uplink

import (
	"math"
	"sync"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"golang.org/x/time/rate"
)

// limiters holds one token bucket per authenticated gateway: tokens are
// records (or, in a second set, decompressed bytes), refilled at a fixed rate up to a burst. Only gateways whose
// signature checked out get a bucket, so the map is bounded by the enrolled
// gateways; full buckets (no different from new ones) are pruned as it grows.
type limiters struct {
	rate  rate.Limit // records per second; rate.Inf → no limit
	burst int

	mu        sync.Mutex
	m         map[fleet.GatewayID]*rate.Limiter
	pruneAt   int
	pruneBase int
}

func newLimiters(perSecond float64, burst int) *limiters {
	r := rate.Limit(perSecond)
	if perSecond < 0 {
		r = rate.Inf
	}
	return &limiters{rate: r, burst: burst, m: map[fleet.GatewayID]*rate.Limiter{}, pruneAt: 1024, pruneBase: 1024}
}

func (l *limiters) get(id fleet.GatewayID, now time.Time) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if lim, ok := l.m[id]; ok {
		return lim
	}
	if len(l.m) >= l.pruneAt {
		for k, lim := range l.m {
			if lim.TokensAt(now) >= float64(l.burst) {
				delete(l.m, k)
			}
		}
		l.pruneAt = 2*len(l.m) + l.pruneBase
	}
	lim := rate.NewLimiter(l.rate, l.burst)
	l.m[id] = lim
	return lim
}

// ready reports how long gateway id must wait before it has n tokens (at
// most the burst): a cheap check before its body is decompressed.
func (l *limiters) ready(id fleet.GatewayID, n int, now time.Time) time.Duration {
	if l.rate == rate.Inf {
		return 0
	}
	need := float64(min(max(n, 1), l.burst))
	tokens := l.get(id, now).TokensAt(now)
	if tokens >= need {
		return 0
	}
	return time.Duration((need - tokens) / float64(l.rate) * float64(time.Second))
}

// take takes n tokens for gateway id. It returns 0 when they were taken,
// otherwise how long to wait before n tokens are there (nothing taken).
// ok is false when n exceeds the burst: such a batch can never pass.
func (l *limiters) take(id fleet.GatewayID, n int, now time.Time) (wait time.Duration, ok bool) {
	_, wait, ok = l.reserve(id, n, now)
	return wait, ok
}

// reserve is take that also returns how to give the tokens back, when
// they were taken.
func (l *limiters) reserve(id fleet.GatewayID, n int, now time.Time) (undo func(), wait time.Duration, ok bool) {
	if l.rate == rate.Inf {
		return func() {}, 0, true
	}
	if n > l.burst {
		return nil, 0, false
	}
	r := l.get(id, now).ReserveN(now, n)
	if !r.OK() {
		return nil, 0, false
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return nil, d, true
	}
	return func() { r.CancelAt(now) }, 0, true
}

// charge takes n tokens (at most the burst) for gateway id whether it has
// them or not: a debt its next uploads wait out.
func (l *limiters) charge(id fleet.GatewayID, n int, now time.Time) {
	if l.rate == rate.Inf || n <= 0 {
		return
	}
	l.get(id, now).ReserveN(now, min(n, l.burst))
}

// inFlight counts the uploads each gateway has in progress, to hold every
// gateway to at most max at once. Only gateways with an upload in progress
// have an entry.
type inFlight struct {
	max int

	mu sync.Mutex
	n  map[fleet.GatewayID]int
}

func newInFlight(limit int) *inFlight {
	return &inFlight{max: limit, n: map[fleet.GatewayID]int{}}
}

// acquire counts an upload of gateway id in, unless it has max in
// progress already. A true result must be followed by release.
func (f *inFlight) acquire(id fleet.GatewayID) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n[id] >= f.max {
		return false
	}
	f.n[id]++
	return true
}

// release counts an upload of gateway id out.
func (f *inFlight) release(id fleet.GatewayID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n[id]--; f.n[id] <= 0 {
		delete(f.n, id)
	}
}

// retryAfter rounds a wait up to whole seconds, at least one.
func retryAfterFor(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
