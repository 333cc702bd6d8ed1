package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the advisory lock key held while migrating.
const migrationLock = 0x46466c656574 // "FFleet"

// defaultMaxConns is the most connections a store opens when
// Options.MaxConns is zero.
const defaultMaxConns = 8

// Options tunes a store. The zero value works.
type Options struct {
	// MaxConns is the most connections the store opens at once; zero means
	// 8. It takes precedence over a pool_max_conns in the URL.
	MaxConns int32
}

// DB is the cloud store on a PostgreSQL database. It is safe for concurrent
// use.
type DB struct {
	pool *pgxpool.Pool

	mu         sync.Mutex
	partitions map[string]bool // partitions known to exist, by name
}

// Open connects to the database at url (postgres://…) and applies any
// pending migrations.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	switch {
	case opts.MaxConns < 0:
		return nil, fmt.Errorf("open postgres: max connections %d < 0", opts.MaxConns)
	case opts.MaxConns > 0:
		cfg.MaxConns = opts.MaxConns
	default:
		cfg.MaxConns = defaultMaxConns
	}
	where := fmt.Sprintf("%s@%s/%s", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Database)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres %s: %w", where, err)
	}
	d := &DB{pool: pool, partitions: map[string]bool{}}
	err = pool.AcquireFunc(ctx, func(c *pgxpool.Conn) error { return migrate(ctx, c.Conn()) })
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres %s: %w", where, err)
	}
	return d, nil
}

// Close closes the store's connections, waiting for those in use.
func (d *DB) Close() error {
	d.pool.Close()
	return nil
}

// Ping reports whether the database answers, for readiness checks.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping postgres: %w", err)
	}
	return nil
}

// tx runs fn in a transaction and commits it if fn returns nil.
func (d *DB) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, d.pool, fn)
}

// queryRow runs a single-row query on a pooled connection.
func (d *DB) queryRow(ctx context.Context, q string, args []any, dest ...any) error {
	return d.pool.QueryRow(ctx, q, args...).Scan(dest...)
}

// exec runs a statement on a pooled connection and returns the rows it
// affected.
func (d *DB) exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := d.pool.Exec(ctx, q, args...)
	return tag.RowsAffected(), err
}

type migration struct {
	version int
	file    string
}

// migrate applies the pending migrations in one transaction under an
// advisory lock: a second node migrating at the same time waits and then
// finds nothing to do.
func migrate(ctx context.Context, c *pgx.Conn) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var ms []migration
	for _, n := range names {
		num, _, ok := strings.Cut(path.Base(n), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return fmt.Errorf("migrate: file %s: want NNN_what.sql", n)
		}
		ms = append(ms, migration{v, n})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	err = pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)`); err != nil {
			return err
		}
		var current int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return err
		}
		if latest := ms[len(ms)-1].version; current > latest {
			return fmt.Errorf("database schema version %d is newer than this program's %d", current, latest)
		}
		for _, m := range ms {
			if m.version <= current {
				continue
			}
			body, err := migrations.ReadFile(m.file)
			if err != nil {
				return err
			}
			if _, err := tx.Conn().PgConn().Exec(ctx, string(body)).ReadAll(); err != nil {
				return fmt.Errorf("%s: %w", m.file, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, m.version); err != nil {
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

// isNoRows reports whether err says a single-row query found nothing.
func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
