package store

import (
	"context"
	"fmt"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/retention"
)

// pruneChunk is the most rows one SQLite delete transaction removes, so
// pruning a large backlog never holds the write lock for long.
const pruneChunk = 5000

// Prune deletes data older than r allows as of now (zero fields of r take
// their defaults) and returns the rows removed per table. The latest
// snapshots, printers and tenants are never pruned. What lives on real
// time (sessions, login challenges, counts of failed logins) is pruned by
// PruneLogins, which the demo drives with another clock.
//
// On PostgreSQL, layers and log lines live in monthly partitions: Prune
// first creates the partitions of the coming months (see
// EnsurePartitions), then drops whole partitions whose month ended before
// the cutoff and reports them as "layers_partitions" and "logs_partitions"
// (a partition's rows therefore live up to a month longer than the
// retention); the rows counted under "layers" and "logs" are those of the
// default partition.
func (d *DB) Prune(ctx context.Context, now time.Time, r retention.Retention) (map[string]int64, error) {
	r = r.WithDefaults()
	out := map[string]int64{}
	tables := []struct {
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
	}
	if d.dialect.kind == postgres {
		if err := d.EnsurePartitions(ctx, now); err != nil {
			return out, fmt.Errorf("prune: %w", err)
		}
	}
	for _, t := range tables {
		cutoff := now.Add(-t.keep)
		if d.dialect.kind == postgres && isPartitioned(t.table) {
			n, err := d.dropPartitions(ctx, t.table, cutoff)
			out[t.table+"_partitions"] = n
			if err != nil {
				return out, fmt.Errorf("prune %s: %w", t.table, err)
			}
		}
		n, err := d.deleteBefore(ctx, t.table, t.col, cutoff.UnixNano())
		out[t.table] = n
		if err != nil {
			return out, fmt.Errorf("prune %s: %w", t.table, err)
		}
	}
	return out, nil
}

// deleteBefore deletes the rows of table whose col is before cutoff: on
// SQLite in chunks of pruneChunk rows, on PostgreSQL (from the default
// partition, for a partitioned table) in one statement.
func (d *DB) deleteBefore(ctx context.Context, table, col string, cutoff int64) (int64, error) {
	if d.dialect.kind == postgres {
		if isPartitioned(table) {
			table += "_default"
		}
		res, err := d.db.ExecContext(ctx, `DELETE FROM `+table+` WHERE `+col+` < ?`, cutoff)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}
	q := `DELETE FROM ` + table + ` WHERE rowid IN (SELECT rowid FROM ` + table + ` WHERE ` + col + ` < ? LIMIT ?)`
	var total int64
	for {
		res, err := d.db.ExecContext(ctx, q, cutoff, pruneChunk)
		if err != nil {
			return total, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += n
		if n < pruneChunk {
			return total, nil
		}
	}
}

// PruneLogins deletes, as of now on the logins' own clock (real time,
// even in the demo), the sessions and login challenges that have expired
// and the counts of failed logins a day after their last failure, when no
// lock holds any more. It returns the rows removed per table, and has
// Prune's signature so that retention.Run drives it (r is unused).
func (d *DB) PruneLogins(ctx context.Context, now time.Time, _ retention.Retention) (map[string]int64, error) {
	out := map[string]int64{}
	for _, t := range []struct {
		table, col string
		cutoff     time.Time
	}{
		{"sessions", "expires_at", now},
		{"login_challenges", "expires_at", now},
		{"login_failures", "last_at", now.Add(-keepFailures)}, // see the login throttle
	} {
		n, err := d.deleteBefore(ctx, t.table, t.col, t.cutoff.UnixNano())
		out[t.table] = n
		if err != nil {
			return out, fmt.Errorf("prune %s: %w", t.table, err)
		}
	}
	return out, nil
}
