package deviceapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"reflect"
	"strconv"
	"strings"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// Device is what the handler serves: a printer, virtual or real.
//
// Feeds (Events, Jobs, Layers, Logs) return the items with Seq > after,
// oldest first, at most limit (see Page). Snapshots (Identity, Status,
// Counters, Consumables) return the state now.
type Device interface {
	Identity() Identity
	Status() Status
	Events(after uint64, limit int) EventPage
	Jobs(after uint64, limit int) JobPage
	Layers(after uint64, limit int) LayerPage
	// Logs reads one device log; an unknown log is the caller's error
	// (the handler checks fleet.LogKind.Valid first).
	Logs(log fleet.LogKind, after uint64, limit int) LogPage
	Counters() fleet.Counters
	Consumables() fleet.Consumables
	SelfTest() SelfTest
}

// Paging limits of the feeds. A read without limit gets the default; a
// limit of 0 or above the maximum is refused (400). The maxima keep one
// answer well below the client's default MaxResponseBytes (8 MiB): a job
// entry carries its parts and is the largest item.
const (
	DefaultEventLimit = 100
	MaxEventLimit     = 1000
	DefaultJobLimit   = 10
	MaxJobLimit       = 50
	DefaultLayerLimit = 500
	MaxLayerLimit     = 5000
	DefaultLogLimit   = 200
	MaxLogLimit       = 2000
)

// Request limits. Every route is a GET with at most two query parameters,
// so nothing legitimate comes near them. The server (NewServer) has a
// harder header limit of its own, answered by net/http before the handler.
const (
	maxRequestBody  = 1 << 10
	maxURLBytes     = 1 << 10
	maxHeaderBytes  = 8 << 10
	openAPIPath     = "/openapi.json"
	errUnknownRoute = "no route"
)

// limits are the paging limits of one feed.
type limits struct{ def, max int }

// cursor is a feed read's position and size, from ?after=&limit=.
type cursor struct {
	after uint64
	limit int
}

// route is one route of the device API. NewHandler builds its mux from
// routeTable and the OpenAPI document describes the same table, so the two
// cannot drift. Every route is a GET (HEAD too, as ServeMux allows).
type route struct {
	path    string       // ServeMux path pattern
	summary string       // one line for the OpenAPI document
	answer  reflect.Type // type of the 200 answer; nil: any JSON object
	feed    *limits      // paging limits of a feed; nil for a snapshot
	// public routes are served to any client; every other route only to a
	// paired collector (see NewHandler). A new route is private unless it
	// says otherwise, so it cannot leak by being forgotten.
	public bool
	serve  func(d Device, r *http.Request, c cursor) (any, error)
}

