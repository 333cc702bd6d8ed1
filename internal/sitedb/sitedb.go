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
