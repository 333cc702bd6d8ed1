package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// CreateNotifyChannel stores a channel of c.OrgID and returns its ID (c.ID
// is ignored). An unknown organisation is fleet.ErrNotFound.
func (d *DB) CreateNotifyChannel(ctx context.Context, c fleet.NotifyChannel) (fleet.NotifyChannelID, error) {
	if err := c.Validate(); err != nil {
		return "", fmt.Errorf("create notify channel: %w", err)
	}
	id, err := fleet.NewID("nch_")
	if err != nil {
		return "", fmt.Errorf("create notify channel: %w", err)
	}
	err = d.tx(ctx, func(tx *txn) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM orgs WHERE id = ?`, c.OrgID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("organisation %s: %w", c.OrgID, fleet.ErrNotFound)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO notify_channels (id, org_id, kind, name, target, secret, min_severity, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, id, c.OrgID, int(c.Kind), strings.TrimSpace(c.Name), c.Target, c.Secret,
			int(c.MinSeverity), nanos(c.Created))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("create notify channel: %w", err)
	}
	return fleet.NotifyChannelID(id), nil
}

const channelColumns = `SELECT id, org_id, kind, name, target, secret, min_severity, created_at FROM notify_channels `

func (d *DB) queryChannels(ctx context.Context, where string, args ...any) ([]fleet.NotifyChannel, error) {
	rows, err := d.db.QueryContext(ctx, channelColumns+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []fleet.NotifyChannel
	for rows.Next() {
		var c fleet.NotifyChannel
		var kind, sev int
		var created int64
		if err := rows.Scan(&c.ID, &c.OrgID, &kind, &c.Name, &c.Target, &c.Secret, &sev, &created); err != nil {
			return nil, err
		}
		c.Kind, c.MinSeverity, c.Created = fleet.ChannelKind(kind), fleet.Severity(sev), fromNanos(created)
		out = append(out, c)
	}
	return out, rows.Err()
}

// NotifyChannels lists the channels of org, oldest first.
func (d *DB) NotifyChannels(ctx context.Context, org fleet.OrgID) ([]fleet.NotifyChannel, error) {
	cs, err := d.queryChannels(ctx, `WHERE org_id = ? ORDER BY created_at, id`, org)
	if err != nil {
		return nil, fmt.Errorf("notify channels of %s: %w", org, err)
	}
	return cs, nil
}

// NotifyChannel returns a channel of org. A channel of another
// organisation is fleet.ErrNotFound.
func (d *DB) NotifyChannel(ctx context.Context, org fleet.OrgID, id fleet.NotifyChannelID) (fleet.NotifyChannel, error) {
	cs, err := d.queryChannels(ctx, `WHERE id = ? AND org_id = ?`, id, org)
	if err != nil {
		return fleet.NotifyChannel{}, fmt.Errorf("notify channel %s: %w", id, err)
	}
	if len(cs) == 0 {
		return fleet.NotifyChannel{}, fmt.Errorf("notify channel %s: %w", id, fleet.ErrNotFound)
	}
	return cs[0], nil
}

// DeleteNotifyChannel deletes a channel of org; its pending deliveries
// fail at now. A channel of another organisation is fleet.ErrNotFound.
func (d *DB) DeleteNotifyChannel(ctx context.Context, org fleet.OrgID, id fleet.NotifyChannelID, now time.Time) error {
	err := d.tx(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM notify_channels WHERE id = ? AND org_id = ?`, id, org)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(err, fleet.ErrNotFound)
		}
		_, err = tx.ExecContext(ctx, `UPDATE notify_deliveries SET status = ?, lease_until = 0, updated_at = ?,
			last_error = 'channel deleted' WHERE org_id = ? AND channel_id = ? AND status = ?`,
			int(fleet.DeliveryFailed), nanos(now), org, id, int(fleet.DeliveryPending))
		return err
	})
	if err != nil {
		return fmt.Errorf("delete notify channel %s: %w", id, err)
	}
	return nil
}

// SetNotifyPrefs stores a user's notification preferences. A user not of
// p.OrgID is fleet.ErrNotFound.
func (d *DB) SetNotifyPrefs(ctx context.Context, p fleet.NotifyPrefs) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("set notify prefs: %w", err)
	}
	err := d.tx(ctx, func(tx *txn) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE id = ? AND org_id = ?`, p.UserID, p.OrgID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("user %s of %s: %w", p.UserID, p.OrgID, fleet.ErrNotFound)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO notify_prefs (user_id, enabled, email, min_severity, lang) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (user_id) DO UPDATE SET enabled = excluded.enabled, email = excluded.email,
			min_severity = excluded.min_severity, lang = excluded.lang`,
			p.UserID, p.Enabled, p.Email, int(p.MinSeverity), p.Lang)
		return err
	})
	if err != nil {
		return fmt.Errorf("set notify prefs: %w", err)
	}
	return nil
}

