package restapi

import (
	"errors"
	"net/http"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/diagnostics"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// Remote diagnostics (R-FEAT-7). Asking for one, or withdrawing it, needs
// an operator and, under a customer's grant, the diagnostics scope;
// following requests and reading results needs the logs scope.
var (
	diagRequest = access.Requirement{Role: fleet.RoleOperator, Write: true, Grant: access.GrantDiagnostics}
	diagRead    = access.Requirement{Role: fleet.RoleViewer, Grant: access.GrantLogs}
)

// diagnosticAPI serves the diagnostics routes; desk is nil when the
// cloud has no diagnostics store, and every route is then 404.
type diagnosticAPI struct {
	*handler
	desk *diagnostics.Desk
}

// diagError turns the desk's input errors into the caller's 400.
func diagError(err error) error {
	if ie, ok := errors.AsType[*diagnostics.InputError](err); ok {
		return badRequest("The diagnostic request is not possible: " + ie.Msg)
	}
	return err
}

func (h *diagnosticAPI) listDiagnostics(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	if h.desk == nil {
		return fleet.ErrNotFound
	}
	list, err := h.desk.List(r.Context(), p, fleet.PrinterID(r.PathValue("id")))
	if err != nil {
		return err
	}
	h.encode(w, http.StatusOK, append([]fleet.Diagnostic{}, list...))
	return nil
}

func (h *diagnosticAPI) requestDiagnostic(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	if h.desk == nil {
		return fleet.ErrNotFound
	}
	var in diagnostics.Input
	if err := decode(r.Body, &in); err != nil {
		return err
	}
	dg, err := h.desk.Request(r.Context(), p, fleet.PrinterID(r.PathValue("id")), in)
	if err != nil {
		return diagError(err)
	}
	h.encode(w, http.StatusCreated, dg)
	return nil
}

func (h *diagnosticAPI) diagnostic(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	if h.desk == nil {
		return fleet.ErrNotFound
	}
	dg, err := h.desk.Get(r.Context(), p, fleet.DiagnosticID(r.PathValue("id")))
	if err != nil {
		return err
	}
	h.encode(w, http.StatusOK, dg)
	return nil
}

func (h *diagnosticAPI) cancelDiagnostic(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	if h.desk == nil {
		return fleet.ErrNotFound
	}
	dg, err := h.desk.Cancel(r.Context(), p, fleet.DiagnosticID(r.PathValue("id")))
	if err != nil {
		return err
	}
	h.encode(w, http.StatusOK, dg)
	return nil
}

// diagnosticResult streams a done request's result: JSON lines, as the
// site wrote them after its privacy filter.
func (h *diagnosticAPI) diagnosticResult(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	if h.desk == nil {
		return fleet.ErrNotFound
	}
	dg, write, err := h.desk.Result(r.Context(), p, fleet.DiagnosticID(r.PathValue("id")))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Disposition", `attachment; filename="`+string(dg.ID)+`.jsonl"`)
	w.Header().Set("X-Content-SHA256", dg.SHA256)
	w.WriteHeader(http.StatusOK)
	if err := write(w); err != nil {
		h.log.Warn("diagnostic result cut short", "diagnostic", dg.ID, "err", err) // the status is sent
	}
	return nil
}
