package commandcenter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/privacy"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
)

// Remote diagnostics at the site (R-FEAT-7). The cloud never connects to
// the site (R-ARCH-3): its requests arrive in the answers to uploads (and
// to a check-in when the site has been quiet), the site decides on each
// (a person in the local UI, or its policy), runs it against the printer,
// passes the result through the privacy filter and uploads it in chunks
// within the uplink's bandwidth cap. Every state goes back to the cloud.
//
// Nothing is lost or sent twice by a crash or an outage: a request's state
// and result live in the store; the result is stored whole, with its
// chunks, in one transaction before the first chunk leaves; a chunk is
// marked sent only once the cloud acknowledged it, and a chunk sent again
// is stored once by the cloud. A state change is reported until the cloud
// acknowledges it, and the next step waits for that, so the cloud never
// gets chunks of a request it does not know to be approved.

// DiagnosticCloud is the cloud as the diagnostics runner uses it
// (uplink.Client with the gateway's credentials).
type DiagnosticCloud interface {
	CheckIn(ctx context.Context) ([]fleet.DiagnosticRequest, error)
	ReportDiagnostic(ctx context.Context, r fleet.DiagnosticReport) (uplink.DiagnosticAnswer, error)
	PutDiagnosticChunk(ctx context.Context, c fleet.DiagnosticChunkData) (uplink.DiagnosticAnswer, error)
}

// DiagnosticsOptions tunes a DiagnosticRunner. The zero value works.
type DiagnosticsOptions struct {
	Policy DiagnosticPolicy // "" → DiagnosticsAsk
	// Interval is how often the runner looks for work; 0 → 2 s.
	Interval time.Duration
	// CheckIn is how long the runner lets pass without hearing from the
	// cloud (an upload's answer) before it asks itself; 0 → 5 min. A busy
	// site hears at every upload: at least every heartbeat (a minute) and
	// the priority delay.
	CheckIn time.Duration
	// Timeout bounds the collection of one request from its printer;
	// 0 → 2 min.
	Timeout time.Duration
	// Budget is the uplink's bandwidth cap, shared with the uploader and
	// the mirror; nil → no cap.
	Budget *Budget
	Clock  clock.Clock  // nil → the real clock
	Logger *slog.Logger // nil → discard
}

// DiagnosticRunner runs the site's diagnostics. It is driven by one
// goroutine (Run, or a test calling Step); Receive may be called from
// another (the uploader's).
type DiagnosticRunner struct {
	st    *Store
	p     *Poller
	cloud DiagnosticCloud
	opts  DiagnosticsOptions
	log   *slog.Logger
	heard chan time.Time // when the cloud last answered an upload
	last  time.Time
}

