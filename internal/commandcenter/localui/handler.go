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
	"math"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/outbox"
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
// no external font or CDN (the plots are inline SVG).
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// HandlerOptions tunes the local UI. The zero value works.
type HandlerOptions struct {
	Logger *slog.Logger // nil → discard
	Clock  clock.Clock  // nil → the real clock
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
}

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
// are for the site, and the listener should bind loopback.
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
	// The update forms are the only requests that change anything; a page
	// of another site open in the same browser must not submit them.
	cop := http.NewCrossOriginProtection()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<10) // no route takes more than a small form
		if err := cop.Check(r); err != nil {
			http.Error(w, "cross-origin request refused", http.StatusForbidden)
			return
		}
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", csp)
		mux.ServeHTTP(w, r)
	})
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
		{pattern: "GET /static/", serve: serveStatic},
		{pattern: "GET /metrics", serve: func(w http.ResponseWriter, r *http.Request) error { u.metrics.ServeHTTP(w, r); return nil }},
		{pattern: "GET /healthz", serve: u.healthz},

		{pattern: "GET /api/printers", api: true, serve: u.apiPrinters},
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
	var bad *badRequest
	switch {
	case errors.As(err, &bad):
		status, msg = http.StatusBadRequest, bad.msg
	case errors.Is(err, fleet.ErrNotFound):
		status, msg = http.StatusNotFound, "not found"
	case errors.Is(err, errSelfTestOff), errors.Is(err, errUpdatesOff):
		status, msg = http.StatusServiceUnavailable, err.Error()
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		return // the client left
	default:
		u.log.Error("local request failed", "path", r.URL.Path, "err", err)
	}
	if strings.HasPrefix(r.URL.Path, "/api/") {
		encode(w, status, map[string]string{"error": msg})
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

// Query parameters of the list routes.

func queryInt(r *http.Request, name string, def, lo, hi int64) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, badRequestf("query parameter %s=%q: want an integer in %d–%d", name, s, lo, hi)
	}
	return n, nil
}

func queryTime(r *http.Request, name string, def time.Time) (time.Time, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, badRequestf("query parameter %s=%q: want an RFC 3339 time", name, s)
	}
	return t, nil
}

// listQuery reads ?printer= (a local printer ID, 0 or absent for all) and
// ?limit=.
func listQuery(r *http.Request) (printer int64, limit int, err error) {
	if printer, err = queryInt(r, "printer", 0, 0, math.MaxInt64); err != nil {
		return 0, 0, err
	}
	l, err := queryInt(r, "limit", defaultListLimit, 1, maxListLimit)
	return printer, int(l), err
}

// Snapshot is the answer of GET /api/printers.
type Snapshot struct {
	Printers []commandcenter.Printer   `json:"printers"`
	Pending  int                       `json:"outbox_pending"`
	Uplink   commandcenter.UplinkState `json:"uplink"`
}

func snapshot(ctx context.Context, src Sources) (Snapshot, error) {
	var s Snapshot
	var err error
	if s.Printers, err = src.Printers.Printers(ctx); err != nil {
		return Snapshot{}, err
	}
	if s.Pending, err = src.Queue.PendingCount(ctx); err != nil {
		return Snapshot{}, err
	}
	if s.Uplink, err = src.Uplink.UplinkState(ctx); err != nil {
		return Snapshot{}, err
	}
	return s, nil
}

func (u *localUI) apiPrinters(w http.ResponseWriter, r *http.Request) error {
	snap, err := snapshot(r.Context(), u.src)
	if err != nil {
		return err
	}
	if snap.Printers == nil {
		snap.Printers = []commandcenter.Printer{}
	}
	encode(w, http.StatusOK, snap)
	return nil
}

// list answers a list, [] rather than null when empty.
func list[T any](w http.ResponseWriter, items []T) {
	if items == nil {
		items = []T{}
	}
	encode(w, http.StatusOK, items)
}

func (u *localUI) apiJobs(w http.ResponseWriter, r *http.Request) error {
	printer, limit, err := listQuery(r)
	if err != nil {
		return err
	}
	jobs, err := u.src.Printers.Jobs(r.Context(), printer, limit)
	if err != nil {
		return err
	}
	list(w, jobs)
	return nil
}

