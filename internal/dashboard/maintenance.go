package dashboard

import (
	"html/template"
	"math"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
	"github.com/fusionfleet/fusionfleet/internal/i18n"
	"github.com/fusionfleet/fusionfleet/internal/maintenance"
	"github.com/fusionfleet/fusionfleet/internal/plot"
)

// MaintenanceModels are the component life models the cloud learned from
// the whole fleet (maintenance.Trainer).
type MaintenanceModels interface {
	Models() (map[maintenance.Kind]maintenance.Model, maintenance.Training)
}

// maintenancePage is the Maintenance page: the forecast calendar of the
// reader's printers (or one site's, or one printer's), the parts to order,
// and a printer's degrading signals.
type maintenancePage struct {
	*handler
	printers fleetquery.PrinterReader
	book     *maintenance.Book // each printer's components, kept from a watermark
	sites    access.Sites
	models   MaintenanceModels // nil: every forecast on the rated life
}

// maintRow is one component on the calendar.
type maintRow struct {
	PrinterID, PrinterName, SiteName string
	What                             string // "Printhead PH3"
	F                                maintenance.Forecast
	// Days until the median replacement and the 80 % band; Dated is
	// false when the printer has not printed lately.
	Days, LowDays, HighDays float64
	Dated                   bool
	Chance                  float64 // percent chance of failing within 7 days; -1 unknown
}

// modelRow is one kind's life model.
type modelRow struct {
	maintenance.Model
	Name  string
	Rated float64 // hours
	// Effects are the learned covariate effects clear of none (two
	// standard errors), as "name ×factor"; Unclear counts the others.
	Effects []string
	Unclear int
}

// spareRow is one spare part to order.
type spareRow struct {
	Part, What string
	Count      int
}

type linkChoice struct {
	Label, Href string
	Current     bool
}

type maintData struct {
	Sites, Printers, Weeks []linkChoice
	Printer                string // the printer shown alone, by name; "" for all
	WeeksN                 int
	Rows                   []maintRow
	Parts                  []spareRow
	Models                 []modelRow
	Training               maintenance.Training
	Plot                   template.HTML
	// Excluded counts these printers' records and components left out of
	// their forecasts, by reason; ExcludedN is the sum.
	Excluded  []exclRow
	ExcludedN int
}

// exclRow is one reason records were left out.
type exclRow struct {
	Reason string
	Count  int
}

func (d *maintData) addExcluded(reason string, n int) {
	if n <= 0 {
		return
	}
	d.ExcludedN += n
	for i := range d.Excluded {
		if d.Excluded[i].Reason == reason {
			d.Excluded[i].Count += n
			return
		}
	}
	d.Excluded = append(d.Excluded, exclRow{reason, n})
}

// kindName names a component kind for people.
func kindName(l i18n.Lang, k maintenance.Kind) string {
	switch k {
	case maintenance.Printhead:
		return l.T("Printhead")
	case maintenance.Lamp:
		return l.T("Lamp")
	case maintenance.Filter:
		return l.T("Filter")
	case maintenance.Cooling:
		return l.T("Cooling system")
	case maintenance.Carriage:
		return l.T("Carriage")
	}
	return string(k)
}

// maintenancePage answers GET /maintenance[?site=…][&printer=…][&weeks=…].
func (h *maintenancePage) maintenancePage(w http.ResponseWriter, r *http.Request, s session) {
	lang, _ := h.locale(r)
	d, err := h.load(r, s.p, lang)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "maintenance.html", page{Title: "Maintenance", User: &s.user, CSRF: s.csrf, Data: d})
}

