package selfupdate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/update"
)

// ErrRestart asks the caller to restart the process: the binary on disk
// is not the one running (after a swap or a rollback).
var ErrRestart = errors.New("selfupdate: restart into the binary on disk")

// ErrProbeFailed: the new binary's probe failed; nothing was swapped and
// the target is refused.
var ErrProbeFailed = errors.New("selfupdate: the new binary's probe failed")

// Phase is where an upgrade stands, as the marker records it.
type Phase string

// The phases. Idle has no upgrade under way.
const (
	PhaseIdle        Phase = ""
	PhaseSwapping    Phase = "swapping"
	PhaseTrial       Phase = "trial"
	PhaseRollingBack Phase = "rolling-back"
)

// Outcome is how an upgrade ended.
type Outcome struct {
	From   string    `json:"from"`
	To     string    `json:"to"`
	Target string    `json:"target"`
	Result string    `json:"result"` // "committed" or "rolled back"
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
}

// Marker is the upgrade's state in the state directory (marker.json),
// written atomically before each step, so that a crash anywhere leaves a
// step Boot can finish.
type Marker struct {
	Phase  Phase  `json:"phase,omitempty"`
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
	Target string `json:"target,omitempty"`
	// Attempts counts the starts of the new binary on trial; Started is
	// the first one, from which HealthTimeout runs.
	Attempts int       `json:"attempts,omitempty"`
	Started  time.Time `json:"started,omitzero"`
	// Refused lists targets rolled back or failing their probe, never
	// tried again.
	Refused []string `json:"refused,omitempty"`
	Last    *Outcome `json:"last,omitempty"`
}

const maxRefused = 32

func (m *Marker) refuse(target string) {
	if target == "" || slices.Contains(m.Refused, target) {
		return
	}
	m.Refused = append(m.Refused, target)
	if len(m.Refused) > maxRefused {
		m.Refused = m.Refused[len(m.Refused)-maxRefused:]
	}
}

// Defaults of SwapOptions.
const (
	DefaultMaxAttempts   = 3
	DefaultHealthTimeout = 5 * time.Minute
	DefaultProbeTimeout  = time.Minute
)

// SwapOptions tunes a Swapper. The zero value works.
type SwapOptions struct {
	// MaxAttempts is how many starts the new binary gets to become
	// healthy; the start after them rolls back. 0 → DefaultMaxAttempts.
	MaxAttempts int
	// HealthTimeout is how long after its first start the new binary has
	// to become healthy. 0 → DefaultHealthTimeout.
	HealthTimeout time.Duration
	Clock         clock.Clock // nil → the real clock
	// GOOS decides how the running binary is swapped; "" → runtime.GOOS.
	GOOS string

	// crash, in tests, stops a step at the named point as a crash would.
	crash func(point string) bool
}

// Swapper swaps the executable at Exe, keeping its marker in a state
// directory. Its methods are safe for concurrent use.
type Swapper struct {
	exe, dir string
	opts     SwapOptions
	mu       sync.Mutex
}

// NewSwapper returns a swapper of the executable exe with its marker in
// dir.
func NewSwapper(exe, dir string, opts SwapOptions) (*Swapper, error) {
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.HealthTimeout <= 0 {
		opts.HealthTimeout = DefaultHealthTimeout
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.GOOS == "" {
		opts.GOOS = runtime.GOOS
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("selfupdate: %w", err)
	}
	return &Swapper{exe: exe, dir: dir, opts: opts}, nil
}

// sibling names a file beside the executable: NAME.what, or on Windows
// NAME.what.exe, so that it stays runnable.
func (s *Swapper) sibling(what string) string {
	if s.opts.GOOS == "windows" {
		if base, ok := strings.CutSuffix(s.exe, ".exe"); ok {
			return base + "." + what + ".exe"
		}
	}
	return s.exe + "." + what
}

// Next is where a new binary waits for its probe and the swap.
func (s *Swapper) Next() string { return s.sibling("next") }

// Previous is where the binary before the last swap is kept.
func (s *Swapper) Previous() string { return s.sibling("previous") }

func (s *Swapper) markerPath() string { return filepath.Join(s.dir, "marker.json") }

// Marker returns the persisted marker.
func (s *Swapper) Marker() (Marker, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.load()
}

func (s *Swapper) load() (Marker, error) {
	var m Marker
	b, err := os.ReadFile(s.markerPath())
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return m, fmt.Errorf("selfupdate: marker: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("selfupdate: marker %s: %w", s.markerPath(), err)
	}
	return m, nil
}

func (s *Swapper) save(m Marker) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("selfupdate: marker: %w", err)
	}
	if err := update.WriteFileAtomic(s.markerPath(), b, 0o600); err != nil {
		return fmt.Errorf("selfupdate: marker: %w", err)
	}
	return nil
}

