// Package sqlitedb opens SQLite files the way every FusionFleet store wants
// them — WAL (readers never wait for the writer), synchronous=FULL (a
// committed transaction survives a power cut), foreign keys, a busy timeout
// and immediate write transactions (writers queue instead of failing to
// upgrade a read lock) — and brings their schema up to date from numbered,
// embedded migration files.
//
// The Command Center's store and the cloud's store (on SQLite) both build
// on it.
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
	"time"

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
	return openFile(name, false, 0)
}

// PageSize is the size of a page of the files Open makes (SQLite's
// default): MaxSize is counted in it.
const PageSize = 4096

// OpenFileMax is OpenFile for a file that may grow to about maxBytes
// (rounded down to whole pages, at least one) and no further: a write that
// needs more fails as on a full disk (SQLITE_FULL), and the file stays
// consistent. maxBytes <= 0 means no limit. A file already larger keeps
// its size and takes no new pages.
func OpenFileMax(name string, maxBytes int64) (*sql.DB, error) {
	pages := int64(0)
	if maxBytes > 0 {
		pages = max(1, maxBytes/PageSize)
	}
	return openFile(name, false, pages)
}

// OpenReader opens the SQLite file at name, as Open made it, for reading
// only: a statement that would write fails. A process that writes on one
// connection (see sitedb) reads on these, which in WAL mode never wait
// for the writer.
func OpenReader(name string) (*sql.DB, error) {
	return openFile(name, true, 0)
}

// openFile opens name; maxPages > 0 caps every connection's file size
// (PRAGMA max_page_count is per connection).
func openFile(name string, readOnly bool, maxPages int64) (*sql.DB, error) {
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
	if maxPages > 0 {
		q.Add("_pragma", "max_page_count("+strconv.FormatInt(maxPages, 10)+")")
	}
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	db, err := sql.Open("sqlite", "file:"+name+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	return db, nil
}

// Migration is a numbered migration file.
type Migration struct {
	Version int
	File    string
}

// Migrations lists the .sql files of fsys's root, named NNN_what.sql, by
// version.
func Migrations(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, n := range names {
		num, _, ok := strings.Cut(path.Base(n), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration file %s: want NNN_what.sql", n)
		}
		ms = append(ms, Migration{v, n})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("migration files %s and %s share version %d", ms[i-1].File, ms[i].File, ms[i].Version)
		}
	}
	return ms, nil
}

func migrate(ctx context.Context, db *sql.DB, fsys fs.FS) error {
	ms, err := Migrations(fsys)
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
	if latest := ms[len(ms)-1].Version; current > latest {
		return fmt.Errorf("migrate: database schema version %d is newer than this program's %d", current, latest)
	}
	for _, m := range ms {
		if m.Version <= current {
			continue
		}
		body, err := fs.ReadFile(fsys, m.File)
		if err != nil {
			return fmt.Errorf("migrate to %d: %w", m.Version, err)
		}
		err = Tx(ctx, db, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, m.Version)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate to %d (%s): %w", m.Version, m.File, err)
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

// FormatTime is how the site's SQLite files store a time: RFC 3339 text in
// UTC with nanoseconds, "" for the zero time.
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// ParseTime reads a time stored by FormatTime.
func ParseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad time %q: %w", s, err)
	}
	return t, nil
}
