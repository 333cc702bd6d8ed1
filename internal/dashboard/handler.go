package dashboard

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/alert"
	"github.com/fusionfleet/fusionfleet/internal/audit"
	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/diagnostics"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
	"github.com/fusionfleet/fusionfleet/internal/httpserver"
	"github.com/fusionfleet/fusionfleet/internal/i18n"
	"github.com/fusionfleet/fusionfleet/internal/kpi"
	"github.com/fusionfleet/fusionfleet/internal/maintenance"
	"github.com/fusionfleet/fusionfleet/internal/notify"
	"github.com/fusionfleet/fusionfleet/internal/orgexport"
)

// Deps are the capabilities of the cloud store the dashboard uses, one
// field each; every page group takes only those it needs (see the package
// documentation). One store usually fills them all.
type Deps struct {
	Sessions     Sessions                 // logins and sessions: every route
	TwoFactor    TwoFactor                // the login code and the two-factor page
	Throttle     LoginThrottle            // failed logins, shared by every node
	Passwords    Passwords                // changing one's password; an admin's reset
	Members      access.Members           // users, alert assignees, token owners, account
	Sites        access.Sites             // site names on most pages; sites and enrolment
	Tokens       access.Tokens            // API tokens
	Printers     fleetquery.PrinterReader // printer lists and detail
	PrinterSites access.PrinterSites      // moving a printer to another site
	Jobs         fleetquery.JobReader     // job history and jobs
	History      fleetquery.HistoryReader // the printer page's wear plots and events
	Alerts       alert.Tracker            // alerts
	AlertRules   alert.RuleEditor         // alert rules
	WorstAlerts  WorstAlerts              // the alert on each printer card
	Channels     notify.Channels          // notification channels and the delivery log
	NotifyPrefs  notify.Preferences       // a user's notification preferences
	KPIs         kpi.Reader               // KPIs, benchmark and usage
	// Releases lists the cloud's signed updates for the Updates page;
	// nil: the page says there is no update repository.
	Releases    ReleaseLister
	Grants      access.Grants      // a customer's grants to service providers
	GrantLookup access.GrantLookup // the grant a provider's user acts under; its customers
	Orgs        access.Orgs        // names of a grant's organisations
	// Maintenance is the fleet's component life models for the
	// Maintenance page; nil: forecasts fall back to the rated lives.
	Maintenance MaintenanceModels
	// Audit records logins, failed logins, administrators' changes,
	// grant changes and every request under a customer's grant (see
	// authorize); nil: log lines only (audit.Logger), no tamper-evident
	// log.
	Audit audit.Recorder
	// Plans gives each organisation's features (R-FEAT-10), which routes
	// may need; nil: every organisation has access.DefaultFeatures.
	Plans access.Plans
	// AuditLog, Export and Deletion serve the organisation's audit log,
	// the export of all its data and its deletion (datarights.go).
	AuditLog audit.Reader
	Export   orgexport.Source
	Deletion OrgDeletion
	// Diagnostics keeps remote diagnostic requests and their results;
	// nil: the diagnostics pages are 404.
	Diagnostics diagnostics.Store
	// Airgap imports air-gapped sites' bundles and issues their
	// acknowledgements; nil: the air-gap pages answer 404. UpdateBundles
	// writes the update bundle they import; nil: none is offered.
	Airgap        Airgap
	UpdateBundles UpdateBundles
	// Learning keeps the learning loop's models and proposed parameter
	// sets; nil: the Learning pages are 404.
	Learning LearningStore
}

// Sessions keeps logins: users by name, sessions, and the pending second
// step of a two-factor login.
type Sessions interface {
	UserByName(ctx context.Context, name string) (user fleet.User, passwordHash string, err error)
	CreateSession(ctx context.Context, tokenHash string, user fleet.UserID, expires time.Time) error
	SessionMember(ctx context.Context, tokenHash string, now time.Time) (access.Member, error)
	DeleteSession(ctx context.Context, tokenHash string) error
	CreateLoginChallenge(ctx context.Context, tokenHash string, user fleet.UserID, expires time.Time) error
	LoginChallengeUser(ctx context.Context, tokenHash string, now time.Time) (fleet.User, error)
	DeleteLoginChallenge(ctx context.Context, tokenHash string, now time.Time) error
}

