package commandcenter

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// DiagnosticPolicy is how the site decides on the cloud's diagnostic
// requests.
type DiagnosticPolicy string

// The policies.
const (
	// DiagnosticsAsk: a person approves or refuses each request in the
	// local UI; nothing runs before.
	DiagnosticsAsk DiagnosticPolicy = "ask"
	// DiagnosticsAuto: every request the cloud hands over (which the
	// cloud allowed the requester under the customer's grant) runs at
	// once.
	DiagnosticsAuto DiagnosticPolicy = "auto"
)

// ParseDiagnosticPolicy parses "ask" or "auto".
func ParseDiagnosticPolicy(s string) (DiagnosticPolicy, error) {
	switch p := DiagnosticPolicy(s); p {
	case DiagnosticsAsk, DiagnosticsAuto:
		return p, nil
	}
	return "", fmt.Errorf("diagnostics policy %q: want ask or auto", s)
}

// ErrDecided is the answer to a decision on a request that was decided
// otherwise before (approving one refused, say). Deciding the same way
// again is no error and changes nothing.
var ErrDecided = errors.New("the request was decided otherwise already")

// LocalDiagnostic is a diagnostic request as the site keeps it.
type LocalDiagnostic struct {
	fleet.DiagnosticRequest
	Received  time.Time             `json:"received"`
	State     fleet.DiagnosticState `json:"state"`
	Reason    string                `json:"reason,omitempty"`
	DecidedBy string                `json:"decided_by,omitempty"`
	Updated   time.Time             `json:"updated"`
	// Reported is the latest state the cloud acknowledged.
	Reported fleet.DiagnosticState `json:"reported,omitempty"`
	Chunks   int                   `json:"chunks"`
	Sent     int                   `json:"chunks_sent"`
	Size     int64                 `json:"size"`
	SHA256   string                `json:"sha256,omitempty"`
}

// maxLocalDiagnostics bounds the requests Diagnostics lists.
const maxLocalDiagnostics = 200

const localDiagColumns = `d.id, d.request, d.received, d.state, d.reason, d.decided_by, d.updated, d.reported, d.size, d.sha256,
	(SELECT COUNT(*) FROM diagnostic_chunks c WHERE c.id = d.id),
	(SELECT COUNT(*) FROM diagnostic_chunks c WHERE c.id = d.id AND c.sent = 1)`

func scanLocalDiagnostic(sc interface{ Scan(...any) error }) (LocalDiagnostic, error) {
	var d LocalDiagnostic
	var id, req string
	var received, updated int64
	if err := sc.Scan(&id, &req, &received, &d.State, &d.Reason, &d.DecidedBy, &updated, &d.Reported, &d.Size, &d.SHA256, &d.Chunks, &d.Sent); err != nil {
		return LocalDiagnostic{}, err
	}
	if err := json.Unmarshal([]byte(req), &d.DiagnosticRequest); err != nil {
		return LocalDiagnostic{}, fmt.Errorf("diagnostic %s: stored request: %w", id, err)
	}
	d.Received, d.Updated = time.Unix(0, received).UTC(), time.Unix(0, updated).UTC()
	return d, nil
}

