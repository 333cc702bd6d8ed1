package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/cloud"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/printer"
	"github.com/fusionfleet/fusionfleet/internal/site"
)

// startDemoPrinter starts a virtual printer of the demo in dir, on the
// port it had before, paired with the Command Center of fingerprint fp.
func startDemoPrinter(ctx context.Context, dir string, fp deviceapi.Fingerprint, logger *slog.Logger, opts printer.Options) (*printerNode, error) {
	// A printer keeps its port across restarts, as a real one on the LAN
	// keeps its address; a port taken meanwhile is replaced.
	ln, _, err := listenRemembered(ctx, filepath.Join(dir, "port"), "127.0.0.1")
	if err != nil {
		return nil, err
	}
	p, err := startPrinter(ctx, printerConfig{dataDir: dir, ln: ln, logger: logger, pair: []deviceapi.Fingerprint{fp}, opts: opts})
	if err != nil {
		ln.Close()
		return nil, err
	}
	return p, nil
}

// peerNoLayers is the peers' LayersFrom: their printers' layers are never
// uploaded. The benchmark reads jobs and parts only, and per-layer data
// would be most of the peers' load.
func peerNoLayers() time.Time { return time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC) }

// startDemoPeer sets up anonymous peer organisation no. i in dir, as a
// real one would be: an organisation and site in the cloud, a Command
// Center enrolled with a token of that site, two printers (one of each
// model, so that both models' benchmarks have a cohort) paired with it.
// The organisation's ID is kept in dir, so a later start finds it again.
// The printers and the Command Center run in g until gctx ends.
func startDemoPeer(ctx context.Context, g *errgroup.Group, gctx context.Context, node *cloud.Node, dir string, i int, poll time.Duration, clk clock.Clock, logger *slog.Logger) (*site.Node, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	orgFile := filepath.Join(dir, "org")
	b, err := os.ReadFile(orgFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	known := fleet.OrgID(strings.TrimSpace(string(b)))
	org, token, err := node.DemoPeer(ctx, known, fmt.Sprintf("Peer organisation %d", i))
	if err != nil {
		return nil, err
	}
	if org != known {
		if err := os.WriteFile(orgFile, []byte(string(org)+"\n"), 0o600); err != nil {
			return nil, err
		}
	}
	ccDir := filepath.Join(dir, "commandcenter")
	fp, err := site.Fingerprint(ccDir, time.Now())
	if err != nil {
		return nil, err
	}
	logger = logger.With("peer", i)
	var addrs []string
	for j, model := range []string{"4200", "5200"} {
		p, err := startDemoPrinter(ctx, filepath.Join(dir, "printers", strconv.Itoa(j+1)), fp, logger, printer.Options{
			Name: fmt.Sprintf("Peer %d printer %d", i, j+1), Model: model, Seed: int64(1000*i + j + 1), Clock: clk,
		})
		if err != nil {
			return nil, fmt.Errorf("printer %d: %w", j+1, err)
		}
		addrs = append(addrs, p.addr)
		g.Go(func() error { return p.run(gctx) })
	}
	cc, err := site.New(ctx, site.Options{
		DataDir: ccDir, CloudURL: node.URL(), RootCAs: node.RootCAs(),
		EnrolToken: token, Name: fmt.Sprintf("Peer %d Command Center", i), Printers: addrs, TrustNewPrinters: true,
		UIHost:       "127.0.0.1", // any free port: nobody visits a peer's local UI
		PollInterval: poll, UploadInterval: poll, Clock: clk, Logger: logger,
		PriorityDelay: time.Second, BulkInterval: demoBulkInterval,
		RateBytes: -1, SnapshotInterval: time.Hour, LayersFrom: peerNoLayers(),
		Stdin: strings.NewReader(""), Stdout: io.Discard,
	})
	if err != nil {
		return nil, err
	}
	g.Go(func() error { return cc.Run(gctx) })
	return cc, nil
}

// demoClockFile keeps the demo clock's time between runs.
const demoClockFile = "clock"

// demoClockStart returns where the demo clock starts when the real time
// is now: days before now on the first start; on a later one where the
// clock stood when the demo last ran, but no more than days before now.
// So the past is filled once, and a later start fills only the time the
// demo was not running.
func demoClockStart(data string, now time.Time, days int) (time.Time, error) {
	floor := now.Add(-time.Duration(days) * 24 * time.Hour)
	path := filepath.Join(data, demoClockFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return floor, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("demo clock: %w", err)
	}
	saved, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b)))
	if err != nil {
		return time.Time{}, fmt.Errorf("demo clock: %s: %w (remove the file to fill the past again)", path, err)
	}
	if saved.Before(floor) {
		return floor, nil
	}
	return saved, nil
}

