package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The TOTP secret is kept in the clear: checking a code needs it. The
// recovery codes and login challenges are kept only as hashes.

// isForeignKeyViolation reports whether err is a foreign key violation: a
// row names one that does not exist.
func isForeignKeyViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}

// SetPendingTOTP stores a new, not yet confirmed TOTP secret for a user,
// replacing any earlier pending one. A user whose second factor is
// already enabled is fleet.ErrConflict; an unknown user fleet.ErrNotFound.
func (d *DB) SetPendingTOTP(ctx context.Context, user fleet.UserID, secret string) error {
	if secret == "" {
		return errors.New("set pending totp: empty secret")
	}
	n, err := d.exec(ctx, `INSERT INTO totp (user_id, secret) VALUES ($1, $2)
		ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, last_step = 0 WHERE NOT totp.enabled`, user, secret)
	switch {
	case isForeignKeyViolation(err):
		return fmt.Errorf("set pending totp of %s: %w", user, fleet.ErrNotFound)
	case err != nil:
		return fmt.Errorf("set pending totp of %s: %w", user, err)
	case n == 0:
		return fmt.Errorf("set pending totp of %s: two-factor login already enabled: %w", user, fleet.ErrConflict)
	}
	return nil
}

// TOTP returns a user's TOTP secret, whether it is enabled (confirmed) and
// the newest time step used. A user without one is fleet.ErrNotFound.
func (d *DB) TOTP(ctx context.Context, user fleet.UserID) (secret string, enabled bool, lastStep int64, err error) {
	err = d.queryRow(ctx, `SELECT secret, enabled, last_step FROM totp WHERE user_id = $1`, []any{user},
		&secret, &enabled, &lastStep)
	if isNoRows(err) {
		return "", false, 0, fmt.Errorf("totp of %s: %w", user, fleet.ErrNotFound)
	}
	if err != nil {
		return "", false, 0, fmt.Errorf("totp of %s: %w", user, err)
	}
	return secret, enabled, lastStep, nil
}

// EnableTOTP confirms a user's pending TOTP secret with the time step of
// the first code and stores the hashes of fresh recovery codes, replacing
// any earlier ones. Without a pending secret it is fleet.ErrNotFound.
func (d *DB) EnableTOTP(ctx context.Context, user fleet.UserID, step int64, recoveryHashes []string) error {
	if len(recoveryHashes) == 0 {
		return errors.New("enable totp: no recovery codes")
	}
	err := d.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE totp SET enabled = true, last_step = $1 WHERE user_id = $2 AND NOT enabled`, step, user)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("no pending secret: %w", fleet.ErrNotFound)
		}
		if slices.Contains(recoveryHashes, "") {
			return errors.New("empty recovery code hash")
		}
		if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, user); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO recovery_codes (user_id, code_hash) SELECT $1, unnest($2::text[])`,
			user, recoveryHashes)
		return err
	})
	if err != nil {
		return fmt.Errorf("enable totp of %s: %w", user, err)
	}
	return nil
}

// UseTOTPStep records that a code of time step was used, atomically: a
// step not newer than the last one used is fleet.ErrInvalidToken, so two
// requests with one code cannot both pass (replay). The row lock of the
// update makes a second request wait for the first and then find its
// condition false.
func (d *DB) UseTOTPStep(ctx context.Context, user fleet.UserID, step int64) error {
	n, err := d.exec(ctx, `UPDATE totp SET last_step = $1 WHERE user_id = $2 AND enabled AND last_step < $1`, step, user)
	if err != nil {
		return fmt.Errorf("use totp step of %s: %w", user, err)
	}
	if n == 0 {
		return fmt.Errorf("use totp step of %s: %w", user, fleet.ErrInvalidToken)
	}
	return nil
}

// UseRecoveryCode spends one of a user's recovery codes by its hash,
// atomically as UseTOTPStep does. An unknown or already used code is
// fleet.ErrInvalidToken.
func (d *DB) UseRecoveryCode(ctx context.Context, user fleet.UserID, codeHash string, now time.Time) error {
	n, err := d.exec(ctx, `UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at = 0`,
		max(nanos(now), 1), user, codeHash)
	if err != nil {
		return fmt.Errorf("use recovery code of %s: %w", user, err)
	}
	if n == 0 {
		return fmt.Errorf("use recovery code of %s: %w", user, fleet.ErrInvalidToken)
	}
	return nil
}

// RecoveryCodesLeft counts a user's unused recovery codes.
func (d *DB) RecoveryCodesLeft(ctx context.Context, user fleet.UserID) (int, error) {
	var n int
	if err := d.queryRow(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at = 0`, []any{user}, &n); err != nil {
		return 0, fmt.Errorf("recovery codes of %s: %w", user, err)
	}
	return n, nil
}

// DisableTOTP removes a user's second factor and recovery codes. A user
// without one is not an error.
func (d *DB) DisableTOTP(ctx context.Context, user fleet.UserID) error {
	err := d.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, user); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM totp WHERE user_id = $1`, user)
		return err
	})
	if err != nil {
		return fmt.Errorf("disable totp of %s: %w", user, err)
	}
	return nil
}

// CreateLoginChallenge stores, by the hash of its token, a login whose
// password was right and whose second factor is still to come.
func (d *DB) CreateLoginChallenge(ctx context.Context, tokenHash string, user fleet.UserID, expires time.Time) error {
	if tokenHash == "" {
		return errors.New("create login challenge: empty token hash")
	}
	if _, err := d.exec(ctx, `INSERT INTO login_challenges (token_hash, user_id, expires_at) VALUES ($1, $2, $3)`,
		tokenHash, user, nanos(expires)); err != nil {
		return fmt.Errorf("create login challenge for %s: %w", user, err)
	}
	return nil
}

// LoginChallengeUser returns the user of an unexpired login challenge. An
// unknown or expired one is fleet.ErrNotFound.
func (d *DB) LoginChallengeUser(ctx context.Context, tokenHash string, now time.Time) (fleet.User, error) {
	var u fleet.User
	var role int
	err := d.queryRow(ctx, `SELECT u.id, u.org_id, u.name, u.role
		FROM login_challenges c JOIN users u ON u.id = c.user_id
		WHERE c.token_hash = $1 AND c.expires_at > $2`, []any{tokenHash, nanos(now)}, &u.ID, &u.OrgID, &u.Name, &role)
	if isNoRows(err) {
		return fleet.User{}, fmt.Errorf("login challenge: %w", fleet.ErrNotFound)
	}
	if err != nil {
		return fleet.User{}, fmt.Errorf("login challenge: %w", err)
	}
	u.Role = fleet.Role(role)
	return u, nil
}

// DeleteLoginChallenge removes a login challenge, and any expired ones;
// deleting an unknown one is not an error.
func (d *DB) DeleteLoginChallenge(ctx context.Context, tokenHash string, now time.Time) error {
	if _, err := d.exec(ctx, `DELETE FROM login_challenges WHERE token_hash = $1 OR expires_at <= $2`,
		tokenHash, nanos(now)); err != nil {
		return fmt.Errorf("delete login challenge: %w", err)
	}
	return nil
}