func (h *maintenancePage) load(r *http.Request, p access.Principal, lang i18n.Lang) (maintData, error) {
	ctx := r.Context()
	q := r.URL.Query()
	site, printer := fleet.SiteID(q.Get("site")), fleet.PrinterID(q.Get("printer"))
	d := maintData{WeeksN: 4}
	if n, err := strconv.Atoi(q.Get("weeks")); err == nil && n >= 1 && n <= 26 {
		d.WeeksN = n
	}
	now := h.clock.Now()
	views, err := h.printers.Printers(ctx, p.Org)
	if err != nil {
		return d, err
	}
	views = p.FilterPrinters(views)
	sites, err := h.sites.Sites(ctx, p.Org)
	if err != nil {
		return d, err
	}
	siteNames := map[fleet.SiteID]string{}
	for _, st := range sites {
		siteNames[st.ID] = st.Name
	}
	href := func(site fleet.SiteID, pr fleet.PrinterID, weeks int) string {
		v := "/maintenance?weeks=" + strconv.Itoa(weeks)
		if site != "" {
			v += "&site=" + string(site)
		}
		if pr != "" {
			v += "&printer=" + string(pr)
		}
		return v
	}
	d.Sites = append(d.Sites, linkChoice{lang.T("All sites"), href("", "", d.WeeksN), site == "" && printer == ""})
	seenSite := map[fleet.SiteID]bool{}
	for _, v := range views {
		if !seenSite[v.SiteID] {
			seenSite[v.SiteID] = true
			d.Sites = append(d.Sites, linkChoice{siteNames[v.SiteID], href(v.SiteID, "", d.WeeksN), site == v.SiteID && printer == ""})
		}
	}
	for _, n := range []int{2, 4, 8, 13} {
		d.Weeks = append(d.Weeks, linkChoice{lang.T("%d weeks", n), href(site, printer, n), n == d.WeeksN})
	}
	var models map[maintenance.Kind]maintenance.Model
	if h.models != nil {
		models, d.Training = h.models.Models()
	}
	fc := &maintenance.Forecaster{Models: models}
	for _, k := range maintenance.Kinds() {
		m, ok := models[k]
		if !ok {
			m = maintenance.Model{Kind: k, Reason: lang.T("no fleet model yet")}
		}
		row := modelRow{Model: m, Name: kindName(lang, k), Rated: maintenance.RatedHours(k)}
		for _, e := range m.Effects {
			switch {
			case !e.Fitted:
			case math.Abs(e.Coef) >= 2*e.SE:
				row.Effects = append(row.Effects, lang.T("%s ×%.2f", lang.T(e.Name), math.Exp(e.Coef)))
			default:
				row.Unclear++ // learned, but the data hardly tell it from none
			}
		}
		d.Models = append(d.Models, row)
	}
	parts := map[string]*spareRow{}
	horizon := now.Add(time.Duration(d.WeeksN) * 7 * 24 * time.Hour)
	for _, v := range views {
		if site != "" && v.SiteID != site || printer != "" && v.ID != printer {
			continue
		}
		name := v.Name
		if name == "" {
			name = string(v.ID)
		}
		if site != "" || printer == "" {
			d.Printers = append(d.Printers, linkChoice{name, href(v.SiteID, v.ID, d.WeeksN), v.ID == printer})
		}
		var fcs []maintenance.Forecast
		err := h.book.View(ctx, p.Org, v.ID, now, func(tr *maintenance.Tracker) {
			for r, n := range tr.Excluded {
				d.addExcluded(r, n)
			}
			fcs = fc.Forecasts(tr, v.ID, now)
			if printer != "" {
				d.Plot = h.signalPlot(tr, v.ID, now, lang)
			}
		})
		if err != nil {
			return d, err
		}
		for _, f := range fcs {
			row := maintRow{PrinterID: string(v.ID), PrinterName: name, SiteName: siteNames[v.SiteID], F: f,
				What: kindName(lang, f.Kind), Chance: -1}
			if f.FailWithin >= 0 {
				row.Chance = 100 * f.FailWithin
			}
			if f.Position != "" {
				row.What += " " + f.Position
			}
			if !f.Replace.IsZero() {
				day := 24 * time.Hour.Hours()
				row.Dated = true
				row.Days = max(f.Replace.Sub(now).Hours()/day, 0)
				row.LowDays, row.HighDays = max(f.ReplaceLow.Sub(now).Hours()/day, 0), max(f.ReplaceHigh.Sub(now).Hours()/day, 0)
			}
			d.Rows = append(d.Rows, row)
			if f.Due || row.Dated && f.Replace.Before(horizon) {
				pr := parts[f.PartNumber]
				if pr == nil {
					pr = &spareRow{Part: f.PartNumber, What: kindName(lang, f.Kind)}
					parts[f.PartNumber] = pr
				}
				pr.Count++
			}
		}
		if printer != "" {
			d.Printer = name
		}
	}
	sort.SliceStable(d.Rows, func(i, j int) bool {
		a, b := d.Rows[i], d.Rows[j]
		if a.F.Due != b.F.Due {
			return a.F.Due
		}
		if a.Dated != b.Dated {
			return a.Dated
		}
		return a.Days < b.Days
	})
	for _, pr := range parts {
		d.Parts = append(d.Parts, *pr)
	}
	sort.Slice(d.Parts, func(i, j int) bool { return d.Parts[i].Part < d.Parts[j].Part })
	for i := range d.Excluded {
		d.Excluded[i].Reason = lang.T(d.Excluded[i].Reason)
	}
	sort.Slice(d.Excluded, func(i, j int) bool { return d.Excluded[i].Reason < d.Excluded[j].Reason })
	return d, nil
}

// signalPlot draws the visible condition of a printer's installed lamps
// and filter: the series the degradation detectors watch.
func (h *maintenancePage) signalPlot(tr *maintenance.Tracker, id fleet.PrinterID, now time.Time, lang i18n.Lang) template.HTML {
	var series []plot.Series
	from := now.Add(-30 * 24 * time.Hour)
	for _, in := range tr.Installed(id, now) {
		if len(in.Condition) == 0 {
			continue
		}
		name := kindName(lang, in.Kind)
		if in.Position != "" {
			name += " " + in.Position
		}
		s := plot.Series{Name: name}
		for _, pt := range in.Condition {
			if !pt.Time.Before(from) {
				s.Points = append(s.Points, plot.Point{T: pt.Time, V: pt.Value})
			}
		}
		series = append(series, s)
	}
	return plot.Lines{Title: lang.T("Lamp intensity and filter life left"), Unit: "%", From: from, To: now, YMin: 0, YMax: 100,
		Series: series, Empty: lang.T("No data in this period")}.SVG()
}
