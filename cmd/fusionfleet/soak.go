package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/cloud"
	"github.com/fusionfleet/fusionfleet/internal/printer"
	"github.com/fusionfleet/fusionfleet/internal/retention"
	"github.com/fusionfleet/fusionfleet/internal/site"
	"github.com/fusionfleet/fusionfleet/internal/soak"
)

// The soak runs in one process: one clock must be shared exactly by the
// printers, the Command Center and the cloud (the retention's "now" and
// the records' times), and the demo's clock, which fills a simulated
// past through the real pipeline, is that clock. The parts still speak
// to each other as separate processes do: HTTPS with pinned
// certificates between printers and Command Center, the signed uplink
// over TLS to the cloud, JetStream in the cloud, SQLite files on disk.
// A leak in any part shows in the process's figures.

// cloudTables are the cloud store's tables the soak counts; the first
// two are the ones it prunes (see soakRetention).
var cloudTables = []string{"layers", "logs", "events", "gaps", "jobs", "parts", "counters_history", "consumables_history", "received"}

// siteTables are the Command Center's tables the soak counts.
var siteTables = []string{"outbox", "events", "jobs", "counters_history"}

func runSoak(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("soak", "Run a fleet of virtual printers, one Command Center and one cloud in one process on an\n"+
		"accelerated clock for -days simulated days, with retention short enough to prune all along;\n"+
		"sample memory, goroutines, open files, disk and rows every -sample-every of simulated time;\n"+
		"then audit the delivery (every record once, or removed by retention) and judge: memory and\n"+
		"goroutines flat, disk and rows as retention predicts, every warning and error explained.\n"+
		"Writes report.txt, report.html (plots) and result.json into -data; exits non-zero when a\n"+
		"check fails. The long form: fusionfleet soak (30 days, 50 printers).", e)
	data := fs.String("data", "", "new or empty `directory` for the run's data and its report (default: a new one in the temporary directory)")
	days := fs.Float64("days", 30, "simulated `days` to run")
	n := fs.Int("printers", 50, "number of virtual printers")
	speed := fs.Float64("speed", 1920, "clock speed-up: simulated seconds per real second (1920: a day in 45 s)")
	keepLayers := fs.Duration("keep-layers", 3*24*time.Hour, "retention of per-layer data in the cloud (simulated time)")
	keepLogs := fs.Duration("keep-logs", 24*time.Hour, "retention of device log lines in the cloud (simulated time)")
	keepLocal := fs.Duration("keep-local", 5*24*time.Hour, "retention of the Command Center's local history (simulated time)")
	pruneEvery := fs.Duration("prune-every", 6*time.Hour, "how often the cloud prunes (simulated time)")
	sampleEvery := fs.Duration("sample-every", 6*time.Hour, "how often the soak samples (simulated time)")
	poll := fs.Duration("poll", 100*time.Millisecond, "the Command Center's poll and upload interval (real time)")
	batch := fs.Int("batch", 5000, "most records an upload carries (the cloud takes up to 10000)")
	drain := fs.Duration("drain", 10*time.Minute, "how long to wait at the end, in real time, for the uploads to drain")
	if err := parse(fs, args, e); err != nil {
		return err
	}
	switch {
	case *days <= 0 || *days > 365:
		return fmt.Errorf("soak: -days %v: want more than 0, at most 365", *days)
	case *n < 1 || *n > 500:
		return fmt.Errorf("soak: -printers %d: want 1 to 500", *n)
	case *speed < 2 || *speed > 1e6:
		return fmt.Errorf("soak: -speed %v: want 2 to 1000000", *speed)
	case *keepLayers <= 0 || *keepLogs <= 0 || *keepLocal <= 0 || *pruneEvery <= 0 || *sampleEvery <= 0 || *poll <= 0 || *drain <= 0:
		return errors.New("soak: the durations must be positive")
	}
	dir, err := soakDir(*data)
	if err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(dir, "soak.log"))
	if err != nil {
		return fmt.Errorf("soak: %w", err)
	}
	defer logFile.Close()
	logs := soak.NewLog(logFile)
	logger := slog.New(logs.Handler())

	span := time.Duration(*days * 24 * float64(time.Hour))
	started := time.Now()
	from := started.Add(-span)
	// The demo's clock from -days ago: it fills that past at -speed and
	// meets the real time when the soak is over; it runs on at -speed while
	// the uploads drain (certificates keep the real time).
	clk := clock.NewDemo(from, *speed, *speed)
	real := func(d time.Duration) time.Duration { return time.Duration(float64(d) / *speed) }
	ret := retention.Retention{Layers: *keepLayers, Logs: *keepLogs}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	fail := func(err error) error {
		cancel()
		g.Wait()
		return err
	}
	ccDir, cloudDir, printersDir := filepath.Join(dir, "commandcenter"), filepath.Join(dir, "cloud"), filepath.Join(dir, "printers")
	fp, err := site.Fingerprint(ccDir, time.Now())
	if err != nil {
		return fail(fmt.Errorf("soak: %w", err))
	}
	var addrs []string
	for i := range *n {
		model := "4200"
		if i%3 == 2 {
			model = "5200"
		}
		p, err := startDemoPrinter(ctx, filepath.Join(printersDir, strconv.Itoa(i+1)), fp, logger,
			printer.Options{Name: fmt.Sprintf("3DP %d", i+1), Model: model, Seed: int64(i + 1), Clock: clk})
		if err != nil {
			return fail(fmt.Errorf("soak: printer %d: %w", i+1, err))
		}
		addrs = append(addrs, p.addr)
		g.Go(func() error { return p.run(gctx) })
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	node, err := cloud.New(ctx, cloud.Options{Registry: reg,
		DataDir: cloudDir, Hosts: []string{"127.0.0.1"}, Logger: logger, Clock: clk, WallClock: clock.Real{},
		Retention: ret, RetentionEvery: real(*pruneEvery),
		// As in the demo (see there): the clock runs -speed times real
		// time while the Command Center polls and uploads in real time.
		MaxRecordAhead: -1, UplinkRecordsPerSecond: -1, UplinkBytesPerSecond: -1,
		UplinkSkew:   time.Duration(*speed) * time.Minute,
		OfflineAfter: max(10*time.Minute, time.Duration(*speed*float64(30*time.Second))),
		StallAfter:   max(30*time.Minute, time.Duration(*speed*float64(time.Minute))),
	})
	if err != nil {
		return fail(fmt.Errorf("soak: %w", err))
	}
	_, _, token, err := node.DemoTenant(ctx)
	if err != nil {
		node.Close()
		return fail(fmt.Errorf("soak: %w", err))
	}
	g.Go(func() error { return node.Run(gctx) })
	cc, err := site.New(ctx, site.Options{
		DataDir: ccDir, CloudURL: node.URL(), RootCAs: node.RootCAs(),
		EnrolToken: token, Name: "Soak Command Center", Printers: addrs, TrustNewPrinters: true,
		UIHost:       "127.0.0.1",
		PollInterval: *poll, UploadInterval: *poll, Clock: clk, Logger: logger,
		PriorityDelay: time.Second, BulkInterval: demoBulkInterval,
		RateBytes: -1, SnapshotInterval: time.Hour, LocalRetention: *keepLocal, UploadBatch: *batch,
		Stdin: strings.NewReader(""), Stdout: io.Discard,
	})
	if err != nil {
		return fail(fmt.Errorf("soak: %w", err))
	}
	g.Go(func() error { return cc.Run(gctx) })

	cloudDB, err := soak.OpenReadOnly(filepath.Join(cloudDir, "cloud.db"))
	if err != nil {
		return fail(fmt.Errorf("soak: %w", err))
	}
	defer cloudDB.Close()
	siteDB, err := soak.OpenReadOnly(filepath.Join(ccDir, "commandcenter.db"))
	if err != nil {
		return fail(fmt.Errorf("soak: %w", err))
	}
	defer siteDB.Close()
	take := func() (soak.Sample, error) {
		p := soak.ReadProcess()
		s := soak.Sample{Day: clk.Now().Sub(from).Hours() / 24, WallSec: time.Since(started).Seconds(),
			RSS: p.RSS, LiveHeap: p.LiveHeap, Goroutines: p.Goroutines, FDs: p.FDs, Disk: map[string]int64{}}
		store, err := filesSize(filepath.Join(cloudDir, "cloud.db*"))
		if err != nil {
			return s, err
		}
		s.Disk["cloud store"] = store
		for name, d := range map[string]string{"cloud stream": filepath.Join(cloudDir, "jetstream"), "commandcenter": ccDir, "printers": printersDir} {
			if s.Disk[name], err = soak.DirSize(d); err != nil {
				return s, err
			}
		}
		if s.Rows, err = soak.CountRows(ctx, cloudDB, "", cloudTables...); err != nil {
			return s, err
		}
		local, err := soak.CountRows(ctx, siteDB, "cc.", siteTables...)
		if err != nil {
			return s, err
		}
		for k, v := range local {
			s.Rows[k] = v
		}
		s.Pending = int(local["cc.outbox"])
		return s, nil
	}

	clk.Start()
	fmt.Fprintf(e.stdout, "soak: %d printers, %g simulated days at %gx (about %s), data in %s\n",
		*n, *days, *speed, real(span).Round(time.Second), dir)
	var samples []soak.Sample
	next := from.Add(*sampleEvery)
	tick := time.NewTicker(min(real(*sampleEvery)/4, 250*time.Millisecond))
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-gctx.Done():
			return fail(fmt.Errorf("soak: a part stopped: %w", context.Cause(gctx)))
		case <-tick.C:
		}
		p, at := clk.Progress()
		done = p >= 1
		if at.Before(next) && !done {
			continue
		}
		for !at.Before(next) {
			next = next.Add(*sampleEvery)
		}
		s, err := take()
		if err != nil {
			return fail(fmt.Errorf("soak: sample: %w", err))
		}
		samples = append(samples, s)
		fmt.Fprintf(e.stderr, "soak: day %5.2f, wall %4.0fs: rss %s, live heap %s, %d goroutines, %d files, outbox %d, store %s\n",
			s.Day, s.WallSec, mib(s.RSS), mib(s.LiveHeap), s.Goroutines, s.FDs, s.Pending, mib(uint64(s.Disk["cloud store"])))
	}
	simulated := time.Since(started)

	// The records numbered by the end drain: the outbox sends them, the
	// store takes what the stream holds, and what the store holds of them
	// (with what retention removed meanwhile) settles. The clock runs on
	// at -speed, so bulk data keeps its pace; later records are not
	// audited.
	endSeq, _, _, err := soak.Stored(ctx, siteDB, cloudDB, 0)
	if err != nil {
		return fail(fmt.Errorf("soak: %w", err))
	}
	backlog := streamBacklog(reg)
	drainedIn := time.Now()
	drainCheck := soak.Check{Name: "drained", OK: true}
	var lastHeld int64 = -1
	for {
		_, outbox, held, err := soak.Stored(ctx, siteDB, cloudDB, endSeq)
		if err != nil {
			return fail(fmt.Errorf("soak: %w", err))
		}
		streamed, err := backlog()
		if err != nil {
			return fail(fmt.Errorf("soak: %w", err))
		}
		pruned := logs.Pruned()
		held += pruned["layers"] + pruned["logs"] + pruned["received"]
		if outbox == 0 && streamed == 0 && held == lastHeld {
			break
		}
		lastHeld = held
		if time.Since(drainedIn) > *drain {
			// Judged all the same: the report shows how far it got.
			drainCheck = soak.Check{Name: "drained", Detail: fmt.Sprintf("%s after the end, %d of the %d records numbered by then still in the outbox, %d batches in the stream",
				*drain, outbox, endSeq, streamed)}
			break
		}
		time.Sleep(time.Second)
	}
	drained := time.Since(drainedIn)
	if drainCheck.OK {
		drainCheck.Detail = fmt.Sprintf("the records of the soak reached the store %s after its end", drained.Round(time.Second))
	}
	cancel()
	// The clock ran on while the records drained: the rates and what
	// retention keeps are reckoned to the simulated time of the stop.
	stopped := clk.Now().Sub(from).Hours() / 24
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("soak: %w", err)
	}

	res, err := judgeSoak(context.WithoutCancel(ctx), soakRun{
		samples: samples, logs: logs, cloudDB: cloudDB, siteDB: siteDB, cloudStore: filepath.Join(cloudDir, "cloud.db*"), endSeq: endSeq,
		days: stopped, ret: ret, pruneEvery: *pruneEvery, keepLocal: *keepLocal, from: from, printers: *n,
	})
	if err != nil {
		return err
	}
	res.Summary = []string{
		fmt.Sprintf("soak: %d printers, one Command Center, one cloud (SQLite, embedded JetStream), %g simulated days at %gx",
			*n, *days, *speed),
		fmt.Sprintf("wall time: %s simulated (%s ideal), %s to drain; %d samples",
			simulated.Round(time.Second), real(span).Round(time.Second), drained.Round(time.Second), len(samples)),
		fmt.Sprintf("retention: layers %s, logs %s, the Command Center's local history %s, pruned every %s (simulated); the rest kept longer than the soak",
			*keepLayers, *keepLogs, *keepLocal, *pruneEvery),
	}
	res.Verdict.Checks = append([]soak.Check{drainCheck}, res.Verdict.Checks...)
	if err := res.Write(dir); err != nil {
		return fmt.Errorf("soak: report: %w", err)
	}
	fmt.Fprint(e.stdout, res.Text())
	fmt.Fprintf(e.stdout, "report: %s\n", filepath.Join(dir, "report.html"))
	if !res.Verdict.OK() {
		return fmt.Errorf("soak: failed: %s", strings.Join(res.Verdict.Failed(), ", "))
	}
	return nil
}

