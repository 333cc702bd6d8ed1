package commandcenter

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/sqlitedb"
)

// This file holds the local history the site keeps for its own UI: events,
// gaps, the latest state of every job with its private names and parts,
// and counters and consumables over time. None of it is read by the
// uplink; records for the cloud go through the privacy package into the
// outbox.

// History is what one poll adds to the local history.
type History struct {
	Instance    string // the events' feed instance
	Events      []fleet.Event
	Gaps        []fleet.Gap
	Jobs        []deviceapi.Job
	Counters    *fleet.Counters
	Consumables *fleet.Consumables
}

const (
	defaultHistoryLimit = 100
	maxHistoryLimit     = 10000
	siteSecretBytes     = 32
)

// writeHistory adds h, seen at seen, to the history of printer id within tx.
func (s *Store) writeHistory(ctx context.Context, tx *sql.Tx, id int64, seen time.Time, h History) error {
	ts := sqlitedb.FormatTime(seen)
	insert := func(query string, args ...any) error {
		_, err := s.stmts.Exec(ctx, tx, query, args...)
		return err
	}
	for _, e := range h.Events {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("local event %d: %w", e.Seq, err)
		}
		if err := insert(eventSQL, id, h.Instance, int64(e.Seq), ts, string(b)); err != nil {
			return fmt.Errorf("local event %d: %w", e.Seq, err)
		}
	}
	for _, g := range h.Gaps {
		b, err := json.Marshal(g)
		if err != nil {
			return fmt.Errorf("local gap: %w", err)
		}
		if err := insert(gapSQL, id, ts, string(b)); err != nil {
			return fmt.Errorf("local gap: %w", err)
		}
	}
	for _, j := range h.Jobs {
		b, err := json.Marshal(j)
		if err != nil {
			return fmt.Errorf("local job %s: %w", j.ID, err)
		}
		if err := insert(jobSQL, id, j.ID, int64(j.Seq), ts, string(b)); err != nil {
			return fmt.Errorf("local job %s: %w", j.ID, err)
		}
	}
	if c := h.Counters; c != nil {
		b, err := json.Marshal(c)
		if err != nil {
			return fmt.Errorf("local counters: %w", err)
		}
		if err := insert(countersSQL, id, ts, string(b)); err != nil {
			return fmt.Errorf("local counters: %w", err)
		}
	}
	if c := h.Consumables; c != nil {
		b, err := json.Marshal(c)
		if err != nil {
			return fmt.Errorf("local consumables: %w", err)
		}
		if err := insert(consumablesSQL, id, ts, string(b)); err != nil {
			return fmt.Errorf("local consumables: %w", err)
		}
	}
	return nil
}

// siteSecret returns the site's secret for pseudonyms (privacy.SourceHostID),
// creating it on first use: 32 random bytes that never leave the site.
func (s *Store) siteSecret(ctx context.Context) ([]byte, error) {
	fresh := make([]byte, siteSecretBytes)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("site secret: %w", err)
	}
	var v string
	err := s.db.QueryRowContext(ctx, `INSERT INTO meta (key, value) VALUES ('site_secret', ?)
		ON CONFLICT (key) DO UPDATE SET value = value RETURNING value`, hex.EncodeToString(fresh)).Scan(&v)
	if err != nil {
		return nil, fmt.Errorf("site secret: %w", err)
	}
	b, err := hex.DecodeString(v)
	if err != nil || len(b) != siteSecretBytes {
		return nil, errors.New("site secret: the stored secret is corrupt")
	}
	return b, nil
}

// partOutcomes returns the outcome of every part of job jobID of printer
// id as last stored, so a part is sent again only when its outcome changes.
func (s *Store) partOutcomes(ctx context.Context, id int64, jobID string) (map[string]fleet.PartOutcome, error) {
	var b string
	err := s.read.QueryRowContext(ctx, `SELECT job FROM jobs WHERE printer = ? AND job_id = ?`, id, jobID).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return map[string]fleet.PartOutcome{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("parts of job %s: %w", jobID, err)
	}
	var j deviceapi.Job
	if err := json.Unmarshal([]byte(b), &j); err != nil {
		return nil, fmt.Errorf("parts of job %s: corrupt row: %w", jobID, err)
	}
	m := make(map[string]fleet.PartOutcome, len(j.Parts))
	for _, p := range j.Parts {
		m[p.ID] = p.Outcome
	}
	return m, nil
}

