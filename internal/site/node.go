package site

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/fusionfleet/fusionfleet/internal/closer"
	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/commandcenter/localui"
	"github.com/fusionfleet/fusionfleet/internal/datadir"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/httpserver"
	"github.com/fusionfleet/fusionfleet/internal/keepawake"
	"github.com/fusionfleet/fusionfleet/internal/mqttfeed"
	"github.com/fusionfleet/fusionfleet/internal/mtconnect"
	"github.com/fusionfleet/fusionfleet/internal/selfupdate"
	"github.com/fusionfleet/fusionfleet/internal/tlsca"
	"github.com/fusionfleet/fusionfleet/internal/update"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
)

// Node is one Command Center, opened by New and served by Run.
type Node struct {
	opts Options
	log  *slog.Logger
	url  string
	// cert is the node's client certificate, presented to the printers,
	// and fingerprint its fingerprint, which they pair.
	cert        tls.Certificate
	fingerprint deviceapi.Fingerprint

	ln, mirrorLn  net.Listener // mirrorLn: nil without MirrorListen
	debugLn       net.Listener // nil without DebugListen
	mtcLn         net.Listener // nil without MTConnectListen
	mtcSrv        *http.Server
	mtc           *mtconnect.Agent
	ui, mirrorSrv *http.Server // mirrorSrv: nil without MirrorListen
	store         *commandcenter.Store
	poller        *commandcenter.Poller
	uploader      *commandcenter.Uploader
	diagnostics   *commandcenter.DiagnosticRunner
	mirror        *update.Mirror
	selfUpdater   *selfupdate.Updater  // nil without Options.SelfUpdate.Swapper
	feed          *mqttfeed.Feed       // nil without Options.MQTT
	awake         *keepawake.Inhibitor // nil without Options.KeepAwake

	closers closer.Stack
	uiCA    string // the CA file of the local UI's certificate; "" on loopback (plain HTTP)
}