// Passwords replaces passwords: a user's own change, which keeps the user
// logged in with a new session, and an administrator's reset, which
// demands a new password at the next login and revokes the user's API
// tokens. Both end every other session and pending login of the user.
type Passwords interface {
	ChangePassword(ctx context.Context, org fleet.OrgID, user fleet.UserID, passwordHash, newSessionHash string, expires time.Time) error
	ResetPassword(ctx context.Context, org fleet.OrgID, user fleet.UserID, passwordHash string, now time.Time) error
}

// TwoFactor keeps each user's TOTP secret, the last step used, and the
// recovery codes.
type TwoFactor interface {
	TOTP(ctx context.Context, user fleet.UserID) (secret string, enabled bool, lastStep int64, err error)
	SetPendingTOTP(ctx context.Context, user fleet.UserID, secret string) error
	EnableTOTP(ctx context.Context, user fleet.UserID, step int64, recoveryHashes []string) error
	UseTOTPStep(ctx context.Context, user fleet.UserID, step int64) error
	UseRecoveryCode(ctx context.Context, user fleet.UserID, codeHash string, now time.Time) error
	RecoveryCodesLeft(ctx context.Context, user fleet.UserID) (int, error)
	DisableTOTP(ctx context.Context, user fleet.UserID) error
}

// WorstAlerts finds the worst active alert of each printer of an
// organisation, for the printer cards.
type WorstAlerts interface {
	WorstAlerts(ctx context.Context, org fleet.OrgID) (map[fleet.PrinterID]fleet.Alert, error)
}

// Options tunes the dashboard. The zero value works: real clock, no logs,
// cookies without the Secure flag, 12-hour sessions.
type Options struct {
	Clock clock.Clock
	// AuthClock is the clock of logins: two-factor codes, login
	// challenges, sessions and the login throttle. It is real time — the
	// time on the user's phone and wall — even where Clock is a demo's
	// simulated one, or a five-minute challenge would last a blink.
	// nil → Clock.
	AuthClock clock.Clock
	Logger    *slog.Logger
	// SecureCookies marks cookies Secure (and gives them the __Host- prefix);
	// set it whenever the dashboard is served over HTTPS.
	SecureCookies bool
	// SessionTTL is how long a login lasts.
	SessionTTL time.Duration
	// AllowPrivateWebhooks accepts webhook URLs whose host is a private or
	// other special-purpose IP address (as the notify dispatcher's option
	// of the same name allows delivering to them).
	AllowPrivateWebhooks bool
	// TrustedProxies are the reverse proxies in front of the dashboard:
	// from them, the client address the login throttle counts is taken
	// from X-Forwarded-For. Empty: the peer's address, the header ignored.
	TrustedProxies []netip.Prefix
	// Demo, if set, labels every page as the demo's (see DemoClock).
	Demo *DemoClock
	// OfflineAfter is how long a printer may go unreported before its
	// card says it is offline; 0 → 3 minutes.
	OfflineAfter time.Duration
}

// DemoClock describes the demo's one clock, for the label on every page:
// the cloud, its Command Centers and printers all run Speed times faster
// than real time, and bulk data (jobs, layers, wear) leaves a Command
// Center every Bulk of real time, so the pages showing it lag the
// printer status (which goes at once) by up to that much.
type DemoClock struct {
	Speed float64
	Bulk  time.Duration
}

// demoLabel is the demo clock's label as a page shows it.
type demoLabel struct {
	Speed, Now, Bulk, BulkDemo string
}

// label is the demo clock's label at now in zone.
func (d *DemoClock) label(now time.Time, zone *time.Location) *demoLabel {
	if d == nil {
		return nil
	}
	return &demoLabel{
		Speed: strconv.FormatFloat(d.Speed, 'f', -1, 64), Now: now.In(zone).Format("2006-01-02 15:04"),
		Bulk: shortDuration(d.Bulk), BulkDemo: shortDuration(time.Duration(float64(d.Bulk) * d.Speed)),
	}
}

