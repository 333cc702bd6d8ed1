package soak

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	_ "modernc.org/sqlite" // to read the stores' files
)

// OpenReadOnly opens the SQLite file at path for reading, beside the
// process that writes it: the soak counts and audits, never writes.
func OpenReadOnly(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// CountRows returns the rows of each of tables in db, under prefix+name.
func CountRows(ctx context.Context, db *sql.DB, prefix string, tables ...string) (map[string]int64, error) {
	out := make(map[string]int64, len(tables))
	for _, t := range tables {
		var n int64
		// The names are the caller's constants, never another party's.
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t).Scan(&n); err != nil {
			return nil, fmt.Errorf("count %s: %w", t, err)
		}
		out[prefix+t] = n
	}
	return out, nil
}

// TableBytes returns the bytes of the pages of each table of a SQLite
// database, its indexes included (the dbstat virtual table), and the
// bytes of the pages no table holds (the free list).
func TableBytes(ctx context.Context, db *sql.DB) (map[string]int64, int64, error) {
	owner := map[string]string{}
	rows, err := db.QueryContext(ctx, `SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')`)
	if err != nil {
		return nil, 0, fmt.Errorf("table bytes: %w", err)
	}
	for rows.Next() {
		var name, table string
		if err := rows.Scan(&name, &table); err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("table bytes: %w", err)
		}
		owner[name] = table
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("table bytes: %w", err)
	}
	rows, err = db.QueryContext(ctx, `SELECT name, SUM(pgsize) FROM dbstat GROUP BY name`)
	if err != nil {
		return nil, 0, fmt.Errorf("table bytes: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			return nil, 0, fmt.Errorf("table bytes: %w", err)
		}
		t, ok := owner[name]
		if !ok {
			t = name // sqlite_schema and the like
		}
		out[t] += n
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("table bytes: %w", err)
	}
	var free, pageSize int64
	if err := db.QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&free); err != nil {
		return nil, 0, fmt.Errorf("table bytes: %w", err)
	}
	if err := db.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&pageSize); err != nil {
		return nil, 0, fmt.Errorf("table bytes: %w", err)
	}
	return out, free * pageSize, nil
}

// Audit checks the delivery promise at the end of a soak, as the crash
// test does but under retention: every record the gateway numbered
// (site, its SQLite store) is held by the cloud (cloud, its store) once,
// except those still in the outbox, which it must not hold yet, and
// those retention removed, pruned in all. Layers and log lines keep their
// record's number in their own tables; every other record in received.
// Every printer's events are there from the first, once each.
//
// Only the records through the given number are audited (0: all): those
// the gateway numbered until the soak's end; what it numbered while the
// soak stopped may be on its way.
func Audit(ctx context.Context, site, cloud *sql.DB, pruned int64, through uint64) (Check, error) {
	c := Check{Name: "exactly once"}
	var next uint64
	if err := site.QueryRowContext(ctx, `SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'next_seq'`).Scan(&next); err != nil {
		return c, fmt.Errorf("audit: next_seq: %w", err)
	}
	if through > 0 && through < next {
		next = through + 1
	}
	kept := map[uint64]bool{}
	if err := eachSeq(ctx, site, `SELECT seq FROM outbox`, func(s uint64) { kept[s] = true }); err != nil {
		return c, err
	}
	held := map[uint64]int{}
	const q = `SELECT seq FROM received UNION ALL SELECT record_seq FROM layers UNION ALL SELECT record_seq FROM logs`
	if err := eachSeq(ctx, cloud, q, func(s uint64) { held[s]++ }); err != nil {
		return c, err
	}
	var missing, twice, early int64
	for seq := uint64(1); seq < next; seq++ {
		switch n := held[seq]; {
		case kept[seq] && n > 0:
			early++
		case !kept[seq] && n == 0:
			missing++
		case n > 1:
			twice++
		}
		delete(held, seq)
	}
	if through > 0 {
		for seq := range held {
			if seq >= next {
				delete(held, seq) // numbered after the end
			}
		}
	}
	var bad []string
	if missing != pruned {
		bad = append(bad, fmt.Sprintf("%d records missing where retention removed %d", missing, pruned))
	}
	if twice > 0 {
		bad = append(bad, fmt.Sprintf("%d held twice", twice))
	}
	if early > 0 {
		bad = append(bad, fmt.Sprintf("%d held while still in the outbox", early))
	}
	if len(held) > 0 {
		bad = append(bad, fmt.Sprintf("%d held that the gateway never numbered", len(held)))
	}
	rows, err := cloud.QueryContext(ctx, `SELECT printer_id, COUNT(*), COUNT(DISTINCT seq), MIN(seq), MAX(seq) FROM events GROUP BY printer_id`)
	if err != nil {
		return c, fmt.Errorf("audit: events: %w", err)
	}
	defer rows.Close()
	printers := 0
	for rows.Next() {
		var p string
		var count, distinct, lo, hi uint64
		if err := rows.Scan(&p, &count, &distinct, &lo, &hi); err != nil {
			return c, fmt.Errorf("audit: events: %w", err)
		}
		printers++
		if count != distinct || lo != 1 || hi-lo+1 != count {
			bad = append(bad, fmt.Sprintf("printer %s: %d events, %d distinct, seq %d..%d", p, count, distinct, lo, hi))
		}
	}
	if err := rows.Err(); err != nil {
		return c, fmt.Errorf("audit: events: %w", err)
	}
	c.OK = len(bad) == 0
	c.Detail = fmt.Sprintf("the gateway numbered %d records, %d still in its outbox, %d removed by retention; events of %d printers",
		next-1, len(kept), pruned, printers)
	if !c.OK {
		c.Detail += ": " + strings.Join(bad, "; ")
	}
	return c, nil
}

func eachSeq(ctx context.Context, db *sql.DB, q string, f func(uint64)) error {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s uint64
		if err := rows.Scan(&s); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		f(s)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// Stored reports how far the cloud's store has applied a gateway's
// records through a number (<= 0: the last): the last number the gateway
// gave, how many records through it are still in its outbox (site), and
// how many the store holds (cloud). The soak waits for them to
// meet and settle before its audit: a batch the stream delivered may
// still be on its way into the store.
func Stored(ctx context.Context, site, cloud *sql.DB, through int64) (last, outbox, held int64, err error) {
	if err := site.QueryRowContext(ctx, `SELECT CAST(value AS INTEGER) - 1 FROM meta WHERE key = 'next_seq'`).Scan(&last); err != nil {
		return 0, 0, 0, fmt.Errorf("stored: %w", err)
	}
	if through <= 0 {
		through = last
	}
	if err := site.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE seq <= ?`, through).Scan(&outbox); err != nil {
		return 0, 0, 0, fmt.Errorf("stored: %w", err)
	}
	const q = `SELECT COUNT(*) FROM (SELECT seq AS s FROM received UNION ALL SELECT record_seq FROM layers UNION ALL SELECT record_seq FROM logs) WHERE s <= ?`
	if err := cloud.QueryRowContext(ctx, q, through).Scan(&held); err != nil {
		return 0, 0, 0, fmt.Errorf("stored: %w", err)
	}
	return last, outbox, held, nil
}
