package commandcenter

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/update"
)

// Signed updates on the site. The Command Center mirrors the cloud's TUF
// repository (update.Mirror) and serves it to its printers, which verify
// everything themselves. What it adds is the site's say in when: a policy
// (UpdatePolicy) and approvals given in the local UI decide which mirrored
// releases a printer may install now, published to the printers as
// /tuf/approvals.json. Holding a release is all this can do: a printer
// installs nothing its own TUF client did not verify.

// UpdateMode is how a site takes new releases.
type UpdateMode string

// The update modes.
const (
	// UpdateNotify shows releases in the local UI; printers install none.
	UpdateNotify UpdateMode = "notify"
	// UpdateApprove lets printers install each release once someone
	// approved it in the local UI.
	UpdateApprove UpdateMode = "approve"
	// UpdateWindow lets printers install approved releases at once and
	// every other release during the weekly maintenance window.
	UpdateWindow UpdateMode = "window"
)

// UpdatePolicy is the site's update policy. The maintenance window starts
// at StartHour on Weekday, in the Command Center's local time, and lasts
// Hours.
type UpdatePolicy struct {
	Mode      UpdateMode   `json:"mode"`
	Weekday   time.Weekday `json:"weekday"`
	StartHour int          `json:"start_hour"`
	Hours     int          `json:"hours"`
}

// Validate reports whether the policy is usable.
func (p UpdatePolicy) Validate() error {
	switch p.Mode {
	case UpdateNotify, UpdateApprove, UpdateWindow:
	default:
		return fmt.Errorf("update mode %q: want notify, approve or window", p.Mode)
	}
	if p.Weekday < time.Sunday || p.Weekday > time.Saturday || p.StartHour < 0 || p.StartHour > 23 || p.Hours < 1 || p.Hours > 24 {
		return fmt.Errorf("maintenance window: weekday 0–6, start hour 0–23 and 1–24 hours, not %d, %d, %d", p.Weekday, p.StartHour, p.Hours)
	}
	return nil
}

// InWindow reports whether t (in its own location) falls in the weekly
// maintenance window.
func (p UpdatePolicy) InWindow(t time.Time) bool {
	start := time.Date(t.Year(), t.Month(), t.Day(), p.StartHour, 0, 0, 0, t.Location())
	start = start.AddDate(0, 0, -int((t.Weekday()-p.Weekday+7)%7))
	for _, s := range []time.Time{start, start.AddDate(0, 0, -7)} { // a window may span midnight into t's day
		if !t.Before(s) && t.Before(s.Add(time.Duration(p.Hours)*time.Hour)) {
			return true
		}
	}
	return false
}

// UpdatePolicy returns the site's update policy.
func (s *Store) UpdatePolicy(ctx context.Context) (UpdatePolicy, error) {
	var p UpdatePolicy
	err := s.read.QueryRowContext(ctx, `SELECT mode, weekday, start_hour, hours FROM update_policy WHERE id = 1`).
		Scan(&p.Mode, &p.Weekday, &p.StartHour, &p.Hours)
	if err != nil {
		return UpdatePolicy{}, fmt.Errorf("update policy: %w", err)
	}
	return p, nil
}

// SetUpdatePolicy replaces the site's update policy.
func (s *Store) SetUpdatePolicy(ctx context.Context, p UpdatePolicy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, `UPDATE update_policy SET mode = ?, weekday = ?, start_hour = ?, hours = ? WHERE id = 1`,
		p.Mode, p.Weekday, p.StartHour, p.Hours)
	if err != nil {
		return fmt.Errorf("set update policy: %w", err)
	}
	return nil
}

// ApproveUpdate records that target may be installed; approving twice
// keeps the first time.
func (s *Store) ApproveUpdate(ctx context.Context, target string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO update_approvals (target, approved_at) VALUES (?, ?) ON CONFLICT DO NOTHING`,
		target, at.UnixMilli())
	if err != nil {
		return fmt.Errorf("approve %s: %w", target, err)
	}
	return nil
}

// WithdrawUpdate takes an approval back. Printers that installed the
// release keep it.
func (s *Store) WithdrawUpdate(ctx context.Context, target string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM update_approvals WHERE target = ?`, target); err != nil {
		return fmt.Errorf("withdraw %s: %w", target, err)
	}
	return nil
}

