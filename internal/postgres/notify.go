package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/jackc/pgx/v5"
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
	n, err := d.exec(ctx, `INSERT INTO notify_channels (id, org_id, kind, name, target, secret, min_severity, created_at)
		SELECT $1::text, id, $3::smallint, $4::text, $5::text, $6::text, $7::smallint, $8::bigint FROM orgs WHERE id = $2`, id, c.OrgID, int(c.Kind), strings.TrimSpace(c.Name),
		c.Target, c.Secret, int(c.MinSeverity), nanos(c.Created))
	if err != nil {
		return "", fmt.Errorf("create notify channel: %w", err)
	}
	if n == 0 {
		return "", fmt.Errorf("create notify channel: organisation %s: %w", c.OrgID, fleet.ErrNotFound)
	}
	return fleet.NotifyChannelID(id), nil
}

const channelColumns = `SELECT id, org_id, kind, name, target, secret, min_severity, created_at FROM notify_channels `

func scanChannel(r pgx.CollectableRow) (fleet.NotifyChannel, error) {
	var c fleet.NotifyChannel
	var kind, sev int
	var created int64
	if err := r.Scan(&c.ID, &c.OrgID, &kind, &c.Name, &c.Target, &c.Secret, &sev, &created); err != nil {
		return fleet.NotifyChannel{}, err
	}
	c.Kind, c.MinSeverity, c.Created = fleet.ChannelKind(kind), fleet.Severity(sev), fromNanos(created)
	return c, nil
}

// NotifyChannels lists the channels of org, oldest first.
func (d *DB) NotifyChannels(ctx context.Context, org fleet.OrgID) ([]fleet.NotifyChannel, error) {
	cs, err := collect(ctx, d, channelColumns+`WHERE org_id = $1 ORDER BY created_at, id`, []any{org}, scanChannel)
	if err != nil {
		return nil, fmt.Errorf("notify channels of %s: %w", org, err)
	}
	return cs, nil
}

