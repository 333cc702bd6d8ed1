package localui

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/httpserver"
	"github.com/fusionfleet/fusionfleet/internal/selfupdate"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

//go:embed openapi.json
var openAPIDoc []byte

// outboxWarnDepth is the outbox depth at which the page flags the uplink.
const outboxWarnDepth = 10000

// Limits of the local API's lists.
const (
	defaultListLimit = 100
	pageListLimit    = 200
	maxListLimit     = 10000
	// maxPayloadShown bounds the payload the upload page shows inline; the
	// API serves all of it.
	maxPayloadShown = 2 << 20
	// selfTestCache is how long a self-test report is shown before the
	// next request runs the test again.
	selfTestCache = 15 * time.Second
	// consumablesWindow is how far back the consumables plots reach.
	consumablesWindow = 7 * 24 * time.Hour
)

// csp allows the page only its own script and style: no inline script,
// no external font or CDN (the plots are inline SVG). Forms may post to
// this UI only: the update policy and approvals are forms, and a browser
// enforces form-action where Go's HTTP client does not.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// HandlerOptions tunes the local UI. The zero value works.
type HandlerOptions struct {
	Logger *slog.Logger // nil → discard
	Clock  clock.Clock  // nil → the real clock
	// ClockNote, if set, is said on every page about the clock its times
	// are on (the demo's, which runs fast); "" → nothing.
	ClockNote string
	// Metrics is served at /metrics (commandcenter.NewMetrics and the
	// process collectors); nil → an empty registry.
	Metrics prometheus.Gatherer
	// SelfTest configures the self-test page and GET /api/selftest. Its
	// Printers and Uplink are filled in from the store at every run, and
	// LocalUI from the address a request came in on. nil → the self-test
	// answers 503 "not configured".
	SelfTest *commandcenter.SelfTestConfig
	// StaleAfter is how long without a successful upload the pages accept
	// before they warn (R-ARCH-8); 0 → DefaultStaleAfter.
	StaleAfter time.Duration
	// Updates is the update mirror whose releases the Updates page lists
	// and approves; nil → the page says updates are not configured.
	Updates commandcenter.Mirror
	// Mirror, if set, is served under /tuf/: the update mirror and the
	// site's approvals, for printers that read updates from the UI's port.
	Mirror http.Handler
	// Hosts are the names, besides localhost, 127.0.0.0/8 and [::1], by
	// which the UI may be addressed: host names or IP addresses, each
	// with the listener's port unless it names one ("cc.site.example",
	// "192.0.2.7:80"). Requests with another Host are refused with 421
	// before any route runs, /tuf/ and /metrics included, and writes
	// whose Origin is not one of these names with 403 (DNS rebinding).
	Hosts []string
	// Fingerprint is this Command Center's client certificate fingerprint,
	// which the operator confirms at each printer to pair it; shown on the
	// printers page and in GET /api/printers. "" → not shown.
	Fingerprint deviceapi.Fingerprint
	// Password, if set, is the local login: every request but /healthz
	// and /tuf/ must present it with HTTP Basic authentication (any user
	// name), or is answered 401. Needed where the UI listens on more than
	// loopback.
	Password string
	// DiagnosticsPolicy is the site's policy on remote diagnostics, shown
	// on the Diagnostics page; "" → commandcenter.DiagnosticsAsk.
	DiagnosticsPolicy commandcenter.DiagnosticPolicy
	// MQTT is the site's feed to its MQTT broker, whose state the
	// Printers page shows; nil → no feed.
	MQTT MQTTFeed
	// SelfUpdate, if set, reports this Command Center's version and the
	// update of its own binary, shown on the Updates page; nil → not shown.
	SelfUpdate SelfUpdateFunc
	// Probe reads what the printer at addr presents before pairing (a
	// seam for the tests); nil → commandcenter.ProbePrinter.
	Probe func(ctx context.Context, addr string) (commandcenter.Found, error)
}

// SelfUpdateFunc reports the Command Center's own version and upgrades
// (selfupdate.Updater.Status).
type SelfUpdateFunc func() selfupdate.Status

// route is one entry of the local UI's route table: the mux is built from
// it, and the OpenAPI document must describe exactly its API routes.
type route struct {
	pattern string // ServeMux pattern, "GET /api/jobs"
	api     bool   // JSON API, described in openapi.json
	serve   func(w http.ResponseWriter, r *http.Request) error
}

// localUI serves the Command Center's pages and JSON API.
type localUI struct {
	src     Sources
	opts    HandlerOptions
	log     *slog.Logger
	pages   map[string]*template.Template
	metrics http.Handler

	selfMu   sync.Mutex // held while a self-test runs
	selfLast commandcenter.Report

	drainMu   sync.Mutex
	drainPeak int // the outbox depth at the start of the current drain
}