// requestError is a client error with the status that says what kind.
type requestError struct {
	code int
	msg  string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &requestError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// routeTable lists the routes of the device API; doc is the OpenAPI
// document served at /openapi.json.
func routeTable(doc json.RawMessage) []route {
	return []route{
		{path: "/v1/identity", summary: "Printer identification (R-DATA-1)", answer: reflect.TypeFor[Identity](), public: true,
			serve: func(d Device, _ *http.Request, _ cursor) (any, error) { return d.Identity(), nil }},
		{path: "/v1/status", summary: "Heartbeat: state, activity, current job (R-DATA-2)", answer: reflect.TypeFor[Status](),
			serve: func(d Device, _ *http.Request, _ cursor) (any, error) { return d.Status(), nil }},
		{path: "/v1/events", summary: "Events and alerts after a cursor (R-DATA-3)", answer: reflect.TypeFor[EventPage](),
			feed: &limits{DefaultEventLimit, MaxEventLimit},
			serve: func(d Device, _ *http.Request, c cursor) (any, error) {
				return nonNilItems(d.Events(c.after, c.limit)), nil
			}},
		{path: "/v1/jobs", summary: "Job changes, with their parts, after a cursor (R-DATA-4, R-DATA-5)", answer: reflect.TypeFor[JobPage](),
			feed: &limits{DefaultJobLimit, MaxJobLimit},
			serve: func(d Device, _ *http.Request, c cursor) (any, error) {
				return nonNilItems(d.Jobs(c.after, c.limit)), nil
			}},
		{path: "/v1/layers", summary: "Printed layers after a cursor (R-DATA-6)", answer: reflect.TypeFor[LayerPage](),
			feed: &limits{DefaultLayerLimit, MaxLayerLimit},
			serve: func(d Device, _ *http.Request, c cursor) (any, error) {
				return nonNilItems(d.Layers(c.after, c.limit)), nil
			}},
		{path: "/v1/logs/{log}", summary: "Lines of one device log after a cursor (R-DATA-12)", answer: reflect.TypeFor[LogPage](),
			feed: &limits{DefaultLogLimit, MaxLogLimit},
			serve: func(d Device, r *http.Request, c cursor) (any, error) {
				log := fleet.LogKind(r.PathValue("log"))
				if !log.Valid() {
					return nil, &requestError{http.StatusNotFound, fmt.Sprintf("unknown log %q; known logs: %s", log, knownLogs())}
				}
				return nonNilItems(d.Logs(log, c.after, c.limit)), nil
			}},
		{path: "/v1/counters", summary: "Lifetime usage counters (R-DATA-7)", answer: reflect.TypeFor[fleet.Counters](),
			serve: func(d Device, _ *http.Request, _ cursor) (any, error) { return d.Counters(), nil }},
		{path: "/v1/consumables", summary: "Cleaning roll, agents, printheads, build units, lamps (R-DATA-8..11)", answer: reflect.TypeFor[fleet.Consumables](),
			serve: func(d Device, _ *http.Request, _ cursor) (any, error) { return d.Consumables(), nil }},
		{path: "/v1/selftest", summary: "Self-test: the printer checks its subsystems now and reports each (R-FEAT-7)", answer: reflect.TypeFor[SelfTest](),
			serve: func(d Device, _ *http.Request, _ cursor) (any, error) { return d.SelfTest(), nil }},
		{path: openAPIPath, summary: "This API's OpenAPI 3.1 document", public: true,
			serve: func(Device, *http.Request, cursor) (any, error) { return doc, nil }},
	}
}

// NewHandler returns the device API handler for d. Every answer is JSON,
// errors included ({"error": "..."}); a bad request is answered 4xx and
// never reaches d.
//
// Only the identity and the OpenAPI document are served to any client:
// what an operator and the self-test need to find and pair a printer, and
// no private name. Every other route (status with the current job's names,
// the feeds with job, part, user and computer names, the logs, the
// counters) is served only to a paired collector: a client whose TLS
// certificate has a fingerprint in collectors (NewServer asks for one).
// Any other client is answered 401, before the query is read. nil
// collectors pair none.
func NewHandler(d Device, collectors *Collectors, logger *slog.Logger) http.Handler {
	logger = logger.With("component", "deviceapi")
	table := routeTable(openAPIDocument(routeTable(nil)))
	paths := make([]string, len(table))
	mux := http.NewServeMux()
	for i, rt := range table {
		paths[i] = rt.path
		mux.HandleFunc("GET "+rt.path, func(w http.ResponseWriter, r *http.Request) {
			if !rt.public {
				if msg, ok := authorize(r, collectors); !ok {
					writeError(w, logger, http.StatusUnauthorized, msg)
					return
				}
			}
			c, err := parseQuery(r.URL.RawQuery, rt.feed)
			var v any
			if err == nil {
				v, err = rt.serve(d, r, c)
			}
			if err != nil {
				writeRequestError(w, logger, err)
				return
			}
			encode(w, logger, http.StatusOK, v)
		})
		// The method-less pattern is less specific, so it only catches the
		// other methods: a JSON 405 instead of ServeMux's plain-text one.
		mux.HandleFunc(rt.path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, logger, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s; use GET", r.Method, rt.path))
		})
	}
	notFound := func(w http.ResponseWriter, r *http.Request) {
		msg := fmt.Sprintf("%s %q; routes: %s", errUnknownRoute, r.URL.Path, strings.Join(paths, ", "))
		if strings.HasPrefix(r.URL.Path, "/v1/logs") {
			msg = fmt.Sprintf("%s %q; logs are read at /v1/logs/{log}, known logs: %s", errUnknownRoute, r.URL.Path, knownLogs())
		}
		writeError(w, logger, http.StatusNotFound, msg)
	}
	mux.HandleFunc("/", notFound)
	return guard(mux, notFound, logger)
}

// authorize says whether the client of r is a paired collector, and if
// not, why, in words an operator can act on. The client is identified by
// the fingerprint of the certificate it presented in the TLS handshake,
// whose private key it proved to hold there (crypto/tls checks the
// handshake's signature even though NewServer verifies no chain): the pin
// is the whole trust decision, as on the Command Center's side. No HTTP
// authentication scheme names a TLS client certificate, so the 401 has no
// WWW-Authenticate challenge; its body says what to do.
func authorize(r *http.Request, collectors *Collectors) (msg string, ok bool) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return "not paired: this route serves private fields to paired collectors only, and the client presented " +
			"no certificate; pair the Command Center at the printer with its certificate fingerprint (shown on its local UI)", false
	}
	fp := FingerprintOf(r.TLS.PeerCertificates[0].Raw)
	if !collectors.Paired(fp) {
		return fmt.Sprintf("not paired: this route serves private fields to paired collectors only; confirm the "+
			"client certificate fingerprint %s at the printer to pair it", fp), false
	}
	return "", true
}