// UpdateApprovals returns when each approved target was approved.
func (s *Store) UpdateApprovals(ctx context.Context) (map[string]time.Time, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT target, approved_at FROM update_approvals`)
	if err != nil {
		return nil, fmt.Errorf("update approvals: %w", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var name string
		var ms int64
		if err := rows.Scan(&name, &ms); err != nil {
			return nil, fmt.Errorf("update approvals: %w", err)
		}
		out[name] = time.UnixMilli(ms)
	}
	return out, rows.Err()
}

// Mirror is what the site's update decisions need of the update mirror.
type Mirror interface {
	Targets() []update.MirroredTarget
	Halted() []string
}

// Release is a mirrored release with the site's decision about it.
type Release struct {
	update.MirroredTarget
	Halted     bool      `json:"halted"`
	ApprovedAt time.Time `json:"approved_at,omitzero"`
	// Installable says whether the site's printers may install it now.
	Installable bool `json:"installable"`
	// Why says in words what decides Installable.
	Why string `json:"why"`
}

// Releases returns the mirrored releases with the site's decision about
// each at now.
func (s *Store) Releases(ctx context.Context, m Mirror, now time.Time) ([]Release, UpdatePolicy, error) {
	p, err := s.UpdatePolicy(ctx)
	if err != nil {
		return nil, UpdatePolicy{}, err
	}
	approved, err := s.UpdateApprovals(ctx)
	if err != nil {
		return nil, UpdatePolicy{}, err
	}
	halted := m.Halted()
	var out []Release
	for _, t := range m.Targets() {
		if t.Release.Kind == update.KindCommandCenter {
			continue // the Command Center's own builds: not the printers' to approve (package selfupdate)
		}
		r := Release{MirroredTarget: t, Halted: slices.Contains(halted, t.Name), ApprovedAt: approved[t.Name]}
		r.Installable, r.Why = decide(p, r, now)
		out = append(out, r)
	}
	return out, p, nil
}

// decide says whether the site's printers may install r at now.
func decide(p UpdatePolicy, r Release, now time.Time) (bool, string) {
	switch {
	case r.Halted:
		return false, "halted by the cloud: the release raised failures where it was installed first"
	case p.Mode == UpdateNotify:
		return false, "this site is only notified of releases"
	case !r.ApprovedAt.IsZero():
		return true, "approved " + Stamp(r.ApprovedAt)
	case p.Mode == UpdateWindow && p.InWindow(now):
		return true, "in the maintenance window"
	case p.Mode == UpdateWindow:
		return false, "waits for the maintenance window or an approval"
	}
	return false, "waits for an approval"
}

// approvalsDoc is GET /tuf/approvals.json: what the site's printers may
// install now.
type approvalsDoc struct {
	Approved []string `json:"approved"`
}

// NewMirrorHandler serves the mirrored repository to the site's printers
// (GET /tuf/metadata/…, /tuf/targets/…, from repo) and the site's
// approvals (GET /tuf/approvals.json). It takes no request bodies and
// shows nothing private: it is meant for the printers' network.
func NewMirrorHandler(st *Store, m Mirror, repo http.Handler, clk clock.Clock) http.Handler {
	if clk == nil {
		clk = clock.Real{}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /tuf/metadata/", repo)
	mux.Handle("GET /tuf/targets/", repo)
	mux.HandleFunc("GET /tuf/approvals.json", func(w http.ResponseWriter, r *http.Request) {
		rels, _, err := st.Releases(r.Context(), m, clk.Now())
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error, see the Command Center log"})
			return
		}
		doc := approvalsDoc{Approved: []string{}}
		for _, rel := range rels {
			if rel.Installable {
				doc.Approved = append(doc.Approved, rel.Name)
			}
		}
		writeJSON(w, http.StatusOK, doc)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 0)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		mux.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
