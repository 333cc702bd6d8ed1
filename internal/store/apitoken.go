package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// CreateAPIToken stores an API token by the hash of its secret and returns
// its ID (tok.ID is ignored). The owner must be a user of tok.OrgID and
// every site one of its sites, else fleet.ErrNotFound.
func (d *DB) CreateAPIToken(ctx context.Context, tok access.Token, tokenHash string) (access.TokenID, error) {
	switch {
	case tokenHash == "":
		return "", errors.New("create api token: empty token hash")
	case strings.TrimSpace(tok.Name) == "":
		return "", errors.New("create api token: empty name")
	case tok.Scope != access.ScopeRead && tok.Scope != access.ScopeReadWrite:
		return "", fmt.Errorf("create api token: invalid scope %s", tok.Scope)
	case !tok.Expires.After(tok.Created):
		return "", errors.New("create api token: expires before it is created")
	}
	id, err := fleet.NewID("tok_")
	if err != nil {
		return "", fmt.Errorf("create api token: %w", err)
	}
	err = d.tx(ctx, func(tx *txn) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE id = ? AND org_id = ?`, tok.UserID, tok.OrgID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("user %s of %s: %w", tok.UserID, tok.OrgID, fleet.ErrNotFound)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO api_tokens
			(id, org_id, user_id, name, token_hash, scope, site_limited, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, tok.OrgID, tok.UserID, tok.Name, tokenHash, int(tok.Scope),
			tok.Sites.Limited(), nanos(tok.Created), nanos(tok.Expires)); err != nil {
			return err
		}
		return writeSiteSet(ctx, tx, tok.OrgID, tok.Sites, "api_token_sites", "token_id", id)
	})
	if err != nil {
		return "", fmt.Errorf("create api token: %w", err)
	}
	return access.TokenID(id), nil
}

const tokenColumns = `SELECT id, org_id, user_id, name, scope, site_limited, created_at, expires_at, revoked_at FROM api_tokens `

// queryTokens runs a tokenColumns query and loads the tokens' site sets.
func queryTokens(ctx context.Context, q querier, where string, args ...any) ([]access.Token, error) {
	rows, err := q.QueryContext(ctx, tokenColumns+where, args...)
	if err != nil {
		return nil, err
	}
	var toks []access.Token
	var limited []bool
	for rows.Next() {
		var t access.Token
		var scope int
		var lim bool
		var created, expires, revoked int64
		if err := rows.Scan(&t.ID, &t.OrgID, &t.UserID, &t.Name, &scope, &lim, &created, &expires, &revoked); err != nil {
			rows.Close()
			return nil, err
		}
		t.Scope = access.Scope(scope)
		t.Created, t.Expires, t.Revoked = fromNanos(created), fromNanos(expires), fromNanos(revoked)
		toks = append(toks, t)
		limited = append(limited, lim)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range toks {
		s, err := siteSetOf(ctx, q, limited[i], "api_token_sites", "token_id", string(toks[i].ID))
		if err != nil {
			return nil, err
		}
		toks[i].Sites = s
	}
	return toks, nil
}

// APITokenByHash returns the token with a secret's hash, revoked or
// expired or not: the caller decides (access.ForToken). An unknown hash
// is fleet.ErrNotFound.
func (d *DB) APITokenByHash(ctx context.Context, tokenHash string) (access.Token, error) {
	toks, err := queryTokens(ctx, d.db, `WHERE token_hash = ?`, tokenHash)
	if err != nil {
		return access.Token{}, fmt.Errorf("api token: %w", err)
	}
	if len(toks) == 0 {
		return access.Token{}, fmt.Errorf("api token: %w", fleet.ErrNotFound)
	}
	return toks[0], nil
}

// APIToken returns a token of org by ID. A token of another organisation
// is fleet.ErrNotFound.
func (d *DB) APIToken(ctx context.Context, org fleet.OrgID, id access.TokenID) (access.Token, error) {
	toks, err := queryTokens(ctx, d.db, `WHERE id = ? AND org_id = ?`, id, org)
	if err != nil {
		return access.Token{}, fmt.Errorf("api token %s: %w", id, err)
	}
	if len(toks) == 0 {
		return access.Token{}, fmt.Errorf("api token %s: %w", id, fleet.ErrNotFound)
	}
	return toks[0], nil
}

// APITokens lists the tokens of org, newest first: of one user, or of all
// users when user is "".
func (d *DB) APITokens(ctx context.Context, org fleet.OrgID, user fleet.UserID) ([]access.Token, error) {
	toks, err := queryTokens(ctx, d.db, `WHERE org_id = ? AND (? = '' OR user_id = ?) ORDER BY created_at DESC, id`,
		org, user, user)
	if err != nil {
		return nil, fmt.Errorf("api tokens of %s: %w", org, err)
	}
	return toks, nil
}

// RevokeAPIToken revokes a token of org at now; it is refused from then on.
// Revoking twice keeps the first time. A token of another organisation is
// fleet.ErrNotFound.
func (d *DB) RevokeAPIToken(ctx context.Context, org fleet.OrgID, id access.TokenID, now time.Time) error {
	err := d.tx(ctx, func(tx *txn) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_tokens WHERE id = ? AND org_id = ?`, id, org).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fleet.ErrNotFound
		}
		_, err := tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND org_id = ? AND revoked_at = 0`,
			max(nanos(now), 1), id, org)
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke api token %s: %w", id, err)
	}
	return nil
}
