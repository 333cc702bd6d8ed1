package updaterepo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/update"
)

// Staged-rollout halts. The cloud keeps, next to its repository, the set
// of targets whose rollout is halted (DIR/rollout.json); Command Centers
// read it (unsigned, at /tuf/rollout.json) and hold halted targets back
// from their printers. Halting is an availability control, not a security
// control: whoever can change or block that file can at most delay or
// release a target that is already correctly signed, because every printer
// still verifies every target with TUF. The RolloutController halts a
// target by itself when the printers running it raise failure alerts more
// often than printers of the same model on other versions; an operator
// un-halts it (Repo.Unhalt, "fusionfleet release unhalt"), after which
// the controller leaves that target alone.

// ErrNotHalted means Unhalt was asked for a target that is not halted.
var ErrNotHalted = errors.New("target is not halted")

// rolloutFile is the halt state, relative to the repository directory
// (outside what update.NewHandler serves).
const rolloutFile = "rollout.json"

// RolloutState is the halt state of a repository's targets.
type RolloutState struct {
	// Halted lists the halted targets by name.
	Halted map[string]Halt `json:"halted"`
	// Unhalted records when an operator lifted a halt; the controller
	// does not halt those targets again.
	Unhalted map[string]time.Time `json:"unhalted,omitempty"`
	// FirstSeen is when the controller first saw each target: failures
	// count from then on.
	FirstSeen map[string]time.Time `json:"first_seen,omitempty"`
}

// Halt says when and why a target's rollout was halted.
type Halt struct {
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
	Auto   bool      `json:"auto"` // by the controller, not by hand
}

// HaltedNames lists the halted targets, sorted.
func (s RolloutState) HaltedNames() []string { return slices.Sorted(maps.Keys(s.Halted)) }

// Rollout returns the repository's halt state (empty if none was saved).
func (r *Repo) Rollout() (RolloutState, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.readRollout()
}

func (r *Repo) readRollout() (RolloutState, error) {
	s := RolloutState{Halted: map[string]Halt{}, Unhalted: map[string]time.Time{}, FirstSeen: map[string]time.Time{}}
	b, err := os.ReadFile(filepath.Join(r.dir, rolloutFile))
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("rollout state: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("rollout state %s: %w", rolloutFile, err)
	}
	for _, m := range []*map[string]time.Time{&s.Unhalted, &s.FirstSeen} {
		if *m == nil {
			*m = map[string]time.Time{}
		}
	}
	if s.Halted == nil {
		s.Halted = map[string]Halt{}
	}
	return s, nil
}

// changeRollout reads, changes and atomically rewrites the halt state.
func (r *Repo) changeRollout(change func(*RolloutState) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fresh(); err != nil {
		return err
	}
	s, err := r.readRollout()
	if err != nil {
		return err
	}
	if err := change(&s); err != nil {
		return err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("rollout state: %w", err)
	}
	if err := update.WriteFileAtomic(filepath.Join(r.dir, rolloutFile), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("rollout state: %w", err)
	}
	return nil
}

// hasTarget reports whether the current targets metadata names name.
func (r *Repo) hasTarget(name string) bool {
	_, ok := r.targets.Signed.Targets[name]
	return ok
}

// Halt halts the rollout of target name by hand.
func (r *Repo) Halt(name, reason string) error {
	return r.changeRollout(func(s *RolloutState) error {
		if !r.hasTarget(name) {
			return fmt.Errorf("halt %s: %w", name, update.ErrNoUpdate)
		}
		s.Halted[name] = Halt{At: r.opts.Clock.Now().UTC(), Reason: reason}
		delete(s.Unhalted, name)
		return nil
	})
}

// Unhalt lifts the halt of target name. The controller will not halt it
// again.
func (r *Repo) Unhalt(name string) error {
	return r.changeRollout(func(s *RolloutState) error {
		if _, ok := s.Halted[name]; !ok {
			return fmt.Errorf("unhalt %s: %w", name, ErrNotHalted)
		}
		delete(s.Halted, name)
		s.Unhalted[name] = r.opts.Clock.Now().UTC()
		return nil
	})
}

// Rate is how many printers run a release and how many of them raised a
// failure alert.
type Rate struct {
	Printers, Failing int
}

