package store

import (
	"context"
	"fmt"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// Bench is what IngestBench needs of a benchmark: *testing.B provides it,
// and so does the bench command's runner.
type Bench interface {
	Context() context.Context
	Cleanup(func())
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Loop() bool
	ReportMetric(n float64, unit string)
}

// benchT0 is when the benchmark's layers begin.
var benchT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// benchLayers is the number of layer records per envelope, about what a
// gateway batches in a few seconds from a busy site.
const benchLayers = 1000

// layerRecords returns the records of envelope i of a run: benchLayers
// layer records with fresh seqs, all in one month.
func layerRecords(i int) []fleet.Record {
	recs := make([]fleet.Record, benchLayers)
	for k := range recs {
		n := i*benchLayers + k
		end := benchT0.Add(time.Duration(n%200000) * 10 * time.Millisecond)
		recs[k] = fleet.Record{Seq: uint64(n + 1), Kind: fleet.KindLayer, PrinterID: fleet.PrinterID(fmt.Sprintf("printer-%04d", n%16)),
			Time: end, Layer: &fleet.Layer{Seq: uint64(n%4000 + 1), JobID: fmt.Sprintf("job-%d", n/4000), Index: n%4000 + 1,
				SizeMM2: 1234.5, DurationSec: 9.5, Start: end.Add(-9500 * time.Millisecond), End: end}}
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

// IngestBench measures rows/s of ApplyEnvelope with layer records into
// the fresh database at dsn and, in the same run on the same table, of raw
// baselines: a bare prepared multi-row INSERT ("insert"), and on
// PostgreSQL COPY ("copy"). The ratios are store / baseline.
func IngestBench(b Bench, dsn string) {
	db, err := Open(b.Context(), dsn, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if db.dialect.kind == postgres {
		benchIngest(b, db, pgBaselines(b, dsn))
	} else {
		benchIngest(b, db, map[string]baseline{"insert": sqliteInsert(b, db)})
	}
}

func benchIngest(b Bench, db *DB, baselines map[string]baseline) {
	ctx := b.Context()
	org, err := db.CreateOrg(ctx, "Acme")
	if err != nil {
		b.Fatal(err)
	}
	site, err := db.CreateSite(ctx, org, "Acme plant")
	if err != nil {
		b.Fatal(err)
	}
	if err := db.EnsurePartitions(ctx, benchT0); err != nil {
		b.Fatal(err)
	}
	var storeTime time.Duration
	took := map[string]time.Duration{}
	rows, i := 0, 0
	for b.Loop() {
		recs := layerRecords(i)
		i++
		began := time.Now()
		n, err := db.ApplyEnvelope(ctx, fleet.Envelope{OrgID: org, SiteID: site, GatewayID: "gw_store", Records: recs})
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
func sqliteInsert(b Bench, db *DB) baseline {
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
