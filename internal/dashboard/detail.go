package dashboard

import (
	"cmp"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/alert"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
	"github.com/fusionfleet/fusionfleet/internal/i18n"
	"github.com/fusionfleet/fusionfleet/internal/plot"
)

// detailPage is the printer page: the printer, its site, its history,
// recent jobs and alerts.
type detailPage struct {
	*handler
	printers fleetquery.PrinterReader
	sites    access.Sites
	moves    access.PrinterSites
	history  fleetquery.HistoryReader
	jobs     fleetquery.JobReader
	alerts   alert.Tracker
}

// How much the printer page shows.
const (
	detailJobs   = 10  // recent jobs
	detailEvents = 20  // recent events
	detailAlerts = 10  // resolved alerts
	wearPoints   = 365 // snapshots per wear plot at most: a year in days
)

// period is a choice of how far back the wear plots reach.
type period struct {
	Key   string // the query value
	Label string // English, translated by the template
	Days  int
}

// periods are the choices of the printer page; defaultPeriod is the first
// one a page shows.
var periods = []period{{"7d", "7 days", 7}, {"30d", "30 days", 30}, {"90d", "90 days", 90}, {"365d", "1 year", 365}}

const defaultPeriod = "30d"

// parsePeriod reads the "period" query value ("" is the default).
func parsePeriod(v string) (period, error) {
	if v == "" {
		v = defaultPeriod
	}
	for _, p := range periods {
		if p.Key == v {
			return p, nil
		}
	}
	return period{}, badForm("Unknown period. Choose 7 days, 30 days, 90 days or 1 year.")
}

// visiblePrinter loads a printer of the principal's organisation at one of
// its sites; any other printer is fleet.ErrNotFound, so that a page never
// tells another organisation's printer from one that does not exist.
func visiblePrinter(r *http.Request, st fleetquery.PrinterReader, p access.Principal, id fleet.PrinterID) (fleetquery.PrinterDetail, error) {
	det, err := st.PrinterDetail(r.Context(), p.Org, id)
	if err != nil {
		return det, err
	}
	if !p.Sites.Allows(det.View.SiteID) {
		return fleetquery.PrinterDetail{}, fleet.ErrNotFound
	}
	return det, nil
}

// nameOfSite is the name of the printer's site, or "" when unknown.
func nameOfSite(r *http.Request, st access.Sites, org fleet.OrgID, site fleet.SiteID) (string, error) {
	sites, err := st.Sites(r.Context(), org)
	if err != nil {
		return "", err
	}
	return nameAmong(sites, site), nil
}

// nameAmong is the name of site among sites, or "".
func nameAmong(sites []fleet.Site, site fleet.SiteID) string {
	for _, s := range sites {
		if s.ID == site {
			return s.Name
		}
	}
	return ""
}

// printheadRow is a printhead with its health in words.
type printheadRow struct {
	fleet.Printhead
	Health     string // English, translated by the template
	InWarranty bool
}

// healthWords says how a printhead is, from its status.
func healthWords(status string) string {
	switch status {
	case "ok":
		return "Good"
	case "degraded":
		return "Degraded"
	case "failed":
		return "Failed"
	case "replace":
		return "Replace now"
	}
	return "Unknown"
}

// printerData is what the printer page shows.
type printerData struct {
	Card card
	Site string
	// DeviceID is the printer's own ID; Card.ID is the cloud's key of it,
	// the same unless another organisation's printer had the ID first.
	DeviceID fleet.PrinterID
	// MoveTo are the sites an administrator may move the printer to: the
	// organisation's others that the reader administers (none for anyone
	// else). Records never move a printer between sites.
	MoveTo    []fleet.Site
	Identity  *fleet.Identity
	Period    string
	Periods   []period
	Agents    []fleet.AgentSupply
	Heads     []printheadRow
	Roll      *fleet.CleaningRoll
	Lamps     []fleet.Lamp
	Counters  *fleet.Counters
	BuildUnit *fleet.BuildUnits
	Snapshot  time.Time // of the consumables shown

	AgentPlot, HeadPlot, RollPlot, LampPlot, FilterPlot, BuildUnitPlot template.HTML

	Jobs       []jobRow
	CurrentJob string
	Layers     layerSummary
	LayerPlots []template.HTML
	Events     []fleet.Event
	// Alerts of the printer: every active one, then those resolved in
	// the period, newest first (acknowledging is on the alerts page).
	Alerts []fleet.Alert
}

