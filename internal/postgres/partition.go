package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/retention"
	"github.com/jackc/pgx/v5"
)

// partitioned names the tables partitioned by month and their time column.
var partitioned = []struct{ table, col string }{
	{"layers", "end_time"},
	{"logs", "time"},
}

// monthsAhead is how many months after the current one have partitions
// ready; one before the current one is created too, for late arrivals.
const monthsAhead = 2

// monthStart returns the first instant of t's month in UTC.
func monthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// partitionName returns the name of table's partition for the month that
// starts at m.
func partitionName(table string, m time.Time) string {
	return fmt.Sprintf("%s_y%04dm%02d", table, m.Year(), int(m.Month()))
}

// EnsurePartitions creates the monthly partitions of layers and log lines
// from the month before now's to monthsAhead months after it. Rows of
// those months already in the default partition move into the new one.
// Prune calls it; it is safe to call from several nodes at once.
func (d *DB) EnsurePartitions(ctx context.Context, now time.Time) error {
	first := monthStart(now).AddDate(0, -1, 0)
	for i := range monthsAhead + 2 {
		m := first.AddDate(0, i, 0)
		for _, p := range partitioned {
			if err := d.ensurePartition(ctx, p.table, p.col, m); err != nil {
				return fmt.Errorf("ensure partitions: %w", err)
			}
		}
	}
	return nil
}

func (d *DB) ensurePartition(ctx context.Context, table, col string, m time.Time) error {
	name := partitionName(table, m)
	d.mu.Lock()
	known := d.partitions[name]
	d.mu.Unlock()
	if known {
		return nil
	}
	lo, hi := m.UnixNano(), m.AddDate(0, 1, 0).UnixNano()
	err := d.tx(ctx, func(tx pgx.Tx) error {
		// One creator at a time per table, across nodes.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "partition:"+table); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return nil
		}
		stmts := []string{
			fmt.Sprintf(`CREATE TABLE %s (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`, name, table),
			fmt.Sprintf(`WITH moved AS (DELETE FROM %s_default WHERE %s >= %d AND %s < %d RETURNING *)
				INSERT INTO %s SELECT * FROM moved`, table, col, lo, col, hi, name),
			fmt.Sprintf(`ALTER TABLE %s ATTACH PARTITION %s FOR VALUES FROM (%d) TO (%d)`, table, name, lo, hi),
		}
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("partition %s: %w", name, err)
	}
	d.mu.Lock()
	d.partitions[name] = true
	d.mu.Unlock()
	return nil
}

// Prune deletes data older than r allows as of now (zero fields of r take
// their defaults) and returns what it removed per kind: rows per table,
// and for layers and logs also whole monthly partitions
// ("layers_partitions", "logs_partitions") dropped once their month ended
// before the cutoff. A partition's rows therefore live up to a month longer
// than the retention. Prune first creates the partitions of the coming
// months (see EnsurePartitions).
func (d *DB) Prune(ctx context.Context, now time.Time, r retention.Retention) (map[string]int64, error) {
	r = r.WithDefaults()
	out := map[string]int64{}
	if err := d.EnsurePartitions(ctx, now); err != nil {
		return out, fmt.Errorf("prune: %w", err)
	}
	keep := map[string]time.Duration{"layers": r.Layers, "logs": r.Logs}
	for _, p := range partitioned {
		cutoff := now.Add(-keep[p.table])
		n, err := d.dropPartitions(ctx, p.table, cutoff)
		out[p.table+"_partitions"] = n
		if err != nil {
			return out, fmt.Errorf("prune %s: %w", p.table, err)
		}
		rows, err := d.exec(ctx, fmt.Sprintf(`DELETE FROM %s_default WHERE %s < $1`, p.table, p.col), cutoff.UnixNano())
		out[p.table] = rows
		if err != nil {
			return out, fmt.Errorf("prune %s: %w", p.table, err)
		}
	}
	for _, t := range []struct {
		table, col string
		keep       time.Duration
	}{
		{"events", "time", r.Events},
		{"gaps", "time", r.Events},
		{"jobs", "created_at", r.Jobs},
		{"parts", "created_at", r.Jobs},
		{"counters_history", "time", r.History},
		{"consumables_history", "time", r.History},
		{"received", "at", r.Received},
	} {
		n, err := d.exec(ctx, `DELETE FROM `+t.table+` WHERE `+t.col+` < $1`, now.Add(-t.keep).UnixNano())
		out[t.table] = n
		if err != nil {
			return out, fmt.Errorf("prune %s: %w", t.table, err)
		}
	}
	return out, nil
}

// dropPartitions drops table's monthly partitions whose month ended at or
// before cutoff and returns how many it dropped.
func (d *DB) dropPartitions(ctx context.Context, table string, cutoff time.Time) (int64, error) {
	names, err := collect(ctx, d, `SELECT c.relname FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
		WHERE p.relname = $1 AND c.relname <> $1 || '_default' ORDER BY c.relname`, []any{table},
		pgx.RowTo[string])
	if err != nil {
		return 0, err
	}
	var n int64
	for _, name := range names {
		var y, mo int
		if _, err := fmt.Sscanf(name[len(table):], "_y%04dm%02d", &y, &mo); err != nil {
			continue // not one of ours
		}
		end := time.Date(y, time.Month(mo), 1, 0, 0, 0, 0, time.UTC).AddDate(0, 1, 0)
		if end.After(cutoff) {
			continue
		}
		if _, err := d.exec(ctx, `DROP TABLE IF EXISTS `+pgx.Identifier{name}.Sanitize()); err != nil {
			return n, err
		}
		d.mu.Lock()
		delete(d.partitions, name)
		d.mu.Unlock()
		n++
	}
	return n, nil
}
