package dashboard

import (
	"bytes"
	"cmp"
	"encoding/json"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
	"github.com/fusionfleet/fusionfleet/internal/grant"
	"github.com/fusionfleet/fusionfleet/internal/i18n"
)

// printerPages are "My 3D printers", its JSON feed and its event stream:
// printers and sites for the cards, the worst alerts for their badges, the
// session to end a stream with it, and the updates for the banner.
type printerPages struct {
	*handler
	hub      *Hub
	sessions Sessions
	printers fleetquery.PrinterReader
	sites    access.Sites
	worst    WorstAlerts
	updates  *updatesPage
	grants   access.GrantLookup // an open stream under a grant re-reads it
}

// defaultOfflineAfter is how long a gateway may stay silent about a
// printer before the dashboard calls it offline (Options.OfflineAfter).
// Sites report status about every minute. The silence is measured on
// LastSeen (the gateway's observation time), not on the printer's own
// status time: a printer's clock may be wrong.
const defaultOfflineAfter = 3 * time.Minute

// card is one printer as the dashboard shows it: the read model plus the
// words computed here, so that the page and its script say the same thing.
type card struct {
	fleet.PrinterView
	DisplayName     string     `json:"display_name"`
	StateKey        string     `json:"state_key"` // printing, cooling, idle, error, offline, unknown
	StateWords      string     `json:"state_words"`
	ETCWords        string     `json:"etc_words,omitempty"`
	ActivityWords   string     `json:"activity_words,omitempty"`
	PendingWords    string     `json:"pending_words"`
	ShowProgress    bool       `json:"show_progress"`
	ProgressPercent int        `json:"progress_percent"`
	SiteName        string     `json:"site_name,omitempty"`
	Alert           *cardAlert `json:"alert,omitempty"` // the worst active alert (alerts.go)
}

// speech is how a reader is spoken to: their language and time zone.
type speech struct {
	lang    i18n.Lang
	zone    *time.Location
	offline time.Duration // the silence that makes a printer offline; 0 → defaultOfflineAfter
}

// english is the speech of a reader nobody knows anything about.
func english() speech { return speech{lang: i18n.English, zone: time.UTC} }

// speechOf is the request's reader's speech (see handler.locale).
func (h *handler) speechOf(r *http.Request) speech {
	lang, zone := h.locale(r)
	return speech{lang: lang, zone: zone, offline: h.offline}
}

// newCard is the card of v in English and UTC.
func newCard(v fleet.PrinterView, now time.Time) card { return english().card(v, now) }

// card is the card of v in the reader's words.
func (sp speech) card(v fleet.PrinterView, now time.Time) card {
	c := card{PrinterView: v, DisplayName: v.Name, PendingWords: sp.pendingWords(v.PendingJobs)}
	if c.DisplayName == "" {
		c.DisplayName = string(v.ID)
	}
	c.StateKey, c.StateWords = sp.stateWords(v, now)
	c.ActivityWords = activityWords(sp.lang, v.Activity)
	live := c.StateKey == "printing" || c.StateKey == "cooling"
	if live {
		c.ETCWords = sp.etcWords(v.ETCSeconds)
	}
	c.ShowProgress = c.StateKey == "printing" && v.JobID != ""
	c.ProgressPercent = int(math.Round(math.Max(0, math.Min(1, v.Progress)) * 100))
	return c
}

// activityWords translates what a printer says it does (i18n.Lang.Activity).
func activityWords(lang i18n.Lang, a string) string { return lang.Activity(a) }

// eventDetail is how a fault alert names its event: "CODE: description".
var eventDetail = regexp.MustCompile(`^([A-Z][A-Z0-9_]*): (.+)$`)

// detailWords translates an alert's detail where it is what a printer
// said: an event ("FAULT_DOOR: top cover opened during operation") or its
// activity ("error: …"). Other details stay as they are.
func detailWords(lang i18n.Lang, d string) string {
	if m := eventDetail.FindStringSubmatch(d); m != nil {
		return m[1] + ": " + lang.T(m[2])
	}
	return activityWords(lang, d)
}

// stateKeys are the states a card can be in (its StateKey), in the order
// the state filter offers them.
func stateKeys() []string {
	return []string{"printing", "cooling", "idle", "error", "offline", "unknown"}
}

// stateLabel names a state key in the state filter.
func stateLabel(lang i18n.Lang, key string) string {
	switch key {
	case "printing":
		return lang.T("Printing")
	case "cooling":
		return lang.T("Cooling")
	case "idle":
		return lang.T("Idle")
	case "error":
		return lang.T("Error")
	case "offline":
		return lang.T("Offline")
	}
	return lang.T("Unknown")
}

// stateWords says what a printer is doing, as in seed figure 1, or since
// when it has been silent.
func (sp speech) stateWords(v fleet.PrinterView, now time.Time) (key, words string) {
	switch {
	case v.StatusTime.IsZero():
		return "unknown", sp.lang.T("No status received yet")
	case now.Sub(v.LastSeen) > cmp.Or(sp.offline, defaultOfflineAfter):
		return "offline", sp.lang.T("Offline since %s", formatTime(sp.lang, sp.zone, v.LastSeen))
	}
	switch v.State {
	case fleet.StatePrinting:
		return "printing", sp.lang.T("Powered on, printing")
	case fleet.StateCooling:
		return "cooling", sp.lang.T("Powered on, cooling")
	case fleet.StateIdle:
		return "idle", sp.lang.T("Idle")
	case fleet.StateError:
		return "error", sp.lang.T("Error")
	}
	return "unknown", sp.lang.T("Unknown state")
}

