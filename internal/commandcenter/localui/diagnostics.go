package localui

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// The Diagnostics page and API: the remote diagnostics the cloud asked
// this site for (R-FEAT-7), each with its requester and state, a button to
// approve or refuse those that wait for the site, and the filtered result
// the site sent, as it left (R-PRIV-5).

// Diagnostics is the site's diagnostic requests and its decisions on them.
type Diagnostics interface {
	Diagnostics(ctx context.Context) ([]commandcenter.LocalDiagnostic, error)
	DecideDiagnostic(ctx context.Context, id fleet.DiagnosticID, approve bool, by, reason string, now time.Time) (commandcenter.LocalDiagnostic, error)
	DiagnosticResult(ctx context.Context, id fleet.DiagnosticID) ([]byte, error)
}

// errDiagnosticsOff: the handler was given no diagnostics source.
var errDiagnosticsOff = errors.New("remote diagnostics are not configured on this Command Center")

type diagnosticsData struct {
	layout
	Policy      commandcenter.DiagnosticPolicy
	Diagnostics []commandcenter.LocalDiagnostic
	Message     string
}

func (u *localUI) diagnosticsPage(w http.ResponseWriter, r *http.Request) error {
	l, err := u.newLayout(r, "Diagnostics", "diagnostics", true)
	if err != nil {
		return err
	}
	data := diagnosticsData{layout: l, Policy: u.opts.DiagnosticsPolicy, Message: r.URL.Query().Get("done")}
	if data.Policy == "" {
		data.Policy = commandcenter.DiagnosticsAsk
	}
	if u.src.Diagnostics != nil {
		if data.Diagnostics, err = u.src.Diagnostics.Diagnostics(r.Context()); err != nil {
			return err
		}
	}
	return u.render(w, "diagnostics", data)
}

func (u *localUI) apiDiagnostics(w http.ResponseWriter, r *http.Request) error {
	if u.src.Diagnostics == nil {
		return errDiagnosticsOff
	}
	list, err := u.src.Diagnostics.Diagnostics(r.Context())
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, append([]commandcenter.LocalDiagnostic{}, list...))
	return nil
}

// decision answers POST /diagnostics/{id}/approve and …/refuse. A second
// click, or a replayed form, changes nothing: the request runs once.
func (u *localUI) decision(approve bool) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if u.src.Diagnostics == nil {
			return errDiagnosticsOff
		}
		id := fleet.DiagnosticID(r.PathValue("id"))
		if !id.Valid() {
			return badRequestf("malformed diagnostic ID %q", id)
		}
		if err := r.ParseForm(); err != nil {
			return badRequestf("bad form: %v", err)
		}
		reason := r.PostForm.Get("reason")
		if len(reason) > 200 {
			return badRequestf("reason: at most 200 bytes")
		}
		_, err := u.src.Diagnostics.DecideDiagnostic(r.Context(), id, approve, "local UI", reason, u.opts.Clock.Now())
		if errors.Is(err, commandcenter.ErrDecided) {
			return badRequestf("%v", err)
		}
		if err != nil {
			return err
		}
		u.log.Info("diagnostic decided", "diagnostic", id, "approved", approve)
		http.Redirect(w, r, "/diagnostics?done="+map[bool]string{true: "approved", false: "refused"}[approve], http.StatusSeeOther)
		return nil
	}
}

// diagnosticResult serves the result the site sent for a request.
func (u *localUI) diagnosticResult(w http.ResponseWriter, r *http.Request) error {
	if u.src.Diagnostics == nil {
		return errDiagnosticsOff
	}
	id := fleet.DiagnosticID(r.PathValue("id"))
	b, err := u.src.Diagnostics.DiagnosticResult(r.Context(), id)
	if err != nil {
		return err
	}
	if b == nil {
		return fleet.ErrNotFound
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Disposition", `attachment; filename="`+string(id)+`.jsonl"`)
	_, err = w.Write(b)
	return err
}