// printerPage is one printer: identity, state, consumables and their wear
// over a period, recent jobs, the current job's layers and recent events.
func (h *detailPage) printerPage(w http.ResponseWriter, r *http.Request, s session) {
	id := fleet.PrinterID(r.PathValue("id"))
	det, err := visiblePrinter(r, h.printers, s.p, id)
	if isNotFound(err) {
		h.writeError(w, r, http.StatusNotFound, "No such printer in your organisation.")
		return
	}
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	pd, err := parsePeriod(r.URL.Query().Get("period"))
	if err != nil {
		h.writeError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	d, err := h.printerData(r, s.p, det, pd)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "printer.html", page{Title: d.Card.DisplayName, User: &s.user, CSRF: s.csrf, Data: d})
}

// movePrinter moves a printer to another site of the organisation. A
// printer belongs to the site whose Command Center first sent its
// records, and records never move it (a gateway of one site could
// otherwise pull another site's printer, and its history, into its own):
// an administrator does, here. The move concerns both sites, so an
// administrator limited to sites must hold both.
func (h *detailPage) movePrinter(w http.ResponseWriter, r *http.Request, s session) {
	id := fleet.PrinterID(r.PathValue("id"))
	det, err := visiblePrinter(r, h.printers, s.p, id)
	if isNotFound(err) {
		h.writeError(w, r, http.StatusNotFound, "No such printer in your organisation.")
		return
	}
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	to := fleet.SiteID(r.PostFormValue("site"))
	if to == "" {
		h.writeError(w, r, http.StatusBadRequest, "Choose the site to move the printer to.")
		return
	}
	if err := s.p.CanActOn(to); err != nil {
		h.writeError(w, r, http.StatusForbidden, "You may move printers only between sites you administer.")
		return
	}
	err = h.moves.MovePrinter(r.Context(), s.p.Org, det.View.ID, det.View.SiteID, to)
	switch {
	case isNotFound(err):
		h.writeError(w, r, http.StatusBadRequest, "No such site in your organisation.")
		return
	case errors.Is(err, fleet.ErrConflict):
		h.writeError(w, r, http.StatusConflict, "The printer was moved meanwhile. Reload the page and try again.")
		return
	case err != nil:
		h.internalError(w, r, err)
		return
	}
	http.Redirect(w, r, "/printers/"+url.PathEscape(string(det.View.ID)), http.StatusSeeOther)
}

