package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/storetest"
)

// benchLayers is the number of layer records per envelope, about what a
// gateway batches in a few seconds from a busy site.
const benchLayers = 1000

// layerRecords returns the records of envelope i of a run: benchLayers
// layer records with fresh seqs, all in one month.
func layerRecords(i int) []fleet.Record {
	recs := make([]fleet.Record, benchLayers)
	for k := range recs {
		n := i*benchLayers + k
		recs[k] = storetest.LayerRecord(uint64(n+1), fleet.PrinterID(fmt.Sprintf("printer-%04d", n%16)),
			fmt.Sprintf("job-%d", n/4000), n%4000+1, storetest.T0.Add(time.Duration(n%200000)*10*time.Millisecond))
	}
	return recs
}

// layerRow is the layers table's row of a layer record of gateway gw.
func layerRow(gw string, r fleet.Record) []any {
	l := r.Layer
	return []any{gw, int64(r.Seq), string(r.PrinterID), l.JobID, int64(l.Seq), int32(l.Index),
		l.SizeMM2, l.DurationSec, nanos(l.Start), nanos(l.End)}
}

// baseline makes the raw write of the layer records of one envelope, as
// gateway gw, in one transaction: the least a store could do. What it does
// before returning the write is not timed.
type baseline func(gw string, recs []fleet.Record) func(context.Context) error

// BenchmarkIngest measures rows/s of ApplyEnvelope with layer records and,
// in the same run on the same table, of raw baselines: a bare prepared
// multi-row INSERT ("insert"), and on PostgreSQL COPY ("copy"). The ratios
// are store / baseline.
func BenchmarkIngest(b *testing.B) {
	for _, d := range dialects {
		b.Run(d.name, func(b *testing.B) {
			dsn := d.dsn(b)
			db := openDSN(b, dsn)
			if db.dialect.kind == postgres {
				benchIngest(b, db, pgBaselines(b, dsn))
			} else {
				benchIngest(b, db, map[string]baseline{"insert": sqliteInsert(b, db)})
			}
		})
	}
}

func benchIngest(b *testing.B, db *DB, baselines map[string]baseline) {
	ctx := b.Context()
	org, site := tenant(b, db, "Acme")
	if err := db.EnsurePartitions(ctx, storetest.T0); err != nil {
		b.Fatal(err)
	}
	var storeTime time.Duration
	took := map[string]time.Duration{}
	rows, i := 0, 0
	for b.Loop() {
		recs := layerRecords(i)
		i++
		began := time.Now()
		n, err := db.ApplyEnvelope(ctx, storetest.Env(org, site, "gw_store", recs...))
		if err != nil || n != benchLayers {
			b.Fatalf("ApplyEnvelope = %d, %v", n, err)
		}
		storeTime += time.Since(began)
		for name, write := range baselines {
			run := write("gw_"+name, recs)
			began := time.Now()
			if err := run(ctx); err != nil {
				b.Fatalf("%s: %v", name, err)
			}
			took[name] += time.Since(began)
		}
		rows += benchLayers
	}
	rate := func(d time.Duration) float64 { return float64(rows) / d.Seconds() }
	b.ReportMetric(rate(storeTime), "store_rows/s")
	for name, d := range took {
		b.ReportMetric(rate(d), name+"_rows/s")
		b.ReportMetric(rate(storeTime)/rate(d), "ratio_"+name)
	}
}

// sqliteInsert is the SQLite baseline: the prepared multi-row INSERT of
// bulkRows rows, the rest ad hoc.
func sqliteInsert(b *testing.B, db *DB) baseline {
	raw, err := db.db.PrepareContext(b.Context(), layerInsert.values(bulkRows))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { raw.Close() })
	return func(gw string, recs []fleet.Record) func(context.Context) error {
		return func(ctx context.Context) error {
			return db.tx(ctx, func(tx *txn) error {
				s := tx.tx.StmtContext(ctx, raw)
				args := make([]any, 0, bulkRows*len(layerInsert.cols))
				for k := 0; k < len(recs); k += bulkRows {
					args = args[:0]
					for _, r := range recs[k:min(k+bulkRows, len(recs))] {
						args = append(args, layerRow(gw, r)...)
					}
					if len(args) < cap(args) { // benchLayers is not a multiple of bulkRows: the rest ad hoc
						if _, err := tx.ExecContext(ctx, layerInsert.values(len(args)/len(layerInsert.cols)), args...); err != nil {
							return err
						}
						continue
					}
					if _, err := s.ExecContext(ctx, args...); err != nil {
						return err
					}
				}
				return nil
			})
		}
	}
}
