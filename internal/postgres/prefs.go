package postgres

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
	tag, err := d.pool.Exec(ctx, `INSERT INTO user_prefs (user_id, lang, time_zone)
		SELECT id, $1, $2 FROM users WHERE id = $3 AND org_id = $4
		ON CONFLICT (user_id) DO UPDATE SET lang = excluded.lang, time_zone = excluded.time_zone`,
		p.Lang, p.TimeZone, user, org)
	if err != nil {
		return fmt.Errorf("set prefs of %s: %w", user, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("set prefs of %s: %w", user, fleet.ErrNotFound)
	}
	return nil
}
