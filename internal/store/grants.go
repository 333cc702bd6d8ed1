package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// CreateGrant stores a grant a customer gives a service provider and
// returns its ID (g.ID is ignored). The customer must be a customer, the
// provider a service provider and every site one of the customer's, else
// fleet.ErrNotFound.
func (d *DB) CreateGrant(ctx context.Context, g access.Grant) (string, error) {
	switch {
	case g.Scopes == 0:
		return "", errors.New("create grant: no scope")
	case !g.Role.Valid():
		return "", fmt.Errorf("create grant: invalid role %s", g.Role)
	case !g.Expires.After(g.Starts):
		return "", errors.New("create grant: expires before it starts")
	}
	id, err := fleet.NewID("grt_")
	if err != nil {
		return "", fmt.Errorf("create grant: %w", err)
	}
	err = d.tx(ctx, func(tx *txn) error {
		for _, o := range []struct {
			id   fleet.OrgID
			kind access.OrgKind
		}{{g.Customer, access.OrgCustomer}, {g.Provider, access.OrgServiceProvider}} {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM orgs WHERE id = ? AND kind = ?`, o.id, int(o.kind)).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("%s %s: %w", o.kind, o.id, fleet.ErrNotFound)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO grants
			(id, customer_id, provider_id, role, scopes, site_limited, starts_at, expires_at, created_at, created_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, g.Customer, g.Provider, int(g.Role), int(g.Scopes),
			g.Sites.Limited(), nanos(g.Starts), nanos(g.Expires), nanos(g.Created), g.CreatedBy); err != nil {
			return err
		}
		return writeSiteSet(ctx, tx, g.Customer, g.Sites, "grant_sites", "grant_id", id)
	})
	if err != nil {
		return "", fmt.Errorf("create grant: %w", err)
	}
	return id, nil
}

const grantColumns = `SELECT id, customer_id, provider_id, role, scopes, site_limited, starts_at, expires_at,
	created_at, created_by, revoked_at FROM grants `

// queryGrants runs a grantColumns query and loads the grants' site sets.
func queryGrants(ctx context.Context, q querier, where string, args ...any) ([]access.Grant, error) {
	rows, err := q.QueryContext(ctx, grantColumns+where, args...)
	if err != nil {
		return nil, err
	}
	var gs []access.Grant
	var limited []bool
	for rows.Next() {
		var g access.Grant
		var role, scopes int
		var lim bool
		var starts, expires, created, revoked int64
		if err := rows.Scan(&g.ID, &g.Customer, &g.Provider, &role, &scopes, &lim, &starts, &expires,
			&created, &g.CreatedBy, &revoked); err != nil {
			rows.Close()
			return nil, err
		}
		g.Role, g.Scopes = fleet.Role(role), access.GrantScope(scopes)
		g.Starts, g.Expires, g.Created, g.Revoked = fromNanos(starts), fromNanos(expires), fromNanos(created), fromNanos(revoked)
		gs = append(gs, g)
		limited = append(limited, lim)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	for i := range gs {
		if gs[i].Sites, err = siteSetOf(ctx, q, limited[i], "grant_sites", "grant_id", gs[i].ID); err != nil {
			return nil, err
		}
	}
	return gs, nil
}

// Grant returns a grant as it is, revoked or expired. An unknown ID is
// fleet.ErrNotFound. The dashboard and the API call it on every request
// made under the grant: no node keeps a copy that outlives a request.
func (d *DB) Grant(ctx context.Context, id string) (access.Grant, error) {
	gs, err := queryGrants(ctx, d.db, `WHERE id = ?`, id)
	if err != nil {
		return access.Grant{}, fmt.Errorf("grant %s: %w", id, err)
	}
	if len(gs) == 0 {
		return access.Grant{}, fmt.Errorf("grant %s: %w", id, fleet.ErrNotFound)
	}
	return gs[0], nil
}

// Grants lists the grants a customer gave, newest first.
func (d *DB) Grants(ctx context.Context, customer fleet.OrgID) ([]access.Grant, error) {
	gs, err := queryGrants(ctx, d.db, `WHERE customer_id = ? ORDER BY created_at DESC, id`, customer)
	if err != nil {
		return nil, fmt.Errorf("grants of %s: %w", customer, err)
	}
	return gs, nil
}

// GrantsTo lists the grants given to a service provider, newest first.
func (d *DB) GrantsTo(ctx context.Context, provider fleet.OrgID) ([]access.Grant, error) {
	gs, err := queryGrants(ctx, d.db, `WHERE provider_id = ? ORDER BY created_at DESC, id`, provider)
	if err != nil {
		return nil, fmt.Errorf("grants to %s: %w", provider, err)
	}
	return gs, nil
}

// RevokeGrant revokes a grant of customer at now; it admits nobody from
// then on. Revoking twice keeps the first time. A grant of another
// customer is fleet.ErrNotFound.
func (d *DB) RevokeGrant(ctx context.Context, customer fleet.OrgID, id string, now time.Time) error {
	err := d.tx(ctx, func(tx *txn) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM grants WHERE id = ? AND customer_id = ?`, id, customer).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fleet.ErrNotFound
		}
		_, err := tx.ExecContext(ctx, `UPDATE grants SET revoked_at = ? WHERE id = ? AND customer_id = ? AND revoked_at = 0`,
			max(nanos(now), 1), id, customer)
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke grant %s: %w", id, err)
	}
	return nil
}
