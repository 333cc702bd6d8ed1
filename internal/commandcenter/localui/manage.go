package localui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/i18n"
)

// Managing the site's printers while the Command Center runs (the Manage
// printers page and its API): pair a printer after probing its
// certificate, discover printers on a subnet, rename, move, retire and
// re-activate a printer. The poller follows each change within a poll
// interval (commandcenter.Store). Each change is logged.

// PrinterAdmin changes the site's printers; *commandcenter.Store is one.
type PrinterAdmin interface {
	AddPrinter(ctx context.Context, address string, fp deviceapi.Fingerprint, now time.Time) (commandcenter.Printer, error)
	Printer(ctx context.Context, id int64) (commandcenter.Printer, error)
	RenamePrinter(ctx context.Context, id int64, name string) error
	MovePrinter(ctx context.Context, id int64, address string, presented deviceapi.Fingerprint, repin bool, now time.Time) error
	RetirePrinter(ctx context.Context, id int64, now time.Time) error
	ReactivatePrinter(ctx context.Context, id int64, now time.Time) error
	PendingPrinters(ctx context.Context) ([]commandcenter.PendingPrinter, error)
	SavePending(ctx context.Context, p commandcenter.PendingPrinter) error
	DropPending(ctx context.Context, address string) error
}

// Limits of a discovery from the local UI, which answers when it is done:
// at most maxUIDiscoverHosts connections (addresses times ports), at
// uiDiscoverRate a second, take a few seconds, well within the server's
// write timeout. Larger scans are for the
// command line (fusionfleet commandcenter discover).
const (
	maxUIDiscoverHosts = 1024
	uiDiscoverRate     = 200
	uiDiscoverTimeout  = 2 * time.Second
)

// Errors of printer management, mapped to statuses by writeError.
var errManageOff = errors.New("printer management is not configured on this Command Center")

// unreachableError: the printer at an address did not answer as a
// printer; 502 with the reason.
type unreachableError struct{ err error }

func (e *unreachableError) Error() string { return e.err.Error() }
func (e *unreachableError) Unwrap() error { return e.err }

// pinConflict: the printer presents another certificate than the one the
// operator confirmed or the one pinned; 409, naming what it presents.
type pinConflict struct {
	msg       string
	presented deviceapi.Fingerprint
}

func (e *pinConflict) Error() string { return e.msg }

func (u *localUI) admin() (PrinterAdmin, error) {
	if u.src.Admin == nil {
		return nil, errManageOff
	}
	return u.src.Admin, nil
}

// probe reads what the printer at address presents, checking the address
// first.
func (u *localUI) probe(ctx context.Context, address string) (commandcenter.Found, error) {
	address = strings.TrimSpace(address)
	if err := commandcenter.CheckPrinterAddress(address); err != nil {
		return commandcenter.Found{}, badRequestf("%v", err)
	}
	probe := u.opts.Probe
	if probe == nil {
		probe = func(ctx context.Context, addr string) (commandcenter.Found, error) {
			return commandcenter.ProbePrinter(ctx, addr, commandcenter.DefaultDiscoverTimeout)
		}
	}
	f, err := probe(ctx, address)
	if err != nil {
		return commandcenter.Found{}, &unreachableError{fmt.Errorf("printer at %s: %w", address, err)}
	}
	return f, nil
}

// pair pins the printer at address after the operator confirmed fp: the
// printer is probed again, and must still present fp.
func (u *localUI) pair(ctx context.Context, address string, fp deviceapi.Fingerprint) (commandcenter.Printer, error) {
	admin, err := u.admin()
	if err != nil {
		return commandcenter.Printer{}, err
	}
	confirmed, err := deviceapi.ParseFingerprint(string(fp))
	if err != nil {
		return commandcenter.Printer{}, badRequestf("fingerprint: %v", err)
	}
	f, err := u.probe(ctx, address)
	if err != nil {
		return commandcenter.Printer{}, err
	}
	if f.Fingerprint != confirmed {
		return commandcenter.Printer{}, &pinConflict{presented: f.Fingerprint,
			msg: fmt.Sprintf("the printer at %s now presents certificate %s, not the confirmed %s: nothing was pinned; check the printer's panel again", f.Address, f.Fingerprint, confirmed)}
	}
	p, err := admin.AddPrinter(ctx, f.Address, f.Fingerprint, u.opts.Clock.Now())
	if errors.Is(err, fleet.ErrConflict) {
		return commandcenter.Printer{}, fmt.Errorf("a printer at %s is paired already: %w", f.Address, fleet.ErrConflict)
	}
	if err != nil {
		return commandcenter.Printer{}, err
	}
	u.log.Info("printer paired", "printer", p.ID, "address", p.Address, "fingerprint", p.Fingerprint)
	return p, nil
}

