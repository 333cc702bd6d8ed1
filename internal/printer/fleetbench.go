package printer

import (
	"runtime"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/benchrun"
	"github.com/fusionfleet/fusionfleet/internal/clock"
)

// FleetBench simulates a fleet of printers for two simulated weeks,
// reading each one's status every simulated ten minutes, and reports what
// a thousand printers at 60x real time would cost: CPU time per simulated
// printer-hour, heap bytes per printer once every feed has filled, and the
// share of one core that 1,000 printers at 60x need.
func FleetBench(b benchrun.B) {
	const (
		printers = 200
		span     = 14 * 24 * time.Hour
		step     = 10 * time.Minute
	)
	var perPrinter float64
	for b.Loop() {
		b.StopTimer()
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		clk := clock.NewManual(time.Date(2026, 4, 6, 6, 0, 0, 0, time.UTC))
		fleet := make([]*Printer, printers)
		for i := range fleet {
			fleet[i] = New(Options{Seed: int64(i), Clock: clk})
		}
		b.StartTimer()
		for el := time.Duration(0); el < span; el += step {
			clk.Advance(step)
			for _, p := range fleet {
				p.Status()
			}
		}
		b.StopTimer()
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		perPrinter = float64(after.HeapAlloc-min(before.HeapAlloc, after.HeapAlloc)) / printers
		runtime.KeepAlive(fleet)
		b.StartTimer()
	}
	printerHours := float64(b.N()) * printers * span.Hours()
	nsPerPrinterHour := float64(b.Elapsed().Nanoseconds()) / printerHours
	b.ReportMetric(nsPerPrinterHour, "ns/printer-hour")
	b.ReportMetric(perPrinter, "bytes/printer")
	// 1,000 printers at 60x simulate 60,000 printer-hours per real hour.
	b.ReportMetric(nsPerPrinterHour*1000*60/float64(time.Hour), "cores@1000x60")
	b.ReportMetric(perPrinter*1000/(1<<20), "MiB@1000")
}