func (u *localUI) apiEvents(w http.ResponseWriter, r *http.Request) error {
	printer, limit, err := listQuery(r)
	if err != nil {
		return err
	}
	evs, err := u.src.Printers.Events(r.Context(), printer, limit)
	if err != nil {
		return err
	}
	list(w, evs)
	return nil
}

// alerts returns up to limit events of severity warning or worse, newest
// first, among the newest maxListLimit events.
func (u *localUI) alerts(ctx context.Context, printer int64, limit int) ([]commandcenter.LocalEvent, error) {
	evs, err := u.src.Printers.Events(ctx, printer, maxListLimit)
	if err != nil {
		return nil, err
	}
	var out []commandcenter.LocalEvent
	for _, e := range evs {
		if e.Event.Severity >= fleet.SeverityWarning {
			out = append(out, e)
			if len(out) == limit {
				break
			}
		}
	}
	return out, nil
}

func (u *localUI) apiAlerts(w http.ResponseWriter, r *http.Request) error {
	printer, limit, err := listQuery(r)
	if err != nil {
		return err
	}
	as, err := u.alerts(r.Context(), printer, limit)
	if err != nil {
		return err
	}
	list(w, as)
	return nil
}

func (u *localUI) apiGaps(w http.ResponseWriter, r *http.Request) error {
	printer, limit, err := listQuery(r)
	if err != nil {
		return err
	}
	gs, err := u.src.Printers.Gaps(r.Context(), printer, limit)
	if err != nil {
		return err
	}
	list(w, gs)
	return nil
}

func (u *localUI) apiConsumables(w http.ResponseWriter, r *http.Request) error {
	printer, err := queryInt(r, "printer", 0, 1, math.MaxInt64)
	if err != nil {
		return err
	}
	if printer == 0 {
		return badRequestf("query parameter printer is required")
	}
	now := u.opts.Clock.Now()
	from, err := queryTime(r, "from", now.Add(-consumablesWindow))
	if err != nil {
		return err
	}
	to, err := queryTime(r, "to", now.Add(time.Second))
	if err != nil {
		return err
	}
	if !from.Before(to) {
		return badRequestf("from must be before to")
	}
	ss, err := u.src.Printers.ConsumablesHistory(r.Context(), printer, from, to)
	if err != nil {
		return err
	}
	list(w, ss)
	return nil
}

// Drain is the progress of the outbox's drain after a backlog built up:
// Sent of Backlog records are gone since the largest depth this process
// saw.
type Drain struct {
	Backlog  int     `json:"backlog"`
	Sent     int     `json:"sent"`
	Progress float64 `json:"progress"` // 0..1
}

// OutboxView is the answer of GET /api/outbox.
type OutboxView struct {
	outbox.State
	Draining   *Drain                    `json:"draining,omitempty"`
	Bandwidth  commandcenter.Bandwidth   `json:"bandwidth"`
	Uplink     commandcenter.UplinkState `json:"uplink"`
	Quarantine []outbox.Quarantine       `json:"quarantine"`
	Drops      []outbox.Drop             `json:"drops"`
}

// drainMin is the depth from which a shrinking outbox counts as draining.
const drainMin = 100

// drain tracks the outbox's depth: a backlog of at least drainMin
// records that shrinks is draining until it is empty.
func (u *localUI) drain(pending int) *Drain {
	u.drainMu.Lock()
	defer u.drainMu.Unlock()
	if pending == 0 {
		u.drainPeak = 0
	}
	u.drainPeak = max(u.drainPeak, pending)
	if u.drainPeak < drainMin || pending == u.drainPeak {
		return nil
	}
	d := &Drain{Backlog: u.drainPeak, Sent: u.drainPeak - pending}
	d.Progress = float64(d.Sent) / float64(d.Backlog)
	return d
}