// NotifyPrefs returns a user's notification preferences; a user who chose
// none gets them disabled, from warnings on. A user not of org is
// fleet.ErrNotFound.
func (d *DB) NotifyPrefs(ctx context.Context, org fleet.OrgID, user fleet.UserID) (fleet.NotifyPrefs, error) {
	p := fleet.NotifyPrefs{UserID: user, OrgID: org, MinSeverity: fleet.SeverityWarning}
	var enabled sql.NullBool
	var sev sql.NullInt64
	var email, lang sql.NullString
	err := d.db.QueryRowContext(ctx, `SELECT p.enabled, p.email, p.min_severity, p.lang
		FROM users u LEFT JOIN notify_prefs p ON p.user_id = u.id WHERE u.id = ? AND u.org_id = ?`, user, org).
		Scan(&enabled, &email, &sev, &lang)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fleet.NotifyPrefs{}, fmt.Errorf("notify prefs of %s: %w", user, fleet.ErrNotFound)
	case err != nil:
		return fleet.NotifyPrefs{}, fmt.Errorf("notify prefs of %s: %w", user, err)
	}
	if sev.Valid {
		p.Enabled, p.Email, p.MinSeverity, p.Lang = enabled.Bool, email.String, fleet.Severity(sev.Int64), lang.String
	}
	return p, nil
}

// Recipients lists where an alert of org at site may go: every channel of
// org, and every user of org who enabled notifications and may see site;
// ordered by key. The caller filters by severity.
func (d *DB) Recipients(ctx context.Context, org fleet.OrgID, site fleet.SiteID) ([]fleet.Recipient, error) {
	rows, err := d.db.QueryContext(ctx, `
		SELECT 'channel:' || id, kind, target, min_severity, '', id, '' FROM notify_channels WHERE org_id = ?
		UNION ALL
		SELECT 'user:' || u.id, ?, p.email, p.min_severity, p.lang, '', u.id
		FROM notify_prefs p JOIN users u ON u.id = p.user_id
		WHERE u.org_id = ? AND p.enabled AND p.email <> ''
		AND (NOT u.site_limited OR EXISTS (SELECT 1 FROM user_sites s WHERE s.user_id = u.id AND s.site_id = ?))
		ORDER BY 1`, org, int(fleet.ChannelEmail), org, site)
	if err != nil {
		return nil, fmt.Errorf("recipients of %s: %w", org, err)
	}
	defer rows.Close()
	var out []fleet.Recipient
	for rows.Next() {
		var r fleet.Recipient
		var kind, sev int
		if err := rows.Scan(&r.Key, &kind, &r.Target, &sev, &r.Lang, &r.ChannelID, &r.UserID); err != nil {
			return nil, fmt.Errorf("recipients of %s: %w", org, err)
		}
		r.Kind, r.MinSeverity = fleet.ChannelKind(kind), fleet.Severity(sev)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("recipients of %s: %w", org, err)
	}
	return out, nil
}

