package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/jackc/pgx/v5"
)

// pgBaselines are PostgreSQL's baselines, on a pgx connection of their
// own: one multi-row INSERT of the envelope's rows (prepared once per
// connection and cached), and COPY.
func pgBaselines(b Bench, dsn string) map[string]baseline {
	raw, err := pgx.Connect(b.Context(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { raw.Close(context.Background()) })
	var ph []string
	for r := range benchLayers {
		var cols []string
		for c := range layerInsert.cols {
			cols = append(cols, fmt.Sprintf("$%d", r*len(layerInsert.cols)+c+1))
		}
		ph = append(ph, "("+strings.Join(cols, ",")+")")
	}
	valuesSQL := "INSERT INTO layers (" + strings.Join(layerInsert.cols, ",") + ") VALUES " + strings.Join(ph, ",")
	return map[string]baseline{
		"insert": func(gw string, recs []fleet.Record) func(context.Context) error {
			args := make([]any, 0, benchLayers*len(layerInsert.cols))
			for _, r := range recs {
				args = append(args, layerRow(gw, r)...)
			}
			return func(ctx context.Context) error {
				return pgx.BeginFunc(ctx, raw, func(tx pgx.Tx) error {
					_, err := tx.Exec(ctx, valuesSQL, args...)
					return err
				})
			}
		},
		"copy": func(gw string, recs []fleet.Record) func(context.Context) error {
			rows := make([][]any, 0, benchLayers)
			for _, r := range recs {
				rows = append(rows, layerRow(gw, r))
			}
			return func(ctx context.Context) error {
				return pgx.BeginFunc(ctx, raw, func(tx pgx.Tx) error {
					_, err := tx.CopyFrom(ctx, pgx.Identifier{"layers"}, layerInsert.cols, pgx.CopyFromRows(rows))
					return err
				})
			}
		},
	}
}
