package main

import (
	"context"
	"errors"
)

// serviceRequest is what a service manager asks of a running service.
type serviceRequest uint8

const (
	reqInterrogate serviceRequest = iota // report the current state again
	reqStop
	reqShutdown // the host shuts down: stop as for reqStop
)

// serviceState is what a service reports to its manager.
type serviceState uint8

const (
	stateStartPending serviceState = iota
	stateRunning
	stateStopPending
)

// errStoppedUnasked: the Command Center ended though nobody asked it to;
// the service manager's recovery restarts it.
var errStoppedUnasked = errors.New("the Command Center stopped without being asked to")

// serveService runs run as a service: it reports start pending, then
// running; on a stop or shutdown request it cancels run's context and
// reports stop pending; it returns once run has returned: nil after a
// requested stop, else run's error (or errStoppedUnasked), for the manager
// to restart it. The manager itself reports the service stopped. The
// Windows service (service_windows.go) maps its requests and states to
// these; here they can be tested on every platform.
func serveService(ctx context.Context, run func(context.Context) error, reqs <-chan serviceRequest, report func(serviceState)) error {
	report(stateStartPending)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	state := stateRunning
	report(state)
	for {
		select {
		case r := <-reqs:
			switch r {
			case reqInterrogate:
				report(state)
			case reqStop, reqShutdown:
				if state == stateRunning {
					state = stateStopPending
					report(state)
					cancel()
				}
			}
		case err := <-done:
			if state == stateStopPending {
				if err == nil || errors.Is(err, context.Canceled) {
					return nil
				}
				return err
			}
			if err == nil {
				return errStoppedUnasked
			}
			return err
		}
	}
}
