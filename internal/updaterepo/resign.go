package updaterepo

import (
	"context"
	"errors"
	"sync"
	"time"
)

const (
	// resignEvery is well within the one-day timestamp expiry, so that a
	// missed run or two still leaves the Command Centers valid metadata.
	resignEvery = 6 * time.Hour
	// resignAtStartWithin: at start, re-sign at once if the timestamp
	// would expire within this.
	resignAtStartWithin = 12 * time.Hour
	// lookAgainEvery is how soon the scheduler looks again for a
	// repository that is not there yet.
	lookAgainEvery = time.Minute
	// watchEvery is how often the service looks whether another process
	// (the release tool on this directory) published, so that the
	// releases on offer and the update alerts follow within seconds.
	watchEvery = 5 * time.Second
)

// Run re-signs snapshot and timestamp on a schedule (at once if the
// timestamp expires soon) and, with a failure source, runs the rollout
// controller, until ctx ends.
func (s *Service) Run(ctx context.Context, failures FailureSource) error {
	controllerStarted := false
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { s.watch(ctx) })
	first := true
	for {
		if repo, err := s.open(); err == nil {
			if err := s.resign(repo, first); err != nil {
				s.log.Warn("re-sign failed; will retry", "err", err)
			}
			first = false
			if failures != nil && !controllerStarted {
				controllerStarted = true
				c := NewRolloutController(repo, failures, ControllerOptions{Clock: s.opts.Clock, Logger: s.log})
				wg.Go(func() { c.Run(ctx) })
			}
		} else if !errors.Is(err, ErrNoRepository) {
			s.log.Warn("update repository", "err", err)
		}
		wait := resignEvery
		if first {
			wait = lookAgainEvery
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// resign signs a new snapshot and timestamp; at start only if the current
// timestamp expires within resignAtStartWithin.
func (s *Service) resign(repo *Repo, atStart bool) error {
	if atStart {
		st, err := repo.Status()
		if err != nil {
			return err
		}
		if st.TimestampExpires.Sub(s.opts.Clock.Now()) > resignAtStartWithin {
			return nil
		}
	}
	if err := repo.Resign(); err != nil {
		return err
	}
	s.log.Info("snapshot and timestamp re-signed")
	return nil
}

// watch refreshes the open repository every watchEvery until ctx ends; a
// change found wakes Changed.
func (s *Service) watch(ctx context.Context) {
	t := time.NewTicker(watchEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		repo := s.repo
		s.mu.Unlock()
		if repo == nil {
			continue // open finds it; Run looks for it
		}
		if err := repo.Refresh(); err != nil {
			s.log.Warn("update repository", "err", err)
		}
	}
}