// discover scans subnet on ports from the local UI and keeps the printers
// found that are not paired as pending pairings.
func (u *localUI) discover(ctx context.Context, subnet, ports string) ([]commandcenter.Found, error) {
	admin, err := u.admin()
	if err != nil {
		return nil, err
	}
	prefix, err := commandcenter.ParseSubnet(subnet)
	if err != nil {
		return nil, badRequestf("%v", err)
	}
	if n := prefix.Addr().BitLen() - prefix.Bits(); n > 10 {
		return nil, badRequestf("subnet %s: more than %d addresses; scan it with `fusionfleet commandcenter discover`", prefix, maxUIDiscoverHosts)
	}
	if strings.TrimSpace(ports) == "" {
		ports = strconv.Itoa(commandcenter.DefaultDiscoverPort)
	}
	portList, err := commandcenter.ParsePorts(ports)
	if err != nil {
		return nil, badRequestf("ports: %v", err)
	}
	if n := (1 << (prefix.Addr().BitLen() - prefix.Bits())) * len(portList); n > maxUIDiscoverHosts {
		return nil, badRequestf("subnet %s on %d ports: %d connections, at most %d here; scan it with `fusionfleet commandcenter discover`",
			prefix, len(portList), n, maxUIDiscoverHosts)
	}
	opts := commandcenter.DiscoverOptions{Ports: portList, Rate: uiDiscoverRate, Timeout: uiDiscoverTimeout}
	found, err := commandcenter.Discover(ctx, prefix, opts)
	if err != nil {
		return nil, err
	}
	now := u.opts.Clock.Now()
	for _, f := range found {
		id := f.Identity
		err := admin.SavePending(ctx, commandcenter.PendingPrinter{Address: f.Address, Fingerprint: f.Fingerprint, Identity: &id, FoundAt: now})
		if err != nil && !errors.Is(err, fleet.ErrConflict) { // paired already
			return nil, err
		}
	}
	u.log.Info("printers discovered", "subnet", prefix, "ports", ports, "found", len(found))
	if found == nil {
		found = []commandcenter.Found{}
	}
	return found, nil
}

// move gives printer id a new address; see commandcenter.Store.MovePrinter.
// confirmed is the new certificate the operator confirmed, if the printer
// presents another than the pinned one; "" when none was.
func (u *localUI) move(ctx context.Context, id int64, address string, confirmed deviceapi.Fingerprint) (commandcenter.Printer, error) {
	admin, err := u.admin()
	if err != nil {
		return commandcenter.Printer{}, err
	}
	p, err := admin.Printer(ctx, id)
	if err != nil {
		return commandcenter.Printer{}, err
	}
	if confirmed != "" {
		if confirmed, err = deviceapi.ParseFingerprint(string(confirmed)); err != nil {
			return commandcenter.Printer{}, badRequestf("fingerprint: %v", err)
		}
	}
	f, err := u.probe(ctx, address)
	if err != nil {
		return commandcenter.Printer{}, err
	}
	repin := f.Fingerprint != p.Fingerprint
	if repin && f.Fingerprint != confirmed {
		return commandcenter.Printer{}, &pinConflict{presented: f.Fingerprint,
			msg: fmt.Sprintf("the printer at %s presents certificate %s, not the pinned %s: if the printer's panel shows %s, confirm it; nothing was changed",
				f.Address, f.Fingerprint, p.Fingerprint, f.Fingerprint)}
	}
	if err := admin.MovePrinter(ctx, id, f.Address, f.Fingerprint, repin, u.opts.Clock.Now()); err != nil {
		return commandcenter.Printer{}, err
	}
	u.log.Info("printer moved", "printer", id, "from", p.Address, "to", f.Address, "repinned", repin)
	return admin.Printer(ctx, id)
}