// shortDuration is d rounded to a second without zero units: "30s",
// "30m", "1h30m".
func shortDuration(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

const (
	defaultSessionTTL = 12 * time.Hour
	enrolmentTTL      = 24 * time.Hour
	maxFormBytes      = 64 << 10
	// bundleReadTime is how long the upload of an air-gapped bundle may
	// take.
	bundleReadTime = 30 * time.Minute
	heartbeatEvery = 15 * time.Second
	// refreshEvery re-sends the printer list on an open event stream even
	// without changes, so that "Offline since" appears when a site goes quiet.
	refreshEvery = time.Minute
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// csp forbids inline scripts and styles, framing and foreign origins.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// handler is what every page shares: rendering, errors, cookies, the
// clock and the log. It holds no store: each page group below embeds it
// and holds the capabilities its pages use.
type handler struct {
	clock     clock.Clock
	authClock clock.Clock // logins: Options.AuthClock
	log       *slog.Logger
	secure    bool
	ttl       time.Duration
	proxies   []netip.Prefix
	demo      *DemoClock // nil unless the demo's
	offline   time.Duration
	cop       *http.CrossOriginProtection
	pages     map[string]*template.Template
	zones     sync.Map // time zone name → *time.Location, see zone
	heartbeat time.Duration
	refresh   time.Duration
	audit     audit.Recorder
}

// ui is the whole dashboard: the session check every route passes
// through, and the page groups the route table dispatches to.
type ui struct {
	*handler
	sessions    Sessions
	grantLookup access.GrantLookup // the grant a provider's user acts under
	orgs        access.Orgs        // the name of the customer acted for
	plans       access.Plans
	grants      *grantPages
	auth        *authPages
	printers    *printerPages
	detail      *detailPage
	jobs        *jobPages
	kpis        *kpiPages
	updates     *updatesPage
	alerts      *alertPages
	sites       *sitePages
	users       *userPages
	tokens      *tokenPages
	notify      *notifyPages
	account     *accountPage
	maint       *maintenancePage
	data        *dataPages
	diags       *diagnosticPages
	airgap      *airgapPages
	learning    *learningPage
}

// NewHandler returns the dashboard with all its routes.
func NewHandler(d Deps, hub *Hub, opts Options) http.Handler {
	return newHandler(d, hub, opts).routes()
}

func newHandler(d Deps, hub *Hub, opts Options) *ui {
	h := &handler{
		clock:     opts.Clock,
		authClock: opts.AuthClock,
		log:       opts.Logger,
		secure:    opts.SecureCookies,
		ttl:       opts.SessionTTL,
		proxies:   opts.TrustedProxies,
		demo:      opts.Demo,
		offline:   opts.OfflineAfter,
		cop:       http.NewCrossOriginProtection(),
		pages:     make(map[string]*template.Template),
		heartbeat: heartbeatEvery,
		refresh:   refreshEvery,
	}
	if h.clock == nil {
		h.clock = clock.Real{}
	}
	if h.authClock == nil {
		h.authClock = h.clock
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.log = h.log.With("component", "dashboard")
	h.audit = d.Audit
	if h.audit == nil {
		h.audit = audit.Logger{Log: h.log}
	}
	if h.ttl <= 0 {
		h.ttl = defaultSessionTTL
	}
	funcs := template.FuncMap{"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"pct": func(x float64) float64 { return 100 * x }}
	for _, p := range []string{"login.html", "login_code.html", "printers.html", "enrolment.html", "enrolment_token.html",
		"error.html", "users.html", "tokens.html", "twofactor.html",
		"alerts.html", "alert_rules.html",
		"printer.html", "jobs.html", "job.html",
		"account.html", "sites.html",
		"kpis.html", "benchmark.html", "usage.html",
		"notify_channels.html", "notify_prefs.html",
		"updates.html", "maintenance.html", "grants.html", "customers.html", "audit.html", "data.html", "diagnostics.html", "airgap.html", "learning.html"} {
		// The templates are embedded: a parse error is a bug that every test catches.
		h.pages[p] = template.Must(template.New(p).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+p))
	}
	updates := &updatesPage{handler: h, releases: d.Releases, printers: d.Printers, sites: d.Sites}
	return &ui{
		handler:     h,
		sessions:    d.Sessions,
		grantLookup: d.GrantLookup,
		orgs:        d.Orgs,
		plans:       d.Plans,
		grants:      &grantPages{handler: h, grants: d.Grants, lookup: d.GrantLookup, orgs: d.Orgs, sites: d.Sites, audit: d.Audit},
		auth:        &authPages{handler: h, sessions: d.Sessions, twoFactor: d.TwoFactor, throttle: d.Throttle},
		printers: &printerPages{handler: h, hub: hub, sessions: d.Sessions, printers: d.Printers, sites: d.Sites,
			worst: d.WorstAlerts, updates: updates, grants: d.GrantLookup},
		detail: &detailPage{handler: h, printers: d.Printers, sites: d.Sites, moves: d.PrinterSites, history: d.History,
			jobs: d.Jobs, alerts: d.Alerts},
		jobs:     &jobPages{handler: h, printers: d.Printers, sites: d.Sites, jobs: d.Jobs},
		kpis:     &kpiPages{handler: h, printers: d.Printers, sites: d.Sites, kpis: d.KPIs},
		updates:  updates,
		alerts:   &alertPages{handler: h, sites: d.Sites, alerts: d.Alerts, rules: d.AlertRules, members: d.Members},
		sites:    &sitePages{handler: h, sites: d.Sites, printers: d.Printers},
		users:    &userPages{handler: h, members: d.Members, sites: d.Sites, passwords: d.Passwords},
		tokens:   &tokenPages{handler: h, tokens: d.Tokens, members: d.Members, sites: d.Sites},
		notify:   &notifyPages{handler: h, channels: d.Channels, prefs: d.NotifyPrefs, allowPrivate: opts.AllowPrivateWebhooks},
		account:  &accountPage{handler: h, members: d.Members, sessions: d.Sessions, passwords: d.Passwords, throttle: d.Throttle},
		maint:    &maintenancePage{handler: h, printers: d.Printers, book: maintenance.NewBook(d.History, maintenance.BookOptions{}), sites: d.Sites, models: d.Maintenance},
		data:     &dataPages{handler: h, audit: d.AuditLog, export: d.Export, orgs: d.Deletion},
		diags:    &diagnosticPages{handler: h, desk: newDesk(d, h.clock), printers: d.Printers},
		airgap:   &airgapPages{handler: h, airgap: d.Airgap, updates: d.UpdateBundles},
		learning: &learningPage{handler: h, store: d.Learning},
	}
}

// newDesk returns the diagnostics desk over d's store, or nil when d has
// none.
func newDesk(d Deps, clk clock.Clock) *diagnostics.Desk {
	if d.Diagnostics == nil {
		return nil
	}
	return &diagnostics.Desk{Store: d.Diagnostics, Printers: d.Printers, Audit: d.Audit, Clock: clk}
}

// route is one entry of the route table: a ServeMux pattern, what it
// requires of the caller, and the handler.
type route struct {
	pattern string
	need    access.Requirement
	handle  authedFunc
}

var (
	public     = access.Requirement{Public: true}
	member     = access.Requirement{Role: fleet.RoleViewer}
	memberPost = access.Requirement{Role: fleet.RoleViewer, Write: true}
	adminGet   = access.Requirement{Role: fleet.RoleAdmin}
	adminPost  = access.Requirement{Role: fleet.RoleAdmin, Write: true}
	// Notification channels carry every site's alerts and have no site of
	// their own: they, and their delivery log, are the organisation's.
	orgGet  = access.Requirement{Role: fleet.RoleAdmin, OrgWide: true}
	orgPost = access.Requirement{Role: fleet.RoleAdmin, Write: true, OrgWide: true}
	// The maintenance forecasts are open to a service provider the
	// customer granted the maintenance scope.
	maintenanceGet = access.Requirement{Role: fleet.RoleViewer, Grant: access.GrantMaintenance}
	// grantStatus is member, and open to a service provider's user acting
	// under a grant with the status scope: the printers, their status,
	// alerts and KPIs of the granted sites. Every other route stays closed
	// to providers.
	grantStatus = access.Requirement{Role: fleet.RoleViewer, Grant: access.GrantStatus}
	// Exporting all of the organisation's data is a feature of the plan.
	orgExport = access.Requirement{Role: fleet.RoleAdmin, OrgWide: true, Feature: access.FeatureExport}
	// API tokens are for plans with the REST API.
	apiGet  = access.Requirement{Role: fleet.RoleViewer, Feature: access.FeatureAPI}
	apiPost = access.Requirement{Role: fleet.RoleViewer, Write: true, Feature: access.FeatureAPI}
)

// table is the one place where every route and what it requires is
// declared; authorize enforces it before any handler runs.
func (h *ui) table() []route {
	static, _ := fs.Sub(staticFS, "static") // cannot fail: "static" is embedded
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	plain := func(f http.HandlerFunc) authedFunc {
		return func(w http.ResponseWriter, r *http.Request, _ session) { f(w, r) }
	}
	return []route{
		{"GET /login", public, plain(h.auth.loginPage)},
		{"POST /login", public, plain(h.auth.login)},
		{"GET /login/code", public, plain(h.auth.codePage)},
		{"POST /login/code", public, plain(h.auth.loginCode)},
		{"GET /healthz", public, plain(h.healthz)},
		{"GET /static/", public, plain(files.ServeHTTP)},

		{"POST /logout", memberPost, h.auth.logout},
		{"GET /{$}", grantStatus, h.printers.printersPage},
		{"GET /api/printers", grantStatus, h.printers.apiPrinters},
		{"GET /api/events", grantStatus, h.printers.events},
		{"GET /printers/{id}", grantStatus, h.detail.printerPage},
		{"POST /printers/{id}/site", adminPost, h.detail.movePrinter},
		{"GET /printers/{id}/jobs/{job}", member, h.jobs.jobPage},
		{"GET /printers/{id}/diagnostics", diagRead, h.diags.diagnosticsPage},
		{"POST /printers/{id}/diagnostics", diagAsk, h.diags.requestDiagnostic},
		{"GET /diagnostics/{id}/result", diagRead, h.diags.diagnosticResult},
		{"GET /jobs", member, h.jobs.jobsPage},
		{"GET /kpis", grantStatus, h.kpis.kpisPage},
		{"GET /benchmark", access.Requirement{Role: fleet.RoleViewer, Feature: access.FeatureBenchmark}, h.kpis.benchmarkPage},
		{"GET /usage", member, h.kpis.usagePage},
		{"GET /jobs.csv", member, h.jobs.jobsCSV},
		{"GET /updates", member, h.updates.updatesPage},
		{"GET /maintenance", maintenanceGet, h.maint.maintenancePage},
		{"GET /learning", learnGet, h.learning.learningPage},
		{"POST /learning/{id}/approve", learnApprove, h.learning.approve},
		{"GET /learning/{id}/set.json", learnGet, h.learning.setFile},
		{"GET /alerts", grantStatus, h.alerts.alertsPage},
		{"POST /alerts/{id}/ack", operatorPost, h.alerts.ackAlert},
		{"POST /alerts/{id}/assign", operatorPost, h.alerts.assignAlert},
		{"GET /alerts/rules", member, h.alerts.alertRulesPage},
		{"POST /alerts/rules", adminPost, h.alerts.createAlertRule},
		{"POST /alerts/rules/{id}/delete", adminPost, h.alerts.deleteAlertRule},
		{"POST /alerts/rules/{rule}/mute", adminPost, h.alerts.muteAlertRule},
		{"GET /tokens", apiGet, h.tokens.tokensPage},
		{"POST /tokens", apiPost, h.tokens.createToken},
		{"POST /tokens/{id}/revoke", apiPost, h.tokens.revokeToken},
		{"GET /account/notifications", member, h.notify.notifyPrefsPage},
		{"POST /account/notifications", memberPost, h.notify.saveNotifyPrefs},
		{"GET /account/two-factor", member, h.auth.twoFactorPage},
		{"POST /account/two-factor", memberPost, h.auth.enableTwoFactor},
		{"POST /account/two-factor/disable", memberPost, h.auth.disableTwoFactor},
		{"GET /account", member, h.account.accountPage},
		{"POST /account", memberPost, h.account.saveAccount},
		{"POST /account/password", memberPost, h.account.changePassword},
		{"POST /api/account/password", memberPost, h.account.changePassword},

		{"GET /admin/notifications", orgGet, h.notify.channelsPage},
		{"POST /admin/notifications", orgPost, h.notify.createChannel},
		{"POST /admin/notifications/{id}/delete", orgPost, h.notify.deleteChannel},
		{"POST /admin/notifications/{id}/test", orgPost, h.notify.testChannel},
		{"GET /admin/enrolment", adminGet, h.sites.enrolmentPage},
		{"GET /admin/sites", adminGet, h.sites.sitesPage},
		{"POST /admin/sites", adminPost, h.sites.createSite},
		{"POST /admin/enrolment", adminPost, h.sites.createEnrolment},
		{"GET /admin/users", adminGet, h.users.usersPage},
		{"POST /admin/users", adminPost, h.users.createUser},
		{"POST /admin/users/{id}/access", adminPost, h.users.setUserAccess},
		{"POST /admin/users/{id}/remove", adminPost, h.users.removeUser},
		{"POST /admin/users/{id}/password", adminPost, h.users.resetPassword},
		{"GET /admin/grants", adminGet, h.grants.grantsPage},
		{"POST /admin/grants", adminPost, h.grants.createGrant},
		{"POST /admin/grants/{id}/revoke", adminPost, h.grants.revokeGrant},
		{"GET /customers", member, h.grants.customersPage},
		{"POST /customers/{id}/open", memberPost, h.grants.openCustomer},
		{"POST /customers/leave", memberPost, h.grants.leaveCustomer},

		{"GET /admin/audit", orgGet, h.data.auditPage},
		{"GET /admin/audit/export", orgGet, h.data.auditExport},
		{"GET /admin/data", orgGet, h.data.dataPage},
		{"GET /admin/data/export", orgExport, h.data.exportData},
		{"POST /admin/data/delete", orgPost, h.data.deleteOrg},
		{"GET /admin/airgap", orgGet, h.airgap.airgapPage},
		{"POST /admin/airgap/bundles", orgPost, h.airgap.importBundle}, // airgapPath
		{"GET /admin/airgap/ack", orgGet, h.airgap.ackFile},
		{"GET /admin/airgap/key", orgGet, h.airgap.publicKey},
		{"GET /admin/airgap/updates", orgGet, h.airgap.updateBundle},

		{"/", member, func(w http.ResponseWriter, r *http.Request, _ session) {
			h.writeError(w, r, http.StatusNotFound, "Page not found.")
		}},
	}
}

// routes builds the mux from the route table.
func (h *ui) routes() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range h.table() {
		mux.Handle(rt.pattern, h.authorize(rt))
	}
	return h.guard(mux)
}

// guard wraps every request: security headers, a body limit, and refusal
// of cross-origin state-changing requests (Sec-Fetch-Site / Origin).
func (h *handler) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			hd.Set("Cache-Control", "no-store")
		}
		if h.secure {
			hd.Set("Strict-Transport-Security", "max-age=31536000")
		}
		limit := int64(maxFormBytes)
		if r.URL.Path == airgapPath {
			limit = maxBundleBytes // a site's outbox
			// The server's read timeout is for forms; a bundle of
			// hundreds of MiB takes minutes on an office link.
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(bundleReadTime))
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		if err := h.cop.Check(r); err != nil {
			h.writeError(w, r, http.StatusForbidden, "Cross-origin request refused.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (h *handler) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// isAPI reports whether the request wants JSON answers.
func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }

// errorBody is the JSON body of every API error.
type errorBody struct {
	Error string `json:"error"`
}

// writeError answers with status and a message meant for people: JSON for
// the API, an HTML page otherwise. It is the one place errors reach users.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if isAPI(r) {
		lang, _ := h.locale(r)
		h.encode(w, status, errorBody{Error: lang.T(msg)})
		return
	}
	h.render(w, r, status, "error.html", page{Title: http.StatusText(status), Data: msg})
}

