package commandcenter

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"math"
	"net/http"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

//go:embed page.html
var pageHTML string

// refreshScript replaces the page's main element with a fresh copy every
// few seconds, so the page stays current without reloading (and without
// losing the reader's scroll position).
const refreshScript = `setInterval(async () => {
  try {
    const r = await fetch(location.pathname, {cache: "no-store"});
    if (!r.ok) return;
    const d = new DOMParser().parseFromString(await r.text(), "text/html");
    const m = d.querySelector("main");
    if (m) document.querySelector("main").replaceWith(m);
  } catch (e) {}
}, 5000);`

// outboxWarnDepth is the outbox depth at which the page flags the uplink.
const outboxWarnDepth = 10000

// NewHandler returns the Command Center's local UI and API:
//
//	GET /               the status page ("Command Center")
//	GET /api/printers   every printer's local view, the outbox depth, the uplink state (JSON)
//	GET /healthz        200 "ok" when the store answers
//
// The page shows private names (the current job's name): it is for the site.
func NewHandler(st *Store, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	log := logger.With("component", "localui")
	page := template.Must(template.New("page").Funcs(template.FuncMap{"stamp": stamp}).Parse(pageHTML))
	sum := sha256.Sum256([]byte(refreshScript))
	csp := "default-src 'none'; style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; " +
		"form-action 'none'; frame-ancestors 'none'; script-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		snap, err := snapshot(r.Context(), st)
		if err != nil {
			writeError(w, log, err)
			return
		}
		data := pageData{Now: time.Now(), Pending: snap.Pending, OutboxWarn: snap.Pending >= outboxWarnDepth,
			Uplink: snap.Uplink, Script: template.JS(refreshScript)}
		for _, p := range snap.Printers {
			data.Printers = append(data.Printers, viewOf(p))
		}
		var buf bytes.Buffer
		if err := page.Execute(&buf, data); err != nil {
			writeError(w, log, fmt.Errorf("render page: %w", err))
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", csp)
		w.Write(buf.Bytes())
	})
	mux.HandleFunc("GET /api/printers", func(w http.ResponseWriter, r *http.Request) {
		snap, err := snapshot(r.Context(), st)
		if err != nil {
			writeError(w, log, err)
			return
		}
		if snap.Printers == nil {
			snap.Printers = []Printer{}
		}
		encode(w, http.StatusOK, snap)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if _, err := st.PendingCount(r.Context()); err != nil {
			writeError(w, log, err)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<10) // no route takes a body
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		mux.ServeHTTP(w, r)
	})
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
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.With("component", "localui").Handler(), slog.LevelWarn),
	}
}

// Snapshot is the answer of GET /api/printers.
type Snapshot struct {
	Printers []Printer   `json:"printers"`
	Pending  int         `json:"outbox_pending"`
	Uplink   UplinkState `json:"uplink"`
}

func snapshot(ctx context.Context, st *Store) (Snapshot, error) {
	var s Snapshot
	var err error
	if s.Printers, err = st.Printers(ctx); err != nil {
		return Snapshot{}, err
	}
	if s.Pending, err = st.PendingCount(ctx); err != nil {
		return Snapshot{}, err
	}
	if s.Uplink, err = st.UplinkState(ctx); err != nil {
		return Snapshot{}, err
	}
	return s, nil
}

type pageData struct {
	Now        time.Time
	Printers   []printerView
	Pending    int
	OutboxWarn bool
	Uplink     UplinkState
	Script     template.JS
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

func viewOf(p Printer) printerView {
	v := printerView{
		ID: p.ID, Name: p.Address, Address: p.Address, Model: "not known yet", Fingerprint: string(p.Fingerprint),
		State: "not known yet", PendingJobs: "not known yet", LastSeen: "never",
		CollectionClass: string(p.State),
	}
	if p.Identity != nil {
		v.Name, v.Model = p.Identity.Name, p.Identity.Model
		if v.Name == "" {
			v.Name = p.Address
		}
	}
	if !p.LastSeen.IsZero() {
		v.LastSeen = stamp(p.LastSeen)
	}
	switch p.State {
	case CollectionOK:
		v.Collection = "ok"
	case CollectionNew:
		v.Collection = "waiting for first contact"
	case CollectionUnreachable:
		v.Collection = fmt.Sprintf("unreachable since %s: %s", stamp(p.StateSince), p.LastError)
	case CollectionCertificateChanged:
		v.Collection = p.LastError
		v.CollectionClass = "certificate-changed"
	default:
		v.Collection = string(p.State)
	}
	if s := p.Status; s != nil {
		v.State = stateWords(s.State)
		if p.State != CollectionOK {
			v.State = "last known: " + v.State
		}
		v.Activity = s.Activity
		v.PendingJobs = fmt.Sprint(s.PendingJobs)
		if s.ETCSeconds > 0 {
			v.ETC = durationWords(time.Duration(s.ETCSeconds) * time.Second)
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

// durationWords writes d as "2 h 05 min", "12 min" or "under a minute".
func durationWords(d time.Duration) string {
	m := int64(d.Round(time.Minute) / time.Minute)
	switch {
	case m < 1:
		return "under a minute"
	case m < 60:
		return fmt.Sprintf("%d min", m)
	default:
		return fmt.Sprintf("%d h %02d min", m/60, m%60)
	}
}

// stamp writes a time for people on the site, in the server's zone.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Local().Format("2006-01-02 15:04:05 MST")
}

func encode(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError logs err and answers 500 without details: the local API has
// no error a client could act on.
func writeError(w http.ResponseWriter, log *slog.Logger, err error) {
	log.Error("local request failed", "err", err)
	encode(w, http.StatusInternalServerError, map[string]string{"error": "internal error, see the Command Center log"})
}
