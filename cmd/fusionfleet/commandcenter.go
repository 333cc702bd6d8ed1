package main

import (
	"bufio"
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/commandcenter/localui"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/httpserver"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
)

// The Command Center's local UI takes the first free port in this range
// (R-ARCH-6) unless -ui-ports names another.
const uiPortsDefault = "8080-8090"

// uiPorts parses -ui-ports: a range "first-last", one port, or 0 for any
// free port the system picks.
func uiPorts(s string) (first, last int, err error) {
	if s == "0" {
		return 0, 0, nil
	}
	a, b, isRange := strings.Cut(s, "-")
	if !isRange {
		b = a
	}
	first, err1 := strconv.Atoi(a)
	last, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || first < 1 || last > 65535 || first > last {
		return 0, 0, fmt.Errorf("-ui-ports %q: want first-last (1–65535), one port, or 0 for any free port", s)
	}
	return first, last, nil
}

func runCommandCenter(ctx context.Context, args []string, e env) error {
	if len(args) > 0 && args[0] == "check" {
		return runCheck(ctx, args[1:], e)
	}
	fs := newFlagSet("commandcenter", "Run a Command Center: pair with printers by host name or IP (pinning each\n"+
		"printer's certificate on first use), poll them, keep the local truth in SQLite, and upload\n"+
		"to the cloud over outbound HTTPS only, one connection per payload, with the proxy from\n"+
		"HTTPS_PROXY/NO_PROXY. The enrolment token is read from -enrol-token-file or\n"+
		"FUSIONFLEET_ENROL_TOKEN, never from a flag value.", e)
	data := fs.String("data", envDefault(e, "FUSIONFLEET_CC_DATA", defaultDataDir(e, "commandcenter")), "data `directory` (local store, outbox, credentials)")
	cloudURL := fs.String("cloud", envDefault(e, "FUSIONFLEET_CLOUD", ""), "cloud base `URL` (https://…)")
	caFile := fs.String("ca-file", envDefault(e, "FUSIONFLEET_CA_FILE", ""), "PEM `file` of CAs that verify the cloud (default: system roots)")
	tokenFile := fs.String("enrol-token-file", "", "`file` holding the one-time enrolment token from the cloud (first start only)")
	name := fs.String("name", hostName(), "name of this Command Center, shown in the cloud")
	var printers stringList
	fs.Var(&printers, "printer", "printer `host:port` to pair with (repeatable)")
	trust := fs.Bool("trust-new-printers", false, "pin new printers' certificates without asking (only where the LAN is trusted)")
	uiHost := fs.String("ui-host", "127.0.0.1", "interface for the local UI")
	uiRange := fs.String("ui-ports", envDefault(e, "FUSIONFLEET_UI_PORTS", uiPortsDefault), "local UI `ports`: the first free one of first-last, or 0 for any free port")
	interval := fs.Duration("poll", 5*time.Second, "status poll interval")
	bulk := fs.Duration("bulk-interval", 5*time.Minute, "how often bulk data (layers, jobs, counters, logs) is uploaded; alerts and status go at once")
	mirrorListen := fs.String("mirror-listen", envDefault(e, "FUSIONFLEET_MIRROR_LISTEN", ""), "`address` where printers on the LAN read signed updates (/tuf/ only); the local UI serves them too")
	updateInterval := fs.Duration("update-interval", defaultUpdateInterval, "how often signed updates are mirrored from the cloud for the printers (served under /tuf/ on the local port)")
	rate := fs.Int("uplink-rate", 10000, "uplink bandwidth cap in `bits/s`, TLS handshakes included (whitepaper budget: 25000 for a site)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := parse(fs, args, e); err != nil {
		return err
	}
	if *cloudURL == "" {
		fmt.Fprintln(e.stderr, "fusionfleet commandcenter: -cloud is required")
		fs.Usage()
		return errUsage
	}
	uiFirst, uiLast, err := uiPorts(*uiRange)
	if err != nil {
		return err
	}
	logger, err := newLogger(e, *logLevel)
	if err != nil {
		return err
	}
	token, err := readSecret(e, *tokenFile, "FUSIONFLEET_ENROL_TOKEN")
	if err != nil {
		return err
	}
	roots, err := uplink.LoadCertPool(*caFile)
	if err != nil {
		return fmt.Errorf("commandcenter: -ca-file: %w", err)
	}
	var mirrorLn net.Listener
	if *mirrorListen != "" {
		if mirrorLn, err = (&net.ListenConfig{}).Listen(ctx, "tcp", *mirrorListen); err != nil {
			return fmt.Errorf("commandcenter: -mirror-listen: %w", err)
		}
		defer mirrorLn.Close()
	}
	cc, err := startCommandCenter(ctx, ccConfig{
		mirrorLn: mirrorLn,
		dataDir:  *data, cloudURL: *cloudURL, rootCAs: roots, enrolToken: token, name: *name,
		printers: printers, trustNew: *trust, uiHost: *uiHost, uiFirst: uiFirst, uiLast: uiLast,
		pollInterval: *interval, bulkInterval: *bulk, rateBytes: float64(*rate) / 8, updateInterval: *updateInterval,
		clock: clock.Real{}, logger: logger, stdin: e.stdin, stdout: e.stdout,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "commandcenter: %s\n", cc.url)
	if mirrorLn != nil {
		fmt.Fprintf(e.stdout, "update mirror: http://%s (printers: -update-url)\n", mirrorLn.Addr())
	}
	return cc.run(ctx)
}

type ccConfig struct {
	dataDir    string
	cloudURL   string
	rootCAs    *x509.CertPool
	enrolToken string
	name       string
	printers   []string
	trustNew   bool
	uiHost     string
	uiFirst    int
	uiLast     int

	pollInterval   time.Duration
	uploadInterval time.Duration
	priorityDelay  time.Duration // how long a status waits for company; 0 → the uploader's default
	bulkInterval   time.Duration
	maxBackoff     time.Duration // longest wait between failed uploads; 0 → 30 s
	updateInterval time.Duration // how often the update mirror syncs; 0 → 5 min
	// snapshotInterval is how often counters and consumables are read; 0 → 5 min.
	snapshotInterval time.Duration
	// mirrorLn, if set, serves the update mirror alone, for printers on
	// the LAN while the local UI stays on loopback.
	mirrorLn  net.Listener
	rateBytes float64
	clock     clock.Clock
	logger    *slog.Logger
	stdin     io.Reader
	stdout    io.Writer
}

type ccNode struct {
	url   string // local UI
	store *commandcenter.Store
	run   func(ctx context.Context) error
}

func startCommandCenter(ctx context.Context, cfg ccConfig) (_ *ccNode, err error) {
	logger := cfg.logger.With("component", "commandcenter")
	// Take the local port first: a site with 8080–8090 all taken learns it
	// before anything is enrolled or paired.
	ln, err := commandcenter.ListenLocal(cfg.uiHost, cfg.uiFirst, cfg.uiLast)
	if err != nil {
		return nil, fmt.Errorf("commandcenter: %w", err)
	}
	defer func() {
		if err != nil {
			ln.Close()
		}
	}()
	if err := os.MkdirAll(cfg.dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("commandcenter: %w", err)
	}
	st, err := commandcenter.Open(ctx, filepath.Join(cfg.dataDir, "commandcenter.db"))
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()
	client, err := uplink.NewClient(cfg.cloudURL, uplink.ClientOptions{RootCAs: cfg.rootCAs, Clock: cfg.clock})
	if err != nil {
		return nil, fmt.Errorf("commandcenter: %w", err)
	}
	cred, err := enrolGateway(ctx, st, client, cfg)
	if err != nil {
		return nil, err
	}
	if err := pairPrinters(ctx, st, cfg); err != nil {
		return nil, err
	}
	// One TLS session cache for all printers: a poll resumes the printer's
	// session instead of a full handshake, and the pin is checked either way.
	sessions := tls.NewLRUClientSessionCache(4096)
	poller := commandcenter.NewPoller(st, func(addr string, pin deviceapi.Fingerprint) commandcenter.Device {
		return deviceapi.NewClient(addr, pin, deviceapi.ClientOptions{SessionCache: sessions})
	}, commandcenter.PollerOptions{Interval: cfg.pollInterval, SnapshotInterval: cfg.snapshotInterval, Clock: cfg.clock, Logger: logger})
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		commandcenter.NewMetrics(st, commandcenter.MetricsOptions{Poller: poller, Clock: cfg.clock}))
	mirror, err := newUpdateMirror(cfg, st, logger)
	if err != nil {
		return nil, fmt.Errorf("commandcenter: %w", err)
	}
	srv := httpserver.New(withMirror(localui.NewHandler(localui.SourcesOf(st), localui.HandlerOptions{
		Logger: logger, Clock: cfg.clock, Metrics: reg, Updates: mirror,
		SelfTest: &commandcenter.SelfTestConfig{CloudURL: cfg.cloudURL, RootCAs: cfg.rootCAs, LocalUI: ln.Addr().String()},
	}), st, mirror, cfg.clock), logger)
	uploader := commandcenter.NewUploader(st, gatewayCloud{client, cred}, commandcenter.UploaderOptions{
		Interval: cfg.uploadInterval, PriorityDelay: cfg.priorityDelay, BulkInterval: cfg.bulkInterval,
		MaxBackoff: cmp.Or(cfg.maxBackoff, 30*time.Second), // a cloud that is back hears from the site within 30 s
		RateBytes:  cfg.rateBytes, Retryable: uplink.Retryable, Clock: cfg.clock, Logger: logger,
	})
	return &ccNode{
		url:   "http://" + ln.Addr().String() + "/",
		store: st,
		run: func(ctx context.Context) error {
			defer st.Close()
			g, ctx := errgroup.WithContext(ctx)
			g.Go(func() error {
				return httpserver.Run(ctx, logger, "local UI", srv, func() error { return srv.Serve(ln) })
			})
			g.Go(func() error { return poller.Run(ctx) })
			g.Go(func() error { return uploader.Run(ctx) })
			g.Go(func() error { return mirror.Run(ctx) })
			if cfg.mirrorLn != nil {
				msrv := httpserver.New(commandcenter.NewMirrorHandler(st, mirror, mirror.Handler(), cfg.clock), logger)
				g.Go(func() error {
					return httpserver.Run(ctx, logger, "update mirror", msrv, func() error { return msrv.Serve(cfg.mirrorLn) })
				})
			}
			return g.Wait()
		},
	}, nil
}

