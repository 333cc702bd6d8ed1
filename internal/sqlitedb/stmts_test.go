package sqlitedb

import (
	"database/sql"
	"path/filepath"
	"testing"
)

// Statements prepared once serve every transaction of a one-connection
// database (where preparing inside a transaction would wait forever for
// the connection), a query not prepared still runs, and rolled-back
// transactions leave the prepared statements usable.
func TestStmtsServeTransactions(t *testing.T) {
	ctx := t.Context()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "x.db"), schema("001_a.sql", `CREATE TABLE a (x INTEGER);`))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	const (
		insert = `INSERT INTO a (x) VALUES (?)`
		sum    = `SELECT COUNT(*), COALESCE(SUM(x), 0) FROM a WHERE x > ?`
	)
	stmts := NewStmts(db)
	defer stmts.Close()
	if err := stmts.Prepare(ctx, insert, sum, insert); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		query    string // an insert of x, prepared or not
		x        int
		rollback bool
		wantN    int
		wantSum  int
	}{
		{"prepared", insert, 1, false, 1, 1},
		{"prepared again", insert, 2, false, 2, 3},
		{"rolled back", insert, 40, true, 2, 3},
		{"after a rollback", insert, 3, false, 3, 6},
		{"not prepared", `INSERT INTO a (x) SELECT ?`, 4, false, 4, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := stmts.Exec(ctx, tx, tt.query, tt.x); err != nil {
				t.Fatal(err)
			}
			if tt.rollback {
				err = tx.Rollback()
			} else {
				err = tx.Commit()
			}
			if err != nil {
				t.Fatal(err)
			}
			var n, s int
			if err := Tx(ctx, db, func(tx *sql.Tx) error { return stmts.QueryRow(ctx, tx, sum, []any{0}, &n, &s) }); err != nil {
				t.Fatal(err)
			}
			if n != tt.wantN || s != tt.wantSum {
				t.Errorf("rows %d, sum %d; want %d, %d", n, s, tt.wantN, tt.wantSum)
			}
		})
	}
	if err := stmts.Close(); err != nil {
		t.Fatal(err)
	}
	if len(stmts.m) != 0 {
		t.Errorf("%d statements left after Close", len(stmts.m))
	}
}
