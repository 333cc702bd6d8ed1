// Package sitedb opens the Command Center's SQLite database: one file on
// the site holding its printers and their local history, the outbox of
// records bound for the cloud, the upload log, the update policy and the
// gateway's credentials. It owns the file's schema and its migrations; the
// packages that read and write the tables (commandcenter, outbox) share the
// *sql.DB it returns, so that one transaction can span them.
package sitedb

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/fusionfleet/fusionfleet/internal/sqlitedb"
)

//go:embed schema/*.sql
var schemaFS embed.FS

// Open opens (creating if needed) the database at path and brings its
// schema up to date. The file is readable by its owner only: it holds the
// gateway's private key and the site's job names.
//
// The returned *sql.DB has one connection, so the process's writers queue
// for it in Go, as long as their contexts allow. With a pool, SQLite lets
// one connection write and makes the others poll for the lock, sleeping up
// to 100 ms between tries, and fail with SQLITE_BUSY after the busy
// timeout: at the start of a Command Center with hundreds of printers,
// every poller writing at once, some lost the race for 10 s. Readers that
// must not wait behind the writers (the local UI, the uploader) read on
// OpenReader's pool. A caller must not use this *sql.DB while it holds a
// transaction or open rows of it.
func Open(ctx context.Context, path string) (*sql.DB, error) {
	schema, err := fs.Sub(schemaFS, "schema")
	if err != nil {
		return nil, fmt.Errorf("open site database: %w", err)
	}
	db, err := sqlitedb.Open(ctx, path, schema)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// OpenReader opens a pool of read-only connections to the database Open
// made at path: in WAL mode its reads never wait for the writer.
func OpenReader(path string) (*sql.DB, error) {
	return sqlitedb.OpenReader(path)
}

// Probe checks, changing nothing, that this build can open the database
// at path: its schema is not newer than this build's, and the migrations
// this build would run apply, to a copy made in scratch (a directory on
// the same disk, removed again). It returns the schema version found and
// this build's. A new build runs it before it replaces the running one
// (package selfupdate).
func Probe(ctx context.Context, path, scratch string) (current, latest int, err error) {
	schema, err := fs.Sub(schemaFS, "schema")
	if err != nil {
		return 0, 0, fmt.Errorf("probe site database: %w", err)
	}
	ms, err := sqlitedb.Migrations(schema)
	if err != nil || len(ms) == 0 {
		return 0, 0, fmt.Errorf("probe site database: migrations: %v", err)
	}
	latest = ms[len(ms)-1].Version
	if _, err := os.Stat(path); err != nil {
		return 0, latest, fmt.Errorf("probe site database: %w", err)
	}
	db, err := sqlitedb.OpenReader(path)
	if err != nil {
		return 0, latest, err
	}
	defer db.Close()
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return 0, latest, fmt.Errorf("probe site database: %w", err)
	}
	if current > latest {
		return current, latest, fmt.Errorf("probe site database: schema version %d is newer than this build's %d", current, latest)
	}
	if current == latest {
		return current, latest, nil
	}
	// Migrations to run: try them on a consistent copy.
	if err := os.MkdirAll(scratch, 0o700); err != nil {
		return current, latest, fmt.Errorf("probe site database: %w", err)
	}
	tmp, err := os.MkdirTemp(scratch, "probe-")
	if err != nil {
		return current, latest, fmt.Errorf("probe site database: %w", err)
	}
	defer os.RemoveAll(tmp)
	cp := filepath.Join(tmp, "copy.db")
	// VACUUM INTO reads the database and writes only the copy, but a
	// query_only connection refuses it.
	src, err := sqlitedb.OpenFile(path)
	if err != nil {
		return current, latest, err
	}
	defer src.Close()
	if _, err := src.ExecContext(ctx, `VACUUM INTO ?`, cp); err != nil {
		return current, latest, fmt.Errorf("probe site database: copy: %w", err)
	}
	mdb, err := Open(ctx, cp)
	if err != nil {
		return current, latest, fmt.Errorf("probe site database: migrations %d to %d: %w", current+1, latest, err)
	}
	return current, latest, mdb.Close()
}
