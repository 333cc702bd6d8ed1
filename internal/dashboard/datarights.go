package dashboard

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/audit"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/orgexport"
)

// OrgDeletion removes an organisation with all its data and records the
// deletion in the operator's audit log (see store.DB.DeleteOrg).
type OrgDeletion interface {
	Org(ctx context.Context, id fleet.OrgID) (access.Org, error)
	DeleteOrg(ctx context.Context, org fleet.OrgID, e audit.Event) (map[string]int64, error)
}

// dataPages are the organisation's audit log and its data rights
// (R-SEC-7, R-PRIV-5): the log to view, filter, page through and export;
// the export of all its data; its deletion.
type dataPages struct {
	*handler
	audit  audit.Reader
	export orgexport.Source
	orgs   OrgDeletion
}

// auditPageSize is how many entries a page of the audit log shows.
const auditPageSize = 50

// auditActions are the actions the filter offers; the log may hold
// others, which a filter by the actor or time still finds.
var auditActions = []string{audit.ActionLogin, audit.ActionLoginFailed, audit.ActionAdmin, audit.ActionGrantAccess,
	"grant.", "diagnostic.", "plan.set", "export"}

// auditForm is the audit page's filter as the reader gave it.
type auditForm struct {
	From, To, Action, Actor string
	Before                  int64
}

// parseAuditForm reads the filter from q; dates are days in zone, the
// last one included.
func parseAuditForm(q url.Values, zone *time.Location) (auditForm, audit.Filter, error) {
	fm := auditForm{From: q.Get("from"), To: q.Get("to"), Action: q.Get("action"), Actor: strings.TrimSpace(q.Get("actor"))}
	var f audit.Filter
	if fm.From != "" {
		d, err := time.ParseInLocation(dateLayout, fm.From, zone)
		if err != nil {
			return fm, f, errBadForm("The dates must look like 2026-03-01.")
		}
		f.From = d
	}
	if fm.To != "" {
		d, err := time.ParseInLocation(dateLayout, fm.To, zone)
		if err != nil {
			return fm, f, errBadForm("The dates must look like 2026-03-01.")
		}
		f.To = d.AddDate(0, 0, 1)
	}
	if len(fm.Action) > 64 || len(fm.Actor) > 128 {
		return fm, f, errBadForm("The filter is too long.")
	}
	f.Action, f.Actor = fm.Action, fm.Actor
	if b := q.Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 1 {
			return fm, f, errBadForm("No such page.")
		}
		fm.Before, f.Before = n, n
	}
	return fm, f, nil
}

// errBadForm is a filter the reader must correct: 400 with its message.
type errBadForm string

func (e errBadForm) Error() string { return string(e) }

// query is the filter as URL parameters, without the page.
func (fm auditForm) query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"from": fm.From, "to": fm.To, "action": fm.Action, "actor": fm.Actor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// auditData fills audit.html.
type auditData struct {
	Form     auditForm
	Actions  []string
	Entries  []audit.Entry
	NextURL  string
	FirstURL string
	CSVURL   string
	JSONURL  string
	Head     audit.Head
	Problems []audit.Problem
	Message  string
}

func (h *dataPages) auditPage(w http.ResponseWriter, r *http.Request, s session) {
	_, zone := h.locale(r)
	fm, f, err := parseAuditForm(r.URL.Query(), zone)
	d := auditData{Form: fm, Actions: auditActions}
	if err != nil {
		var bad errBadForm
		errors.As(err, &bad)
		d.Message = string(bad)
		h.render(w, r, http.StatusBadRequest, "audit.html", page{Title: "Audit log", User: &s.user, CSRF: s.csrf, Data: d})
		return
	}
	f.Limit = auditPageSize + 1
	err = h.audit.AuditEntries(r.Context(), s.p.Org, f, func(x audit.Entry) error { d.Entries = append(d.Entries, x); return nil })
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	q := fm.query()
	if len(d.Entries) > auditPageSize {
		d.Entries = d.Entries[:auditPageSize]
		next := fm.query()
		next.Set("before", strconv.FormatInt(d.Entries[auditPageSize-1].Seq, 10))
		d.NextURL = "/admin/audit?" + next.Encode()
	}
	if fm.Before > 0 {
		d.FirstURL = "/admin/audit?" + q.Encode()
	}
	q.Set("format", string(audit.CSV))
	d.CSVURL = "/admin/audit/export?" + q.Encode()
	q.Set("format", string(audit.JSONLines))
	d.JSONURL = "/admin/audit/export?" + q.Encode()
	if d.Head, d.Problems, err = h.audit.VerifyAudit(r.Context(), s.p.Org, nil); err != nil {
		h.internalError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "audit.html", page{Title: "Audit log", User: &s.user, CSRF: s.csrf, Data: d})
}

