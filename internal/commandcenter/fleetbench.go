package commandcenter

import (
	"bufio"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
)

// Fleet benchmark parameters: the poller's default cadences (status and
// events every 5 s, jobs and layers every 15 s, counters and consumables
// every 5 min).
const (
	fleetInterval       = 5 * time.Second
	fleetFeedRounds     = 3  // intervals between reads of jobs and layers (15 s)
	fleetSnapshotRounds = 60 // intervals between reads of counters and consumables (5 min)
)

// PollFleet measures what one Command Center costs when it polls
// o.Printers printers at the default cadences, against a bare keep-alive
// HTTPS poller of the same URLs at the same cadences measured in the same
// run (targets: cost linear in N; at 2,000 printers under 0.5 core and at
// most 1.5× the bare poller; every printer polled within its interval; p99
// poll→store under 250 ms). o.Window sets how long each side is measured
// (default 60 s of wall time); o.CPUProfile names a file for a CPU profile
// of the Command Center's window alone, o.BareCPUProfile one of the bare
// poller's, to compare them.
//
// The printers run in a separate process (o.PrinterProcess: one that runs
// printer.ServeFleet): N virtual printers on the real clock, which they
// reach an hour into production, each serving the real device API over
// real TLS on its own loopback port, requiring the paired client
// certificate. So this process's CPU time (getrusage) is the poller's
// alone, the printers' is read from /proc and reported apart, and both
// pollers face the same servers.
//
// The two sides, one after the other against the same printers:
//   - bare: a round every 5 s polling every printer, with as many polls in
//     flight as the Command Center has, through one keep-alive
//     http.Transport presenting the same
//     client certificate and checking the same pin; it reads status and
//     events every 5 s, jobs and layers every 15 s following their cursors
//     (decoding only the cursor and the item count), counters and
//     consumables every 5 min, and stores nothing.
//   - cc: the real Poller.Run with the real deviceapi client and the real
//     Store (SQLite in a temporary directory, every poll that brings
//     records or history committed durably; a quiet poll, only the live
//     status changed, is kept in memory and written within a heartbeat,
//     see Poller.quiet), the client certificate and the session cache as
//     the site node wires them. Its first contact (identities, the hour's backlog)
//     and o.Settle after it (two intervals by default) are setup, not
//     measured.
//
// The figures (cores are CPU time over wall time):
//   - cc_cores, bare_cores: this process's CPU for each side.
//   - ratio: cc_cores / bare_cores.
//   - printer_cores_cc, printer_cores_bare: the printers' process while
//     serving each side (the servers' half of TLS, JSON and the simulation).
//   - cc_cpu_ms/printer-hour: cc_cores as CPU per printer-hour.
//   - p99_poll_ms: 99th percentile of one poll, from resolving the
//     printer's address to committing its records in the Store (to
//     keeping its live status, for a quiet poll).
//   - p99_late_ms, max_late_ms: how late a poll began after it was due
//     (the poller polls each printer at a fixed rate; under the 5 s
//     interval, every printer is polled in every interval, and the
//     benchmark fails if one was not).
//   - MiB: memory obtained from the system by this process, after cc.
//   - records/s: records appended to the outbox per second.
func PollFleet(b Bench, o PollFleetOptions) {
	n := o.Printers
	window := cmp.Or(o.Window, 60*time.Second)
	cert := fleetCertificate(b)
	for b.Loop() {
		fleet := startFleetProcess(b, o.PrinterProcess, cert, n)
		bare := pollBare(b, fleet, cert, window, o.BareCPUProfile)
		cc := pollCC(b, fleet, cert, window, cmp.Or(o.Settle, 2*fleetInterval), o.CPUProfile)
		load := loadAverage()

		b.Logf("%d printers, %s each side, load average %s: cc %.3f cores (printers %.3f), bare %.3f cores (printers %.3f); "+
			"cc p99 poll %v, late p99 %v max %v; %d polls (at least %d of each printer), %d records; "+
			"requests (answer bytes): cc %d (%d), bare %d (%d)",
			n, window, load, cc.cores, cc.printerCores, bare.cores, bare.printerCores,
			cc.p99Poll, cc.p99Late, cc.maxLate, cc.polls, cc.minPolls, cc.records,
			cc.requests, cc.answerBytes, bare.requests, bare.answerBytes)
		b.ReportMetric(cc.cores, "cc_cores")
		b.ReportMetric(bare.cores, "bare_cores")
		b.ReportMetric(cc.cores/bare.cores, "ratio")
		b.ReportMetric(cc.printerCores, "printer_cores_cc")
		b.ReportMetric(bare.printerCores, "printer_cores_bare")
		b.ReportMetric(cc.cores*3600*1000/float64(n), "cc_cpu_ms/printer-hour")
		b.ReportMetric(float64(cc.p99Poll)/float64(time.Millisecond), "p99_poll_ms")
		b.ReportMetric(float64(cc.p99Late)/float64(time.Millisecond), "p99_late_ms")
		b.ReportMetric(float64(cc.maxLate)/float64(time.Millisecond), "max_late_ms")
		b.ReportMetric(float64(cc.sys)/(1<<20), "MiB")
		b.ReportMetric(float64(cc.records)/window.Seconds(), "records/s")
	}
}