// printerData loads and shapes everything the printer page shows.
func (h *detailPage) printerData(r *http.Request, p access.Principal, det fleetquery.PrinterDetail, pd period) (printerData, error) {
	ctx := r.Context()
	lang, _ := h.locale(r)
	now := h.clock.Now()
	from := now.AddDate(0, 0, -pd.Days)
	id := det.View.ID
	d := printerData{Card: h.speechOf(r).card(det.View, now), DeviceID: det.DeviceID, Identity: det.Identity,
		Period: pd.Key, Periods: periods, Counters: det.Counters}
	sites, err := h.sites.Sites(ctx, p.Org)
	if err != nil {
		return d, err
	}
	d.Site = nameAmong(sites, det.View.SiteID)
	if p.Role == fleet.RoleAdmin {
		for _, s := range p.FilterSites(sites) {
			if s.ID != det.View.SiteID {
				d.MoveTo = append(d.MoveTo, s)
			}
		}
	}
	if c := det.Consumables; c != nil {
		d.Snapshot = c.Time
		d.Agents, d.Lamps, d.Roll, d.BuildUnit = c.Agents, c.Lamps, &c.CleaningRoll, &c.BuildUnits
		for _, ph := range c.Printheads {
			d.Heads = append(d.Heads, printheadRow{Printhead: ph, Health: healthWords(ph.Status),
				InWarranty: now.Before(ph.WarrantyEnd) && ph.WarrantyStatus != "void"})
		}
	}
	// The plots read the newest snapshot of each of wearPoints spans: a
	// snapshot every 5 minutes is 100,000 a year, more than a plot shows.
	// They end at the newest snapshot when the printer's clock runs ahead
	// of ours (snapshots carry the printer's time), so a printer with a
	// wrong clock still shows its wear.
	end := now
	for _, t := range []time.Time{d.Snapshot, counterTime(det.Counters)} {
		if t.After(end) {
			end = t.Add(time.Second)
		}
	}
	start := end.AddDate(0, 0, -pd.Days)
	cons, err := h.history.ConsumablesTrend(ctx, p.Org, id, start, end, wearPoints)
	if err != nil {
		return d, err
	}
	counters, err := h.history.CountersTrend(ctx, p.Org, id, start, end, wearPoints)
	if err != nil {
		return d, err
	}
	wearPlots(&d, lang, cons, counters, start, end)
	jobs, err := h.jobs.Jobs(ctx, p.Org, fleetquery.JobFilter{PrinterID: id, Limit: detailJobs})
	if err != nil {
		return d, err
	}
	d.Jobs = jobRows(jobs, []fleet.PrinterView{det.View}, nil)
	if d.Events, err = h.history.Events(ctx, p.Org, id, from, time.Time{}, detailEvents); err != nil {
		return d, err
	}
	if d.Alerts, err = h.alerts.Alerts(ctx, p.Org, alert.Filter{Status: alert.ActiveOnly, Sites: p.Sites, PrinterID: id,
		Limit: alert.MaxLimit}); err != nil {
		return d, err
	}
	past, err := h.alerts.Alerts(ctx, p.Org, alert.Filter{Status: alert.ResolvedOnly, Sites: p.Sites, PrinterID: id,
		From: from, Limit: detailAlerts})
	if err != nil {
		return d, err
	}
	d.Alerts = append(d.Alerts, past...)
	if job := det.View.JobID; job != "" {
		layers, err := h.jobs.JobLayers(ctx, p.Org, id, job)
		if err != nil {
			return d, err
		}
		d.CurrentJob = job
		d.Layers = summarizeLayers(layers)
		d.LayerPlots = layerPlots(lang, layers)
	}
	return d, nil
}

// seriesBy collects one series per key, in order of first appearance.
type seriesBy struct {
	order []string
	pts   map[string][]plot.Point
}

func (s *seriesBy) add(key string, t time.Time, v float64) {
	if s.pts == nil {
		s.pts = make(map[string][]plot.Point)
	}
	if _, ok := s.pts[key]; !ok {
		s.order = append(s.order, key)
	}
	s.pts[key] = append(s.pts[key], plot.Point{T: t, V: v})
}

func (s *seriesBy) series() []plot.Series {
	out := make([]plot.Series, 0, len(s.order))
	for _, k := range s.order {
		out = append(out, plot.Series{Name: k, Points: s.pts[k]})
	}
	return out
}

