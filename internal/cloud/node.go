package cloud

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fusionfleet/fusionfleet/internal/alert"
	"github.com/fusionfleet/fusionfleet/internal/closer"
	"github.com/fusionfleet/fusionfleet/internal/dashboard"
	"github.com/fusionfleet/fusionfleet/internal/datadir"
	"github.com/fusionfleet/fusionfleet/internal/httpserver"
	"github.com/fusionfleet/fusionfleet/internal/ingest"
	"github.com/fusionfleet/fusionfleet/internal/learn"
	"github.com/fusionfleet/fusionfleet/internal/maintenance"
	"github.com/fusionfleet/fusionfleet/internal/notify"
	"github.com/fusionfleet/fusionfleet/internal/restapi"
	"github.com/fusionfleet/fusionfleet/internal/retention"
	"github.com/fusionfleet/fusionfleet/internal/store"
	"github.com/fusionfleet/fusionfleet/internal/stream"
	"github.com/fusionfleet/fusionfleet/internal/tlsca"
	"github.com/fusionfleet/fusionfleet/internal/updaterepo"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
)

// writerBatch bounds what the SQL writer takes from the stream at once:
// many uploads of a few records, so that one sync to disk serves them
// all, or a few large ones, so that a batch does not keep the uploads
// behind it waiting for long.
var writerBatch = stream.Batch{Messages: 64, Bytes: 1 << 20}

// Node is one cloud node, opened by New and served by Run.
type Node struct {
	opts Options
	log  *slog.Logger

	url, dashboardURL string
	ca                *tlsca.Authority // nil with an operator certificate

	ln, plainLn  net.Listener
	https, plain *http.Server // plain: nil without DashboardListen
	debugLn      net.Listener // nil without DebugListen
	store        *store.DB
	stream       *stream.Stream
	updates      *updaterepo.Service
	hub          *dashboard.Hub
	writer       *ingest.Writer
	airgap       *uplink.Importer
	dispatcher   *notify.Dispatcher
	evaluator    *alert.Evaluator
	runAlerts    func(ctx context.Context) error
	trainer      *maintenance.Trainer
	learner      *learn.Trainer

	closers closer.Stack
}

