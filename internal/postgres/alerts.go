package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/alert"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/jackc/pgx/v5"
)

// alertColumns are the columns scanAlert reads, printers joined as p.
const alertColumns = `a.id, a.org_id, a.site_id, a.printer_id, COALESCE(p.name, ''), a.rule, a.severity,
	a.title, a.detail, a.opened_at, a.updated_at, a.resolved_at, a.revision, a.seen_at,
	a.acked_by, a.acked_at, a.assignee`

const alertFrom = ` FROM alerts a LEFT JOIN printers p ON p.id = a.printer_id AND p.org_id = a.org_id`

func scanAlert(r interface{ Scan(...any) error }) (alert.State, error) {
	var s alert.State
	var opened, updated, resolved, seen, acked int64
	var sev int16
	err := r.Scan(&s.ID, &s.OrgID, &s.SiteID, &s.PrinterID, &s.PrinterName, &s.Rule, &sev,
		&s.Title, &s.Detail, &opened, &updated, &resolved, &s.Revision, &seen, &s.AckedBy, &acked, &s.Assignee)
	s.Severity = fleet.Severity(sev)
	s.Opened, s.Updated, s.Resolved = fromNanos(opened), fromNanos(updated), fromNanos(resolved)
	s.Seen, s.AckedAt = fromNanos(seen), fromNanos(acked)
	return s, err
}

func (d *DB) queryAlerts(ctx context.Context, q string, args ...any) ([]alert.State, error) {
	return collect(ctx, d, q, args, func(r pgx.CollectableRow) (alert.State, error) { return scanAlert(r) })
}

// AlertStates returns the newest alert of each rule of printer p of org.
func (d *DB) AlertStates(ctx context.Context, org fleet.OrgID, p fleet.PrinterID) ([]alert.State, error) {
	out, err := d.queryAlerts(ctx, `SELECT DISTINCT ON (a.rule) `+alertColumns+alertFrom+`
		WHERE a.printer_id = $1 AND a.org_id = $2
		ORDER BY a.rule, a.opened_at DESC, a.resolved_at = 0 DESC, a.id`, p, org)
	if err != nil {
		return nil, fmt.Errorf("alert states of %s: %w", p, err)
	}
	return out, nil
}

// SaveAlert opens (prev 0) or replaces revision prev of an alert; see
// alert.Store.
func (d *DB) SaveAlert(ctx context.Context, s alert.State, prev int) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("save alert: %w", err)
	}
	var n int64
	var err error
	if prev == 0 {
		if s.Revision != 1 || !s.Active() {
			return fmt.Errorf("save alert %s: a new alert is active at revision 1", s.ID)
		}
		n, err = d.exec(ctx, `INSERT INTO alerts (id, org_id, site_id, printer_id, rule, severity, title, detail,
				opened_at, updated_at, resolved_at, revision, seen_at)
			SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, 1, $11 WHERE EXISTS (SELECT 1 FROM orgs WHERE id = $2)
			ON CONFLICT DO NOTHING`,
			s.ID, s.OrgID, s.SiteID, s.PrinterID, s.Rule, int16(s.Severity), s.Title, s.Detail,
			nanos(s.Opened), nanos(s.Updated), nanos(s.Seen))
	} else {
		if s.Revision != prev && s.Revision != prev+1 {
			return fmt.Errorf("save alert %s: revision %d does not follow %d", s.ID, s.Revision, prev)
		}
		n, err = d.exec(ctx, `UPDATE alerts SET site_id = $1, severity = $2, title = $3, detail = $4,
				updated_at = $5, resolved_at = $6, revision = $7, seen_at = GREATEST(seen_at, $8)
			WHERE id = $9 AND org_id = $10 AND revision = $11 AND resolved_at = 0`,
			s.SiteID, int16(s.Severity), s.Title, s.Detail, nanos(s.Updated), nanos(s.Resolved), s.Revision, nanos(s.Seen),
			s.ID, s.OrgID, prev)
	}
	if err != nil {
		return fmt.Errorf("save alert %s: %w", s.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("save alert %s of %s at revision %d: %w", s.Rule, s.PrinterID, prev, fleet.ErrConflict)
	}
	return nil
}

