// Package diagnostics is the cloud's desk of remote diagnostics (R-FEAT-7)
// as people use it, through the dashboard and the REST API alike: asking
// for a printer's logs, a snapshot or a self-test, following the request
// and reading its result. It decides, once for both, which printers a
// principal may ask about, what a request may ask for, and that every
// request, cancellation and download is audited first: an action the audit
// log cannot record is not taken.
package diagnostics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/audit"
	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
)

// Store keeps the requests (the cloud store is one).
type Store interface {
	CreateDiagnostic(ctx context.Context, d fleet.Diagnostic) (fleet.Diagnostic, error)
	Diagnostic(ctx context.Context, org fleet.OrgID, id fleet.DiagnosticID) (fleet.Diagnostic, error)
	Diagnostics(ctx context.Context, org fleet.OrgID, p fleet.PrinterID) ([]fleet.Diagnostic, error)
	CancelDiagnostic(ctx context.Context, org fleet.OrgID, id fleet.DiagnosticID, now time.Time) (fleet.Diagnostic, error)
	DiagnosticResult(ctx context.Context, org fleet.OrgID, id fleet.DiagnosticID, w io.Writer) error
}

// DefaultMaxBytes is the result size a request gets when it names none.
const DefaultMaxBytes = 8 << 20

// Desk serves diagnostics to principals. Every field is required but
// Clock (nil → the real clock).
type Desk struct {
	Store    Store
	Printers fleetquery.PrinterReader
	Audit    audit.Recorder
	Clock    clock.Clock
}

// InputError is a request that cannot be taken as it is: its text says
// why, for the person who made it (a 400).
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// Input is what a person asks for.
type Input struct {
	Kind     fleet.DiagnosticKind `json:"kind"`
	Logs     []fleet.LogKind      `json:"logs,omitempty"`
	From     time.Time            `json:"from,omitzero"`
	To       time.Time            `json:"to,omitzero"`
	MaxBytes int64                `json:"max_bytes,omitempty"` // 0 → DefaultMaxBytes
}

func (d *Desk) now() time.Time {
	if d.Clock == nil {
		return time.Now()
	}
	return d.Clock.Now()
}

// printer returns printer id of p's organisation if p may see it; one at
// a site p may not see is fleet.ErrNotFound, as an unknown one.
func (d *Desk) printer(ctx context.Context, p access.Principal, id fleet.PrinterID) (fleet.PrinterView, error) {
	ps, err := d.Printers.Printers(ctx, p.Org)
	if err != nil {
		return fleet.PrinterView{}, err
	}
	for _, v := range p.FilterPrinters(ps) {
		if v.ID == id {
			return v, nil
		}
	}
	return fleet.PrinterView{}, fmt.Errorf("printer %s: %w", id, fleet.ErrNotFound)
}

// event returns the audit event of p acting on target.
func (d *Desk) event(p access.Principal, action, target, detail string) audit.Event {
	e := audit.Event{Time: d.now(), Org: p.Org, ActorOrg: p.User.OrgID, Actor: p.User.ID, Name: p.User.Name,
		Action: action, Target: target, Detail: detail}
	if p.Grant != nil {
		e.Grant = p.Grant.ID
	}
	return e
}

// Request asks for a diagnostic of printer id on behalf of p. A printer p
// may not see is fleet.ErrNotFound; a request beyond the bounds an
// *InputError; an audit record that cannot be written fails the request
// before anything is stored. A request refused to someone acting under
// a grant is audited too ("diagnostic.refused", with the reason): a
// service provider probing the customer's printers leaves a trace in the
// customer's log.
func (d *Desk) Request(ctx context.Context, p access.Principal, id fleet.PrinterID, in Input) (fleet.Diagnostic, error) {
	dg, err := d.request(ctx, p, id, in)
	var ie *InputError
	if p.Grant != nil && (errors.Is(err, fleet.ErrNotFound) || errors.As(err, &ie)) {
		if aerr := d.Audit.Record(ctx, d.event(p, "diagnostic.refused", string(id), err.Error())); aerr != nil {
			return fleet.Diagnostic{}, fmt.Errorf("%w (and audit: %v)", err, aerr)
		}
	}
	return dg, err
}