// NewDiagnosticRunner returns the runner of the requests kept in st, which
// reaches printers through p and the cloud through cloud.
func NewDiagnosticRunner(st *Store, p *Poller, cloud DiagnosticCloud, opts DiagnosticsOptions) *DiagnosticRunner {
	if opts.Policy == "" {
		opts.Policy = DiagnosticsAsk
	}
	if opts.Interval <= 0 {
		opts.Interval = 2 * time.Second
	}
	if opts.CheckIn <= 0 {
		opts.CheckIn = 5 * time.Minute
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Minute
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &DiagnosticRunner{st: st, p: p, cloud: cloud, opts: opts, log: log.With("component", "diagnostics"), heard: make(chan time.Time, 1)}
}

// Policy is the site's policy.
func (d *DiagnosticRunner) Policy() DiagnosticPolicy { return d.opts.Policy }

// Receive keeps the requests an upload's answer carried. It is the
// uploader's UploaderOptions.OnAck.
func (d *DiagnosticRunner) Receive(ctx context.Context, reqs []fleet.DiagnosticRequest) error {
	now := d.opts.Clock.Now()
	select {
	case <-d.heard:
	default:
	}
	d.heard <- now
	if len(reqs) == 0 {
		return nil
	}
	n, err := d.st.ReceiveDiagnostics(ctx, reqs, d.opts.Policy, now)
	if n > 0 {
		d.log.Info("diagnostic requests received", "new", n, "policy", d.opts.Policy)
	}
	return err
}

// Run works until ctx is done, then returns nil.
func (d *DiagnosticRunner) Run(ctx context.Context) error {
	for {
		if err := d.Step(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("diagnostics", "err", err)
		}
		t := time.NewTimer(clock.Wall(d.opts.Clock, d.opts.Interval))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// Step checks in with the cloud when it has been quiet, then does what is
// due for every active request: report a state the cloud has not
// acknowledged, run an approved request, upload a chunk.
func (d *DiagnosticRunner) Step(ctx context.Context) error {
	now := d.opts.Clock.Now()
	select {
	case t := <-d.heard:
		d.last = t
	default:
	}
	var errs []error
	if d.last.IsZero() || now.Sub(d.last) >= d.opts.CheckIn {
		if d.spend(connOverheadResumed) {
			reqs, err := d.cloud.CheckIn(ctx)
			if err != nil {
				errs = append(errs, err)
			} else {
				d.last = now
				if _, err := d.st.ReceiveDiagnostics(ctx, reqs, d.opts.Policy, now); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	active, err := d.st.activeDiagnostics(ctx)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, dg := range active {
		if err := d.advance(ctx, dg); err != nil {
			errs = append(errs, fmt.Errorf("diagnostic %s: %w", dg.ID, err))
		}
	}
	return errors.Join(errs...)
}

// diagReserve is what diagnostics leave of the uplink's budget to the
// uploader's priority lane (alerts and status), as its bulk lane does.
const diagReserve = 16 << 10

// spend takes n bytes from the uplink's budget if it holds them and
// diagReserve more (or is full), so that a long upload of results never
// holds up alerts.
func (d *DiagnosticRunner) spend(n int) bool {
	b := d.opts.Budget
	if b == nil {
		return true
	}
	b.refill(d.opts.Clock.Now())
	if !b.has(float64(min(n+diagReserve, b.burst()))) {
		return false
	}
	b.take(float64(n))
	return true
}

// advance does the next thing for one request.
func (d *DiagnosticRunner) advance(ctx context.Context, dg LocalDiagnostic) error {
	if dg.State != dg.Reported {
		return d.report(ctx, dg)
	}
	switch dg.State {
	case fleet.DiagApproved:
		return d.st.setDiagnosticState(ctx, dg.ID, fleet.DiagApproved, fleet.DiagRunning, "", d.opts.Clock.Now())
	case fleet.DiagRunning:
		return d.run(ctx, dg)
	case fleet.DiagUploading:
		return d.upload(ctx, dg)
	}
	return nil
}

// report tells the cloud the request's state. A request the cloud ended
// meanwhile (cancelled, expired) ends at the site too; one the cloud does
// not know (any more) fails.
func (d *DiagnosticRunner) report(ctx context.Context, dg LocalDiagnostic) error {
	if !d.spend(connOverheadResumed) {
		return nil
	}
	rep := fleet.DiagnosticReport{ID: dg.ID, State: dg.State, Reason: truncate(dg.Reason, 500)}
	if dg.State == fleet.DiagUploading || dg.State == fleet.DiagDone {
		rep.Chunks = dg.Chunks
	}
	if dg.State == fleet.DiagDone {
		rep.Size, rep.SHA256 = dg.Size, dg.SHA256
	}
	ans, err := d.cloud.ReportDiagnostic(ctx, rep)
	if se, ok := errors.AsType[*uplink.StatusError](err); ok && se.Code == http.StatusNotFound {
		// The cloud does not know it: nothing it asked for can go.
		now := d.opts.Clock.Now()
		if e := d.st.setDiagnosticState(ctx, dg.ID, dg.State, fleet.DiagFailed, "unknown to the cloud", now); e != nil {
			return e
		}
		return d.st.markReported(ctx, dg.ID, fleet.DiagFailed)
	}
	if err != nil {
		return err
	}
	if ans.State != dg.State && ans.State.Final() && !dg.State.Final() {
		d.log.Info("diagnostic ended in the cloud", "diagnostic", dg.ID, "state", ans.State)
		if err := d.st.setDiagnosticState(ctx, dg.ID, dg.State, ans.State, ans.Reason, d.opts.Clock.Now()); err != nil {
			return err
		}
	}
	return d.st.markReported(ctx, dg.ID, ans.State)
}

// run collects the request from its printer and keeps the filtered
// result; a printer that cannot be reached, or that disappears during the
// collection, fails the request with the reason.
func (d *DiagnosticRunner) run(ctx context.Context, dg LocalDiagnostic) error {
	cctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	result, err := d.p.collectDiagnostic(cctx, dg.DiagnosticRequest)
	cancel()
	now := d.opts.Clock.Now()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err() // shutting down: runs again after the restart
		}
		d.log.Warn("diagnostic failed", "diagnostic", dg.ID, "printer", dg.PrinterID, "err", err)
		return d.st.setDiagnosticState(ctx, dg.ID, fleet.DiagRunning, fleet.DiagFailed, truncate(err.Error(), 500), now)
	}
	if len(result) == 0 {
		result = []byte("{}\n")
	}
	return d.st.saveDiagnosticResult(ctx, dg.ID, result, now)
}

// upload sends the next unsent chunk, within the budget, and moves the
// request to done once the cloud holds every chunk.
func (d *DiagnosticRunner) upload(ctx context.Context, dg LocalDiagnostic) error {
	for {
		c, ok, err := d.st.nextUnsentChunk(ctx, dg.ID)
		if err != nil {
			return err
		}
		if !ok {
			return d.st.setDiagnosticState(ctx, dg.ID, fleet.DiagUploading, fleet.DiagDone, "", d.opts.Clock.Now())
		}
		if !d.spend(wireBytes(len(c.Data)*4/3+200, true)) {
			return nil // the cap: the next step goes on
		}
		ans, err := d.cloud.PutDiagnosticChunk(ctx, c)
		if err != nil {
			if se, ok := errors.AsType[*uplink.StatusError](err); ok && se.Code == http.StatusConflict {
				// The cloud no longer takes chunks (cancelled, or failed
				// there): learn its state with the next report.
				return d.st.markReported(ctx, dg.ID, "")
			}
			return err
		}
		if err := d.st.markChunkSent(ctx, dg.ID, c.Index); err != nil {
			return err
		}
		if ans.State.Final() && ans.State != fleet.DiagDone {
			return d.st.markReported(ctx, dg.ID, "")
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// selfTester is a Device that runs self-tests (deviceapi.Client is one).
type selfTester interface {
	SelfTest(ctx context.Context) (deviceapi.SelfTest, error)
}

// diagLine is one line of a result: JSON, one object per line.
type diagLine struct {
	Log         *fleet.LogLine      `json:"log,omitempty"`
	Counters    *fleet.Counters     `json:"counters,omitempty"`
	Consumables *fleet.Consumables  `json:"consumables,omitempty"`
	SelfTest    *deviceapi.SelfTest `json:"selftest,omitempty"`
	Truncated   string              `json:"truncated,omitempty"`
}

// collectDiagnostic reads what req asks of its printer and returns it as
// JSON lines, each passed through the privacy allow-list and scrubbed of
// the site's private names and of file paths, cut at req.MaxBytes.
func (p *Poller) collectDiagnostic(ctx context.Context, req fleet.DiagnosticRequest) ([]byte, error) {
	prs, err := p.st.Printers(ctx)
	if err != nil {
		return nil, err
	}
	var pr Printer
	found := false
	for _, x := range prs {
		if x.Identity != nil && fleet.PrinterID(x.Identity.PrinterID) == req.PrinterID {
			pr, found = x, true
			break
		}
	}
	if !found {
		return nil, fmt.Errorf("printer %s is not known at this site", req.PrinterID)
	}
	if pr.State == CollectionCertificateChanged {
		return nil, fmt.Errorf("printer %s: %s", req.PrinterID, pr.LastError)
	}
	if err := p.loadNames(ctx); err != nil {
		return nil, err
	}
	st := p.state(pr.ID)
	st.mu.Lock()
	dev, _, err := p.device(ctx, st, pr)
	st.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("printer %s: %w", req.PrinterID, err)
	}
	var buf bytes.Buffer
	full := false
	add := func(l diagLine) {
		if full {
			return
		}
		b, err := json.Marshal(l)
		if err != nil {
			return
		}
		if int64(buf.Len()+len(b)+1) > req.MaxBytes-128 {
			full = true
			b, _ = json.Marshal(diagLine{Truncated: fmt.Sprintf("result cut at %d bytes, the request's limit", buf.Len())})
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	switch req.Kind {
	case fleet.DiagnosticLogs:
		for _, kind := range req.Logs {
			after := uint64(0)
			for !full {
				pg, err := dev.Logs(ctx, kind, after, logPageSize)
				if err != nil {
					return nil, fmt.Errorf("printer %s: log %s: %w", req.PrinterID, kind, err)
				}
				for _, l := range pg.Items {
					if l.Time.Before(req.From) || l.Time.After(req.To) {
						continue
					}
					line := privacy.LogLine(l)
					line.Text = p.names.ScrubString(line.Text)
					add(diagLine{Log: &line})
				}
				if len(pg.Items) == 0 || pg.Next <= after {
					break
				}
				after = pg.Next
			}
		}
	case fleet.DiagnosticSnapshot:
		c, err := dev.Counters(ctx)
		if err != nil {
			return nil, fmt.Errorf("printer %s: counters: %w", req.PrinterID, err)
		}
		cons, err := dev.Consumables(ctx)
		if err != nil {
			return nil, fmt.Errorf("printer %s: consumables: %w", req.PrinterID, err)
		}
		fc, fcons := privacy.Counters(c), privacy.Consumables(cons)
		rec := fleet.Record{Counters: &fc, Consumables: &fcons}
		p.names.Scrub(&rec)
		add(diagLine{Counters: rec.Counters})
		add(diagLine{Consumables: rec.Consumables})
	case fleet.DiagnosticSelfTest:
		t, ok := dev.(selfTester)
		if !ok {
			return nil, fmt.Errorf("printer %s offers no self-test", req.PrinterID)
		}
		res, err := t.SelfTest(ctx)
		if err != nil {
			return nil, fmt.Errorf("printer %s: self-test: %w", req.PrinterID, err)
		}
		for i := range res.Checks {
			c := &res.Checks[i]
			c.Subsystem, c.Component, c.Detail = p.names.ScrubString(c.Subsystem), p.names.ScrubString(c.Component), p.names.ScrubString(c.Detail)
		}
		add(diagLine{SelfTest: &res})
	default:
		return nil, fmt.Errorf("unknown diagnostic kind %q", req.Kind)
	}
	return buf.Bytes(), nil
}