// internalError logs err and answers 500 without details; a request its
// client gave up is no failure of ours and has no one to answer.
func (h *handler) internalError(w http.ResponseWriter, r *http.Request, err error) {
	if httpserver.ClientGone(r) {
		h.log.Debug("request ended by the client", "method", r.Method, "path", r.URL.Path, "err", err)
		return
	}
	h.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	h.writeError(w, r, http.StatusInternalServerError, "Something went wrong. Please try again.")
}

// encode writes v as JSON.
func (h *handler) encode(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		h.log.Warn("encode response", "err", err)
	}
}

// page is what every template gets.
type page struct {
	Title string
	User  *fleet.User // nil when logged out
	CSRF  string
	Data  any
	// Lang and Zone are the reader's language and time zone; render sets
	// them from the request.
	Lang i18n.Lang
	Zone *time.Location
	// Path is the request's path, for the navigation's current page.
	Path string
	// Demo labels the demo's pages with its clock; nil elsewhere.
	Demo *demoLabel
	// Acting names the customer a service provider's user acts for under
	// a grant; render sets it from the request. Empty otherwise.
	Acting string
}

// Current reports whether the page is the navigation target path, or
// below it, for aria-current. The printers' home "/" holds the printer
// pages below /printers/.
func (p page) Current(path string) bool {
	if path == "/" {
		return p.Path == "/" || strings.HasPrefix(p.Path, "/printers/")
	}
	return p.Path == path || strings.HasPrefix(p.Path, path+"/")
}

