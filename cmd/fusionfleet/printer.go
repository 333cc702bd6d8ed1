package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/datadir"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/httpserver"
	"github.com/fusionfleet/fusionfleet/internal/printer"
	"github.com/fusionfleet/fusionfleet/internal/site"
	"golang.org/x/sync/errgroup"
)

func runPrinter(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("printer", "Run virtual powder-bed fusion printers that serve the device API over HTTPS.\n"+
		"Each printer's self-signed certificate is created on first start and kept in its data\n"+
		"directory; the fingerprint printed at start is what a Command Center pins. With -count N,\n"+
		"printer i (from 0) listens on the -listen port + i (each a device of its own, as on a real\n"+
		"LAN), keeps its data in DIR/<i+1> and uses seed + i; port 0 gives each a free port.\n"+
		"Private fields (job, part, user and computer names) and logs are served only to Command\n"+
		"Centers paired here with -pair (their fingerprint is on their local UI); the pairing is kept\n"+
		"in the data directory, so later starts need no -pair.", e)
	data := fs.String("data", defaultDataDir(e, "printer"), "data `directory` (certificates)")
	listen := fs.String("listen", envDefault(e, "FUSIONFLEET_PRINTER_LISTEN", "127.0.0.1:8443"), "HTTPS listen `address` of the first printer")
	count := fs.Int("count", 1, "number of printers in this process")
	name := fs.String("name", "3DP", "printer name (with -count > 1, a prefix: \"3DP 1\", \"3DP 2\", …)")
	model := fs.String("model", "4200", "printer model class: 4200 or 5200")
	seed := fs.Int64("seed", 1, "random seed of the process model (same seed and speed, same records)")
	speed := fs.Float64("speed", 1, "clock speed-up factor of the process model")
	hosts := fs.String("hosts", "", "extra comma-separated host names or IPs for the certificates")
	pair := fs.String("pair", "", "comma-separated certificate `fingerprints` (SHA-256) of Command Centers to pair, as their local UI shows them; kept in the data directory")
	unpair := fs.String("unpair", "", "comma-separated certificate `fingerprints` of Command Centers to unpair")
	simControl := fs.String("sim-control", "", "loopback `address` for the simulation-control API (tests and demos only; off by default)")
	updateURL := fs.String("update-url", envDefault(e, "FUSIONFLEET_UPDATE_URL", ""), "`URL` of the Command Center's update mirror (http://host:port, as its -mirror-listen says); default: no updates")
	updateRoot := fs.String("update-root", envDefault(e, "FUSIONFLEET_UPDATE_ROOT", ""), "root metadata `file` the printers trust for updates (from the release tool), needed with -update-url")
	updateEvery := fs.Duration("update-interval", site.DefaultUpdateInterval, "how often the printers check the mirror for updates")
	updateSite := fs.String("update-site", "", "site `name` for staged rollouts by site")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := parse(fs, args, e); err != nil {
		return err
	}
	var updates *printerUpdates
	if (*updateURL == "") != (*updateRoot == "") {
		return fmt.Errorf("printer: -update-url and -update-root go together")
	}
	if *updateURL != "" {
		root, err := pinnedRoot(*updateRoot)
		if err != nil {
			return fmt.Errorf("printer: %w", err)
		}
		updates = &printerUpdates{url: strings.TrimSuffix(strings.TrimSuffix(*updateURL, "/"), "/tuf"), root: root, interval: *updateEvery, site: *updateSite}
	}
	pairs, err := parseFingerprints(*pair)
	if err != nil {
		return fmt.Errorf("printer: -pair: %w", err)
	}
	unpairs, err := parseFingerprints(*unpair)
	if err != nil {
		return fmt.Errorf("printer: -unpair: %w", err)
	}
	if *count < 1 || *count > 10000 {
		return fmt.Errorf("printer: -count %d: want 1 to 10000", *count)
	}
	lock, err := datadir.Acquire(*data, "FusionFleet printer")
	if err != nil {
		return fmt.Errorf("printer: %w", err)
	}
	defer lock.Close()
	logger, err := newLogger(e, *logLevel)
	if err != nil {
		return err
	}
	host, portText, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("printer: -listen %q: %w", *listen, err)
	}
	basePort, err := strconv.Atoi(portText)
	if err != nil || basePort < 0 || basePort+*count-1 > 65535 {
		return fmt.Errorf("printer: -listen %q: want a port that leaves room for %d printers", *listen, *count)
	}
	var simLn net.Listener
	if *simControl != "" {
		if simLn, err = listenLoopback(ctx, *simControl); err != nil {
			return fmt.Errorf("printer: -sim-control: %w", err)
		}
		defer simLn.Close()
	}

	clk := clock.NewScaled(*speed) // one clock: the printers of a process age together
	g, gctx := errgroup.WithContext(ctx)
	simMux := http.NewServeMux()
	for i := range *count {
		opts := printer.Options{Name: *name, Model: *model, Seed: *seed + int64(i), Clock: clk}
		cfg := printerConfig{dataDir: *data, listen: *listen, hosts: splitList(*hosts), pair: pairs, unpair: unpairs, opts: opts, logger: logger}
		if *count > 1 {
			cfg.opts.Name = fmt.Sprintf("%s %d", *name, i+1)
			cfg.dataDir = filepath.Join(*data, strconv.Itoa(i+1))
			port := 0
			if basePort != 0 {
				port = basePort + i
			}
			cfg.listen = net.JoinHostPort(host, strconv.Itoa(port))
		}
		if err := cfg.opts.Validate(); err != nil {
			return fmt.Errorf("printer: %w", err)
		}
		p, err := startPrinter(ctx, cfg)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "printer: https://%s fingerprint %s\n", p.addr, p.fingerprint)
		prefix := fmt.Sprintf("/printers/%d", i+1)
		simMux.Handle(prefix+"/", http.StripPrefix(prefix, printer.NewControlHandler(p.device, logger)))
		g.Go(func() error { return p.run(gctx) })
		if updates != nil {
			agent, err := startUpdateAgent(p, cfg.dataDir, *updates, logger)
			if err != nil {
				return err
			}
			g.Go(func() error { return agent(gctx) })
		}
	}
	if simLn != nil {
		srv := httpserver.New(simMux, logger)
		fmt.Fprintf(e.stdout, "sim-control: http://%s/printers/{1..%d}/sim/v1/\n", simLn.Addr(), *count)
		g.Go(func() error {
			return httpserver.Run(gctx, logger, "sim control", srv, func() error { return srv.Serve(simLn) })
		})
	}
	return g.Wait()
}

