package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/storetest"
)

// benchLayers is the number of layer records per envelope, about what a
// gateway batches in a few seconds from a busy site.
const benchLayers = 1000

// layerRecords returns the records of envelope i of a run: benchLayers layer records with
// fresh seqs.
func layerRecords(i int) []fleet.Record {
	recs := make([]fleet.Record, benchLayers)
	for k := range recs {
		n := i*benchLayers + k
		recs[k] = storetest.LayerRecord(uint64(n+1), fleet.PrinterID(fmt.Sprintf("printer-%04d", n%16)),
			fmt.Sprintf("job-%d", n/4000), n%4000+1, storetest.T0.Add(time.Duration(n)*10*time.Second))
	}
	return recs
}

// BenchmarkIngest measures rows/s of ApplyEnvelope with layer records and,
// in the same run on the same database, of the raw baseline: a bare
// prepared multi-row INSERT of the same rows in one transaction per
// envelope. ratio is store / baseline.
func benchIngestSQLite(b *testing.B) {
	db, err := Open(b.Context(), b.TempDir()+"/bench.db", Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := b.Context()
	org, err := db.CreateOrg(ctx, "Acme")
	if err != nil {
		b.Fatal(err)
	}
	site, err := db.CreateSite(ctx, org, "Plant")
	if err != nil {
		b.Fatal(err)
	}
	raw, err := db.db.PrepareContext(ctx, layerInsert.values(bulkRows))
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	var storeTime, rawTime time.Duration
	rows := 0
	i := 0
	for b.Loop() {
		recs := layerRecords(i)
		i++
		began := time.Now()
		n, err := db.ApplyEnvelope(ctx, storetest.Env(org, site, "gw_store", recs...))
		if err != nil || n != benchLayers {
			b.Fatalf("ApplyEnvelope = %d, %v", n, err)
		}
		storeTime += time.Since(began)

		began = time.Now()
		err = db.tx(ctx, func(tx *txn) error {
			s := tx.tx.StmtContext(ctx, raw)
			args := make([]any, 0, bulkRows*len(layerInsert.cols))
			for k := 0; k < len(recs); k += bulkRows {
				args = args[:0]
				for _, r := range recs[k:min(k+bulkRows, len(recs))] {
					l := r.Layer
					args = append(args, "gw_raw", int64(r.Seq), r.PrinterID, l.JobID, int64(l.Seq), l.Index,
						l.SizeMM2, l.DurationSec, nanos(l.Start), nanos(l.End))
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
		if err != nil {
			b.Fatal(err)
		}
		rawTime += time.Since(began)
		rows += benchLayers
	}
	storeRate := float64(rows) / storeTime.Seconds()
	rawRate := float64(rows) / rawTime.Seconds()
	b.ReportMetric(storeRate, "store_rows/s")
	b.ReportMetric(rawRate, "baseline_rows/s")
	b.ReportMetric(storeRate/rawRate, "ratio")
}
