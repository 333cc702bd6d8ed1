package dashboard

import (
	"context"
	"encoding/csv"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
)

// jobPages are the job history, its CSV export and the job page: jobs,
// with the printers and sites that name them.
type jobPages struct {
	*handler
	printers fleetquery.PrinterReader
	sites    access.Sites
	jobs     fleetquery.JobReader
}

// Sizes of the job history and its export.
const (
	jobsPerPage = 50
	// csvMaxRows caps one export; a longer history is exported by period.
	csvMaxRows = 50000
	// csvChunk is how many jobs the export reads from the store at once.
	csvChunk = 1000
)

// jobStatuses are the statuses the filter offers, in life-cycle order.
var jobStatuses = []fleet.JobStatus{fleet.JobQueued, fleet.JobPrinting, fleet.JobCooling,
	fleet.JobCompleted, fleet.JobFailed, fleet.JobCancelled}

// jobStatusWords says a job status for people (English; templates translate).
func jobStatusWords(s fleet.JobStatus) string {
	switch s {
	case fleet.JobQueued:
		return "Queued"
	case fleet.JobPrinting:
		return "Printing"
	case fleet.JobCooling:
		return "Cooling"
	case fleet.JobCompleted:
		return "Completed"
	case fleet.JobFailed:
		return "Failed"
	case fleet.JobCancelled:
		return "Cancelled"
	}
	return "Unknown"
}

// outcomeWords says a part outcome for people (English; templates translate).
func outcomeWords(o fleet.PartOutcome) string {
	switch o {
	case fleet.PartPending:
		return "Pending"
	case fleet.PartPass:
		return "Pass"
	case fleet.PartDimensional:
		return "Dimensional deviation"
	case fleet.PartPorosity:
		return "Porosity"
	case fleet.PartWarp:
		return "Warp"
	case fleet.PartNotPrinted:
		return "Not printed"
	}
	return "Unknown"
}

// jobForm is the job history's filter as the reader typed it.
type jobForm struct {
	Printer, Site, Status, From, To string
	Page                            int
}

// values is the form as a query, without empty fields; page 1 is left out.
func (f jobForm) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"printer": f.Printer, "site": f.Site, "status": f.Status, "from": f.From, "to": f.To} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if f.Page > 1 {
		v.Set("page", strconv.Itoa(f.Page))
	}
	return v
}

// url is path with the form's query.
func (f jobForm) url(path string) string {
	if q := f.values().Encode(); q != "" {
		return path + "?" + q
	}
	return path
}

const dateLayout = "2006-01-02"

// parseJobForm reads the filter of the job history from a query and turns
// it into a store query limited to what the principal may see: printers
// and sites must be among the visible ones (anything else is refused like
// an unknown one), and a principal limited to some sites gets only those.
func parseJobForm(q url.Values, p access.Principal, printers []fleet.PrinterView, sites []fleet.Site, zone *time.Location) (jobForm, fleetquery.JobQuery, error) {
	f := jobForm{Printer: q.Get("printer"), Site: q.Get("site"), Status: q.Get("status"),
		From: strings.TrimSpace(q.Get("from")), To: strings.TrimSpace(q.Get("to")), Page: 1}
	var jq fleetquery.JobQuery
	if p.Sites.Limited() {
		jq.Sites = append([]fleet.SiteID{}, p.Sites.IDs()...)
	}
	if f.Printer != "" {
		ok := false
		for _, v := range printers {
			ok = ok || string(v.ID) == f.Printer
		}
		if !ok {
			return f, jq, badForm("Unknown printer. Choose one from the list.")
		}
		jq.PrinterID = fleet.PrinterID(f.Printer)
	}
	if f.Site != "" {
		ok := false
		for _, s := range sites {
			ok = ok || string(s.ID) == f.Site
		}
		if !ok {
			return f, jq, badForm("Unknown site. Choose one from the list.")
		}
		jq.Sites = []fleet.SiteID{fleet.SiteID(f.Site)}
	}
	if f.Status != "" {
		st := fleet.JobStatus(f.Status)
		if !st.Valid() {
			return f, jq, badForm("Unknown job status. Choose one from the list.")
		}
		jq.Status = st
	}
	day := func(s string) (time.Time, error) {
		if s == "" {
			return time.Time{}, nil
		}
		t, err := time.ParseInLocation(dateLayout, s, zone)
		if err != nil {
			return t, badForm("Dates must be written as year-month-day, for example 2026-03-01.")
		}
		return t, nil
	}
	var err error
	if jq.From, err = day(f.From); err != nil {
		return f, jq, err
	}
	if jq.To, err = day(f.To); err != nil {
		return f, jq, err
	}
	if !jq.To.IsZero() {
		jq.To = jq.To.AddDate(0, 0, 1) // the "to" day is included
	}
	if !jq.From.IsZero() && !jq.To.IsZero() && !jq.From.Before(jq.To) {
		return f, jq, badForm("The first day must not be after the last day.")
	}
	if s := q.Get("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n-1 > fleetquery.MaxOffset/jobsPerPage {
			return f, jq, badForm("The page must be a whole number from 1 up; for very old jobs, narrow the period instead.")
		}
		f.Page = n
	}
	jq.Offset = (f.Page - 1) * jobsPerPage
	jq.Limit = jobsPerPage
	return f, jq, nil
}

