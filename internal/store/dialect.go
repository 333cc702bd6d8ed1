package store

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgconn"
)

// dialectKind names the SQL engine under a store.
type dialectKind int

const (
	sqlite dialectKind = iota
	postgres
)

// dialect is what really differs between SQLite and PostgreSQL for this
// store; everything else is written once.
type dialect struct {
	kind dialectKind
	// greatest names the function of the larger of two values.
	greatest string
	// bound caches PostgreSQL's form of each statement: a statement is
	// rebound once per process, not once per call. Statements are the
	// store's own text, but some are built for their number of rows, so
	// the cache stops growing at maxBound entries; what comes after is
	// rebound at every call, which costs a scan of the text.
	bound  sync.Map // string → string
	nBound atomic.Int64
}

// maxBound bounds the rebind cache: far more than the store's distinct
// statements, far less memory than a process can spare.
const maxBound = 4096

func newDialect(k dialectKind) *dialect {
	if k == postgres {
		return &dialect{kind: k, greatest: "GREATEST"}
	}
	return &dialect{kind: k, greatest: "MAX"}
}

func (d *dialect) String() string {
	if d.kind == postgres {
		return "postgres"
	}
	return "sqlite"
}

// rebind returns q, written with ? placeholders, in the dialect's form:
// unchanged for SQLite, $1, $2, … for PostgreSQL.
func (d *dialect) rebind(q string) string {
	if d.kind != postgres {
		return q
	}
	if b, ok := d.bound.Load(q); ok {
		return b.(string)
	}
	b := numberPlaceholders(q)
	if d.nBound.Load() < maxBound {
		if _, loaded := d.bound.LoadOrStore(q, b); !loaded {
			d.nBound.Add(1)
		}
	}
	return b
}

// numberPlaceholders replaces each ? outside quoted strings and
// identifiers by $n.
func numberPlaceholders(q string) string {
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// isUniqueViolation reports whether err is a unique or primary key
// constraint violation.
func (d *dialect) isUniqueViolation(err error) bool {
	if d.kind == postgres {
		var pe *pgconn.PgError
		return errors.As(err, &pe) && pe.Code == "23505"
	}
	var se interface{ Code() int }
	const constraintUnique, constraintPrimaryKey = 2067, 1555 // SQLITE_CONSTRAINT_UNIQUE, _PRIMARYKEY
	return errors.As(err, &se) && (se.Code() == constraintUnique || se.Code() == constraintPrimaryKey)
}

// jsonText is the SQL expression of the text at key of the JSON in col.
func (d *dialect) jsonText(col, key string) string {
	if d.kind == postgres {
		return "((" + col + "::jsonb)->>'" + key + "')"
	}
	return "json_extract(" + col + ", '$." + key + "')"
}

// forUpdate is the clause that locks the rows a SELECT reads until the
// transaction ends. SQLite needs none: its write transactions are
// immediate, so one writer runs at a time.
func (d *dialect) forUpdate(clause string) string {
	if d.kind == postgres {
		return " " + clause
	}
	return ""
}