// errCrash is what a step stopped by SwapOptions.crash returns.
var errCrash = errors.New("selfupdate: simulated crash")

func (s *Swapper) crashed(point string) bool { return s.opts.crash != nil && s.opts.crash(point) }

// Release is the upgrade Install performs.
type Release struct {
	From, To, Target string
}

// Install puts the verified binary file in place of the executable: it
// moves it to Next, runs probe on it, swaps and marks the upgrade on
// trial. It returns ErrRestart when the caller must restart into the new
// binary, or an error with nothing swapped (ErrProbeFailed refuses the
// target for good).
func (s *Swapper) Install(ctx context.Context, file string, rel Release, probe func(ctx context.Context, bin string) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.load()
	if err != nil {
		return err
	}
	if m.Phase != PhaseIdle {
		return fmt.Errorf("selfupdate: an upgrade is %s already", m.Phase)
	}
	next := s.Next()
	if err := moveFile(file, next); err != nil {
		return fmt.Errorf("selfupdate: %w", err)
	}
	if err := os.Chmod(next, 0o755); err != nil {
		return fmt.Errorf("selfupdate: %w", err)
	}
	if err := probe(ctx, next); err != nil {
		os.Remove(next)
		m.refuse(rel.Target)
		m.Last = &Outcome{From: rel.From, To: rel.To, Target: rel.Target, Result: "refused", Reason: "probe: " + err.Error(), At: s.opts.Clock.Now()}
		return errors.Join(fmt.Errorf("%w: %s: %w", ErrProbeFailed, rel.To, err), s.save(m))
	}
	if s.crashed("probed") {
		return errCrash
	}
	m.Phase, m.From, m.To, m.Target, m.Attempts, m.Started = PhaseSwapping, rel.From, rel.To, rel.Target, 0, time.Time{}
	if err := s.save(m); err != nil {
		return err
	}
	if err := s.swapIn(); err != nil {
		return err
	}
	m.Phase = PhaseTrial
	if err := s.save(m); err != nil {
		return err
	}
	return ErrRestart
}

// swapIn moves Next over the executable, keeping the executable as
// Previous. It is idempotent: without Next the swap is done.
func (s *Swapper) swapIn() error {
	next, prev := s.Next(), s.Previous()
	if _, err := os.Stat(next); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if s.opts.GOOS == "windows" {
		// A running .exe may be renamed, not replaced: move it away,
		// then the new one in. A crash between leaves no NAME; Boot of
		// the binary started from Previous would finish it, the service
		// manager cannot.
		if _, err := os.Stat(s.exe); err == nil {
			os.Remove(prev)
			if err := os.Rename(s.exe, prev); err != nil {
				return fmt.Errorf("selfupdate: keep the previous binary: %w", err)
			}
		}
		if s.crashed("moved-away") {
			return errCrash
		}
	} else {
		// Unix: the previous binary is a second name of the running
		// one; the rename below replaces NAME atomically.
		if err := keepCopy(s.exe, prev); err != nil {
			return fmt.Errorf("selfupdate: keep the previous binary: %w", err)
		}
		if s.crashed("kept") {
			return errCrash
		}
	}
	if err := os.Rename(next, s.exe); err != nil {
		return fmt.Errorf("selfupdate: swap: %w", err)
	}
	if s.crashed("swapped") {
		return errCrash
	}
	return nil
}

// swapBack moves Previous over the executable again. It is idempotent:
// without Previous the rollback is done.
func (s *Swapper) swapBack() error {
	prev := s.Previous()
	if _, err := os.Stat(prev); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if s.opts.GOOS == "windows" {
		failed := s.sibling("failed")
		if _, err := os.Stat(s.exe); err == nil {
			os.Remove(failed)
			if err := os.Rename(s.exe, failed); err != nil {
				return fmt.Errorf("selfupdate: move the failed binary away: %w", err)
			}
		}
		if s.crashed("moved-away") {
			return errCrash
		}
	}
	if err := os.Rename(prev, s.exe); err != nil {
		return fmt.Errorf("selfupdate: roll back: %w", err)
	}
	if s.crashed("swapped-back") {
		return errCrash
	}
	return nil
}

