package commandcenter

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/printer"
)

// The helper process of BenchmarkPollFleet (TestFleetPrinterProcess).
const (
	fleetChildEnv     = "FUSIONFLEET_FLEET_PRINTERS"  // how many printers to serve
	fleetCollectorEnv = "FUSIONFLEET_FLEET_COLLECTOR" // the fingerprint the printers pair
)

// BenchmarkPollFleet runs PollFleet, whose comment says what it measures,
// for 500, 1,000 and 2,000 printers (select one with -bench
// 'PollFleet/printers=2000'):
//
//	go test -run '^$' -bench 'PollFleet' -benchtime 1x -timeout 30m ./internal/commandcenter
//
// FUSIONFLEET_BENCH_SECONDS sets how long each side is measured (default
// 60 s of wall time); FUSIONFLEET_BENCH_CPUPROFILE names a file for a CPU
// profile of the Command Center's window alone,
// FUSIONFLEET_BENCH_BARE_CPUPROFILE one of the bare poller's. The printers' process is
// this test binary again, as TestFleetPrinterProcess.
func BenchmarkPollFleet(b *testing.B) {
	o := PollFleetOptions{CPUProfile: os.Getenv("FUSIONFLEET_BENCH_CPUPROFILE"), BareCPUProfile: os.Getenv("FUSIONFLEET_BENCH_BARE_CPUPROFILE"),
		PrinterProcess: func(n int, collector deviceapi.Fingerprint) *exec.Cmd {
			cmd := exec.Command(os.Args[0], "-test.run=^TestFleetPrinterProcess$", "-test.bench=^$")
			cmd.Env = append(os.Environ(), fleetChildEnv+"="+strconv.Itoa(n), fleetCollectorEnv+"="+string(collector))
			return cmd
		}}
	if v, err := strconv.Atoi(os.Getenv("FUSIONFLEET_BENCH_SECONDS")); err == nil && v > 0 {
		o.Window = time.Duration(v) * time.Second
	}
	for _, n := range []int{500, 1000, 2000} {
		b.Run(fmt.Sprintf("printers=%d", n), func(b *testing.B) {
			o.Printers = n
			PollFleet(b, o)
		})
	}
}

// TestFleetPrinterProcess is the helper process of BenchmarkPollFleet and
// skips unless started by it: it runs printer.ServeFleet on its standard
// input and output.
func TestFleetPrinterProcess(t *testing.T) {
	n, err := strconv.Atoi(os.Getenv(fleetChildEnv))
	if err != nil {
		t.Skip("the helper process of BenchmarkPollFleet")
	}
	if err := printer.ServeFleet(n, deviceapi.Fingerprint(os.Getenv(fleetCollectorEnv)), os.Stdin, os.Stdout); err != nil {
		t.Fatal(err)
	}
}
