package restapi

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/alert"
	"github.com/fusionfleet/fusionfleet/internal/audit"
	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/diagnostics"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
	"github.com/fusionfleet/fusionfleet/internal/grant"
	"github.com/fusionfleet/fusionfleet/internal/httpserver"
	"github.com/fusionfleet/fusionfleet/internal/identity"
	"github.com/fusionfleet/fusionfleet/internal/kpi"
	"github.com/fusionfleet/fusionfleet/internal/maintenance"
	"github.com/fusionfleet/fusionfleet/internal/notify"
	"github.com/fusionfleet/fusionfleet/internal/orgexport"
)

// Deps are the capabilities of the cloud store the API uses, one field
// each; every group of operations takes only those it needs (see the
// package documentation). One store usually fills them all.
type Deps struct {
	TokenLookup  TokenLookup              // the bearer token of every request
	Members      access.Members           // the token's owner; users; account
	Passwords    PasswordReset            // an admin's password reset
	Sites        access.Sites             // sites and enrolment tokens; KPI filters
	Tokens       access.Tokens            // API tokens
	Printers     fleetquery.PrinterReader // printers and their detail
	PrinterSites access.PrinterSites      // moving a printer to another site
	Jobs         fleetquery.JobReader     // jobs
	History      fleetquery.HistoryReader // a printer's snapshots and events
	Alerts       alert.Tracker            // alerts
	AlertRules   alert.RuleEditor         // alert rules
	Channels     notify.Channels          // notification channels and deliveries
	NotifyPrefs  notify.Preferences       // a user's notification preferences
	KPIs         kpi.Reader               // KPIs, benchmark and usage
	// Releases lists the cloud's signed updates (GET /api/v1/updates);
	// nil: the cloud has no update repository.
	Releases    Releases
	Grants      access.Grants      // a customer's grants to service providers
	GrantLookup access.GrantLookup // the grant a request names; a provider's grants
	Orgs        access.Orgs        // the names of a grant's organisations
	// Maintenance is the fleet's component life models; nil: forecasts
	// fall back to the rated lives.
	Maintenance MaintenanceModels
	// Learning keeps the learning loop's models and proposed parameter
	// sets; nil: GET /api/v1/learning answers 404.
	Learning LearningStore
	// Audit records administrators' changes, grant changes and every
	// request under a customer's grant (see authorize); nil: log lines
	// only (audit.Logger), no tamper-evident log.
	Audit audit.Recorder
	// Plans gives each organisation's features (R-FEAT-10): the API is
	// for plans with access.FeatureAPI. nil: every organisation has
	// access.DefaultFeatures.
	Plans access.Plans
	// AuditLog and Export serve the organisation's audit log and the
	// export of all its data (datarights.go).
	AuditLog audit.Reader
	Export   orgexport.Source
	// Diagnostics keeps remote diagnostic requests and their results;
	// nil: the diagnostics routes answer 404.
	Diagnostics diagnostics.Store
	// Airgap imports air-gapped sites' bundles and issues their
	// acknowledgements; nil: the air-gap routes answer 404.
	// UpdateBundles writes the update bundle they import; nil: none.
	Airgap        Airgap
	UpdateBundles UpdateBundles
}

// TokenLookup finds the stored API token whose secret hashes to
// tokenHash; an unknown hash is fleet.ErrNotFound.
type TokenLookup interface {
	APITokenByHash(ctx context.Context, tokenHash string) (access.Token, error)
}

// PasswordReset gives a user of org a password an administrator issued,
// to be replaced at the next login, ends the user's sessions and pending
// logins, and revokes the user's API tokens at now.
type PasswordReset interface {
	ResetPassword(ctx context.Context, org fleet.OrgID, user fleet.UserID, passwordHash string, now time.Time) error
}

// Options tunes the API. The zero value works: real clock, no logs.
type Options struct {
	Clock  clock.Clock
	Logger *slog.Logger
	// AllowPrivateWebhooks accepts webhook URLs whose host is a private or
	// other special-purpose IP address (as the notify dispatcher's option
	// of the same name allows delivering to them).
	AllowPrivateWebhooks bool
}