// etcWords says a time to completion in words: "1 hour, 23 minutes",
// "39 minutes", "less than a minute", "2 days, 3 hours". Zero or less is "".
func (sp speech) etcWords(secs int64) string {
	switch {
	case secs <= 0:
		return ""
	case secs < 60:
		return sp.lang.T("less than a minute")
	}
	mins := (secs + 30) / 60
	days, hours, minutes := mins/(24*60), mins/60%24, mins%60
	var parts []string
	add := func(n int64, one, many string) {
		if n > 0 {
			parts = append(parts, sp.plural(n, one, many))
		}
	}
	if days > 0 {
		add(days, "1 day", "%d days")
		add(hours, "1 hour", "%d hours")
	} else {
		add(hours, "1 hour", "%d hours")
		add(minutes, "1 minute", "%d minutes")
	}
	return strings.Join(parts, ", ")
}

// plural says n things: one when n is 1, else many with n for its %d.
func (sp speech) plural(n int64, one, many string) string {
	if n == 1 {
		return sp.lang.T(one)
	}
	return sp.lang.T(many, n)
}

func (sp speech) pendingWords(n int) string {
	if n <= 0 {
		return sp.lang.T("No pending jobs")
	}
	return sp.plural(int64(n), "1 pending job", "%d pending jobs")
}

// cards loads the printers the principal may see as cards, in the
// reader's words.
func (h *printerPages) cards(r *http.Request, p access.Principal) ([]card, error) {
	views, err := h.printers.Printers(r.Context(), p.Org)
	if err != nil {
		return nil, err
	}
	sites, err := h.sites.Sites(r.Context(), p.Org)
	if err != nil {
		return nil, err
	}
	siteNames := make(map[fleet.SiteID]string, len(sites))
	for _, st := range sites {
		siteNames[st.ID] = st.Name
	}
	now, sp := h.clock.Now(), h.speechOf(r)
	cs := make([]card, 0, len(views))
	for _, v := range p.FilterPrinters(views) {
		c := sp.card(v, now)
		c.SiteName = siteNames[v.SiteID]
		cs = append(cs, c)
	}
	if err := h.addWorstAlerts(r, p.Org, sp, cs); err != nil {
		return nil, err
	}
	return cs, nil
}

// printerFilter narrows "My 3D printers" by site, model and state (a card's
// StateKey); an empty field matches everything. It comes from the query,
// so a filtered view is a link to share.
type printerFilter struct {
	Site  fleet.SiteID
	Model string
	State string
}

func filterOf(r *http.Request) printerFilter {
	q := r.URL.Query()
	return printerFilter{Site: fleet.SiteID(q.Get("site")), Model: q.Get("model"), State: q.Get("state")}
}

func (f printerFilter) match(c card) bool {
	return (f.Site == "" || c.SiteID == f.Site) && (f.Model == "" || c.Model == f.Model) && (f.State == "" || c.StateKey == f.State)
}

// Active reports whether the filter narrows anything.
func (f printerFilter) Active() bool { return f != printerFilter{} }

// option is one choice of a select menu.
type option struct {
	Value, Label string
}

// printersData fills "My 3D printers".
type printersData struct {
	Cards  []card // those matching Filter
	Total  int    // all the reader may see
	Filter printerFilter
	Sites  []fleet.Site
	Models []string
	States []option
	// Updates counts printers with an update available (see updates.go).
	Updates int
}

// printersPage is "My 3D printers", rendered in full on the server so it
// works without JavaScript; the page script keeps it live and applies the
// same filter to what arrives.
func (h *printerPages) printersPage(w http.ResponseWriter, r *http.Request, s session) {
	cs, err := h.cards(r, s.p)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	sites, err := visibleSites(r, h.sites, s.p)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	lang, _ := h.locale(r)
	d := printersData{Total: len(cs), Filter: filterOf(r), Sites: sites, Updates: h.updates.updatesAvailable(r, s.p)}
	models := map[string]bool{}
	for _, c := range cs {
		if c.Model != "" && !models[c.Model] {
			models[c.Model] = true
			d.Models = append(d.Models, c.Model)
		}
		if d.Filter.match(c) {
			d.Cards = append(d.Cards, c)
		}
	}
	slices.Sort(d.Models)
	for _, key := range stateKeys() {
		d.States = append(d.States, option{key, stateLabel(lang, key)})
	}
	h.render(w, r, http.StatusOK, "printers.html", page{Title: "My 3D printers", User: &s.user, CSRF: s.csrf, Data: d})
}

// apiPrinters is the session's organisation's printers as JSON, in the
// reader's words.
func (h *printerPages) apiPrinters(w http.ResponseWriter, r *http.Request, s session) {
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
func (h *printerPages) events(w http.ResponseWriter, r *http.Request, s session) {
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
		m, err := h.sessions.SessionMember(ctx, s.tokenHash, h.authClock.Now())
		if err != nil {
			if !isNotFound(err) {
				h.log.Warn("event stream: session check", "err", err)
			}
			return false
		}
		// A stream under a grant ends with the grant, like every request.
		if g := s.p.Grant; g != nil {
			if _, err := grant.Act(ctx, h.grants, access.ForUser(m), g.ID, h.authClock.Now()); err != nil {
				return false
			}
		}
		// Words follow the reader's preferences as they are now.
		cs, err := h.cards(withPrefs(r, m.Prefs), s.p)
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
