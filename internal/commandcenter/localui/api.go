package localui

import (
	"context"
	"math"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/outbox"
)

// The JSON API under /api/: the same data as the pages, described by
// openapi.json.

// Query parameters of the list routes.

func queryInt(r *http.Request, name string, def, lo, hi int64) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, badRequestf("query parameter %s=%q: want an integer in %d–%d", name, s, lo, hi)
	}
	return n, nil
}

func queryTime(r *http.Request, name string, def time.Time) (time.Time, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, badRequestf("query parameter %s=%q: want an RFC 3339 time", name, s)
	}
	return t, nil
}

// listQuery reads ?printer= (a local printer ID, 0 or absent for all) and
// ?limit=.
func listQuery(r *http.Request) (printer int64, limit int, err error) {
	if printer, err = queryInt(r, "printer", 0, 0, math.MaxInt64); err != nil {
		return 0, 0, err
	}
	l, err := queryInt(r, "limit", defaultListLimit, 1, maxListLimit)
	return printer, int(l), err
}

// Snapshot is the answer of GET /api/printers.
type Snapshot struct {
	Printers []commandcenter.Printer   `json:"printers"`
	Pending  int                       `json:"outbox_pending"`
	Uplink   commandcenter.UplinkState `json:"uplink"`
	// Fingerprint is this Command Center's client certificate fingerprint,
	// to confirm at each printer when pairing it.
	Fingerprint deviceapi.Fingerprint `json:"fingerprint,omitempty"`
}

func snapshot(ctx context.Context, src Sources) (Snapshot, error) {
	var s Snapshot
	var err error
	if s.Printers, err = src.Printers.Printers(ctx); err != nil {
		return Snapshot{}, err
	}
	if s.Pending, err = src.Queue.PendingCount(ctx); err != nil {
		return Snapshot{}, err
	}
	if s.Uplink, err = src.Uplink.UplinkState(ctx); err != nil {
		return Snapshot{}, err
	}
	return s, nil
}

func (u *localUI) apiPrinters(w http.ResponseWriter, r *http.Request) error {
	snap, err := snapshot(r.Context(), u.src)
	if err != nil {
		return err
	}
	if snap.Printers == nil {
		snap.Printers = []commandcenter.Printer{}
	}
	snap.Fingerprint = u.opts.Fingerprint
	encode(w, http.StatusOK, snap)
	return nil
}

// list answers a list, [] rather than null when empty.
func list[T any](w http.ResponseWriter, items []T) {
	if items == nil {
		items = []T{}
	}
	encode(w, http.StatusOK, items)
}

func (u *localUI) apiJobs(w http.ResponseWriter, r *http.Request) error {
	printer, limit, err := listQuery(r)
	if err != nil {
		return err
	}
	jobs, err := u.src.Printers.Jobs(r.Context(), printer, limit)
	if err != nil {
		return err
	}
	list(w, jobs)
	return nil
}

func (u *localUI) apiEvents(w http.ResponseWriter, r *http.Request) error {
	printer, limit, err := listQuery(r)
	if err != nil {
		return err
	}
	evs, err := u.src.Printers.Events(r.Context(), printer, limit)
	if err != nil {
		return err
	}
	list(w, evs)
	return nil
}

// alerts returns up to limit events of severity warning or worse, newest
// first, among the newest maxListLimit events.
func (u *localUI) alerts(ctx context.Context, printer int64, limit int) ([]commandcenter.LocalEvent, error) {
	evs, err := u.src.Printers.Events(ctx, printer, maxListLimit)
	if err != nil {
		return nil, err
	}
	var out []commandcenter.LocalEvent
	for _, e := range evs {
		if e.Event.Severity >= fleet.SeverityWarning {
			out = append(out, e)
			if len(out) == limit {
				break
			}
		}
	}
	return out, nil
}

func (u *localUI) apiAlerts(w http.ResponseWriter, r *http.Request) error {
	printer, limit, err := listQuery(r)
	if err != nil {
		return err
	}
	as, err := u.alerts(r.Context(), printer, limit)
	if err != nil {
		return err
	}
	list(w, as)
	return nil
}

func (u *localUI) apiGaps(w http.ResponseWriter, r *http.Request) error {
	printer, limit, err := listQuery(r)
	if err != nil {
		return err
	}
	gs, err := u.src.Printers.Gaps(r.Context(), printer, limit)
	if err != nil {
		return err
	}
	list(w, gs)
	return nil
}

func (u *localUI) apiConsumables(w http.ResponseWriter, r *http.Request) error {
	printer, err := queryInt(r, "printer", 0, 1, math.MaxInt64)
	if err != nil {
		return err
	}
	if printer == 0 {
		return badRequestf("query parameter printer is required")
	}
	now := u.opts.Clock.Now()
	from, err := queryTime(r, "from", now.Add(-consumablesWindow))
	if err != nil {
		return err
	}
	to, err := queryTime(r, "to", now.Add(time.Second))
	if err != nil {
		return err
	}
	if !from.Before(to) {
		return badRequestf("from must be before to")
	}
	ss, err := u.src.Printers.ConsumablesHistory(r.Context(), printer, from, to)
	if err != nil {
		return err
	}
	list(w, ss)
	return nil
}

