package dashboard

import (
	"html/template"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
	"github.com/fusionfleet/fusionfleet/internal/i18n"
	"github.com/fusionfleet/fusionfleet/internal/kpi"
	"github.com/fusionfleet/fusionfleet/internal/plot"
)

// kpiPages are the KPI, benchmark and usage pages: the KPI store, with
// the printers and sites the reader may choose from.
type kpiPages struct {
	*handler
	printers fleetquery.PrinterReader
	sites    access.Sites
	kpis     kpi.Reader
}

// kpiScope is what a reader may choose from: their printers, sites and
// the models of those printers.
type kpiScope struct {
	Printers []fleet.PrinterView
	Sites    []fleet.Site
	Models   []string
}

func (h *kpiPages) kpiScope(r *http.Request, p access.Principal) (kpiScope, error) {
	printers, sites, err := jobsScope(r, h.printers, h.sites, p)
	if err != nil {
		return kpiScope{}, err
	}
	sc := kpiScope{Printers: printers, Sites: sites}
	for _, v := range printers {
		if v.Model != "" && !slices.Contains(sc.Models, v.Model) {
			sc.Models = append(sc.Models, v.Model)
		}
	}
	slices.Sort(sc.Models)
	return sc, nil
}

// siteLimit is a principal's site limit as a store filter: nil for all
// sites, never nil for a limited reader (even one without sites).
func siteLimit(p access.Principal) []fleet.SiteID {
	if !p.Sites.Limited() {
		return nil
	}
	ids := p.Sites.IDs()
	if ids == nil {
		ids = []fleet.SiteID{}
	}
	return ids
}

// kpiQuery reads the selection of a KPI or usage page and checks that the
// reader may see the site and printer chosen.
func (h *kpiPages) kpiQuery(r *http.Request, sc kpiScope) (kpi.Query, string) {
	q, err := kpi.ParseQuery(r.URL.Query(), h.clock.Now())
	if err != nil {
		return kpi.Query{Period: kpi.Period{Key: "30d"}}, "Choose a period: a custom period needs a first and a last day, at most three years apart."
	}
	if q.Site != "" && !slices.ContainsFunc(sc.Sites, func(s fleet.Site) bool { return s.ID == q.Site }) {
		return q, "Unknown site."
	}
	if q.Printer != "" && !slices.ContainsFunc(sc.Printers, func(v fleet.PrinterView) bool { return v.ID == q.Printer }) {
		return q, "Unknown printer."
	}
	return q, ""
}

// choice is an option of a select: a value and its English label.
type choice struct{ Value, Label string }

// The periods the pages offer.
var (
	kpiPeriods       = []choice{{"7d", "Last 7 days"}, {"30d", "Last 30 days"}, {"90d", "Last 90 days"}, {"365d", "Last 365 days"}}
	benchmarkPeriods = []choice{{"1m", "Last complete month"}, {"3m", "Last 3 complete months"}, {"12m", "Last 12 complete months"}}
)

// kpiForm is the selection as the page shows it back.
type kpiForm struct {
	Period, From, To, Site, Printer, Model string
}

func formOf(q kpi.Query) kpiForm {
	f := kpiForm{Period: q.Period.Key, Site: string(q.Site), Printer: string(q.Printer), Model: q.Model}
	if q.Period.Key == "custom" {
		f.From, f.To = q.Period.From.Format(time.DateOnly), q.Period.To.Add(-24*time.Hour).Format(time.DateOnly)
	}
	return f
}

// kpiCard is one KPI on the page.
type kpiCard struct {
	kpi.Definition
	Value string
	OK    bool
	Chart template.HTML
}

type kpisData struct {
	kpiScope
	Form     kpiForm
	Periods  []choice
	Message  string
	Selected int // printers the selection covers
	Cards    []kpiCard
}

func (h *kpiPages) kpisPage(w http.ResponseWriter, r *http.Request, s session) {
	sc, err := h.kpiScope(r, s.p)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	q, msg := h.kpiQuery(r, sc)
	d := kpisData{kpiScope: sc, Form: formOf(q), Periods: kpiPeriods, Message: msg}
	show := func(status int) {
		h.render(w, r, status, "kpis.html", page{Title: "KPIs", User: &s.user, CSRF: s.csrf, Data: d})
	}
	if msg != "" {
		show(http.StatusBadRequest)
		return
	}
	daily, err := h.kpis.KPIDaily(r.Context(), s.p.Org, q.Filter(siteLimit(s.p)))
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	lang, _ := h.locale(r)
	d.Selected = daily.Printers
	d.Cards = kpiCards(lang, daily, q.Period)
	show(http.StatusOK)
}