// auditExport streams the entries the filter selects, all pages, as CSV
// or JSON lines.
func (h *dataPages) auditExport(w http.ResponseWriter, r *http.Request, s session) {
	_, zone := h.locale(r)
	q := r.URL.Query()
	q.Del("before")
	_, f, err := parseAuditForm(q, zone)
	var bad errBadForm
	if errors.As(err, &bad) {
		h.writeError(w, r, http.StatusBadRequest, string(bad))
		return
	}
	format, err := audit.ParseFormat(q.Get("format"))
	if err != nil {
		h.writeError(w, r, http.StatusBadRequest, "The format must be csv or jsonl.")
		return
	}
	if err := streamAudit(r.Context(), w, h.audit, s.p.Org, f, format, h.clock.Now()); err != nil {
		h.internalError(w, r, err)
	}
}

// streamAudit writes org's entries that f selects to w in format,
// newest first, as a download. Once the first entry is sent a failure
// can only cut the download short.
func streamAudit(ctx context.Context, w http.ResponseWriter, src audit.Reader, org fleet.OrgID, f audit.Filter, format audit.Format, now time.Time) error {
	hd := w.Header()
	hd.Set("Content-Type", format.ContentType())
	hd.Set("Content-Disposition", `attachment; filename="audit-`+now.UTC().Format(dateLayout)+`.`+string(format)+`"`)
	x, err := audit.NewExporter(w, format)
	if err != nil {
		return err
	}
	if err := src.AuditEntries(ctx, org, f, x.Write); err != nil {
		return err
	}
	return x.Flush()
}

// dataData fills data.html.
type dataData struct {
	OrgName   string
	Counts    []tableCount
	Total     int64
	CanExport bool
	Message   string
}

type tableCount struct {
	Table string
	Rows  int64
}

func (h *dataPages) dataPage(w http.ResponseWriter, r *http.Request, s session) {
	h.showData(w, r, s, http.StatusOK, "")
}

func (h *dataPages) showData(w http.ResponseWriter, r *http.Request, s session, status int, msg string) {
	org, err := h.orgs.Org(r.Context(), s.p.Org)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	counts, err := h.export.ExportCounts(r.Context(), s.p.Org)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	d := dataData{OrgName: org.Name, Message: msg, CanExport: s.p.Features.Has(access.FeatureExport)}
	for _, t := range exportOrder(counts) {
		d.Counts = append(d.Counts, tableCount{Table: t, Rows: counts[t]})
		d.Total += counts[t]
	}
	h.render(w, r, status, "data.html", page{Title: "Your data", User: &s.user, CSRF: s.csrf, Data: d})
}

// exportOrder lists the tables of counts by name.
func exportOrder(counts map[string]int64) []string {
	out := make([]string, 0, len(counts))
	for t := range counts {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// exportData streams all of the organisation's data as one JSON document
// with its manifest; the export itself is recorded in the audit log
// first.
func (h *dataPages) exportData(w http.ResponseWriter, r *http.Request, s session) {
	now := h.clock.Now()
	if err := h.handler.audit.Record(r.Context(), audit.Event{Time: h.authClock.Now(), Org: s.p.Org, ActorOrg: s.user.OrgID, Actor: s.user.ID,
		Name: s.user.Name, Action: "export", Detail: "all of the organisation's data"}); err != nil {
		h.internalError(w, r, err)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Content-Disposition", `attachment; filename="fusionfleet-export-`+now.UTC().Format(dateLayout)+`.json"`)
	if _, err := orgexport.Stream(r.Context(), w, h.export, s.p.Org, now); err != nil {
		h.internalError(w, r, err)
	}
}

// deleteOrg deletes the organisation once its name is typed to confirm.
// Its members' sessions go with it; the reader lands on the login page.
func (h *dataPages) deleteOrg(w http.ResponseWriter, r *http.Request, s session) {
	org, err := h.orgs.Org(r.Context(), s.p.Org)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	if strings.TrimSpace(r.PostFormValue("confirm")) != org.Name {
		h.showData(w, r, s, http.StatusBadRequest, "Type the organisation's name exactly to delete it.")
		return
	}
	removed, err := h.orgs.DeleteOrg(r.Context(), s.p.Org, audit.Event{Time: h.authClock.Now(), Actor: s.user.ID,
		Detail: "deleted by a customer administrator"})
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	h.log.Info("organisation deleted", "tables", len(removed))
	h.setCookie(w, h.sessionCookie(), "", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
