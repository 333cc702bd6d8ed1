package dashboard

import (
	"strings"
	"sync"
	"time"
)

// The login back-off: after freeFailures failed logins for one user name,
// each further failure locks the name for baseLock, doubling up to maxLock.
// A name with no failure for forgetAfter starts afresh. The lock applies
// whether or not the name exists, so it reveals nothing about accounts.
const (
	freeFailures = 5
	baseLock     = 30 * time.Second
	maxLock      = 15 * time.Minute
	forgetAfter  = time.Hour
	maxTracked   = 10000
)

type attempts struct {
	failures    int
	last        time.Time
	lockedUntil time.Time
}

// limiter tracks failed logins per user name.
type limiter struct {
	mu      sync.Mutex
	entries map[string]*attempts
}

func newLimiter() *limiter { return &limiter{entries: make(map[string]*attempts)} }

func limiterKey(name string) string {
	k := strings.ToLower(strings.TrimSpace(name))
	if len(k) > 128 {
		k = k[:128]
	}
	return k
}

// locked reports whether name may not try to log in at now.
func (l *limiter) locked(name string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.entries[limiterKey(name)]
	return a != nil && now.Before(a.lockedUntil)
}

// fail records a failed login.
func (l *limiter) fail(name string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := limiterKey(name)
	a := l.entries[k]
	if a == nil || now.Sub(a.last) > forgetAfter {
		if len(l.entries) >= maxTracked {
			l.prune(now)
		}
		a = &attempts{}
		l.entries[k] = a
	}
	a.failures++
	a.last = now
	if over := a.failures - freeFailures; over > 0 {
		lock := maxLock
		if over < 16 && baseLock<<(over-1) < maxLock {
			lock = baseLock << (over - 1)
		}
		a.lockedUntil = now.Add(lock)
	}
}

// succeed forgets the failures of name.
func (l *limiter) succeed(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, limiterKey(name))
}

// prune drops stale entries, and if that is not enough, unlocked ones.
func (l *limiter) prune(now time.Time) {
	for k, a := range l.entries {
		if now.Sub(a.last) > forgetAfter {
			delete(l.entries, k)
		}
	}
	for k, a := range l.entries {
		if len(l.entries) < maxTracked {
			return
		}
		if !now.Before(a.lockedUntil) {
			delete(l.entries, k)
		}
	}
}