// change runs one of the changes of a printer that need no probe.
func (u *localUI) change(ctx context.Context, id int64, action, name string) (commandcenter.Printer, error) {
	admin, err := u.admin()
	if err != nil {
		return commandcenter.Printer{}, err
	}
	now := u.opts.Clock.Now()
	switch action {
	case "rename":
		if err := commandcenter.CheckDisplayName(strings.TrimSpace(name)); err != nil {
			return commandcenter.Printer{}, badRequestf("%v", err)
		}
		err = admin.RenamePrinter(ctx, id, name)
	case "retire":
		err = admin.RetirePrinter(ctx, id, now)
	case "reactivate":
		err = admin.ReactivatePrinter(ctx, id, now)
	default:
		return commandcenter.Printer{}, fleet.ErrNotFound
	}
	if err != nil {
		return commandcenter.Printer{}, err
	}
	u.log.Info("printer "+action+"d", "printer", id, "name", strings.TrimSpace(name))
	return admin.Printer(ctx, id)
}

// printerID reads the printer ID of a route's path.
func printerID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, badRequestf("printer ID %q: want a positive integer", r.PathValue("id"))
	}
	return id, nil
}

// decodeBody decodes the JSON body of an API request into v.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequestf("request body: want a JSON object as documented: %v", err)
	}
	return nil
}

// The API routes.

func (u *localUI) apiPendingPrinters(w http.ResponseWriter, r *http.Request) error {
	admin, err := u.admin()
	if err != nil {
		return err
	}
	ps, err := admin.PendingPrinters(r.Context())
	if err != nil {
		return err
	}
	if ps == nil {
		ps = []commandcenter.PendingPrinter{}
	}
	encode(w, http.StatusOK, ps)
	return nil
}

func (u *localUI) apiProbe(w http.ResponseWriter, r *http.Request) error {
	if _, err := u.admin(); err != nil {
		return err
	}
	var req struct {
		Address string `json:"address"`
	}
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	f, err := u.probe(r.Context(), req.Address)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, f)
	return nil
}

func (u *localUI) apiPair(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Address     string                `json:"address"`
		Fingerprint deviceapi.Fingerprint `json:"fingerprint"`
	}
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	p, err := u.pair(r.Context(), req.Address, req.Fingerprint)
	if err != nil {
		return err
	}
	encode(w, http.StatusCreated, p)
	return nil
}

func (u *localUI) apiDiscover(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Subnet string `json:"subnet"`
		Ports  []int  `json:"ports"`
	}
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	ports := make([]string, len(req.Ports))
	for i, p := range req.Ports {
		ports[i] = strconv.Itoa(p)
	}
	found, err := u.discover(r.Context(), req.Subnet, strings.Join(ports, ","))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, found)
	return nil
}

func (u *localUI) apiDismiss(w http.ResponseWriter, r *http.Request) error {
	admin, err := u.admin()
	if err != nil {
		return err
	}
	var req struct {
		Address string `json:"address"`
	}
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if err := admin.DropPending(r.Context(), req.Address); err != nil {
		return err
	}
	u.log.Info("pending printer dismissed", "address", req.Address)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (u *localUI) apiMove(w http.ResponseWriter, r *http.Request) error {
	id, err := printerID(r)
	if err != nil {
		return err
	}
	var req struct {
		Address     string                `json:"address"`
		Fingerprint deviceapi.Fingerprint `json:"fingerprint"`
	}
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	p, err := u.move(r.Context(), id, req.Address, req.Fingerprint)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, p)
	return nil
}

