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
	// ClockNote says which clock the page's times are on (HandlerOptions.ClockNote).
	ClockNote string
}

// banner is a notice across the top of every page.
type banner struct {
	Class, Text string
}

// newLayout builds the frame of a page, with the warnings every page
// shows: the cloud not reached for long (R-ARCH-8), appends failing.
func (u *localUI) newLayout(ctx context.Context, title, nav string, refresh bool) (layout, error) {
	l := layout{Title: title, Nav: nav, Now: u.opts.Clock.Now(), Refresh: refresh, ClockNote: u.opts.ClockNote}
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
	// Fingerprint is this Command Center's, to confirm at each printer.
	Fingerprint deviceapi.Fingerprint
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
	data := printersData{layout: l, Pending: snap.Pending, OutboxWarn: snap.Pending >= outboxWarnDepth, Uplink: snap.Uplink,
		Fingerprint: u.opts.Fingerprint}
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
	Mirror            bool // a fetch of the update mirror, not an upload
}

type uploadsData struct {
	layout
	Outbox      OutboxView
	BudgetShare float64
	Oldest      string
	Uploads     []uploadView
}

func viewUpload(e commandcenter.UploadEntry) uploadView {
	v := uploadView{UploadEntry: e, When: commandcenter.Stamp(e.At), Lane: "bulk", Mirror: e.Kind == commandcenter.TransferMirror}
	switch {
	case v.Mirror:
		v.Lane = "update mirror"
	case e.Priority:
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
