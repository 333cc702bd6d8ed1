package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/benchrun"
	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/printer"
)

// printerProcessBench measures what `fusionfleet printer --count N
// --speed 60` costs: N printers, each its own HTTPS device, polled for their
// status every 5 s as a Command Center does by default. One benchmark
// iteration is one 5-second poll round: the shared clock advances 300
// simulated seconds (60x) and every printer is asked for its status over its
// kept-alive TLS connection. Reported:
//
//	cores@60x  CPU of one round / 5 s — the share of one core the process
//	           needs; an upper bound, since the polling clients run in the
//	           same process and are counted too (target: under 1)
//	MiB        memory obtained from the OS for N printers and their servers
//	           and clients (target: under 1024)
//
// (BenchmarkPrinterProcess: N is 1,000 unless FUSIONFLEET_BENCH_PRINTERS
// says otherwise.)
func printerProcessBench(b benchrun.B, n int) {
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	clk := clock.NewManual(time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC))
	dir := b.TempDir()
	logger := slog.New(slog.DiscardHandler)
	clients := make([]*deviceapi.Client, n)
	cc, err := deviceapi.LoadOrCreateClientCertificate(filepath.Join(dir, "cc"), time.Now())
	if err != nil {
		b.Fatal(err)
	}
	ccFP := deviceapi.FingerprintOf(cc.Certificate[0])
	var wg sync.WaitGroup
	for i := range n {
		p, err := startPrinter(ctx, printerConfig{
			dataDir: filepath.Join(dir, strconv.Itoa(i)), listen: "127.0.0.1:0", logger: logger, pair: []deviceapi.Fingerprint{ccFP},
			opts: printer.Options{Name: fmt.Sprintf("3DP %d", i+1), Seed: int64(i + 1), Clock: clk},
		})
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); p.run(ctx) }()
		clients[i] = deviceapi.NewClient(p.addr, p.fingerprint, deviceapi.ClientOptions{Certificate: &cc})
	}
	defer wg.Wait()
	defer cancel()

	round := func() {
		clk.Advance(5 * time.Minute) // 5 s of real time at 60x
		var rw sync.WaitGroup
		work := make(chan *deviceapi.Client)
		for range 16 {
			rw.Add(1)
			go func() {
				defer rw.Done()
				for c := range work {
					if _, err := c.Status(ctx); err != nil {
						b.Error(err)
					}
				}
			}()
		}
		for _, c := range clients {
			work <- c
		}
		close(work)
		rw.Wait()
	}
	round() // connect and handshake once, as a long-running poller would have
	runtime.GC()

	b.ResetTimer()
	start := cpuTime()
	for b.Loop() {
		round()
	}
	cpu := cpuTime() - start
	b.StopTimer()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	perRound := cpu / time.Duration(b.N())
	b.ReportMetric(perRound.Seconds()/5, "cores@60x")
	b.ReportMetric(float64(ms.Sys)/(1<<20), "MiB")
	b.ReportMetric(float64(n), "printers")
}