// NewHandler returns the Command Center's local UI and API (R-ARCH-6):
// pages for the printers, jobs, consumables, alerts, the upload log ("what
// was sent", R-PRIV-5) and the self-test; the same data as JSON under
// /api/, described by /api/openapi.json; Prometheus metrics at /metrics;
// and /healthz. See routes for the list.
//
// The pages and API show private names (job, part and user names): they
// are for the site, and the listener should bind loopback. There is no
// login: requests are served only when addressed to a loopback name or
// one of opts.Hosts, on the port they came in on.
func NewHandler(src Sources, opts HandlerOptions) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.StaleAfter <= 0 {
		opts.StaleAfter = commandcenter.DefaultStaleAfter
	}
	if opts.Metrics == nil {
		opts.Metrics = prometheus.NewRegistry()
	}
	log := opts.Logger.With("component", "localui")
	u := &localUI{
		src: src, opts: opts, log: log, pages: parsePages(),
		metrics: promhttp.HandlerFor(opts.Metrics, promhttp.HandlerOpts{
			ErrorLog:            slog.NewLogLogger(log.Handler(), slog.LevelWarn),
			ErrorHandling:       promhttp.ContinueOnError,
			MaxRequestsInFlight: 4,
		}),
	}
	mux := http.NewServeMux()
	for _, rt := range u.routes() {
		mux.HandleFunc(rt.pattern, func(w http.ResponseWriter, r *http.Request) {
			if err := rt.serve(w, r); err != nil {
				u.writeError(w, r, err)
			}
		})
	}
	// The forms (updates, diagnostics, printers) and the API's POST routes
	// are the only requests that change anything; a page of another site
	// open in the same browser must not submit them.
	cop := http.NewCrossOriginProtection()
	ui := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<10) // no route takes more than a small form
		if err := cop.Check(r); err != nil {
			http.Error(w, "cross-origin request refused", http.StatusForbidden)
			return
		}
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		// same-origin, not no-referrer: under no-referrer a browser sends
		// "Origin: null" with a form's POST, and the origin check of
		// hostSet.guard refuses that; same-origin still sends no
		// referrer to any other site.
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", csp)
		mux.ServeHTTP(w, r)
	})
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if opts.Mirror != nil && strings.HasPrefix(r.URL.Path, "/tuf/") {
			opts.Mirror.ServeHTTP(w, r)
			return
		}
		ui.ServeHTTP(w, r)
	})
	if opts.Password != "" {
		h = requirePassword(opts.Password, h)
	}
	return newHostSet(opts.Hosts).guard(h)
}

// routes is the route table of the local UI.
func (u *localUI) routes() []route {
	return []route{
		{pattern: "GET /{$}", serve: u.printersPage},
		{pattern: "GET /jobs", serve: u.jobsPage},
		{pattern: "GET /consumables", serve: u.consumablesPage},
		{pattern: "GET /alerts", serve: u.alertsPage},
		{pattern: "GET /uploads", serve: u.uploadsPage},
		{pattern: "GET /uploads/{id}", serve: u.uploadPage},
		{pattern: "GET /selftest", serve: u.selfTestPage},
		{pattern: "GET /updates", serve: u.updatesPage},
		{pattern: "POST /updates/policy", serve: u.setUpdatePolicy},
		{pattern: "POST /updates/{target}/approve", serve: u.approval(true)},
		{pattern: "POST /updates/{target}/withdraw", serve: u.approval(false)},
		{pattern: "GET /diagnostics", serve: u.diagnosticsPage},
		{pattern: "POST /diagnostics/{id}/approve", serve: u.decision(true)},
		{pattern: "POST /diagnostics/{id}/refuse", serve: u.decision(false)},
		{pattern: "GET /diagnostics/{id}/result", serve: u.diagnosticResult},
		{pattern: "GET /static/", serve: serveStatic},
		{pattern: "GET /metrics", serve: func(w http.ResponseWriter, r *http.Request) error { u.metrics.ServeHTTP(w, r); return nil }},
		{pattern: "GET /healthz", serve: u.healthz},
		{pattern: "GET /printers/manage", serve: u.manage},
		{pattern: "POST /printers/probe", serve: u.formProbe},
		{pattern: "POST /printers/pair", serve: u.formPair},
		{pattern: "POST /printers/discover", serve: u.formDiscover},
		{pattern: "POST /printers/pending/dismiss", serve: u.formDismiss},
		{pattern: "POST /printers/{id}/rename", serve: u.formChange("rename")},
		{pattern: "POST /printers/{id}/move", serve: u.formMove},
		{pattern: "POST /printers/{id}/retire", serve: u.formChange("retire")},
		{pattern: "POST /printers/{id}/reactivate", serve: u.formChange("reactivate")},

		{pattern: "GET /api/printers", api: true, serve: u.apiPrinters},
		{pattern: "POST /api/printers", api: true, serve: u.apiPair},
		{pattern: "GET /api/printers/pending", api: true, serve: u.apiPendingPrinters},
		{pattern: "POST /api/printers/probe", api: true, serve: u.apiProbe},
		{pattern: "POST /api/printers/discover", api: true, serve: u.apiDiscover},
		{pattern: "POST /api/printers/pending/dismiss", api: true, serve: u.apiDismiss},
		{pattern: "POST /api/printers/{id}/rename", api: true, serve: u.apiChange("rename")},
		{pattern: "POST /api/printers/{id}/move", api: true, serve: u.apiMove},
		{pattern: "POST /api/printers/{id}/retire", api: true, serve: u.apiChange("retire")},
		{pattern: "POST /api/printers/{id}/reactivate", api: true, serve: u.apiChange("reactivate")},
		{pattern: "GET /api/jobs", api: true, serve: u.apiJobs},
		{pattern: "GET /api/events", api: true, serve: u.apiEvents},
		{pattern: "GET /api/alerts", api: true, serve: u.apiAlerts},
		{pattern: "GET /api/gaps", api: true, serve: u.apiGaps},
		{pattern: "GET /api/consumables", api: true, serve: u.apiConsumables},
		{pattern: "GET /api/outbox", api: true, serve: u.apiOutbox},
		{pattern: "GET /api/uploads", api: true, serve: u.apiUploads},
		{pattern: "GET /api/uploads/{id}", api: true, serve: u.apiUpload},
		{pattern: "GET /api/selftest", api: true, serve: u.apiSelfTest},
		{pattern: "GET /api/updates", api: true, serve: u.apiUpdates},
		{pattern: "GET /api/diagnostics", api: true, serve: u.apiDiagnostics},
		{pattern: "GET /api/openapi.json", api: true, serve: serveOpenAPI},
	}
}

