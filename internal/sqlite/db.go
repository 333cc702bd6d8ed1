package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/sqlitedb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is the cloud store on one SQLite file. It is safe for concurrent use.
type DB struct {
	db *sql.DB
	// Prepared multi-row inserts of bulkRows layers or log lines.
	insertLayers, insertLogs *sql.Stmt
}

// Open opens (creating if needed) the database at path and applies any
// pending migrations (see package sqlitedb for the connection settings).
func Open(ctx context.Context, path string) (*DB, error) {
	schema, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	db, err := sqlitedb.Open(ctx, path, schema)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	d := &DB{db: db}
	if d.insertLayers, err = db.PrepareContext(ctx, layerInsert.sql(bulkRows)); err == nil {
		d.insertLogs, err = db.PrepareContext(ctx, logInsert.sql(bulkRows))
	}
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	return d, nil
}

// Close closes the database.
func (d *DB) Close() error {
	for _, s := range []*sql.Stmt{d.insertLayers, d.insertLogs} {
		if s != nil {
			s.Close()
		}
	}
	return d.db.Close()
}

// tx runs fn in a transaction and commits it if fn returns nil.
func (d *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	return sqlitedb.Tx(ctx, d.db, fn)
}

// nanos converts a time to the stored form; the zero time is 0.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos converts the stored form back; 0 is the zero time.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
