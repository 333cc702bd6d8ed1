package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/store/pgtest"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/storetest"
	"github.com/jackc/pgx/v5"
)

// pgLayerRecords returns the records of envelope i of a run: benchLayers
// layer records with fresh seqs, all in one month.
func pgLayerRecords(i int) []fleet.Record {
	recs := make([]fleet.Record, benchLayers)
	for k := range recs {
		n := i*benchLayers + k
		recs[k] = storetest.LayerRecord(uint64(n+1), fleet.PrinterID(fmt.Sprintf("printer-%04d", n%16)),
			fmt.Sprintf("job-%d", n/4000), n%4000+1, storetest.T0.Add(time.Duration(n%200000)*10*time.Millisecond))
	}
	return recs
}

func pgLayerRow(gw string, r fleet.Record) []any {
	l := r.Layer
	return []any{gw, int64(r.Seq), string(r.PrinterID), l.JobID, int64(l.Seq), int32(l.Index),
		l.SizeMM2, l.DurationSec, nanos(l.Start), nanos(l.End)}
}

// benchIngestPostgres measures rows/s of ApplyEnvelope with layer records and,
// in the same run on the same table, of two raw baselines, each one
// transaction per envelope: a bare prepared multi-row INSERT, and COPY.
// The ratios are store / baseline.
func benchIngestPostgres(b *testing.B) {
	dsn := pgtest.FreshDB(b)
	db := openDSN(b, dsn)
	raw, err := pgx.Connect(b.Context(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close(context.Background())
	ctx := b.Context()
	org, err := db.CreateOrg(ctx, "Acme")
	if err != nil {
		b.Fatal(err)
	}
	site, err := db.CreateSite(ctx, org, "Plant")
	if err != nil {
		b.Fatal(err)
	}
	if err := db.EnsurePartitions(ctx, storetest.T0); err != nil {
		b.Fatal(err)
	}
	var ph []string
	for r := range benchLayers {
		var cols []string
		for c := range layerInsert.cols {
			cols = append(cols, fmt.Sprintf("$%d", r*len(layerInsert.cols)+c+1))
		}
		ph = append(ph, "("+strings.Join(cols, ",")+")")
	}
	valuesSQL := "INSERT INTO layers (" + strings.Join(layerInsert.cols, ",") + ") VALUES " + strings.Join(ph, ",")

	var storeTime, valuesTime, copyTime time.Duration
	rows, i := 0, 0
	timed := func(total *time.Duration, fn func(pgx.Tx) error) {
		began := time.Now()
		if err := pgx.BeginFunc(ctx, raw, fn); err != nil {
			b.Fatal(err)
		}
		*total += time.Since(began)
	}
	for b.Loop() {
		recs := pgLayerRecords(i)
		i++
		began := time.Now()
		n, err := db.ApplyEnvelope(ctx, storetest.Env(org, site, "gw_store", recs...))
		if err != nil || n != benchLayers {
			b.Fatalf("ApplyEnvelope = %d, %v", n, err)
		}
		storeTime += time.Since(began)

		args := make([]any, 0, benchLayers*len(layerInsert.cols))
		copyRows := make([][]any, 0, benchLayers)
		for _, r := range recs {
			args = append(args, pgLayerRow("gw_values", r)...)
			copyRows = append(copyRows, pgLayerRow("gw_copy", r))
		}
		timed(&valuesTime, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, valuesSQL, args...) // prepared once per connection and cached
			return err
		})
		timed(&copyTime, func(tx pgx.Tx) error {
			_, err := tx.CopyFrom(ctx, pgx.Identifier{"layers"}, layerInsert.cols, pgx.CopyFromRows(copyRows))
			return err
		})
		rows += benchLayers
	}
	rate := func(d time.Duration) float64 { return float64(rows) / d.Seconds() }
	b.ReportMetric(rate(storeTime), "store_rows/s")
	b.ReportMetric(rate(valuesTime), "insert_rows/s")
	b.ReportMetric(rate(copyTime), "copy_rows/s")
	b.ReportMetric(rate(storeTime)/rate(valuesTime), "ratio_insert")
	b.ReportMetric(rate(storeTime)/rate(copyTime), "ratio_copy")
}
