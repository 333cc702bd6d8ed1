package localui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/i18n"
	"github.com/fusionfleet/fusionfleet/internal/outbox"
)

// The HTML pages, rendered from the embedded templates.

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
		"bytes": bytesWords, "bps": bpsWords,
		"int64":   func(n int) int64 { return int64(n) },
		"percent": func(f float64) string { return fmt.Sprintf("%.0f %%", math.Floor(f*100)) },
		"join": func(logs []fleet.LogKind) string {
			s := make([]string, len(logs))
			for i, l := range logs {
				s[i] = string(l)
			}
			return strings.Join(s, ", ")
		},
	}
	pages := map[string]*template.Template{}
	for _, p := range []string{"printers", "jobs", "consumables", "alerts", "uploads", "upload", "selftest", "updates", "diagnostics", "manage"} {
		// The templates are embedded: a parse error is a bug caught by every test.
		pages[p] = template.Must(template.New(p).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+p+".html"))
	}
	return pages
}

// layout is what every page shows around its content.
type layout struct {
	// Lang is the reader's language, the best of the browser's
	// Accept-Language: the local UI has no users to choose one.
	Lang    i18n.Lang
	Title   string
	Nav     string // the active navigation entry
	Now     time.Time
	Refresh bool // the page refreshes its main element every few seconds
	Banners []banner
	// ClockNote says which clock the page's times are on (HandlerOptions.ClockNote).
	ClockNote string
}

// T translates msg into the page's language (see i18n.Lang.T).
func (l layout) T(msg string, args ...any) string { return l.Lang.T(msg, args...) }

// Plural translates one when n is 1, else many, each given n and then
// args. n is any integer the templates count with (len's int, the
// outbox's int64).
func (l layout) Plural(n any, one, many string, args ...any) string {
	msg := many
	switch n {
	case 1, int64(1):
		msg = one
	}
	return l.Lang.T(msg, append([]any{n}, args...)...)
}

// Stamp writes t as the pages do, "never" for none, in the page's language.
func (l layout) Stamp(t time.Time) string { return stamp(l.Lang, t) }

// banner is a notice across the top of every page.
type banner struct {
	Class, Text string
}

// newLayout builds the frame of a page in the language r asks for, titled
// title (English, translated here), with the warnings every page shows:
// the cloud not reached for long (R-ARCH-8), appends failing.
func (u *localUI) newLayout(r *http.Request, title, nav string, refresh bool) (layout, error) {
	ctx := r.Context()
	lang := i18n.Negotiate(r.Header.Get("Accept-Language"))
	l := layout{Lang: lang, Title: lang.T(title), Nav: nav, Now: u.opts.Clock.Now(), Refresh: refresh, ClockNote: u.opts.ClockNote}
	up, err := u.src.Uplink.UplinkState(ctx)
	if err != nil {
		return layout{}, err
	}
	ob, err := u.src.Queue.State(ctx)
	if err != nil {
		return layout{}, err
	}
	l.Banners = u.banners(lang, up, ob, l.Now)
	return l, nil
}

func (u *localUI) banners(lang i18n.Lang, up commandcenter.UplinkState, ob outbox.State, now time.Time) []banner {
	var bs []banner
	why := ""
	if up.LastError != "" {
		why = " " + lang.T("Last error: %s", up.LastError)
	}
	switch {
	case up.LastSuccess.IsZero() && ob.Pending > 0:
		bs = append(bs, banner{"warn", lang.T("The cloud has not acknowledged an upload yet.") + why})
	case !up.LastSuccess.IsZero() && now.Sub(up.LastSuccess) > u.opts.StaleAfter:
		bs = append(bs, banner{"bad", lang.T("The cloud has not been reached for %s (since %s). Data is kept and sent when it is back.",
			durationWords(lang, now.Sub(up.LastSuccess)), stamp(lang, up.LastSuccess)) + why})
	}
	if ob.Health.Failing {
		what := lang.T("Storing new data fails since %s: %s", stamp(lang, ob.Health.LastErrorAt), ob.Health.LastError)
		if ob.Health.DiskFull {
			what = lang.T("The disk is full: collection is paused since %s: %s", stamp(lang, ob.Health.LastErrorAt), ob.Health.LastError)
		}
		bs = append(bs, banner{"bad", what})
	}
	return bs
}

