package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// The TOTP secret is kept in the clear: checking a code needs it. The
// recovery codes and login challenges are kept only as hashes.

// SetPendingTOTP stores a new, not yet confirmed TOTP secret for a user,
// replacing any earlier pending one. A user whose second factor is
// already enabled is fleet.ErrConflict; an unknown user fleet.ErrNotFound.
func (d *DB) SetPendingTOTP(ctx context.Context, user fleet.UserID, secret string) error {
	if secret == "" {
		return errors.New("set pending totp: empty secret")
	}
	err := d.tx(ctx, func(tx *txn) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE id = ?`, user).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fleet.ErrNotFound
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO totp (user_id, secret) VALUES (?, ?)
			ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, last_step = 0 WHERE NOT totp.enabled`, user, secret)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("two-factor login already enabled: %w", fleet.ErrConflict)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set pending totp of %s: %w", user, err)
	}
	return nil
}

// TOTP returns a user's TOTP secret, whether it is enabled (confirmed) and
// the newest time step used. A user without one is fleet.ErrNotFound.
func (d *DB) TOTP(ctx context.Context, user fleet.UserID) (secret string, enabled bool, lastStep int64, err error) {
	var en bool
	err = d.db.QueryRowContext(ctx, `SELECT secret, enabled, last_step FROM totp WHERE user_id = ?`, user).
		Scan(&secret, &en, &lastStep)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, 0, fmt.Errorf("totp of %s: %w", user, fleet.ErrNotFound)
	}
	if err != nil {
		return "", false, 0, fmt.Errorf("totp of %s: %w", user, err)
	}
	return secret, en, lastStep, nil
}

// EnableTOTP confirms a user's pending TOTP secret with the time step of
// the first code and stores the hashes of fresh recovery codes, replacing
// any earlier ones. Without a pending secret it is fleet.ErrNotFound.
func (d *DB) EnableTOTP(ctx context.Context, user fleet.UserID, step int64, recoveryHashes []string) error {
	if len(recoveryHashes) == 0 {
		return errors.New("enable totp: no recovery codes")
	}
	err := d.tx(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, `UPDATE totp SET enabled = true, last_step = ? WHERE user_id = ? AND NOT enabled`, step, user)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("no pending secret: %w", fleet.ErrNotFound)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, user); err != nil {
			return err
		}
		for _, h := range recoveryHashes {
			if h == "" {
				return errors.New("empty recovery code hash")
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO recovery_codes (user_id, code_hash) VALUES (?, ?)`, user, h); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("enable totp of %s: %w", user, err)
	}
	return nil
}

// UseTOTPStep records that a code of time step was used, atomically: a
// step not newer than the last one used is fleet.ErrInvalidToken, so two
// requests with one code cannot both pass (replay).
func (d *DB) UseTOTPStep(ctx context.Context, user fleet.UserID, step int64) error {
	res, err := d.db.ExecContext(ctx, `UPDATE totp SET last_step = ? WHERE user_id = ? AND enabled AND last_step < ?`,
		step, user, step)
	if err != nil {
		return fmt.Errorf("use totp step of %s: %w", user, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("use totp step of %s: %w", user, err)
	} else if n == 0 {
		return fmt.Errorf("use totp step of %s: %w", user, fleet.ErrInvalidToken)
	}
	return nil
}

// UseRecoveryCode spends one of a user's recovery codes by its hash. An
// unknown or already used code is fleet.ErrInvalidToken.
func (d *DB) UseRecoveryCode(ctx context.Context, user fleet.UserID, codeHash string, now time.Time) error {
	res, err := d.db.ExecContext(ctx, `UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at = 0`,
		max(nanos(now), 1), user, codeHash)
	if err != nil {
		return fmt.Errorf("use recovery code of %s: %w", user, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("use recovery code of %s: %w", user, err)
	} else if n == 0 {
		return fmt.Errorf("use recovery code of %s: %w", user, fleet.ErrInvalidToken)
	}
	return nil
}

// RecoveryCodesLeft counts a user's unused recovery codes.
func (d *DB) RecoveryCodesLeft(ctx context.Context, user fleet.UserID) (int, error) {
	var n int
	err := d.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE user_id = ? AND used_at = 0`, user).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("recovery codes of %s: %w", user, err)
	}
	return n, nil
}

// DisableTOTP removes a user's second factor and recovery codes. A user
// without one is not an error.
func (d *DB) DisableTOTP(ctx context.Context, user fleet.UserID) error {
	err := d.tx(ctx, func(tx *txn) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, user); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM totp WHERE user_id = ?`, user)
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
	if _, err := d.db.ExecContext(ctx, `INSERT INTO login_challenges (token_hash, user_id, expires_at) VALUES (?, ?, ?)`,
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
	err := d.db.QueryRowContext(ctx, `SELECT u.id, u.org_id, u.name, u.role
		FROM login_challenges c JOIN users u ON u.id = c.user_id
		WHERE c.token_hash = ? AND c.expires_at > ?`, tokenHash, nanos(now)).Scan(&u.ID, &u.OrgID, &u.Name, &role)
	if errors.Is(err, sql.ErrNoRows) {
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
	if _, err := d.db.ExecContext(ctx, `DELETE FROM login_challenges WHERE token_hash = ? OR expires_at <= ?`,
		tokenHash, nanos(now)); err != nil {
		return fmt.Errorf("delete login challenge: %w", err)
	}
	return nil
}
