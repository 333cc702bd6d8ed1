package commandcenter

import (
	"context"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// A full disk pauses collection: a poll whose results cannot be stored
// stores nothing (one transaction), so no feed cursor moves and the data
// waits on the printer. The outbox health says the disk is full, which the
// local UI shows on every page and the metrics as a failing append, until
// a poll is stored again; the poller retries with backoff meanwhile.

// storeLogs stores a read of a device log (readLogs) and keeps the outbox
// health.
func (s *Store) storeLogs(ctx context.Context, id int64, kind fleet.LogKind, pos FeedPosition, seen time.Time, gaps []fleet.Gap, recs []fleet.Record) error {
	return s.ob.Stored(s.readLogs(ctx, id, kind, pos, seen, gaps, recs), seen)
}
