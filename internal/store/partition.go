package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// partitioned names the PostgreSQL tables partitioned by month and their
// time column.
var partitioned = map[string]string{"layers": "end_time", "logs": "time"}

func isPartitioned(table string) bool { _, ok := partitioned[table]; return ok }

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
// from the month before now's to monthsAhead months after it, on
// PostgreSQL; a SQLite store has none. Rows of those months already in the
// default partition move into the new one. Prune calls it; it is safe to
// call from several nodes at once.
func (d *DB) EnsurePartitions(ctx context.Context, now time.Time) error {
	if d.dialect.kind != postgres {
		return nil
	}
	first := monthStart(now).AddDate(0, -1, 0)
	for i := range monthsAhead + 2 {
		m := first.AddDate(0, i, 0)
		for _, table := range []string{"layers", "logs"} {
			if err := d.ensurePartition(ctx, table, partitioned[table], m); err != nil {
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
	err := d.tx(ctx, func(tx *txn) error {
		// One creator at a time per table, across nodes.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext(?))`, "partition:"+table); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRowContext(ctx, `SELECT to_regclass(?) IS NOT NULL`, name).Scan(&exists); err != nil {
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
			if _, err := tx.ExecContext(ctx, s); err != nil {
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

// dropPartitions drops table's monthly partitions whose month ended at or
// before cutoff and returns how many it dropped.
func (d *DB) dropPartitions(ctx context.Context, table string, cutoff time.Time) (int64, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT c.relname FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
		WHERE p.relname = ? AND c.relname <> ? ORDER BY c.relname`, table, table+"_default")
	if err != nil {
		return 0, err
	}
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return 0, err
		}
		names = append(names, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
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
		if _, err := d.db.ExecContext(ctx, `DROP TABLE IF EXISTS `+pgx.Identifier{name}.Sanitize()); err != nil {
			return n, err
		}
		d.mu.Lock()
		delete(d.partitions, name)
		d.mu.Unlock()
		n++
	}
	return n, nil
}
