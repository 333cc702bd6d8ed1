package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// siteSetOf reads the site set of a user or token: the link table names
// the sites when limited is set.
func siteSetOf(ctx context.Context, q querier, limited bool, table, col, id string) (access.SiteSet, error) {
	if !limited {
		return access.AllSites(), nil
	}
	rows, err := q.QueryContext(ctx, `SELECT site_id FROM `+table+` WHERE `+col+` = ? ORDER BY site_id`, id)
	if err != nil {
		return access.SiteSet{}, err
	}
	defer rows.Close()
	var ids []fleet.SiteID
	for rows.Next() {
		var s fleet.SiteID
		if err := rows.Scan(&s); err != nil {
			return access.SiteSet{}, err
		}
		ids = append(ids, s)
	}
	if err := rows.Err(); err != nil {
		return access.SiteSet{}, err
	}
	return access.OnlySites(ids...), nil
}

// writeSiteSet replaces the linked sites of a user or token. Every site
// must belong to org: another organisation's site is fleet.ErrNotFound.
func writeSiteSet(ctx context.Context, tx *txn, org fleet.OrgID, sites access.SiteSet, table, col, id string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE `+col+` = ?`, id); err != nil {
		return err
	}
	for _, s := range sites.IDs() {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM sites WHERE id = ? AND org_id = ?`, s, org).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("site %s: %w", s, fleet.ErrNotFound)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+table+` (`+col+`, site_id) VALUES (?, ?)`, id, s); err != nil {
			return err
		}
	}
	return nil
}

const memberColumns = `SELECT u.id, u.org_id, u.name, u.role, u.site_limited, u.must_change_password,
	COALESCE((SELECT enabled FROM totp WHERE totp.user_id = u.id), false),
	COALESCE(up.lang, ''), COALESCE(up.time_zone, '')
	FROM users u LEFT JOIN user_prefs up ON up.user_id = u.id `

// scanMembers reads rows of memberColumns and loads their site sets.
func scanMembers(ctx context.Context, q querier, rows *sql.Rows) ([]access.Member, error) {
	var ms []access.Member
	var limited []bool
	for rows.Next() {
		var m access.Member
		var role int
		var lim, tf bool
		if err := rows.Scan(&m.ID, &m.OrgID, &m.Name, &role, &lim, &m.MustChangePassword, &tf, &m.Prefs.Lang, &m.Prefs.TimeZone); err != nil {
			rows.Close()
			return nil, err
		}
		m.Role, m.TwoFactor = fleet.Role(role), tf
		ms = append(ms, m)
		limited = append(limited, lim)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range ms {
		s, err := siteSetOf(ctx, q, limited[i], "user_sites", "user_id", string(ms[i].ID))
		if err != nil {
			return nil, err
		}
		ms[i].Sites = s
	}
	return ms, nil
}

// oneMember runs a memberColumns query that names at most one user.
func oneMember(ctx context.Context, q querier, where string, args ...any) (access.Member, error) {
	rows, err := q.QueryContext(ctx, memberColumns+where, args...)
	if err != nil {
		return access.Member{}, err
	}
	ms, err := scanMembers(ctx, q, rows)
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
	m, err := oneMember(ctx, d.db, `WHERE u.id = ? AND u.org_id = ?`, user, org)
	if err != nil {
		return access.Member{}, fmt.Errorf("user %s of %s: %w", user, org, err)
	}
	return m, nil
}

// Members lists the users of org by name.
func (d *DB) Members(ctx context.Context, org fleet.OrgID) ([]access.Member, error) {
	rows, err := d.db.QueryContext(ctx, memberColumns+`WHERE u.org_id = ? ORDER BY u.name, u.id`, org)
	if err != nil {
		return nil, fmt.Errorf("users of %s: %w", org, err)
	}
	ms, err := scanMembers(ctx, d.db, rows)
	if err != nil {
		return nil, fmt.Errorf("users of %s: %w", org, err)
	}
	return ms, nil
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
	err = d.tx(ctx, func(tx *txn) error {
		if err := orgExists(ctx, tx, org); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO users (id, org_id, name, password_hash, role, site_limited)
			VALUES (?, ?, ?, ?, ?, ?)`, id, org, name, passwordHash, int(role), sites.Limited())
		if tx.dialect.isUniqueViolation(err) {
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
func fullAdmins(ctx context.Context, tx *txn, org fleet.OrgID) (int, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE org_id = ? AND role = ? AND NOT site_limited`,
		org, int(fleet.RoleAdmin)).Scan(&n)
	return n, err
}

// keepAnAdmin runs change and refuses it as access.KeepAdmin decides from
// the organisation's admins for all sites before and after. On
// PostgreSQL it first locks the organisation's row, so that two changes to
// its users cannot each see the other's admin and remove both (the lock
// does not conflict with the key-share locks of inserts that reference the
// org).
func keepAnAdmin(ctx context.Context, tx *txn, org fleet.OrgID, change func() error) error {
	if tx.dialect.kind == postgres {
		if _, err := tx.ExecContext(ctx, `SELECT 1 FROM orgs WHERE id = ? FOR NO KEY UPDATE`, org); err != nil {
			return err
		}
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
	return access.KeepAdmin(before, after)
}

// SetMember changes the role and sites of a user of org. A user or site not
// of org is fleet.ErrNotFound; taking away the organisation's last admin
// for all sites is fleet.ErrConflict.
func (d *DB) SetMember(ctx context.Context, org fleet.OrgID, user fleet.UserID, role fleet.Role, sites access.SiteSet) error {
	if !role.Valid() {
		return fmt.Errorf("set user %s: invalid role %s", user, role)
	}
	err := d.tx(ctx, func(tx *txn) error {
		return keepAnAdmin(ctx, tx, org, func() error {
			res, err := tx.ExecContext(ctx, `UPDATE users SET role = ?, site_limited = ? WHERE id = ? AND org_id = ?`,
				int(role), sites.Limited(), user, org)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
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
	err := d.tx(ctx, func(tx *txn) error {
		return keepAnAdmin(ctx, tx, org, func() error {
			res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = ? AND org_id = ?`, user, org)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
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
