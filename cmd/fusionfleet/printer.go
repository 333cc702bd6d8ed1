package main

import (
	"context"
	"errors"
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
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/printer"
)

func runPrinter(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("printer", "Run a virtual powder-bed fusion printer that serves the device API over HTTPS.\n"+
		"Its self-signed certificate is created on first start and kept in the data directory;\n"+
		"the fingerprint printed at start is what a Command Center pins.", e)
	data := fs.String("data", defaultDataDir(e, "printer"), "data `directory` (certificate)")
	listen := fs.String("listen", envDefault(e, "FUSIONFLEET_PRINTER_LISTEN", "127.0.0.1:8443"), "HTTPS listen `address`")
	name := fs.String("name", "3DP 1", "printer name")
	model := fs.String("model", "4200", "printer model class: 4200 or 5200")
	seed := fs.Int64("seed", 1, "random seed of the process model (same seed, same printer identity)")
	speed := fs.Float64("speed", 1, "clock speed-up factor of the process model")
	hosts := fs.String("hosts", "", "extra comma-separated host names or IPs for the certificate")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := parse(fs, args, e); err != nil {
		return err
	}
	logger, err := newLogger(e, *logLevel)
	if err != nil {
		return err
	}
	opts := printer.Options{Name: *name, Model: *model, Seed: *seed, Clock: clock.NewScaled(*speed)}
	if err := opts.Validate(); err != nil {
		return fmt.Errorf("printer: %w", err)
	}
	p, err := startPrinter(ctx, printerConfig{
		dataDir: *data,
		listen:  *listen,
		hosts:   splitList(*hosts),
		opts:    opts,
		logger:  logger,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "printer: https://%s\nfingerprint: %s\n", p.addr, p.fingerprint)
	return p.run(ctx)
}

type printerConfig struct {
	dataDir string
	listen  string       // address to listen on, unless ln is set
	ln      net.Listener // an open listener (the demo's remembered ports)
	hosts   []string
	opts    printer.Options
	logger  *slog.Logger
}

// printerNode is a virtual printer listening on its address.
type printerNode struct {
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
	logger := cfg.logger.With("component", "printer", "name", cfg.opts.Name)
	p := printer.New(cfg.opts)
	srv := deviceapi.NewServer(deviceapi.NewHandler(p, logger), cert, logger)
	return &printerNode{
		addr:        ln.Addr().String(),
		fingerprint: deviceapi.FingerprintOf(cert.Certificate[0]),
		run: func(ctx context.Context) error {
			return serve(ctx, logger, "printer", srv, func() error { return srv.ServeTLS(ln, "", "") })
		},
	}, nil
}

// serve runs an HTTP server until ctx is done, then shuts it down: it
// stops accepting, lets requests in flight finish for a few seconds, and
// then closes whatever is still open (a browser's live stream, say).
func serve(ctx context.Context, logger *slog.Logger, name string, srv *http.Server, start func() error) error {
	errc := make(chan error, 1)
	go func() { errc <- start() }()
	select {
	case err := <-errc:
		return fmt.Errorf("%s: %w", name, err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		logger.Warn("closing connections that did not finish after shutdown", "server", name, "err", err)
		srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// listenRemembered listens on the port this directory used last time, so a
// restarted demo keeps its printers' addresses, or on a fresh port.
func listenRemembered(ctx context.Context, dir, host string) (net.Listener, error) {
	portFile := filepath.Join(dir, "port")
	lc := &net.ListenConfig{}
	if b, err := os.ReadFile(portFile); err == nil {
		if port, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			if ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port))); err == nil {
				return ln, nil
			}
		}
	}
	ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		ln.Close()
		return nil, err
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	if err := os.WriteFile(portFile, []byte(port+"\n"), 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
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
