package ingestbench

import (
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/benchrun"
	"github.com/fusionfleet/fusionfleet/internal/store/pgtest"
)

// BenchmarkIngest runs Ingest, whose comment says what each figure means:
//
//	go test -run '^$' -bench '^BenchmarkIngest$' -benchtime 1000x ./internal/ingestbench
func BenchmarkIngest(b *testing.B) { Ingest(benchrun.Testing(b)) }

// BenchmarkIngestSQL runs IngestSQL on SQLite and, when a server answers
// (see pgtest), on PostgreSQL, with layers only and the production mix:
//
//	go test -run '^$' -bench IngestSQL -benchtime 400x ./internal/ingestbench
func BenchmarkIngestSQL(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		for _, mix := range []bool{false, true} {
			name := engine + "/layers"
			if mix {
				name = engine + "/mix"
			}
			b.Run(name, func(b *testing.B) {
				eng := SQLite()
				if engine == "postgres" {
					eng = Engine{Name: engine, Fresh: func(benchrun.B) string { return pgtest.FreshDB(b) }}
				}
				IngestSQL(benchrun.Testing(b), eng, mix)
			})
		}
	}
}
