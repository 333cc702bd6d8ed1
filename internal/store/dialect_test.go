package store

import (
	"fmt"
	"testing"
)

func TestRebind(t *testing.T) {
	pg, lite := newDialect(postgres), newDialect(sqlite)
	for _, tc := range []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = $1 AND b = $2"},
		{"SELECT '?' FROM t WHERE a = ?", "SELECT '?' FROM t WHERE a = $1"},
		{`SELECT "a?" FROM t WHERE a = ?`, `SELECT "a?" FROM t WHERE a = $1`},
		{"INSERT INTO t VALUES (?, ?), (?, ?)", "INSERT INTO t VALUES ($1, $2), ($3, $4)"},
	} {
		if got := pg.rebind(tc.in); got != tc.want {
			t.Errorf("postgres rebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := pg.rebind(tc.in); got != tc.want {
			t.Errorf("postgres rebind(%q) from the cache = %q, want %q", tc.in, got, tc.want)
		}
		if got := lite.rebind(tc.in); got != tc.in {
			t.Errorf("sqlite rebind(%q) = %q, want it unchanged", tc.in, got)
		}
	}
}

// Statements built for their number of rows must not grow the cache
// without bound.
func TestRebindCacheBounded(t *testing.T) {
	d := newDialect(postgres)
	for i := range 2 * maxBound {
		q := fmt.Sprintf("SELECT * FROM t WHERE id IN (?%d)", i)
		if got, want := d.rebind(q), fmt.Sprintf("SELECT * FROM t WHERE id IN ($1%d)", i); got != want {
			t.Fatalf("rebind(%q) = %q, want %q", q, got, want)
		}
	}
	n := 0
	d.bound.Range(func(any, any) bool { n++; return true })
	if n != maxBound || d.nBound.Load() != maxBound {
		t.Errorf("cache holds %d statements (counted %d), want at most %d", n, d.nBound.Load(), maxBound)
	}
}
