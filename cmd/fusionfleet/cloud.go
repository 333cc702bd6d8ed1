package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fusionfleet/fusionfleet/internal/alert"
	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/dashboard"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/identity"
	"github.com/fusionfleet/fusionfleet/internal/ingest"
	"github.com/fusionfleet/fusionfleet/internal/notify"
	"github.com/fusionfleet/fusionfleet/internal/restapi"
	"github.com/fusionfleet/fusionfleet/internal/retention"
	"github.com/fusionfleet/fusionfleet/internal/store"
	"github.com/fusionfleet/fusionfleet/internal/stream"
	"github.com/fusionfleet/fusionfleet/internal/tlsca"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
)

func runCloud(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("cloud", "Run a cloud node: the uplink for Command Centers, the JetStream stream, the store\n"+
		"and the dashboard, all on one HTTPS listener. On first start it creates an organisation,\n"+
		"an admin user and an enrolment token for a first site, and prints them once.", e)
	data := fs.String("data", envDefault(e, "FUSIONFLEET_CLOUD_DATA", defaultDataDir(e, "cloud")), "data `directory` (store, stream, certificates)")
	listen := fs.String("listen", envDefault(e, "FUSIONFLEET_CLOUD_LISTEN", "127.0.0.1:8443"), "HTTPS listen `address`")
	db := fs.String("db", envDefault(e, "FUSIONFLEET_DB", ""), "store: a SQLite file `path` (default: cloud.db in the data directory) or a postgres://… URL")
	natsURL := fs.String("nats", envDefault(e, "FUSIONFLEET_NATS", ""), "external NATS JetStream `URL[,URL…]` (default: embedded server, stored in the data directory)")
	replicas := fs.Int("replicas", 1, "JetStream stream replicas (more than 1 needs an external NATS cluster)")
	hosts := fs.String("hosts", "localhost,127.0.0.1", "comma-separated host names or IPs for the generated server certificate")
	certFile := fs.String("tls-cert", "", "server certificate `file` (PEM) from your PKI; default: a certificate from a CA generated in the data directory")
	keyFile := fs.String("tls-key", "", "server key `file` (PEM) for -tls-cert")
	org := fs.String("org", "My organisation", "name of the organisation created on first start")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	nf := addNotifyFlags(fs, e)
	tufRepo := fs.String("tuf-repo", envDefault(e, "FUSIONFLEET_TUF_REPO", ""), "update repository `directory` from 'fusionfleet release export' (default: tuf in the data directory)")
	releaseToken := fs.String("release-token-file", envDefault(e, "FUSIONFLEET_RELEASE_TOKEN_FILE", ""), "`file` holding the token 'fusionfleet release publish' must present (default: publishing disabled)")
	if err := parse(fs, args, e); err != nil {
		return err
	}
	logger, err := newLogger(e, *logLevel)
	if err != nil {
		return err
	}
	if (*certFile == "") != (*keyFile == "") {
		return fmt.Errorf("cloud: -tls-cert and -tls-key go together")
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", *listen)
	if err != nil {
		return fmt.Errorf("cloud: %w", err)
	}
	node, err := startCloud(ctx, cloudConfig{
		dataDir: *data, db: *db, natsURL: *natsURL, replicas: *replicas, ln: ln,
		hosts: splitList(*hosts), certFile: *certFile, keyFile: *keyFile,
		clock: clock.Real{}, logger: logger, secureCookies: true, notify: nf,
		tufRepo: *tufRepo, releaseTokenFile: *releaseToken,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "cloud: %s\n", node.url)
	if node.caPath != "" {
		fmt.Fprintf(e.stdout, "ca: %s (give it to Command Centers with -ca-file)\n", node.caPath)
	}
	if err := bootstrapCloud(ctx, node.store, *org, e.stdout); err != nil {
		node.close()
		return err
	}
	return node.run(ctx)
}

type cloudConfig struct {
	dataDir    string
	streamName string // JetStream stream, "" → the default
	retention  retention.Retention
	db         string
	natsURL    string
	replicas   int
	ln         net.Listener // HTTPS: uplink and dashboard
	hosts      []string
	certFile   string
	keyFile    string
	// plainLn, if set, serves the dashboard alone over plain HTTP: for the
	// demo on loopback, so a browser needs no certificate exception.
	plainLn       net.Listener
	clock         clock.Clock
	logger        *slog.Logger
	secureCookies bool
	sessionTTL    time.Duration
	// notify holds the notification flags; nil sends webhooks only.
	notify *notifyFlags
	// tufRepo is the update repository ("" → tuf in the data directory);
	// releaseTokenFile holds the publish token ("" → publishing disabled).
	tufRepo, releaseTokenFile string
}

// cloudNode is a running cloud node's parts.
type cloudNode struct {
	url          string // HTTPS base URL (uplink and dashboard)
	dashboardURL string // where people log in
	caPath       string // generated CA, "" with an operator certificate
	rootCAs      *tlsca.Authority
	store        cloudStore
	stream       *stream.Stream
	run          func(ctx context.Context) error
	close        func()
}

// cloudStore is everything a cloud node asks of its store; *store.DB
// provides it on SQLite and PostgreSQL alike (contract suite: storetest).
type cloudStore interface {
	dashboard.Store
	restapi.Store
	uplink.Gateways
	ingest.Store
	retention.Pruner
	alert.SweepStore
	VersionFailures(ctx context.Context, q fleet.VersionQuery) (fleet.VersionFailures, error)
	PrinterVersions(ctx context.Context) ([]alert.PrinterVersion, error)
	notify.Store
	CreateOrg(ctx context.Context, name string) (fleet.OrgID, error)
	CreateSite(ctx context.Context, org fleet.OrgID, name string) (fleet.SiteID, error)
	CreateUser(ctx context.Context, org fleet.OrgID, name, passwordHash string, role fleet.Role) (fleet.UserID, error)
	SetPassword(ctx context.Context, user fleet.UserID, passwordHash string) error
	Ping(ctx context.Context) error
	Close() error
}

// openStore opens the store named by --db: a PostgreSQL URL, or a SQLite
// file (default: cloud.db in the data directory).
func openStore(ctx context.Context, dataDir, db string) (cloudStore, error) {
	if db == "" {
		db = filepath.Join(dataDir, "cloud.db")
	}
	return store.Open(ctx, strings.TrimPrefix(db, "sqlite:"), store.Options{})
}

func startCloud(ctx context.Context, cfg cloudConfig) (_ *cloudNode, err error) {
	logger := cfg.logger.With("component", "cloud")
	node := &cloudNode{}
	var closers []func()
	node.close = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	defer func() {
		if err != nil {
			node.close()
		}
	}()
	closers = append(closers, func() { cfg.ln.Close() })
	if cfg.plainLn != nil {
		closers = append(closers, func() { cfg.plainLn.Close() })
	}

	var cert tls.Certificate
	if cfg.certFile != "" {
		if cert, err = tls.LoadX509KeyPair(cfg.certFile, cfg.keyFile); err != nil {
			return nil, fmt.Errorf("cloud: server certificate: %w", err)
		}
	} else {
		ca, err := tlsca.LoadOrCreate(filepath.Join(cfg.dataDir, "tls"), cfg.hosts, time.Now())
		if err != nil {
			return nil, fmt.Errorf("cloud: %w", err)
		}
		cert, node.caPath, node.rootCAs = ca.Server, ca.CAPath, ca
	}

	if node.store, err = openStore(ctx, cfg.dataDir, cfg.db); err != nil {
		return nil, err
	}
	closers = append(closers, func() { node.store.Close() })

	metrics := newCloudMetrics()
	if node.stream, err = stream.Open(ctx, stream.Options{
		URL: cfg.natsURL, Dir: filepath.Join(cfg.dataDir, "jetstream"), Replicas: cfg.replicas, Name: cfg.streamName,
		Logger: logger, Metrics: metrics.stream,
	}); err != nil {
		return nil, fmt.Errorf("cloud: stream: %w", err)
	}
	closers = append(closers, func() { node.stream.Close() })

	updates, err := newCloudUpdates(cmp.Or(cfg.tufRepo, filepath.Join(cfg.dataDir, "tuf")), cfg.releaseTokenFile, cfg.clock, logger)
	if err != nil {
		return nil, err
	}
	hub := dashboard.NewHub()
	dash := dashboard.NewHandler(node.store, hub, dashboard.Options{
		Clock: cfg.clock, Logger: logger, SecureCookies: cfg.secureCookies, SessionTTL: cfg.sessionTTL,
		Releases: updates,
	})
	up := uplink.NewHandler(node.store, node.stream, uplink.HandlerOptions{
		Clock: cfg.clock, Logger: logger, MaxMessageBytes: node.stream.MaxPayload(), Metrics: metrics.uplink,
	})
	// web is what people and their programs use: the dashboard, the REST
	// API, metrics and health. The uplink is for gateways only.
	web := http.NewServeMux()
	web.Handle("GET /metrics", metrics.handler())
	web.Handle("GET /readyz", readiness(node))
	api := restapi.NewHandler(node.store, restapi.Options{Clock: cfg.clock, Logger: logger, Releases: updates})
	web.Handle("/api/v1/", api)
	web.Handle("GET /api/openapi.json", api)
	web.Handle("/", dash)
	mux := http.NewServeMux()
	mux.Handle("/v1/", up)
	mux.Handle("/tuf/", updates.Handler())
	mux.Handle("/", web)
	httpsSrv := newServer(mux, logger)
	httpsSrv.TLSConfig = serverTLS(cert)
	node.url = "https://" + hostPort(cfg.ln, cfg.hosts)
	node.dashboardURL = node.url + "/"
	var plainSrv *http.Server
	if cfg.plainLn != nil {
		plainSrv = newServer(web, logger)
		node.dashboardURL = "http://" + cfg.plainLn.Addr().String() + "/"
	}

	writer := ingest.NewWriter(node.store, node.stream, ingest.Options{Logger: logger, Metrics: metrics.ingest, Clock: cfg.clock})
	disp, err := cfg.notify.newDispatcher(node.store, cfg.clock, logger)
	if err != nil {
		return nil, err
	}
	evaluator, alerts := startAlerts(node.stream, node.store, disp, cfg.clock, logger)
	node.run = func(ctx context.Context) error {
		defer node.close()
		g, ctx := errgroup.WithContext(ctx)
		g.Go(func() error {
			return serve(ctx, logger, "cloud https", httpsSrv, func() error { return httpsSrv.ServeTLS(cfg.ln, "", "") })
		})
		if plainSrv != nil {
			g.Go(func() error {
				return serve(ctx, logger, "dashboard http", plainSrv, func() error { return plainSrv.Serve(cfg.plainLn) })
			})
		}
		g.Go(func() error { return node.stream.Consume(ctx, "sql-writer", writer.Handle) })
		g.Go(func() error { return alerts(ctx) })
		g.Go(func() error { return updates.Run(ctx, storeFailures{node.store}) })
		g.Go(func() error { return updates.RunUpdateAlerts(ctx, node.store, evaluator) })
		g.Go(func() error { return disp.Run(ctx) })
		g.Go(func() error {
			return retention.Run(ctx, node.store, time.Hour, cfg.retention, cfg.clock, logger)
		})
		g.Go(func() error {
			return node.stream.Listen(ctx, ingest.ChangedSubject, func(data []byte) { hub.Notify(ingest.OrgOf(data)) })
		})
		return g.Wait()
	}
	return node, nil
}

// serverTLS is the cloud's TLS: 1.3 preferred, 1.2 at least, and with 1.2
// only forward-secret AEAD suites (R-SEC-2). TLS 1.3's suites are all AEAD.
func serverTLS(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
	}
}

// readiness answers 200 when the node can take uploads: the stream is
// connected and the store answers.
func readiness(node *cloudNode) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		err := node.stream.Ready(ctx)
		if err == nil {
			err = node.store.Ping(ctx)
		}
		if err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
}

