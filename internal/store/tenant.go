package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

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

// SetPassword replaces a user's password hash, ends the user's sessions
// and pending logins and revokes the user's API tokens at now, as a
// password reset must. An unknown user is fleet.ErrNotFound. It serves
// the operator's reset of the first admin; a reset by an administrator is
// ResetPassword.
func (d *DB) SetPassword(ctx context.Context, user fleet.UserID, passwordHash string, now time.Time) error {
	err := d.tx(ctx, func(tx *txn) error {
		return setPassword(ctx, tx, `id = ?`, []any{user}, passwordHash, false, "", time.Time{}, now)
	})
	if err != nil {
		return fmt.Errorf("set password of %s: %w", user, err)
	}
	return nil
}

// ChangePassword replaces the password hash of user, a user of org who
// chose a new password, and clears the demand to choose one. It ends every
// session and pending login of the user and, in the same transaction,
// starts the session newSessionHash until expires: the user stays logged
// in where they changed it, with a new token. An unknown user, or one of
// another organisation, is fleet.ErrNotFound.
func (d *DB) ChangePassword(ctx context.Context, org fleet.OrgID, user fleet.UserID, passwordHash, newSessionHash string, expires time.Time) error {
	if newSessionHash == "" {
		return errors.New("change password: empty session hash")
	}
	err := d.tx(ctx, func(tx *txn) error {
		return setPassword(ctx, tx, `id = ? AND org_id = ?`, []any{user, org}, passwordHash, false, newSessionHash, expires, time.Time{})
	})
	if err != nil {
		return fmt.Errorf("change password of %s: %w", user, err)
	}
	return nil
}

// ResetPassword replaces the password hash of user, a user of org, with
// one an administrator issued, and demands that the user choose a new
// password at the next login. It ends every session and pending login of
// the user and revokes the user's API tokens at now: a reset answers a
// password that may be known to someone else, who may have made tokens
// with it. An unknown user, or one of another organisation, is
// fleet.ErrNotFound.
func (d *DB) ResetPassword(ctx context.Context, org fleet.OrgID, user fleet.UserID, passwordHash string, now time.Time) error {
	err := d.tx(ctx, func(tx *txn) error {
		return setPassword(ctx, tx, `id = ? AND org_id = ?`, []any{user, org}, passwordHash, true, "", time.Time{}, now)
	})
	if err != nil {
		return fmt.Errorf("reset password of %s: %w", user, err)
	}
	return nil
}

// setPassword sets the password hash and the demand to change it of the
// one user that where (on users) names, ends the user's sessions and
// login challenges, revokes the user's API tokens at revokeTokens unless
// it is zero, and starts the session newSession if it is set.
func setPassword(ctx context.Context, tx *txn, where string, args []any, passwordHash string, mustChange bool, newSession string, expires, revokeTokens time.Time) error {
	if passwordHash == "" {
		return errors.New("empty password hash")
	}
	var user fleet.UserID
	err := tx.QueryRowContext(ctx, `UPDATE users SET password_hash = ?, must_change_password = ? WHERE `+where+` RETURNING id`,
		append([]any{passwordHash, mustChange}, args...)...).Scan(&user)
	if errors.Is(err, sql.ErrNoRows) {
		return fleet.ErrNotFound
	}
	if err != nil {
		return err
	}
	for _, table := range []string{"sessions", "login_challenges"} {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE user_id = ?`, user); err != nil {
			return err
		}
	}
	if !revokeTokens.IsZero() {
		if _, err := tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at = 0`,
			max(nanos(revokeTokens), 1), user); err != nil {
			return err
		}
	}
	if newSession == "" {
		return nil
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO sessions (token_hash, user_id, expires_at) VALUES (?, ?, ?)`,
		newSession, user, nanos(expires))
	return err
}