// listenLoopback listens on addr, which must be a loopback address: the
// simulation control changes a printer's hidden truth and has no login.
func listenLoopback(ctx context.Context, addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("%s is not a loopback address", addr)
	}
	return (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
}

type printerConfig struct {
	dataDir string
	listen  string       // address to listen on, unless ln is set
	ln      net.Listener // an open listener (the demo's remembered ports)
	hosts   []string
	// pair and unpair change the Command Centers paired with the printer,
	// as an operator at the printer would; the list is kept in dataDir.
	pair, unpair []deviceapi.Fingerprint
	opts         printer.Options
	logger       *slog.Logger
}

// printerNode is a virtual printer listening on its address.
type printerNode struct {
	device      *printer.Printer
	addr        string
	fingerprint deviceapi.Fingerprint
	run         func(ctx context.Context) error
}

// startPrinter creates the printer, its certificate and its listener. The
// printer serves until the context given to run is done.
func startPrinter(ctx context.Context, cfg printerConfig) (*printerNode, error) {
	ln := cfg.ln
	if ln == nil {
		var err error
		if ln, err = (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.listen); err != nil {
			return nil, fmt.Errorf("printer: %w", err)
		}
	}
	hosts := cfg.hosts
	if host, _, _ := net.SplitHostPort(ln.Addr().String()); host != "0.0.0.0" && host != "::" {
		hosts = append(hosts, host)
	}
	cert, err := deviceapi.LoadOrCreateCertificate(cfg.dataDir, hosts, time.Now())
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("printer certificate: %w", err)
	}
	collectors, err := pairCollectors(cfg.dataDir, cfg.pair, cfg.unpair)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("printer: %w", err)
	}
	logger := cfg.logger.With("component", "printer", "name", cfg.opts.Name)
	logger.Info("paired Command Centers", "fingerprints", collectors.List())
	p := printer.New(cfg.opts)
	srv := deviceapi.NewServer(deviceapi.NewHandler(p, collectors, logger), cert, logger)
	return &printerNode{
		device:      p,
		addr:        ln.Addr().String(),
		fingerprint: deviceapi.FingerprintOf(cert.Certificate[0]),
		run: func(ctx context.Context) error {
			return httpserver.Run(ctx, logger, "printer", srv, func() error { return srv.ServeTLS(ln, "", "") })
		},
	}, nil
}

// pairCollectors opens the printer's list of paired Command Centers in dir
// and pairs and unpairs the ones given.
func pairCollectors(dir string, pair, unpair []deviceapi.Fingerprint) (*deviceapi.Collectors, error) {
	c, err := deviceapi.OpenCollectors(dir)
	if err != nil {
		return nil, err
	}
	for _, fp := range pair {
		if err := c.Pair(fp); err != nil {
			return nil, err
		}
	}
	for _, fp := range unpair {
		if c.Paired(fp) {
			if err := c.Unpair(fp); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

// parseFingerprints reads a comma-separated list of fingerprints.
func parseFingerprints(s string) ([]deviceapi.Fingerprint, error) {
	var fps []deviceapi.Fingerprint
	for _, f := range splitList(s) {
		fp, err := deviceapi.ParseFingerprint(f)
		if err != nil {
			return nil, err
		}
		fps = append(fps, fp)
	}
	return fps, nil
}

// listenRemembered listens on host at the port remembered in portFile,
// so that a restarted demo keeps its addresses (bookmarks, a pasted check
// command), or, the first time or when that port is taken, on a free port,
// which it remembers. taken is the remembered port when it was taken, for
// the caller to say that the address moved.
func listenRemembered(ctx context.Context, portFile, host string) (ln net.Listener, taken int, err error) {
	lc := &net.ListenConfig{}
	if b, err := os.ReadFile(portFile); err == nil {
		if port, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && port > 0 {
			if ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port))); err == nil {
				return ln, 0, nil
			}
			taken = port
		}
	}
	if ln, err = lc.Listen(ctx, "tcp", net.JoinHostPort(host, "0")); err != nil {
		return nil, 0, err
	}
	if err := os.MkdirAll(filepath.Dir(portFile), 0o700); err != nil {
		ln.Close()
		return nil, 0, err
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	if err := os.WriteFile(portFile, []byte(port+"\n"), 0o600); err != nil {
		ln.Close()
		return nil, 0, err
	}
	return ln, taken, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
