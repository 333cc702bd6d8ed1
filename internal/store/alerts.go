package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/alert"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// alertColumns are the columns scanAlert reads, printers joined as p.
const alertColumns = `a.id, a.org_id, a.site_id, a.printer_id, COALESCE(p.name, ''), a.rule, a.severity,
	a.title, a.detail, a.opened_at, a.updated_at, a.resolved_at, a.revision, a.seen_at,
	a.acked_by, a.acked_at, a.assignee`

const alertFrom = ` FROM alerts a LEFT JOIN printers p ON p.id = a.printer_id AND p.org_id = a.org_id`

func scanAlert(sc interface{ Scan(...any) error }) (alert.State, error) {
	var s alert.State
	var opened, updated, resolved, seen, acked int64
	err := sc.Scan(&s.ID, &s.OrgID, &s.SiteID, &s.PrinterID, &s.PrinterName, &s.Rule, &s.Severity,
		&s.Title, &s.Detail, &opened, &updated, &resolved, &s.Revision, &seen, &s.AckedBy, &acked, &s.Assignee)
	s.Opened, s.Updated, s.Resolved = fromNanos(opened), fromNanos(updated), fromNanos(resolved)
	s.Seen, s.AckedAt = fromNanos(seen), fromNanos(acked)
	return s, err
}