const (
	maxBodyBytes = 64 << 10
	enrolmentTTL = 24 * time.Hour
)

//go:embed openapi.json
var openAPI []byte

// handler is what every operation shares: the encoding, the one error
// mapping, the clock and the log. It holds no store: each group of
// operations below embeds it and holds the capabilities it uses.
type handler struct {
	clock clock.Clock
	log   *slog.Logger
	audit audit.Recorder
}

// api is the whole API: the one authorization check, which resolves the
// bearer token and its owner, and the groups the route table dispatches to.
type api struct {
	*handler
	lookup   TokenLookup
	members  access.Members
	acting   access.GrantLookup // the grant a request names
	plans    access.Plans
	account  *accountAPI
	sites    *siteAPI
	printers *printerAPI
	jobs     *jobAPI
	users    *userAPI
	tokens   *tokenAPI
	alerts   *alertAPI
	notify   *notifyAPI
	kpis     *kpiAPI
	updates  *updatesAPI
	maint    *maintenanceAPI
	learning *learningAPI
	grants   *grantAPI
	data     *dataAPI
	diags    *diagnosticAPI
	airgap   *airgapAPI
}

// The groups of operations and the capabilities each uses.
type (
	accountAPI struct {
		*handler
		members access.Members
	}
	siteAPI struct {
		*handler
		sites access.Sites
	}
	printerAPI struct {
		*handler
		printers fleetquery.PrinterReader
		history  fleetquery.HistoryReader
		sites    access.PrinterSites
	}
	jobAPI struct {
		*handler
		printers fleetquery.PrinterReader
		jobs     fleetquery.JobReader
	}
	userAPI struct {
		*handler
		members   access.Members
		passwords PasswordReset
	}
	tokenAPI struct {
		*handler
		tokens access.Tokens
	}
	alertAPI struct {
		*handler
		alerts  alert.Tracker
		rules   alert.RuleEditor
		members access.Members // assignees
	}
	notifyAPI struct {
		*handler
		channels     notify.Channels
		prefs        notify.Preferences
		allowPrivate bool // webhooks to special-purpose addresses
	}
	kpiAPI struct {
		*handler
		printers fleetquery.PrinterReader
		sites    access.Sites
		kpis     kpi.Reader
	}
	updatesAPI struct {
		*handler
		releases Releases // nil: no update repository
		printers fleetquery.PrinterReader
	}
)

// NewHandler returns the REST API with all its routes. It answers the full
// paths /api/openapi.json and /api/v1/…: mount it at /api/ unchanged.
func NewHandler(d Deps, opts Options) http.Handler {
	return newHandler(d, opts).mux()
}

