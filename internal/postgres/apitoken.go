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
	err = d.tx(ctx, func(tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM users WHERE id = $1 AND org_id = $2`, tok.UserID, tok.OrgID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("user %s of %s: %w", tok.UserID, tok.OrgID, fleet.ErrNotFound)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO api_tokens
			(id, org_id, user_id, name, token_hash, scope, site_limited, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, id, tok.OrgID, tok.UserID, tok.Name, tokenHash, int(tok.Scope),
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

// tokenColumns selects a token with its linked sites, in one round trip.
const tokenColumns = `SELECT t.id, t.org_id, t.user_id, t.name, t.scope, t.site_limited, t.created_at, t.expires_at, t.revoked_at,
	ARRAY(SELECT s.site_id FROM api_token_sites s WHERE s.token_id = t.id ORDER BY s.site_id)
	FROM api_tokens t `

func scanToken(r pgx.CollectableRow) (access.Token, error) {
	var t access.Token
	var scope int
	var limited bool
	var created, expires, revoked int64
	var sites []string
	if err := r.Scan(&t.ID, &t.OrgID, &t.UserID, &t.Name, &scope, &limited, &created, &expires, &revoked, &sites); err != nil {
		return access.Token{}, err
	}
	t.Scope, t.Sites = access.Scope(scope), siteSet(limited, sites)
	t.Created, t.Expires, t.Revoked = fromNanos(created), fromNanos(expires), fromNanos(revoked)
	return t, nil
}

// oneToken runs a tokenColumns query that names at most one token.
func (d *DB) oneToken(ctx context.Context, where string, args ...any) (access.Token, error) {
	toks, err := collect(ctx, d, tokenColumns+where, args, scanToken)
	if err != nil {
		return access.Token{}, err
	}
	if len(toks) == 0 {
		return access.Token{}, fleet.ErrNotFound
	}
	return toks[0], nil
}

// APITokenByHash returns the token with a secret's hash, revoked or
// expired or not: the caller decides (access.ForToken). An unknown hash
// is fleet.ErrNotFound.
func (d *DB) APITokenByHash(ctx context.Context, tokenHash string) (access.Token, error) {
	t, err := d.oneToken(ctx, `WHERE t.token_hash = $1`, tokenHash)
	if err != nil {
		return access.Token{}, fmt.Errorf("api token: %w", err)
	}
	return t, nil
}

// APIToken returns a token of org by ID. A token of another organisation
// is fleet.ErrNotFound.
func (d *DB) APIToken(ctx context.Context, org fleet.OrgID, id access.TokenID) (access.Token, error) {
	t, err := d.oneToken(ctx, `WHERE t.id = $1 AND t.org_id = $2`, id, org)
	if err != nil {
		return access.Token{}, fmt.Errorf("api token %s: %w", id, err)
	}
	return t, nil
}

// APITokens lists the tokens of org, newest first: of one user, or of all
// users when user is "".
func (d *DB) APITokens(ctx context.Context, org fleet.OrgID, user fleet.UserID) ([]access.Token, error) {
	toks, err := collect(ctx, d, tokenColumns+`WHERE t.org_id = $1 AND ($2 = '' OR t.user_id = $2)
		ORDER BY t.created_at DESC, t.id`, []any{org, user}, scanToken)
	if err != nil {
		return nil, fmt.Errorf("api tokens of %s: %w", org, err)
	}
	return toks, nil
}

// RevokeAPIToken revokes a token of org at now; it is refused from then on.
// Revoking twice keeps the first time. A token of another organisation is
// fleet.ErrNotFound.
func (d *DB) RevokeAPIToken(ctx context.Context, org fleet.OrgID, id access.TokenID, now time.Time) error {
	// One statement: the row is updated if not yet revoked, and found
	// either way.
	var found bool
	err := d.queryRow(ctx, `WITH tok AS (SELECT id FROM api_tokens WHERE id = $1 AND org_id = $2),
		upd AS (UPDATE api_tokens SET revoked_at = $3 WHERE id IN (SELECT id FROM tok) AND revoked_at = 0)
		SELECT EXISTS (SELECT 1 FROM tok)`, []any{id, org, max(nanos(now), 1)}, &found)
	if err != nil {
		return fmt.Errorf("revoke api token %s: %w", id, err)
	}
	if !found {
		return fmt.Errorf("revoke api token %s: %w", id, fleet.ErrNotFound)
	}
	return nil
}
