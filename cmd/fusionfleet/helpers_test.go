package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/wait"
)

// actor is a started part of the system that runs until stopped.
type actor struct {
	cancel context.CancelFunc
	done   chan error
}

func goRun(t *testing.T, run func(ctx context.Context) error) *actor {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	a := &actor{cancel: cancel, done: make(chan error, 1)}
	go func() { a.done <- run(ctx) }()
	t.Cleanup(func() { a.stop(t) })
	return a
}

func (a *actor) stop(t *testing.T) {
	t.Helper()
	if a.cancel == nil {
		return
	}
	a.cancel()
	a.cancel = nil
	select {
	case err := <-a.done:
		if err != nil {
			t.Errorf("stop: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("did not stop within 30s")
	}
}

// eventually waits until cond holds, for what real servers bring about in
// their own time, and fails the test if it does not within timeout.
func eventually(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	if !holds(timeout, cond) {
		t.Fatalf("after %v: %s", timeout, what)
	}
}

// holds waits until cond holds (true) or timeout passed (false).
func holds(timeout time.Duration, cond func() bool) bool {
	return wait.Until(timeout, 50*time.Millisecond, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	}) == nil
}

var errNotYet = errors.New("not yet")