type printersData struct {
	layout
	Printers   []printerView
	Pending    int
	OutboxWarn bool
	Uplink     commandcenter.UplinkState
	// Fingerprint is this Command Center's, to confirm at each printer.
	Fingerprint deviceapi.Fingerprint
	// MQTT is the state of the feed to the site's MQTT broker; nil → none.
	MQTT *feedView
}

func (u *localUI) printersPage(w http.ResponseWriter, r *http.Request) error {
	snap, err := snapshot(r.Context(), u.src)
	if err != nil {
		return err
	}
	l, err := u.newLayout(r, "Printers", "printers", true)
	if err != nil {
		return err
	}
	data := printersData{layout: l, Pending: snap.Pending, OutboxWarn: snap.Pending >= outboxWarnDepth, Uplink: snap.Uplink,
		Fingerprint: u.opts.Fingerprint}
	if u.opts.MQTT != nil {
		v := mqttWords(l.Lang, u.opts.MQTT.State())
		data.MQTT = &v
	}
	for _, p := range snap.Printers {
		data.Printers = append(data.Printers, viewOf(l.Lang, p))
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
		names[p.ID] = viewOf(i18n.English, p).Name // a name, in no language
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
	l, err := u.newLayout(r, "Jobs", "jobs", true)
	if err != nil {
		return err
	}
	data := jobsData{layout: l}
	for _, j := range jobs {
		v := jobView{
			Printer: names[j.Printer], ID: j.Job.ID, Name: j.Job.Private.Name, User: j.Job.Private.User, Host: j.Job.Private.Host,
			Status: l.T(string(j.Job.Status)), Created: stampOrDash(j.Job.CreatedAt), Started: stampOrDash(j.Job.StartedAt),
			Finished: stampOrDash(j.Job.FinishedAt), Updated: l.Stamp(j.Updated),
			Layers: l.T("%d of %d", j.Job.LayersDone, j.Job.LayerCount),
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
	Printer, Time, Seen, Code, Description, Subsystem string
	// Severity is the class of the row; SeverityWords says it in the page's language.
	Severity, SeverityWords string
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
	l, err := u.newLayout(r, "Alerts", "alerts", true)
	if err != nil {
		return err
	}
	data := alertsData{layout: l}
	for _, a := range as {
		e := a.Event
		data.Alerts = append(data.Alerts, eventView{Printer: names[a.Printer], Time: l.Stamp(e.Time), Seen: l.Stamp(a.Seen),
			Severity: e.Severity.String(), SeverityWords: l.T(e.Severity.String()), Code: e.Code,
			Description: l.T(e.Description), Subsystem: e.Subsystem})
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
	l, err := u.newLayout(r, "Consumables", "consumables", false)
	if err != nil {
		return err
	}
	to := l.Now.Add(time.Second)
	from := to.Add(-consumablesWindow)
	data := consumablesData{layout: l, Window: l.T("7 days")}
	for _, p := range ps {
		ss, err := u.src.Printers.ConsumablesHistory(ctx, p.ID, from, to)
		if err != nil {
			return err
		}
		v := consumablesView{Printer: names[p.ID], ID: p.ID, Samples: len(ss)}
		if len(ss) > 0 {
			v.Latest = latestConsumables(l.Lang, ss[len(ss)-1].Consumables)
			// The plots span the history there is, up to the window.
			start := from
			if ss[0].Seen.After(start) {
				start = ss[0].Seen
			}
			v.Plots = consumablePlots(l.Lang, ss, start, to)
		}
		data.Printers = append(data.Printers, v)
	}
	return u.render(w, "consumables", data)
}

// latestConsumables lists a snapshot's levels in words.
func latestConsumables(lang i18n.Lang, c fleet.Consumables) []consumableLine {
	var ls []consumableLine
	for _, a := range c.Agents {
		ls = append(ls, consumableLine{lang.T("Agent %s", a.Agent), lang.T("%.0f %% left", a.SupplyLevelPercent), lang.T(a.SupplyStatus)})
	}
	ls = append(ls, consumableLine{lang.T("Cleaning roll"), lang.T("%.0f %% used", c.CleaningRoll.UsagePercent), lang.T(c.CleaningRoll.Status)})
	for _, l := range c.Lamps {
		ls = append(ls, consumableLine{lang.T("Lamp %s", l.Position), lang.T("%.0f %% intensity, %.0f h", l.IntensityPercent, l.Hours), lang.T(l.Status)})
	}
	for _, p := range c.Printheads {
		ls = append(ls, consumableLine{lang.T("Printhead %d", p.Slot), fmt.Sprintf("%.0f h", p.UsageHours), lang.T(p.Status)})
	}
	if b := c.BuildUnits.Installed; b != nil {
		ls = append(ls, consumableLine{lang.T("Build unit %s", b.SerialNumber),
			lang.T("%.1f kg %s, %.0f %% recycled", b.MaterialKG, b.Material, b.RecycledPercent), lang.T(b.Status)})
	}
	return ls
}

// consumablePlots draws the decline of agents, lamps and the cleaning roll.
func consumablePlots(lang i18n.Lang, ss []commandcenter.ConsumablesSample, from, to time.Time) []plot {
	agents := map[string]*series{}
	lamps := map[string]*series{}
	roll := &series{Name: lang.T("used")}
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
		newPlot(lang, lang.T("Agent supply level (%)"), from, to, sortedSeries(agents)),
		newPlot(lang, lang.T("Lamp intensity (%)"), from, to, sortedSeries(lamps)),
		newPlot(lang, lang.T("Cleaning roll used (%)"), from, to, []series{*roll}),
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
	Mirror            bool // a fetch of the update mirror, not an upload
}

type uploadsData struct {
	layout
	Outbox      OutboxView
	BudgetShare float64
	Oldest      string
	Uploads     []uploadView
}

func viewUpload(lang i18n.Lang, e commandcenter.UploadEntry) uploadView {
	v := uploadView{UploadEntry: e, When: stamp(lang, e.At), Lane: lang.T("bulk"), Mirror: e.Kind == commandcenter.TransferMirror}
	switch {
	case v.Mirror:
		v.Lane = lang.T("update mirror")
	case e.Priority:
		v.Lane = lang.T("alerts and status")
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
	l, err := u.newLayout(r, "What was sent", "uploads", true)
	if err != nil {
		return err
	}
	data := uploadsData{layout: l, Outbox: ob}
	if ob.Budget > 0 {
		data.BudgetShare = float64(ob.Bytes) / float64(ob.Budget)
	}
	if !ob.Oldest.IsZero() {
		data.Oldest = l.T("%s (%s ago)", l.Stamp(ob.Oldest), durationWords(l.Lang, l.Now.Sub(ob.Oldest)))
	}
	for _, e := range es {
		data.Uploads = append(data.Uploads, viewUpload(l.Lang, e))
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
	l, err := u.newLayout(r, "Upload", "uploads", false)
	if err != nil {
		return err
	}
	l.Title = l.T("Upload %d", id)
	data := uploadData{layout: l, Upload: viewUpload(l.Lang, d.UploadEntry)}
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
	l, err := u.newLayout(r, "Connectivity self-test", "selftest", false)
	if err != nil {
		return err
	}
	return u.render(w, "selftest", selfTestData{layout: l, Report: rep, Off: off})
}
