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

// CreateOrg creates a customer organisation.
func (d *DB) CreateOrg(ctx context.Context, name string) (fleet.OrgID, error) {
	return d.CreateOrgOfKind(ctx, name, access.OrgCustomer)
}

// CreateOrgOfKind creates an organisation of a kind: a customer or a
// service provider.
func (d *DB) CreateOrgOfKind(ctx context.Context, name string, kind access.OrgKind) (fleet.OrgID, error) {
	if strings.TrimSpace(name) == "" {
		return "", errors.New("create org: empty name")
	}
	if kind != access.OrgCustomer && kind != access.OrgServiceProvider {
		return "", fmt.Errorf("create org: invalid kind %s", kind)
	}
	id, err := fleet.NewID("org_")
	if err != nil {
		return "", fmt.Errorf("create org: %w", err)
	}
	if _, err := d.db.ExecContext(ctx, `INSERT INTO orgs (id, name, kind) VALUES (?, ?, ?)`, id, name, int(kind)); err != nil {
		return "", fmt.Errorf("create org: %w", err)
	}
	return fleet.OrgID(id), nil
}

// Org returns an organisation. An unknown ID is fleet.ErrNotFound.
func (d *DB) Org(ctx context.Context, id fleet.OrgID) (access.Org, error) {
	o := access.Org{ID: id}
	var kind int
	err := d.db.QueryRowContext(ctx, `SELECT name, kind FROM orgs WHERE id = ?`, id).Scan(&o.Name, &kind)
	if errors.Is(err, sql.ErrNoRows) {
		return access.Org{}, fmt.Errorf("org %s: %w", id, fleet.ErrNotFound)
	}
	if err != nil {
		return access.Org{}, fmt.Errorf("org %s: %w", id, err)
	}
	o.Kind = access.OrgKind(kind)
	return o, nil
}

// CreateSite creates a site of an organisation. An unknown organisation is
// fleet.ErrNotFound.
func (d *DB) CreateSite(ctx context.Context, org fleet.OrgID, name string) (fleet.SiteID, error) {
	if strings.TrimSpace(name) == "" {
		return "", errors.New("create site: empty name")
	}
	id, err := fleet.NewID("site_")
	if err != nil {
		return "", fmt.Errorf("create site: %w", err)
	}
	err = d.tx(ctx, func(tx *txn) error {
		if err := orgExists(ctx, tx, org); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO sites (id, org_id, name) VALUES (?, ?, ?)`, id, org, name)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("create site: %w", err)
	}
	return fleet.SiteID(id), nil
}

// Sites lists an organisation's sites by name.
func (d *DB) Sites(ctx context.Context, org fleet.OrgID) ([]fleet.Site, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT id, org_id, name FROM sites WHERE org_id = ? ORDER BY name, id`, org)
	if err != nil {
		return nil, fmt.Errorf("sites of %s: %w", org, err)
	}
	defer rows.Close()
	var sites []fleet.Site
	for rows.Next() {
		var s fleet.Site
		if err := rows.Scan(&s.ID, &s.OrgID, &s.Name); err != nil {
			return nil, fmt.Errorf("sites of %s: %w", org, err)
		}
		sites = append(sites, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sites of %s: %w", org, err)
	}
	return sites, nil
}

// CreateUser creates a user of an organisation with an already hashed
// password. A taken login name is fleet.ErrConflict; an unknown
// organisation is fleet.ErrNotFound.
func (d *DB) CreateUser(ctx context.Context, org fleet.OrgID, name, passwordHash string, role fleet.Role) (fleet.UserID, error) {
	return d.CreateMember(ctx, org, name, passwordHash, role, access.AllSites())
}

// UserByName returns the user with a login name and their password hash.
// An unknown name is fleet.ErrNotFound.
func (d *DB) UserByName(ctx context.Context, name string) (fleet.User, string, error) {
	var u fleet.User
	var hash string
	var role int
	err := d.db.QueryRowContext(ctx, `SELECT id, org_id, name, role, password_hash FROM users WHERE name = ?`, name).
		Scan(&u.ID, &u.OrgID, &u.Name, &role, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return fleet.User{}, "", fmt.Errorf("user %q: %w", name, fleet.ErrNotFound)
	}
	if err != nil {
		return fleet.User{}, "", fmt.Errorf("user %q: %w", name, err)
	}
	u.Role = fleet.Role(role)
	return u, hash, nil
}

func orgExists(ctx context.Context, tx *txn, org fleet.OrgID) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM orgs WHERE id = ?`, org).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("org %s: %w", org, fleet.ErrNotFound)
	}
	return nil
}

// SetPassword replaces a user's password hash and ends the user's sessions,
// as a password reset must. An unknown user is fleet.ErrNotFound.
func (d *DB) SetPassword(ctx context.Context, user fleet.UserID, passwordHash string) error {
	if passwordHash == "" {
		return errors.New("set password: empty password hash")
	}
	err := d.tx(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, passwordHash, user)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fleet.ErrNotFound
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, user)
		return err
	})
	if err != nil {
		return fmt.Errorf("set password of %s: %w", user, err)
	}
	return nil
}
