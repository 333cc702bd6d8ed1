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
	"github.com/fusionfleet/fusionfleet/internal/dashboard"
	"github.com/fusionfleet/fusionfleet/internal/datadir"
	"github.com/fusionfleet/fusionfleet/internal/printer"
	"github.com/fusionfleet/fusionfleet/internal/site"
	"github.com/fusionfleet/fusionfleet/internal/updaterepo"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

func runDemo(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("demo", "Run the whole system on loopback in one process: a cloud (embedded NATS JetStream,\n"+
		"SQLite), one Command Center and virtual printers, and anonymous peer organisations for\n"+
		"the benchmark, all on one demo clock. The first start fills a simulated past through\n"+
		"the whole pipeline (a day per second); then the clock runs -speed times real time.\n"+
		"Prints the dashboard URL, the Command Center's local UI and a login; Ctrl-C stops it cleanly.", e)
	data := fs.String("data", envDefault(e, "FUSIONFLEET_DEMO_DATA", defaultDataDir(e, "demo")), "data `directory` kept between runs")
	n := fs.Int("printers", 4, "number of virtual printers")
	speed := fs.Float64("speed", 60, "clock speed-up: simulated seconds per real second")
	history := fs.Int("history", 60, "`days` of simulated past to fill before the present, at a day per second (only what the data directory lacks); 0: none")
	peers := fs.Int("peers", 6, "anonymous peer `organisations`, each with a Command Center and two printers, for the benchmark bands")
	poll := fs.Duration("poll", 2*time.Second, "Command Center status poll interval (real time)")
	logLevel := fs.String("log-level", "warn", "log level: debug, info, warn, error")
	uiRange := fs.String("ui-ports", envDefault(e, "FUSIONFLEET_UI_PORTS", uiPortsDefault), "Command Center UI `ports`: the first free one of first-last, or 0 for any free port")
	nf := addNotifyFlags(fs, e) // alert e-mails and webhooks, as on a cloud node
	mqttURL := fs.String("mqtt", envDefault(e, "FUSIONFLEET_DEMO_MQTT", "auto"),
		"MQTT feed of the Command Center: a broker `URL`, auto (mqtt://127.0.0.1:1883 when a broker answers there) or off")
	if err := parse(fs, args, e); err != nil {
		return err
	}
	if *n < 1 || *n > 100 {
		return fmt.Errorf("demo: -printers %d: want 1 to 100", *n)
	}
	if *speed < 1 || *speed > 100000 {
		return fmt.Errorf("demo: -speed %v: want 1 to 100000", *speed)
	}
	if *history < 0 || *history > 365 {
		return fmt.Errorf("demo: -history %d: want 0 to 365 days", *history)
	}
	if *peers < 0 || *peers > 20 {
		return fmt.Errorf("demo: -peers %d: want 0 to 20", *peers)
	}
	uiFirst, uiLast, err := uiPorts(*uiRange)
	if err != nil {
		return err
	}
	mqtt, err := demoMQTT(ctx, *mqttURL, demoBroker)
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
	// One clock for the whole demo, cloud and Command Centers included, so
	// that every time a page shows is on it (the dashboard labels it).
	// It stands at the start of the past to fill until everything is set
	// up, fills that past at demoFill, then runs at -speed, ahead of the
	// real clock. The past is what the data directory lacks: all of
	// -history on the first start, the time since the demo last ran
	// (at most -history) on a later one, nothing once the demo clock is
	// ahead of the real one. Certificates keep the real time: TLS checks
	// them against it.
	started := time.Now()
	from, err := demoClockStart(*data, started, *history)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	clk := clock.NewDemo(from, demoFill, *speed)

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
		model := "4200"
		if i%3 == 2 {
			model = "5200"
		}
		p, err := startDemoPrinter(ctx, dir, ccFingerprint, logger,
			printer.Options{Name: fmt.Sprintf("3DP %d", i+1), Model: model, Seed: int64(i + 1), Clock: clk})
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
	// The cloud keeps its ports too, so that a bookmarked dashboard and a
	// pasted check command work after a restart.
	cloudDir := filepath.Join(*data, "cloud")
	uplinkLn, err := demoListen(ctx, e, filepath.Join(cloudDir, "uplink.port"), "the cloud's uplink")
	if err != nil {
		return fail(err)
	}
	dashboardLn, err := demoListen(ctx, e, filepath.Join(cloudDir, "dashboard.port"), "the dashboard")
	if err != nil {
		uplinkLn.Close()
		return fail(err)
	}
	// The cloud's metrics, as the node would make them, read by the fill's
	// progress too.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	node, err := cloud.New(ctx, cloud.Options{Registry: reg,
		DataDir: cloudDir, Listener: uplinkLn, DashboardListener: dashboardLn,
		Hosts: []string{"127.0.0.1"}, Logger: logger, Notify: notify, Clock: clk,
		Demo: &dashboard.DemoClock{Speed: *speed, Bulk: demoBulkReal(*speed, *poll)},
		// The demo clock runs ahead of the real one once the past is
		// filled: no bound on record times ahead. Its Command Centers
		// back-fill weeks on loopback: no rate limit. While the clock
		// fills the past, an upload's flight takes demo hours, so the
		// signed request time may be as far off as a minute's flight.
		MaxRecordAhead: -1, UplinkRecordsPerSecond: -1, UplinkBytesPerSecond: -1,
		UplinkSkew: time.Duration(demoFill) * time.Minute, AlertSweepFrom: started,
		// The demo clock runs -speed times real time while the Command
		// Centers poll and upload in real seconds: a printer is offline
		// after half a real minute of silence (at the least the usual 10
		// demo minutes), a job stalled after a real minute without a layer
		// (bulk data comes every half minute; at the least the usual 30
		// demo minutes).
		OfflineAfter: max(10*time.Minute, time.Duration(*speed*float64(30*time.Second))),
		StallAfter:   max(30*time.Minute, time.Duration(*speed*float64(time.Minute))),
		// Logins, two-factor codes, the login throttle and how long the
		// alerts wait for the writer keep real time: people and the
		// node's own work do.
		WallClock: clock.Real{},
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

	// The Command Center's MTConnect agent, on a port kept like the
	// cloud's.
	mtcLn, err := demoListen(ctx, e, filepath.Join(ccDir, "mtconnect.port"), "the MTConnect agent")
	if err != nil {
		return fail(err)
	}
	cc, err := site.New(ctx, site.Options{
		DataDir: ccDir, MTConnectListener: mtcLn, CloudURL: node.URL(), RootCAs: node.RootCAs(),
		EnrolToken: token, Name: "Demo Command Center", Printers: addrs, TrustNewPrinters: true,
		UIHost: "127.0.0.1", UIFirstPort: uiFirst, UILastPort: uiLast,
		PollInterval: *poll, UploadInterval: *poll, Clock: clk, Logger: logger,
		// The demo shows changes at once, and bulk data as often as a
		// real site, on the demo clock (see demoBulkInterval).
		PriorityDelay: time.Second, BulkInterval: demoBulkInterval, UpdateInterval: demoUpdateInterval,
		// The accelerated printers make far more data than real ones: no
		// bandwidth cap on loopback, and wear read every demo hour (every
		// poll while the past fills), so that wear plots fill. The past
		// goes without per-layer data (see PollerOptions.LayersFrom).
		RateBytes: -1, SnapshotInterval: time.Hour, LayersFrom: started, MQTT: mqtt,
		ClockNote: fmt.Sprintf("Demo clock, %g× real time: every time shown is simulated.", *speed),
		Stdin:     e.stdin, Stdout: io.Discard,
	})
	if err != nil {
		mtcLn.Close() // closed already unless New failed before taking it
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
	ccs := []*site.Node{cc}
	for i := range *peers {
		peer, err := startDemoPeer(ctx, g, gctx, node, filepath.Join(*data, "peers", strconv.Itoa(i+1)), i+1, *poll, clk, logger)
		if err != nil {
			return fail(fmt.Errorf("demo: peer %d: %w", i+1, err))
		}
		ccs = append(ccs, peer)
	}

	// Everything is enrolled and paired: time may flow.
	clk.Start()
	g.Go(func() error { return keepDemoClock(gctx, *data, clk) })

	fmt.Fprintf(e.stdout, "cloud: %s\n", node.DashboardURL())
	fmt.Fprintf(e.stdout, "commandcenter: %s\n", cc.URL())
	fmt.Fprintf(e.stdout, "mtconnect: %s\n", cc.MTConnectURL())
	fmt.Fprintf(e.stdout, "login: %s %s\n", user, password)
	fmt.Fprintf(e.stdout, "updates: %s (release with: fusionfleet release add-target -dir %s -version 4.3.0 -models FF-4200 FILE; approve at %supdates)\n",
		repoDir, repoDir, cc.URL())
	fmt.Fprintf(e.stdout, "uplink: %s (CA file %s)\n", node.URL(), node.CAPath())
	fmt.Fprintf(e.stdout, "check: %s\n", demoCheckCommand(node.URL(), node.CAPath(), ccDir, *uiRange))
	if mqtt.URL != "" {
		fmt.Fprintf(e.stdout, "mqtt: %s %s\n", mqtt.URL, mqtt.Prefix)
	}
	fmt.Fprintf(e.stdout, "data: %s (%d printers, %d peer organisations, demo clock %gx; Ctrl-C stops)\n", *data, *n, *peers, *speed)
	g.Go(func() error {
		return showFill(gctx, fill{clk: clk, from: from, started: started, pending: outboxes(ccs), storing: streamBacklog(reg),
			drained: 50 * len(ccs), stored: 2 * len(ccs), patience: 2 * time.Minute, tick: 200 * time.Millisecond}, e)
	})

	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// outboxes counts the records the Command Centers ccs hold for the cloud.
func outboxes(ccs []*site.Node) func(ctx context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		total := 0
		for _, cc := range ccs {
			n, err := cc.Store().Outbox().PendingCount(ctx)
			if err != nil {
				return 0, err
			}
			total += n
		}
		return total, nil
	}
}

// demoFill is how fast the demo clock fills the past: a day per second.
// Measured on two cores, the default demo (4 printers, 6 peers of 2)
// keeps up with it, see the README.
const demoFill = 24 * 60 * 60

// demoBulkInterval is how often the demo's Command Centers send bulk data
// (jobs, layers, wear): every five minutes of the demo clock, as a real
// site does. Their uploaders wake every -poll of real time, so in real
// time bulk data goes every demoBulkReal.
const demoBulkInterval = 5 * time.Minute

// demoBulkReal is how often bulk data goes in real time, at speed with
// uploads every poll: what the dashboard's pages of bulk data lag by.
func demoBulkReal(speed float64, poll time.Duration) time.Duration {
	return max(time.Duration(float64(demoBulkInterval)/speed), poll)
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
