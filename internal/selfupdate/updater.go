package selfupdate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/update"
)

// Downloader verifies and downloads a release: update.Client.Download.
type Downloader interface {
	Download(ctx context.Context, kind update.Kind, installed string, skip []string, dir string) (update.Target, string, error)
}

// Options tunes an Updater. The zero value works.
type Options struct {
	// Interval between checks; 0 → 5 minutes.
	Interval time.Duration
	// ProbeTimeout bounds the new binary's probe; 0 → DefaultProbeTimeout.
	ProbeTimeout time.Duration
	// HealthInterval is how often a trial's health is checked; 0 → 2 s.
	HealthInterval time.Duration
	Clock          clock.Clock  // nil → the real clock
	Logger         *slog.Logger // nil → discard
}

// Updater is the Command Center's self-update actor: it judges a trial
// (Health) and looks for newer releases (Run).
type Updater struct {
	version string
	dl      Downloader
	swap    *Swapper
	probe   ProbeFunc
	health  func(ctx context.Context) error
	opts    Options
}

// ProbeFunc runs the new binary bin in probe mode and returns nil when it
// exited 0 and reported the version it was released as.
type ProbeFunc func(ctx context.Context, bin, version string) error

// NewUpdater returns the updater of a binary of the given version. dl
// verifies and downloads releases (nil: only judge a trial, never look
// for releases: self-update is off); probe runs a new binary in probe
// mode; health returns nil once the running node is healthy.
func NewUpdater(version string, dl Downloader, swap *Swapper, probe ProbeFunc,
	health func(ctx context.Context) error, opts Options) *Updater {
	if opts.Interval <= 0 {
		opts.Interval = 5 * time.Minute
	}
	if opts.ProbeTimeout <= 0 {
		opts.ProbeTimeout = DefaultProbeTimeout
	}
	if opts.HealthInterval <= 0 {
		opts.HealthInterval = 2 * time.Second
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Logger = opts.Logger.With("component", "selfupdate")
	return &Updater{version: version, dl: dl, swap: swap, probe: probe, health: health, opts: opts}
}

// Run judges an upgrade on trial, then checks for releases at every
// interval until ctx ends. It returns ErrRestart when the process must
// restart: after a swap, or a rollback of an unhealthy trial.
func (u *Updater) Run(ctx context.Context) error {
	if err := u.judge(ctx); err != nil {
		return err
	}
	if u.dl == nil {
		<-ctx.Done()
		return nil
	}
	for {
		err := u.Check(ctx)
		switch {
		case errors.Is(err, ErrRestart):
			return err
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, update.ErrNoUpdate):
		case err != nil:
			u.opts.Logger.Warn("self-update failed", "err", err)
		}
		if !sleep(ctx, u.opts.Interval) {
			return nil
		}
	}
}

// judge waits for the trial's health until its deadline: healthy commits,
// the deadline rolls back.
func (u *Updater) judge(ctx context.Context) error {
	deadline, err := u.swap.Deadline()
	if err != nil || deadline.IsZero() {
		return err
	}
	u.opts.Logger.Info("upgrade on trial", "version", u.version, "deadline", deadline)
	var last error
	for {
		if last = u.health(ctx); last == nil {
			if err := u.swap.Healthy(); err != nil {
				return err
			}
			u.opts.Logger.Info("upgrade committed", "version", u.version)
			return nil
		}
		if !u.opts.Clock.Now().Before(deadline) {
			u.opts.Logger.Warn("upgrade not healthy in time: rolling back", "version", u.version, "err", last)
			return u.swap.Unhealthy(fmt.Sprintf("not healthy by %s: %v", deadline.Format(time.RFC3339), last))
		}
		if !sleep(ctx, min(u.opts.HealthInterval, deadline.Sub(u.opts.Clock.Now()))) {
			return nil
		}
	}
}

// Check downloads the newest release newer than the running one, verified,
// probes it and swaps it in: ErrRestart then. update.ErrNoUpdate when
// there is none.
func (u *Updater) Check(ctx context.Context) error {
	m, err := u.swap.Marker()
	if err != nil {
		return err
	}
	dir := filepath.Join(u.swap.dir, "download")
	os.RemoveAll(dir)
	t, file, err := u.dl.Download(ctx, update.KindCommandCenter, u.version, m.Refused, dir)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	log := u.opts.Logger.With("target", t.Name, "version", t.Version)
	log.Info("verified a new Command Center release; probing it")
	probe := func(ctx context.Context, bin string) error {
		ctx, cancel := context.WithTimeout(ctx, u.opts.ProbeTimeout)
		defer cancel()
		return u.probe(ctx, bin, t.Version)
	}
	err = u.swap.Install(ctx, file, Release{From: u.version, To: t.Version, Target: t.Name}, probe)
	if errors.Is(err, ErrRestart) {
		log.Info("new release swapped in: restarting into it", "previous", u.version)
	}
	return err
}

// Status is what the local UI and the metrics show.
type Status struct {
	Version string   `json:"version"`
	Enabled bool     `json:"enabled"`
	Phase   Phase    `json:"phase,omitempty"`
	Pending string   `json:"pending,omitempty"` // the version on trial
	Refused []string `json:"refused,omitempty"`
	Last    *Outcome `json:"last,omitempty"`
}

// Status reports the running version and the marker's state.
func (u *Updater) Status() Status {
	st := Status{Version: u.version, Enabled: u.dl != nil}
	m, err := u.swap.Marker()
	if err != nil {
		return st
	}
	st.Phase, st.Refused, st.Last = m.Phase, m.Refused, m.Last
	if m.Phase != PhaseIdle {
		st.Pending = m.To
	}
	return st
}

// sleep waits d, or until ctx ends: false then.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