// readLogs stores where reading log kind of printer id continues and
// appends the records read, in one transaction.
func (s *Store) readLogs(ctx context.Context, id int64, kind fleet.LogKind, pos FeedPosition, seen time.Time, gaps []fleet.Gap, recs []fleet.Record) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var b string
		if err := tx.QueryRowContext(ctx, `SELECT log_positions FROM printers WHERE id = ?`, id).Scan(&b); err != nil {
			return err
		}
		m := map[fleet.LogKind]FeedPosition{}
		if b != "" {
			if err := json.Unmarshal([]byte(b), &m); err != nil {
				return fmt.Errorf("corrupt log positions: %w", err)
			}
		}
		m[kind] = pos
		nb, err := json.Marshal(m)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE printers SET log_positions = ? WHERE id = ?`, string(nb), id); err != nil {
			return err
		}
		if err := s.writeHistory(ctx, tx, id, seen, History{Gaps: gaps}); err != nil {
			return err
		}
		return s.ob.AppendTx(ctx, tx, recs, false)
	})
	if err != nil {
		return fmt.Errorf("store log %s of printer %d: %w", kind, id, err)
	}
	return nil
}

// LocalJob is a job as the site knows it: its latest report, with the
// private names (job, user, computer) and its parts with their names. For
// the local UI only (R-PRIV-2).
type LocalJob struct {
	Printer int64         `json:"printer"` // the printer's local ID (Printer.ID)
	Updated time.Time     `json:"updated"` // when the gateway read the latest report
	Job     deviceapi.Job `json:"job"`
}

// LocalEvent is an event as read from a printer.
type LocalEvent struct {
	Printer int64       `json:"printer"`
	Seen    time.Time   `json:"seen"` // when the gateway read it
	Event   fleet.Event `json:"event"`
}

// LocalGap is a gap recorded in a printer's feeds.
type LocalGap struct {
	Printer int64     `json:"printer"`
	Seen    time.Time `json:"seen"`
	Gap     fleet.Gap `json:"gap"`
}

// ConsumablesSample is a consumables snapshot as read at Seen.
type ConsumablesSample struct {
	Printer     int64             `json:"printer"`
	Seen        time.Time         `json:"seen"`
	Consumables fleet.Consumables `json:"consumables"`
}

// CountersSample is a counters snapshot as read at Seen.
type CountersSample struct {
	Printer  int64          `json:"printer"`
	Seen     time.Time      `json:"seen"`
	Counters fleet.Counters `json:"counters"`
}

// Jobs returns the latest state of the jobs of printer printerID (its
// local ID; 0 for every printer), most recently changed first, at most
// limit (<= 0: 100; at most 10000). The answer holds private names: it is
// for the local UI only.
func (s *Store) Jobs(ctx context.Context, printerID int64, limit int) ([]LocalJob, error) {
	return queryHistory(ctx, s, "jobs", `SELECT printer, updated, job FROM jobs
		WHERE (? = 0 OR printer = ?) ORDER BY updated DESC, feed_seq DESC LIMIT ?`,
		[]any{printerID, printerID, historyLimit(limit)},
		func(p int64, t time.Time, j deviceapi.Job) LocalJob { return LocalJob{p, t, j} })
}

// Events returns the events of printer printerID (0: every printer), most
// recently read first, at most limit (<= 0: 100; at most 10000).
func (s *Store) Events(ctx context.Context, printerID int64, limit int) ([]LocalEvent, error) {
	return queryHistory(ctx, s, "events", `SELECT printer, seen, event FROM events
		WHERE (? = 0 OR printer = ?) ORDER BY seen DESC, seq DESC LIMIT ?`,
		[]any{printerID, printerID, historyLimit(limit)},
		func(p int64, t time.Time, e fleet.Event) LocalEvent { return LocalEvent{p, t, e} })
}

// Gaps returns the gaps recorded in the feeds of printer printerID (0:
// every printer), newest first, at most limit (<= 0: 100; at most 10000).
func (s *Store) Gaps(ctx context.Context, printerID int64, limit int) ([]LocalGap, error) {
	return queryHistory(ctx, s, "gaps", `SELECT printer, seen, gap FROM gaps
		WHERE (? = 0 OR printer = ?) ORDER BY seen DESC, id DESC LIMIT ?`,
		[]any{printerID, printerID, historyLimit(limit)},
		func(p int64, t time.Time, g fleet.Gap) LocalGap { return LocalGap{p, t, g} })
}

// ConsumablesHistory returns the consumables snapshots of printer
// printerID read in [from, to), oldest first, for plots.
func (s *Store) ConsumablesHistory(ctx context.Context, printerID int64, from, to time.Time) ([]ConsumablesSample, error) {
	return queryHistory(ctx, s, "consumables history", `SELECT printer, seen, consumables FROM consumables_history
		WHERE printer = ? AND seen >= ? AND seen < ? ORDER BY seen LIMIT ?`,
		[]any{printerID, sqlitedb.FormatTime(from), sqlitedb.FormatTime(to), maxHistoryLimit},
		func(p int64, t time.Time, c fleet.Consumables) ConsumablesSample { return ConsumablesSample{p, t, c} })
}

// CountersHistory returns the counters snapshots of printer printerID read
// in [from, to), oldest first, for plots.
func (s *Store) CountersHistory(ctx context.Context, printerID int64, from, to time.Time) ([]CountersSample, error) {
	return queryHistory(ctx, s, "counters history", `SELECT printer, seen, counters FROM counters_history
		WHERE printer = ? AND seen >= ? AND seen < ? ORDER BY seen LIMIT ?`,
		[]any{printerID, sqlitedb.FormatTime(from), sqlitedb.FormatTime(to), maxHistoryLimit},
		func(p int64, t time.Time, c fleet.Counters) CountersSample { return CountersSample{p, t, c} })
}

// Prune deletes the local history read before before: events, gaps,
// snapshots, and jobs not changed since. It returns how many rows went.
// Printers, their latest state and the outbox are not touched.
func (s *Store) Prune(ctx context.Context, before time.Time) (int64, error) {
	ts := sqlitedb.FormatTime(before)
	var total int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			`DELETE FROM events WHERE seen < ?`,
			`DELETE FROM gaps WHERE seen < ?`,
			`DELETE FROM jobs WHERE updated < ?`,
			`DELETE FROM counters_history WHERE seen < ?`,
			`DELETE FROM consumables_history WHERE seen < ?`,
		} {
			res, err := tx.ExecContext(ctx, q, ts)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			total += n
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune history before %s: %w", ts, err)
	}
	return total, nil
}

func historyLimit(n int) int {
	if n <= 0 {
		return defaultHistoryLimit
	}
	return min(n, maxHistoryLimit)
}

// queryHistory runs query, whose rows are (printer, time, JSON of T), and
// builds one result per row with mk.
func queryHistory[T, R any](ctx context.Context, s *Store, what, query string, args []any, mk func(int64, time.Time, T) R) ([]R, error) {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	defer rows.Close()
	out := []R{}
	for rows.Next() {
		var (
			p    int64
			t, b string
			v    T
		)
		if err := rows.Scan(&p, &t, &b); err != nil {
			return nil, fmt.Errorf("read %s: %w", what, err)
		}
		tm, err := sqlitedb.ParseTime(t)
		if err == nil {
			err = json.Unmarshal([]byte(b), &v)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s of printer %d: corrupt row: %w", what, p, err)
		}
		out = append(out, mk(p, tm, v))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	return out, nil
}