// Fraction is Failing/Printers, 0 without printers.
func (r Rate) Fraction() float64 {
	if r.Printers == 0 {
		return 0
	}
	return float64(r.Failing) / float64(r.Printers)
}

// FailureSource counts printers and their failure alerts; the cloud's
// store provides it.
type FailureSource interface {
	// FailureRates returns, for printers of model, the rate among those
	// running version of kind (firmware version or parameter-set name as
	// the printer reports it) and among those running any other version,
	// counting failure alerts opened since since.
	FailureRates(ctx context.Context, kind update.Kind, model, version string, since time.Time) (target, others Rate, err error)
}

// ControllerOptions tunes a RolloutController. The zero value works.
type ControllerOptions struct {
	Clock  clock.Clock  // zero: the real clock
	Logger *slog.Logger // zero: discard
	// Margin is by how much a target's failing share may exceed that of
	// other versions before it is halted; zero means 0.10 (ten percentage
	// points).
	Margin float64
	// MinPrinters is the sample below which a target is never halted;
	// zero means 5.
	MinPrinters int
	// Interval between evaluations in Run; zero means 15 minutes.
	Interval time.Duration
}

// RolloutController halts targets whose printers fail more often than
// their peers.
type RolloutController struct {
	repo *Repo
	src  FailureSource
	opts ControllerOptions
}

// NewRolloutController returns a controller for repo's targets.
func NewRolloutController(repo *Repo, src FailureSource, opts ControllerOptions) *RolloutController {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Logger = opts.Logger.With("component", "rollout")
	if opts.Margin <= 0 {
		opts.Margin = 0.10
	}
	if opts.MinPrinters <= 0 {
		opts.MinPrinters = 5
	}
	if opts.Interval <= 0 {
		opts.Interval = 15 * time.Minute
	}
	return &RolloutController{repo: repo, src: src, opts: opts}
}

// Evaluate looks at every target once and halts those that fail; it
// returns the names it halted.
func (c *RolloutController) Evaluate(ctx context.Context) ([]string, error) {
	st, err := c.repo.Status()
	if err != nil {
		return nil, fmt.Errorf("rollout: %w", err)
	}
	now := c.opts.Clock.Now().UTC()
	var state RolloutState
	if err := c.repo.changeRollout(func(s *RolloutState) error {
		for _, t := range st.Targets {
			if _, ok := s.FirstSeen[t.Name]; !ok {
				s.FirstSeen[t.Name] = now
			}
		}
		state = *s
		return nil
	}); err != nil {
		return nil, err
	}
	var halted []string
	for _, t := range st.Targets {
		if t.Kind == "" {
			continue // no valid release metadata
		}
		if _, ok := state.Halted[t.Name]; ok {
			continue
		}
		if _, ok := state.Unhalted[t.Name]; ok {
			continue
		}
		for _, model := range t.Models {
			target, others, err := c.src.FailureRates(ctx, t.Kind, model, t.DisplayName(), state.FirstSeen[t.Name])
			if err != nil {
				return halted, fmt.Errorf("rollout %s: %w", t.Name, err)
			}
			if target.Printers < c.opts.MinPrinters || target.Fraction() <= others.Fraction()+c.opts.Margin {
				continue
			}
			reason := fmt.Sprintf("%s: %d of %d printers on %s raised failure alerts (%.0f%%), %.0f%% on other versions",
				model, target.Failing, target.Printers, t.DisplayName(), 100*target.Fraction(), 100*others.Fraction())
			if err := c.repo.changeRollout(func(s *RolloutState) error {
				s.Halted[t.Name] = Halt{At: now, Reason: reason, Auto: true}
				return nil
			}); err != nil {
				return halted, err
			}
			c.opts.Logger.Warn("rollout halted", "target", t.Name, "reason", reason)
			halted = append(halted, t.Name)
			break
		}
	}
	return halted, nil
}

// Run evaluates at every interval until ctx ends; a failed evaluation is
// logged and tried again.
func (c *RolloutController) Run(ctx context.Context) error {
	for {
		if _, err := c.Evaluate(ctx); err != nil && ctx.Err() == nil {
			c.opts.Logger.Warn("rollout evaluation failed", "err", err)
		}
		t := time.NewTimer(c.opts.Interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}