// jobRow is one line of the job history.
type jobRow struct {
	fleetquery.PrinterJob
	PrinterName string
	SiteName    string
	StatusWords string
}

// statusOption is a choice of the status filter.
type statusOption struct {
	Value fleet.JobStatus
	Words string
}

func statusOptions() []statusOption {
	out := make([]statusOption, 0, len(jobStatuses))
	for _, s := range jobStatuses {
		out = append(out, statusOption{s, jobStatusWords(s)})
	}
	return out
}

// jobsData is what the jobs page shows.
type jobsData struct {
	Form     jobForm
	Message  string
	Printers []fleet.PrinterView
	Sites    []fleet.Site
	Statuses []statusOption
	Rows     []jobRow
	PrevURL  string
	NextURL  string
	CSVURL   string
	CSVMax   int
}

// jobsScope loads the printers and sites the principal may see.
func jobsScope(r *http.Request, printers fleetquery.PrinterReader, st access.Sites, p access.Principal) ([]fleet.PrinterView, []fleet.Site, error) {
	ps, err := printers.Printers(r.Context(), p.Org)
	if err != nil {
		return nil, nil, err
	}
	sites, err := visibleSites(r, st, p)
	if err != nil {
		return nil, nil, err
	}
	return p.FilterPrinters(ps), sites, nil
}

// jobRows names the printers and sites of jobs.
func jobRows(jobs []fleetquery.PrinterJob, printers []fleet.PrinterView, sites []fleet.Site) []jobRow {
	pv := make(map[fleet.PrinterID]fleet.PrinterView, len(printers))
	for _, v := range printers {
		pv[v.ID] = v
	}
	sn := make(map[fleet.SiteID]string, len(sites))
	for _, s := range sites {
		sn[s.ID] = s.Name
	}
	rows := make([]jobRow, 0, len(jobs))
	for _, j := range jobs {
		v := pv[j.PrinterID]
		name := v.Name
		if name == "" {
			name = string(j.PrinterID)
		}
		rows = append(rows, jobRow{PrinterJob: j, PrinterName: name, SiteName: sn[v.SiteID], StatusWords: jobStatusWords(j.Status)})
	}
	return rows
}

// jobsPage is the job history with filters and paging.
func (h *jobPages) jobsPage(w http.ResponseWriter, r *http.Request, s session) {
	printers, sites, err := jobsScope(r, h.printers, h.sites, s.p)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	_, zone := h.locale(r)
	d := jobsData{Printers: printers, Sites: sites, Statuses: statusOptions(), CSVMax: csvMaxRows}
	form, jq, err := parseJobForm(r.URL.Query(), s.p, printers, sites, zone)
	d.Form = form
	show := func(status int) {
		h.render(w, r, status, "jobs.html", page{Title: "Jobs", User: &s.user, CSRF: s.csrf, Data: d})
	}
	if err != nil {
		status, msg, ok := formStatus(err)
		if !ok {
			h.internalError(w, r, err)
			return
		}
		d.Message = msg
		show(status)
		return
	}
	jq.Limit = jobsPerPage + 1 // one more tells whether there is a next page
	jobs, err := h.jobs.JobHistory(r.Context(), s.p.Org, jq)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	if len(jobs) > jobsPerPage {
		jobs = jobs[:jobsPerPage]
		next := form
		next.Page++
		d.NextURL = next.url("/jobs")
	}
	if form.Page > 1 {
		prev := form
		prev.Page--
		d.PrevURL = prev.url("/jobs")
	}
	d.Rows = jobRows(jobs, printers, sites)
	export := form
	export.Page = 1
	d.CSVURL = export.url("/jobs.csv")
	show(http.StatusOK)
}

// csvSafe defuses a cell that a spreadsheet would run as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// csvHeader names the export's columns.
var csvHeader = []string{"printer_id", "printer_name", "site", "job_id", "status", "created_at", "started_at",
	"finished_at", "material", "print_mode", "parameter_set", "layers_done", "layer_count", "part_count",
	"volume_cm3", "density", "recyclable_kg", "warnings", "source_app"}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func csvFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func csvRecord(r jobRow) []string {
	j := r.Job
	rec := []string{string(r.PrinterID), r.PrinterName, r.SiteName, j.ID, string(j.Status), csvTime(j.CreatedAt),
		csvTime(j.StartedAt), csvTime(j.FinishedAt), j.Material, j.PrintMode, j.ParameterSet,
		strconv.Itoa(j.LayersDone), strconv.Itoa(j.LayerCount), strconv.Itoa(j.PartCount),
		csvFloat(j.VolumeCM3), csvFloat(j.Density), csvFloat(j.RecyclableKG), strconv.Itoa(len(j.Warnings)), j.SourceApp}
	for i, c := range rec {
		rec[i] = csvSafe(c)
	}
	return rec
}

