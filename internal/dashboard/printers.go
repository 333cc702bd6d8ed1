package dashboard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// offlineAfter is how long a gateway may stay silent about a printer before
// the dashboard calls it offline. Sites report status about every minute.
// The silence is measured on LastSeen (the gateway's observation time), not
// on the printer's own status time: a printer's clock may be wrong.
const offlineAfter = 3 * time.Minute

// card is one printer as the dashboard shows it: the read model plus the
// words computed here, so that the page and its script say the same thing.
type card struct {
	fleet.PrinterView
	DisplayName     string `json:"display_name"`
	StateKey        string `json:"state_key"` // printing, cooling, idle, error, offline, unknown
	StateWords      string `json:"state_words"`
	ETCWords        string `json:"etc_words,omitempty"`
	PendingWords    string `json:"pending_words"`
	ShowProgress    bool   `json:"show_progress"`
	ProgressPercent int    `json:"progress_percent"`
}

func newCard(v fleet.PrinterView, now time.Time) card {
	c := card{PrinterView: v, DisplayName: v.Name, PendingWords: pendingWords(v.PendingJobs)}
	if c.DisplayName == "" {
		c.DisplayName = string(v.ID)
	}
	c.StateKey, c.StateWords = stateWords(v, now)
	live := c.StateKey == "printing" || c.StateKey == "cooling"
	if live {
		c.ETCWords = etcWords(v.ETCSeconds)
	}
	c.ShowProgress = c.StateKey == "printing" && v.JobID != ""
	c.ProgressPercent = int(math.Round(math.Max(0, math.Min(1, v.Progress)) * 100))
	return c
}

// stateWords says what a printer is doing, as in seed figure 1, or since
// when it has been silent.
func stateWords(v fleet.PrinterView, now time.Time) (key, words string) {
	switch {
	case v.StatusTime.IsZero():
		return "unknown", "No status received yet"
	case now.Sub(v.LastSeen) > offlineAfter:
		return "offline", "Offline since " + v.LastSeen.UTC().Format("2 Jan 2006, 15:04 UTC")
	}
	switch v.State {
	case fleet.StatePrinting:
		return "printing", "Powered on, printing"
	case fleet.StateCooling:
		return "cooling", "Powered on, cooling"
	case fleet.StateIdle:
		return "idle", "Idle"
	case fleet.StateError:
		return "error", "Error"
	}
	return "unknown", "Unknown state"
}

// etcWords says a time to completion in words: "1 hour, 23 minutes",
// "39 minutes", "less than a minute", "2 days, 3 hours". Zero or less is "".
func etcWords(secs int64) string {
	switch {
	case secs <= 0:
		return ""
	case secs < 60:
		return "less than a minute"
	}
	mins := (secs + 30) / 60
	days, hours, minutes := mins/(24*60), mins/60%24, mins%60
	if days > 0 {
		return joinUnits(days, "day", hours, "hour")
	}
	return joinUnits(hours, "hour", minutes, "minute")
}

// joinUnits says "a unitA, b unitB", leaving out zero parts.
func joinUnits(a int64, unitA string, b int64, unitB string) string {
	var parts []string
	if a > 0 {
		parts = append(parts, plural(a, unitA))
	}
	if b > 0 {
		parts = append(parts, plural(b, unitB))
	}
	return strings.Join(parts, ", ")
}

func plural(n int64, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

func pendingWords(n int) string {
	if n <= 0 {
		return "No pending jobs"
	}
	return plural(int64(n), "pending job")
}

// cards loads the printers the principal may see as cards.
func (h *handler) cards(r *http.Request, p access.Principal) ([]card, error) {
	views, err := h.st.Printers(r.Context(), p.Org)
	if err != nil {
		return nil, err
	}
	now := h.clock.Now()
	cs := make([]card, 0, len(views))
	for _, v := range p.FilterPrinters(views) {
		cs = append(cs, newCard(v, now))
	}
	return cs, nil
}

// printersPage is "My 3D printers", rendered in full on the server so it
// works without JavaScript; the page script keeps it live.
func (h *handler) printersPage(w http.ResponseWriter, r *http.Request, s session) {
	cs, err := h.cards(r, s.p)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "printers.html", page{Title: "My 3D printers", User: &s.user, CSRF: s.csrf, Data: cs})
}

// apiPrinters is the session's organisation's printers as JSON.
func (h *handler) apiPrinters(w http.ResponseWriter, r *http.Request, s session) {
	cs, err := h.cards(r, s.p)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	h.encode(w, http.StatusOK, cs)
}

// events streams "printers" events with the fresh list whenever the hub
// says the organisation's printers changed, and every refresh interval;
// a comment line every heartbeat keeps proxies from closing the stream.
// The stream ends when the session does.
func (h *handler) events(w http.ResponseWriter, r *http.Request, s session) {
	rc := http.NewResponseController(w)
	// The server's WriteTimeout must not cut a long-lived stream; a writer
	// that cannot clear deadlines has none to clear.
	_ = rc.SetWriteDeadline(time.Time{})
	notices, cancel := h.hub.subscribe(s.p.Org)
	defer cancel()

	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	ctx := r.Context()
	send := func() bool {
		if _, err := h.st.SessionMember(ctx, s.tokenHash, h.clock.Now()); err != nil {
			if !isNotFound(err) {
				h.log.Warn("event stream: session check", "err", err)
			}
			return false
		}
		cs, err := h.cards(r, s.p)
		if err != nil {
			h.log.Warn("event stream: load printers", "err", err)
			return false
		}
		var b bytes.Buffer
		b.WriteString("event: printers\ndata: ")
		if err := json.NewEncoder(&b).Encode(cs); err != nil { // ends with the data line's newline
			h.log.Warn("event stream: encode", "err", err)
			return false
		}
		b.WriteString("\n")
		return write(rc, w, b.Bytes())
	}
	if !send() {
		return
	}
	heartbeat := time.NewTicker(h.heartbeat)
	defer heartbeat.Stop()
	refresh := time.NewTicker(h.refresh)
	defer refresh.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-notices:
			if !send() {
				return
			}
		case <-refresh.C:
			if !send() {
				return
			}
		case <-heartbeat.C:
			if !write(rc, w, []byte(": heartbeat\n\n")) {
				return
			}
		}
	}
}

func write(rc *http.ResponseController, w http.ResponseWriter, b []byte) bool {
	if _, err := w.Write(b); err != nil {
		return false
	}
	return rc.Flush() == nil
}