func (u *localUI) outbox(ctx context.Context) (OutboxView, error) {
	var v OutboxView
	var err error
	if v.State, err = u.src.Queue.State(ctx); err != nil {
		return OutboxView{}, err
	}
	v.Draining = u.drain(v.Pending)
	if v.Bandwidth, err = u.src.Uplink.Bandwidth(ctx, u.opts.Clock.Now()); err != nil {
		return OutboxView{}, err
	}
	if v.Uplink, err = u.src.Uplink.UplinkState(ctx); err != nil {
		return OutboxView{}, err
	}
	if v.Quarantine, err = u.src.Queue.Quarantined(ctx); err != nil {
		return OutboxView{}, err
	}
	if v.Drops, err = u.src.Queue.Drops(ctx, defaultListLimit); err != nil {
		return OutboxView{}, err
	}
	if v.Quarantine == nil {
		v.Quarantine = []outbox.Quarantine{}
	}
	if v.Drops == nil {
		v.Drops = []outbox.Drop{}
	}
	return v, nil
}

func (u *localUI) apiOutbox(w http.ResponseWriter, r *http.Request) error {
	v, err := u.outbox(r.Context())
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, v)
	return nil
}

func (u *localUI) apiUploads(w http.ResponseWriter, r *http.Request) error {
	l, err := queryInt(r, "limit", defaultListLimit, 1, maxListLimit)
	if err != nil {
		return err
	}
	es, err := u.src.Uplink.Uploads(r.Context(), int(l))
	if err != nil {
		return err
	}
	list(w, es)
	return nil
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, badRequestf("upload id %q: want a positive integer", r.PathValue("id"))
	}
	return id, nil
}

func (u *localUI) apiUpload(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	d, err := u.src.Uplink.Upload(r.Context(), id)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, d)
	return nil
}

// selfTest runs the self-test, or returns the report of one that ran less
// than selfTestCache ago: a page view must not hammer the cloud.
func (u *localUI) selfTest(r *http.Request) (commandcenter.Report, error) {
	if u.opts.SelfTest == nil {
		return commandcenter.Report{}, errSelfTestOff
	}
	u.selfMu.Lock()
	defer u.selfMu.Unlock()
	now := u.opts.Clock.Now()
	if !u.selfLast.At.IsZero() && now.Sub(u.selfLast.At) < selfTestCache && now.Sub(u.selfLast.At) >= 0 {
		return u.selfLast, nil
	}
	ctx := r.Context()
	cfg := *u.opts.SelfTest
	if cfg.Clock == nil {
		cfg.Clock = u.opts.Clock
	}
	ps, err := u.src.Printers.Printers(ctx)
	if err != nil {
		return commandcenter.Report{}, err
	}
	cfg.Printers = commandcenter.CheckTargets(ps)
	up, err := u.src.Uplink.UplinkState(ctx)
	if err != nil {
		return commandcenter.Report{}, err
	}
	cfg.Uplink = &up
	if cfg.StaleAfter == 0 {
		cfg.StaleAfter = u.opts.StaleAfter
	}
	if addr, ok := ctx.Value(http.LocalAddrContextKey).(net.Addr); ok && cfg.LocalUI == "" {
		cfg.LocalUI = addr.String()
	}
	u.selfLast = commandcenter.SelfTest(ctx, cfg)
	return u.selfLast, nil
}

func (u *localUI) apiSelfTest(w http.ResponseWriter, r *http.Request) error {
	rep, err := u.selfTest(r)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, rep)
	return nil
}

// Pages.