// kpiCards computes every KPI with its trend chart: lines for shares, bars
// for rates.
func kpiCards(lang i18n.Lang, daily kpi.Daily, p kpi.Period) []kpiCard {
	values := daily.Compute(p)
	trends := kpi.Trends(daily, p)
	bucket := "day"
	if kpi.BucketDays(p) > 1 {
		bucket = "week"
	}
	var cards []kpiCard
	for i, def := range kpi.Definitions() {
		c := kpiCard{Definition: def, OK: values[i].OK}
		if c.OK {
			c.Value = plot.Format(values[i].Value, lang.T(def.Unit))
		}
		// Rates are per day already ("Jobs per day"): their title does not
		// say it twice.
		title := lang.T("%s per day", lang.T(def.Name))
		switch {
		case def.Unit != "%" && bucket == "week":
			title = lang.T("%s (weekly mean)", lang.T(def.Name))
		case def.Unit != "%":
			title = lang.T(def.Name)
		case bucket == "week":
			title = lang.T("%s per week", lang.T(def.Name))
		}
		if def.Unit == "%" {
			pts := make([]plot.Point, len(trends[i].Points))
			for k, pt := range trends[i].Points {
				pts[k] = plot.Point{T: pt.T, V: pt.Value}
			}
			c.Chart = plot.Lines{Title: title, Unit: def.Unit, From: p.From, To: p.To,
				Series: []plot.Series{{Name: lang.T(def.Name), Points: pts}}, Empty: lang.T("No data in this period")}.SVG()
		} else {
			bars := plot.Bars{Title: title, Unit: lang.T(def.Unit), Empty: lang.T("No data in this period")}
			for _, pt := range trends[i].Points {
				bars.Labels = append(bars.Labels, pt.T.Format("02.01."))
				bars.Values = append(bars.Values, pt.Value)
			}
			c.Chart = bars.SVG()
		}
		cards = append(cards, c)
	}
	return cards
}

// bandRow is one KPI of the benchmark as a table row.
type bandRow struct {
	kpi.Band
	Name, Unit                   string
	P10, P25, P50, P75, P90, You string
}

type benchmarkData struct {
	Models    []string
	Model     string
	Period    string
	Periods   []choice
	From, To  time.Time
	Message   string
	MinCohort int
	TooSmall  bool
	Rows      []bandRow
	Charts    []template.HTML
}

func (h *kpiPages) benchmarkPage(w http.ResponseWriter, r *http.Request, s session) {
	sc, err := h.kpiScope(r, s.p)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	d := benchmarkData{Models: sc.Models, Periods: benchmarkPeriods, MinCohort: kpi.MinCohort}
	show := func(status int) {
		h.render(w, r, status, "benchmark.html", page{Title: "Benchmark", User: &s.user, CSRF: s.csrf, Data: d})
	}
	q := r.URL.Query()
	d.Model = q.Get("model")
	if d.Model == "" && len(sc.Models) > 0 {
		d.Model = sc.Models[0]
	}
	period, err := kpi.BenchmarkPeriod(q.Get("period"), h.clock.Now())
	d.Period = period.Key
	switch {
	case err != nil:
		d.Message = "Benchmarks compare whole calendar months: choose the last month, 3 months or 12 months."
	case d.Model == "":
		d.Message = "None of your printers has reported its model yet."
	case !slices.Contains(sc.Models, d.Model):
		d.Message = "Unknown printer model."
	}
	switch {
	case d.Model == "" && err == nil:
		show(http.StatusOK) // nothing to compare yet: not the reader's mistake
		return
	case d.Message != "":
		show(http.StatusBadRequest)
		return
	}
	d.From, d.To = period.From, period.To.Add(-time.Nanosecond)
	bands, err := kpi.Benchmark(r.Context(), h.kpis, s.p.Org, siteLimit(s.p), d.Model, period)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	lang, _ := h.locale(r)
	shares := plot.Bands{Title: lang.T("Your organisation against the cohort (shares)"), Unit: "%"}
	rates := plot.Bands{Title: lang.T("Your organisation against the cohort (per printer and day)"), Unit: lang.T("/day")}
	defs := kpi.Definitions()
	d.TooSmall = true
	for i, b := range bands {
		def := defs[i]
		row := bandRow{Band: b, Name: def.Name, Unit: def.Unit, You: "–"}
		if b.YouOK {
			row.You = plot.Format(b.You, lang.T(def.Unit))
		}
		if !b.TooSmall {
			d.TooSmall = false
			u := lang.T(def.Unit)
			row.P10, row.P25, row.P50, row.P75, row.P90 = plot.Format(b.P10, u), plot.Format(b.P25, u),
				plot.Format(b.P50, u), plot.Format(b.P75, u), plot.Format(b.P90, u)
			you := math.NaN()
			if b.YouOK {
				you = b.You
			}
			br := plot.BandRow{Label: lang.T(def.Name), P10: b.P10, P25: b.P25, P50: b.P50, P75: b.P75, P90: b.P90, You: you}
			if def.Unit == "%" {
				shares.Rows = append(shares.Rows, br)
			} else {
				rates.Rows = append(rates.Rows, br)
			}
		}
		d.Rows = append(d.Rows, row)
	}
	for _, c := range []plot.Bands{shares, rates} {
		if len(c.Rows) > 0 {
			d.Charts = append(d.Charts, c.SVG())
		}
	}
	show(http.StatusOK)
}

