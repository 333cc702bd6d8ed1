package dashboard

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/diagnostics"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
)

// The Diagnostics page of a printer (R-FEAT-7): ask the printer's site for
// its logs over a window, a snapshot or a self-test; follow each request
// as the site approves, runs and uploads it; download the result. The
// requirements are the REST API's: an operator (under a grant, the
// diagnostics scope) asks, every member (under a grant, the logs scope)
// follows and downloads. The desk audits every request and download.

var (
	diagAsk  = access.Requirement{Role: fleet.RoleOperator, Write: true, Grant: access.GrantDiagnostics}
	diagRead = access.Requirement{Role: fleet.RoleViewer, Grant: access.GrantLogs}
)

// diagnosticPages serves the diagnostics pages; desk is nil when the
// cloud keeps no diagnostics, and the pages are then 404.
type diagnosticPages struct {
	*handler
	desk     *diagnostics.Desk
	printers fleetquery.PrinterReader
}

type diagnosticsData struct {
	Printer     fleet.PrinterID
	Name        string
	Diagnostics []fleet.Diagnostic
	Logs        []fleet.LogKind
	From, To    string // the form's default window, datetime-local in the reader's zone
	CanAsk      bool
	Message     string
}

func (h *diagnosticPages) diagnosticsPage(w http.ResponseWriter, r *http.Request, s session) {
	h.showDiagnostics(w, r, s, http.StatusOK, "")
}

func (h *diagnosticPages) showDiagnostics(w http.ResponseWriter, r *http.Request, s session, status int, msg string) {
	if h.desk == nil {
		h.writeError(w, r, http.StatusNotFound, "No such printer in your organisation.")
		return
	}
	id := fleet.PrinterID(r.PathValue("id"))
	list, err := h.desk.List(r.Context(), s.p, id)
	if isNotFound(err) {
		h.writeError(w, r, http.StatusNotFound, "No such printer in your organisation.")
		return
	}
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	_, zone := h.locale(r)
	if s.prefs.TimeZone != "" {
		if loc, err := time.LoadLocation(s.prefs.TimeZone); err == nil {
			zone = loc
		}
	}
	now := h.clock.Now().In(zone)
	d := diagnosticsData{Printer: id, Name: string(id), Diagnostics: list, Logs: fleet.LogKinds(), Message: msg,
		From: now.Add(-24 * time.Hour).Format("2006-01-02T15:04"), To: now.Format("2006-01-02T15:04"),
		CanAsk: access.Check(s.p, diagAsk, h.clock.Now()) == nil}
	h.render(w, r, status, "diagnostics.html", page{Title: "Diagnostics", User: &s.user, CSRF: s.csrf, Data: d})
}

// requestDiagnostic asks for a diagnostic from the form.
func (h *diagnosticPages) requestDiagnostic(w http.ResponseWriter, r *http.Request, s session) {
	again := func(status int, msg string) { h.showDiagnostics(w, r, s, status, msg) }
	if h.desk == nil {
		h.writeError(w, r, http.StatusNotFound, "No such printer in your organisation.")
		return
	}
	in := diagnostics.Input{Kind: fleet.DiagnosticKind(r.PostFormValue("kind"))}
	if in.Kind == fleet.DiagnosticLogs {
		for _, l := range r.PostForm["log"] {
			in.Logs = append(in.Logs, fleet.LogKind(l))
		}
		_, zone := h.locale(r)
		if s.prefs.TimeZone != "" {
			if loc, err := time.LoadLocation(s.prefs.TimeZone); err == nil {
				zone = loc
			}
		}
		var err1, err2 error
		in.From, err1 = time.ParseInLocation("2006-01-02T15:04", r.PostFormValue("from"), zone)
		in.To, err2 = time.ParseInLocation("2006-01-02T15:04", r.PostFormValue("to"), zone)
		if err1 != nil || err2 != nil {
			again(http.StatusBadRequest, "Please give the window as a start and an end time.")
			return
		}
	}
	if mb := r.PostFormValue("max_mib"); mb != "" {
		n, err := strconv.Atoi(mb)
		if err != nil || n < 1 || n > fleet.MaxDiagnosticBytes>>20 {
			again(http.StatusBadRequest, "Please give a size limit of 1 to 64 MiB.")
			return
		}
		in.MaxBytes = int64(n) << 20
	}
	_, err := h.desk.Request(r.Context(), s.p, fleet.PrinterID(r.PathValue("id")), in)
	if _, ok := errors.AsType[*diagnostics.InputError](err); ok {
		again(http.StatusBadRequest, "That diagnostic cannot be requested: choose at least one log and a window of at most 7 days.")
		return
	}
	if isNotFound(err) {
		h.writeError(w, r, http.StatusNotFound, "No such printer in your organisation.")
		return
	}
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	http.Redirect(w, r, "/printers/"+r.PathValue("id")+"/diagnostics", http.StatusSeeOther)
}

// diagnosticResult downloads a done diagnostic's result.
func (h *diagnosticPages) diagnosticResult(w http.ResponseWriter, r *http.Request, s session) {
	if h.desk == nil {
		h.writeError(w, r, http.StatusNotFound, "No such diagnostic.")
		return
	}
	dg, write, err := h.desk.Result(r.Context(), s.p, fleet.DiagnosticID(r.PathValue("id")))
	switch {
	case isNotFound(err):
		h.writeError(w, r, http.StatusNotFound, "No such diagnostic.")
		return
	case errors.Is(err, fleet.ErrConflict):
		h.writeError(w, r, http.StatusConflict, "The diagnostic has no result yet.")
		return
	case err != nil:
		h.internalError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Disposition", `attachment; filename="`+string(dg.ID)+`.jsonl"`)
	if err := write(w); err != nil {
		h.log.Warn("diagnostic result cut short", "diagnostic", dg.ID, "err", err)
	}
}