// render executes page with data and writes it.
func (u *localUI) render(w http.ResponseWriter, page string, data any) error {
	var buf bytes.Buffer
	if err := u.pages[page].ExecuteTemplate(&buf, "layout", data); err != nil {
		return fmt.Errorf("render %s: %w", page, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
	return nil
}

func parsePages() map[string]*template.Template {
	funcs := template.FuncMap{
		"stamp": commandcenter.Stamp, "duration": commandcenter.DurationWords, "bytes": bytesWords, "bps": bpsWords,
		"int64":   func(n int) int64 { return int64(n) },
		"percent": func(f float64) string { return fmt.Sprintf("%.0f %%", math.Floor(f*100)) },
	}
	pages := map[string]*template.Template{}
	for _, p := range []string{"printers", "jobs", "consumables", "alerts", "uploads", "upload", "selftest", "updates"} {
		// The templates are embedded: a parse error is a bug caught by every test.
		pages[p] = template.Must(template.New(p).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+p+".html"))
	}
	return pages
}

// layout is what every page shows around its content.
type layout struct {
	Title   string
	Nav     string // the active navigation entry
	Now     time.Time
	Refresh bool // the page refreshes its main element every few seconds
	Banners []banner
}

// banner is a notice across the top of every page.
type banner struct {
	Class, Text string
}

// newLayout builds the frame of a page, with the warnings every page
// shows: the cloud not reached for long (R-ARCH-8), appends failing.
func (u *localUI) newLayout(ctx context.Context, title, nav string, refresh bool) (layout, error) {
	l := layout{Title: title, Nav: nav, Now: u.opts.Clock.Now(), Refresh: refresh}
	up, err := u.src.Uplink.UplinkState(ctx)
	if err != nil {
		return layout{}, err
	}
	ob, err := u.src.Queue.State(ctx)
	if err != nil {
		return layout{}, err
	}
	l.Banners = u.banners(up, ob, l.Now)
	return l, nil
}

func (u *localUI) banners(up commandcenter.UplinkState, ob outbox.State, now time.Time) []banner {
	var bs []banner
	why := ""
	if up.LastError != "" {
		why = " Last error: " + up.LastError
	}
	switch {
	case up.LastSuccess.IsZero() && ob.Pending > 0:
		bs = append(bs, banner{"warn", "The cloud has not acknowledged an upload yet." + why})
	case !up.LastSuccess.IsZero() && now.Sub(up.LastSuccess) > u.opts.StaleAfter:
		bs = append(bs, banner{"bad", fmt.Sprintf("The cloud has not been reached for %s (since %s). Data is kept and sent when it is back.%s",
			commandcenter.DurationWords(now.Sub(up.LastSuccess)), commandcenter.Stamp(up.LastSuccess), why)})
	}
	if ob.Health.Failing {
		what := "Storing new data fails"
		if ob.Health.DiskFull {
			what = "The disk is full: collection is paused"
		}
		bs = append(bs, banner{"bad", fmt.Sprintf("%s since %s: %s", what, commandcenter.Stamp(ob.Health.LastErrorAt), ob.Health.LastError)})
	}
	return bs
}

type printersData struct {
	layout
	Printers   []printerView
	Pending    int
	OutboxWarn bool
	Uplink     commandcenter.UplinkState
}

func (u *localUI) printersPage(w http.ResponseWriter, r *http.Request) error {
	snap, err := snapshot(r.Context(), u.src)
	if err != nil {
		return err
	}
	l, err := u.newLayout(r.Context(), "Printers", "printers", true)
	if err != nil {
		return err
	}
	data := printersData{layout: l, Pending: snap.Pending, OutboxWarn: snap.Pending >= outboxWarnDepth, Uplink: snap.Uplink}
	for _, p := range snap.Printers {
		data.Printers = append(data.Printers, viewOf(p))
	}
	return u.render(w, "printers", data)
}

// printerNames maps local printer IDs to the names the pages show.
func (u *localUI) printerNames(ctx context.Context) (map[int64]string, []commandcenter.Printer, error) {
	ps, err := u.src.Printers.Printers(ctx)
	if err != nil {
		return nil, nil, err
	}
	names := map[int64]string{}
	for _, p := range ps {
		names[p.ID] = viewOf(p).Name
	}
	return names, ps, nil
}

type jobView struct {
	Printer, ID, Name, User, Host string
	Status                        string
	Created, Started, Finished    string
	Layers                        string
	Parts                         []string
	Updated                       string
}

type jobsData struct {
	layout
	Jobs []jobView
}

func (u *localUI) jobsPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	names, _, err := u.printerNames(ctx)
	if err != nil {
		return err
	}
	jobs, err := u.src.Printers.Jobs(ctx, 0, pageListLimit)
	if err != nil {
		return err
	}
	l, err := u.newLayout(ctx, "Jobs", "jobs", true)
	if err != nil {
		return err
	}
	data := jobsData{layout: l}
	for _, j := range jobs {
		v := jobView{
			Printer: names[j.Printer], ID: j.Job.ID, Name: j.Job.Private.Name, User: j.Job.Private.User, Host: j.Job.Private.Host,
			Status: string(j.Job.Status), Created: stampOrDash(j.Job.CreatedAt), Started: stampOrDash(j.Job.StartedAt),
			Finished: stampOrDash(j.Job.FinishedAt), Updated: commandcenter.Stamp(j.Updated),
			Layers: fmt.Sprintf("%d of %d", j.Job.LayersDone, j.Job.LayerCount),
		}
		for _, p := range j.Job.Parts {
			name := p.Private.Name
			if name == "" {
				name = p.ID
			}
			v.Parts = append(v.Parts, name)
		}
		data.Jobs = append(data.Jobs, v)
	}
	return u.render(w, "jobs", data)
}

