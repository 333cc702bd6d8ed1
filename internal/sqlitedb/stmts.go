package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// Stmts holds a store's frequent statements prepared once on its database,
// for its transactions to reuse: SQLite parses and plans a statement when
// it is prepared, and preparing the same text again for every call cost a
// Command Center polling thousands of printers about a third of its
// store's time.
//
// A database of one connection (as sitedb.Open makes) cannot prepare while
// a transaction holds that connection, so the statements are prepared up
// front, by Prepare, outside any transaction. Within a transaction, Tx
// hands out the statement prepared on the transaction's connection; a
// query that was not prepared is prepared within the transaction, for it
// alone (correct, only slower). Safe for concurrent use.
type Stmts struct {
	db *sql.DB

	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// NewStmts returns an empty set of statements of db.
func NewStmts(db *sql.DB) *Stmts {
	return &Stmts{db: db, m: map[string]*sql.Stmt{}}
}

// Prepare prepares the queries not prepared yet. On a database of one
// connection it must not be called while a transaction of it is open.
func (s *Stmts) Prepare(ctx context.Context, queries ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range queries {
		if s.m[q] != nil {
			continue
		}
		st, err := s.db.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", q, err)
		}
		s.m[q] = st
	}
	return nil
}

// Tx returns query's statement within tx, a transaction of the database:
// the prepared one if Prepare prepared it, else one prepared for tx alone.
// Either is closed with tx.
func (s *Stmts) Tx(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	s.mu.Lock()
	st := s.m[query]
	s.mu.Unlock()
	if st == nil {
		return tx.PrepareContext(ctx, query)
	}
	return tx.StmtContext(ctx, st), nil
}

// Exec executes query with args within tx (see Tx).
func (s *Stmts) Exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	st, err := s.Tx(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// QueryRow runs query with args within tx (see Tx) and scans its one row
// into dest.
func (s *Stmts) QueryRow(ctx context.Context, tx *sql.Tx, query string, args []any, dest ...any) error {
	st, err := s.Tx(ctx, tx, query)
	if err != nil {
		return err
	}
	return st.QueryRowContext(ctx, args...).Scan(dest...)
}

// Close closes the prepared statements.
func (s *Stmts) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for q, st := range s.m {
		errs = append(errs, st.Close())
		delete(s.m, q)
	}
	return errors.Join(errs...)
}
