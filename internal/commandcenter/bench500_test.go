package commandcenter

import (
	"context"
	"crypto/tls"
	"log/slog"
	"math"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/printer"
)

// Fleet benchmark parameters: one Command Center, 500 printers, polled at the
// poller's default cadences (status and events every 5 s, jobs and layers
// every 15 s, counters and consumables every 5 min).
const (
	fleetPrinters = 500
	fleetRound    = 5 * time.Second // one benchmark iteration of site time: the default status interval
	// fleetWarmup is how long the site has run before the Command Center
	// first polls it, so that most printers are printing, not idle.
	fleetWarmup = time.Hour
	// Rounds between reads of the jobs and layers feeds (15 s) and of the
	// counters and consumables (5 min) at the default cadences.
	fleetFeedRounds     = 3
	fleetSnapshotRounds = 60
)

// BenchmarkPollFleet measures what one Command Center costs when it polls 500
// printers at the default cadences (target: under a quarter of one core in
// all, p99 poll-to-store under 250 ms). Run it with
//
//	go test -run '^$' -bench PollFleet -benchtime 24x ./internal/commandcenter
//
// (24 iterations are two minutes of site time; -benchtime 60x covers a whole
// five-minute cycle, counters and consumables included.)
//
// 500 virtual printers on one manual clock, which the site has run for an
// hour, each serve the real device API over real TLS on loopback (one
// certificate shared by all, each pinned). A real Poller collects them into a
// real Store. One iteration advances the clock by 5 s and runs one PollOnce,
// so printers and poller both run at real speed (1x) and the data volume is
// that of a real site. The first round (first contact: identities and the
// hour's backlog) is setup, not measured.
//
// The figures:
//   - sec/op: wall time of one round; above 5 s one sequential PollOnce
//     could not keep up with the cadence.
//   - cores: process CPU time (getrusage) over the rounds divided by the site
//     time they cover. An upper bound: it includes the printers' simulation
//     and the 500 HTTPS servers running in the same process.
//   - cc_cores: cores minus the printers' simulation, measured by running
//     the same rounds again with the same printers read directly (no HTTP,
//     no Command Center). Still includes the servers' half of TLS and JSON.
//   - cc_cpu_s/printer-hour: cc_cores as CPU seconds per printer per hour.
//   - bytes/printer, sys_bytes/printer: runtime.MemStats HeapInuse (after a
//     GC) and Sys of the whole process after the rounds, divided by 500;
//     printer_bytes/printer is HeapInuse with the printers alone.
//   - p99_poll_ms: 99th percentile of one printer's poll, from its first
//     request to the commit of its records in the Store.
//   - records/s: records appended to the outbox per second of site time.
func BenchmarkPollFleet(b *testing.B) {
	start := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	cc := pollFleet(b, start)
	direct := readFleetDirectly(b, start, cc.rounds)

	siteSeconds := float64(cc.rounds) * fleetRound.Seconds()
	b.Logf("%d rounds of %s: %s CPU with the Command Center (%d records), %s reading the printers directly (%d items)",
		cc.rounds, fleetRound, cc.cpu, cc.records, direct.cpu, direct.records)
	cores := cc.cpu.Seconds() / siteSeconds
	ccCores := (cc.cpu - direct.cpu).Seconds() / siteSeconds
	b.ReportMetric(cores, "cores")
	b.ReportMetric(ccCores, "cc_cores")
	b.ReportMetric(ccCores*3600/fleetPrinters, "cc_cpu_s/printer-hour")
	b.ReportMetric(float64(cc.heapInuse)/fleetPrinters, "bytes/printer")
	b.ReportMetric(float64(cc.sys)/fleetPrinters, "sys_bytes/printer")
	b.ReportMetric(float64(direct.heapInuse)/fleetPrinters, "printer_bytes/printer")
	b.ReportMetric(float64(fleetPercentile(cc.polls, 0.99))/float64(time.Millisecond), "p99_poll_ms")
	b.ReportMetric(float64(cc.records)/siteSeconds, "records/s")
}