// ActiveAlerts lists the active alerts of rule, of every organisation.
func (d *DB) ActiveAlerts(ctx context.Context, rule fleet.RuleKey) ([]alert.State, error) {
	out, err := d.queryAlerts(ctx, `SELECT `+alertColumns+alertFrom+`
		WHERE a.rule = $1 AND a.resolved_at = 0 ORDER BY a.opened_at, a.id`, rule)
	if err != nil {
		return nil, fmt.Errorf("active alerts of %s: %w", rule, err)
	}
	return out, nil
}

// SilentPrinters lists the printers last seen before before.
func (d *DB) SilentPrinters(ctx context.Context, before time.Time) ([]alert.Subject, error) {
	out, err := d.subjects(ctx, `SELECT org_id, site_id, id, last_seen FROM printers WHERE last_seen < $1 ORDER BY id`, nanos(before))
	if err != nil {
		return nil, fmt.Errorf("silent printers: %w", err)
	}
	return out, nil
}

// StalledPrinters lists the printers seen after seenAfter that are
// printing a job whose last layer ended (or, before its first layer, whose
// last report came) before before.
func (d *DB) StalledPrinters(ctx context.Context, before, seenAfter time.Time) ([]alert.Subject, error) {
	out, err := d.subjects(ctx, `SELECT org_id, site_id, id, since FROM (
			SELECT p.org_id, p.site_id, p.id, GREATEST(
				COALESCE((SELECT l.end_time FROM layers l WHERE l.printer_id = p.id AND l.job_id = s.job_id
					ORDER BY l.layer_index DESC LIMIT 1), 0),
				COALESCE((SELECT j.report_time FROM jobs j WHERE j.printer_id = p.id AND j.job_id = s.job_id), 0)) AS since
			FROM printer_status s JOIN printers p ON p.id = s.printer_id
			WHERE s.state = $1 AND s.job_id <> '' AND p.last_seen > $2) x
		WHERE since > 0 AND since < $3 ORDER BY id`, int16(fleet.StatePrinting), nanos(seenAfter), nanos(before))
	if err != nil {
		return nil, fmt.Errorf("stalled printers: %w", err)
	}
	return out, nil
}

func (d *DB) subjects(ctx context.Context, q string, args ...any) ([]alert.Subject, error) {
	return collect(ctx, d, q, args, func(r pgx.CollectableRow) (alert.Subject, error) {
		var s alert.Subject
		var since int64
		err := r.Scan(&s.OrgID, &s.SiteID, &s.PrinterID, &since)
		s.Since = fromNanos(since)
		return s, err
	})
}

// Alerts lists org's alerts that f selects.
func (d *DB) Alerts(ctx context.Context, org fleet.OrgID, f alert.Filter) ([]fleet.Alert, error) {
	args := []any{org}
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	where := []string{"a.org_id = $1"}
	switch f.Status {
	case alert.ActiveOnly:
		where = append(where, "a.resolved_at = 0")
	case alert.ResolvedOnly:
		where = append(where, "a.resolved_at <> 0")
	}
	if f.Sites.Limited() {
		ids := f.Sites.IDs()
		if len(ids) == 0 {
			return nil, nil
		}
		ss := make([]string, len(ids))
		for i, id := range ids {
			ss[i] = string(id)
		}
		where = append(where, "a.site_id = ANY("+arg(ss)+")")
	}
	if f.PrinterID != "" {
		where = append(where, "a.printer_id = "+arg(f.PrinterID))
	}
	if !f.From.IsZero() {
		where = append(where, "a.opened_at >= "+arg(nanos(f.From)))
	}
	if !f.To.IsZero() {
		where = append(where, "a.opened_at < "+arg(nanos(f.To)))
	}
	q := `SELECT ` + alertColumns + alertFrom + ` WHERE ` + strings.Join(where, " AND ") + `
		ORDER BY CASE WHEN a.resolved_at = 0 THEN a.severity + 10 ELSE 0 END DESC, a.opened_at DESC, a.id
		LIMIT ` + arg(f.PageLimit()) + ` OFFSET ` + arg(max(f.Offset, 0))
	states, err := d.queryAlerts(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("alerts of %s: %w", org, err)
	}
	return alertsOf(states), nil
}