type usageData struct {
	kpiScope
	Form      kpiForm
	Periods   []choice
	Message   string
	Zone      string
	Selected  int // printers the selection covers
	Heatmaps  []template.HTML
	Materials template.HTML
	Totals    []materialTotal
}

type materialTotal struct {
	Material            string
	Jobs                int64
	PartsKG, Recyclable string
}

// weekdays are the heat maps' rows, Monday first.
var weekdays = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday}

func (h *kpiPages) usagePage(w http.ResponseWriter, r *http.Request, s session) {
	sc, err := h.kpiScope(r, s.p)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	q, msg := h.kpiQuery(r, sc)
	lang, zone := h.locale(r)
	d := usageData{kpiScope: sc, Form: formOf(q), Periods: kpiPeriods, Message: msg, Zone: zone.String()}
	show := func(status int) {
		h.render(w, r, status, "usage.html", page{Title: "Usage patterns", User: &s.user, CSRF: s.csrf, Data: d})
	}
	if msg != "" {
		show(http.StatusBadRequest)
		return
	}
	f := q.Filter(siteLimit(s.p))
	u, err := h.kpis.UsageHeatmap(r.Context(), s.p.Org, f)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	mats, err := h.kpis.MaterialUse(r.Context(), s.p.Org, f)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	d.Selected = u.Printers
	sh := u.Shares(q.Period, h.clock.Now())
	// The stored hours are UTC; the maps show the reader's local hours
	// (at the zone's offset now).
	_, off := h.clock.Now().In(zone).Zone()
	shift := off / 3600
	var cols []string
	for hr := range 24 {
		cols = append(cols, time.Date(2000, 1, 1, hr, 0, 0, 0, time.UTC).Format("15"))
	}
	var rows []string
	for _, wd := range weekdays {
		rows = append(rows, lang.T(wd.String()))
	}
	for _, m := range []struct {
		title string
		v     *[7][24]float64
	}{{"Printing time", &sh.Printing}, {"Cooling time", &sh.Cooling}, {"Idle time", &sh.Idle}} {
		vals := make([][]float64, 7)
		for i, wd := range weekdays {
			vals[i] = make([]float64, 24)
			for hr := range 24 {
				utc := (int(wd)*24 + hr - shift + 7*24) % (7 * 24)
				vals[i][hr] = m.v[utc/24][utc%24]
				if sh.PrinterHours[utc/24][utc%24] == 0 {
					vals[i][hr] = math.NaN() // no printer was there: not idle, unknown
				}
			}
		}
		d.Heatmaps = append(d.Heatmaps, plot.Heatmap{Title: lang.T("%s: share of printer time by weekday and hour", lang.T(m.title)),
			Unit: "%", Rows: rows, Cols: cols, Values: vals, Missing: lang.T("No printer time")}.SVG())
	}
	d.Materials, d.Totals = materialChart(lang, mats, q.Period)
	show(http.StatusOK)
}

// materialChart draws material fused into parts per day or week, one
// line per material, and totals per material.
func materialChart(lang i18n.Lang, mats []kpi.MaterialDay, p kpi.Period) (template.HTML, []materialTotal) {
	n := kpi.BucketDays(p)
	series := map[string]*plot.Series{}
	var names []string
	totals := map[string]*kpi.MaterialDay{}
	for _, m := range mats {
		s := series[m.Material]
		if s == nil {
			s = &plot.Series{Name: m.Material}
			series[m.Material] = s
			names = append(names, m.Material)
			totals[m.Material] = &kpi.MaterialDay{Material: m.Material}
		}
		b := p.From.Add(time.Duration(int(m.Day.Sub(p.From)/(24*time.Hour))/n*n) * 24 * time.Hour)
		if k := len(s.Points); k > 0 && s.Points[k-1].T.Equal(b) {
			s.Points[k-1].V += m.PartsKG
		} else {
			s.Points = append(s.Points, plot.Point{T: b, V: m.PartsKG})
		}
		t := totals[m.Material]
		t.Jobs += m.Jobs
		t.PartsKG += m.PartsKG
		t.RecyclableKG += m.RecyclableKG
	}
	slices.Sort(names)
	c := plot.Lines{Title: lang.T("Material fused into parts per day"), Unit: "kg", From: p.From, To: p.To,
		Empty: lang.T("No data in this period")}
	if n > 1 {
		c.Title = lang.T("Material fused into parts per week")
	}
	var out []materialTotal
	for _, name := range names {
		c.Series = append(c.Series, *series[name])
		t := totals[name]
		out = append(out, materialTotal{Material: name, Jobs: t.Jobs, PartsKG: plot.Format(t.PartsKG, "kg"),
			Recyclable: plot.Format(t.RecyclableKG, "kg")})
	}
	return c.SVG(), out
}