// New opens a node: its listeners and store; it enrols with the cloud on
// first start and pairs with the printers not paired before, asking on
// Stdin unless TrustNewPrinters. It serves and polls nothing before Run.
// On error everything opened is closed again.
func New(ctx context.Context, opts Options) (_ *Node, err error) {
	if opts.DataDir == "" {
		return nil, errors.New("commandcenter: no data directory")
	}
	if opts.CloudURL == "" {
		return nil, errors.New("commandcenter: no cloud URL")
	}
	opts = opts.withDefaults()
	if opts.MQTT.URL != "" {
		if err := opts.MQTT.Validate(); err != nil {
			return nil, fmt.Errorf("commandcenter: %w", err)
		}
	}
	if !localui.IsLoopback(opts.UIHost) && (len(opts.UIHosts) == 0 || opts.UIPassword == "") {
		return nil, fmt.Errorf("commandcenter: -ui-host %s is not loopback: the local UI then needs the host names "+
			"it is reached by (-ui-hosts) and a login (-ui-password-file), or keep it on 127.0.0.1", opts.UIHost)
	}
	n := &Node{opts: opts, log: opts.Logger.With("component", "commandcenter")}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	// First the data directory: a second Command Center on it would pair
	// every printer again and upload from the same outbox.
	lock, err := datadir.Acquire(opts.DataDir, "FusionFleet Command Center")
	if err != nil {
		return nil, fmt.Errorf("commandcenter: %w", err)
	}
	n.closers.Push(lock.Close)
	if opts.DebugListen != "" {
		if n.debugLn, err = httpserver.ListenDebug(ctx, opts.DebugListen); err != nil {
			return nil, fmt.Errorf("commandcenter: -debug-listen: %w", err)
		}
		n.closers.Push(n.debugLn.Close)
	}
	if opts.MTConnectListener != nil {
		n.mtcLn = opts.MTConnectListener
		n.closers.Push(n.mtcLn.Close)
	} else if opts.MTConnectListen != "" {
		if n.mtcLn, err = (&net.ListenConfig{}).Listen(ctx, "tcp", opts.MTConnectListen); err != nil {
			return nil, fmt.Errorf("commandcenter: -mtconnect: %w", err)
		}
		n.closers.Push(n.mtcLn.Close)
	}
	if opts.MirrorListen != "" {
		if n.mirrorLn, err = (&net.ListenConfig{}).Listen(ctx, "tcp", opts.MirrorListen); err != nil {
			return nil, fmt.Errorf("commandcenter: -mirror-listen: %w", err)
		}
		n.closers.Push(n.mirrorLn.Close)
	}
	// Take the local port first: a site with 8080–8090 all taken learns it
	// before anything is enrolled or paired.
	if n.ln, err = commandcenter.ListenLocal(opts.UIHost, opts.UIFirstPort, opts.UILastPort); err != nil {
		return nil, fmt.Errorf("commandcenter: %w", err)
	}
	n.closers.Push(n.ln.Close)
	n.url = "http://" + n.ln.Addr().String() + "/"
	if !localui.IsLoopback(opts.UIHost) {
		// Beyond loopback the UI's password and the site's private names
		// cross the LAN: serve them over TLS, with a certificate of the
		// Command Center's own CA, made once in the data directory, for
		// the host names the UI answers to. A browser trusts the CA file
		// once; the printers fetch updates from MirrorListen, plain HTTP,
		// whose signed metadata needs no transport security.
		ca, err := tlsca.LoadOrCreate(filepath.Join(opts.DataDir, "ui-tls"), opts.UIHosts, opts.Clock.Now())
		if err != nil {
			return nil, fmt.Errorf("commandcenter: local UI certificate: %w", err)
		}
		n.ln = tls.NewListener(n.ln, httpserver.TLS(ca.Server))
		n.uiCA = ca.CAPath
		_, port, _ := net.SplitHostPort(n.ln.Addr().String())
		n.url = "https://" + net.JoinHostPort(opts.UIHosts[0], port) + "/"
	}
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("commandcenter: %w", err)
	}
	// A check run beside this node learns where its local UI listens.
	uiAddr := filepath.Join(opts.DataDir, localUIAddrFile)
	if err := os.WriteFile(uiAddr, []byte(n.ln.Addr().String()+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("commandcenter: %w", err)
	}
	n.closers.Push(func() error { os.Remove(uiAddr); return nil })
	if n.store, err = commandcenter.Open(ctx, filepath.Join(opts.DataDir, "commandcenter.db")); err != nil {
		return nil, err
	}
	n.closers.Push(n.store.Close)
	if n.cert, err = deviceapi.LoadOrCreateClientCertificate(opts.DataDir, opts.Clock.Now()); err != nil {
		return nil, fmt.Errorf("commandcenter: %w", err)
	}
	n.fingerprint = deviceapi.FingerprintOf(n.cert.Certificate[0])
	fmt.Fprintf(opts.Stdout, "this Command Center's fingerprint, to confirm at each printer: %s\n", n.fingerprint)

	client, err := uplink.NewClient(opts.CloudURL, uplink.ClientOptions{RootCAs: opts.RootCAs, Clock: opts.Clock})
	if err != nil {
		return nil, fmt.Errorf("commandcenter: %w", err)
	}
	cred, err := n.enrol(ctx, client)
	if err != nil {
		return nil, err
	}
	if err := n.pairPrinters(ctx); err != nil {
		return nil, err
	}

	// One TLS session cache for all printers: a poll resumes the printer's
	// session instead of a full handshake, and the pin is checked either way.
	sessions := tls.NewLRUClientSessionCache(4096)
	n.poller = commandcenter.NewPoller(n.store, n.dialer(sessions), commandcenter.PollerOptions{Interval: opts.PollInterval, SnapshotInterval: opts.SnapshotInterval, LayersFrom: opts.LayersFrom, Retention: opts.LocalRetention, Clock: opts.Clock, Logger: n.log})
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		commandcenter.NewMetrics(n.store, commandcenter.MetricsOptions{Poller: n.poller, Clock: opts.Clock}))
	// Uploads and the mirror's fetches share the uplink's bandwidth cap.
	budget := commandcenter.NewBudget(opts.RateBytes, 0, opts.Clock)
	if n.mirror, err = n.newUpdateMirror(client, budget); err != nil {
		return nil, fmt.Errorf("commandcenter: %w", err)
	}
	if n.selfUpdater = n.newSelfUpdater(); n.selfUpdater != nil {
		reg.MustRegister(n.selfUpdater)
	}
	// Remote diagnostics come with the uploads' answers and share the cap.
	policy := commandcenter.DiagnosticsAsk
	if opts.DiagnosticsPolicy != "" {
		if policy, err = commandcenter.ParseDiagnosticPolicy(opts.DiagnosticsPolicy); err != nil {
			return nil, fmt.Errorf("commandcenter: %w", err)
		}
	}
	n.diagnostics = commandcenter.NewDiagnosticRunner(n.store, n.poller, gatewayCloud{client, cred}, commandcenter.DiagnosticsOptions{
		Policy: policy, Interval: opts.DiagnosticsInterval, CheckIn: opts.DiagnosticsCheckIn, Budget: budget, Clock: opts.Clock, Logger: n.log})
	var feed localui.MQTTFeed
	if opts.MQTT.URL != "" {
		if n.feed, err = n.newFeed(); err != nil {
			return nil, fmt.Errorf("commandcenter: %w", err)
		}
		feed = n.feed
		reg.MustRegister(n.feed.Metrics())
	}
	var keptAwake func() error
	if opts.KeepAwake {
		n.awake = keepawake.New(keepawake.Options{Logger: n.log})
		keptAwake = n.awake.Status
	}
	n.ui = httpserver.New(localui.NewHandler(localui.SourcesOf(n.store), localui.HandlerOptions{
		Logger: n.log, Clock: opts.Clock, ClockNote: opts.ClockNote, Metrics: reg, Updates: n.mirror, Mirror: n.mirrorHandler(),
		Hosts: opts.UIHosts, Password: opts.UIPassword, Fingerprint: n.fingerprint, DiagnosticsPolicy: n.diagnostics.Policy(), MQTT: feed,
		SelfUpdate: n.selfUpdateStatus(),
		SelfTest: &commandcenter.SelfTestConfig{CloudURL: opts.CloudURL, RootCAs: opts.RootCAs, LocalUI: n.ln.Addr().String(),
			Reader: n.dialer(nil), KeepAwake: keptAwake},
	}), n.log)
	if n.mirrorLn != nil {
		n.mirrorSrv = httpserver.New(n.mirrorHandler(), n.log)
	}
	if n.mtcLn != nil {
		// The agent's uuid is the site's: this Command Center's own.
		uuid := "fusionfleet-agent-" + strings.ToLower(strings.ReplaceAll(string(n.fingerprint), ":", ""))[:16]
		n.mtc = mtconnect.New(n.store, mtconnect.Options{BufferSize: opts.MTConnectBufferSize, UUID: uuid,
			Sender: opts.Name, Clock: opts.Clock, Logger: n.log})
		n.mtcSrv = httpserver.New(n.mtc.Handler(), n.log)
	}
	n.uploader = commandcenter.NewUploader(n.store, gatewayCloud{client, cred}, commandcenter.UploaderOptions{
		Interval: opts.UploadInterval, PriorityDelay: opts.PriorityDelay, BulkInterval: opts.BulkInterval,
		MaxBackoff: opts.MaxBackoff, BatchSize: opts.UploadBatch, Budget: budget, Retryable: uplink.Retryable,
		Clock: opts.Clock, Logger: n.log, OnAck: n.diagnostics.Receive,
	})
	return n, nil
}

