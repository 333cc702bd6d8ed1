package store

import "testing"

// BenchmarkIngest runs IngestBench once per dialect:
//
//	CI=true go test -run '^$' -bench Ingest -benchtime 200x ./internal/store
func BenchmarkIngest(b *testing.B) {
	for _, d := range dialects {
		b.Run(d.name, func(b *testing.B) { IngestBench(b, d.dsn(b)) })
	}
}