// keepDemoClock writes the demo clock's time to the data directory every
// few seconds and when ctx ends, for demoClockStart.
func keepDemoClock(ctx context.Context, data string, clk clock.Clock) error {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return saveDemoClock(data, clk.Now())
		case <-t.C:
			if err := saveDemoClock(data, clk.Now()); err != nil {
				return err
			}
		}
	}
}

func saveDemoClock(data string, at time.Time) error {
	path := filepath.Join(data, demoClockFile)
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(at.UTC().Format(time.RFC3339Nano)+"\n"), 0o600); err != nil {
		return fmt.Errorf("demo clock: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("demo clock: %w", err)
	}
	return nil
}

// fillClock is what showFill reads of the demo clock.
type fillClock interface {
	Progress() (float64, time.Time)
	Speed() float64
}

// fill is what showFill shows: the demo clock filling the past from from,
// started at the real time started, the records its Command Centers still
// hold for the cloud (pending) and the batches the cloud holds in its
// stream, not yet in its store (storing).
type fill struct {
	clk           fillClock
	from, started time.Time
	pending       func(ctx context.Context) (int, error)
	storing       func() (int, error)
	// drained and stored are how few records and batches left count as
	// done (status goes on arriving); patience is how long after the clock
	// caught up they are waited for at most.
	drained, stored int
	patience        time.Duration
	tick            time.Duration
}

// showFill shows the filling of the past: until the demo clock has
// caught up with the real time, then until the Command Centers have
// uploaded it, a bar on a terminal, a line every tenth (and every few
// seconds of upload) otherwise; then one "history:" line on stdout saying
// what was filled and how long it took.
func showFill(ctx context.Context, f fill, e env) error {
	p, at := f.clk.Progress()
	if p >= 1 {
		fmt.Fprintf(e.stdout, "history: nothing to fill; the demo clock reads %s and runs %gx real time\n",
			at.UTC().Format("2006-01-02 15:04"), f.clk.Speed())
		return nil
	}
	tty := isTerminal(e.stderr)
	days := f.started.Sub(f.from).Hours() / 24
	t := time.NewTicker(f.tick)
	defer t.Stop()
	var (
		shown            = -1
		caughtUp, lastAt time.Time
		left, batches    int
	)
	for {
		p, at = f.clk.Progress()
		if p >= 1 && caughtUp.IsZero() {
			caughtUp = time.Now()
		}
		if p >= 1 {
			n, err := f.pending(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("demo: %w", err)
			}
			if batches, err = f.storing(); err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			left = n
		}
		done := p >= 1 && ((left <= f.drained && batches <= f.stored) || time.Since(caughtUp) > f.patience)
		const width = 30
		switch {
		case tty:
			fmt.Fprintf(e.stderr, "\rfilling the past: %s %3.0f%%  %s  (%.0f of %.0f days)",
				progressBar(p, width), p*100, at.UTC().Format("2006-01-02"), p*days, days)
			if p >= 1 {
				fmt.Fprintf(e.stderr, "; uploading: %d records, storing: %d batches   ", left, batches)
			}
		case p < 1 && int(p*10) > shown:
			shown = int(p * 10)
			fmt.Fprintf(e.stderr, "filling the past: %3.0f%%, demo clock at %s\n", p*100, at.UTC().Format("2006-01-02 15:04"))
		case p >= 1 && !done && time.Since(lastAt) >= 5*time.Second:
			lastAt = time.Now()
			fmt.Fprintf(e.stderr, "filling the past: uploading: %d records, storing: %d batches\n", left, batches)
		}
		if done {
			break
		}
		select {
		case <-ctx.Done():
			if tty {
				fmt.Fprintln(e.stderr)
			}
			return nil
		case <-t.C:
		}
	}
	if tty {
		fmt.Fprintln(e.stderr)
	}
	note := ""
	if left > f.drained || batches > f.stored {
		note = fmt.Sprintf(" (%d records and %d batches still on their way)", left, batches)
	}
	fmt.Fprintf(e.stdout, "history: %.1f days filled in %s%s; the demo clock now runs %gx real time\n",
		days, time.Since(f.started).Round(time.Second), note, f.clk.Speed())
	return nil
}

// streamBacklog reads from reg, the cloud's metrics, how many batches its
// stream holds that the store has not taken yet.
func streamBacklog(reg prometheus.Gatherer) func() (int, error) {
	return func() (int, error) {
		mfs, err := reg.Gather()
		if err != nil {
			return 0, err
		}
		for _, mf := range mfs {
			if mf.GetName() != "fusionfleet_stream_consumer_pending" {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "consumer" && l.GetValue() == cloud.StoreConsumer {
						return int(m.GetGauge().GetValue()), nil
					}
				}
			}
		}
		return 0, nil // nothing consumed yet
	}
}

// isTerminal reports whether f (an io.Writer or io.Reader) is a terminal:
// where a bar can redraw, or a person answers.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	if !ok {
		return false
	}
	fi, err := file.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