// hostPort names the listener by the first configured host name, so the URL
// matches the certificate.
func hostPort(ln net.Listener, hosts []string) string {
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	host, _, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); (ip == nil || ip.IsUnspecified()) && len(hosts) > 0 {
		host = hosts[0]
	}
	return net.JoinHostPort(host, port)
}

// newServer returns an HTTP server with the limits every listener has.
func newServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		// No WriteTimeout: Server-Sent Events streams are long-lived; the
		// handlers bound their own work.
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// bootstrapCloud creates, on a fresh store, an organisation, a first site,
// an admin user with a generated password and an enrolment token, and prints
// the password and token once.
func bootstrapCloud(ctx context.Context, st cloudStore, orgName string, out io.Writer) error {
	if _, _, err := st.UserByName(ctx, "admin"); err == nil {
		return nil
	} else if !errors.Is(err, fleet.ErrNotFound) {
		return fmt.Errorf("bootstrap: %w", err)
	}
	org, err := st.CreateOrg(ctx, orgName)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	site, err := st.CreateSite(ctx, org, "Site 1")
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	password, err := setAdmin(ctx, st, org, "admin")
	if err != nil {
		return err
	}
	token, err := newEnrolmentToken(ctx, st, site, time.Now(), 24*time.Hour)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "login: admin %s\n", password)
	fmt.Fprintf(out, "enrolment token for Site 1 (valid 24 h, shown once): %s\n", token)
	return nil
}