// New opens a node: its listeners, certificate, store, stream and update
// repository. It serves nothing before Run. On error everything opened is
// closed again.
func New(ctx context.Context, opts Options) (_ *Node, err error) {
	if opts.DataDir == "" {
		return nil, errors.New("cloud: no data directory")
	}
	if (opts.TLSCertFile == "") != (opts.TLSKeyFile == "") {
		return nil, errors.New("cloud: a TLS certificate and its key go together")
	}
	opts = opts.withDefaults()
	n := &Node{opts: opts, log: opts.Logger.With("component", "cloud")}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	n.ln, n.plainLn = opts.Listener, opts.DashboardListener
	for _, ln := range []net.Listener{n.ln, n.plainLn} {
		if ln != nil {
			n.closers.Push(ln.Close)
		}
	}
	// First the data directory: a second node on it must not touch the
	// store, the stream or the listeners of the first.
	lock, err := datadir.Acquire(opts.DataDir, "FusionFleet cloud")
	if err != nil {
		return nil, fmt.Errorf("cloud: %w", err)
	}
	n.closers.Push(lock.Close)
	lc := &net.ListenConfig{}
	if n.ln == nil {
		if n.ln, err = lc.Listen(ctx, "tcp", opts.Listen); err != nil {
			return nil, fmt.Errorf("cloud: %w", err)
		}
		n.closers.Push(n.ln.Close)
	}
	if n.plainLn == nil && opts.DashboardListen != "" {
		if n.plainLn, err = lc.Listen(ctx, "tcp", opts.DashboardListen); err != nil {
			return nil, fmt.Errorf("cloud: dashboard: %w", err)
		}
		n.closers.Push(n.plainLn.Close)
	}
	if opts.DebugListen != "" {
		if n.debugLn, err = httpserver.ListenDebug(ctx, opts.DebugListen); err != nil {
			return nil, fmt.Errorf("cloud: -debug-listen: %w", err)
		}
		n.closers.Push(n.debugLn.Close)
	}
	cert, err := n.certificate()
	if err != nil {
		return nil, err
	}

	if n.store, err = openStore(ctx, opts.DataDir, opts.DB, opts.MaxDBSize); err != nil {
		return nil, fmt.Errorf("cloud: %w", err)
	}
	n.closers.Push(n.store.Close)

	metricsToken, err := readMetricsToken(opts.MetricsTokenFile)
	if err != nil {
		return nil, err
	}
	m := newMetrics(opts.Registry)
	if n.stream, err = stream.Open(ctx, stream.Options{
		URL: opts.NATSURL, Credentials: opts.NATSCredentials, TLS: opts.NATSTLS,
		Dir: filepath.Join(opts.DataDir, "jetstream"), Replicas: opts.Replicas, Name: opts.StreamName,
		Logger: n.log, Metrics: m.stream,
	}); err != nil {
		return nil, fmt.Errorf("cloud: stream: %w", err)
	}
	n.closers.Push(n.stream.Close)

	if n.updates, err = updaterepo.NewService(cmp.Or(opts.TUFDir, filepath.Join(opts.DataDir, "tuf")), updaterepo.ServiceOptions{
		TokenFile: opts.ReleaseTokenFile, Clock: opts.Clock, Logger: n.log,
	}); err != nil {
		return nil, fmt.Errorf("cloud: %w", err)
	}
	if n.dispatcher, err = newDispatcher(opts.Notify, n.store, opts.Clock, n.log); err != nil {
		return nil, fmt.Errorf("cloud: %w", err)
	}
	n.evaluator, n.runAlerts = newAlerts(n.stream, n.store, n.dispatcher, alert.Options{
		Logger: n.log, Clock: opts.Clock, WaitClock: opts.WallClock, SweepFrom: opts.AlertSweepFrom,
		OfflineAfter: opts.OfflineAfter, StallAfter: opts.StallAfter, Degradation: maintenance.NewWatch(),
	})
	key, err := loadAirgapKey(opts.airgapKeyPath())
	if err != nil {
		return nil, fmt.Errorf("cloud: %w", err)
	}
	n.airgap = uplink.NewImporter(n.store, n.store, n.stream, n.store, key, uplink.ImporterOptions{
		Handler: uplink.HandlerOptions{
			Clock: opts.Clock, Logger: n.log, MaxMessageBytes: n.stream.MaxPayload(), MaxAhead: opts.MaxRecordAhead, Skew: opts.UplinkSkew,
		},
		MaxBundleBytes: restapi.MaxBundleBytes,
	})
	n.writer = ingest.NewWriter(n.store, n.stream, ingest.Options{Logger: n.log, Metrics: m.ingest, Clock: opts.Clock})

	n.hub = dashboard.NewHub()
	n.trainer = newTrainer(n.store, opts.Clock, n.log)
	if n.learner, err = newLearner(ctx, n.store, opts.Clock, opts.WallClock, n.log); err != nil {
		return nil, fmt.Errorf("cloud: %w", err)
	}
	dash, api := n.webHandlers(n.updates, n.hub)
	// web is what people and their programs use: the dashboard, the REST
	// API, metrics and health. The uplink is for gateways only.
	web := http.NewServeMux()
	web.Handle("GET /metrics", m.handler(metricsToken))
	web.Handle("GET /readyz", http.HandlerFunc(n.readiness))
	web.Handle("/api/v1/", api)
	web.Handle("GET /api/openapi.json", api)
	web.Handle("/", dash)
	mux := http.NewServeMux()
	mux.Handle("/v1/", uplink.NewHandler(n.store, n.store, n.stream, uplink.HandlerOptions{
		Clock: opts.Clock, Logger: n.log, MaxMessageBytes: n.stream.MaxPayload(), Metrics: m.uplink,
		MaxAhead: opts.MaxRecordAhead, RecordsPerSecond: opts.UplinkRecordsPerSecond,
		BytesPerSecond: opts.UplinkBytesPerSecond, Skew: opts.UplinkSkew, Diagnostics: n.store,
	}))
	mux.Handle("/tuf/", n.updates.Handler())
	mux.Handle("/", web)
	n.https = httpserver.New(mux, n.log)
	n.https.TLSConfig = httpserver.TLS(cert)
	n.url = "https://" + hostPort(n.ln, opts.Hosts)
	n.dashboardURL = n.url + "/"
	if n.plainLn != nil {
		n.plain = httpserver.New(web, n.log)
		n.dashboardURL = "http://" + n.plainLn.Addr().String() + "/"
	}
	return n, nil
}

// certificate loads the operator's certificate, or else one from the CA
// in the data directory (made on first start).
func (n *Node) certificate() (tls.Certificate, error) {
	if n.opts.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(n.opts.TLSCertFile, n.opts.TLSKeyFile)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("cloud: server certificate: %w", err)
		}
		return cert, nil
	}
	ca, err := tlsca.LoadOrCreate(filepath.Join(n.opts.DataDir, "tls"), n.opts.Hosts, time.Now())
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("cloud: %w", err)
	}
	n.ca = ca
	return ca.Server, nil
}