func (d *Desk) request(ctx context.Context, p access.Principal, id fleet.PrinterID, in Input) (fleet.Diagnostic, error) {
	pv, err := d.printer(ctx, p, id)
	if err != nil {
		return fleet.Diagnostic{}, err
	}
	did, err := fleet.NewDiagnosticID()
	if err != nil {
		return fleet.Diagnostic{}, err
	}
	if in.MaxBytes == 0 {
		in.MaxBytes = DefaultMaxBytes
	}
	now := d.now()
	dg := fleet.Diagnostic{
		DiagnosticRequest: fleet.DiagnosticRequest{ID: did, PrinterID: pv.ID, Kind: in.Kind, Logs: in.Logs,
			From: in.From, To: in.To, MaxBytes: in.MaxBytes, Requester: requester(p), Created: now, Expires: now.Add(fleet.DiagnosticTTL)},
		Org: p.Org, Site: pv.SiteID, Printer: pv.ID, RequestedBy: p.User.ID, RequesterOrg: p.User.OrgID,
	}
	if p.Grant != nil {
		dg.Grant = p.Grant.ID
	}
	if err := dg.DiagnosticRequest.Validate(); err != nil {
		return fleet.Diagnostic{}, &InputError{Msg: err.Error()}
	}
	detail := string(in.Kind)
	if in.Kind == fleet.DiagnosticLogs {
		detail = fmt.Sprintf("logs %v from %s to %s", in.Logs, in.From.UTC().Format(time.RFC3339), in.To.UTC().Format(time.RFC3339))
	}
	if err := d.Audit.Record(ctx, d.event(p, "diagnostic.request", string(did), fmt.Sprintf("printer %s: %s, at most %d bytes", pv.ID, detail, in.MaxBytes))); err != nil {
		return fleet.Diagnostic{}, fmt.Errorf("request diagnostic: audit: %w", err)
	}
	out, err := d.Store.CreateDiagnostic(ctx, dg)
	if errors.Is(err, fleet.ErrRejected) {
		return fleet.Diagnostic{}, &InputError{Msg: err.Error()}
	}
	return out, err
}

// requester names p for the site that decides on the request.
func requester(p access.Principal) string {
	if p.Grant != nil {
		return fmt.Sprintf("%s (service provider %s, grant %s)", p.User.Name, p.User.OrgID, p.Grant.ID)
	}
	return p.User.Name
}

// List returns the requests for printer id, newest first.
func (d *Desk) List(ctx context.Context, p access.Principal, id fleet.PrinterID) ([]fleet.Diagnostic, error) {
	if _, err := d.printer(ctx, p, id); err != nil {
		return nil, err
	}
	return d.Store.Diagnostics(ctx, p.Org, id)
}

// Get returns request id if p may see its printer's site.
func (d *Desk) Get(ctx context.Context, p access.Principal, id fleet.DiagnosticID) (fleet.Diagnostic, error) {
	if !id.Valid() {
		return fleet.Diagnostic{}, fmt.Errorf("diagnostic %q: %w", id, fleet.ErrNotFound)
	}
	dg, err := d.Store.Diagnostic(ctx, p.Org, id)
	if err != nil {
		return fleet.Diagnostic{}, err
	}
	if !p.Sites.Allows(dg.Site) {
		return fleet.Diagnostic{}, fmt.Errorf("diagnostic %s: %w", id, fleet.ErrNotFound)
	}
	return dg, nil
}

// Cancel withdraws request id before its site acted on it; later it is
// fleet.ErrConflict.
func (d *Desk) Cancel(ctx context.Context, p access.Principal, id fleet.DiagnosticID) (fleet.Diagnostic, error) {
	dg, err := d.Get(ctx, p, id)
	if err != nil {
		return fleet.Diagnostic{}, err
	}
	if !dg.State.CanMove(fleet.DiagCancelled) {
		return fleet.Diagnostic{}, fmt.Errorf("diagnostic %s is %s: %w", id, dg.State, fleet.ErrConflict)
	}
	if err := d.Audit.Record(ctx, d.event(p, "diagnostic.cancel", string(id), "printer "+string(dg.Printer))); err != nil {
		return fleet.Diagnostic{}, fmt.Errorf("cancel diagnostic: audit: %w", err)
	}
	return d.Store.CancelDiagnostic(ctx, p.Org, id, d.now())
}

// Result returns a done request, audits that p reads its result, and
// returns a function that writes the result; a request not done is
// fleet.ErrConflict.
func (d *Desk) Result(ctx context.Context, p access.Principal, id fleet.DiagnosticID) (fleet.Diagnostic, func(io.Writer) error, error) {
	dg, err := d.Get(ctx, p, id)
	if err != nil {
		return fleet.Diagnostic{}, nil, err
	}
	if dg.State != fleet.DiagDone {
		return fleet.Diagnostic{}, nil, fmt.Errorf("diagnostic %s is %s: %w", id, dg.State, fleet.ErrConflict)
	}
	if err := d.Audit.Record(ctx, d.event(p, "diagnostic.download", string(id), fmt.Sprintf("printer %s: %d bytes", dg.Printer, dg.Size))); err != nil {
		return fleet.Diagnostic{}, nil, fmt.Errorf("diagnostic result: audit: %w", err)
	}
	return dg, func(w io.Writer) error { return d.Store.DiagnosticResult(ctx, p.Org, id, w) }, nil
}