// EnqueueDeliveries queues deliveries (their ID and Status are ignored),
// pending from NextAt, and returns how many were new. A delivery whose
// (organisation, alert, revision, recipient) is already queued, or older
// than a revision queued for the same recipient, is skipped; a new one
// supersedes the recipient's pending deliveries of older revisions.
func (d *DB) EnqueueDeliveries(ctx context.Context, ds []fleet.Delivery) (int, error) {
	added := 0
	err := d.tx(ctx, func(tx *txn) error {
		added = 0
		for _, dl := range ds {
			row, err := deliveryRow(dl)
			if err != nil {
				return err
			}
			// Enqueueing one alert for one recipient is serialised, so
			// that two PostgreSQL nodes cannot both find no newer revision.
			if err := tx.lock(ctx, lockDelivery, []string{string(dl.OrgID) + "/" + string(dl.Alert.ID) + "/" + dl.Recipient.Key}); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO notify_deliveries
				(id, org_id, alert_id, revision, target_key, kind, target, channel_id, user_id, lang, alert,
				 status, next_at, created_at, updated_at)
				SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
				WHERE NOT EXISTS (SELECT 1 FROM notify_deliveries
					WHERE org_id = ? AND alert_id = ? AND target_key = ? AND revision >= ?)
				ON CONFLICT DO NOTHING`,
				append(row, dl.OrgID, dl.Alert.ID, dl.Recipient.Key, dl.Alert.Revision)...)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				if err != nil {
					return err
				}
				continue
			}
			added++
			if _, err := tx.ExecContext(ctx, `UPDATE notify_deliveries SET status = ?, lease_until = 0, updated_at = ?,
				last_error = ? WHERE org_id = ? AND alert_id = ? AND target_key = ? AND revision < ? AND status = ?`,
				int(fleet.DeliverySuperseded), nanos(dl.Created), fmt.Sprintf("superseded by revision %d", dl.Alert.Revision),
				dl.OrgID, dl.Alert.ID, dl.Recipient.Key, dl.Alert.Revision, int(fleet.DeliveryPending)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("enqueue deliveries: %w", err)
	}
	return added, nil
}

// deliveryRow validates a delivery to enqueue and returns the values of the
// insert, from id to updated_at.
func deliveryRow(dl fleet.Delivery) ([]any, error) {
	if err := dl.Validate(); err != nil {
		return nil, err
	}
	id, err := fleet.NewID("dlv_")
	if err != nil {
		return nil, err
	}
	alert, err := json.Marshal(dl.Alert)
	if err != nil {
		return nil, fmt.Errorf("delivery of %s: %w", dl.Alert.ID, err)
	}
	r := dl.Recipient
	return []any{id, dl.OrgID, dl.Alert.ID, dl.Alert.Revision, r.Key, int(r.Kind), r.Target, r.ChannelID, r.UserID, r.Lang,
		string(alert), int(fleet.DeliveryPending), nanos(dl.NextAt), nanos(dl.Created), nanos(dl.Created)}, nil
}

const deliveryColumns = `SELECT d.id, d.org_id, d.alert, d.target_key, d.kind, d.target, d.channel_id, d.user_id, d.lang,
	COALESCE(c.secret, ''), d.status, d.attempts, d.next_at, d.created_at, d.updated_at, d.last_error
	FROM notify_deliveries d LEFT JOIN notify_channels c ON c.id = d.channel_id AND c.org_id = d.org_id `

func queryDeliveries(ctx context.Context, q querier, where string, args ...any) ([]fleet.Delivery, error) {
	rows, err := q.QueryContext(ctx, deliveryColumns+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []fleet.Delivery
	for rows.Next() {
		var dl fleet.Delivery
		var alert string
		var kind, status int
		var next, created, updated int64
		r := &dl.Recipient
		if err := rows.Scan(&dl.ID, &dl.OrgID, &alert, &r.Key, &kind, &r.Target, &r.ChannelID, &r.UserID, &r.Lang,
			&dl.Secret, &status, &dl.Attempts, &next, &created, &updated, &dl.LastError); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(alert), &dl.Alert); err != nil {
			return nil, fmt.Errorf("delivery %s: %w", dl.ID, err)
		}
		dl.Alert.OrgID = dl.OrgID
		r.Kind, dl.Status = fleet.ChannelKind(kind), fleet.DeliveryStatus(status)
		dl.NextAt, dl.Created, dl.Updated = fromNanos(next), fromNanos(created), fromNanos(updated)
		out = append(out, dl)
	}
	return out, rows.Err()
}

// ClaimDeliveries takes up to limit pending deliveries due at now, oldest
// due first, for this caller until now+lease: it counts the attempt
// (Attempts is the number of the attempt now starting) and no other caller
// gets them until the lease ends or the attempt is recorded.
func (d *DB) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]fleet.Delivery, error) {
	if lease <= 0 || limit <= 0 {
		return nil, fmt.Errorf("claim deliveries: lease %v and limit %d must be positive", lease, limit)
	}
	var out []fleet.Delivery
	err := d.tx(ctx, func(tx *txn) error {
		rows, err := tx.QueryContext(ctx, `SELECT id FROM notify_deliveries WHERE status = ? AND next_at <= ? AND lease_until <= ?
			ORDER BY next_at, id LIMIT ?`+d.dialect.forUpdate("FOR UPDATE SKIP LOCKED"), int(fleet.DeliveryPending), nanos(now), nanos(now), limit)
		if err != nil {
			return err
		}
		var ids []any
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		if len(ids) == 0 {
			out = nil
			return nil
		}
		in := "(?" + strings.Repeat(", ?", len(ids)-1) + ")"
		if _, err := tx.ExecContext(ctx, `UPDATE notify_deliveries SET attempts = attempts + 1, lease_until = ? WHERE id IN `+in,
			append([]any{nanos(now.Add(lease))}, ids...)...); err != nil {
			return err
		}
		out, err = queryDeliveries(ctx, tx, `WHERE d.id IN `+in+` ORDER BY d.next_at, d.id`, ids...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	return out, nil
}

// RecordAttempt logs an attempt of a claimed delivery and moves the
// delivery on: to a.Status, due again at next if that is DeliveryPending.
// The attempt is logged even if the delivery moved on meanwhile (a lease
// ran out and another node tried again, or a newer revision superseded
// it); the delivery's state is then left alone. An unknown delivery is
// fleet.ErrNotFound.
func (d *DB) RecordAttempt(ctx context.Context, a fleet.DeliveryAttempt, next time.Time) error {
	switch a.Status {
	case fleet.DeliveryPending, fleet.DeliverySent, fleet.DeliveryFailed:
	default:
		return fmt.Errorf("record attempt of %s: invalid status %s", a.DeliveryID, a.Status)
	}
	err := d.tx(ctx, func(tx *txn) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM notify_deliveries WHERE id = ?`, a.DeliveryID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fleet.ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO notify_attempts (delivery_id, attempt, at, status, error, org_id)
			SELECT id, ?, ?, ?, ?, org_id FROM notify_deliveries WHERE id = ?
			ON CONFLICT DO NOTHING`, a.Attempt, nanos(a.At), int(a.Status), a.Error, a.DeliveryID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE notify_deliveries SET status = ?, next_at = ?, lease_until = 0, updated_at = ?,
			last_error = ? WHERE id = ? AND attempts = ? AND status = ?`, int(a.Status), nanos(next), nanos(a.At), a.Error,
			a.DeliveryID, a.Attempt, int(fleet.DeliveryPending))
		return err
	})
	if err != nil {
		return fmt.Errorf("record attempt of %s: %w", a.DeliveryID, err)
	}
	return nil
}

