package cloud

import (
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/dashboard"
	"github.com/fusionfleet/fusionfleet/internal/notify"
	"github.com/fusionfleet/fusionfleet/internal/retention"
	"github.com/fusionfleet/fusionfleet/internal/stream"
)

// Options configure a node. Only DataDir is required; the zero value of
// every other field works.
type Options struct {
	// DataDir holds what the node keeps on disk: the SQLite store, the
	// embedded stream, the generated CA and the update repository.
	DataDir string
	// DB is the store: "" → cloud.db in DataDir, a SQLite file path
	// (optionally "sqlite:PATH"), or a postgres:// URL.
	DB string
	// MaxDBSize caps a SQLite store's file in bytes (0: no cap;
	// store.Options.MaxSQLiteBytes): past it the SQL writer's
	// transactions fail as on a full disk, it logs an error and leaves
	// the messages in the stream, and the uplink keeps them there too.
	MaxDBSize int64
	// NATSURL is an external NATS JetStream, "URL[,URL…]"; "" → an
	// embedded server stored in DataDir. Replicas (0 → 1) is the stream's
	// replication; more than 1 needs an external cluster. StreamName
	// (""→ the default) lets nodes of several clouds share one NATS.
	NATSURL    string
	Replicas   int
	StreamName string
	// NATSCredentials and NATSTLS authenticate the node to the external
	// NATS and secure the connection (see stream.Credentials and
	// stream.TLS); both must be zero without NATSURL, as the embedded
	// server has no network listener.
	NATSCredentials stream.Credentials
	NATSTLS         stream.TLS

	// Listen is the HTTPS address: uplink, updates and dashboard; "" →
	// 127.0.0.1:0, any free loopback port.
	Listen string
	// DashboardListen, if set, serves the dashboard, the REST API and
	// metrics alone over plain HTTP, for the demo on loopback (a browser
	// needs no certificate exception). Session cookies are then sent
	// without the Secure attribute, so that the browser returns them.
	DashboardListen string
	// Listener and DashboardListener, if set, serve instead of Listen and
	// DashboardListen, for a caller that picks the ports itself (the demo
	// keeps them across restarts). The node closes them, also when New
	// fails.
	Listener, DashboardListener net.Listener
	// Hosts name the node: the first is the host of its URL when Listen
	// is unspecified, and all go into the generated server certificate;
	// nil → localhost and 127.0.0.1.
	Hosts []string
	// TLSCertFile and TLSKeyFile are the server certificate and key (PEM)
	// from an operator's PKI; both "" → a certificate from a CA generated
	// in DataDir (CAPath tells where its certificate is).
	TLSCertFile, TLSKeyFile string

	Clock  clock.Clock  // nil → the real clock
	Logger *slog.Logger // nil → discard
	// Registry receives the node's metrics and is what /metrics serves;
	// nil → a registry of the node's own with the Go and process
	// collectors (never the global one).
	Registry *prometheus.Registry
	// MaxRecordAhead is how far ahead of the node's clock a record may be
	// dated (uplink.HandlerOptions.MaxAhead): 0 → 24 hours, negative → no
	// bound (the demo, whose printers' clocks run fast on purpose).
	MaxRecordAhead time.Duration
	// UplinkRecordsPerSecond and UplinkBytesPerSecond bound each
	// gateway's uploads (uplink.HandlerOptions.RecordsPerSecond and
	// BytesPerSecond): 0 → the uplink's defaults, negative → no bound
	// (the demo, whose Command Centers back-fill weeks of simulated
	// history on loopback as fast as the store takes it).
	UplinkRecordsPerSecond, UplinkBytesPerSecond float64
	// UplinkSkew is how far a gateway's signed request time may be from
	// the node's clock (uplink.HandlerOptions.Skew); 0 → the uplink's
	// default. The demo widens it: while its clock fast-forwards through
	// the simulated past, a request's flight takes demo hours.
	UplinkSkew time.Duration
	// AlertSweepFrom holds the alert sweeps (offline printers, stalled
	// jobs) until Clock reaches it (alert.Options.SweepFrom): the demo's
	// clock fills weeks of past at a day per second, during which every
	// printer would look silent.
	AlertSweepFrom time.Time
	// OfflineAfter is how long a printer may go unreported before the
	// dashboard calls it offline and an offline alert opens; 0 → their
	// defaults (3 and 10 minutes). StallAfter is how long a printing job
	// may finish no layer before a stalled-job alert; 0 → 30 minutes. The
	// demo lengthens both: its clock runs -speed times real time, while
	// its Command Centers poll and upload in real seconds.
	OfflineAfter, StallAfter time.Duration
	// MetricsTokenFile holds the bearer token /metrics asks for
	// ("Authorization: Bearer …", 401 without it); "" → metrics are
	// public.
	MetricsTokenFile string
	// DebugListen, if set, is a loopback address (127.0.0.1:6060) where
	// Go's profiles are served under /debug/pprof/; "" → none.
	DebugListen string

	// Notify configures alert e-mails and webhooks; the zero value sends
	// webhooks only.
	Notify NotifyOptions
	// TUFDir is the update repository ("" → tuf in DataDir), as "fusionfleet
	// release export" writes it; it may appear after the start.
	// ReleaseTokenFile holds the token "fusionfleet release publish" must
	// present; "" disables publishing.
	TUFDir, ReleaseTokenFile string
	// AirgapKeyFile is the cloud's air-gap key (uplink.CloudKey): it
	// decrypts the bundles of air-gapped sites and signs their
	// acknowledgements. "" → airgap.key in DataDir, made on first start.
	AirgapKeyFile string
	// Retention is how long the store keeps each kind of data; the zero
	// value keeps the defaults of package retention.
	Retention retention.Retention
	// RetentionEvery is how often, in real time, the store is pruned as of
	// Clock; 0 → every hour. A soak on an accelerated clock prunes every
	// few simulated hours, as a real node prunes every hour.
	RetentionEvery time.Duration
	// WallClock is real time where Clock is simulated (the demo): the
	// clock of people and of the node's own pace — logins, two-factor
	// codes, sessions and the login throttle (dashboard.Options.AuthClock),
	// and how long the alerts wait for the SQL writer
	// (alert.Options.WaitClock). nil → Clock.
	WallClock clock.Clock
	// SessionTTL is how long a dashboard login lasts; 0 → the
	// dashboard's default.
	SessionTTL time.Duration
	// TrustedProxies are the reverse proxies in front of the dashboard
	// (dashboard.Options.TrustedProxies); none → X-Forwarded-For ignored.
	TrustedProxies []netip.Prefix
	// Demo, if set, labels every dashboard page with the demo's clock
	// (Clock should then be that clock).
	Demo *dashboard.DemoClock
}

// NotifyOptions are a node's notification settings.
type NotifyOptions struct {
	// SMTP is the server alert e-mails go through; an empty Addr sends
	// none.
	SMTP notify.SMTPOptions
	// SMTPCAFile is a PEM file of the CAs the SMTP server's certificate
	// is checked against; "" → the system's.
	SMTPCAFile string
	// AllowPrivateWebhooks lets webhooks reach loopback, private,
	// link-local and other special-purpose addresses (closed on-premises
	// networks only); the dashboard and the REST API then accept such
	// addresses in webhook URLs too.
	AllowPrivateWebhooks bool
	// DashboardURL is linked from alert e-mails; "" → none.
	DashboardURL string
}

func (o Options) withDefaults() Options {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.Hosts == nil {
		o.Hosts = []string{"localhost", "127.0.0.1"}
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.WallClock == nil {
		o.WallClock = o.Clock
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
