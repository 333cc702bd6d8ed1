package site

import (
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/mqttfeed"
)

// DefaultUpdateInterval is how often the update mirror, and the printers
// reading from it, look for new releases.
const DefaultUpdateInterval = 5 * time.Minute

// Options configure a node. DataDir and CloudURL are required; the zero
// value of every other field works.
type Options struct {
	// DataDir holds what the node keeps on disk: the local store (with
	// the outbox and the gateway's credentials) and the update mirror.
	DataDir string
	// CloudURL is the cloud's base URL (https://…); RootCAs verify it,
	// nil → the system's.
	CloudURL string
	RootCAs  *x509.CertPool
	// EnrolToken is the one-time enrolment token from the cloud, needed
	// only until the node has enrolled; Name is what the cloud shows for
	// the node ("" → "Command Center").
	EnrolToken string
	Name       string

	// Printers are the host:port addresses of the printers to pair with;
	// those paired before are kept. TrustNewPrinters pins a new printer's
	// certificate without asking on Stdin (only where the LAN is trusted).
	Printers         []string
	TrustNewPrinters bool

	// UIHost is the local UI's interface ("" → 127.0.0.1); it takes the
	// first free port of UIFirstPort–UILastPort, both 0 → any free port.
	UIHost                  string
	UIFirstPort, UILastPort int
	// UIHosts are the names, besides the loopback ones, by which browsers
	// may address the local UI (localui.HandlerOptions.Hosts); requests
	// with another Host are refused. UIPassword is the UI's login
	// (localui.HandlerOptions.Password); "" → none. A UIHost that is not
	// loopback needs both, or New refuses to start.
	UIHosts    []string
	UIPassword string
	// MirrorListen, if set, is the address where the update mirror is
	// served alone, for printers on the LAN while the local UI stays on
	// loopback.
	MirrorListen string
	// MTConnectListen, if set, is the address where the MTConnect agent
	// (package mtconnect) serves the printers to the site's MES: plain
	// HTTP, read-only, as MTConnect clients speak it; "" → off.
	// MTConnectBufferSize is its circular buffer's size in observations;
	// 0 → mtconnect.DefaultBufferSize.
	MTConnectListen     string
	MTConnectBufferSize int
	// MTConnectListener, if set, is the agent's listener instead of one on
	// MTConnectListen (the demo keeps its port across restarts); the node
	// closes it.
	MTConnectListener net.Listener
	// DebugListen, if set, is a loopback address (127.0.0.1:6061) where
	// Go's profiles are served under /debug/pprof/; "" → none.
	DebugListen string

	// PollInterval is how often printers are polled for status, and
	// SnapshotInterval how often counters and consumables are read;
	// 0 → the poller's defaults.
	PollInterval, SnapshotInterval time.Duration
	// LayersFrom, if set, passes over the printers' layers that ended
	// before it (commandcenter.PollerOptions.LayersFrom): the demo's
	// simulated past goes without per-layer data.
	LayersFrom time.Time
	// LocalRetention is how long, on Clock, the local history (events,
	// jobs, snapshots) is kept (commandcenter.PollerOptions.Retention);
	// 0 → the poller's default.
	LocalRetention time.Duration
	// ClockNote, if set, is said on every page of the local UI about the
	// clock its times are on (the demo's).
	ClockNote string
	// UploadInterval, PriorityDelay (how long a routine status waits for
	// company; a change of state waits the uploader's ChangeDelay)
	// and BulkInterval (how often bulk data goes) pace the uploader;
	// 0 → its defaults. MaxBackoff is the longest wait between failed
	// uploads; 0 → 30 s, so that a cloud that is back hears from the site
	// within 30 s.
	UploadInterval, PriorityDelay, BulkInterval, MaxBackoff time.Duration
	// UploadBatch is the most records an upload carries
	// (commandcenter.UploaderOptions.BatchSize); 0 → its default. The
	// soak's accelerated fleet needs larger batches to keep up.
	UploadBatch int
	// UpdateInterval is how often the mirror syncs; 0 →
	// DefaultUpdateInterval.
	UpdateInterval time.Duration
	// RateBytes caps the uplink in bytes per second, TLS handshakes
	// included; 0 → the uploader's default, < 0 → no cap.
	RateBytes float64
	// DiagnosticsPolicy is how the site decides on the cloud's remote
	// diagnostic requests: ask (approve each in the local UI) or auto;
	// "" → ask.
	DiagnosticsPolicy string
	// DiagnosticsInterval is how often the diagnostics runner looks for
	// work; 0 → its default (2 s). DiagnosticsCheckIn is how long the site
	// waits for an upload's answer before it asks the cloud for requests
	// itself (a site whose printers are all off uploads nothing); 0 → its
	// default (5 min).
	DiagnosticsInterval, DiagnosticsCheckIn time.Duration

	// MQTT, with its URL set, publishes the site's printers, events and
	// job changes to the customer's MQTT broker (package mqttfeed); its
	// Clock and Logger are the node's, its ClientID "" → one derived from
	// the node's fingerprint. URL "" → no feed.
	MQTT mqttfeed.Options

	// KeepAwake keeps the host from sleeping while the node runs (package
	// keepawake); the local UI's self-test warns when it cannot.
	KeepAwake bool

	// SelfUpdate updates the node's own binary through the update
	// repository (package selfupdate); its zero value does not.
	SelfUpdate SelfUpdate

	Clock  clock.Clock  // nil → the real clock
	Logger *slog.Logger // nil → discard
	// Stdin answers the pairing question; Stdout receives the enrolment
	// and pairing messages and the question. nil → no answer (a new
	// printer is not paired unless trusted) and no messages.
	Stdin  io.Reader
	Stdout io.Writer
}

func (o Options) withDefaults() Options {
	if o.Name == "" {
		o.Name = "Command Center"
	}
	if o.UIHost == "" {
		o.UIHost = "127.0.0.1"
	}
	if o.UpdateInterval <= 0 {
		o.UpdateInterval = DefaultUpdateInterval
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Stdin == nil {
		o.Stdin = strings.NewReader("")
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	return o
}
