package store

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// CreateEnrolmentToken stores a one-time enrolment token for a site by the
// hash of the token. An unknown site is fleet.ErrNotFound.
func (d *DB) CreateEnrolmentToken(ctx context.Context, site fleet.SiteID, tokenHash string, expires time.Time) error {
	if tokenHash == "" {
		return errors.New("create enrolment token: empty token hash")
	}
	err := d.tx(ctx, func(tx *txn) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM sites WHERE id = ?`, site).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("site %s: %w", site, fleet.ErrNotFound)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO enrolment_tokens (token_hash, site_id, expires_at) VALUES (?, ?, ?)`,
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
// expiry and unless it was revoked. Consuming and registering happen in
// one transaction: two gateways racing for one token cannot both win.
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
	err = d.tx(ctx, func(tx *txn) error {
		var expires int64
		var used sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT s.id, s.org_id, t.expires_at, t.used_at
			FROM enrolment_tokens t JOIN sites s ON s.id = t.site_id WHERE t.token_hash = ?`+
			d.dialect.forUpdate("FOR UPDATE OF t"), tokenHash).
			Scan(&gw.SiteID, &gw.OrgID, &expires, &used)
		if errors.Is(err, sql.ErrNoRows) {
			return fleet.ErrInvalidToken
		}
		if err != nil {
			return err
		}
		if used.Valid {
			gw, err = reenrol(ctx, tx, tokenHash, pub, expires, now)
			return err
		}
		if expires <= nanos(now) {
			return fleet.ErrInvalidToken
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO gateways (id, org_id, site_id, name, public_key) VALUES (?, ?, ?, ?, ?)`,
			gw.ID, gw.OrgID, gw.SiteID, gw.Name, gw.PublicKey); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE enrolment_tokens SET used_at = ?, gateway_id = ?
			WHERE token_hash = ? AND used_at IS NULL`, nanos(now), gw.ID, tokenHash)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return fleet.ErrInvalidToken
		}
		return nil
	})
	if err != nil {
		return fleet.Gateway{}, fmt.Errorf("enrol: %w", err)
	}
	return gw, nil
}

// reenrol returns the gateway that consumed the token when it has the
// public key pub, is not revoked and the grace after the token's expiry
// has not passed; otherwise fleet.ErrInvalidToken.
func reenrol(ctx context.Context, tx *txn, tokenHash string, pub []byte, expires int64, now time.Time) (fleet.Gateway, error) {
	var gw fleet.Gateway
	var revoked bool
	err := tx.QueryRowContext(ctx, `SELECT g.id, g.org_id, g.site_id, g.name, g.public_key, g.revoked
		FROM enrolment_tokens t JOIN gateways g ON g.id = t.gateway_id WHERE t.token_hash = ?`, tokenHash).
		Scan(&gw.ID, &gw.OrgID, &gw.SiteID, &gw.Name, &gw.PublicKey, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return fleet.Gateway{}, fleet.ErrInvalidToken
	}
	if err != nil {
		return fleet.Gateway{}, err
	}
	if revoked || !bytes.Equal(gw.PublicKey, pub) || nanos(now) >= expires+int64(enrolRetryGrace) {
		return fleet.Gateway{}, fleet.ErrInvalidToken
	}
	return gw, nil
}

// Gateway returns an enrolled gateway, revoked or not. An unknown ID is
// fleet.ErrNotFound.
func (d *DB) Gateway(ctx context.Context, id fleet.GatewayID) (fleet.Gateway, error) {
	gw := fleet.Gateway{ID: id}
	var revoked bool
	err := d.db.QueryRowContext(ctx, `SELECT org_id, site_id, name, public_key, revoked FROM gateways WHERE id = ?`, id).
		Scan(&gw.OrgID, &gw.SiteID, &gw.Name, &gw.PublicKey, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return fleet.Gateway{}, fmt.Errorf("gateway %s: %w", id, fleet.ErrNotFound)
	}
	if err != nil {
		return fleet.Gateway{}, fmt.Errorf("gateway %s: %w", id, err)
	}
	gw.Revoked = revoked
	return gw, nil
}

// RevokeGateway marks a gateway revoked: its uploads are refused from now
// on. Revoking twice is not an error; an unknown ID is fleet.ErrNotFound.
func (d *DB) RevokeGateway(ctx context.Context, id fleet.GatewayID) error {
	res, err := d.db.ExecContext(ctx, `UPDATE gateways SET revoked = true WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("revoke gateway %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("revoke gateway %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("revoke gateway %s: %w", id, fleet.ErrNotFound)
	}
	return nil
}