func newHandler(d Deps, opts Options) *api {
	h := &handler{clock: opts.Clock, log: opts.Logger}
	if h.clock == nil {
		h.clock = clock.Real{}
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.log = h.log.With("component", "restapi")
	h.audit = d.Audit
	if h.audit == nil {
		h.audit = audit.Logger{Log: h.log}
	}
	return &api{
		handler:  h,
		lookup:   d.TokenLookup,
		members:  d.Members,
		acting:   d.GrantLookup,
		plans:    d.Plans,
		account:  &accountAPI{handler: h, members: d.Members},
		sites:    &siteAPI{handler: h, sites: d.Sites},
		printers: &printerAPI{handler: h, printers: d.Printers, history: d.History, sites: d.PrinterSites},
		jobs:     &jobAPI{handler: h, printers: d.Printers, jobs: d.Jobs},
		users:    &userAPI{handler: h, members: d.Members, passwords: d.Passwords},
		tokens:   &tokenAPI{handler: h, tokens: d.Tokens},
		alerts:   &alertAPI{handler: h, alerts: d.Alerts, rules: d.AlertRules, members: d.Members},
		notify:   &notifyAPI{handler: h, channels: d.Channels, prefs: d.NotifyPrefs, allowPrivate: opts.AllowPrivateWebhooks},
		kpis:     &kpiAPI{handler: h, printers: d.Printers, sites: d.Sites, kpis: d.KPIs},
		updates:  &updatesAPI{handler: h, releases: d.Releases, printers: d.Printers},
		maint:    &maintenanceAPI{handler: h, printers: d.Printers, book: maintenance.NewBook(d.History, maintenance.BookOptions{}), models: d.Maintenance},
		learning: &learningAPI{handler: h, store: d.Learning},
		grants:   &grantAPI{handler: h, grants: d.Grants, lookup: d.GrantLookup, orgs: d.Orgs, audit: d.Audit},
		data:     &dataAPI{handler: h, audit: d.AuditLog, export: d.Export},
		diags:    &diagnosticAPI{handler: h, desk: newDesk(d, h.clock)},
		airgap:   &airgapAPI{handler: h, airgap: d.Airgap, updates: d.UpdateBundles},
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

// route is one entry of the route table.
type route struct {
	method string
	path   string
	need   access.Requirement
	handle func(w http.ResponseWriter, r *http.Request, p access.Principal) error
}

var (
	public     = access.Requirement{Public: true}
	read       = access.Requirement{Role: fleet.RoleViewer}
	write      = access.Requirement{Role: fleet.RoleViewer, Write: true}
	adminRead  = access.Requirement{Role: fleet.RoleAdmin}
	adminWrite = access.Requirement{Role: fleet.RoleAdmin, Write: true}
	// sessionOnly refuses every API token: creating tokens and changing
	// one's password are for a logged-in user in the dashboard.
	sessionOnly = access.Requirement{Role: fleet.RoleViewer, Write: true, Session: true}
	// Notification channels carry every site's alerts and have no site of
	// their own: they, and their delivery log, are the organisation's.
	orgRead  = access.Requirement{Role: fleet.RoleAdmin, OrgWide: true}
	orgWrite = access.Requirement{Role: fleet.RoleAdmin, Write: true, OrgWide: true}
	// Maintenance forecasts are open to a service provider the customer
	// granted the maintenance scope.
	maintenanceRead = access.Requirement{Role: fleet.RoleViewer, Grant: access.GrantMaintenance}
	// grantRead is read, and open to a service provider acting under a
	// grant with the status scope: the status, alerts and KPIs of the
	// granted sites' printers. Everything else stays closed to providers.
	grantRead = access.Requirement{Role: fleet.RoleViewer, Grant: access.GrantStatus}
)

// routes is the one place where every route and what it requires is
// declared. The tests hold it against the OpenAPI document.
func (h *api) routes() []route {
	return []route{
		{"GET", "/api/openapi.json", public, h.openAPI},
		{"GET", "/api/v1/me", read, h.me},
		{"GET", "/api/v1/account", read, h.account.account},
		{"PUT", "/api/v1/account", write, h.account.setAccount},
		{"PUT", "/api/v1/account/password", sessionOnly, h.account.changePassword},
		{"GET", "/api/v1/sites", grantRead, h.sites.listSites},
		{"POST", "/api/v1/sites", adminWrite, h.sites.createSite},
		{"GET", "/api/v1/printers", grantRead, h.printers.listPrinters},
		{"GET", "/api/v1/printers/{id}", grantRead, h.printers.printer},
		{"GET", "/api/v1/printers/{id}/detail", grantRead, h.printers.printerDetail},
		{"GET", "/api/v1/printers/{id}/consumables", grantRead, h.printers.consumablesHistory},
		{"GET", "/api/v1/printers/{id}/counters", grantRead, h.printers.countersHistory},
		{"GET", "/api/v1/printers/{id}/events", grantRead, h.printers.printerEvents},
		{"GET", "/api/v1/printers/{id}/maintenance", maintenanceRead, h.maint.printerMaintenance},
		{"GET", "/api/v1/printers/{id}/jobs/{job}", read, h.jobs.printerJob},
		{"GET", "/api/v1/printers/{id}/jobs/{job}/layers", read, h.jobs.jobLayers},
		{"POST", "/api/v1/printers/{id}/site", adminWrite, h.printers.movePrinter},
		{"GET", "/api/v1/jobs", read, h.jobs.jobHistory},
		{"GET", "/api/v1/users", adminRead, h.users.users},
		{"POST", "/api/v1/users", adminWrite, h.users.createUser},
		{"GET", "/api/v1/users/{id}", adminRead, h.users.user},
		{"PATCH", "/api/v1/users/{id}", adminWrite, h.users.updateUser},
		{"DELETE", "/api/v1/users/{id}", adminWrite, h.users.deleteUser},
		{"POST", "/api/v1/users/{id}/password", adminWrite, h.users.resetPassword},
		{"GET", "/api/v1/tokens", read, h.tokens.listTokens},
		{"POST", "/api/v1/tokens", sessionOnly, h.tokens.createToken},
		{"DELETE", "/api/v1/tokens/{id}", write, h.tokens.revokeToken},
		{"POST", "/api/v1/enrolment-tokens", adminWrite, h.sites.createEnrolmentToken},
		{"GET", "/api/v1/alerts", grantRead, h.alerts.listAlerts},
		{"GET", "/api/v1/alerts/{id}", grantRead, h.alerts.getAlert},
		{"POST", "/api/v1/alerts/{id}/ack", operatorWrite, h.alerts.ackAlert},
		{"POST", "/api/v1/alerts/{id}/assign", operatorWrite, h.alerts.assignAlert},
		{"GET", "/api/v1/alert-rules", read, h.alerts.alertRules},
		{"GET", "/api/v1/notification-channels", orgRead, h.notify.notificationChannels},
		{"POST", "/api/v1/notification-channels", orgWrite, h.notify.createNotificationChannel},
		{"DELETE", "/api/v1/notification-channels/{id}", orgWrite, h.notify.deleteNotificationChannel},
		{"POST", "/api/v1/notification-channels/{id}/test", orgWrite, h.notify.testNotificationChannel},
		{"GET", "/api/v1/deliveries", orgRead, h.notify.deliveries},
		{"GET", "/api/v1/notification-prefs", read, h.notify.notificationPrefs},
		{"PUT", "/api/v1/notification-prefs", write, h.notify.setNotificationPrefs},
		{"POST", "/api/v1/alert-rules", adminWrite, h.alerts.createAlertRule},
		{"DELETE", "/api/v1/alert-rules/{id}", adminWrite, h.alerts.deleteAlertRule},
		{"PUT", "/api/v1/alert-rules/{key}/muted", adminWrite, h.alerts.muteAlertRule},
		{"GET", "/api/v1/kpis", grantRead, h.kpis.getKPIs},
		{"GET", "/api/v1/benchmark", access.Requirement{Role: fleet.RoleViewer, Feature: access.FeatureBenchmark}, h.kpis.benchmark},
		{"GET", "/api/v1/usage", read, h.kpis.usage},
		{"GET", "/api/v1/updates", read, h.updates.updates},
		{"GET", "/api/v1/learning", learningRead, h.learning.learning},
		{"GET", "/api/v1/grants", adminRead, h.grants.listGrants},
		{"POST", "/api/v1/grants", adminWrite, h.grants.createGrant},
		{"DELETE", "/api/v1/grants/{id}", adminWrite, h.grants.revokeGrant},
		{"GET", "/api/v1/received-grants", read, h.grants.receivedGrants},
		{"GET", "/api/v1/audit", orgRead, h.data.auditLog},
		{"GET", "/api/v1/audit/export", orgRead, h.data.auditExport},
		{"GET", "/api/v1/export", access.Requirement{Role: fleet.RoleAdmin, OrgWide: true, Feature: access.FeatureExport}, h.data.exportData},
		{"GET", "/api/v1/printers/{id}/diagnostics", diagRead, h.diags.listDiagnostics},
		{"POST", "/api/v1/printers/{id}/diagnostics", diagRequest, h.diags.requestDiagnostic},
		{"GET", "/api/v1/diagnostics/{id}", diagRead, h.diags.diagnostic},
		{"GET", "/api/v1/diagnostics/{id}/result", diagRead, h.diags.diagnosticResult},
		{"POST", "/api/v1/diagnostics/{id}/cancel", diagRequest, h.diags.cancelDiagnostic},
		{"POST", "/api/v1/airgap/bundles", orgWrite, h.airgap.importBundle},
		{"GET", "/api/v1/airgap/gateways/{id}/ack", orgRead, h.airgap.ackFile},
		{"GET", "/api/v1/airgap/key", orgRead, h.airgap.publicKey},
		{"GET", "/api/v1/airgap/updates", orgRead, h.airgap.updateBundle},
	}
}

// mux builds the ServeMux from the route table: every route behind
// authorize, every other method on a known path a 405, anything else 404.
func (h *api) mux() http.Handler {
	mux := http.NewServeMux()
	allow := map[string][]string{}
	for _, rt := range h.routes() {
		mux.Handle(rt.method+" "+rt.path, h.authorize(rt))
		allow[rt.path] = append(allow[rt.path], rt.method)
	}
	for path, methods := range allow {
		list := strings.Join(methods, ", ")
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", list)
			h.writeError(w, r, errMethod)
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { h.writeError(w, r, fleet.ErrNotFound) })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Cache-Control", "no-store")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		limit := int64(maxBodyBytes)
		if r.URL.Path == "/api/v1/airgap/bundles" {
			limit = MaxBundleBytes // a site's outbox, not a JSON object
			// The server's read timeout is for JSON bodies; a bundle of
			// hundreds of MiB takes minutes on an office link.
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(30 * time.Minute))
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		mux.ServeHTTP(w, r)
	})
}

// authorize is the one authorization check: it resolves the caller and
// lets the handler run only if access.Check allows the route's requirement.
func (h *api) authorize(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p access.Principal
		if !rt.need.Public {
			var err error
			if p, err = h.principal(r); err == nil {
				p, err = access.WithFeatures(r.Context(), h.plans, p)
			}
			if err == nil {
				need := rt.need
				need.Feature |= access.FeatureAPI // the whole API is a feature of the plan
				err = access.Check(p, need, h.clock.Now())
			}
			if err == nil {
				if e, ok := audit.OfRequest(h.clock.Now(), p, rt.need, rt.method+" "+rt.path, r); ok {
					err = h.audit.Record(r.Context(), e) // unrecorded, the request changes nothing
				}
			}
			if err != nil {
				h.writeError(w, r, err)
				return
			}
		}
		if err := rt.handle(w, r, p); err != nil {
			h.writeError(w, r, err)
		}
	})
}

