package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// SaveBundleImport records the import of an air-gapped bundle as its
// gateway's newest. An import of an older or the same serial than the one
// kept changes nothing; a gateway unknown, or not of the import's
// organisation and site, is fleet.ErrNotFound.
func (d *DB) SaveBundleImport(ctx context.Context, imp fleet.BundleImport) error {
	if err := imp.Validate(); err != nil {
		return fmt.Errorf("save bundle import: %w", err)
	}
	held, err := json.Marshal(imp.Held)
	if err != nil {
		return fmt.Errorf("save bundle import: %w", err)
	}
	refused, err := json.Marshal(imp.Refused)
	if err != nil {
		return fmt.Errorf("save bundle import: %w", err)
	}
	err = d.tx(ctx, func(tx *txn) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM gateways WHERE id = ? AND org_id = ? AND site_id = ?`,
			imp.GatewayID, imp.OrgID, imp.SiteID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("gateway %s of site %s: %w", imp.GatewayID, imp.SiteID, fleet.ErrNotFound)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO bundle_imports (gateway_id, org_id, site_id, serial, created, imported, records, held, refused)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (gateway_id) DO UPDATE SET serial = excluded.serial, created = excluded.created, imported = excluded.imported,
				records = excluded.records, held = excluded.held, refused = excluded.refused
			WHERE bundle_imports.serial < excluded.serial`,
			imp.GatewayID, imp.OrgID, imp.SiteID, int64(imp.Serial), nanos(imp.Created), nanos(imp.Imported), imp.Records, string(held), string(refused))
		return err
	})
	if err != nil {
		return fmt.Errorf("save bundle import: %w", err)
	}
	return nil
}

// LatestBundleImport returns the newest import of gw's bundles, or
// fleet.ErrNotFound.
func (d *DB) LatestBundleImport(ctx context.Context, gw fleet.GatewayID) (fleet.BundleImport, error) {
	imp := fleet.BundleImport{GatewayID: gw}
	var serial, created, imported int64
	var held, refused string
	err := d.db.QueryRowContext(ctx, `SELECT org_id, site_id, serial, created, imported, records, held, refused
		FROM bundle_imports WHERE gateway_id = ?`, gw).Scan(&imp.OrgID, &imp.SiteID, &serial, &created, &imported, &imp.Records, &held, &refused)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fleet.BundleImport{}, fmt.Errorf("bundle import of gateway %s: %w", gw, fleet.ErrNotFound)
	case err != nil:
		return fleet.BundleImport{}, fmt.Errorf("bundle import of gateway %s: %w", gw, err)
	}
	imp.Serial, imp.Created, imp.Imported = uint64(serial), fromNanos(created), fromNanos(imported)
	if err := errors.Join(json.Unmarshal([]byte(held), &imp.Held), json.Unmarshal([]byte(refused), &imp.Refused)); err != nil {
		return fleet.BundleImport{}, fmt.Errorf("bundle import of gateway %s: %w", gw, err)
	}
	return imp, nil
}
