package sitebench

import (
	"context"
	"log/slog"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/benchrun"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/site"
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// ccFingerprint is the fingerprint of the Command Center that will keep its
// data in dir, for its printers to pair before it starts.
func ccFingerprint(b benchrun.B, dir string) deviceapi.Fingerprint {
	b.Helper()
	fp, err := site.Fingerprint(dir, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	return fp
}

// running is a part of the system the benchmark started, such as a
// server's Run, that runs until stopped.
type running struct {
	b      benchrun.B
	cancel context.CancelFunc
	done   chan error
}

// goRun calls run in a goroutine with a context that ends on Stop or at
// the end of the benchmark, whichever comes first.
func goRun(b benchrun.B, run func(ctx context.Context) error) *running {
	b.Helper()
	ctx, cancel := context.WithCancel(b.Context())
	r := &running{b: b, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- run(ctx) }()
	b.Cleanup(r.Stop)
	return r
}

// Stop ends run's context and waits for it to return; an error it returns,
// or not returning within 30 s, fails the benchmark. Stopping again does
// nothing.
func (r *running) Stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			r.b.Errorf("stop: %v", err)
		}
	case <-time.After(30 * time.Second):
		r.b.Error("did not stop within 30s")
	}
}