// Deliveries lists up to limit deliveries of org, newest first.
func (d *DB) Deliveries(ctx context.Context, org fleet.OrgID, limit int) ([]fleet.Delivery, error) {
	out, err := queryDeliveries(ctx, d.db, `WHERE d.org_id = ? ORDER BY d.created_at DESC, d.id LIMIT ?`, org, limit)
	if err != nil {
		return nil, fmt.Errorf("deliveries of %s: %w", org, err)
	}
	for i := range out {
		out[i].Secret = ""
	}
	return out, nil
}

// DeliveryLog lists up to limit delivery attempts of org, newest first.
func (d *DB) DeliveryLog(ctx context.Context, org fleet.OrgID, limit int) ([]fleet.DeliveryAttempt, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT a.delivery_id, d.alert_id, d.revision, d.kind, d.target, d.channel_id, d.user_id,
		a.attempt, a.at, a.status, a.error
		FROM notify_attempts a JOIN notify_deliveries d ON d.id = a.delivery_id
		WHERE a.org_id = ? AND d.org_id = ? ORDER BY a.at DESC, a.delivery_id, a.attempt DESC LIMIT ?`, org, org, limit)
	if err != nil {
		return nil, fmt.Errorf("delivery log of %s: %w", org, err)
	}
	defer rows.Close()
	var out []fleet.DeliveryAttempt
	for rows.Next() {
		var a fleet.DeliveryAttempt
		var kind, status int
		var at int64
		if err := rows.Scan(&a.DeliveryID, &a.AlertID, &a.Revision, &kind, &a.Target, &a.ChannelID, &a.UserID,
			&a.Attempt, &at, &status, &a.Error); err != nil {
			return nil, fmt.Errorf("delivery log of %s: %w", org, err)
		}
		a.Kind, a.At, a.Status = fleet.ChannelKind(kind), fromNanos(at), fleet.DeliveryStatus(status)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("delivery log of %s: %w", org, err)
	}
	return out, nil
}

// PruneDeliveries deletes the deliveries created before cutoff that are
// no longer pending, with their attempts, and returns how many.
func (d *DB) PruneDeliveries(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := d.db.ExecContext(ctx, `DELETE FROM notify_deliveries WHERE created_at < ? AND status <> ?`,
		nanos(cutoff), int(fleet.DeliveryPending))
	if err != nil {
		return 0, fmt.Errorf("prune deliveries: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune deliveries: %w", err)
	}
	return n, nil
}