type eventView struct {
	Printer, Time, Seen, Severity, Code, Description, Subsystem string
}

type alertsData struct {
	layout
	Alerts []eventView
}

func (u *localUI) alertsPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	names, _, err := u.printerNames(ctx)
	if err != nil {
		return err
	}
	as, err := u.alerts(ctx, 0, pageListLimit)
	if err != nil {
		return err
	}
	l, err := u.newLayout(ctx, "Alerts", "alerts", true)
	if err != nil {
		return err
	}
	data := alertsData{layout: l}
	for _, a := range as {
		e := a.Event
		data.Alerts = append(data.Alerts, eventView{Printer: names[a.Printer], Time: commandcenter.Stamp(e.Time), Seen: commandcenter.Stamp(a.Seen),
			Severity: e.Severity.String(), Code: e.Code, Description: e.Description, Subsystem: e.Subsystem})
	}
	return u.render(w, "alerts", data)
}

type consumablesView struct {
	Printer string
	ID      int64
	Latest  []consumableLine
	Plots   []plot
	Samples int
}

type consumableLine struct {
	What, Value, Status string
}

type consumablesData struct {
	layout
	Window   string
	Printers []consumablesView
}

func (u *localUI) consumablesPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	names, ps, err := u.printerNames(ctx)
	if err != nil {
		return err
	}
	l, err := u.newLayout(ctx, "Consumables", "consumables", false)
	if err != nil {
		return err
	}
	to := l.Now.Add(time.Second)
	from := to.Add(-consumablesWindow)
	data := consumablesData{layout: l, Window: "7 days"}
	for _, p := range ps {
		ss, err := u.src.Printers.ConsumablesHistory(ctx, p.ID, from, to)
		if err != nil {
			return err
		}
		v := consumablesView{Printer: names[p.ID], ID: p.ID, Samples: len(ss)}
		if len(ss) > 0 {
			v.Latest = latestConsumables(ss[len(ss)-1].Consumables)
			// The plots span the history there is, up to the window.
			start := from
			if ss[0].Seen.After(start) {
				start = ss[0].Seen
			}
			v.Plots = consumablePlots(ss, start, to)
		}
		data.Printers = append(data.Printers, v)
	}
	return u.render(w, "consumables", data)
}

// latestConsumables lists a snapshot's levels in words.
func latestConsumables(c fleet.Consumables) []consumableLine {
	var ls []consumableLine
	for _, a := range c.Agents {
		ls = append(ls, consumableLine{"Agent " + a.Agent, fmt.Sprintf("%.0f %% left", a.SupplyLevelPercent), a.SupplyStatus})
	}
	ls = append(ls, consumableLine{"Cleaning roll", fmt.Sprintf("%.0f %% used", c.CleaningRoll.UsagePercent), c.CleaningRoll.Status})
	for _, l := range c.Lamps {
		ls = append(ls, consumableLine{"Lamp " + l.Position, fmt.Sprintf("%.0f %% intensity, %.0f h", l.IntensityPercent, l.Hours), l.Status})
	}
	for _, p := range c.Printheads {
		ls = append(ls, consumableLine{fmt.Sprintf("Printhead %d", p.Slot), fmt.Sprintf("%.0f h", p.UsageHours), p.Status})
	}
	if b := c.BuildUnits.Installed; b != nil {
		ls = append(ls, consumableLine{"Build unit " + b.SerialNumber, fmt.Sprintf("%.1f kg %s, %.0f %% recycled", b.MaterialKG, b.Material, b.RecycledPercent), b.Status})
	}
	return ls
}

