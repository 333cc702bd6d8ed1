package main

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"
)

// The service's state machine, driven as the Windows service control
// manager drives it, with a fake request channel.
func TestServeService(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name       string
		reqs       []serviceRequest
		runEnds    error // run returns this on its own (nil: runs until cancelled)
		runOnStop  error // run returns this when cancelled
		wantStates []serviceState
		wantErr    error
	}{
		{"stop", []serviceRequest{reqInterrogate, reqStop}, nil, nil,
			[]serviceState{stateStartPending, stateRunning, stateRunning, stateStopPending}, nil},
		{"shutdown", []serviceRequest{reqShutdown}, nil, context.Canceled,
			[]serviceState{stateStartPending, stateRunning, stateStopPending}, nil},
		{"fails while stopping", []serviceRequest{reqStop}, nil, errBoom,
			[]serviceState{stateStartPending, stateRunning, stateStopPending}, errBoom},
		{"fails on its own", nil, errBoom, nil,
			[]serviceState{stateStartPending, stateRunning}, errBoom},
		{"ends on its own", nil, nil, nil,
			[]serviceState{stateStartPending, stateRunning}, errStoppedUnasked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				reqs := make(chan serviceRequest)
				endOnItsOwn := make(chan struct{})
				run := func(ctx context.Context) error {
					select {
					case <-ctx.Done():
						return tt.runOnStop
					case <-endOnItsOwn:
						return tt.runEnds
					}
				}
				var states []serviceState
				errc := make(chan error, 1)
				go func() {
					errc <- serveService(t.Context(), run, reqs, func(s serviceState) { states = append(states, s) })
				}()
				for _, r := range tt.reqs {
					reqs <- r
					synctest.Wait()
				}
				if len(tt.reqs) == 0 {
					close(endOnItsOwn)
				}
				err := <-errc
				if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
					t.Errorf("error %v, want %v", err, tt.wantErr)
				}
				if diff := cmp.Diff(tt.wantStates, states); diff != "" {
					t.Errorf("states (-want +got):\n%s", diff)
				}
			})
		})
	}
}
