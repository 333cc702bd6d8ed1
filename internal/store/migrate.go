package store

import (
	"bufio"
	"context"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/fusionfleet/fusionfleet/internal/sqlitedb"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the PostgreSQL advisory lock key held while migrating.
const migrationLock = 0x46466c656574 // "FFleet"

// migrations lists the embedded migration files by version.
func migrations() ([]sqlitedb.Migration, error) {
	dir, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	return sqlitedb.Migrations(dir)
}

// dialectSQL returns the statements of a migration file for dialect k: a
// line ending in "-- sqlite" or "-- postgres" is kept, without the marker,
// only for that dialect; every other line is for both.
func dialectSQL(body string, k dialectKind) string {
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		for _, m := range []struct {
			marker string
			kind   dialectKind
		}{{"-- sqlite", sqlite}, {"-- postgres", postgres}} {
			if s, ok := strings.CutSuffix(strings.TrimRight(line, " \t"), m.marker); ok {
				if m.kind != k {
					line = ""
				} else {
					line = strings.TrimRight(s, " \t")
				}
				break
			}
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// migrate applies the pending migrations in one transaction, recorded in
// store_migrations. On PostgreSQL the transaction first takes an advisory
// lock, so a second node migrating at the same time waits and then finds
// nothing to do; SQLite's write transactions are exclusive anyway.
func (d *DB) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	err = d.tx(ctx, func(tx *txn) error {
		if d.dialect.kind == postgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, int64(migrationLock)); err != nil {
				return err
			}
		}
		if err := adoptLegacyVersions(ctx, tx); err != nil {
			return fmt.Errorf("schema_migrations: %w", err)
		}
		done, err := appliedVersions(ctx, tx)
		if err != nil {
			return err
		}
		if latest, newest := ms[len(ms)-1].Version, slices.Max(append(done, 0)); newest > latest {
			return fmt.Errorf("database schema version %d is newer than this program's %d", newest, latest)
		}
		for _, m := range ms {
			if slices.Contains(done, m.Version) {
				continue
			}
			body, err := migrationFiles.ReadFile("migrations/" + m.File)
			if err != nil {
				return err
			}
			// Without arguments, both drivers run every statement of the file.
			if _, err := tx.tx.ExecContext(ctx, dialectSQL(string(body), d.dialect.kind)); err != nil {
				return fmt.Errorf("%s: %w", m.File, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO store_migrations (version) VALUES (?)`, m.Version); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// appliedVersions returns the versions recorded in store_migrations.
func appliedVersions(ctx context.Context, tx *txn) ([]int, error) {
	rows, err := tx.QueryContext(ctx, `SELECT version FROM store_migrations ORDER BY version`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return vs, rows.Err()
}

// adoptLegacyVersions creates store_migrations. A database made by the
// separate SQLite and PostgreSQL stores recorded its versions in
// schema_migrations instead, each store with a numbering of its own; their
// versions move to store_migrations in this store's numbering (SQLite's,
// which had one migration more: PostgreSQL's first migration made the
// tables of migrations 1 and 3 at once), and schema_migrations is
// dropped.
func adoptLegacyVersions(ctx context.Context, tx *txn) error {
	var legacy int
	if err := tx.QueryRowContext(ctx, tx.dialect.tableExists(), "schema_migrations").Scan(&legacy); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS store_migrations (version INTEGER PRIMARY KEY)`); err != nil {
		return err
	}
	if legacy == 0 {
		return nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return err
	}
	var old []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return err
		}
		old = append(old, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, v := range old {
		for _, nv := range legacyVersion(tx.dialect.kind, v) {
			if _, err := tx.ExecContext(ctx, `INSERT INTO store_migrations (version) VALUES (?)`, nv); err != nil {
				return err
			}
		}
	}
	_, err = tx.ExecContext(ctx, `DROP TABLE schema_migrations`)
	return err
}

// legacyVersion maps a version of the separate stores' numbering to this
// store's versions.
func legacyVersion(k dialectKind, v int) []int {
	switch {
	case k == sqlite:
		return []int{v}
	case v == 1:
		return []int{1, 3} // init held the fleet data tables too
	case v == 2:
		return []int{2}
	default:
		return []int{v + 1}
	}
}

// tableExists is a query of one argument, a table name, that counts the
// tables of that name in the store's schema.
func (d *dialect) tableExists() string {
	if d.kind == postgres {
		return `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?`
	}
	return `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`
}