// runCheck is `fusionfleet commandcenter check`: the connectivity self-test
// of the whitepaper's checklist (R-ARCH-9), printed; exit status 1 when a
// check failed.
func runCheck(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("commandcenter check", "Check a Command Center's connectivity: the cloud reachable through the proxy the\n"+
		"environment selects, its certificate valid, the clocks in step, every paired printer\n"+
		"reachable with its pinned certificate, a local port for the UI (-ui-ports), the host's sleep settings.", e)
	data := fs.String("data", envDefault(e, "FUSIONFLEET_CC_DATA", defaultDataDir(e, "commandcenter")), "data `directory` of the Command Center")
	cloudURL := fs.String("cloud", envDefault(e, "FUSIONFLEET_CLOUD", ""), "cloud base `URL` (https://…)")
	caFile := fs.String("ca-file", envDefault(e, "FUSIONFLEET_CA_FILE", ""), "PEM `file` of CAs that verify the cloud (default: system roots)")
	uiHost := fs.String("ui-host", "127.0.0.1", "interface for the local UI")
	uiRange := fs.String("ui-ports", envDefault(e, "FUSIONFLEET_UI_PORTS", uiPortsDefault), "local UI `ports` to check: first-last, one port, or 0 for any free port")
	if err := parse(fs, args, e); err != nil {
		return err
	}
	if *cloudURL == "" {
		fmt.Fprintln(e.stderr, "fusionfleet commandcenter check: -cloud is required")
		fs.Usage()
		return errUsage
	}
	roots, err := uplink.LoadCertPool(*caFile)
	if err != nil {
		return fmt.Errorf("check: -ca-file: %w", err)
	}
	uiFirst, uiLast, err := uiPorts(*uiRange)
	if err != nil {
		return err
	}
	cfg := commandcenter.SelfTestConfig{CloudURL: *cloudURL, RootCAs: roots,
		LocalHost: *uiHost, LocalPorts: [2]int{uiFirst, uiLast}, AnyLocalPort: uiFirst == 0}
	if _, err := os.Stat(filepath.Join(*data, "commandcenter.db")); err == nil {
		st, err := commandcenter.Open(ctx, filepath.Join(*data, "commandcenter.db"))
		if err != nil {
			return err
		}
		defer st.Close()
		printers, err := st.Printers(ctx)
		if err != nil {
			return err
		}
		cfg.Printers = commandcenter.CheckTargets(printers)
		if u, err := st.UplinkState(ctx); err == nil {
			cfg.Uplink = &u
		}
	}
	rep := commandcenter.SelfTest(ctx, cfg)
	if err := rep.WriteText(e.stdout); err != nil {
		return err
	}
	if rep.Failed() {
		return errors.New("check: some checks failed")
	}
	return nil
}