// consumablePlots draws the decline of agents, lamps and the cleaning roll.
func consumablePlots(ss []commandcenter.ConsumablesSample, from, to time.Time) []plot {
	agents := map[string]*series{}
	lamps := map[string]*series{}
	roll := &series{Name: "used"}
	for _, s := range ss {
		for _, a := range s.Consumables.Agents {
			addPoint(agents, a.Agent, s.Seen, a.SupplyLevelPercent)
		}
		for _, l := range s.Consumables.Lamps {
			addPoint(lamps, l.Position, s.Seen, l.IntensityPercent)
		}
		roll.Points = append(roll.Points, point{s.Seen, s.Consumables.CleaningRoll.UsagePercent})
	}
	return []plot{
		newPlot("Agent supply level (%)", from, to, sortedSeries(agents)),
		newPlot("Lamp intensity (%)", from, to, sortedSeries(lamps)),
		newPlot("Cleaning roll used (%)", from, to, []series{*roll}),
	}
}

func addPoint(m map[string]*series, name string, t time.Time, v float64) {
	s, ok := m[name]
	if !ok {
		s = &series{Name: name}
		m[name] = s
	}
	s.Points = append(s.Points, point{t, v})
}

func sortedSeries(m map[string]*series) []series {
	ss := make([]series, 0, len(m))
	for _, s := range m {
		ss = append(ss, *s)
	}
	sort.Slice(ss, func(i, j int) bool { return ss[i].Name < ss[j].Name })
	return ss
}

type uploadView struct {
	commandcenter.UploadEntry
	When, Lane, Kinds string
}

type uploadsData struct {
	layout
	Outbox      OutboxView
	BudgetShare float64
	Oldest      string
	Uploads     []uploadView
}

func viewUpload(e commandcenter.UploadEntry) uploadView {
	v := uploadView{UploadEntry: e, When: commandcenter.Stamp(e.At), Lane: "bulk"}
	if e.Priority {
		v.Lane = "alerts and status"
	}
	kinds := make([]string, 0, len(e.Kinds))
	for k, n := range e.Kinds {
		kinds = append(kinds, fmt.Sprintf("%d %s", n, k))
	}
	sort.Strings(kinds)
	v.Kinds = strings.Join(kinds, ", ")
	return v
}

func (u *localUI) uploadsPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	ob, err := u.outbox(ctx)
	if err != nil {
		return err
	}
	es, err := u.src.Uplink.Uploads(ctx, pageListLimit)
	if err != nil {
		return err
	}
	l, err := u.newLayout(ctx, "What was sent", "uploads", true)
	if err != nil {
		return err
	}
	data := uploadsData{layout: l, Outbox: ob}
	if ob.Budget > 0 {
		data.BudgetShare = float64(ob.Bytes) / float64(ob.Budget)
	}
	if !ob.Oldest.IsZero() {
		data.Oldest = fmt.Sprintf("%s (%s ago)", commandcenter.Stamp(ob.Oldest), commandcenter.DurationWords(l.Now.Sub(ob.Oldest)))
	}
	for _, e := range es {
		data.Uploads = append(data.Uploads, viewUpload(e))
	}
	return u.render(w, "uploads", data)
}

type uploadData struct {
	layout
	Upload    uploadView
	Payload   string
	Truncated bool
}

func (u *localUI) uploadPage(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	d, err := u.src.Uplink.Upload(ctx, id)
	if err != nil {
		return err
	}
	l, err := u.newLayout(ctx, fmt.Sprintf("Upload %d", id), "uploads", false)
	if err != nil {
		return err
	}
	data := uploadData{layout: l, Upload: viewUpload(d.UploadEntry)}
	if d.Payload != nil {
		var buf bytes.Buffer
		if err := json.Indent(&buf, d.Payload, "", "  "); err != nil {
			return fmt.Errorf("upload %d: indent payload: %w", id, err)
		}
		data.Payload = buf.String()
		if len(data.Payload) > maxPayloadShown {
			data.Payload, data.Truncated = data.Payload[:maxPayloadShown], true
		}
	}
	return u.render(w, "upload", data)
}