// ReceiveDiagnostics keeps the requests the cloud handed over that the
// site does not know yet, as delivered, or as approved by the site's
// policy when it is DiagnosticsAuto. A request the site knows is left as it
// is: the cloud hands a request over until the site reports it delivered,
// and may do so more than once. A request that does not validate is kept
// as failed, with the reason, so the cloud learns of it. It returns how
// many were new.
func (s *Store) ReceiveDiagnostics(ctx context.Context, reqs []fleet.DiagnosticRequest, policy DiagnosticPolicy, now time.Time) (int, error) {
	n := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, r := range reqs {
			if !r.ID.Valid() {
				continue // nothing to report it under
			}
			raw, err := json.Marshal(r)
			if err != nil {
				return err
			}
			state, reason, by := fleet.DiagDelivered, "", ""
			if err := r.Validate(); err != nil {
				state, reason = fleet.DiagFailed, "refused by the Command Center: "+err.Error()
			} else if policy == DiagnosticsAuto {
				state, by = fleet.DiagApproved, "site policy"
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO diagnostics (id, request, received, state, reason, decided_by, updated)
				VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`, r.ID, string(raw), now.UnixNano(), state, reason, by, now.UnixNano())
			if err != nil {
				return err
			}
			if k, _ := res.RowsAffected(); k == 1 {
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("receive diagnostics: %w", err)
	}
	return n, nil
}

// Diagnostics lists the site's diagnostic requests, newest first.
func (s *Store) Diagnostics(ctx context.Context) ([]LocalDiagnostic, error) {
	return s.queryDiagnostics(ctx, `ORDER BY d.received DESC, d.id LIMIT ?`, maxLocalDiagnostics)
}

// activeDiagnostics lists the requests the runner has work for: not final,
// or final but not yet acknowledged by the cloud; oldest first.
func (s *Store) activeDiagnostics(ctx context.Context) ([]LocalDiagnostic, error) {
	return s.queryDiagnostics(ctx, `WHERE d.state NOT IN (?, ?, ?, ?, ?) OR d.state <> d.reported ORDER BY d.received, d.id`,
		fleet.DiagDone, fleet.DiagRefused, fleet.DiagFailed, fleet.DiagCancelled, fleet.DiagExpired)
}

func (s *Store) queryDiagnostics(ctx context.Context, tail string, args ...any) ([]LocalDiagnostic, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+localDiagColumns+` FROM diagnostics d `+tail, args...)
	if err != nil {
		return nil, fmt.Errorf("diagnostics: %w", err)
	}
	defer rows.Close()
	var out []LocalDiagnostic
	for rows.Next() {
		d, err := scanLocalDiagnostic(rows)
		if err != nil {
			return nil, fmt.Errorf("diagnostics: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Diagnostic returns one request; an unknown ID is fleet.ErrNotFound.
func (s *Store) Diagnostic(ctx context.Context, id fleet.DiagnosticID) (LocalDiagnostic, error) {
	d, err := scanLocalDiagnostic(s.db.QueryRowContext(ctx, `SELECT `+localDiagColumns+` FROM diagnostics d WHERE d.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return LocalDiagnostic{}, fmt.Errorf("diagnostic %s: %w", id, fleet.ErrNotFound)
	}
	return d, err
}

// DecideDiagnostic approves or refuses a delivered request on behalf of
// by. Deciding a request the same way again (a second click, a replayed
// form) changes nothing and is no error: it never runs twice. Deciding
// otherwise than before, or a request no longer awaiting a decision
// (cancelled, expired), is ErrDecided; an unknown ID fleet.ErrNotFound.
func (s *Store) DecideDiagnostic(ctx context.Context, id fleet.DiagnosticID, approve bool, by, reason string, now time.Time) (LocalDiagnostic, error) {
	want := fleet.DiagRefused
	if approve {
		want = fleet.DiagApproved
	}
	var out LocalDiagnostic
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var state fleet.DiagnosticState
		var decidedBy string
		err := tx.QueryRowContext(ctx, `SELECT state, decided_by FROM diagnostics WHERE id = ?`, id).Scan(&state, &decidedBy)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("diagnostic %s: %w", id, fleet.ErrNotFound)
		}
		if err != nil {
			return err
		}
		switch {
		case state == fleet.DiagDelivered:
		case decidedBy != "" && (approve && state != fleet.DiagRefused || !approve && state == fleet.DiagRefused):
			return nil // decided so before: a replay
		default:
			return fmt.Errorf("diagnostic %s is %s: %w", id, state, ErrDecided)
		}
		if reason == "" && !approve {
			reason = "refused at the site"
		}
		_, err = tx.ExecContext(ctx, `UPDATE diagnostics SET state = ?, reason = ?, decided_by = ?, updated = ? WHERE id = ?`,
			want, reason, by, now.UnixNano(), id)
		return err
	})
	if err != nil {
		return LocalDiagnostic{}, fmt.Errorf("decide diagnostic: %w", err)
	}
	out, err = s.Diagnostic(ctx, id)
	return out, err
}

