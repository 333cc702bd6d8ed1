package store

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/sqlitedb"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// defaultMaxConns is the most PostgreSQL connections a store opens when
// Options.MaxConns is zero.
const defaultMaxConns = 8

// Options tunes a store. The zero value works.
type Options struct {
	// MaxConns is the most connections a PostgreSQL store opens at once;
	// zero means 8. It takes precedence over a pool_max_conns in the URL.
	// A SQLite store ignores it.
	MaxConns int32
	// MaxSQLiteBytes caps a SQLite store's file (0: no cap): a write that
	// would grow it further fails as on a full disk, so that an operator
	// can keep the store from filling a disk it shares. A PostgreSQL
	// store ignores it.
	MaxSQLiteBytes int64
}

// DB is the cloud store on one SQLite file or one PostgreSQL database. It is
// safe for concurrent use.
type DB struct {
	dialect *dialect
	db      handle
	// Prepared multi-row inserts of bulkRows layers or log lines (SQLite;
	// PostgreSQL COPYs fresh ones).
	insertLayers, insertLogs *sql.Stmt

	mu         sync.Mutex
	partitions map[string]bool // PostgreSQL partitions known to exist, by name

	// stmts are the ingest path's statements, prepared once (SQLite; pgx
	// keeps its own cache of prepared statements per connection).
	stmts stmtCache
	// places caches where printers are, for the ingest path.
	places placeCache
}

// isPostgres reports whether dsn names a PostgreSQL database.
func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open opens the store named by dsn — a postgres:// or postgresql:// URL,
// or else the path of a SQLite file, created if needed — and applies any
// pending migrations.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	d := &DB{partitions: map[string]bool{}}
	var err error
	if isPostgres(dsn) {
		d.dialect = newDialect(postgres)
		d.db.db, err = openPostgres(ctx, dsn, opts)
	} else {
		d.dialect = newDialect(sqlite)
		d.db.db, err = sqlitedb.OpenFileMax(dsn, opts.MaxSQLiteBytes)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", d.dialect, err)
	}
	d.db.dialect = d.dialect
	if d.dialect.kind == sqlite {
		d.db.writer = make(chan struct{}, 1)
	}
	if err := d.migrate(ctx); err != nil {
		d.db.db.Close()
		return nil, fmt.Errorf("open %s: %w", d.dialect, err)
	}
	if d.dialect.kind == sqlite {
		if d.insertLayers, err = d.db.PrepareContext(ctx, layerInsert.sql(bulkRows)); err == nil {
			d.insertLogs, err = d.db.PrepareContext(ctx, logInsert.sql(bulkRows))
		}
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("open %s: %w", d.dialect, err)
		}
	}
	return d, nil
}

// openPostgres connects to the database at url through pgx's database/sql
// driver with at most opts.MaxConns connections.
func openPostgres(ctx context.Context, url string, opts Options) (*sql.DB, error) {
	cfg, err := pgxpool.ParseConfig(url) // accepts, and drops, the pool_ parameters
	if err != nil {
		return nil, err
	}
	n := opts.MaxConns
	switch {
	case n < 0:
		return nil, fmt.Errorf("max connections %d < 0", n)
	case n == 0:
		n = defaultMaxConns
	}
	c := cfg.ConnConfig
	db := stdlib.OpenDB(*c)
	db.SetMaxOpenConns(int(n))
	db.SetMaxIdleConns(int(n))
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s@%s/%s: %w", c.User, c.Host, c.Database, err)
	}
	return db, nil
}

// Close closes the database.
func (d *DB) Close() error {
	d.stmts.close()
	for _, s := range []*sql.Stmt{d.insertLayers, d.insertLogs} {
		if s != nil {
			s.Close()
		}
	}
	return d.db.db.Close()
}

// Ping reports whether the database answers, for readiness checks.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.db.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", d.dialect, err)
	}
	return nil
}