// NewServer returns an HTTP server for h with the timeouts and header
// limit every listener of the Command Center must have. Serve it on the
// listener from ListenLocal.
func NewServer(h http.Handler, logger *slog.Logger) *http.Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		// The self-test page waits for its checks (10 s each, a few in
		// sequence) before it writes.
		WriteTimeout:   90 * time.Second,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(logger.With("component", "localui").Handler(), slog.LevelWarn),
	}
}

// Errors of the local API that a client can act on.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func badRequestf(format string, args ...any) error {
	return &badRequest{msg: fmt.Sprintf(format, args...)}
}

// errSelfTestOff: the handler was given no self-test configuration.
var errSelfTestOff = errors.New("the self-test is not configured")

// writeError answers err once, at the edge: 400 with its message for a
// bad request, 404 for fleet.ErrNotFound, 503 for the self-test being
// off, 500 without details otherwise (and logged). The API answers JSON,
// the pages text.
func (u *localUI) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := http.StatusInternalServerError, "internal error, see the Command Center log"
	var (
		bad         *badRequest
		unreachable *unreachableError
		conflict    *pinConflict
		extra       = map[string]string{}
	)
	switch {
	case errors.As(err, &bad):
		status, msg = http.StatusBadRequest, bad.msg
	case errors.As(err, &unreachable):
		status, msg = http.StatusBadGateway, unreachable.Error()
	case errors.As(err, &conflict):
		status, msg = http.StatusConflict, conflict.msg
		extra["fingerprint"] = string(conflict.presented)
	case errors.Is(err, fleet.ErrConflict), errors.Is(err, deviceapi.ErrPinMismatch):
		status, msg = http.StatusConflict, err.Error()
	case errors.Is(err, fleet.ErrNotFound):
		status, msg = http.StatusNotFound, "not found"
	case errors.Is(err, errSelfTestOff), errors.Is(err, errUpdatesOff), errors.Is(err, errDiagnosticsOff), errors.Is(err, errManageOff):
		status, msg = http.StatusServiceUnavailable, err.Error()
	case httpserver.ClientGone(r):
		u.log.Debug("request ended by the client", "path", r.URL.Path, "err", err)
		return
	default:
		u.log.Error("local request failed", "path", r.URL.Path, "err", err)
	}
	if strings.HasPrefix(r.URL.Path, "/api/") {
		extra["error"] = msg
		encode(w, status, extra)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintln(w, msg)
}

func encode(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func serveStatic(w http.ResponseWriter, r *http.Request) error {
	name := strings.TrimPrefix(r.URL.Path, "/static/")
	if name == "" || strings.Contains(name, "/") {
		return fleet.ErrNotFound
	}
	b, err := fs.ReadFile(staticFS, "static/"+name)
	if err != nil {
		return fleet.ErrNotFound
	}
	switch {
	case strings.HasSuffix(name, ".js"):
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case strings.HasSuffix(name, ".css"):
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case strings.HasSuffix(name, ".svg"):
		w.Header().Set("Content-Type", "image/svg+xml")
	default:
		return fleet.ErrNotFound
	}
	w.Header().Set("Cache-Control", "max-age=300")
	w.Write(b)
	return nil
}

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPIDoc)
	return nil
}

func (u *localUI) healthz(w http.ResponseWriter, r *http.Request) error {
	if _, err := u.src.Queue.PendingCount(r.Context()); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
	return nil
}

// OpenAPI returns the OpenAPI document of the local API, as the local UI
// serves it on GET /api/openapi.json.
func OpenAPI() []byte {
	return bytes.Clone(openAPIDoc)
}
