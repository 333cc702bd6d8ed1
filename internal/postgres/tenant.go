package postgres

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// isUniqueViolation reports whether err is a unique constraint violation.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

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
	if _, err := d.exec(ctx, `INSERT INTO orgs (id, name, kind) VALUES ($1, $2, $3)`, id, name, int(kind)); err != nil {
		return "", fmt.Errorf("create org: %w", err)
	}
	return fleet.OrgID(id), nil
}

// Org returns an organisation. An unknown ID is fleet.ErrNotFound.
func (d *DB) Org(ctx context.Context, id fleet.OrgID) (access.Org, error) {
	o := access.Org{ID: id}
	var kind int
	err := d.queryRow(ctx, `SELECT name, kind FROM orgs WHERE id = $1`, []any{id}, &o.Name, &kind)
	if isNoRows(err) {
		return access.Org{}, fmt.Errorf("org %s: %w", id, fleet.ErrNotFound)
	}
	if err != nil {
		return access.Org{}, fmt.Errorf("org %s: %w", id, err)
	}
	o.Kind = access.OrgKind(kind)
	return o, nil
}

func orgExists(ctx context.Context, tx pgx.Tx, org fleet.OrgID) error {
	var n int
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM orgs WHERE id = $1`, org).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("org %s: %w", org, fleet.ErrNotFound)
	}
	return nil
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
	err = d.tx(ctx, func(tx pgx.Tx) error {
		if err := orgExists(ctx, tx, org); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO sites (id, org_id, name) VALUES ($1, $2, $3)`, id, org, name)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("create site: %w", err)
	}
	return fleet.SiteID(id), nil
}

// Sites lists an organisation's sites by name.
func (d *DB) Sites(ctx context.Context, org fleet.OrgID) ([]fleet.Site, error) {
	sites, err := collect(ctx, d, `SELECT id, org_id, name FROM sites WHERE org_id = $1 ORDER BY name, id`, []any{org},
		func(r pgx.CollectableRow) (fleet.Site, error) {
			var s fleet.Site
			err := r.Scan(&s.ID, &s.OrgID, &s.Name)
			return s, err
		})
	if err != nil {
		return nil, fmt.Errorf("sites of %s: %w", org, err)
	}
	return sites, nil
}

// CreateUser creates a user of an organisation with an already hashed
// password. A taken login name is fleet.ErrConflict; an unknown
// organisation is fleet.ErrNotFound.
func (d *DB) CreateUser(ctx context.Context, org fleet.OrgID, name, passwordHash string, role fleet.Role) (fleet.UserID, error) {
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
		_, err := tx.Exec(ctx, `INSERT INTO users (id, org_id, name, password_hash, role)
			VALUES ($1, $2, $3, $4, $5)`, id, org, name, passwordHash, int(role))
		if isUniqueViolation(err) {
			return fmt.Errorf("user %q: %w", name, fleet.ErrConflict)
		}
		return err
	})
	if err != nil {
		return "", fmt.Errorf("create user: %w", err)
	}
	return fleet.UserID(id), nil
}

// UserByName returns the user with a login name and their password hash.
// An unknown name is fleet.ErrNotFound.
func (d *DB) UserByName(ctx context.Context, name string) (fleet.User, string, error) {
	var u fleet.User
	var hash string
	var role int
	err := d.queryRow(ctx, `SELECT id, org_id, name, role, password_hash FROM users WHERE name = $1`, []any{name},
		&u.ID, &u.OrgID, &u.Name, &role, &hash)
	if isNoRows(err) {
		return fleet.User{}, "", fmt.Errorf("user %q: %w", name, fleet.ErrNotFound)
	}
	if err != nil {
		return fleet.User{}, "", fmt.Errorf("user %q: %w", name, err)
	}
	u.Role = fleet.Role(role)
	return u, hash, nil
}

// SetPassword replaces a user's password hash and ends the user's sessions,
// as a password reset must. An unknown user is fleet.ErrNotFound.
func (d *DB) SetPassword(ctx context.Context, user fleet.UserID, passwordHash string) error {
	if passwordHash == "" {
		return errors.New("set password: empty password hash")
	}
	err := d.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, passwordHash, user)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fleet.ErrNotFound
		}
		_, err = tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, user)
		return err
	})
	if err != nil {
		return fmt.Errorf("set password of %s: %w", user, err)
	}
	return nil
}

// CreateSession stores a login session by the hash of its token.
func (d *DB) CreateSession(ctx context.Context, tokenHash string, user fleet.UserID, expires time.Time) error {
	if tokenHash == "" {
		return errors.New("create session: empty token hash")
	}
	if _, err := d.exec(ctx, `INSERT INTO sessions (token_hash, user_id, expires_at) VALUES ($1, $2, $3)`,
		tokenHash, user, nanos(expires)); err != nil {
		return fmt.Errorf("create session for %s: %w", user, err)
	}
	return nil
}

// SessionUser returns the user of an unexpired session. An unknown or
// expired session is fleet.ErrNotFound.
func (d *DB) SessionUser(ctx context.Context, tokenHash string, now time.Time) (fleet.User, error) {
	var u fleet.User
	var role int
	err := d.queryRow(ctx, `SELECT u.id, u.org_id, u.name, u.role
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.token_hash = $1 AND s.expires_at > $2`, []any{tokenHash, nanos(now)},
		&u.ID, &u.OrgID, &u.Name, &role)
	if isNoRows(err) {
		return fleet.User{}, fmt.Errorf("session: %w", fleet.ErrNotFound)
	}
	if err != nil {
		return fleet.User{}, fmt.Errorf("session: %w", err)
	}
	u.Role = fleet.Role(role)
	return u, nil
}

