package outbox

import (
	"database/sql"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/outbox/outboxtest"
	"github.com/fusionfleet/fusionfleet/internal/sitedb"
	"github.com/fusionfleet/fusionfleet/internal/sqlitedb"
)

// BenchmarkOutboxAppend measures the outbox's record throughput with many
// printers appending at once: group commit against one transaction per
// append, in the same run.
func BenchmarkOutboxAppend(b *testing.B) {
	const appenders = 32
	for _, mode := range []string{"group-commit", "tx-per-append"} {
		b.Run(mode, func(b *testing.B) {
			db, err := sitedb.Open(b.Context(), filepath.Join(b.TempDir(), "cc.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			ob := New(db, nil)
			rec := outboxtest.Layer("printer-0001", 1, t0)
			var next atomic.Int64
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for range appenders {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						var err error
						if mode == "group-commit" {
							err = ob.Append(b.Context(), rec)
						} else {
							err = sqlitedb.Tx(b.Context(), db, func(tx *sql.Tx) error { return ob.AppendTx(b.Context(), tx, []fleet.Record{rec}, false) })
						}
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
		})
	}
}
