package restapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
)

// Bounds of the history reads.
const (
	// defaultHistory is how far back a history reaches without "from".
	defaultHistory = 30 * 24 * time.Hour
	// maxHistory is the longest range one history read may cover: a
	// snapshot history is read whole, so its range is what bounds it.
	maxHistory = 366 * 24 * time.Hour
	// maxEvents bounds one read of events.
	maxEvents = 1000
)

// visiblePrinter loads a printer of p's organisation at one of p's sites;
// any other is fleet.ErrNotFound.
func visiblePrinter(r *http.Request, st fleetquery.PrinterReader, p access.Principal) (fleetquery.PrinterDetail, error) {
	det, err := st.PrinterDetail(r.Context(), p.Org, fleet.PrinterID(r.PathValue("id")))
	if err != nil {
		return det, err
	}
	if !p.Sites.Allows(det.View.SiteID) {
		return fleetquery.PrinterDetail{}, fleet.ErrNotFound
	}
	return det, nil
}

// timeParam reads an RFC 3339 time parameter ("" is the zero time).
func timeParam(q url.Values, name string) (time.Time, error) {
	s := q.Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, badRequest("Parameter " + name + " must be an RFC 3339 time, e.g. 2026-03-01T00:00:00Z.")
	}
	return t, nil
}

// intParam reads an integer parameter in lo..hi (def when absent).
func intParam(q url.Values, name string, def, lo, hi int) (int, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, badRequest(fmt.Sprintf("Parameter %s must be a whole number from %d to %d.", name, lo, hi))
	}
	return n, nil
}

// historyRange reads "from" and "to": by default the last 30 days, and
// never more than maxHistory.
func (h *handler) historyRange(q url.Values) (from, to time.Time, err error) {
	if from, err = timeParam(q, "from"); err != nil {
		return from, to, err
	}
	if to, err = timeParam(q, "to"); err != nil {
		return from, to, err
	}
	if to.IsZero() {
		to = h.clock.Now()
	}
	if from.IsZero() {
		from = to.Add(-defaultHistory)
	}
	switch {
	case !from.Before(to):
		return from, to, badRequest("Parameter from must be before to.")
	case to.Sub(from) > maxHistory:
		return from, to, badRequest("The range from … to may cover at most 366 days.")
	}
	return from, to, nil
}

// printerDetail is a printer with its latest identity, counters and
// consumables.
func (h *printerAPI) printerDetail(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	det, err := visiblePrinter(r, h.printers, p)
	if err != nil {
		return err
	}
	h.encode(w, http.StatusOK, det)
	return nil
}

// consumablesHistory is a printer's consumables snapshots in a range.
func (h *printerAPI) consumablesHistory(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	return printerHistory(h, w, r, p, h.history.ConsumablesHistory)
}

// countersHistory is a printer's counter snapshots in a range.
func (h *printerAPI) countersHistory(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	return printerHistory(h, w, r, p, h.history.CountersHistory)
}

// printerHistory answers the snapshots read returns for a printer the
// caller may see, in the range the query names.
func printerHistory[T any](h *printerAPI, w http.ResponseWriter, r *http.Request, p access.Principal,
	read func(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time) ([]T, error)) error {
	det, err := visiblePrinter(r, h.printers, p)
	if err != nil {
		return err
	}
	from, to, err := h.historyRange(r.URL.Query())
	if err != nil {
		return err
	}
	out, err := read(r.Context(), p.Org, det.View.ID, from, to)
	if err != nil {
		return err
	}
	h.encode(w, http.StatusOK, nonNil(out))
	return nil
}

// printerEvents is a printer's events in a range, newest first.
func (h *printerAPI) printerEvents(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	det, err := visiblePrinter(r, h.printers, p)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	from, to, err := h.historyRange(q)
	if err != nil {
		return err
	}
	limit, err := intParam(q, "limit", fleetquery.DefaultLimit, 1, maxEvents)
	if err != nil {
		return err
	}
	out, err := h.history.Events(r.Context(), p.Org, det.View.ID, from, to, limit)
	if err != nil {
		return err
	}
	h.encode(w, http.StatusOK, nonNil(out))
	return nil
}

// jobHistory is the organisation's job history under the jobs page's filters.
func (h *jobAPI) jobHistory(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	q := r.URL.Query()
	var jq fleetquery.JobQuery
	if p.Sites.Limited() {
		jq.Sites = append([]fleet.SiteID{}, p.Sites.IDs()...)
	}
	if s := q.Get("printer"); s != "" {
		jq.PrinterID = fleet.PrinterID(s)
	}
	if s := q.Get("site"); s != "" {
		site := fleet.SiteID(s)
		if !p.Sites.Allows(site) {
			jq.Sites = []fleet.SiteID{}
		} else {
			jq.Sites = []fleet.SiteID{site}
		}
	}
	if s := q.Get("status"); s != "" {
		jq.Status = fleet.JobStatus(s)
		if !jq.Status.Valid() {
			return badRequest("Parameter status must be one of queued, printing, cooling, completed, failed, cancelled.")
		}
	}
	var err error
	if jq.From, err = timeParam(q, "from"); err != nil {
		return err
	}
	if jq.To, err = timeParam(q, "to"); err != nil {
		return err
	}
	if jq.Offset, err = intParam(q, "offset", 0, 0, fleetquery.MaxOffset); err != nil {
		return err
	}
	if jq.Limit, err = intParam(q, "limit", fleetquery.DefaultLimit, 1, fleetquery.MaxLimit); err != nil {
		return err
	}
	out, err := h.jobs.JobHistory(r.Context(), p.Org, jq)
	if err != nil {
		return err
	}
	h.encode(w, http.StatusOK, nonNil(out))
	return nil
}

// jobJSON is a job with its printer and parts.
type jobJSON struct {
	PrinterID fleet.PrinterID `json:"printer_id"`
	fleet.Job
	Parts []fleet.Part `json:"parts"`
}

// printerJob is one job of a printer, with its parts.
func (h *jobAPI) printerJob(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	det, err := visiblePrinter(r, h.printers, p)
	if err != nil {
		return err
	}
	ctx := r.Context()
	j, err := h.jobs.Job(ctx, p.Org, det.View.ID, r.PathValue("job"))
	if err != nil {
		return err
	}
	parts, err := h.jobs.JobParts(ctx, p.Org, det.View.ID, j.ID)
	if err != nil {
		return err
	}
	h.encode(w, http.StatusOK, jobJSON{PrinterID: det.View.ID, Job: j, Parts: nonNil(parts)})
	return nil
}

// jobLayers is the layers of one job of a printer, by index.
func (h *jobAPI) jobLayers(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	det, err := visiblePrinter(r, h.printers, p)
	if err != nil {
		return err
	}
	ctx := r.Context()
	j, err := h.jobs.Job(ctx, p.Org, det.View.ID, r.PathValue("job"))
	if err != nil {
		return err
	}
	layers, err := h.jobs.JobLayers(ctx, p.Org, det.View.ID, j.ID)
	if err != nil {
		return err
	}
	h.encode(w, http.StatusOK, nonNil(layers))
	return nil
}

// nonNil makes an empty list encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
