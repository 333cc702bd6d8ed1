package printer

import (
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/benchrun"
)

// BenchmarkFleet runs FleetBench: what a thousand printers at 60x cost.
func BenchmarkFleet(b *testing.B) { FleetBench(benchrun.Testing(b)) }