func (d *DB) queryAlerts(ctx context.Context, q string, args ...any) ([]alert.State, error) {
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []alert.State
	for rows.Next() {
		s, err := scanAlert(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// AlertStates returns the newest alert of each rule of printer p of org.
func (d *DB) AlertStates(ctx context.Context, org fleet.OrgID, p fleet.PrinterID) ([]alert.State, error) {
	out, err := d.queryAlerts(ctx, `SELECT `+alertColumns+alertFrom+`
		WHERE a.printer_id = ? AND a.org_id = ? AND a.opened_at = (
			SELECT MAX(b.opened_at) FROM alerts b WHERE b.printer_id = a.printer_id AND b.rule = a.rule AND b.org_id = a.org_id)
		ORDER BY a.rule, a.id`, p, org)
	if err != nil {
		return nil, fmt.Errorf("alert states of %s: %w", p, err)
	}
	return dedupeRules(out), nil
}

// AlertStatesOf returns AlertStates of each of printers of org that has
// alerts, in one query per chunk of printers.
func (d *DB) AlertStatesOf(ctx context.Context, org fleet.OrgID, printers []fleet.PrinterID) (map[fleet.PrinterID][]alert.State, error) {
	out := map[fleet.PrinterID][]alert.State{}
	for chunk := range slices.Chunk(printers, printerChunk) {
		args := []any{org}
		for _, p := range chunk {
			args = append(args, p)
		}
		all, err := d.queryAlerts(ctx, `SELECT `+alertColumns+alertFrom+`
			WHERE a.org_id = ? AND a.printer_id IN (?`+strings.Repeat(", ?", len(chunk)-1)+`) AND a.opened_at = (
				SELECT MAX(b.opened_at) FROM alerts b WHERE b.printer_id = a.printer_id AND b.rule = a.rule AND b.org_id = a.org_id)
			ORDER BY a.printer_id, a.rule, a.id`, args...)
		if err != nil {
			return nil, fmt.Errorf("alert states of %d printers: %w", len(chunk), err)
		}
		for len(all) > 0 {
			n := 1
			for n < len(all) && all[n].PrinterID == all[0].PrinterID {
				n++
			}
			out[all[0].PrinterID] = dedupeRules(slices.Clone(all[:n]))
			all = all[n:]
		}
	}
	return out, nil
}

// dedupeRules keeps the active alert of each rule, or its first, when two
// alerts of a rule opened at the same instant.
func dedupeRules(in []alert.State) []alert.State {
	out := in[:0]
	for _, s := range in {
		if n := len(out); n > 0 && out[n-1].Rule == s.Rule {
			if s.Active() {
				out[n-1] = s
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

// SaveAlert opens (prev 0) or replaces revision prev of an alert; see
// alert.Store.
func (d *DB) SaveAlert(ctx context.Context, s alert.State, prev int) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("save alert: %w", err)
	}
	var res sql.Result
	var err error
	if prev == 0 {
		if s.Revision != 1 || !s.Active() {
			return fmt.Errorf("save alert %s: a new alert is active at revision 1", s.ID)
		}
		res, err = d.db.ExecContext(ctx, `INSERT INTO alerts (id, org_id, site_id, printer_id, rule, severity, title, detail,
				opened_at, updated_at, resolved_at, revision, seen_at)
			SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 1, ? WHERE EXISTS (SELECT 1 FROM orgs WHERE id = ?)
			ON CONFLICT DO NOTHING`,
			s.ID, s.OrgID, s.SiteID, s.PrinterID, s.Rule, s.Severity, s.Title, s.Detail,
			nanos(s.Opened), nanos(s.Updated), nanos(s.Seen), s.OrgID)
	} else {
		if s.Revision != prev && s.Revision != prev+1 {
			return fmt.Errorf("save alert %s: revision %d does not follow %d", s.ID, s.Revision, prev)
		}
		res, err = d.db.ExecContext(ctx, `UPDATE alerts SET site_id = ?, severity = ?, title = ?, detail = ?,
				updated_at = ?, resolved_at = ?, revision = ?, seen_at = `+d.dialect.greatest+`(seen_at, ?)
			WHERE id = ? AND org_id = ? AND revision = ? AND resolved_at = 0`,
			s.SiteID, s.Severity, s.Title, s.Detail, nanos(s.Updated), nanos(s.Resolved), s.Revision, nanos(s.Seen),
			s.ID, s.OrgID, prev)
	}
	if err != nil {
		return fmt.Errorf("save alert %s: %w", s.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("save alert %s: %w", s.ID, err)
	} else if n == 0 {
		return fmt.Errorf("save alert %s of %s at revision %d: %w", s.Rule, s.PrinterID, prev, fleet.ErrConflict)
	}
	return nil
}

// ActiveAlerts lists the active alerts of rule, of every organisation.
func (d *DB) ActiveAlerts(ctx context.Context, rule fleet.RuleKey) ([]alert.State, error) {
	out, err := d.queryAlerts(ctx, `SELECT `+alertColumns+alertFrom+`
		WHERE a.rule = ? AND a.resolved_at = 0 ORDER BY a.opened_at, a.id`, rule)
	if err != nil {
		return nil, fmt.Errorf("active alerts of %s: %w", rule, err)
	}
	return out, nil
}

// SilentPrinters lists the printers last seen before before.
func (d *DB) SilentPrinters(ctx context.Context, before time.Time) ([]alert.Subject, error) {
	out, err := d.subjects(ctx, `SELECT org_id, site_id, id, last_seen FROM printers WHERE last_seen < ? ORDER BY id`, nanos(before))
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
			SELECT p.org_id, p.site_id, p.id, `+d.dialect.greatest+`(
				COALESCE((SELECT l.end_time FROM layers l WHERE l.printer_id = p.id AND l.job_id = s.job_id
					ORDER BY l.layer_index DESC LIMIT 1), 0),
				COALESCE((SELECT j.report_time FROM jobs j WHERE j.printer_id = p.id AND j.job_id = s.job_id), 0)) AS since
			FROM printer_status s JOIN printers p ON p.id = s.printer_id
			WHERE s.state = ? AND s.job_id <> '' AND p.last_seen > ?) stalled
		WHERE since > 0 AND since < ? ORDER BY id`, fleet.StatePrinting, nanos(seenAfter), nanos(before))
	if err != nil {
		return nil, fmt.Errorf("stalled printers: %w", err)
	}
	return out, nil
}

func (d *DB) subjects(ctx context.Context, q string, args ...any) ([]alert.Subject, error) {
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []alert.Subject
	for rows.Next() {
		var s alert.Subject
		var since int64
		if err := rows.Scan(&s.OrgID, &s.SiteID, &s.PrinterID, &since); err != nil {
			return nil, err
		}
		s.Since = fromNanos(since)
		out = append(out, s)
	}
	return out, rows.Err()
}

// Alerts lists org's alerts that f selects.
func (d *DB) Alerts(ctx context.Context, org fleet.OrgID, f alert.Filter) ([]fleet.Alert, error) {
	where := []string{"a.org_id = ?"}
	args := []any{org}
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
		where = append(where, "a.site_id IN (?"+strings.Repeat(", ?", len(ids)-1)+")")
		for _, id := range ids {
			args = append(args, id)
		}
	}
	if f.PrinterID != "" {
		where, args = append(where, "a.printer_id = ?"), append(args, f.PrinterID)
	}
	if !f.From.IsZero() {
		where, args = append(where, "a.opened_at >= ?"), append(args, nanos(f.From))
	}
	if !f.To.IsZero() {
		where, args = append(where, "a.opened_at < ?"), append(args, nanos(f.To))
	}
	args = append(args, f.PageLimit(), max(f.Offset, 0))
	states, err := d.queryAlerts(ctx, `SELECT `+alertColumns+alertFrom+` WHERE `+strings.Join(where, " AND ")+`
		ORDER BY CASE WHEN a.resolved_at = 0 THEN a.severity + 10 ELSE 0 END DESC, a.opened_at DESC, a.id
		LIMIT ? OFFSET ?`, args...)
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
	s, err := scanAlert(d.db.QueryRowContext(ctx, `SELECT `+alertColumns+alertFrom+` WHERE a.id = ? AND a.org_id = ?`, id, org))
	if errors.Is(err, sql.ErrNoRows) {
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
	states, err := d.queryAlerts(ctx, `SELECT `+alertColumns+alertFrom+`
		WHERE a.org_id = ? AND a.resolved_at = 0 ORDER BY a.printer_id, a.severity DESC, a.opened_at, a.id`, org)
	if err != nil {
		return nil, fmt.Errorf("worst alerts of %s: %w", org, err)
	}
	return worstOf(states), nil
}

// worstOf keeps the first alert of each printer of states, sorted worst first per printer.
func worstOf(states []alert.State) map[fleet.PrinterID]fleet.Alert {
	out := map[fleet.PrinterID]fleet.Alert{}
	for _, s := range states {
		if _, ok := out[s.PrinterID]; !ok {
			out[s.PrinterID] = s.Alert
		}
	}
	return out
}

// AckAlert records that user acknowledged alert id of org at at; the first
// acknowledgement stays. An unknown alert, or another organisation's, is
// fleet.ErrNotFound.
func (d *DB) AckAlert(ctx context.Context, org fleet.OrgID, id fleet.AlertID, user fleet.UserID, at time.Time) error {
	if user == "" {
		return fmt.Errorf("ack alert %s: no user", id)
	}
	res, err := d.db.ExecContext(ctx, `UPDATE alerts SET acked_by = CASE WHEN acked_by = '' THEN ? ELSE acked_by END,
			acked_at = CASE WHEN acked_by = '' THEN ? ELSE acked_at END
		WHERE id = ? AND org_id = ?`, user, nanos(at), id, org)
	return alertRowChanged(res, err, "ack alert "+string(id))
}

// AssignAlert assigns alert id of org to user, a member of org ("" takes
// the assignment away). An unknown alert or user, or another
// organisation's, is fleet.ErrNotFound.
func (d *DB) AssignAlert(ctx context.Context, org fleet.OrgID, id fleet.AlertID, user fleet.UserID) error {
	res, err := d.db.ExecContext(ctx, `UPDATE alerts SET assignee = ?
		WHERE id = ? AND org_id = ? AND (? = '' OR EXISTS (SELECT 1 FROM users WHERE id = ? AND org_id = ?))`,
		user, id, org, user, user, org)
	return alertRowChanged(res, err, "assign alert "+string(id))
}

// alertRowChanged maps "no row changed" to fleet.ErrNotFound.
func alertRowChanged(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, fleet.ErrNotFound)
	}
	return nil
}

// AlertRules returns org's custom rules (oldest first) and muted rules.
func (d *DB) AlertRules(ctx context.Context, org fleet.OrgID) (alert.Rules, error) {
	var r alert.Rules
	rows, err := d.db.QueryContext(ctx, `SELECT id, org_id, site_id, metric, comparison, threshold, severity, created_at
		FROM alert_rules WHERE org_id = ? ORDER BY created_at, id`, org)
	if err != nil {
		return r, fmt.Errorf("alert rules of %s: %w", org, err)
	}
	defer rows.Close()
	for rows.Next() {
		var c alert.CustomRule
		var created int64
		if err := rows.Scan(&c.ID, &c.OrgID, &c.SiteID, &c.Metric, &c.Op, &c.Threshold, &c.Severity, &created); err != nil {
			return r, fmt.Errorf("alert rules of %s: %w", org, err)
		}
		c.Created = fromNanos(created)
		r.Custom = append(r.Custom, c)
	}
	if err := rows.Err(); err != nil {
		return r, fmt.Errorf("alert rules of %s: %w", org, err)
	}
	mutes, err := d.db.QueryContext(ctx, `SELECT rule FROM alert_mutes WHERE org_id = ? ORDER BY rule`, org)
	if err != nil {
		return r, fmt.Errorf("muted rules of %s: %w", org, err)
	}
	defer mutes.Close()
	for mutes.Next() {
		var k fleet.RuleKey
		if err := mutes.Scan(&k); err != nil {
			return r, fmt.Errorf("muted rules of %s: %w", org, err)
		}
		r.Muted = append(r.Muted, k)
	}
	if err := mutes.Err(); err != nil {
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
	res, err := d.db.ExecContext(ctx, `INSERT INTO alert_rules (id, org_id, site_id, metric, comparison, threshold, severity, created_at)
		SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM orgs WHERE id = ?)
			AND (? = '' OR EXISTS (SELECT 1 FROM sites WHERE id = ? AND org_id = ?))`,
		id, r.OrgID, r.SiteID, r.Metric, r.Op, r.Threshold, r.Severity, nanos(r.Created),
		r.OrgID, r.SiteID, r.SiteID, r.OrgID)
	if err := alertRowChanged(res, err, "create alert rule"); err != nil {
		return "", err
	}
	return id, nil
}

// DeleteAlertRule deletes custom rule id of org and its mute; its active
// alerts resolve at at. An unknown rule, or another organisation's, is
// fleet.ErrNotFound.
func (d *DB) DeleteAlertRule(ctx context.Context, org fleet.OrgID, id string, at time.Time) error {
	return d.tx(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM alert_rules WHERE id = ? AND org_id = ?`, id, org)
		if err := alertRowChanged(res, err, "delete alert rule "+id); err != nil {
			return err
		}
		key := alert.CustomRule{ID: id}.Key()
		if _, err := tx.ExecContext(ctx, `DELETE FROM alert_mutes WHERE org_id = ? AND rule = ?`, org, key); err != nil {
			return fmt.Errorf("delete alert rule %s: %w", id, err)
		}
		_, err = tx.ExecContext(ctx, `UPDATE alerts SET resolved_at = ?, updated_at = `+d.dialect.greatest+`(updated_at, ?), revision = revision + 1
			WHERE org_id = ? AND rule = ? AND resolved_at = 0`, nanos(at), nanos(at), org, key)
		if err != nil {
			return fmt.Errorf("delete alert rule %s: %w", id, err)
		}
		return nil
	})
}

// SetRuleMuted mutes or unmutes rule for org: a built-in rule or one of
// org's custom rules; any other is fleet.ErrNotFound.
func (d *DB) SetRuleMuted(ctx context.Context, org fleet.OrgID, rule fleet.RuleKey, muted bool) error {
	return d.tx(ctx, func(tx *txn) error {
		if err := ruleExists(ctx, tx, org, rule); err != nil {
			return err
		}
		var err error
		if muted {
			_, err = tx.ExecContext(ctx, `INSERT INTO alert_mutes (org_id, rule) VALUES (?, ?) ON CONFLICT DO NOTHING`, org, rule)
		} else {
			_, err = tx.ExecContext(ctx, `DELETE FROM alert_mutes WHERE org_id = ? AND rule = ?`, org, rule)
		}
		if err != nil {
			return fmt.Errorf("mute rule %s: %w", rule, err)
		}
		return nil
	})
}

func ruleExists(ctx context.Context, q querier, org fleet.OrgID, rule fleet.RuleKey) error {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM orgs WHERE id = ?`, org).Scan(&n)
	if err == nil && n > 0 && !alert.IsBuiltin(rule) {
		id, _ := strings.CutPrefix(string(rule), alert.CustomPrefix)
		err = q.QueryRowContext(ctx, `SELECT COUNT(*) FROM alert_rules WHERE id = ? AND org_id = ?`, id, org).Scan(&n)
	}
	if err != nil {
		return fmt.Errorf("rule %s: %w", rule, err)
	}
	if n == 0 {
		return fmt.Errorf("rule %s: %w", rule, fleet.ErrNotFound)
	}
	return nil
}