// gatewayCloud is the cloud as the uploader sees it: the uplink client with
// this gateway's credentials.
type gatewayCloud struct {
	client *uplink.Client
	cred   uplink.Credentials
}

func (c gatewayCloud) Upload(ctx context.Context, b uplink.Batch) (uplink.Ack, error) {
	return c.client.Upload(ctx, c.cred, b)
}

// enrolGateway returns the stored gateway credentials, enrolling with the
// one-time token on first start.
func enrolGateway(ctx context.Context, st *commandcenter.Store, client *uplink.Client, cfg ccConfig) (uplink.Credentials, error) {
	id, key, ok, err := st.Credentials(ctx)
	if err != nil {
		return uplink.Credentials{}, err
	}
	if ok {
		return uplink.Credentials{GatewayID: id, Key: key}, nil
	}
	if cfg.enrolToken == "" {
		return uplink.Credentials{}, errors.New("commandcenter: not enrolled yet: give the enrolment token from the cloud's admin page with -enrol-token-file or FUSIONFLEET_ENROL_TOKEN")
	}
	// The key is saved before the cloud sees it: after a crash or a lost
	// answer, the next start repeats the enrolment with the same key and the
	// cloud answers with the same gateway instead of a spent token.
	priv, err := st.PendingEnrolmentKey(ctx, rand.Reader)
	if err != nil {
		return uplink.Credentials{}, fmt.Errorf("commandcenter: gateway key: %w", err)
	}
	resp, err := client.Enrol(ctx, cfg.enrolToken, cfg.name, priv.Public().(ed25519.PublicKey))
	if err != nil {
		return uplink.Credentials{}, fmt.Errorf("commandcenter: enrol with %s: %w", cfg.cloudURL, err)
	}
	if err := st.SaveCredentials(ctx, resp.GatewayID, priv); err != nil {
		return uplink.Credentials{}, err
	}
	if err := st.DropPendingEnrolmentKey(ctx); err != nil {
		return uplink.Credentials{}, err
	}
	fmt.Fprintf(cfg.stdout, "enrolled as gateway %s of site %s\n", resp.GatewayID, resp.SiteID)
	return uplink.Credentials{GatewayID: resp.GatewayID, Key: priv}, nil
}

