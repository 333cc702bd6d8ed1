package store

import (
	"context"
	"fmt"

	"github.com/fusionfleet/fusionfleet/internal/alert"
)

// PrinterVersions lists, across every organisation, the model, firmware
// and parameter set each printer last reported in its identity, ordered by
// printer. Printers that never reported one are left out. It reads every
// printer row, in primary key order: no index narrows a listing of all.
func (d *DB) PrinterVersions(ctx context.Context) ([]alert.PrinterVersion, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT org_id, site_id, id, identity_time, model, firmware,
			COALESCE(`+d.dialect.jsonText("identity", "parameter_set")+`, '')
		FROM printers WHERE identity <> '' ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("printer versions: %w", err)
	}
	defer rows.Close()
	var out []alert.PrinterVersion
	for rows.Next() {
		var v alert.PrinterVersion
		var since int64
		if err := rows.Scan(&v.OrgID, &v.SiteID, &v.PrinterID, &since, &v.Model, &v.Firmware, &v.ParameterSet); err != nil {
			return nil, fmt.Errorf("printer versions: %w", err)
		}
		v.Since = fromNanos(since)
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("printer versions: %w", err)
	}
	return out, nil
}