// setDiagnosticState moves a request to state with reason, if it is still
// in from.
func (s *Store) setDiagnosticState(ctx context.Context, id fleet.DiagnosticID, from, state fleet.DiagnosticState, reason string, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE diagnostics SET state = ?, reason = ?, updated = ? WHERE id = ? AND state = ?`,
		state, reason, now.UnixNano(), id, from)
	if err != nil {
		return fmt.Errorf("diagnostic %s: %w", id, err)
	}
	return nil
}

// markReported records that the cloud acknowledged state.
func (s *Store) markReported(ctx context.Context, id fleet.DiagnosticID, state fleet.DiagnosticState) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE diagnostics SET reported = ? WHERE id = ?`, state, id); err != nil {
		return fmt.Errorf("diagnostic %s: %w", id, err)
	}
	return nil
}

// saveDiagnosticResult keeps a running request's filtered result and its
// chunks and moves it to uploading, in one transaction: after a crash the
// request is either still running (and runs again) or has every chunk.
func (s *Store) saveDiagnosticResult(ctx context.Context, id fleet.DiagnosticID, result []byte, now time.Time) error {
	sum := sha256.Sum256(result)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE diagnostics SET state = ?, result = ?, size = ?, sha256 = ?, updated = ? WHERE id = ? AND state = ?`,
			fleet.DiagUploading, result, len(result), hex.EncodeToString(sum[:]), now.UnixNano(), id, fleet.DiagRunning)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("no longer running")
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM diagnostic_chunks WHERE id = ?`, id); err != nil {
			return err
		}
		for i := 0; i*fleet.DiagnosticChunk < len(result); i++ {
			chunk := result[i*fleet.DiagnosticChunk : min((i+1)*fleet.DiagnosticChunk, len(result))]
			if _, err := tx.ExecContext(ctx, `INSERT INTO diagnostic_chunks (id, idx, data) VALUES (?, ?, ?)`, id, i, chunk); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("diagnostic %s: save result: %w", id, err)
	}
	return nil
}

// nextUnsentChunk returns the first chunk of a request the cloud has not
// acknowledged, and the count of chunks; ok false when all are sent.
func (s *Store) nextUnsentChunk(ctx context.Context, id fleet.DiagnosticID) (c fleet.DiagnosticChunkData, ok bool, err error) {
	c.ID = id
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM diagnostic_chunks WHERE id = ?`, id).Scan(&c.Chunks); err != nil {
		return c, false, err
	}
	err = s.db.QueryRowContext(ctx, `SELECT idx, data FROM diagnostic_chunks WHERE id = ? AND sent = 0 ORDER BY idx LIMIT 1`, id).Scan(&c.Index, &c.Data)
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, nil
	}
	return c, err == nil, err
}

// markChunkSent records that the cloud acknowledged chunk idx.
func (s *Store) markChunkSent(ctx context.Context, id fleet.DiagnosticID, idx int) error {
	_, err := s.db.ExecContext(ctx, `UPDATE diagnostic_chunks SET sent = 1 WHERE id = ? AND idx = ?`, id, idx)
	return err
}

// DiagnosticResult returns the filtered result a request sent (or is
// sending), as the site keeps it; nil before it ran.
func (s *Store) DiagnosticResult(ctx context.Context, id fleet.DiagnosticID) ([]byte, error) {
	var b []byte
	err := s.read.QueryRowContext(ctx, `SELECT result FROM diagnostics WHERE id = ?`, id).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("diagnostic %s: %w", id, fleet.ErrNotFound)
	}
	return b, err
}
