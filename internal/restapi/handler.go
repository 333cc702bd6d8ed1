package restapi

import (
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
	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
	"github.com/fusionfleet/fusionfleet/internal/identity"
	"github.com/fusionfleet/fusionfleet/internal/kpi"
)

// Store is what the REST API needs from the cloud store.
type Store interface {
	APITokenByHash(ctx context.Context, tokenHash string) (access.Token, error)
	Member(ctx context.Context, org fleet.OrgID, user fleet.UserID) (access.Member, error)
	Members(ctx context.Context, org fleet.OrgID) ([]access.Member, error)
	CreateMember(ctx context.Context, org fleet.OrgID, name, passwordHash string, role fleet.Role, sites access.SiteSet) (fleet.UserID, error)
	SetMember(ctx context.Context, org fleet.OrgID, user fleet.UserID, role fleet.Role, sites access.SiteSet) error
	DeleteMember(ctx context.Context, org fleet.OrgID, user fleet.UserID) error
	Printers(ctx context.Context, org fleet.OrgID) ([]fleet.PrinterView, error)
	Sites(ctx context.Context, org fleet.OrgID) ([]fleet.Site, error)
	PrinterDetail(ctx context.Context, org fleet.OrgID, p fleet.PrinterID) (fleetquery.PrinterDetail, error)
	JobHistory(ctx context.Context, org fleet.OrgID, q fleetquery.JobQuery) ([]fleetquery.PrinterJob, error)
	Job(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, job string) (fleet.Job, error)
	JobParts(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, job string) ([]fleet.Part, error)
	JobLayers(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, job string) ([]fleet.Layer, error)
	CountersHistory(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time) ([]fleet.Counters, error)
	ConsumablesHistory(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time) ([]fleet.Consumables, error)
	Events(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time, limit int) ([]fleet.Event, error)
	CreateSite(ctx context.Context, org fleet.OrgID, name string) (fleet.SiteID, error)
	SetPrefs(ctx context.Context, org fleet.OrgID, user fleet.UserID, p fleet.Prefs) error
	APITokens(ctx context.Context, org fleet.OrgID, user fleet.UserID) ([]access.Token, error)
	APIToken(ctx context.Context, org fleet.OrgID, id access.TokenID) (access.Token, error)
	CreateAPIToken(ctx context.Context, tok access.Token, tokenHash string) (access.TokenID, error)
	RevokeAPIToken(ctx context.Context, org fleet.OrgID, id access.TokenID, now time.Time) error
	CreateEnrolmentToken(ctx context.Context, site fleet.SiteID, tokenHash string, expires time.Time) error
	alertStore  // alerts.go
	notifyStore // notify.go
	KPIDaily(ctx context.Context, org fleet.OrgID, f kpi.Filter) (kpi.Daily, error)
	UsageHeatmap(ctx context.Context, org fleet.OrgID, f kpi.Filter) (kpi.Usage, error)
	MaterialUse(ctx context.Context, org fleet.OrgID, f kpi.Filter) ([]kpi.MaterialDay, error)
	BenchmarkCohort(ctx context.Context, model string, exclude fleet.OrgID, from, to time.Time) ([]kpi.Aggregate, error)
}

// Options tunes the API. The zero value works: real clock, no logs.
type Options struct {
	Clock  clock.Clock
	Logger *slog.Logger
	// Releases lists the cloud's signed updates (GET /api/v1/updates);
	// nil: the cloud has no update repository.
	Releases Releases
}

const (
	maxBodyBytes = 64 << 10
	enrolmentTTL = 24 * time.Hour
)

//go:embed openapi.json
var openAPI []byte

type handler struct {
	st       Store
	clock    clock.Clock
	log      *slog.Logger
	releases Releases
}

// NewHandler returns the REST API with all its routes. It answers the full
// paths /api/openapi.json and /api/v1/…: mount it at /api/ unchanged.
func NewHandler(st Store, opts Options) http.Handler {
	return newHandler(st, opts).mux()
}

