package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// CreateSession stores a login session by the hash of its token.
func (d *DB) CreateSession(ctx context.Context, tokenHash string, user fleet.UserID, expires time.Time) error {
	if tokenHash == "" {
		return errors.New("create session: empty token hash")
	}
	if _, err := d.db.ExecContext(ctx, `INSERT INTO sessions (token_hash, user_id, expires_at) VALUES (?, ?, ?)`,
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
	err := d.db.QueryRowContext(ctx, `SELECT u.id, u.org_id, u.name, u.role
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.token_hash = ? AND s.expires_at > ?`, tokenHash, nanos(now)).
		Scan(&u.ID, &u.OrgID, &u.Name, &role)
	if errors.Is(err, sql.ErrNoRows) {
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
	if _, err := d.db.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// SessionMember returns the user of an unexpired session with their sites
// and second-factor state. An unknown or expired session is
// fleet.ErrNotFound.
func (d *DB) SessionMember(ctx context.Context, tokenHash string, now time.Time) (access.Member, error) {
	m, err := oneMember(ctx, d.db, `JOIN sessions s ON s.user_id = u.id WHERE s.token_hash = ? AND s.expires_at > ?`,
		tokenHash, nanos(now))
	if err != nil {
		return access.Member{}, fmt.Errorf("session: %w", err)
	}
	return m, nil
}