// tx runs fn in a transaction and commits it if fn returns nil. The
// transaction keeps its connection at hand for PostgreSQL's COPY.
func (d *DB) tx(ctx context.Context, fn func(*txn) error) error {
	unlock, err := d.db.lockWrite(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	c, err := d.db.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(&txn{tx: tx, conn: c, dialect: d.dialect, stmts: &d.stmts, db: d.db.db}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// handle runs statements written with ? placeholders on the database,
// rebound for its dialect.
type handle struct {
	db      *sql.DB
	dialect *dialect
	// writer is SQLite's one writer slot: a write transaction or a lone
	// write statement holds it. SQLite lets one writer in at a time and
	// makes the others poll for the lock (busy_timeout), with no order
	// among them: under load the ingest's batches, the alert sweeps,
	// logins and notification claims starved one another for seconds and
	// failed with SQLITE_BUSY after ten. Waiting here instead is first come,
	// first served, and ends with the caller's context. Readers never wait
	// (WAL). Nil on PostgreSQL, which has row locks.
	writer chan struct{}
}

// lockWrite waits for the writer slot (SQLite) and returns its release.
func (h handle) lockWrite(ctx context.Context) (func(), error) {
	if h.writer == nil {
		return func() {}, nil
	}
	select {
	case h.writer <- struct{}{}:
		return func() { <-h.writer }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (h handle) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	unlock, err := h.lockWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return h.db.ExecContext(ctx, h.dialect.rebind(q), args...)
}

func (h handle) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return h.db.QueryContext(ctx, h.dialect.rebind(q), args...)
}

func (h handle) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return h.db.QueryRowContext(ctx, h.dialect.rebind(q), args...)
}

func (h handle) PrepareContext(ctx context.Context, q string) (*sql.Stmt, error) {
	return h.db.PrepareContext(ctx, h.dialect.rebind(q))
}

// txn is a transaction that runs statements written with ? placeholders,
// rebound for its dialect.
type txn struct {
	tx      *sql.Tx
	conn    *sql.Conn
	dialect *dialect
	stmts   *stmtCache
	db      *sql.DB
}

// stmtCache holds prepared statements by their text. Re-preparing the
// ingest path's few statements for every record cost SQLite a fifth of
// the writer's time.
type stmtCache struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// maxPrepared bounds the cache: the hot statements are a few dozen.
const maxPrepared = 256

func (c *stmtCache) get(ctx context.Context, db *sql.DB, q string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.m[q]; ok {
		return s, nil
	}
	if len(c.m) >= maxPrepared {
		return nil, nil
	}
	s, err := db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[q] = s
	return s, nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.m {
		s.Close()
	}
	c.m = nil
}

// hot returns q prepared once for the store and bound to the
// transaction, or nil where the statement is not to be prepared
// (PostgreSQL, or the cache full).
func (t *txn) hot(ctx context.Context, q string) (*sql.Stmt, error) {
	if t.dialect.kind != sqlite || t.stmts == nil {
		return nil, nil
	}
	s, err := t.stmts.get(ctx, t.db, q)
	if s == nil || err != nil {
		return nil, err
	}
	return t.tx.StmtContext(ctx, s), nil
}

// execHot runs q, a statement of the ingest path, prepared once.
func (t *txn) execHot(ctx context.Context, q string, args ...any) (sql.Result, error) {
	s, err := t.hot(ctx, q)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return t.ExecContext(ctx, q, args...)
	}
	return s.ExecContext(ctx, args...)
}

// queryRowHot runs q, a query of the ingest path for one row, prepared
// once.
func (t *txn) queryRowHot(ctx context.Context, q string, args ...any) *sql.Row {
	s, err := t.hot(ctx, q)
	if s == nil || err != nil {
		return t.QueryRowContext(ctx, q, args...) // a failed prepare fails here again, with its error
	}
	return s.QueryRowContext(ctx, args...)
}

// queryHot runs q, a query of the ingest path, prepared once.
func (t *txn) queryHot(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	s, err := t.hot(ctx, q)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return t.QueryContext(ctx, q, args...)
	}
	return s.QueryContext(ctx, args...)
}

// copyFrom COPYs rows into table's columns cols (PostgreSQL only) and
// returns how many it wrote.
func (t *txn) copyFrom(ctx context.Context, table string, cols []string, rows [][]any) (int64, error) {
	var n int64
	err := t.conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("copy into %s: not a PostgreSQL connection", table)
		}
		var err error
		n, err = c.Conn().CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows))
		return err
	})
	return n, err
}

func (t *txn) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, t.dialect.rebind(q), args...)
}

func (t *txn) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, t.dialect.rebind(q), args...)
}

func (t *txn) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.dialect.rebind(q), args...)
}

// lock takes the transaction's advisory locks of keys in class on
// PostgreSQL, in ascending order. SQLite needs none: one writer runs at a
// time.
func (t *txn) lock(ctx context.Context, class int32, keys []string) error {
	if t.dialect.kind != postgres || len(keys) == 0 {
		return nil
	}
	ids := make([]int32, 0, len(keys))
	for _, k := range keys {
		h := fnv.New32a()
		h.Write([]byte(k))
		ids = append(ids, int32(h.Sum32()))
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	_, err := t.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?, id) FROM unnest(CAST(? AS int[])) AS id ORDER BY id`, class, ids)
	return err
}

// querier runs statements on the database or in a transaction.
type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// nanos converts a time to the stored form; the zero time is 0. Times
// beyond what int64 nanoseconds hold (before 1678 or after April 2262)
// are clamped to the nearest end instead of overflowing: validated records
// never carry one (fleet.MinYear, fleet.MaxYear), and any other time
// keeps its order with the rest.
func nanos(t time.Time) int64 {
	switch {
	case t.IsZero():
		return 0
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
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