// setAdmin creates the named admin user of org, or resets its password, and
// returns the new generated password.
func setAdmin(ctx context.Context, st cloudStore, org fleet.OrgID, name string) (string, error) {
	password, err := identity.GeneratePassword()
	if err != nil {
		return "", fmt.Errorf("admin password: %w", err)
	}
	hash, err := identity.HashPassword(password)
	if err != nil {
		return "", fmt.Errorf("admin password: %w", err)
	}
	u, _, err := st.UserByName(ctx, name)
	switch {
	case errors.Is(err, fleet.ErrNotFound):
		_, err = st.CreateUser(ctx, org, name, hash, fleet.RoleAdmin)
	case err == nil:
		err = st.SetPassword(ctx, u.ID, hash)
	}
	if err != nil {
		return "", fmt.Errorf("admin user: %w", err)
	}
	return password, nil
}

// newEnrolmentToken creates a one-time enrolment token for site.
func newEnrolmentToken(ctx context.Context, st cloudStore, site fleet.SiteID, now time.Time, ttl time.Duration) (string, error) {
	token, err := identity.NewToken()
	if err != nil {
		return "", fmt.Errorf("enrolment token: %w", err)
	}
	if err := st.CreateEnrolmentToken(ctx, site, identity.HashToken(token), now.Add(ttl)); err != nil {
		return "", fmt.Errorf("enrolment token: %w", err)
	}
	return token, nil
}
