package postgres

import (
	"context"
	"fmt"

	"github.com/fusionfleet/fusionfleet/internal/alert"
	"github.com/jackc/pgx/v5"
)

// PrinterVersions lists, across every organisation, the model, firmware
// and parameter set each printer last reported in its identity, ordered by
// printer. Printers that never reported one are left out. It reads every
// printer row, in primary key order: no index narrows a listing of all.
func (d *DB) PrinterVersions(ctx context.Context) ([]alert.PrinterVersion, error) {
	out, err := collect(ctx, d, `SELECT org_id, site_id, id, identity_time, model, firmware,
			CASE WHEN identity = '' THEN '' ELSE COALESCE(identity::json ->> 'parameter_set', '') END
		FROM printers WHERE identity <> '' ORDER BY id`, nil,
		func(r pgx.CollectableRow) (alert.PrinterVersion, error) {
			var v alert.PrinterVersion
			var since int64
			err := r.Scan(&v.OrgID, &v.SiteID, &v.PrinterID, &since, &v.Model, &v.Firmware, &v.ParameterSet)
			v.Since = fromNanos(since)
			return v, err
		})
	if err != nil {
		return nil, fmt.Errorf("printer versions: %w", err)
	}
	return out, nil
}
