package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/jackc/pgx/v5"
)

// siteSet makes the site set of a user or token from its limited flag and
// linked sites.
func siteSet(limited bool, ids []string) access.SiteSet {
	if !limited {
		return access.AllSites()
	}
	s := make([]fleet.SiteID, len(ids))
	for i, id := range ids {
		s[i] = fleet.SiteID(id)
	}
	return access.OnlySites(s...)
}

// writeSiteSet replaces the linked sites of a user or token (table and col
// are constants of the caller). Every site must belong to org: another
// organisation's site is fleet.ErrNotFound.
func writeSiteSet(ctx context.Context, tx pgx.Tx, org fleet.OrgID, sites access.SiteSet, table, col, id string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE `+col+` = $1`, id); err != nil {
		return err
	}
	var ids []string
	for _, s := range sites.IDs() {
		ids = append(ids, string(s))
	}
	if len(ids) == 0 {
		return nil
	}
	var foreign string
	err := tx.QueryRow(ctx, `SELECT x FROM unnest($2::text[]) AS x
		WHERE NOT EXISTS (SELECT 1 FROM sites s WHERE s.id = x AND s.org_id = $1) ORDER BY x LIMIT 1`, org, ids).Scan(&foreign)
	switch {
	case err == nil:
		return fmt.Errorf("site %s: %w", foreign, fleet.ErrNotFound)
	case !isNoRows(err):
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO `+table+` (`+col+`, site_id) SELECT $1, unnest($2::text[])`, id, ids)
	return err
}

// memberColumns selects a user with their second-factor state and linked
// sites, in one round trip.
const memberColumns = `SELECT u.id, u.org_id, u.name, u.role, u.site_limited, COALESCE(t.enabled, false),
	ARRAY(SELECT us.site_id FROM user_sites us WHERE us.user_id = u.id ORDER BY us.site_id),
	COALESCE(up.lang, ''), COALESCE(up.time_zone, '')
	FROM users u LEFT JOIN totp t ON t.user_id = u.id LEFT JOIN user_prefs up ON up.user_id = u.id `

func scanMember(r pgx.CollectableRow) (access.Member, error) {
	var m access.Member
	var role int
	var limited bool
	var sites []string
	if err := r.Scan(&m.ID, &m.OrgID, &m.Name, &role, &limited, &m.TwoFactor, &sites, &m.Prefs.Lang, &m.Prefs.TimeZone); err != nil {
		return access.Member{}, err
	}
	m.Role, m.Sites = fleet.Role(role), siteSet(limited, sites)
	return m, nil
}

// oneMember runs a memberColumns query that names at most one user.
func (d *DB) oneMember(ctx context.Context, where string, args ...any) (access.Member, error) {
	ms, err := collect(ctx, d, memberColumns+where, args, scanMember)
	if err != nil {
		return access.Member{}, err
	}
	if len(ms) == 0 {
		return access.Member{}, fleet.ErrNotFound
	}
	return ms[0], nil
}

// Member returns a user of org with their sites. A user of another
// organisation is fleet.ErrNotFound, as is an unknown one.
func (d *DB) Member(ctx context.Context, org fleet.OrgID, user fleet.UserID) (access.Member, error) {
	m, err := d.oneMember(ctx, `WHERE u.id = $1 AND u.org_id = $2`, user, org)
	if err != nil {
		return access.Member{}, fmt.Errorf("user %s of %s: %w", user, org, err)
	}
	return m, nil
}

// Members lists the users of org by name.
func (d *DB) Members(ctx context.Context, org fleet.OrgID) ([]access.Member, error) {
	ms, err := collect(ctx, d, memberColumns+`WHERE u.org_id = $1 ORDER BY u.name, u.id`, []any{org}, scanMember)
	if err != nil {
		return nil, fmt.Errorf("users of %s: %w", org, err)
	}
	return ms, nil
}

// SessionMember returns the user of an unexpired session with their sites
// and second-factor state. An unknown or expired session is
// fleet.ErrNotFound.
func (d *DB) SessionMember(ctx context.Context, tokenHash string, now time.Time) (access.Member, error) {
	m, err := d.oneMember(ctx, `JOIN sessions s ON s.user_id = u.id WHERE s.token_hash = $1 AND s.expires_at > $2`,
		tokenHash, nanos(now))
	if err != nil {
		return access.Member{}, fmt.Errorf("session: %w", err)
	}
	return m, nil
}

