package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/cloud"
	"github.com/fusionfleet/fusionfleet/internal/datadir"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/printer"
	"github.com/fusionfleet/fusionfleet/internal/site"
	"github.com/fusionfleet/fusionfleet/internal/updaterepo"
)

func runDemo(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("demo", "Run the whole system on loopback in one process: a cloud (embedded NATS JetStream,\n"+
		"SQLite), one Command Center and virtual printers on an accelerated clock. Prints the\n"+
		"dashboard URL, the Command Center's local UI and a login; Ctrl-C stops it cleanly.", e)
	data := fs.String("data", envDefault(e, "FUSIONFLEET_DEMO_DATA", defaultDataDir(e, "demo")), "data `directory` kept between runs")
	n := fs.Int("printers", 4, "number of virtual printers")
	speed := fs.Float64("speed", 60, "clock speed-up: simulated seconds per real second")
	poll := fs.Duration("poll", 2*time.Second, "Command Center status poll interval (real time)")
	logLevel := fs.String("log-level", "warn", "log level: debug, info, warn, error")
	uiRange := fs.String("ui-ports", envDefault(e, "FUSIONFLEET_UI_PORTS", uiPortsDefault), "Command Center UI `ports`: the first free one of first-last, or 0 for any free port")
	nf := addNotifyFlags(fs, e) // alert e-mails and webhooks, as on a cloud node
	if err := parse(fs, args, e); err != nil {
		return err
	}
	if *n < 1 || *n > 100 {
		return fmt.Errorf("demo: -printers %d: want 1 to 100", *n)
	}
	if *speed < 1 || *speed > 100000 {
		return fmt.Errorf("demo: -speed %v: want 1 to 100000", *speed)
	}
	uiFirst, uiLast, err := uiPorts(*uiRange)
	if err != nil {
		return err
	}
	// The demo's own lock covers its printers' directories; the cloud
	// and the Command Center lock theirs as well.
	lock, err := datadir.Acquire(*data, "FusionFleet demo")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer lock.Close()
	logger, err := newLogger(e, *logLevel)
	if err != nil {
		return err
	}
	// The printers' process model runs on an accelerated clock; the
	// Command Center and the cloud keep real time, as they would with
	// real printers (whose clocks they never trust for liveness).
	clk := clock.NewScaled(*speed)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	// fail stops whatever already runs before reporting a start-up error.
	fail := func(err error) error {
		cancel()
		g.Wait()
		return err
	}

	// The cloud's update repository, made on first start. The demo keeps
	// its offline keys next to it; a real cloud holds only the online ones.
	repoDir := filepath.Join(*data, "cloud", "tuf")
	root, err := demoRepository(repoDir)
	if err != nil {
		return fail(fmt.Errorf("demo: %w", err))
	}

	// The Command Center's client certificate first: the printers pair it
	// as an operator would at each printer, then the Command Center pairs
	// with them at its start.
	ccDir := filepath.Join(*data, "commandcenter")
	ccFingerprint, err := site.Fingerprint(ccDir, time.Now())
	if err != nil {
		return fail(fmt.Errorf("demo: %w", err))
	}
	var (
		addrs []string
		nodes []*printerNode
		dirs  []string
	)
	for i := range *n {
		dir := filepath.Join(*data, "printers", strconv.Itoa(i+1))
		ln, err := listenRemembered(ctx, dir, "127.0.0.1")
		if err != nil {
			return fail(fmt.Errorf("demo: printer %d: %w", i+1, err))
		}
		model := "4200"
		if i%3 == 2 {
			model = "5200"
		}
		p, err := startPrinter(ctx, printerConfig{
			dataDir: dir, ln: ln, logger: logger, pair: []deviceapi.Fingerprint{ccFingerprint},
			opts: printer.Options{Name: fmt.Sprintf("3DP %d", i+1), Model: model, Seed: int64(i + 1), Clock: clk},
		})
		if err != nil {
			return fail(fmt.Errorf("demo: printer %d: %w", i+1, err))
		}
		addrs, nodes, dirs = append(addrs, p.addr), append(nodes, p), append(dirs, dir)
		g.Go(func() error { return p.run(gctx) })
	}

	notify, err := nf.options()
	if err != nil {
		return fail(err)
	}
	node, err := cloud.New(ctx, cloud.Options{
		DataDir: filepath.Join(*data, "cloud"), Listen: "127.0.0.1:0", DashboardListen: "127.0.0.1:0",
		Hosts: []string{"127.0.0.1"}, Logger: logger, Notify: notify,
		// The demo's printers run on an accelerated clock on purpose, so
		// their reports are dated ahead of the cloud's clock: no bound.
		MaxRecordAhead: -1, UplinkRecordsPerSecond: -1, UplinkBytesPerSecond: -1,
	})
	if err != nil {
		return fail(err)
	}
	user, password, token, err := node.DemoTenant(ctx)
	if err != nil {
		node.Close()
		return fail(err)
	}
	g.Go(func() error { return node.Run(gctx) })

	cc, err := site.New(ctx, site.Options{
		DataDir: ccDir, CloudURL: node.URL(), RootCAs: node.RootCAs(),
		EnrolToken: token, Name: "Demo Command Center", Printers: addrs, TrustNewPrinters: true,
		UIHost: "127.0.0.1", UIFirstPort: uiFirst, UILastPort: uiLast,
		PollInterval: *poll, UploadInterval: *poll, Clock: clock.Real{}, Logger: logger,
		// The demo shows changes at once and bulk data every half minute.
		PriorityDelay: time.Second, BulkInterval: 30 * time.Second, UpdateInterval: demoUpdateInterval,
		// The accelerated printers make far more data than real ones: no
		// bandwidth cap on loopback, and wear read every half minute, so
		// that jobs, KPIs and wear plots fill within minutes.
		RateBytes: -1, SnapshotInterval: 30 * time.Second,
		Stdin: e.stdin, Stdout: io.Discard,
	})
	if err != nil {
		return fail(err)
	}
	g.Go(func() error { return cc.Run(gctx) })
	// The printers read signed updates from the Command Center's mirror.
	for i, p := range nodes {
		agent, err := startUpdateAgent(p, dirs[i], printerUpdates{url: strings.TrimSuffix(cc.URL(), "/"), root: root, interval: demoUpdateInterval}, logger)
		if err != nil {
			return fail(fmt.Errorf("demo: %w", err))
		}
		g.Go(func() error { return agent(gctx) })
	}

	fmt.Fprintf(e.stdout, "cloud: %s\n", node.DashboardURL())
	fmt.Fprintf(e.stdout, "commandcenter: %s\n", cc.URL())
	fmt.Fprintf(e.stdout, "login: %s %s\n", user, password)
	fmt.Fprintf(e.stdout, "updates: %s (release with: fusionfleet release add-target -dir %s -version 4.3.0 -models FF-4200 FILE; approve at %supdates)\n",
		repoDir, repoDir, cc.URL())
	fmt.Fprintf(e.stdout, "data: %s (%d printers, clock %gx; Ctrl-C stops)\n", *data, *n, *speed)

	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// demoUpdateInterval is how often the demo's mirror and printers look for
// updates: often, so that a release shows within seconds.
const demoUpdateInterval = 5 * time.Second

// demoRepository opens the update repository in dir, creating it with
// every key on first start, and returns the root the printers pin.
func demoRepository(dir string) ([]byte, error) {
	repo, err := updaterepo.OpenRepo(dir, updaterepo.RepoOptions{})
	if err != nil {
		if repo, err = updaterepo.InitRepo(dir, updaterepo.RepoOptions{}); err != nil {
			return nil, err
		}
	}
	return repo.TrustedRoot()
}
