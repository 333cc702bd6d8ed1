package update

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"
)

// Device is what an Agent updates: a printer that can be told which
// firmware and which print-parameter set are now in effect.
// *printer.Printer implements it.
type Device interface {
	// BeginUpdate reserves the device for an installation: it fails
	// (saying why) while the device runs a job, and otherwise keeps
	// any job from starting until end is called.
	BeginUpdate() (end func(), err error)
	SetFirmware(version string)
	SetParameterSet(name string)
}

// ParameterApplier is a Device that applies a parameter set's content,
// not only its name: the agent hands it the verified file, and a set it
// refuses fails the start, so the printer goes back to the previous one.
// *printer.Printer implements it.
type ParameterApplier interface {
	ApplyParameterSet(name string, doc []byte) error
}

// maxParameterFile bounds the parameter set file the agent reads back.
const maxParameterFile = 1 << 20

// AgentOptions tunes an Agent. The zero value works.
type AgentOptions struct {
	Interval time.Duration // between checks; zero: one hour
	Kinds    []Kind        // what to update; zero: all kinds
	// StartCheck decides whether a release that was just activated
	// started well; an error rolls it back. Zero: every start succeeds.
	StartCheck StartFunc
	// Approved, if set, is asked before a release is installed; false
	// holds it (the site wants to approve updates first, or the release
	// is halted). It can only hold a release, never make one acceptable:
	// what it allows is still verified. Zero: every release is approved.
	Approved func(ctx context.Context, t Target) (bool, error)
	Logger   *slog.Logger // zero: discard
}

// Agent runs on the printer: it periodically checks the mirror, installs
// what applies and tells the device.
type Agent struct {
	client *Client
	dev    Device
	opts   AgentOptions
	log    *slog.Logger
}

// NewAgent returns an agent that updates dev through client.
func NewAgent(client *Client, dev Device, opts AgentOptions) *Agent {
	if opts.Interval <= 0 {
		opts.Interval = time.Hour
	}
	if len(opts.Kinds) == 0 {
		opts.Kinds = Kinds
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Agent{client: client, dev: dev, opts: opts, log: opts.Logger.With("component", "update")}
}

// Run first tells the device what its active slots hold if an update put
// it there (a restart may have rolled one back), then checks every
// Interval until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	for _, k := range a.opts.Kinds {
		s, err := a.client.Installed(k)
		if err != nil {
			return err
		}
		if s.Target != "" {
			path, err := a.client.ActiveFile(k)
			if err != nil {
				return err
			}
			if err := a.activate(k, s.Name, path); err != nil {
				// The slot was verified when installed; a set the device
				// refuses now is logged and the device keeps its default.
				a.log.Warn("installed release not applied", "kind", k, "name", s.Name, "err", err)
			}
		}
	}
	t := time.NewTicker(a.opts.Interval)
	defer t.Stop()
	last := "" // the last round's errors: a lasting problem is logged once
	for {
		errs := a.Check(ctx)
		if ctx.Err() != nil {
			return nil
		}
		now := errors.Join(errs...)
		switch {
		case now != nil && now.Error() != last:
			for _, err := range errs {
				a.log.Warn("update check", "err", err)
			}
			last = now.Error()
		case now == nil && last != "":
			a.log.Info("update checks work again")
			last = ""
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Check runs one round: for each kind, install the newest applicable
// release. It returns the errors of the round (none if nothing applied).
func (a *Agent) Check(ctx context.Context) []error {
	var errs []error
	for _, k := range a.opts.Kinds {
		in, err := a.update(ctx, k)
		switch {
		case errors.Is(err, ErrNoUpdate):
		case errors.Is(err, ErrUnavailable):
			// The other kinds would only fail the same way.
			return append(errs, err)
		case err != nil:
			errs = append(errs, err)
		default:
			a.log.Info("updated", "kind", k, "version", in.Version, "name", in.Name, "previous", in.Previous.Version)
		}
	}
	return errs
}

// update installs the newest applicable release of kind k, if approved
// and the device is idle. The device stays reserved from the approval
// through download and start, so no job begins on the old release and
// ends on the new one; a busy device holds the release until a later
// round finds it idle.
func (a *Agent) update(ctx context.Context, k Kind) (Installed, error) {
	var end func()
	defer func() {
		if end != nil {
			end()
		}
	}()
	return a.client.UpdateApproved(ctx, k, func(ctx context.Context, t Target) (bool, error) {
		if a.opts.Approved != nil {
			ok, err := a.opts.Approved(ctx, t)
			if err == nil && !ok {
				a.log.Info("update held until approved", "kind", k, "target", t.Name, "version", t.Version)
			}
			if err != nil || !ok {
				return ok, err
			}
		}
		e, err := a.dev.BeginUpdate()
		if err != nil {
			a.log.Info("update held until the printer is idle", "kind", k, "target", t.Name, "version", t.Version, "reason", err)
			return false, nil
		}
		end = e
		return true, nil
	}, a.start(k))
}

// start activates a release on the device and runs the start check,
// reactivating the previous release if it fails.
func (a *Agent) start(k Kind) StartFunc {
	return func(ctx context.Context, in Installed) error {
		err := a.activate(k, in.Name, in.Path)
		if err == nil && a.opts.StartCheck != nil {
			err = a.opts.StartCheck(ctx, in)
		}
		if err != nil {
			if in.Previous.Name != "" {
				if perr := a.activate(k, in.Previous.Name, in.PreviousPath); perr != nil {
					a.log.Warn("previous release not applied", "kind", k, "name", in.Previous.Name, "err", perr)
				}
			}
			return err
		}
		return nil
	}
}

// activate tells the device that the release called name, installed as
// the file at path (empty: the factory install), is in effect.
func (a *Agent) activate(k Kind, name, path string) error {
	switch k {
	case KindFirmware:
		a.dev.SetFirmware(name)
	case KindParameters:
		pa, ok := a.dev.(ParameterApplier)
		if !ok || path == "" {
			a.dev.SetParameterSet(name)
			return nil
		}
		doc, err := readLimited(path, maxParameterFile)
		if err != nil {
			return fmt.Errorf("parameter set %s: %w", name, err)
		}
		if err := pa.ApplyParameterSet(name, doc); err != nil {
			return fmt.Errorf("parameter set %s: %w", name, err)
		}
	}
	return nil
}

// readLimited reads a file of at most limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return b, nil
}