// wearPlots draws how the consumables declined over [from, to).
func wearPlots(d *printerData, lang i18n.Lang, cons []fleet.Consumables, counters []fleet.Counters, from, to time.Time) {
	var agents, heads, lamps, roll, unit seriesBy
	for _, c := range cons {
		for _, a := range c.Agents {
			agents.add(lang.T(a.Agent), c.Time, a.SupplyLevelPercent)
		}
		for _, ph := range c.Printheads {
			heads.add(lang.T("Slot %d", ph.Slot), c.Time, ph.UsageHours)
		}
		for _, l := range c.Lamps {
			lamps.add(lang.T(l.Position), c.Time, l.IntensityPercent)
		}
		roll.add(lang.T("Cleaning roll used"), c.Time, c.CleaningRoll.UsagePercent)
		if bu := c.BuildUnits.Installed; bu != nil {
			unit.add(lang.T("Recycled share"), c.Time, bu.RecycledPercent)
		}
	}
	var filters seriesBy
	for _, c := range counters {
		filters.add(lang.T("Filter life left"), c.Time, c.FilterStatusPercent)
	}
	pct := func(title string, s seriesBy) template.HTML {
		return plot.Lines{Title: lang.T(title), Unit: "%", From: from, To: to, YMin: 0, YMax: 100, Series: s.series()}.SVG()
	}
	d.AgentPlot = pct("Agent levels", agents)
	d.HeadPlot = plot.Lines{Title: lang.T("Printhead usage"), Unit: "h", From: from, To: to, Series: heads.series()}.SVG()
	d.LampPlot = pct("Lamp intensity", lamps)
	d.RollPlot = pct("Cleaning roll usage", roll)
	d.FilterPlot = pct("Filter life", filters)
	d.BuildUnitPlot = pct("Recycled material share", unit)
}

// layerSummary sums up a job's layers for a table.
type layerSummary struct {
	Count                  int
	TotalSec, MeanSec      float64
	TotalHours             float64
	MinSec, MaxSec         float64
	SlowestIndex           int
	AreaMM2, MeanAreaMM2   float64
	FirstStart, LastFinish time.Time
}

func summarizeLayers(layers []fleet.Layer) layerSummary {
	var s layerSummary
	for i, l := range layers {
		s.Count++
		s.TotalSec += l.DurationSec
		s.AreaMM2 += l.SizeMM2
		if i == 0 || l.DurationSec < s.MinSec {
			s.MinSec = l.DurationSec
		}
		if i == 0 || l.DurationSec > s.MaxSec {
			s.MaxSec, s.SlowestIndex = l.DurationSec, l.Index
		}
		if s.FirstStart.IsZero() || l.Start.Before(s.FirstStart) {
			s.FirstStart = l.Start
		}
		if l.End.After(s.LastFinish) {
			s.LastFinish = l.End
		}
	}
	if s.Count > 0 {
		s.MeanSec = s.TotalSec / float64(s.Count)
		s.MeanAreaMM2 = s.AreaMM2 / float64(s.Count)
	}
	s.TotalHours = s.TotalSec / 3600
	return s
}

// layerPlots draws a job's layer durations and fused areas over the
// layers' start times, in layer order.
func layerPlots(lang i18n.Lang, layers []fleet.Layer) []template.HTML {
	if len(layers) == 0 {
		return nil // no time axis to draw; the page says no layers were reported
	}
	layers = slices.SortedFunc(slices.Values(layers), func(a, b fleet.Layer) int {
		return cmp.Or(cmp.Compare(a.Index, b.Index), a.Start.Compare(b.Start))
	})
	dur := plot.Series{Name: lang.T("Layer duration")}
	area := plot.Series{Name: lang.T("Fused area")}
	for _, l := range layers {
		dur.Points = append(dur.Points, plot.Point{T: l.Start, V: l.DurationSec})
		area.Points = append(area.Points, plot.Point{T: l.Start, V: l.SizeMM2})
	}
	return []template.HTML{
		plot.Lines{Title: lang.T("Layer duration"), Unit: "s", Series: []plot.Series{dur}}.SVG(),
		plot.Lines{Title: lang.T("Fused area per layer"), Unit: "mm²", Series: []plot.Series{area}}.SVG(),
	}
}

// counterTime is the time of a counters snapshot, zero without one.
func counterTime(c *fleet.Counters) time.Time {
	if c == nil {
		return time.Time{}
	}
	return c.Time
}
