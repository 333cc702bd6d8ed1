package postgres

import (
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/storetest"
)

// BenchmarkPrinterVersions: see storetest.BenchPrinterVersions.
func BenchmarkPrinterVersions(b *testing.B) {
	storetest.BenchPrinterVersions(b, openTest(b))
}