// fleetRun is what one pass over the fleet measured.
type fleetRun struct {
	rounds         int
	cpu            time.Duration // process CPU time (user + system) over the rounds
	heapInuse, sys uint64        // after the rounds
	polls          []time.Duration
	records        uint64
}

// pollFleet serves the fleet over HTTPS, has one Poller collect it for as
// many rounds as the benchmark asks, and measures that.
func pollFleet(b *testing.B, start time.Time) fleetRun {
	ctx := b.Context()
	log := slog.New(slog.DiscardHandler)
	clk := clock.NewManual(start)
	printers := newBenchFleet(clk)
	clk.Advance(fleetWarmup)

	cert, err := deviceapi.LoadOrCreateCertificate(b.TempDir(), nil, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	pin := deviceapi.FingerprintOf(cert.Certificate[0])
	st, err := Open(ctx, filepath.Join(b.TempDir(), "cc.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	for _, p := range printers {
		srv := httptest.NewUnstartedServer(nil)
		srv.Config = deviceapi.NewServer(deviceHandler(b, p), cert, log)
		srv.TLS = srv.Config.TLSConfig
		srv.StartTLS()
		defer srv.Close()
		if _, err := st.AddPrinter(ctx, srv.Listener.Addr().String(), pin, clk.Now()); err != nil {
			b.Fatal(err)
		}
	}

	var starts pollStarts
	sessions := tls.NewLRUClientSessionCache(1024) // as the fusionfleet command wires the poller
	dial := func(addr string, pin deviceapi.Fingerprint) Device {
		c := &timedClient{Client: deviceapi.NewClient(addr, pin, deviceapi.ClientOptions{SessionCache: sessions, Certificate: testCC()}), starts: &starts}
		c.fresh.Store(true)
		return c
	}
	poller := NewPoller(st, dial, PollerOptions{Clock: clk})

	// round polls every printer once and returns how long each poll took.
	round := func() []time.Duration {
		starts.reset()
		if err := poller.PollOnce(ctx); err != nil {
			b.Fatalf("round at %s: %v", clk.Now().Format(time.TimeOnly), err)
		}
		return starts.durations(b, time.Now())
	}
	round() // first contact and the hour's backlog: setup

	runtime.GC()
	before := poller.Stats()
	cpu0 := processCPUTime(b)
	var run fleetRun
	for b.Loop() {
		clk.Advance(fleetRound)
		run.polls = append(run.polls, round()...)
		run.rounds++
	}
	run.cpu = processCPUTime(b) - cpu0
	after := poller.Stats()
	for k, n := range after.Records {
		run.records += n - before.Records[k]
	}
	run.heapInuse, run.sys = fleetMemory()
	if got := after.Polls - before.Polls; got != uint64(run.rounds*fleetPrinters) {
		b.Fatalf("%d polls in %d rounds, want %d", got, run.rounds, run.rounds*fleetPrinters)
	}
	if len(after.PollErrors) > 0 {
		b.Fatalf("poll errors: %v", after.PollErrors)
	}
	return run
}

// readFleetDirectly runs the same printers for the same rounds at the same
// cadences, reading their status, feeds and snapshots by method calls: the
// cost of the printers' simulation (and of building their answers) alone.
func readFleetDirectly(b *testing.B, start time.Time, rounds int) fleetRun {
	clk := clock.NewManual(start)
	printers := newBenchFleet(clk)
	clk.Advance(fleetWarmup)
	readers := make([]directReader, len(printers))
	for i, p := range printers {
		readers[i] = directReader{p: p}
		p.Identity()
		readers[i].read(0)
	}

	runtime.GC()
	cpu0 := processCPUTime(b)
	var records int
	for r := 1; r <= rounds; r++ {
		clk.Advance(fleetRound)
		for i := range readers {
			records += readers[i].read(r)
		}
	}
	run := fleetRun{rounds: rounds, cpu: processCPUTime(b) - cpu0, records: uint64(records)}
	run.heapInuse, run.sys = fleetMemory()
	runtime.KeepAlive(readers)
	return run
}

// directReader reads one printer as the poller does, without the poller.
type directReader struct {
	p                    *printer.Printer
	events, jobs, layers uint64 // cursors
}

// read does what a poll in round r (0: first contact) reads and returns
// how many items it read.
func (d *directReader) read(r int) int {
	d.p.Status()
	n := 0
	readAll := func(cursor *uint64, pageSize int, read func(after uint64, limit int) (next uint64, items int)) {
		for {
			next, items := read(*cursor, pageSize)
			*cursor, n = next, n+items
			if items < pageSize {
				return
			}
		}
	}
	readAll(&d.events, eventPageSize, func(after uint64, limit int) (uint64, int) {
		pg := d.p.Events(after, limit)
		return pg.Next, len(pg.Items)
	})
	if r%fleetFeedRounds == 0 {
		readAll(&d.jobs, jobPageSize, func(after uint64, limit int) (uint64, int) {
			pg := d.p.Jobs(after, limit)
			return pg.Next, len(pg.Items)
		})
		readAll(&d.layers, layerPageSize, func(after uint64, limit int) (uint64, int) {
			pg := d.p.Layers(after, limit)
			return pg.Next, len(pg.Items)
		})
	}
	if r%fleetSnapshotRounds == 0 {
		d.p.Counters()
		d.p.Consumables()
	}
	return n
}

// newBenchFleet makes the benchmark's printers, each with its own seed, all on clk.
func newBenchFleet(clk clock.Clock) []*printer.Printer {
	ps := make([]*printer.Printer, fleetPrinters)
	for i := range ps {
		ps[i] = printer.New(printer.Options{Seed: int64(i + 1), Clock: clk})
	}
	return ps
}

// pollStarts notes when each poll of a round starts talking to its printer.
// PollOnce polls one printer after the other, so a poll ends (its records
// committed) when the next one starts, and the last when PollOnce returns.
type pollStarts struct {
	mu     sync.Mutex
	starts []time.Time
}

func (s *pollStarts) add(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.starts = append(s.starts, t)
}

func (s *pollStarts) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.starts = s.starts[:0]
}

// durations returns each poll's time from its start to the next poll's
// start, the last one's to end.
func (s *pollStarts) durations(b *testing.B, end time.Time) []time.Duration {
	b.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.starts) != fleetPrinters {
		b.Fatalf("%d polls started in a round, want %d", len(s.starts), fleetPrinters)
	}
	d := make([]time.Duration, len(s.starts))
	for i, t := range s.starts {
		next := end
		if i+1 < len(s.starts) {
			next = s.starts[i+1]
		}
		d[i] = next.Sub(t)
	}
	return d
}

// timedClient is the device API client that notes when a poll starts: the
// first request after the poller closed the idle connections of the previous
// poll (a poll starts with Identity on first contact, else with Status).
type timedClient struct {
	*deviceapi.Client
	starts *pollStarts
	fresh  atomic.Bool
}

func (c *timedClient) mark() {
	if c.fresh.Swap(false) {
		c.starts.add(time.Now())
	}
}

func (c *timedClient) Identity(ctx context.Context) (deviceapi.Identity, error) {
	c.mark()
	return c.Client.Identity(ctx)
}

func (c *timedClient) Status(ctx context.Context) (deviceapi.Status, error) {
	c.mark()
	return c.Client.Status(ctx)
}

func (c *timedClient) CloseIdleConnections() {
	c.Client.CloseIdleConnections()
	c.fresh.Store(true)
}

// processCPUTime returns the process's CPU time so far, user and system.
func processCPUTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// fleetMemory returns the heap in use after a collection and the memory the
// process obtained from the system.
func fleetMemory() (heapInuse, sys uint64) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse, m.Sys
}

// fleetPercentile returns the q-quantile of ds (nearest rank).
func fleetPercentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[max(0, int(math.Ceil(q*float64(len(s))))-1)]
}