func alertsOf(states []alert.State) []fleet.Alert {
	if len(states) == 0 {
		return nil
	}
	out := make([]fleet.Alert, len(states))
	for i, s := range states {
		out[i] = s.Alert
	}
	return out
}

// Alert returns one alert of org; another organisation's is fleet.ErrNotFound.
func (d *DB) Alert(ctx context.Context, org fleet.OrgID, id fleet.AlertID) (fleet.Alert, error) {
	s, err := scanAlert(d.pool.QueryRow(ctx, `SELECT `+alertColumns+alertFrom+` WHERE a.id = $1 AND a.org_id = $2`, id, org))
	if isNoRows(err) {
		return fleet.Alert{}, fmt.Errorf("alert %s: %w", id, fleet.ErrNotFound)
	}
	if err != nil {
		return fleet.Alert{}, fmt.Errorf("alert %s: %w", id, err)
	}
	return s.Alert, nil
}

// WorstAlerts returns, per printer of org with an active alert, the worst
// one (highest severity, then the oldest).
func (d *DB) WorstAlerts(ctx context.Context, org fleet.OrgID) (map[fleet.PrinterID]fleet.Alert, error) {
	states, err := d.queryAlerts(ctx, `SELECT DISTINCT ON (a.printer_id) `+alertColumns+alertFrom+`
		WHERE a.org_id = $1 AND a.resolved_at = 0 ORDER BY a.printer_id, a.severity DESC, a.opened_at, a.id`, org)
	if err != nil {
		return nil, fmt.Errorf("worst alerts of %s: %w", org, err)
	}
	out := make(map[fleet.PrinterID]fleet.Alert, len(states))
	for _, s := range states {
		out[s.PrinterID] = s.Alert
	}
	return out, nil
}

// alertRowChanged maps "no row changed" to fleet.ErrNotFound.
func alertRowChanged(n int64, err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, fleet.ErrNotFound)
	}
	return nil
}

// AckAlert records that user acknowledged alert id of org at at; the first
// acknowledgement stays. An unknown alert, or another organisation's, is
// fleet.ErrNotFound.
func (d *DB) AckAlert(ctx context.Context, org fleet.OrgID, id fleet.AlertID, user fleet.UserID, at time.Time) error {
	if user == "" {
		return fmt.Errorf("ack alert %s: no user", id)
	}
	n, err := d.exec(ctx, `UPDATE alerts SET acked_by = CASE WHEN acked_by = '' THEN $1 ELSE acked_by END,
			acked_at = CASE WHEN acked_by = '' THEN $2 ELSE acked_at END
		WHERE id = $3 AND org_id = $4`, user, nanos(at), id, org)
	return alertRowChanged(n, err, "ack alert "+string(id))
}

// AssignAlert assigns alert id of org to user, a member of org ("" takes
// the assignment away). An unknown alert or user, or another
// organisation's, is fleet.ErrNotFound.
func (d *DB) AssignAlert(ctx context.Context, org fleet.OrgID, id fleet.AlertID, user fleet.UserID) error {
	n, err := d.exec(ctx, `UPDATE alerts SET assignee = $1
		WHERE id = $2 AND org_id = $3 AND ($1 = '' OR EXISTS (SELECT 1 FROM users WHERE id = $1 AND org_id = $3))`,
		user, id, org)
	return alertRowChanged(n, err, "assign alert "+string(id))
}

// AlertRules returns org's custom rules (oldest first) and muted rules.
func (d *DB) AlertRules(ctx context.Context, org fleet.OrgID) (alert.Rules, error) {
	var r alert.Rules
	var err error
	r.Custom, err = collect(ctx, d, `SELECT id, org_id, site_id, metric, comparison, threshold, severity, created_at
		FROM alert_rules WHERE org_id = $1 ORDER BY created_at, id`, []any{org},
		func(row pgx.CollectableRow) (alert.CustomRule, error) {
			var c alert.CustomRule
			var created int64
			var sev int16
			err := row.Scan(&c.ID, &c.OrgID, &c.SiteID, &c.Metric, &c.Op, &c.Threshold, &sev, &created)
			c.Severity, c.Created = fleet.Severity(sev), fromNanos(created)
			return c, err
		})
	if err != nil {
		return r, fmt.Errorf("alert rules of %s: %w", org, err)
	}
	r.Muted, err = collect(ctx, d, `SELECT rule FROM alert_mutes WHERE org_id = $1 ORDER BY rule`, []any{org},
		pgx.RowTo[fleet.RuleKey])
	if err != nil {
		return r, fmt.Errorf("muted rules of %s: %w", org, err)
	}
	return r, nil
}

