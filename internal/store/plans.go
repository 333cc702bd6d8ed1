package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// OrgFeatures returns the features org's plan enables: access.
// DefaultFeatures until SetOrgFeatures gave it a plan. An unknown
// organisation is fleet.ErrNotFound.
func (d *DB) OrgFeatures(ctx context.Context, org fleet.OrgID) (access.Feature, error) {
	var f sql.NullInt64
	err := d.db.QueryRowContext(ctx, `SELECT features FROM orgs WHERE id = ?`, org).Scan(&f)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("features of %s: %w", org, fleet.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("features of %s: %w", org, err)
	}
	if !f.Valid {
		return access.DefaultFeatures, nil
	}
	return access.Feature(f.Int64), nil
}

// SetOrgFeatures gives org a plan of features. An unknown organisation is
// fleet.ErrNotFound.
func (d *DB) SetOrgFeatures(ctx context.Context, org fleet.OrgID, f access.Feature) error {
	res, err := d.db.ExecContext(ctx, `UPDATE orgs SET features = ? WHERE id = ?`, int64(f), org)
	if err != nil {
		return fmt.Errorf("set features of %s: %w", org, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("set features of %s: %w", org, err)
	} else if n == 0 {
		return fmt.Errorf("set features of %s: %w", org, fleet.ErrNotFound)
	}
	return nil
}
