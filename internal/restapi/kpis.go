package restapi

import (
	"net/http"
	"slices"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/kpi"
)

// siteLimit is p's site limit as a store filter: nil for all sites, never
// nil for a limited principal (even one without sites).
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

// kpiQuery reads the selection of a KPI or usage request and checks that
// p may see the site and printer named.
func (h *kpiAPI) kpiQuery(r *http.Request, p access.Principal) (kpi.Query, error) {
	q, err := kpi.ParseQuery(r.URL.Query(), h.clock.Now())
	if err != nil {
		return q, badRequest("period is one of 7d, 30d, 90d, 365d, or custom with from and to as YYYY-MM-DD, at most three years apart")
	}
	if q.Site != "" && !p.Sites.Allows(q.Site) {
		return q, fleet.ErrNotFound
	}
	if q.Site != "" {
		sites, err := h.sites.Sites(r.Context(), p.Org)
		if err != nil {
			return q, err
		}
		if !slices.ContainsFunc(sites, func(s fleet.Site) bool { return s.ID == q.Site }) {
			return q, fleet.ErrNotFound
		}
	}
	if q.Printer != "" {
		ps, err := visiblePrinters(r, h.printers, p)
		if err != nil {
			return q, err
		}
		if !slices.ContainsFunc(ps, func(v fleet.PrinterView) bool { return v.ID == q.Printer }) {
			return q, fleet.ErrNotFound
		}
	}
	return q, nil
}

type kpisJSON struct {
	Period      kpi.Period       `json:"period"`
	Printers    int              `json:"printers"`
	Definitions []kpi.Definition `json:"definitions"`
	Values      []kpi.Value      `json:"values"`
	Trends      []kpi.Trend      `json:"trends"`
	Days        []kpi.DaySums    `json:"days"`
}

func (h *kpiAPI) getKPIs(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	q, err := h.kpiQuery(r, p)
	if err != nil {
		return err
	}
	d, err := h.kpis.KPIDaily(r.Context(), p.Org, q.Filter(siteLimit(p)))
	if err != nil {
		return err
	}
	if d.Days == nil {
		d.Days = []kpi.DaySums{}
	}
	h.encode(w, http.StatusOK, kpisJSON{Period: q.Period, Printers: d.Printers, Definitions: kpi.Definitions(),
		Values: d.Compute(q.Period), Trends: kpi.Trends(d, q.Period), Days: d.Days})
	return nil
}

type benchmarkJSON struct {
	Model     string     `json:"model"`
	Period    kpi.Period `json:"period"`
	MinCohort int        `json:"min_cohort"`
	Bands     []kpi.Band `json:"bands"`
}

func (h *kpiAPI) benchmark(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	period, err := kpi.BenchmarkPeriod(r.URL.Query().Get("period"), h.clock.Now())
	if err != nil {
		return badRequest("period is one of 1m, 3m, 12m: the last complete calendar months")
	}
	ps, err := visiblePrinters(r, h.printers, p)
	if err != nil {
		return err
	}
	var models []string
	for _, v := range ps {
		if v.Model != "" {
			models = append(models, v.Model)
		}
	}
	slices.Sort(models)
	model := r.URL.Query().Get("model")
	if model == "" && len(models) > 0 {
		model = models[0]
	}
	if !slices.Contains(models, model) {
		return fleet.ErrNotFound
	}
	bands, err := kpi.Benchmark(r.Context(), h.kpis, p.Org, siteLimit(p), model, period)
	if err != nil {
		return err
	}
	h.encode(w, http.StatusOK, benchmarkJSON{Model: model, Period: period, MinCohort: kpi.MinCohort, Bands: bands})
	return nil
}

type usageJSON struct {
	Period    kpi.Period        `json:"period"`
	Printers  int               `json:"printers"`
	Shares    kpi.Shares        `json:"shares_percent"`
	Usage     kpi.Usage         `json:"seconds"`
	Materials []kpi.MaterialDay `json:"materials"`
	Note      string            `json:"note"`
}

func (h *kpiAPI) usage(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	q, err := h.kpiQuery(r, p)
	if err != nil {
		return err
	}
	f := q.Filter(siteLimit(p))
	u, err := h.kpis.UsageHeatmap(r.Context(), p.Org, f)
	if err != nil {
		return err
	}
	mats, err := h.kpis.MaterialUse(r.Context(), p.Org, f)
	if err != nil {
		return err
	}
	if mats == nil {
		mats = []kpi.MaterialDay{}
	}
	h.encode(w, http.StatusOK, usageJSON{Period: q.Period, Printers: u.Printers, Shares: u.Shares(q.Period, h.clock.Now()), Usage: u,
		Materials: mats, Note: "weekday 0 is Sunday; hours are UTC"})
	return nil
}
