// Package sqlitedb opens SQLite files the way every FusionFleet store wants
// them — WAL (readers never wait for the writer), synchronous=FULL (a
// committed transaction survives a power cut), foreign keys, a busy timeout
// and immediate write transactions (writers queue instead of failing to
// upgrade a read lock) — and brings their schema up to date from numbered,
// embedded migration files.
//
// The Command Center's store and the cloud's SQLite store both build on it.
package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Open opens, creating if needed, the SQLite file at name and applies the
// migrations in fsys not yet applied. A new file is readable by its owner
// only: stores hold keys and private names. Migration files are named
// NNN_what.sql and applied in numeric order, each in its own transaction,
// recorded in the table schema_migrations. A database whose schema is newer
// than the newest migration is refused: an older program must not write it.
func Open(ctx context.Context, name string, fsys fs.FS) (*sql.DB, error) {
	db, err := OpenFile(name)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, db, fsys); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	return db, nil
}

// OpenFile opens, creating if needed, the SQLite file at name with the
// connection settings of Open, and leaves its schema to the caller.
func OpenFile(name string) (*sql.DB, error) {
	if name == "" || strings.ContainsAny(name, "?#") {
		return nil, fmt.Errorf("open %q: want a file path without '?' or '#'", name)
	}
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+name+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	return db, nil
}

type migration struct {
	version int
	file    string
}

// migrations lists the .sql files of fsys's root by version.
func migrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, n := range names {
		num, _, ok := strings.Cut(path.Base(n), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration file %s: want NNN_what.sql", n)
		}
		ms = append(ms, migration{v, n})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migration files %s and %s share version %d", ms[i-1].file, ms[i].file, ms[i].version)
		}
	}
	return ms, nil
}

func migrate(ctx context.Context, db *sql.DB, fsys fs.FS) error {
	ms, err := migrations(fsys)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if len(ms) == 0 {
		return errors.New("migrate: no migration files")
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var current int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if latest := ms[len(ms)-1].version; current > latest {
		return fmt.Errorf("migrate: database schema version %d is newer than this program's %d", current, latest)
	}
	for _, m := range ms {
		if m.version <= current {
			continue
		}
		body, err := fs.ReadFile(fsys, m.file)
		if err != nil {
			return fmt.Errorf("migrate to %d: %w", m.version, err)
		}
		err = Tx(ctx, db, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, m.version)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate to %d (%s): %w", m.version, m.file, err)
		}
	}
	return nil
}

// Tx runs fn in a transaction and commits it, or rolls back when fn fails.
func Tx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