// soakRun is what judgeSoak judges.
type soakRun struct {
	samples               []soak.Sample
	logs                  *soak.Log
	cloudDB, siteDB       *sql.DB
	cloudStore            string // a glob of the store's files
	endSeq                int64  // the gateway's last record at the end
	days                  float64
	ret                   retention.Retention
	pruneEvery, keepLocal time.Duration
	printers              int
	from                  time.Time
}

// soakBounds are the growths over a soak's second half that still count
// as flat (see soak.Flat).
var soakBounds = struct{ rss, heap, goroutines, fds, outbox, local soak.Bound }{
	rss:        soak.Bound{Rel: 0.10, Abs: 16 << 20},
	heap:       soak.Bound{Rel: 0.10, Abs: 8 << 20},
	goroutines: soak.Bound{Rel: 0.05, Abs: 10},
	fds:        soak.Bound{Rel: 0.05, Abs: 5},
	outbox:     soak.Bound{Rel: 0.5, Abs: 2000},
	local:      soak.Bound{Rel: 0.10, Abs: 50},
}

// judgeSoak audits the stores and gives the verdict.
func judgeSoak(ctx context.Context, r soakRun) (soak.Result, error) {
	res := soak.Result{Start: r.from, Samples: r.samples}
	var checks []soak.Check
	checks = append(checks,
		soak.Flat("resident memory", r.samples, func(s soak.Sample) float64 { return float64(s.RSS) }, soakBounds.rss, "B"),
		soak.Flat("live heap", r.samples, func(s soak.Sample) float64 { return float64(s.LiveHeap) }, soakBounds.heap, "B"),
		soak.Flat("goroutines", r.samples, func(s soak.Sample) float64 { return float64(s.Goroutines) }, soakBounds.goroutines, ""),
		soak.Flat("open files", r.samples, func(s soak.Sample) float64 { return float64(s.FDs) }, soakBounds.fds, ""),
		// The pipeline keeps up when the outbox does not grow: it holds
		// what the printers made since the last upload, and no backlog.
		soak.Flat("outbox", r.samples, func(s soak.Sample) float64 { return float64(s.Pending) }, soakBounds.outbox, "records"),
	)
	if r.keepLocal.Hours()/24 < r.days/2 {
		// Once its local retention has passed, the Command Center's store
		// holds as many events and jobs as it prunes. (Its file also holds
		// the upload log, which fills up to its own cap, and keeps its
		// largest size: the disk is plotted, the rows are judged.)
		checks = append(checks, soak.Flat("Command Center events and jobs", r.samples, func(s soak.Sample) float64 {
			return float64(s.Rows["cc.events"] + s.Rows["cc.jobs"])
		}, soakBounds.local, "rows"))
		// Its counter snapshots come one a printer-hour (SnapshotInterval)
		// when the poller keeps pace, fewer when the machine is loaded:
		// at most the printers times the hours kept, and one round more.
		last := r.samples[len(r.samples)-1].Rows["cc.counters_history"]
		limit := float64(r.printers)*r.keepLocal.Hours()*1.25 + float64(r.printers)
		checks = append(checks, soak.Check{Name: "Command Center snapshots", OK: float64(last) <= limit,
			Detail: fmt.Sprintf("%d rows at the end; %d printers × %g hours kept predict at most %.0f (accepted up to %.0f)",
				last, r.printers, r.keepLocal.Hours(), float64(r.printers)*r.keepLocal.Hours(), limit)})
	}
	pruned := r.logs.Pruned()
	rows, err := soak.CountRows(ctx, r.cloudDB, "", cloudTables...)
	if err != nil {
		return res, fmt.Errorf("soak: %w", err)
	}
	bytes, free, err := soak.TableBytes(ctx, r.cloudDB)
	if err != nil {
		return res, fmt.Errorf("soak: %w", err)
	}
	ret := r.ret.WithDefaults()
	keep := map[string]time.Duration{
		"layers": ret.Layers, "logs": ret.Logs, "events": ret.Events, "gaps": ret.Events,
		"jobs": ret.Jobs, "parts": ret.Jobs, "counters_history": ret.History, "consumables_history": ret.History,
		"received": ret.Received,
	}
	var other int64 // the tables retention leaves alone (printers, users, …)
	for name, b := range bytes {
		if !slices.Contains(cloudTables, name) {
			other += b
		}
	}
	for _, name := range cloudTables {
		t := soak.Predict(soak.Table{Name: name, Rows: rows[name], Pruned: pruned[name], Keep: keep[name]}, r.days)
		if t.Rows > 0 {
			t.BytesPerRow = float64(bytes[name]) / float64(t.Rows)
		}
		res.Tables = append(res.Tables, t)
		if t.Keep.Hours()/24 < r.days {
			checks = append(checks, soak.Rows(t, r.pruneEvery, 0.25))
		}
	}
	size, err := filesSize(r.cloudStore)
	if err != nil {
		return res, fmt.Errorf("soak: %w", err)
	}
	// The write-ahead log and the free pages of the last prune come on
	// top of the tables: up to 8 MiB and what the free list holds.
	checks = append(checks, soak.Disk("the cloud store", size, res.Tables, r.pruneEvery, r.days, 0.25, other+free+8<<20))
	gaps := rows["gaps"]
	checks = append(checks, soak.Check{Name: "kept up", OK: gaps == 0,
		Detail: fmt.Sprintf("%d gaps: a printer's feed overflowed before the Command Center read it %d times", gaps, gaps)})
	audit, err := soak.Audit(ctx, r.siteDB, r.cloudDB, pruned["layers"]+pruned["logs"]+pruned["received"], uint64(r.endSeq))
	if err != nil {
		return res, fmt.Errorf("soak: %w", err)
	}
	checks = append(checks, audit)
	var logCheck soak.Check
	res.Logs, res.Unexplained, logCheck = soak.Classify(r.logs.Entries(), soakExplained)
	res.Verdict = soak.Verdict{Checks: append(checks, logCheck)}
	return res, nil
}

// soakExplained are the warnings and errors a soak may log, each with why.
var soakExplained = []soak.Explanation{
	{Msg: "message failed, will be redelivered", Attrs: map[string]string{"consumer": "alerts", "err": "is not stored yet"},
		Reason: "a new printer's first batch reached the alerts consumer before the store's writer had stored the printer; " +
			"the alerts consumer hands it back and takes it again once stored (alert.Options.StoreWait)"},
}

// soakDir returns dir, made if it does not exist and refused unless
// empty (the audit counts from a fresh start), or a new temporary one.
func soakDir(dir string) (string, error) {
	if dir == "" {
		d, err := os.MkdirTemp("", "fusionfleet-soak-")
		if err != nil {
			return "", fmt.Errorf("soak: %w", err)
		}
		return d, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("soak: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("soak: %w", err)
	}
	if len(ents) > 0 {
		return "", fmt.Errorf("soak: -data %s is not empty: the soak starts from nothing", dir)
	}
	return dir, nil
}

// filesSize returns the bytes of the files glob matches.
func filesSize(glob string) (int64, error) {
	paths, err := filepath.Glob(glob)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, p := range paths {
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, err
		}
		total += fi.Size()
	}
	return total, nil
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