// principal resolves the request's bearer token and, when the request
// names one in GrantHeader, the grant under which the token's owner acts
// (grant.Act: read from the store on every request, so a revoked or
// expired grant is refused at once). No Authorization header is the
// anonymous principal; anything wrong with one is
// access.ErrUnauthenticated, and a grant that does not admit the owner is
// access.ErrForbidden.
func (h *api) principal(r *http.Request) (access.Principal, error) {
	p, err := h.tokenPrincipal(r)
	id := r.Header.Get(GrantHeader)
	if err != nil || id == "" || p.Kind == access.KindNone {
		return p, err
	}
	return grant.Act(r.Context(), h.acting, p, id, h.clock.Now())
}

// tokenPrincipal resolves the request's bearer token.
func (h *api) tokenPrincipal(r *http.Request) (access.Principal, error) {
	hdr := r.Header.Get("Authorization")
	if hdr == "" {
		return access.Principal{}, nil
	}
	scheme, secret, ok := strings.Cut(hdr, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || !identity.ValidAPIToken(strings.TrimSpace(secret)) {
		return access.Principal{}, access.ErrUnauthenticated
	}
	ctx := r.Context()
	tok, err := h.lookup.APITokenByHash(ctx, identity.HashToken(strings.TrimSpace(secret)))
	if errors.Is(err, fleet.ErrNotFound) {
		return access.Principal{}, access.ErrUnauthenticated
	}
	if err != nil {
		return access.Principal{}, err
	}
	owner, err := h.members.Member(ctx, tok.OrgID, tok.UserID)
	if errors.Is(err, fleet.ErrNotFound) {
		return access.Principal{}, access.ErrUnauthenticated
	}
	if err != nil {
		return access.Principal{}, err
	}
	return access.ForToken(tok, owner, h.clock.Now())
}

// badRequest is an error whose text is meant for the caller.
type badRequest string

func (e badRequest) Error() string { return string(e) }

var errMethod = errors.New("method not allowed")

// statusOf is the one mapping from errors to HTTP statuses and the words
// the caller sees. Only a badRequest says more than its status: store
// errors name IDs, and an ID of another organisation must never be echoed.
func statusOf(err error) (int, string) {
	var br badRequest
	var u unprocessable
	switch {
	case errors.As(err, &br):
		return http.StatusBadRequest, string(br)
	case errors.As(err, &u):
		return http.StatusUnprocessableEntity, string(u)
	case errors.Is(err, access.ErrUnauthenticated):
		return http.StatusUnauthorized, "Missing, invalid, revoked or expired API token."
	case errors.Is(err, access.ErrSessionRequired):
		return http.StatusForbidden, "An API token cannot create API tokens or change a password: do it in the dashboard, logged in."
	case errors.Is(err, access.ErrFeature):
		return http.StatusForbidden, "Not included in the organisation's plan."
	case errors.Is(err, access.ErrForbidden):
		return http.StatusForbidden, "Not allowed for this token."
	case errors.Is(err, fleet.ErrNotFound):
		return http.StatusNotFound, "Not found."
	case errors.Is(err, fleet.ErrConflict):
		return http.StatusConflict, "Conflicts with the current state (a taken name, or the last administrator)."
	case errors.Is(err, errMethod):
		return http.StatusMethodNotAllowed, "Method not allowed."
	}
	return http.StatusInternalServerError, "Internal error."
}

// errorBody is the JSON body of every error.
type errorBody struct {
	Error string `json:"error"`
}

// writeError answers with err's status; it logs what is not the caller's
// fault, and a request its caller gave up only at Debug level.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := statusOf(err)
	if status == http.StatusInternalServerError && httpserver.ClientGone(r) {
		h.log.Debug("request ended by the client", "method", r.Method, "path", r.URL.Path, "err", err)
		return
	}
	if status == http.StatusInternalServerError {
		h.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="fusionfleet"`)
	}
	h.encode(w, status, errorBody{Error: msg})
}

// encode writes v as JSON.
func (h *handler) encode(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		h.log.Warn("encode response", "err", err)
	}
}

// decode reads one JSON object of at most maxBodyBytes into v. Unknown
// fields, trailing data and a body too large are a badRequest.
func decode(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return badRequest(fmt.Sprintf("The body is larger than %d bytes.", tooBig.Limit))
		}
		return badRequest("The body is not the JSON object this operation takes: " + jsonProblem(err))
	}
	if err := dec.Decode(new(json.RawMessage)); !errors.Is(err, io.EOF) {
		return badRequest("The body has data after the JSON object.")
	}
	return nil
}

// jsonProblem says what is wrong with a body in a few words.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d.", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q has the wrong type.", typ.Field)
	case errors.Is(err, io.EOF):
		return "the body is empty."
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return strings.TrimPrefix(err.Error(), "json: ") + "."
	}
	return "malformed JSON."
}

// openAPI serves the API's description.
func (h *handler) openAPI(w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPI)
	return nil
}

// OpenAPI returns the OpenAPI document of the cloud's REST API, as the
// cloud serves it.
func OpenAPI() []byte {
	return bytes.Clone(openAPI)
}