// newFeed makes the feed to the site's MQTT broker; its client ID is
// derived from the node's certificate fingerprint (stable, and distinct
// for each Command Center), unless Options.MQTT names one.
func (n *Node) newFeed() (*mqttfeed.Feed, error) {
	o := n.opts.MQTT
	o.Clock, o.Logger = n.opts.Clock, n.log
	if o.ClientID == "" {
		hex := strings.ToLower(strings.ReplaceAll(string(n.fingerprint), ":", ""))
		o.ClientID = "fusionfleet-" + hex[:min(len(hex), 12)]
	}
	return mqttfeed.New(n.store, o)
}

// dialer reaches a printer with the node's client certificate, trusting
// only the pinned printer certificate; sessions, if set, is shared by the
// clients for TLS resumption.
func (n *Node) dialer(sessions tls.ClientSessionCache) commandcenter.Dialer {
	return func(addr string, pin deviceapi.Fingerprint) commandcenter.Device {
		return deviceapi.NewClient(addr, pin, deviceapi.ClientOptions{SessionCache: sessions, Certificate: &n.cert})
	}
}

// Run serves until ctx ends or a part fails, then stops every part and
// closes the node. The parts: the local UI (with the mirror under /tuf/),
// the poller, the uploader, the update mirror's sync, the mirror's own
// listener with MirrorListen, the MTConnect agent with MTConnectListen,
// the MQTT feed with Options.MQTT (which never ends Run for a broker
// that is down), and the self-update with Options.SelfUpdate, which ends
// Run with selfupdate.ErrRestart when the binary on disk changed.
func (n *Node) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return httpserver.Run(ctx, n.log, "local UI", n.ui, func() error { return n.ui.Serve(n.ln) })
	})
	g.Go(func() error { return n.poller.Run(ctx) })
	g.Go(func() error { return n.uploader.Run(ctx) })
	g.Go(func() error { return n.diagnostics.Run(ctx) })
	g.Go(func() error { return n.mirror.Run(ctx) })
	if n.selfUpdater != nil {
		// ErrRestart ends Run like a failure: every part stops and the
		// node closes, then the caller restarts into the binary on disk.
		g.Go(func() error { return n.selfUpdater.Run(ctx) })
	}
	if n.feed != nil {
		g.Go(func() error { return n.feed.Run(ctx) })
	}
	if n.awake != nil {
		g.Go(func() error { return n.awake.Run(ctx) })
	}
	if n.debugLn != nil {
		debug := httpserver.New(httpserver.Debug(), n.log)
		g.Go(func() error {
			return httpserver.Run(ctx, n.log, "debug", debug, func() error { return debug.Serve(n.debugLn) })
		})
	}
	if n.mirrorSrv != nil {
		g.Go(func() error {
			return httpserver.Run(ctx, n.log, "update mirror", n.mirrorSrv, func() error { return n.mirrorSrv.Serve(n.mirrorLn) })
		})
	}
	if n.mtc != nil {
		g.Go(func() error { return n.mtc.Run(ctx) })
		g.Go(func() error {
			return httpserver.Run(ctx, n.log, "mtconnect", n.mtcSrv, func() error { return n.mtcSrv.Serve(n.mtcLn) })
		})
	}
	return errors.Join(g.Wait(), n.Close())
}