// pairPrinters pins the certificate of every printer not paired before:
// trust on first use, confirmed by the operator (R-SEC-9).
func pairPrinters(ctx context.Context, st *commandcenter.Store, cfg ccConfig) error {
	known, err := st.Printers(ctx)
	if err != nil {
		return err
	}
	paired := map[string]bool{}
	for _, p := range known {
		paired[p.Address] = true
	}
	in := bufio.NewReader(cfg.stdin)
	for _, addr := range cfg.printers {
		if paired[addr] {
			continue
		}
		fp, err := deviceapi.Probe(ctx, addr)
		if err != nil {
			return fmt.Errorf("commandcenter: pair printer %s: %w", addr, err)
		}
		fmt.Fprintf(cfg.stdout, "printer %s presents certificate SHA-256 %s\n", addr, fp)
		if !cfg.trustNew {
			fmt.Fprint(cfg.stdout, "Compare it with the fingerprint on the printer's panel. Pin it? [y/N] ")
			answer, _ := in.ReadString('\n')
			if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
				return fmt.Errorf("commandcenter: printer %s not paired: fingerprint not confirmed", addr)
			}
		}
		if _, err := st.AddPrinter(ctx, addr, fp, cfg.clock.Now()); err != nil && !errors.Is(err, fleet.ErrConflict) {
			return fmt.Errorf("commandcenter: pair printer %s: %w", addr, err)
		}
		fmt.Fprintf(cfg.stdout, "pinned printer %s\n", addr)
	}
	return nil
}

func hostName() string {
	h, err := os.Hostname()
	if err != nil {
		return "Command Center"
	}
	return h
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }
