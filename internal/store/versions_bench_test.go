package store

import (
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/storetest"
)

// BenchmarkPrinterVersions: see storetest.BenchPrinterVersions.
func benchPrinterVersionsSQLite(b *testing.B) {
	db, err := Open(b.Context(), b.TempDir()+"/bench.db", Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	storetest.BenchPrinterVersions(b, db)
}