// T translates msg into the reader's language (see i18n.Lang.T).
func (p page) T(msg string, args ...any) string { return p.Lang.T(msg, args...) }

// Time shows t in the reader's time zone, to the minute.
func (p page) Time(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return formatTime(p.Lang, p.zone(), t)
}

// Date shows the day of t in the reader's time zone.
func (p page) Date(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.In(p.zone()).Format("2006-01-02")
}

func (p page) zone() *time.Location {
	if p.Zone == nil {
		return time.UTC
	}
	return p.Zone
}

// IsAdmin reports whether the reader administers the organisation shown:
// never while acting for a customer.
func (p page) IsAdmin() bool {
	return p.User != nil && p.User.Role == fleet.RoleAdmin && p.Acting == ""
}

// UserID is the logged-in user's ID, for templates.
func (p page) UserID() fleet.UserID {
	if p.User == nil {
		return ""
	}
	return p.User.ID
}

// render executes a page template into a buffer first, so a template error
// never sends half a page.
func (h *handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	p.Lang, p.Zone = h.locale(r)
	p.Path = r.URL.Path
	p.Demo = h.demo.label(h.clock.Now(), p.Zone)
	p.Acting = actingFor(r)
	var b strings.Builder
	if err := h.pages[name].ExecuteTemplate(&b, "layout", p); err != nil {
		h.log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(b.String()))
}

// isNotFound reports whether err says the thing does not exist.
func isNotFound(err error) bool { return errors.Is(err, fleet.ErrNotFound) }

// locale is the reader's language and time zone: a logged-in reader's
// choice (loaded with the session, see authorize), else the browser's
// preferred language and UTC.
func (h *handler) locale(r *http.Request) (i18n.Lang, *time.Location) {
	p, _ := prefsOf(r)
	return chooseLang(p, r.Header.Get("Accept-Language")), h.zone(p.TimeZone)
}
