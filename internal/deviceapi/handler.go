package deviceapi

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
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
}

// Paging limits of GET /v1/events.
const (
	DefaultEventLimit = 100
	MaxEventLimit     = 1000
)

// maxRequestBody bounds request bodies: every route is a GET, so nothing
// legitimate is ever this large.
const maxRequestBody = 1 << 10

// NewHandler returns the device API handler for d. Every answer is JSON,
// errors included ({"error": "..."}).
func NewHandler(d Device, logger *slog.Logger) http.Handler {
	logger = logger.With("component", "deviceapi")
	routes := []struct {
		method, path string
		h            http.HandlerFunc
	}{
		{"GET", "/v1/identity", func(w http.ResponseWriter, r *http.Request) {
			encode(w, logger, http.StatusOK, d.Identity())
		}},
		{"GET", "/v1/status", func(w http.ResponseWriter, r *http.Request) {
			encode(w, logger, http.StatusOK, d.Status())
		}},
		{"GET", "/v1/events", func(w http.ResponseWriter, r *http.Request) {
			after, limit, err := eventParams(r)
			if err != nil {
				writeError(w, logger, http.StatusBadRequest, err.Error())
				return
			}
			encode(w, logger, http.StatusOK, d.Events(after, limit))
		}},
	}

	mux := http.NewServeMux()
	for _, rt := range routes {
		mux.HandleFunc(rt.method+" "+rt.path, rt.h)
		// The method-less pattern is less specific, so it only catches the
		// other methods: a JSON 405 instead of ServeMux's plain-text one.
		mux.HandleFunc(rt.path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", rt.method+", HEAD")
			writeError(w, logger, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s", r.Method, rt.path))
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, logger, http.StatusNotFound, fmt.Sprintf("no route %s", r.URL.Path))
	})

	return limitBody(mux)
}

// limitBody caps every request body at maxRequestBody.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
		next.ServeHTTP(w, r)
	})
}

// eventParams parses ?after=<seq>&limit=<n>. A missing after is 0, a missing
// limit is DefaultEventLimit, a limit above MaxEventLimit is lowered to it.
func eventParams(r *http.Request) (after uint64, limit int, err error) {
	q := r.URL.Query()
	if s := q.Get("after"); s != "" {
		after, err = strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("after %q: want a non-negative integer", s)
		}
	}
	limit = DefaultEventLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n == 0 {
			return 0, 0, fmt.Errorf("limit %q: want an integer from 1 to %d", s, MaxEventLimit)
		}
		limit = int(min(n, MaxEventLimit))
	}
	return after, limit, nil
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
