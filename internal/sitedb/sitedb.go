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
func Open(ctx context.Context, path string) (*sql.DB, error) {
	schema, err := fs.Sub(schemaFS, "schema")
	if err != nil {
		return nil, fmt.Errorf("open site database: %w", err)
	}
	return sqlitedb.Open(ctx, path, schema)
}