func newHandler(st Store, opts Options) *handler {
	h := &handler{st: st, clock: opts.Clock, log: opts.Logger, releases: opts.Releases}
	if h.clock == nil {
		h.clock = clock.Real{}
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.log = h.log.With("component", "restapi")
	return h
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
)

// routes is the one place where every route and what it requires is
// declared. The tests hold it against the OpenAPI document.
func (h *handler) routes() []route {
	return []route{
		{"GET", "/api/openapi.json", public, h.openAPI},
		{"GET", "/api/v1/me", read, h.me},
		{"GET", "/api/v1/account", read, h.account},
		{"PUT", "/api/v1/account", write, h.setAccount},
		{"GET", "/api/v1/sites", read, h.sites},
		{"POST", "/api/v1/sites", adminWrite, h.createSite},
		{"GET", "/api/v1/printers", read, h.printers},
		{"GET", "/api/v1/printers/{id}", read, h.printer},
		{"GET", "/api/v1/printers/{id}/detail", read, h.printerDetail},
		{"GET", "/api/v1/printers/{id}/consumables", read, h.consumablesHistory},
		{"GET", "/api/v1/printers/{id}/counters", read, h.countersHistory},
		{"GET", "/api/v1/printers/{id}/events", read, h.printerEvents},
		{"GET", "/api/v1/printers/{id}/jobs/{job}", read, h.printerJob},
		{"GET", "/api/v1/printers/{id}/jobs/{job}/layers", read, h.jobLayers},
		{"GET", "/api/v1/jobs", read, h.jobHistory},
		{"GET", "/api/v1/users", adminRead, h.users},
		{"POST", "/api/v1/users", adminWrite, h.createUser},
		{"GET", "/api/v1/users/{id}", adminRead, h.user},
		{"PATCH", "/api/v1/users/{id}", adminWrite, h.updateUser},
		{"DELETE", "/api/v1/users/{id}", adminWrite, h.deleteUser},
		{"GET", "/api/v1/tokens", read, h.tokens},
		{"POST", "/api/v1/tokens", write, h.createToken},
		{"DELETE", "/api/v1/tokens/{id}", write, h.revokeToken},
		{"POST", "/api/v1/enrolment-tokens", adminWrite, h.createEnrolmentToken},
		{"GET", "/api/v1/alerts", read, h.alerts},
		{"GET", "/api/v1/alerts/{id}", read, h.getAlert},
		{"POST", "/api/v1/alerts/{id}/ack", operatorWrite, h.ackAlert},
		{"POST", "/api/v1/alerts/{id}/assign", operatorWrite, h.assignAlert},
		{"GET", "/api/v1/alert-rules", read, h.alertRules},
		{"GET", "/api/v1/notification-channels", adminRead, h.notificationChannels},
		{"POST", "/api/v1/notification-channels", adminWrite, h.createNotificationChannel},
		{"DELETE", "/api/v1/notification-channels/{id}", adminWrite, h.deleteNotificationChannel},
		{"POST", "/api/v1/notification-channels/{id}/test", adminWrite, h.testNotificationChannel},
		{"GET", "/api/v1/deliveries", adminRead, h.deliveries},
		{"GET", "/api/v1/notification-prefs", read, h.notificationPrefs},
		{"PUT", "/api/v1/notification-prefs", write, h.setNotificationPrefs},
		{"POST", "/api/v1/alert-rules", adminWrite, h.createAlertRule},
		{"DELETE", "/api/v1/alert-rules/{id}", adminWrite, h.deleteAlertRule},
		{"PUT", "/api/v1/alert-rules/{key}/muted", adminWrite, h.muteAlertRule},
		{"GET", "/api/v1/kpis", read, h.kpis},
		{"GET", "/api/v1/benchmark", read, h.benchmark},
		{"GET", "/api/v1/usage", read, h.usage},
		{"GET", "/api/v1/updates", read, h.updates},
	}
}

// mux builds the ServeMux from the route table: every route behind
// authorize, every other method on a known path a 405, anything else 404.
func (h *handler) mux() http.Handler {
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
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		mux.ServeHTTP(w, r)
	})
}

// authorize is the one authorization check: it resolves the caller and
// lets the handler run only if access.Check allows the route's requirement.
func (h *handler) authorize(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p access.Principal
		if !rt.need.Public {
			var err error
			if p, err = h.principal(r); err == nil {
				err = access.Check(p, rt.need, h.clock.Now())
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

// principal resolves the request's bearer token. No Authorization header
// is the anonymous principal; anything wrong with one is
// access.ErrUnauthenticated.
func (h *handler) principal(r *http.Request) (access.Principal, error) {
	hdr := r.Header.Get("Authorization")
	if hdr == "" {
		return access.Principal{}, nil
	}
	scheme, secret, ok := strings.Cut(hdr, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || !identity.ValidAPIToken(strings.TrimSpace(secret)) {
		return access.Principal{}, access.ErrUnauthenticated
	}
	ctx := r.Context()
	tok, err := h.st.APITokenByHash(ctx, identity.HashToken(strings.TrimSpace(secret)))
	if errors.Is(err, fleet.ErrNotFound) {
		return access.Principal{}, access.ErrUnauthenticated
	}
	if err != nil {
		return access.Principal{}, err
	}
	owner, err := h.st.Member(ctx, tok.OrgID, tok.UserID)
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
	switch {
	case errors.As(err, &br):
		return http.StatusBadRequest, string(br)
	case errors.Is(err, access.ErrUnauthenticated):
		return http.StatusUnauthorized, "Missing, invalid, revoked or expired API token."
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

// writeError answers with err's status; it logs what is not the caller's fault.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := statusOf(err)
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
