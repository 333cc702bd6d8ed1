// Package keepawake keeps the host from sleeping while the Command Center
// runs (R-ARCH-8): on Linux with a logind sleep inhibitor held by a
// systemd-inhibit child process, on Windows with the thread execution state
// ES_SYSTEM_REQUIRED. Where that is not possible it says why, for the local
// UI's self-test to warn.
//
// Linux: logind's inhibitors are taken over D-Bus. Rather than link a D-Bus
// client, the inhibitor runs `systemd-inhibit --what=sleep:idle
// --mode=block cat`: systemd-inhibit takes the lock, then runs cat, whose
// standard input is a pipe this process holds. A line written into the pipe
// comes back once cat runs, that is once the lock is held; when this
// process ends, however it ends, the pipe closes, cat and systemd-inhibit
// exit, and logind drops the lock.
package keepawake

import (
	"context"
	"errors"
	"log/slog"
	"sync"
)

// ErrPending: the inhibitor has not been taken yet.
var ErrPending = errors.New("keep-awake: not taken yet")

// Options configure an Inhibitor. The zero value works.
type Options struct {
	// Command holds the lock while it runs, echoing its standard input to
	// its standard output once held (Linux); nil → systemd-inhibit
	// wrapping cat.
	Command []string
	// Why is shown by `systemd-inhibit --list`; "" → a default.
	Why    string
	Logger *slog.Logger // nil → discard
}

// Inhibitor holds the host awake while Run runs.
type Inhibitor struct {
	opts    Options
	settled chan struct{} // closed once taken or failed
	once    sync.Once
	mu      sync.Mutex
	err     error
}

// New returns an inhibitor; Run takes it.
func New(opts Options) *Inhibitor {
	if opts.Why == "" {
		opts.Why = "the Command Center collects the printers' data"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Inhibitor{opts: opts, err: ErrPending, settled: make(chan struct{})}
}

// Status is nil while the host is kept awake, else why it is not.
func (i *Inhibitor) Status() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.err
}

// Settled is closed once Run has taken the inhibitor or failed to.
func (i *Inhibitor) Settled() <-chan struct{} { return i.settled }

func (i *Inhibitor) set(err error) {
	i.mu.Lock()
	i.err = err
	i.mu.Unlock()
	i.once.Do(func() { close(i.settled) })
}

// Run takes the inhibitor and holds it until ctx is done. Failing to take
// it is not an error of Run's (the Command Center runs on, and the
// self-test warns): it is logged once and kept for Status.
func (i *Inhibitor) Run(ctx context.Context) error {
	err := hold(ctx, i.opts, func() {
		i.set(nil)
		i.opts.Logger.Info("keep-awake: this computer is kept awake while the Command Center runs")
	})
	if ctx.Err() == nil && err != nil {
		i.set(err)
		i.opts.Logger.Warn("keep-awake: cannot keep this computer awake; it may sleep and stop collecting", "err", err)
		<-ctx.Done()
	}
	i.set(errors.New("keep-awake: stopped"))
	return nil
}