// Boot is the first thing a start does: it finishes a step a crash
// interrupted and counts a start on trial. It returns ErrRestart when the
// process must restart into the binary on disk (after a rollback, or a
// swap this process did not start from), and otherwise whether an
// upgrade is on trial, to be judged by Healthy.
func (s *Swapper) Boot(version string) (trial bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.load()
	if err != nil {
		return false, err
	}
	switch m.Phase {
	case PhaseIdle:
		// A crash before the swap leaves a probed binary; a Windows
		// rollback leaves the failed one beside. Neither is running.
		os.Remove(s.Next())
		os.Remove(s.sibling("failed"))
		return false, nil
	case PhaseSwapping:
		if err := s.swapIn(); err != nil {
			return false, err
		}
		m.Phase = PhaseTrial
		if err := s.save(m); err != nil {
			return false, err
		}
		fallthrough
	case PhaseTrial:
		m.Attempts++
		if m.Started.IsZero() {
			m.Started = s.opts.Clock.Now()
		}
		if m.Attempts > s.opts.MaxAttempts {
			return false, s.rollback(m, fmt.Sprintf("%s did not become healthy in %d starts", m.To, s.opts.MaxAttempts))
		}
		if err := s.save(m); err != nil {
			return false, err
		}
		if version != m.To {
			return false, ErrRestart
		}
		return true, nil
	case PhaseRollingBack:
		if err := s.finishRollback(m); err != nil {
			return false, err
		}
		if version != m.From {
			return false, ErrRestart
		}
		return false, nil
	}
	return false, fmt.Errorf("selfupdate: marker phase %q", m.Phase)
}

// rollback records the rollback, swaps the previous binary back and
// returns ErrRestart.
func (s *Swapper) rollback(m Marker, reason string) error {
	m.Phase = PhaseRollingBack
	m.refuse(m.Target)
	m.Last = &Outcome{From: m.From, To: m.To, Target: m.Target, Result: "rolled back", Reason: reason, At: s.opts.Clock.Now()}
	if err := s.save(m); err != nil {
		return err
	}
	if s.crashed("marked-rollback") {
		return errCrash
	}
	if err := s.finishRollback(m); err != nil {
		return err
	}
	return ErrRestart
}

func (s *Swapper) finishRollback(m Marker) error {
	if err := s.swapBack(); err != nil {
		return err
	}
	m.Phase, m.Attempts, m.Started = PhaseIdle, 0, time.Time{}
	return s.save(m)
}

// Healthy commits the upgrade on trial.
func (s *Swapper) Healthy() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.load()
	if err != nil || m.Phase != PhaseTrial {
		return err
	}
	m.Last = &Outcome{From: m.From, To: m.To, Target: m.Target, Result: "committed", At: s.opts.Clock.Now()}
	m.Phase, m.Attempts, m.Started = PhaseIdle, 0, time.Time{}
	return s.save(m)
}

// Deadline is when the upgrade on trial must be healthy; zero without one.
func (s *Swapper) Deadline() (time.Time, error) {
	m, err := s.Marker()
	if err != nil || m.Phase != PhaseTrial {
		return time.Time{}, err
	}
	return m.Started.Add(s.opts.HealthTimeout), nil
}

// Unhealthy rolls the upgrade on trial back for reason and returns
// ErrRestart; without a trial it does nothing.
func (s *Swapper) Unhealthy(reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.load()
	if err != nil || m.Phase != PhaseTrial {
		return err
	}
	return s.rollback(m, reason)
}

// moveFile renames from to to, copying across file systems.
func moveFile(from, to string) error {
	if err := os.Rename(from, to); err == nil {
		return nil
	}
	if err := copyFile(from, to); err != nil {
		return err
	}
	return os.Remove(from)
}

// keepCopy makes prev a copy of exe: a hard link where the file system
// has them, else a copy, put in place by a rename.
func keepCopy(exe, prev string) error {
	tmp := prev + ".tmp"
	os.Remove(tmp)
	if err := os.Link(exe, tmp); err != nil {
		if err := copyFile(exe, tmp); err != nil {
			return err
		}
	}
	return os.Rename(tmp, prev)
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