// jobsCSV exports the job history under the jobs page's filters (all pages,
// at most csvMaxRows jobs), streaming it in chunks.
func (h *jobPages) jobsCSV(w http.ResponseWriter, r *http.Request, s session) {
	printers, sites, err := jobsScope(r, h.printers, h.sites, s.p)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	_, zone := h.locale(r)
	q := r.URL.Query()
	q.Del("page")
	_, jq, err := parseJobForm(q, s.p, printers, sites, zone)
	if err != nil {
		status, msg, ok := formStatus(err)
		if !ok {
			h.internalError(w, r, err)
			return
		}
		h.writeError(w, r, status, msg)
		return
	}
	if err := h.writeJobsCSV(r.Context(), w, s.p.Org, jq, printers, sites, csvChunk, csvMaxRows); err != nil {
		h.internalError(w, r, err)
	}
}

// writeJobsCSV streams the jobs of org that match jq as CSV, reading the
// store chunk jobs at a time and stopping after maxRows. The first chunk
// is read before anything is sent: its failure is returned, and the
// caller can still answer 500. A later failure can only end the export
// short; it is logged here.
func (h *jobPages) writeJobsCSV(ctx context.Context, w http.ResponseWriter, org fleet.OrgID, jq fleetquery.JobQuery,
	printers []fleet.PrinterView, sites []fleet.Site, chunk, maxRows int) error {
	jq.Offset, jq.Limit = 0, min(chunk, maxRows)
	jobs, err := h.jobs.JobHistory(ctx, org, jq)
	if err != nil {
		return err
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/csv; charset=utf-8")
	hd.Set("Content-Disposition", `attachment; filename="jobs-`+h.clock.Now().UTC().Format(dateLayout)+`.csv"`)
	cw := csv.NewWriter(w)
	cw.Write(csvHeader)
	rows := 0
	for {
		for _, row := range jobRows(jobs, printers, sites) {
			cw.Write(csvRecord(row))
		}
		rows += len(jobs)
		cw.Flush()
		if cw.Error() != nil {
			return nil // the reader went away
		}
		if len(jobs) < jq.Limit || rows >= maxRows {
			return nil
		}
		jq.Offset, jq.Limit = rows, min(chunk, maxRows-rows)
		if jobs, err = h.jobs.JobHistory(ctx, org, jq); err != nil {
			if ctx.Err() != nil {
				return nil // the reader went away
			}
			h.log.Error("export jobs: the export ends short", "err", err, "rows", rows)
			return nil
		}
	}
}

// partRow is a part with its outcome in words.
type partRow struct {
	fleet.Part
	OutcomeWords string
}

// outcomeCount is how many parts of a job came out one way.
type outcomeCount struct {
	Words string
	N     int
}

// phaseRow is a phase of a job with its duration in minutes.
type phaseRow struct {
	fleet.SubJob
	Minutes float64
}

// jobData is what the job page shows.
type jobData struct {
	Printer        card
	Site           string
	Job            fleet.Job
	StatusWords    string
	DensityPercent float64
	Phases         []phaseRow
	Parts          []partRow
	Outcomes       []outcomeCount
	Layers         layerSummary
	LayerPlots     []template.HTML
}

// jobPage is one job: its fields, phases, warnings, parts and layers.
func (h *jobPages) jobPage(w http.ResponseWriter, r *http.Request, s session) {
	ctx := r.Context()
	det, err := visiblePrinter(r, h.printers, s.p, fleet.PrinterID(r.PathValue("id")))
	var job fleet.Job
	if err == nil {
		job, err = h.jobs.Job(ctx, s.p.Org, det.View.ID, r.PathValue("job"))
	}
	if isNotFound(err) {
		h.writeError(w, r, http.StatusNotFound, "No such job in your organisation.")
		return
	}
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	parts, err := h.jobs.JobParts(ctx, s.p.Org, det.View.ID, job.ID)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	layers, err := h.jobs.JobLayers(ctx, s.p.Org, det.View.ID, job.ID)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	site, err := nameOfSite(r, h.sites, s.p.Org, det.View.SiteID)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	lang, _ := h.locale(r)
	d := jobData{Printer: h.speechOf(r).card(det.View, h.clock.Now()), Site: site, Job: job, StatusWords: jobStatusWords(job.Status),
		DensityPercent: job.Density * 100, Layers: summarizeLayers(layers), LayerPlots: layerPlots(lang, layers)}
	for _, sj := range job.SubJobs {
		d.Phases = append(d.Phases, phaseRow{SubJob: sj, Minutes: sj.DurationSec / 60})
	}
	counts := map[string]int{}
	for _, pt := range parts {
		words := outcomeWords(pt.Outcome)
		d.Parts = append(d.Parts, partRow{Part: pt, OutcomeWords: words})
		if counts[words] == 0 {
			d.Outcomes = append(d.Outcomes, outcomeCount{Words: words})
		}
		counts[words]++
	}
	for i := range d.Outcomes {
		d.Outcomes[i].N = counts[d.Outcomes[i].Words]
	}
	h.render(w, r, http.StatusOK, "job.html", page{Title: lang.T("Job %s", job.ID), User: &s.user, CSRF: s.csrf, Data: d})
}
