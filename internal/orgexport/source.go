package orgexport

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// Source gives an organisation's data: the rows of each table in turn,
// and how many each holds. The dashboard and the REST API both export
// from it.
type Source interface {
	ExportCounts(ctx context.Context, org fleet.OrgID) (map[string]int64, error)
	ExportOrg(ctx context.Context, org fleet.OrgID, part func(table string) error, row func(map[string]any) error) error
}

// Stream writes the document of org's data from src to w, a row at a
// time, and returns its manifest.
func Stream(ctx context.Context, w io.Writer, src Source, org fleet.OrgID, now time.Time) (Manifest, error) {
	x, err := NewWriter(w, org, now)
	if err != nil {
		return Manifest{}, err
	}
	if err := src.ExportOrg(ctx, org, x.Part, func(row map[string]any) error { return x.Row(row) }); err != nil {
		return Manifest{}, err
	}
	m, err := x.Close()
	if err != nil {
		return Manifest{}, fmt.Errorf("export %s: %w", org, err)
	}
	return m, nil
}