// DeleteSession removes a session; deleting an unknown one is not an error.
func (d *DB) DeleteSession(ctx context.Context, tokenHash string) error {
	if _, err := d.exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, tokenHash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// CreateEnrolmentToken stores a one-time enrolment token for a site by the
// hash of the token. An unknown site is fleet.ErrNotFound.
func (d *DB) CreateEnrolmentToken(ctx context.Context, site fleet.SiteID, tokenHash string, expires time.Time) error {
	if tokenHash == "" {
		return errors.New("create enrolment token: empty token hash")
	}
	err := d.tx(ctx, func(tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM sites WHERE id = $1`, site).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("site %s: %w", site, fleet.ErrNotFound)
		}
		_, err := tx.Exec(ctx, `INSERT INTO enrolment_tokens (token_hash, site_id, expires_at) VALUES ($1, $2, $3)`,
			tokenHash, site, nanos(expires))
		return err
	})
	if err != nil {
		return fmt.Errorf("create enrolment token: %w", err)
	}
	return nil
}

// enrolRetryGrace is how long after its token expired a gateway may still
// repeat its own enrolment.
const enrolRetryGrace = 24 * time.Hour

// Enrol consumes a one-time enrolment token and registers a gateway with
// its Ed25519 public key for the token's site. An unknown, expired or
// used token is fleet.ErrInvalidToken, except that the gateway which
// consumed it may repeat the call with the same key (its answer was lost)
// and gets the same gateway back, until 24 hours after the token's
// expiry and unless it was revoked. The token's row lock makes two
// gateways racing for one token serialise: only one wins.
func (d *DB) Enrol(ctx context.Context, tokenHash, name string, pub []byte, now time.Time) (fleet.Gateway, error) {
	if len(pub) != ed25519.PublicKeySize {
		return fleet.Gateway{}, fmt.Errorf("enrol: public key is %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	if strings.TrimSpace(name) == "" {
		return fleet.Gateway{}, errors.New("enrol: empty gateway name")
	}
	id, err := fleet.NewID("gw_")
	if err != nil {
		return fleet.Gateway{}, fmt.Errorf("enrol: %w", err)
	}
	gw := fleet.Gateway{ID: fleet.GatewayID(id), Name: name, PublicKey: append([]byte(nil), pub...)}
	err = d.tx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `UPDATE enrolment_tokens t SET used_at = $1 FROM sites s
			WHERE t.token_hash = $2 AND t.used_at IS NULL AND t.expires_at > $1 AND s.id = t.site_id
			RETURNING s.id, s.org_id`, nanos(now), tokenHash).Scan(&gw.SiteID, &gw.OrgID)
		if isNoRows(err) {
			gw, err = reenrol(ctx, tx, tokenHash, pub, now)
			return err
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO gateways (id, org_id, site_id, name, public_key) VALUES ($1, $2, $3, $4, $5)`,
			gw.ID, gw.OrgID, gw.SiteID, gw.Name, gw.PublicKey); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE enrolment_tokens SET gateway_id = $1 WHERE token_hash = $2`, gw.ID, tokenHash)
		return err
	})
	if err != nil {
		return fleet.Gateway{}, fmt.Errorf("enrol: %w", err)
	}
	return gw, nil
}

// reenrol returns the gateway that consumed the token when it has the
// public key pub, is not revoked and the grace after the token's expiry
// has not passed; otherwise fleet.ErrInvalidToken.
func reenrol(ctx context.Context, tx pgx.Tx, tokenHash string, pub []byte, now time.Time) (fleet.Gateway, error) {
	var gw fleet.Gateway
	err := tx.QueryRow(ctx, `SELECT g.id, g.org_id, g.site_id, g.name, g.public_key, g.revoked
		FROM enrolment_tokens t JOIN gateways g ON g.id = t.gateway_id
		WHERE t.token_hash = $1 AND t.used_at IS NOT NULL AND t.expires_at + $2 > $3`,
		tokenHash, int64(enrolRetryGrace), nanos(now)).
		Scan(&gw.ID, &gw.OrgID, &gw.SiteID, &gw.Name, &gw.PublicKey, &gw.Revoked)
	if isNoRows(err) {
		return fleet.Gateway{}, fleet.ErrInvalidToken
	}
	if err != nil {
		return fleet.Gateway{}, err
	}
	if gw.Revoked || !bytes.Equal(gw.PublicKey, pub) {
		return fleet.Gateway{}, fleet.ErrInvalidToken
	}
	return gw, nil
}

// Gateway returns an enrolled gateway, revoked or not. An unknown ID is
// fleet.ErrNotFound.
func (d *DB) Gateway(ctx context.Context, id fleet.GatewayID) (fleet.Gateway, error) {
	gw := fleet.Gateway{ID: id}
	err := d.queryRow(ctx, `SELECT org_id, site_id, name, public_key, revoked FROM gateways WHERE id = $1`, []any{id},
		&gw.OrgID, &gw.SiteID, &gw.Name, &gw.PublicKey, &gw.Revoked)
	if isNoRows(err) {
		return fleet.Gateway{}, fmt.Errorf("gateway %s: %w", id, fleet.ErrNotFound)
	}
	if err != nil {
		return fleet.Gateway{}, fmt.Errorf("gateway %s: %w", id, err)
	}
	return gw, nil
}

// RevokeGateway marks a gateway revoked: its uploads are refused from now
// on. Revoking twice is not an error; an unknown ID is fleet.ErrNotFound.
func (d *DB) RevokeGateway(ctx context.Context, id fleet.GatewayID) error {
	n, err := d.exec(ctx, `UPDATE gateways SET revoked = true WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("revoke gateway %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("revoke gateway %s: %w", id, fleet.ErrNotFound)
	}
	return nil
}