// StoreConsumer is the stream's durable consumer that writes to the store,
// shared by all nodes: its lag (the metric
// fusionfleet_stream_consumer_pending of this consumer) is what the store
// is behind the uploads.
const StoreConsumer = "sql-writer"

// Run serves until ctx ends or a part fails, then stops every part and
// closes the node. The parts: the HTTPS server (and the plain dashboard),
// the SQL writer, the alert evaluator and its sweeps, the update
// repository's re-signing and rollout controller, the update alerts, the
// notification dispatcher, retention, and the relay of changes to the
// dashboards of every node.
func (n *Node) Run(ctx context.Context) error {
	o := n.opts
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return httpserver.Run(ctx, n.log, "cloud https", n.https, func() error { return n.https.ServeTLS(n.ln, "", "") })
	})
	if n.plain != nil {
		g.Go(func() error {
			return httpserver.Run(ctx, n.log, "dashboard http", n.plain, func() error { return n.plain.Serve(n.plainLn) })
		})
	}
	if n.debugLn != nil {
		debug := httpserver.New(httpserver.Debug(), n.log)
		g.Go(func() error {
			return httpserver.Run(ctx, n.log, "debug", debug, func() error { return debug.Serve(n.debugLn) })
		})
	}
	// The store's appliers share the node's part of the durable
	// consumer, as nodes share it.
	for range n.store.Appliers() {
		g.Go(func() error { return n.stream.ConsumeBatches(ctx, StoreConsumer, writerBatch, n.writer.HandleBatch) })
	}
	g.Go(func() error { return n.runAlerts(ctx) })
	g.Go(func() error { return n.updates.Run(ctx, storeFailures{n.store}) })
	g.Go(func() error { return runUpdateAlerts(ctx, n.updates, n.store, n.evaluator, n.log) })
	g.Go(func() error { return n.dispatcher.Run(ctx) })
	g.Go(func() error { return n.trainer.Run(ctx) })
	g.Go(func() error { return n.learner.Run(ctx) })
	g.Go(func() error { return retention.Run(ctx, n.store, o.RetentionEvery, o.Retention, o.Clock, n.log) })
	g.Go(func() error {
		return retention.Run(ctx, loginPruner{n.store}, time.Hour, o.Retention, o.WallClock, n.log)
	})
	g.Go(func() error {
		return n.stream.Listen(ctx, ingest.ChangedSubject, func(data []byte) { n.hub.Notify(ingest.OrgOf(data)) })
	})
	return errors.Join(g.Wait(), n.Close())
}

// loginPruner prunes what lives on the logins' clock (sessions, login
// challenges, failed-login counts), which is real time even in the demo.
type loginPruner struct{ s *store.DB }

func (p loginPruner) Prune(ctx context.Context, now time.Time, r retention.Retention) (map[string]int64, error) {
	return p.s.PruneLogins(ctx, now, r)
}

// Close closes what New opened, newest first. Run closes the node when it
// returns; Close is for a node that was never run, and may be called again.
func (n *Node) Close() error {
	return n.closers.Close()
}

// DebugAddr is the address of the profiling listener; nil without
// Options.DebugListen.
func (n *Node) DebugAddr() net.Addr {
	if n.debugLn == nil {
		return nil
	}
	return n.debugLn.Addr()
}

// URL is the node's HTTPS base URL (uplink, updates and dashboard),
// without a final slash.
func (n *Node) URL() string { return n.url }

// DashboardURL is where people log in: the plain listener's URL with
// Options.DashboardListen, else the HTTPS one; it ends in a slash.
func (n *Node) DashboardURL() string { return n.dashboardURL }

// CAPath is the PEM file of the generated CA, for Command Centers'
// --ca-file; "" with an operator certificate.
func (n *Node) CAPath() string {
	if n.ca == nil {
		return ""
	}
	return n.ca.CAPath
}

// RootCAs holds the generated CA, for clients of the node; nil with an
// operator certificate.
func (n *Node) RootCAs() *x509.CertPool {
	if n.ca == nil {
		return nil
	}
	return n.ca.Pool
}

// readiness answers 200 when the node can take uploads: the stream is
// connected and the store answers.
func (n *Node) readiness(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	err := n.stream.Ready(ctx)
	if err == nil {
		err = n.store.Ping(ctx)
	}
	if err != nil {
		http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	io.WriteString(w, "ready\n")
}

// hostPort names the listener by the first configured host name, so the URL
// matches the certificate.
func hostPort(ln net.Listener, hosts []string) string {
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); (ip == nil || ip.IsUnspecified()) && len(hosts) > 0 {
		host = hosts[0]
	}
	return net.JoinHostPort(host, port)
}
