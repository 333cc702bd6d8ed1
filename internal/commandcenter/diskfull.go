package commandcenter

import (
	"context"
	"errors"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// A full disk pauses collection: a poll whose results cannot be stored
// stores nothing (one transaction), so no feed cursor moves and the data
// waits on the printer. The outbox health says the disk is full, which the
// local UI shows on every page and the metrics as a failing append, until
// a poll is stored again; the poller retries with backoff meanwhile.

// storePoll stores a successful poll (observe) and keeps the outbox health.
func (s *Store) storePoll(ctx context.Context, id int64, o observation, recs []fleet.Record) error {
	err := storageErr(s.observe(ctx, id, o, recs))
	s.noteCollection(err, o.Seen)
	return err
}

// storeLogs stores a read of a device log (readLogs) and keeps the outbox
// health.
func (s *Store) storeLogs(ctx context.Context, id int64, kind fleet.LogKind, pos FeedPosition, seen time.Time, gaps []fleet.Gap, recs []fleet.Record) error {
	err := storageErr(s.readLogs(ctx, id, kind, pos, seen, gaps, recs))
	s.noteCollection(err, seen)
	return err
}

// noteCollection records the outcome of storing collected data in the
// outbox health: a full disk marks it failing, a success clears it (the
// disk took a write). Other failures belong to the poll, not the disk.
func (s *Store) noteCollection(err error, at time.Time) {
	s.ob.healthMu.Lock()
	defer s.ob.healthMu.Unlock()
	switch {
	case err == nil:
		s.ob.health = OutboxHealth{}
	case errors.Is(err, ErrDiskFull):
		s.ob.health = OutboxHealth{Failing: true, DiskFull: true, LastError: err.Error(), LastErrorAt: at}
	}
}