// guard refuses oversized requests and non-canonical paths before they
// reach the mux, each with a JSON error: a URL over maxURLBytes (414),
// headers over maxHeaderBytes (431), a body over maxRequestBody (413). A
// path that ServeMux would clean and redirect is simply not a route (404).
func guard(next http.Handler, notFound http.HandlerFunc, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := len(r.RequestURI); n > maxURLBytes {
			writeError(w, logger, http.StatusRequestURITooLong, fmt.Sprintf("request URL of %d bytes; at most %d allowed", n, maxURLBytes))
			return
		}
		if n := headerBytes(r.Header); n > maxHeaderBytes {
			writeError(w, logger, http.StatusRequestHeaderFieldsTooLarge, fmt.Sprintf("request headers of %d bytes; at most %d allowed", n, maxHeaderBytes))
			return
		}
		if r.ContentLength > maxRequestBody {
			writeError(w, logger, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body of %d bytes; routes take no body", r.ContentLength))
			return
		}
		if r.Body != nil {
			// Drain what a client sent anyway, within the limit, so the
			// connection can be reused.
			r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
			if _, err := io.Copy(io.Discard, r.Body); err != nil {
				if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
					writeError(w, logger, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes; routes take no body", maxRequestBody))
					return
				}
				writeError(w, logger, http.StatusBadRequest, "read request body: "+err.Error())
				return
			}
		}
		if p := r.URL.Path; p == "" || p[0] != '/' || path.Clean(p) != p {
			notFound(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// headerBytes is the size of h as it was on the wire, roughly.
func headerBytes(h http.Header) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4 // ": " and CRLF
		}
	}
	return n
}

// parseQuery parses a route's query: ?after=<seq>&limit=<n> for a feed
// (feed != nil), nothing for a snapshot. A missing after is 0, a missing
// limit is the feed's default. Unknown, repeated, empty or malformed
// parameters and limits outside 1..max are refused, so that a typo cannot
// silently restart a feed from the beginning.
func parseQuery(raw string, feed *limits) (cursor, error) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return cursor{}, badRequest("malformed query %q: %v", raw, err)
	}
	allowed := map[string]bool{}
	if feed != nil {
		allowed["after"], allowed["limit"] = true, true
	}
	for k, vs := range q {
		if !allowed[k] {
			if feed == nil {
				return cursor{}, badRequest("unknown query parameter %q: this route takes none", k)
			}
			return cursor{}, badRequest("unknown query parameter %q: want after and limit", k)
		}
		if len(vs) != 1 {
			return cursor{}, badRequest("query parameter %q given %d times, want once", k, len(vs))
		}
	}
	if feed == nil {
		return cursor{}, nil
	}
	c := cursor{limit: feed.def}
	if vs, ok := q["after"]; ok {
		c.after, err = strconv.ParseUint(vs[0], 10, 64)
		if err != nil {
			return cursor{}, badRequest("after %q: want a non-negative integer (a sequence number)", vs[0])
		}
	}
	if vs, ok := q["limit"]; ok {
		n, err := strconv.ParseUint(vs[0], 10, 64)
		if err != nil || n < 1 || n > uint64(feed.max) {
			return cursor{}, badRequest("limit %q: want an integer from 1 to %d", vs[0], feed.max)
		}
		c.limit = int(n)
	}
	return c, nil
}

// knownLogs lists the device logs for error messages.
func knownLogs() string {
	var b strings.Builder
	for i, l := range fleet.LogKinds() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(l))
	}
	return b.String()
}

// nonNilItems makes an empty page's items encode as [] rather than null.
func nonNilItems[T any](p Page[T]) Page[T] {
	if p.Items == nil {
		p.Items = []T{}
	}
	return p
}

// encode writes v as the JSON answer with the given status.
func encode(w http.ResponseWriter, logger *slog.Logger, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		logger.Error("encode answer", "err", err)
		status = http.StatusInternalServerError
		b = []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// errorBody is the JSON body of every error answer.
type errorBody struct {
	Error string `json:"error"`
}

// writeError writes {"error": msg} with the given status.
func writeError(w http.ResponseWriter, logger *slog.Logger, status int, msg string) {
	if status >= 500 {
		logger.Error("request failed", "status", status, "err", msg)
	}
	encode(w, logger, status, errorBody{Error: msg})
}

// writeRequestError maps err to its status, once, at the edge: a
// *requestError carries its own, anything else is the printer's fault.
func writeRequestError(w http.ResponseWriter, logger *slog.Logger, err error) {
	if re, ok := errors.AsType[*requestError](err); ok {
		writeError(w, logger, re.code, re.msg)
		return
	}
	writeError(w, logger, http.StatusInternalServerError, err.Error())
}