// Drain is the progress of the outbox's drain after a backlog built up:
// Sent of Backlog records are gone since the largest depth this process
// saw.
type Drain struct {
	Backlog  int     `json:"backlog"`
	Sent     int     `json:"sent"`
	Progress float64 `json:"progress"` // 0..1
}

// OutboxView is the answer of GET /api/outbox.
type OutboxView struct {
	outbox.State
	Draining   *Drain                    `json:"draining,omitempty"`
	Bandwidth  commandcenter.Bandwidth   `json:"bandwidth"`
	Uplink     commandcenter.UplinkState `json:"uplink"`
	Quarantine []outbox.Quarantine       `json:"quarantine"`
	Drops      []outbox.Drop             `json:"drops"`
}

// drainMin is the depth from which a shrinking outbox counts as draining.
const drainMin = 100

// drain tracks the outbox's depth: a backlog of at least drainMin
// records that shrinks is draining until it is empty.
func (u *localUI) drain(pending int) *Drain {
	u.drainMu.Lock()
	defer u.drainMu.Unlock()
	if pending == 0 {
		u.drainPeak = 0
	}
	u.drainPeak = max(u.drainPeak, pending)
	if u.drainPeak < drainMin || pending == u.drainPeak {
		return nil
	}
	d := &Drain{Backlog: u.drainPeak, Sent: u.drainPeak - pending}
	d.Progress = float64(d.Sent) / float64(d.Backlog)
	return d
}

func (u *localUI) outbox(ctx context.Context) (OutboxView, error) {
	var v OutboxView
	var err error
	if v.State, err = u.src.Queue.State(ctx); err != nil {
		return OutboxView{}, err
	}
	v.Draining = u.drain(v.Pending)
	if v.Bandwidth, err = u.src.Uplink.Bandwidth(ctx, u.opts.Clock.Now()); err != nil {
		return OutboxView{}, err
	}
	if v.Uplink, err = u.src.Uplink.UplinkState(ctx); err != nil {
		return OutboxView{}, err
	}
	if v.Quarantine, err = u.src.Queue.Quarantined(ctx); err != nil {
		return OutboxView{}, err
	}
	if v.Drops, err = u.src.Queue.Drops(ctx, defaultListLimit); err != nil {
		return OutboxView{}, err
	}
	if v.Quarantine == nil {
		v.Quarantine = []outbox.Quarantine{}
	}
	if v.Drops == nil {
		v.Drops = []outbox.Drop{}
	}
	return v, nil
}

func (u *localUI) apiOutbox(w http.ResponseWriter, r *http.Request) error {
	v, err := u.outbox(r.Context())
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, v)
	return nil
}

func (u *localUI) apiUploads(w http.ResponseWriter, r *http.Request) error {
	l, err := queryInt(r, "limit", defaultListLimit, 1, maxListLimit)
	if err != nil {
		return err
	}
	es, err := u.src.Uplink.Uploads(r.Context(), int(l))
	if err != nil {
		return err
	}
	list(w, es)
	return nil
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, badRequestf("upload id %q: want a positive integer", r.PathValue("id"))
	}
	return id, nil
}

func (u *localUI) apiUpload(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	d, err := u.src.Uplink.Upload(r.Context(), id)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, d)
	return nil
}

// selfTest runs the self-test, or returns the report of one that ran less
// than selfTestCache ago: a page view must not hammer the cloud.
func (u *localUI) selfTest(r *http.Request) (commandcenter.Report, error) {
	if u.opts.SelfTest == nil {
		return commandcenter.Report{}, errSelfTestOff
	}
	u.selfMu.Lock()
	defer u.selfMu.Unlock()
	now := u.opts.Clock.Now()
	if !u.selfLast.At.IsZero() && now.Sub(u.selfLast.At) < selfTestCache && now.Sub(u.selfLast.At) >= 0 {
		return u.selfLast, nil
	}
	ctx := r.Context()
	cfg := *u.opts.SelfTest
	if cfg.Clock == nil {
		cfg.Clock = u.opts.Clock
	}
	ps, err := u.src.Printers.Printers(ctx)
	if err != nil {
		return commandcenter.Report{}, err
	}
	cfg.Printers = commandcenter.CheckTargets(ps)
	up, err := u.src.Uplink.UplinkState(ctx)
	if err != nil {
		return commandcenter.Report{}, err
	}
	cfg.Uplink = &up
	if cfg.StaleAfter == 0 {
		cfg.StaleAfter = u.opts.StaleAfter
	}
	if addr, ok := ctx.Value(http.LocalAddrContextKey).(net.Addr); ok && cfg.LocalUI == "" {
		cfg.LocalUI = addr.String()
	}
	u.selfLast = commandcenter.SelfTest(ctx, cfg)
	return u.selfLast, nil
}

func (u *localUI) apiSelfTest(w http.ResponseWriter, r *http.Request) error {
	rep, err := u.selfTest(r)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, rep)
	return nil
}
