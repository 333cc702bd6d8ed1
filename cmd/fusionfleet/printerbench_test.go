package main

import (
	"os"
	"strconv"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/benchrun"
)

// BenchmarkPrinterProcess runs printerProcessBench for 1,000 printers, or
// as many as FUSIONFLEET_BENCH_PRINTERS says:
//
//	go test -run '^$' -bench PrinterProcess -benchtime 20x ./cmd/fusionfleet
func BenchmarkPrinterProcess(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("FUSIONFLEET_BENCH_PRINTERS")); err == nil && v > 0 {
		n = v
	}
	printerProcessBench(benchrun.Testing(b), n)
}
