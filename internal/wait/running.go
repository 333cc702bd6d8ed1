package wait

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Running is a part of the system a test started, such as a server's Run,
// that runs until stopped.
type Running struct {
	t      testing.TB
	cancel context.CancelFunc
	done   chan error
}

// Go calls run in a goroutine with a context that ends on Stop or at the
// end of the test, whichever comes first.
func Go(t testing.TB, run func(ctx context.Context) error) *Running {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	r := &Running{t: t, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- run(ctx) }()
	t.Cleanup(r.Stop)
	return r
}

// Stop ends run's context and waits for it to return; an error it returns,
// or not returning within 30 s, fails the test. Stopping again does
// nothing.
func (r *Running) Stop() {
	r.t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			r.t.Errorf("stop: %v", err)
		}
	case <-time.After(30 * time.Second):
		r.t.Error("did not stop within 30s")
	}
}

// For waits until cond holds, checking every 50 ms, and fails the test
// with what if it does not within limit.
func For(t testing.TB, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	if !Holds(limit, cond) {
		t.Fatalf("after %v: %s", limit, what)
	}
}

// Holds waits until cond holds (true) or limit passed (false), checking
// every 50 ms.
func Holds(limit time.Duration, cond func() bool) bool {
	return Until(limit, 50*time.Millisecond, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	}) == nil
}

var errNotYet = errors.New("not yet")