// Bench is what PollFleet needs of a benchmark: *testing.B provides it,
// and so does the bench command's runner.
type Bench interface {
	Helper()
	Context() context.Context
	TempDir() string
	Cleanup(func())
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	ReportMetric(n float64, unit string)
	Loop() bool
}

// PollFleetOptions size PollFleet. PrinterProcess and Printers are
// required.
type PollFleetOptions struct {
	Printers int
	// PrinterProcess returns the command of a process that runs
	// printer.ServeFleet for n printers pairing collector, on its standard
	// input and output.
	PrinterProcess func(n int, collector deviceapi.Fingerprint) *exec.Cmd
	Window         time.Duration // how long each side is measured
	Settle         time.Duration // after the Command Center's first contact
	CPUProfile     string        // a file for the Command Center's window's CPU profile
	BareCPUProfile string        // a file for the bare poller's window's CPU profile
}

// fleetCertificate is the client certificate of the benchmark's Command
// Center and of the bare poller.
func fleetCertificate(b Bench) *tls.Certificate {
	b.Helper()
	cert, err := deviceapi.LoadOrCreateClientCertificate(b.TempDir(), time.Now())
	if err != nil {
		b.Fatal(err)
	}
	return &cert
}

// fleetSide is what one side measured over its window.
type fleetSide struct {
	cores, printerCores   float64
	p99Poll               time.Duration
	p99Late, maxLate      time.Duration
	minPolls              int   // of one printer in the window
	requests, answerBytes int64 // answered by the printers in the window
	polls, records        uint64
	sys                   uint64
}

// fleetProcess is the helper process serving the printers.
type fleetProcess struct {
	cmd   *exec.Cmd
	addrs []string
	pin   deviceapi.Fingerprint
	in    io.Writer
	out   *bufio.Scanner
}

// served asks the helper process how many requests its printers answered
// so far, and with how many bytes of answers.
func (f *fleetProcess) served(b Bench) (requests, bytes int64) {
	b.Helper()
	if _, err := fmt.Fprintln(f.in, "served"); err != nil {
		b.Fatal(err)
	}
	if !f.out.Scan() {
		b.Fatalf("helper process: %v", f.out.Err())
	}
	if _, err := fmt.Sscanf(f.out.Text(), "served %d %d", &requests, &bytes); err != nil {
		b.Fatalf("helper process said %q: %v", f.out.Text(), err)
	}
	return requests, bytes
}

// cpu returns the helper process's CPU time so far.
func (f *fleetProcess) cpu(b Bench) time.Duration {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", f.cmd.Process.Pid))
	if err != nil {
		b.Fatalf("printers' CPU time: %v", err)
	}
	// Fields after the command name, which is in parentheses: utime and
	// stime are the 14th and 15th fields, in clock ticks (100 per second).
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("printers' CPU time: %q", raw)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// startFleetProcess runs n printers in a helper process, paired with the
// benchmark's Command Center certificate, and waits for their addresses.
func startFleetProcess(b Bench, process func(int, deviceapi.Fingerprint) *exec.Cmd, cert *tls.Certificate, n int) *fleetProcess {
	b.Helper()
	cmd := process(n, deviceapi.FingerprintOf(cert.Certificate[0]))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close() // the helper exits when its input ends
		cmd.Wait()
	})
	sc := bufio.NewScanner(stdout)
	f := &fleetProcess{cmd: cmd, in: stdin, out: sc}
	for sc.Scan() {
		line := sc.Text()
		if pin, ok := strings.CutPrefix(line, "pin "); ok {
			f.pin = deviceapi.Fingerprint(pin)
		} else if addr, ok := strings.CutPrefix(line, "printer "); ok {
			f.addrs = append(f.addrs, addr)
		} else if line == "ready" {
			break
		}
	}
	if len(f.addrs) != n || f.pin == "" {
		b.Fatalf("helper process served %d printers (pin %q), want %d: %v", len(f.addrs), f.pin, n, sc.Err())
	}
	return f
}