// Close closes what New opened, newest first. Run closes the node when it
// returns; Close is for a node that was never run, and may be called again.
func (n *Node) Close() error {
	return n.closers.Close()
}

// URL is the local UI's URL: http://host:port/ on loopback; beyond it
// https:// with the first of Options.UIHosts. The printers read updates
// under its /tuf/ (on loopback) or from MirrorListen.
func (n *Node) URL() string { return n.url }

// UICAFile is the CA certificate (PEM) a browser trusts to open the local
// UI over HTTPS; "" while the UI stays on loopback, over plain HTTP.
func (n *Node) UICAFile() string { return n.uiCA }

// DebugAddr is the address of the profiling listener; nil without
// Options.DebugListen.
func (n *Node) DebugAddr() net.Addr {
	if n.debugLn == nil {
		return nil
	}
	return n.debugLn.Addr()
}

// MirrorAddr is the address of the mirror's own listener; nil without
// Options.MirrorListen.
func (n *Node) MirrorAddr() net.Addr {
	if n.mirrorLn == nil {
		return nil
	}
	return n.mirrorLn.Addr()
}

// MTConnectURL is the MTConnect agent's base URL (http://host:port/);
// "" without Options.MTConnectListen.
func (n *Node) MTConnectURL() string {
	if n.mtcLn == nil {
		return ""
	}
	return "http://" + n.mtcLn.Addr().String() + "/"
}

// Fingerprint is the fingerprint of the node's client certificate: what
// the operator confirms at each printer to pair this Command Center.
func (n *Node) Fingerprint() deviceapi.Fingerprint { return n.fingerprint }

// Fingerprint returns the fingerprint of the client certificate of the
// node kept in dataDir, making the certificate if it does not exist yet:
// the same certificate New loads. The operator may learn it, and pair it
// at the printers, before the node first starts.
func Fingerprint(dataDir string, now time.Time) (deviceapi.Fingerprint, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", fmt.Errorf("commandcenter: %w", err)
	}
	cert, err := deviceapi.LoadOrCreateClientCertificate(dataDir, now)
	if err != nil {
		return "", fmt.Errorf("commandcenter: %w", err)
	}
	return deviceapi.FingerprintOf(cert.Certificate[0]), nil
}

// Store is the node's local store.
func (n *Node) Store() *commandcenter.Store { return n.store }