// CreateAlertRule stores a custom rule and returns its ID. A site not of the
// rule's organisation, or an unknown organisation, is fleet.ErrNotFound.
func (d *DB) CreateAlertRule(ctx context.Context, r alert.CustomRule) (string, error) {
	if err := r.Validate(); err != nil {
		return "", fmt.Errorf("create alert rule: %w", err)
	}
	id, err := fleet.NewID("rul_")
	if err != nil {
		return "", err
	}
	n, err := d.exec(ctx, `INSERT INTO alert_rules (id, org_id, site_id, metric, comparison, threshold, severity, created_at)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM orgs WHERE id = $2)
			AND ($3 = '' OR EXISTS (SELECT 1 FROM sites WHERE id = $3 AND org_id = $2))`,
		id, r.OrgID, r.SiteID, r.Metric, r.Op, r.Threshold, int16(r.Severity), nanos(r.Created))
	if err := alertRowChanged(n, err, "create alert rule"); err != nil {
		return "", err
	}
	return id, nil
}

// DeleteAlertRule deletes custom rule id of org and its mute; its active
// alerts resolve at at. An unknown rule, or another organisation's, is
// fleet.ErrNotFound.
func (d *DB) DeleteAlertRule(ctx context.Context, org fleet.OrgID, id string, at time.Time) error {
	return d.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM alert_rules WHERE id = $1 AND org_id = $2`, id, org)
		if err := alertRowChanged(tag.RowsAffected(), err, "delete alert rule "+id); err != nil {
			return err
		}
		key := alert.CustomRule{ID: id}.Key()
		if _, err := tx.Exec(ctx, `DELETE FROM alert_mutes WHERE org_id = $1 AND rule = $2`, org, key); err != nil {
			return fmt.Errorf("delete alert rule %s: %w", id, err)
		}
		_, err = tx.Exec(ctx, `UPDATE alerts SET resolved_at = $1, updated_at = GREATEST(updated_at, $1), revision = revision + 1
			WHERE org_id = $2 AND rule = $3 AND resolved_at = 0`, nanos(at), org, key)
		if err != nil {
			return fmt.Errorf("delete alert rule %s: %w", id, err)
		}
		return nil
	})
}

// SetRuleMuted mutes or unmutes rule for org: a built-in rule or one of
// org's custom rules; any other is fleet.ErrNotFound.
func (d *DB) SetRuleMuted(ctx context.Context, org fleet.OrgID, rule fleet.RuleKey, muted bool) error {
	return d.tx(ctx, func(tx pgx.Tx) error {
		var n int
		err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM orgs WHERE id = $1`, org).Scan(&n)
		if err == nil && n > 0 && !alert.IsBuiltin(rule) {
			id, _ := strings.CutPrefix(string(rule), alert.CustomPrefix)
			err = tx.QueryRow(ctx, `SELECT COUNT(*) FROM alert_rules WHERE id = $1 AND org_id = $2`, id, org).Scan(&n)
		}
		if err != nil {
			return fmt.Errorf("rule %s: %w", rule, err)
		}
		if n == 0 {
			return fmt.Errorf("rule %s: %w", rule, fleet.ErrNotFound)
		}
		if muted {
			_, err = tx.Exec(ctx, `INSERT INTO alert_mutes (org_id, rule) VALUES ($1, $2) ON CONFLICT DO NOTHING`, org, rule)
		} else {
			_, err = tx.Exec(ctx, `DELETE FROM alert_mutes WHERE org_id = $1 AND rule = $2`, org, rule)
		}
		if err != nil {
			return fmt.Errorf("mute rule %s: %w", rule, err)
		}
		return nil
	})
}