// pollBare polls the fleet with the bare keep-alive poller for one window,
// after a first round that opens the connections and catches up the feeds.
func pollBare(b Bench, f *fleetProcess, cert *tls.Certificate, window time.Duration, cpuProfile string) fleetSide {
	b.Helper()
	var dials atomic.Int64
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return dialer.DialContext(ctx, network, addr)
		},
		// The same trust decision as the real client: the printer's
		// self-signed certificate checked against its pin on every
		// handshake.
		TLSClientConfig:     deviceapi.PinnedTLS("fleet", f.pin, cert, tls.NewLRUClientSessionCache(4096)),
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var failures atomic.Int64
	get := func(ctx context.Context, url string, v any) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := hc.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				failures.Add(1)
			}
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			failures.Add(1)
		}
		if v == nil {
			io.Copy(io.Discard, resp.Body)
			return
		}
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			failures.Add(1)
		}
		// To the end (the newline after the value), or the connection
		// cannot be reused.
		io.Copy(io.Discard, resp.Body)
	}
	type page struct {
		Next  uint64            `json:"next"`
		Items []json.RawMessage `json:"items"`
	}
	type bareState struct{ events, jobs, layers uint64 }
	readFeed := func(ctx context.Context, base, feed string, cursor *uint64, limit int) {
		for {
			var p page
			get(ctx, fmt.Sprintf("%s/v1/%s?after=%d&limit=%d", base, feed, *cursor, limit), &p)
			*cursor = max(*cursor, p.Next)
			if len(p.Items) < limit {
				return
			}
		}
	}
	poll := func(ctx context.Context, s *bareState, base string, round int) {
		get(ctx, base+"/v1/status", nil)
		readFeed(ctx, base, "events", &s.events, eventPageSize)
		if round%fleetFeedRounds == 0 {
			readFeed(ctx, base, "jobs", &s.jobs, jobPageSize)
			readFeed(ctx, base, "layers", &s.layers, layerPageSize)
		}
		if round%fleetSnapshotRounds == 0 {
			get(ctx, base+"/v1/counters", nil)
			get(ctx, base+"/v1/consumables", nil)
		}
	}

	states := make([]bareState, len(f.addrs))
	// First round, not measured: connections and the hour's backlog.
	var wg sync.WaitGroup
	sem := make(chan struct{}, defaultMaxPolls)
	for i, a := range f.addrs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			poll(b.Context(), &states[i], "https://"+a, 0)
		})
	}
	wg.Wait()

	ctx, cancel := context.WithTimeout(b.Context(), window)
	defer cancel()
	runtime.GC()
	stopProfile := startCPUProfile(b, cpuProfile)
	req0, bytes0 := f.served(b)
	cpu0, pcpu0, t0 := processCPUTime(b), f.cpu(b), time.Now()
	dials0 := dials.Load()
	// Rounds on one ticker, as the Command Center's polls fall due
	// together, each with as many polls in flight as the Command Center's.
	t := time.NewTicker(fleetInterval)
	defer t.Stop()
	for round := 1; ctx.Err() == nil; round++ {
		for i, a := range f.addrs {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				poll(ctx, &states[i], "https://"+a, round)
			})
		}
		wg.Wait()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	wg.Wait()
	wall := time.Since(t0)
	cpu, pcpu := processCPUTime(b)-cpu0, f.cpu(b)-pcpu0
	stopProfile()
	req, bytes := f.served(b)
	if n := failures.Load(); n > 0 {
		b.Fatalf("bare poller: %d failed requests", n)
	}
	if n := dials.Load() - dials0; n > int64(len(f.addrs)/100) {
		b.Fatalf("bare poller: %d connections opened while measuring; it should keep its connections", n)
	}
	return fleetSide{cores: cpu.Seconds() / wall.Seconds(), printerCores: pcpu.Seconds() / wall.Seconds(),
		requests: req - req0, answerBytes: bytes - bytes0}
}

