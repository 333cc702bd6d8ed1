package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/retention"
)

// pruneChunk is the most rows one delete transaction removes, so pruning a
// large backlog never holds the write lock for long.
const pruneChunk = 5000

// Prune deletes data older than r allows as of now (zero fields of r take
// their defaults) and returns the rows removed per table. The latest
// snapshots, printers and tenants are never pruned.
func (d *DB) Prune(ctx context.Context, now time.Time, r retention.Retention) (map[string]int64, error) {
	r = r.WithDefaults()
	out := map[string]int64{}
	for _, t := range []struct {
		table, col string
		keep       time.Duration
	}{
		{"layers", "end_time", r.Layers},
		{"logs", "time", r.Logs},
		{"events", "time", r.Events},
		{"gaps", "time", r.Events},
		{"jobs", "created_at", r.Jobs},
		{"parts", "created_at", r.Jobs},
		{"counters_history", "time", r.History},
		{"consumables_history", "time", r.History},
		{"received", "at", r.Received},
	} {
		cutoff := now.Add(-t.keep).UnixNano()
		q := `DELETE FROM ` + t.table + ` WHERE rowid IN (SELECT rowid FROM ` + t.table + ` WHERE ` + t.col + ` < ? LIMIT ?)`
		for {
			res, err := d.db.ExecContext(ctx, q, cutoff, pruneChunk)
			if err != nil {
				return out, fmt.Errorf("prune %s: %w", t.table, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return out, fmt.Errorf("prune %s: %w", t.table, err)
			}
			out[t.table] += n
			if n < pruneChunk {
				break
			}
		}
	}
	return out, nil
}