// NotifyChannel returns a channel of org. A channel of another
// organisation is fleet.ErrNotFound.
func (d *DB) NotifyChannel(ctx context.Context, org fleet.OrgID, id fleet.NotifyChannelID) (fleet.NotifyChannel, error) {
	cs, err := collect(ctx, d, channelColumns+`WHERE id = $1 AND org_id = $2`, []any{id, org}, scanChannel)
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
	err := d.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM notify_channels WHERE id = $1 AND org_id = $2`, id, org)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fleet.ErrNotFound
		}
		_, err = tx.Exec(ctx, `UPDATE notify_deliveries SET status = $1, lease_until = 0, updated_at = $2,
			last_error = 'channel deleted' WHERE org_id = $3 AND channel_id = $4 AND status = $5`,
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
	n, err := d.exec(ctx, `INSERT INTO notify_prefs (user_id, enabled, email, min_severity, lang)
		SELECT id, $3::boolean, $4::text, $5::smallint, $6::text FROM users WHERE id = $1 AND org_id = $2
		ON CONFLICT (user_id) DO UPDATE SET enabled = excluded.enabled, email = excluded.email,
		min_severity = excluded.min_severity, lang = excluded.lang`,
		p.UserID, p.OrgID, p.Enabled, p.Email, int(p.MinSeverity), p.Lang)
	if err != nil {
		return fmt.Errorf("set notify prefs: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("set notify prefs: user %s of %s: %w", p.UserID, p.OrgID, fleet.ErrNotFound)
	}
	return nil
}

// NotifyPrefs returns a user's notification preferences; a user who chose
// none gets them disabled, from warnings on. A user not of org is
// fleet.ErrNotFound.
func (d *DB) NotifyPrefs(ctx context.Context, org fleet.OrgID, user fleet.UserID) (fleet.NotifyPrefs, error) {
	p := fleet.NotifyPrefs{UserID: user, OrgID: org, MinSeverity: fleet.SeverityWarning}
	var enabled *bool
	var sev *int
	var email, lang *string
	err := d.queryRow(ctx, `SELECT p.enabled, p.email, p.min_severity, p.lang
		FROM users u LEFT JOIN notify_prefs p ON p.user_id = u.id WHERE u.id = $1 AND u.org_id = $2`,
		[]any{user, org}, &enabled, &email, &sev, &lang)
	switch {
	case isNoRows(err):
		return fleet.NotifyPrefs{}, fmt.Errorf("notify prefs of %s: %w", user, fleet.ErrNotFound)
	case err != nil:
		return fleet.NotifyPrefs{}, fmt.Errorf("notify prefs of %s: %w", user, err)
	}
	if sev != nil {
		p.Enabled, p.Email, p.MinSeverity, p.Lang = *enabled, *email, fleet.Severity(*sev), *lang
	}
	return p, nil
}

// Recipients lists where an alert of org at site may go: every channel of
// org, and every user of org who enabled notifications and may see site;
// ordered by key. The caller filters by severity.
func (d *DB) Recipients(ctx context.Context, org fleet.OrgID, site fleet.SiteID) ([]fleet.Recipient, error) {
	out, err := collect(ctx, d, `
		SELECT 'channel:' || id, kind, target, min_severity, '', id, '' FROM notify_channels WHERE org_id = $1
		UNION ALL
		SELECT 'user:' || u.id, $2::smallint, p.email, p.min_severity, p.lang, '', u.id
		FROM notify_prefs p JOIN users u ON u.id = p.user_id
		WHERE u.org_id = $1 AND p.enabled AND p.email <> ''
		AND (NOT u.site_limited OR EXISTS (SELECT 1 FROM user_sites s WHERE s.user_id = u.id AND s.site_id = $3))
		ORDER BY 1`, []any{org, int(fleet.ChannelEmail), site}, func(row pgx.CollectableRow) (fleet.Recipient, error) {
		var r fleet.Recipient
		var kind, sev int
		err := row.Scan(&r.Key, &kind, &r.Target, &sev, &r.Lang, &r.ChannelID, &r.UserID)
		r.Kind, r.MinSeverity = fleet.ChannelKind(kind), fleet.Severity(sev)
		return r, err
	})
	if err != nil {
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
	err := d.tx(ctx, func(tx pgx.Tx) error {
		added = 0
		for _, dl := range ds {
			row, err := deliveryRow(dl)
			if err != nil {
				return err
			}
			// Enqueueing one alert for one recipient is serialised, so
			// that two nodes cannot both find no newer revision.
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`,
				string(dl.OrgID)+"/"+string(dl.Alert.ID)+"/"+dl.Recipient.Key); err != nil {
				return err
			}
			tag, err := tx.Exec(ctx, `INSERT INTO notify_deliveries
				(id, org_id, alert_id, revision, target_key, kind, target, channel_id, user_id, lang, alert,
				 status, next_at, created_at, updated_at)
				SELECT $1::text, $2::text, $3::text, $4::integer, $5::text, $6::smallint, $7::text, $8::text, $9::text,
					$10::text, $11::text, $12::smallint, $13::bigint, $14::bigint, $15::bigint
				WHERE NOT EXISTS (SELECT 1 FROM notify_deliveries
					WHERE org_id = $2 AND alert_id = $3 AND target_key = $5 AND revision >= $4)
				ON CONFLICT DO NOTHING`, row...)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				continue
			}
			added++
			if _, err := tx.Exec(ctx, `UPDATE notify_deliveries SET status = $1, lease_until = 0, updated_at = $2,
				last_error = $3 WHERE org_id = $4 AND alert_id = $5 AND target_key = $6 AND revision < $7 AND status = $8`,
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

// deliveryRow checks a delivery to enqueue and returns the values of the
// insert, from id to updated_at.
func deliveryRow(dl fleet.Delivery) ([]any, error) {
	switch {
	case dl.OrgID == "" || dl.Alert.ID == "" || dl.Alert.Revision < 1 || dl.Recipient.Key == "":
		return nil, errors.New("delivery without organisation, alert, revision or recipient")
	case dl.Recipient.Kind != fleet.ChannelEmail && dl.Recipient.Kind != fleet.ChannelWebhook:
		return nil, fmt.Errorf("delivery to %s: invalid kind %d", dl.Recipient.Key, dl.Recipient.Kind)
	case dl.Created.IsZero() || dl.NextAt.IsZero():
		return nil, errors.New("delivery without creation or due time")
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

func scanDelivery(row pgx.CollectableRow) (fleet.Delivery, error) {
	var dl fleet.Delivery
	var alert string
	var kind, status int
	var next, created, updated int64
	r := &dl.Recipient
	if err := row.Scan(&dl.ID, &dl.OrgID, &alert, &r.Key, &kind, &r.Target, &r.ChannelID, &r.UserID, &r.Lang,
		&dl.Secret, &status, &dl.Attempts, &next, &created, &updated, &dl.LastError); err != nil {
		return fleet.Delivery{}, err
	}
	if err := json.Unmarshal([]byte(alert), &dl.Alert); err != nil {
		return fleet.Delivery{}, fmt.Errorf("delivery %s: %w", dl.ID, err)
	}
	dl.Alert.OrgID = dl.OrgID
	r.Kind, dl.Status = fleet.ChannelKind(kind), fleet.DeliveryStatus(status)
	dl.NextAt, dl.Created, dl.Updated = fromNanos(next), fromNanos(created), fromNanos(updated)
	return dl, nil
}

// ClaimDeliveries takes up to limit pending deliveries due at now, oldest
// due first, for this caller until now+lease: it counts the attempt
// (Attempts is the number of the attempt now starting) and no other caller
// gets them until the lease ends or the attempt is recorded. Nodes
// claiming at once skip each other's rows (FOR UPDATE SKIP LOCKED).
func (d *DB) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]fleet.Delivery, error) {
	if lease <= 0 || limit <= 0 {
		return nil, fmt.Errorf("claim deliveries: lease %v and limit %d must be positive", lease, limit)
	}
	var out []fleet.Delivery
	err := d.tx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `WITH due AS (
				SELECT id FROM notify_deliveries WHERE status = $1 AND next_at <= $2 AND lease_until <= $2
				ORDER BY next_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
			UPDATE notify_deliveries d SET attempts = d.attempts + 1, lease_until = $4
			FROM due WHERE d.id = due.id RETURNING d.id`,
			int(fleet.DeliveryPending), nanos(now), limit, nanos(now.Add(lease)))
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(ids) == 0 {
			out = nil
			return err
		}
		rows, err = tx.Query(ctx, deliveryColumns+`WHERE d.id = ANY($1) ORDER BY d.next_at, d.id`, ids)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, scanDelivery)
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
	err := d.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO notify_attempts (delivery_id, attempt, at, status, error, org_id)
			SELECT id, $2::integer, $3::bigint, $4::smallint, $5::text, org_id FROM notify_deliveries WHERE id = $1
			ON CONFLICT DO NOTHING`, a.DeliveryID, a.Attempt, nanos(a.At), int(a.Status), a.Error)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			var n int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM notify_deliveries WHERE id = $1`, a.DeliveryID).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return fleet.ErrNotFound
			}
		}
		_, err = tx.Exec(ctx, `UPDATE notify_deliveries SET status = $1, next_at = $2, lease_until = 0, updated_at = $3,
			last_error = $4 WHERE id = $5 AND attempts = $6 AND status = $7`, int(a.Status), nanos(next), nanos(a.At), a.Error,
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
	out, err := collect(ctx, d, deliveryColumns+`WHERE d.org_id = $1 ORDER BY d.created_at DESC, d.id LIMIT $2`,
		[]any{org, limit}, scanDelivery)
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
	out, err := collect(ctx, d, `SELECT a.delivery_id, d.alert_id, d.revision, d.kind, d.target, d.channel_id, d.user_id,
		a.attempt, a.at, a.status, a.error
		FROM notify_attempts a JOIN notify_deliveries d ON d.id = a.delivery_id
		WHERE a.org_id = $1 AND d.org_id = $1 ORDER BY a.at DESC, a.delivery_id, a.attempt DESC LIMIT $2`, []any{org, limit},
		func(row pgx.CollectableRow) (fleet.DeliveryAttempt, error) {
			var a fleet.DeliveryAttempt
			var kind, status int
			var at int64
			err := row.Scan(&a.DeliveryID, &a.AlertID, &a.Revision, &kind, &a.Target, &a.ChannelID, &a.UserID,
				&a.Attempt, &at, &status, &a.Error)
			a.Kind, a.At, a.Status = fleet.ChannelKind(kind), fromNanos(at), fleet.DeliveryStatus(status)
			return a, err
		})
	if err != nil {
		return nil, fmt.Errorf("delivery log of %s: %w", org, err)
	}
	return out, nil
}

// PruneDeliveries deletes the deliveries created before cutoff that are
// no longer pending, with their attempts, and returns how many.
func (d *DB) PruneDeliveries(ctx context.Context, cutoff time.Time) (int64, error) {
	n, err := d.exec(ctx, `DELETE FROM notify_deliveries WHERE created_at < $1 AND status <> $2`,
		nanos(cutoff), int(fleet.DeliveryPending))
	if err != nil {
		return 0, fmt.Errorf("prune deliveries: %w", err)
	}
	return n, nil
}
