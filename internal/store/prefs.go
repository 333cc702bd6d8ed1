package store

import (
	"context"
	"fmt"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// SetPrefs stores the display preferences of a user of org; Member and
// SessionMember return them. A user not of org is fleet.ErrNotFound.
func (d *DB) SetPrefs(ctx context.Context, org fleet.OrgID, user fleet.UserID, p fleet.Prefs) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("set prefs of %s: %w", user, err)
	}
	res, err := d.db.ExecContext(ctx, `INSERT INTO user_prefs (user_id, lang, time_zone)
		SELECT id, ?, ? FROM users WHERE id = ? AND org_id = ?
		ON CONFLICT (user_id) DO UPDATE SET lang = excluded.lang, time_zone = excluded.time_zone`,
		p.Lang, p.TimeZone, user, org)
	if err != nil {
		return fmt.Errorf("set prefs of %s: %w", user, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("set prefs of %s: %w", user, err)
	}
	if n == 0 {
		return fmt.Errorf("set prefs of %s: %w", user, fleet.ErrNotFound)
	}
	return nil
}