type selfTestData struct {
	layout
	Report commandcenter.Report
	Off    bool
}

func (u *localUI) selfTestPage(w http.ResponseWriter, r *http.Request) error {
	rep, err := u.selfTest(r)
	off := errors.Is(err, errSelfTestOff)
	if err != nil && !off {
		return err
	}
	l, err := u.newLayout(r.Context(), "Connectivity self-test", "selftest", false)
	if err != nil {
		return err
	}
	return u.render(w, "selftest", selfTestData{layout: l, Report: rep, Off: off})
}

type printerView struct {
	ID                    int64
	Name, Address, Model  string
	Fingerprint           string
	Collection            string
	CollectionClass       string
	State, Activity       string
	JobName, Progress     string
	ETC                   string
	PendingJobs, LastSeen string
}

func viewOf(p commandcenter.Printer) printerView {
	v := printerView{
		ID: p.ID, Name: p.Address, Address: p.Address, Model: "not known yet", Fingerprint: string(p.Fingerprint),
		State: "not known yet", PendingJobs: "not known yet", LastSeen: "never",
		CollectionClass: strings.ReplaceAll(string(p.State), " ", "-"),
	}
	if p.Identity != nil {
		v.Name, v.Model = p.Identity.Name, p.Identity.Model
		if v.Name == "" {
			v.Name = p.Address
		}
	}
	if !p.LastSeen.IsZero() {
		v.LastSeen = commandcenter.Stamp(p.LastSeen)
	}
	switch p.State {
	case commandcenter.CollectionOK:
		v.Collection = "ok"
	case commandcenter.CollectionNew:
		v.Collection = "waiting for first contact"
	case commandcenter.CollectionUnreachable:
		v.Collection = fmt.Sprintf("unreachable since %s: %s", commandcenter.Stamp(p.StateSince), p.LastError)
	case commandcenter.CollectionBadInput:
		v.Collection = fmt.Sprintf("answers partly refused since %s: %s", commandcenter.Stamp(p.StateSince), p.LastError)
	case commandcenter.CollectionCertificateChanged:
		v.Collection = p.LastError
	default:
		v.Collection = string(p.State)
	}
	if s := p.Status; s != nil {
		v.State = stateWords(s.State)
		if p.State != commandcenter.CollectionOK {
			v.State = "last known: " + v.State
		}
		v.Activity = s.Activity
		v.PendingJobs = fmt.Sprint(s.PendingJobs)
		if s.ETCSeconds > 0 {
			v.ETC = commandcenter.DurationWords(time.Duration(s.ETCSeconds) * time.Second)
		}
		if j := s.Job; j != nil {
			v.JobName = j.Private.Name // the local UI may show it (R-PRIV-2)
			if v.JobName == "" {
				v.JobName = j.ID
			}
			if j.Progress > 0 {
				v.Progress = fmt.Sprintf("%.0f %%", math.Floor(j.Progress*100))
			}
		}
	}
	return v
}

// stateWords says what a printer is doing as the dashboard does (R-FEAT-1).
func stateWords(s fleet.State) string {
	switch s {
	case fleet.StateIdle:
		return "powered on, idle"
	case fleet.StatePrinting:
		return "powered on, printing"
	case fleet.StateCooling:
		return "powered on, cooling"
	case fleet.StateError:
		return "error"
	default:
		return "unknown"
	}
}

func stampOrDash(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return commandcenter.Stamp(t)
}

// bytesWords writes n bytes as "512 B", "12.3 KB", "4.0 MB".
func bytesWords(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.1f KB", float64(n)/1000)
	case n < 1000*1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	default:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	}
}

// bpsWords writes a bandwidth in bits per second.
func bpsWords(bps float64) string {
	switch {
	case bps < 1000:
		return fmt.Sprintf("%.0f bit/s", bps)
	case bps < 1e6:
		return fmt.Sprintf("%.1f kbit/s", bps/1000)
	default:
		return fmt.Sprintf("%.1f Mbit/s", bps/1e6)
	}
}
