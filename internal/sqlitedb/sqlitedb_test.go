package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func schema(files ...string) fstest.MapFS {
	m := fstest.MapFS{}
	for i := 0; i+1 < len(files); i += 2 {
		m[files[i]] = &fstest.MapFile{Data: []byte(files[i+1])}
	}
	return m
}

func TestOpenMigrates(t *testing.T) {
	ctx := context.Background()
	name := filepath.Join(t.TempDir(), "x.db")
	v1 := schema("001_init.sql", `CREATE TABLE a (x INTEGER);`)
	db, err := Open(ctx, name, v1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO a VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	var mode string
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	db.Close()
	if fi, err := os.Stat(name); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}

	// A second migration is applied once; the first is not re-run (it
	// would fail: the table exists).
	v2 := schema("001_init.sql", `CREATE TABLE a (x INTEGER);`, "002_b.sql", `CREATE TABLE b (y TEXT);`)
	for range 2 {
		db, err = Open(ctx, name, v2)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM a`).Scan(&n); err != nil || n != 1 {
			t.Errorf("rows kept: %d, %v; want 1", n, err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO b VALUES ('ok')`); err != nil {
			t.Error(err)
		}
		db.Close()
	}

	// An older program refuses the newer database.
	if _, err := Open(ctx, name, v1); err == nil || !strings.Contains(err.Error(), "newer than this program's 1") {
		t.Errorf("old program on new schema: got %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
		fsys fstest.MapFS
		want string
	}{
		{"empty path", "", schema("001_a.sql", "SELECT 1;"), "want a file path"},
		{"query in path", filepath.Join(dir, "a.db?mode=ro"), schema("001_a.sql", "SELECT 1;"), "want a file path"},
		{"missing dir", filepath.Join(dir, "no", "a.db"), schema("001_a.sql", "SELECT 1;"), "no such file"},
		{"bad name", filepath.Join(dir, "b.db"), schema("init.sql", "SELECT 1;"), "want NNN_what.sql"},
		{"same version", filepath.Join(dir, "c.db"), schema("001_a.sql", "SELECT 1;", "1_b.sql", "SELECT 1;"), "share version 1"},
		{"no files", filepath.Join(dir, "d.db"), schema(), "no migration files"},
		{"bad sql", filepath.Join(dir, "e.db"), schema("001_a.sql", "CREATE TABLE;"), "migrate to 1 (001_a.sql)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(ctx, tt.path, tt.fsys)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestTxRollsBack(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "x.db"), schema("001_a.sql", `CREATE TABLE a (x INTEGER);`))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	boom := errors.New("boom")
	err = Tx(ctx, db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO a VALUES (1)`); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Tx = %v, want boom", err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM a`).Scan(&n); err != nil || n != 0 {
		t.Errorf("rows after rollback: %d, %v; want 0", n, err)
	}
}

// A reader sees what the writer committed, reads while the writer holds a
// write transaction open (WAL), and cannot write.
func TestOpenReader(t *testing.T) {
	ctx := t.Context()
	name := filepath.Join(t.TempDir(), "x.db")
	w, err := Open(ctx, name, schema("001_init.sql", `CREATE TABLE a (x INTEGER);`))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r, err := OpenReader(name)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := w.ExecContext(ctx, `INSERT INTO a VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	tx, err := w.BeginTx(ctx, nil) // immediate: the write lock is held
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO a VALUES (2)`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := r.QueryRowContext(ctx, `SELECT COUNT(*) FROM a`).Scan(&n); err != nil || n != 1 {
		t.Errorf("reader during a write: %d rows, %v; want the 1 committed", n, err)
	}
	if _, err := r.ExecContext(ctx, `DELETE FROM a`); err == nil || !strings.Contains(err.Error(), "readonly") {
		t.Errorf("a write through the reader: %v, want it refused", err)
	}
}

// A capped file refuses to grow past its cap as a full disk does
// (SQLITE_FULL), on every connection of the pool, keeps what it committed,
// and takes writes again once opened with a larger cap.
func TestOpenFileMaxFull(t *testing.T) {
	ctx := t.Context()
	name := filepath.Join(t.TempDir(), "x.db")
	db, err := OpenFileMax(name, 8*PageSize)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE a (x BLOB)`); err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(4)
	var fullErr error
	stored := 0
	for i := range 100 {
		conn, err := db.Conn(ctx) // each write may take another connection
		if err != nil {
			t.Fatal(err)
		}
		_, err = conn.ExecContext(ctx, `INSERT INTO a VALUES (randomblob(1000))`)
		conn.Close()
		if err != nil {
			fullErr = err
			break
		}
		stored = i + 1
	}
	var coded interface{ Code() int }
	if !errors.As(fullErr, &coded) || coded.Code()&0xff != 13 {
		t.Fatalf("after %d rows: %v; want SQLITE_FULL", stored, fullErr)
	}
	db.Close()

	db, err = OpenFileMax(name, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM a`).Scan(&n); err != nil || n != stored {
		t.Errorf("%d rows kept, %v; want %d", n, err, stored)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO a VALUES (randomblob(100000))`); err != nil {
		t.Errorf("without the cap: %v", err)
	}
	var check string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check = %q, %v", check, err)
	}
}