// pollCC runs the real Poller over the fleet for one window, after every
// printer's first contact.
func pollCC(b Bench, f *fleetProcess, cert *tls.Certificate, window, settle time.Duration, cpuProfile string) fleetSide {
	b.Helper()
	ctx := b.Context()
	st, err := Open(ctx, filepath.Join(b.TempDir(), "cc.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	for _, a := range f.addrs {
		if _, err := st.AddPrinter(ctx, a, f.pin, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	sessions := tls.NewLRUClientSessionCache(4096) // as the site node wires the poller
	dial := func(addr string, pin deviceapi.Fingerprint) Device {
		return deviceapi.NewClient(addr, pin, deviceapi.ClientOptions{SessionCache: sessions, Certificate: cert})
	}
	poller := NewPoller(st, dial, PollerOptions{Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})

	var mu sync.Mutex
	measuring := false
	var polls, lateness []time.Duration
	perPrinter := map[int64]int{}
	firstContact := map[int64]bool{}
	poller.polled = func(id int64, late, took time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		firstContact[id] = true
		if measuring {
			polls = append(polls, took)
			lateness = append(lateness, late)
			perPrinter[id]++
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- poller.Run(runCtx) }()
	for {
		mu.Lock()
		contacted := len(firstContact)
		mu.Unlock()
		if contacted == len(f.addrs) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(settle) // the backlog's aftermath settles

	runtime.GC()
	before := poller.Stats()
	mu.Lock()
	measuring = true
	mu.Unlock()
	// The Command Center's window alone, without the setup and the bare
	// poller that -cpuprofile would include.
	stopProfile := startCPUProfile(b, cpuProfile)
	defer stopProfile()
	req0, bytes0 := f.served(b)
	cpu0, pcpu0, t0 := processCPUTime(b), f.cpu(b), time.Now()
	time.Sleep(window)
	wall := time.Since(t0)
	cpu, pcpu := processCPUTime(b)-cpu0, f.cpu(b)-pcpu0
	stopProfile()
	req, bytes := f.served(b)
	mu.Lock()
	measuring = false
	mu.Unlock()
	after := poller.Stats()
	_, sys := fleetMemory()
	stop()
	if err := <-done; err != nil {
		b.Fatal(err)
	}

	side := fleetSide{cores: cpu.Seconds() / wall.Seconds(), printerCores: pcpu.Seconds() / wall.Seconds(), sys: sys,
		polls: after.Polls - before.Polls, minPolls: math.MaxInt, requests: req - req0, answerBytes: bytes - bytes0}
	for k, n := range after.Records {
		side.records += n - before.Records[k]
	}
	if len(after.PollErrors) > 0 {
		b.Fatalf("poll errors: %v", after.PollErrors)
	}
	side.p99Poll = fleetPercentile(polls, 0.99)
	side.p99Late = fleetPercentile(lateness, 0.99)
	if len(lateness) > 0 {
		side.maxLate = slices.Max(lateness)
	}
	// Every printer polled once per interval: as many polls as intervals
	// in the window, give or take the one at either end.
	rounds := int(window / fleetInterval)
	for _, n := range perPrinter {
		side.minPolls = min(side.minPolls, n)
	}
	if len(perPrinter) < len(f.addrs) {
		side.minPolls = 0
	}
	if side.minPolls < rounds-1 {
		b.Errorf("a printer was polled %d times in %d intervals", side.minPolls, rounds)
	}
	return side
}

// startCPUProfile starts a CPU profile written to path, if path is not
// empty, and returns the function that stops it.
func startCPUProfile(b Bench, path string) (stop func()) {
	b.Helper()
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		b.Fatal(err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				b.Errorf("CPU profile: %v", err)
			}
		})
	}
}

// loadAverage returns the machine's load averages, for the report.
func loadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
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
