package store

import (
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/store/pgtest"

	"github.com/fusionfleet/fusionfleet/internal/storetest"
)

// benchPrinterVersionsPostgres: see storetest.BenchPrinterVersions.
func benchPrinterVersionsPostgres(b *testing.B) {
	storetest.BenchPrinterVersions(b, openDSN(b, pgtest.FreshDB(b)))
}
