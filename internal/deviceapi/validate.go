package deviceapi

import (
	"errors"
	"fmt"
)

// Validate reports whether the identity is complete.
func (id Identity) Validate() error {
	var errs []error
	if err := id.Identity.Validate(); err != nil {
		errs = append(errs, err)
	}
	if id.Instance == "" {
		errs = append(errs, errors.New("identity: empty instance"))
	}
	return errors.Join(errs...)
}

// Validate reports whether the status is well-formed.
func (s Status) Validate() error {
	var errs []error
	if _, err := s.State.MarshalText(); err != nil {
		errs = append(errs, fmt.Errorf("status: invalid state %d", s.State))
	}
	if s.ETCSeconds < 0 || s.PendingJobs < 0 {
		errs = append(errs, errors.New("status: negative time to completion or pending jobs"))
	}
	if s.Time.IsZero() {
		errs = append(errs, errors.New("status: zero time"))
	}
	if s.Job != nil {
		if err := s.Job.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Validate reports whether the job is well-formed.
func (j Job) Validate() error {
	var errs []error
	if j.ID == "" {
		errs = append(errs, errors.New("job: empty id"))
	}
	if !(j.Progress >= 0 && j.Progress <= 1) {
		errs = append(errs, fmt.Errorf("job %s: progress %v outside 0..1", j.ID, j.Progress))
	}
	if j.LayersDone < 0 || j.LayersTotal < 0 || j.LayersDone > j.LayersTotal {
		errs = append(errs, fmt.Errorf("job %s: %d of %d layers done", j.ID, j.LayersDone, j.LayersTotal))
	}
	return errors.Join(errs...)
}

// Validate reports whether the page is self-consistent: valid events in
// strictly increasing Seq order, none older than First, and Next the last
// Seq returned.
func (p EventPage) Validate() error {
	if p.Instance == "" {
		return errors.New("event page: empty instance")
	}
	for i, e := range p.Events {
		if err := e.Validate(); err != nil {
			return fmt.Errorf("event page: %w", err)
		}
		if i > 0 && e.Seq <= p.Events[i-1].Seq {
			return fmt.Errorf("event page: seq %d after %d, want increasing", e.Seq, p.Events[i-1].Seq)
		}
		if e.Seq < p.First {
			return fmt.Errorf("event page: seq %d older than first %d", e.Seq, p.First)
		}
	}
	if n := len(p.Events); n > 0 && p.Next != p.Events[n-1].Seq {
		return fmt.Errorf("event page: next %d, want last seq %d", p.Next, p.Events[n-1].Seq)
	}
	return nil
}

// checkCursor reports whether the page answers a read after the cursor
// after with at most limit events.
func (p EventPage) checkCursor(after uint64, limit int) error {
	if len(p.Events) > 0 && p.Events[0].Seq <= after {
		return fmt.Errorf("event page: seq %d not after cursor %d", p.Events[0].Seq, after)
	}
	if len(p.Events) == 0 && p.Next != after {
		return fmt.Errorf("event page: empty page moves cursor from %d to %d", after, p.Next)
	}
	if limit > 0 && len(p.Events) > limit {
		return fmt.Errorf("event page: %d events, asked for at most %d", len(p.Events), limit)
	}
	return nil
}
