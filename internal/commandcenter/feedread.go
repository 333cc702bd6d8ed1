package commandcenter

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/sqlitedb"
)

// This file lets a reader follow the local history as it grows, for the
// site's own feeds to its MES (the MQTT feed): the events in the order
// they were stored, and the jobs as they change.

// EventsAfter returns the events stored after position after, in the order
// they were stored, at most limit (<= 0: 100; at most 10000), and the
// position of the last one returned (after itself when there is none). A
// negative after asks for the current end of the history: no events, and
// the position from which only events stored later follow. Positions are
// the rows' order of storing: the store has one writer, so an event stored
// later never takes a position before one already read.
func (s *Store) EventsAfter(ctx context.Context, after int64, limit int) ([]LocalEvent, int64, error) {
	if after < 0 {
		var end int64
		if err := s.read.QueryRowContext(ctx, `SELECT coalesce(max(rowid), 0) FROM events`).Scan(&end); err != nil {
			return nil, 0, fmt.Errorf("read events: %w", err)
		}
		return nil, end, nil
	}
	rows, err := s.read.QueryContext(ctx, `SELECT rowid, printer, seen, event FROM events
		WHERE rowid > ? ORDER BY rowid LIMIT ?`, after, historyLimit(limit))
	if err != nil {
		return nil, after, fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()
	pos := after
	var out []LocalEvent
	for rows.Next() {
		var (
			e       LocalEvent
			seen, b string
		)
		if err := rows.Scan(&pos, &e.Printer, &seen, &b); err != nil {
			return nil, after, fmt.Errorf("read events: %w", err)
		}
		e.Seen, err = sqlitedb.ParseTime(seen)
		if err == nil {
			err = json.Unmarshal([]byte(b), &e.Event)
		}
		if err != nil {
			return nil, after, fmt.Errorf("read events of printer %d: corrupt row: %w", e.Printer, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, after, fmt.Errorf("read events: %w", err)
	}
	return out, pos, nil
}

// JobsSince returns the latest state of the jobs last changed at or after
// since (the time the gateway read the change), oldest change first, at
// most limit (<= 0: 100; at most 10000). The polls of several printers are
// committed together, so a change read a little earlier may be stored a
// little later than one already returned: a follower asks again from a
// while before the newest change it saw and skips what it had (LocalJob's
// Job.Seq grows with every change of a printer's job). The answer holds
// private names: it is for the site only.
func (s *Store) JobsSince(ctx context.Context, since time.Time, limit int) ([]LocalJob, error) {
	return queryHistory(ctx, s, "jobs", `SELECT printer, updated, job FROM jobs
		WHERE updated >= ? ORDER BY updated, printer, feed_seq LIMIT ?`,
		[]any{sqlitedb.FormatTime(since), historyLimit(limit)},
		func(p int64, t time.Time, j deviceapi.Job) LocalJob { return LocalJob{p, t, j} })
}