// apiChange answers POST /api/printers/{id}/rename, …/retire and
// …/reactivate.
func (u *localUI) apiChange(action string) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := printerID(r)
		if err != nil {
			return err
		}
		var req struct {
			Name *string `json:"name"`
		}
		if action == "rename" {
			if err := decodeBody(r, &req); err != nil {
				return err
			}
			if req.Name == nil {
				return badRequestf("request body: want {\"name\": …}")
			}
		} else {
			req.Name = new(string)
		}
		p, err := u.change(r.Context(), id, action, *req.Name)
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, p)
		return nil
	}
}

// The Manage printers page and its forms.

type manageData struct {
	layout
	Printers []printerView
	Pending  []pendingView
	// Confirm asks the operator to confirm a fingerprint: of a printer
	// to pair, or of a moved printer presenting a new certificate.
	Confirm *confirmView
	Message string // what the last form did
	Error   string // why the last form changed nothing
	// Address, Subnet and Ports refill the forms after an error.
	Address, Subnet, Ports string
}

type pendingView struct {
	Address, Model, Serial, Name, Fingerprint, Found string
}

type confirmView struct {
	Action      string // the form's target
	Address     string
	Fingerprint string
	Model       string
	Serial      string
	Text        string
}

// managePage renders the page, with data's message, error or question.
func (u *localUI) managePage(w http.ResponseWriter, r *http.Request, data manageData) error {
	admin, err := u.admin()
	if err != nil {
		return err
	}
	l, err := u.newLayout(r, "Manage printers", "manage", false)
	if err != nil {
		return err
	}
	data.layout = l
	ps, err := u.src.Printers.Printers(r.Context())
	if err != nil {
		return err
	}
	for _, p := range ps {
		data.Printers = append(data.Printers, viewOf(l.Lang, p))
	}
	pend, err := admin.PendingPrinters(r.Context())
	if err != nil {
		return err
	}
	for _, p := range pend {
		v := pendingView{Address: p.Address, Fingerprint: string(p.Fingerprint), Found: l.Stamp(p.FoundAt), Model: "–", Serial: "–"}
		if id := p.Identity; id != nil {
			v.Model, v.Serial, v.Name = orDash(id.Model), orDash(id.SerialNumber), id.Name
		}
		data.Pending = append(data.Pending, v)
	}
	if data.Ports == "" {
		data.Ports = strconv.Itoa(commandcenter.DefaultDiscoverPort)
	}
	if data.Message == "" {
		data.Message = doneMessage(l.Lang, r.URL.Query())
	}
	// An error of a form is said on the page, answered 200 so that the
	// browser shows it with the forms to try again.
	return u.render(w, "manage", data)
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// doneMessage says what the form that redirected here did (?done=).
func doneMessage(lang i18n.Lang, q url.Values) string {
	switch q.Get("done") {
	case "paired":
		return lang.T("Printer paired: it is polled within a few seconds. Confirm this Command Center's fingerprint at the printer too.")
	case "discovered":
		n, _ := strconv.Atoi(q.Get("n"))
		return lang.T("Discovery found %d printers; those not paired yet are listed below to pair.", n)
	case "dismissed":
		return lang.T("Pending printer dismissed.")
	case "renamed":
		return lang.T("Printer renamed.")
	case "moved":
		return lang.T("Printer moved: it is polled at its new address, its history kept.")
	case "retired":
		return lang.T("Printer retired: it is no longer polled; its history is kept.")
	case "reactivated":
		return lang.T("Printer re-activated: it is polled again.")
	}
	return ""
}

func (u *localUI) manage(w http.ResponseWriter, r *http.Request) error {
	return u.managePage(w, r, manageData{})
}

// formError shows err on the page if the operator can act on it (a bad
// address, a printer not answering, a certificate other than confirmed, a
// conflict); other errors go to writeError.
func (u *localUI) formError(w http.ResponseWriter, r *http.Request, data manageData, err error) error {
	var bad *badRequest
	var unreachable *unreachableError
	var conflict *pinConflict
	switch {
	case errors.As(err, &bad), errors.As(err, &unreachable), errors.As(err, &conflict), errors.Is(err, fleet.ErrConflict):
		data.Error = err.Error()
		return u.managePage(w, r, data)
	}
	return err
}

func (u *localUI) formProbe(w http.ResponseWriter, r *http.Request) error {
	if _, err := u.admin(); err != nil {
		return err
	}
	address := strings.TrimSpace(r.PostFormValue("address"))
	f, err := u.probe(r.Context(), address)
	if err != nil {
		return u.formError(w, r, manageData{Address: address}, err)
	}
	lang := i18n.Negotiate(r.Header.Get("Accept-Language"))
	return u.managePage(w, r, manageData{Address: address, Confirm: &confirmView{Action: "/printers/pair", Address: f.Address,
		Fingerprint: string(f.Fingerprint), Model: orDash(f.Identity.Model), Serial: orDash(f.Identity.SerialNumber),
		Text: lang.T("The printer at %s presents this certificate. Compare its fingerprint with the printer's panel before you pin it.", f.Address)}})
}

func (u *localUI) formPair(w http.ResponseWriter, r *http.Request) error {
	address := strings.TrimSpace(r.PostFormValue("address"))
	if _, err := u.pair(r.Context(), address, deviceapi.Fingerprint(r.PostFormValue("fingerprint"))); err != nil {
		return u.formError(w, r, manageData{Address: address}, err)
	}
	http.Redirect(w, r, "/printers/manage?done=paired", http.StatusSeeOther)
	return nil
}

func (u *localUI) formDiscover(w http.ResponseWriter, r *http.Request) error {
	subnet, ports := strings.TrimSpace(r.PostFormValue("subnet")), strings.TrimSpace(r.PostFormValue("ports"))
	found, err := u.discover(r.Context(), subnet, ports)
	if err != nil {
		return u.formError(w, r, manageData{Subnet: subnet, Ports: ports}, err)
	}
	http.Redirect(w, r, "/printers/manage?done=discovered&n="+strconv.Itoa(len(found)), http.StatusSeeOther)
	return nil
}

func (u *localUI) formDismiss(w http.ResponseWriter, r *http.Request) error {
	admin, err := u.admin()
	if err != nil {
		return err
	}
	address := r.PostFormValue("address")
	if err := admin.DropPending(r.Context(), address); err != nil {
		return err
	}
	u.log.Info("pending printer dismissed", "address", address)
	http.Redirect(w, r, "/printers/manage?done=dismissed", http.StatusSeeOther)
	return nil
}

func (u *localUI) formMove(w http.ResponseWriter, r *http.Request) error {
	id, err := printerID(r)
	if err != nil {
		return err
	}
	address := strings.TrimSpace(r.PostFormValue("address"))
	_, err = u.move(r.Context(), id, address, deviceapi.Fingerprint(r.PostFormValue("fingerprint")))
	var conflict *pinConflict
	if errors.As(err, &conflict) {
		return u.managePage(w, r, manageData{Error: conflict.msg, Confirm: &confirmView{
			Action: fmt.Sprintf("/printers/%d/move", id), Address: address, Fingerprint: string(conflict.presented),
			Text: i18n.Negotiate(r.Header.Get("Accept-Language")).T(
				"The printer at %s presents a new certificate. Move it there and pin the new certificate only if the printer's panel shows this fingerprint.", address)}})
	}
	if err != nil {
		return u.formError(w, r, manageData{}, err)
	}
	http.Redirect(w, r, "/printers/manage?done=moved", http.StatusSeeOther)
	return nil
}

// formChange answers POST /printers/{id}/rename, …/retire and
// …/reactivate.
func (u *localUI) formChange(action string) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := printerID(r)
		if err != nil {
			return err
		}
		if _, err := u.change(r.Context(), id, action, r.PostFormValue("name")); err != nil {
			return u.formError(w, r, manageData{}, err)
		}
		done := map[string]string{"rename": "renamed", "retire": "retired", "reactivate": "reactivated"}[action]
		http.Redirect(w, r, "/printers/manage?done="+done+"#p"+strconv.FormatInt(id, 10), http.StatusSeeOther)
		return nil
	}
}
