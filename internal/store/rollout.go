package store

import (
	"context"
	"fmt"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// VersionFailures counts, across every organisation, the printers of
// q.Model on q.Version and on other versions, and those of each group
// with a failure alert opened since q.Since (see fleet.VersionQuery).
func (d *DB) VersionFailures(ctx context.Context, q fleet.VersionQuery) (fleet.VersionFailures, error) {
	version := `firmware`
	if q.ParameterSet {
		version = `CASE WHEN identity = '' THEN '' ELSE COALESCE(` + d.dialect.jsonText("identity", "parameter_set") + `, '') END`
	}
	rows, err := d.db.QueryContext(ctx, `SELECT p.v = ? AS mine, COUNT(*), COUNT(f.printer_id)
		FROM (SELECT id, org_id, `+version+` AS v FROM printers WHERE model = ?) p
		LEFT JOIN (SELECT DISTINCT org_id, printer_id FROM alerts WHERE severity >= ? AND opened_at >= ?) f
			ON f.org_id = p.org_id AND f.printer_id = p.id
		WHERE p.v <> ''
		GROUP BY mine`, q.Version, q.Model, int(q.Severity()), nanos(q.Since))
	if err != nil {
		return fleet.VersionFailures{}, fmt.Errorf("version failures: %w", err)
	}
	defer rows.Close()
	var out fleet.VersionFailures
	for rows.Next() {
		var mine bool
		var printers, failing int
		if err := rows.Scan(&mine, &printers, &failing); err != nil {
			return fleet.VersionFailures{}, fmt.Errorf("version failures: %w", err)
		}
		if mine {
			out.Printers, out.Failing = printers, failing
		} else {
			out.OtherPrinters, out.OtherFailing = printers, failing
		}
	}
	if err := rows.Err(); err != nil {
		return fleet.VersionFailures{}, fmt.Errorf("version failures: %w", err)
	}
	return out, nil
}