// CreateMember creates a user of org with an already hashed password, a
// role and the sites they are limited to. A taken name is
// fleet.ErrConflict; an unknown organisation, or a site not of org, is
// fleet.ErrNotFound.
func (d *DB) CreateMember(ctx context.Context, org fleet.OrgID, name, passwordHash string, role fleet.Role, sites access.SiteSet) (fleet.UserID, error) {
	switch {
	case strings.TrimSpace(name) == "":
		return "", errors.New("create user: empty name")
	case passwordHash == "":
		return "", errors.New("create user: empty password hash")
	case !role.Valid():
		return "", fmt.Errorf("create user: invalid role %s", role)
	}
	id, err := fleet.NewID("usr_")
	if err != nil {
		return "", fmt.Errorf("create user: %w", err)
	}
	err = d.tx(ctx, func(tx pgx.Tx) error {
		if err := orgExists(ctx, tx, org); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO users (id, org_id, name, password_hash, role, site_limited)
			VALUES ($1, $2, $3, $4, $5, $6)`, id, org, name, passwordHash, int(role), sites.Limited())
		if isUniqueViolation(err) {
			return fmt.Errorf("user %q: %w", name, fleet.ErrConflict)
		}
		if err != nil {
			return err
		}
		return writeSiteSet(ctx, tx, org, sites, "user_sites", "user_id", id)
	})
	if err != nil {
		return "", fmt.Errorf("create user: %w", err)
	}
	return fleet.UserID(id), nil
}

// fullAdmins counts the admins of org that are limited to no sites.
func fullAdmins(ctx context.Context, tx pgx.Tx, org fleet.OrgID) (int, error) {
	var n int
	err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM users WHERE org_id = $1 AND role = $2 AND NOT site_limited`,
		org, int(fleet.RoleAdmin)).Scan(&n)
	return n, err
}

// keepAnAdmin runs change and refuses it with fleet.ErrConflict if it
// leaves an organisation that had an unlimited admin without one. It
// first locks the organisation's row, so that two changes to its users
// cannot each see the other's admin and remove both (the lock does not
// conflict with the key-share locks of inserts that reference the org).
func keepAnAdmin(ctx context.Context, tx pgx.Tx, org fleet.OrgID, change func() error) error {
	if _, err := tx.Exec(ctx, `SELECT 1 FROM orgs WHERE id = $1 FOR NO KEY UPDATE`, org); err != nil {
		return err
	}
	before, err := fullAdmins(ctx, tx, org)
	if err != nil {
		return err
	}
	if err := change(); err != nil {
		return err
	}
	after, err := fullAdmins(ctx, tx, org)
	if err != nil {
		return err
	}
	if before > 0 && after == 0 {
		return fmt.Errorf("the organisation's last administrator for all sites: %w", fleet.ErrConflict)
	}
	return nil
}

// SetMember changes the role and sites of a user of org. A user or site not
// of org is fleet.ErrNotFound; taking away the organisation's last admin
// for all sites is fleet.ErrConflict.
func (d *DB) SetMember(ctx context.Context, org fleet.OrgID, user fleet.UserID, role fleet.Role, sites access.SiteSet) error {
	if !role.Valid() {
		return fmt.Errorf("set user %s: invalid role %s", user, role)
	}
	err := d.tx(ctx, func(tx pgx.Tx) error {
		return keepAnAdmin(ctx, tx, org, func() error {
			tag, err := tx.Exec(ctx, `UPDATE users SET role = $1, site_limited = $2 WHERE id = $3 AND org_id = $4`,
				int(role), sites.Limited(), user, org)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				return fleet.ErrNotFound
			}
			return writeSiteSet(ctx, tx, org, sites, "user_sites", "user_id", string(user))
		})
	})
	if err != nil {
		return fmt.Errorf("set user %s: %w", user, err)
	}
	return nil
}

// DeleteMember removes a user of org with their sessions, second factor
// and API tokens. A user not of org is fleet.ErrNotFound; removing the
// organisation's last admin for all sites is fleet.ErrConflict.
func (d *DB) DeleteMember(ctx context.Context, org fleet.OrgID, user fleet.UserID) error {
	err := d.tx(ctx, func(tx pgx.Tx) error {
		return keepAnAdmin(ctx, tx, org, func() error {
			tag, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1 AND org_id = $2`, user, org)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				return fleet.ErrNotFound
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("delete user %s: %w", user, err)
	}
	return nil
}
