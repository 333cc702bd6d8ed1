package commandcenter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/privacy"
)

// Device is a printer's device API as the poller uses it.
type Device interface {
	Identity(ctx context.Context) (deviceapi.Identity, error)
	Status(ctx context.Context) (deviceapi.Status, error)
	Events(ctx context.Context, after uint64, limit int) (deviceapi.EventPage, error)
}

// Dialer returns a Device for the printer at address whose certificate
// must match pin. It must not connect yet: errors surface from the calls.
// A pin mismatch must be reported as an error matching
// errors.Is(err, deviceapi.ErrPinMismatch).
type Dialer func(address string, pin deviceapi.Fingerprint) Device

// PollerOptions tunes a Poller. The zero value works.
type PollerOptions struct {
	Interval  time.Duration // between polls of one printer; 0 → 5 s
	Heartbeat time.Duration // a status record at least this often, even if unchanged; 0 → 60 s
	Timeout   time.Duration // one whole poll of one printer; 0 → 30 s
	Clock     clock.Clock   // nil → the real clock
	Logger    *slog.Logger  // nil → discard
}

const (
	maxPollBackoff = time.Minute
	eventPageSize  = 500
	maxEventPages  = 20 // per poll, so one chatty printer cannot starve the rest
)

// Poller collects from every enrolled printer into the Store.
type Poller struct {
	st   *Store
	dial Dialer
	opts PollerOptions
	log  *slog.Logger

	mu     sync.Mutex
	states map[int64]*printerState // by printer row ID
}

// printerState is what the poller remembers about a printer between polls.
type printerState struct {
	mu sync.Mutex

	dev     Device
	devAddr string
	devPin  deviceapi.Fingerprint

	contacted  bool // identity read since this poller started
	identity   deviceapi.Identity
	lastStatus fleet.Status // last status record appended
	lastSent   time.Time    // when it was appended

	failures    int
	nextAttempt time.Time
}

// NewPoller returns a poller over the printers in st, reaching them with dial.
func NewPoller(st *Store, dial Dialer, opts PollerOptions) *Poller {
	if opts.Interval <= 0 {
		opts.Interval = 5 * time.Second
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = time.Minute
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Poller{st: st, dial: dial, opts: opts, log: log.With("component", "poller"), states: map[int64]*printerState{}}
}

func (p *Poller) state(id int64) *printerState {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.states[id]
	if !ok {
		s = &printerState{}
		p.states[id] = s
	}
	return s
}

// Run polls every printer in its own goroutine until ctx is done, picking up
// printers added (or re-pinned) while it runs. It returns nil once ctx is
// cancelled and every goroutine has stopped; per-printer failures are
// recorded in the Store and logged, never returned.
func (p *Poller) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	var mu sync.Mutex
	running := map[int64]bool{}
	t := time.NewTicker(p.opts.Interval)
	defer t.Stop()
	for {
		printers, err := p.st.Printers(ctx)
		if err != nil && ctx.Err() == nil {
			p.log.Error("list printers", "err", err)
		}
		for _, pr := range printers {
			mu.Lock()
			start := !running[pr.ID] && pr.State != CollectionCertificateChanged
			if start {
				running[pr.ID] = true
			}
			mu.Unlock()
			if start {
				wg.Go(func() {
					p.runPrinter(ctx, pr.ID)
					mu.Lock()
					delete(running, pr.ID)
					mu.Unlock()
				})
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// runPrinter polls one printer until ctx is done or its certificate changed.
func (p *Poller) runPrinter(ctx context.Context, id int64) {
	log := p.log.With("printer", id)
	for {
		pr, err := p.st.printer(ctx, id)
		if err != nil {
			if ctx.Err() == nil {
				log.Error("read printer", "err", err)
			}
			return
		}
		if pr.State == CollectionCertificateChanged {
			log.Warn("collection stopped", "address", pr.Address, "reason", pr.LastError)
			return
		}
		if err := p.Poll(ctx, pr); err != nil && ctx.Err() == nil {
			log.Warn("poll failed", "address", pr.Address, "err", err)
		}
		st := p.state(id)
		st.mu.Lock()
		wait := st.nextAttempt.Sub(p.opts.Clock.Now())
		st.mu.Unlock()
		wait = max(wait, time.Millisecond)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
	}
}

// PollOnce polls, one after the other, every printer that is due: not
// stopped by a changed certificate and not waiting out a backoff. It
// returns the joined errors of the polls that failed.
func (p *Poller) PollOnce(ctx context.Context) error {
	printers, err := p.st.Printers(ctx)
	if err != nil {
		return fmt.Errorf("poll: %w", err)
	}
	var errs []error
	now := p.opts.Clock.Now()
	for _, pr := range printers {
		if pr.State == CollectionCertificateChanged {
			continue
		}
		st := p.state(pr.ID)
		st.mu.Lock()
		due := !now.Before(st.nextAttempt)
		st.mu.Unlock()
		if due {
			errs = append(errs, p.Poll(ctx, pr))
		}
	}
	return errors.Join(errs...)
}

// Poll polls one printer once: it stores the printer's state and appends
// the records that leave the site, or records why it could not. After a
// failure the printer is due again after an exponential backoff (capped at
// a minute), after a success after the poll interval.
func (p *Poller) Poll(ctx context.Context, pr Printer) error {
	st := p.state(pr.ID)
	st.mu.Lock()
	defer st.mu.Unlock()

	// The timeout bounds the talk with the printer; recording a failure
	// afterwards uses ctx, so a poll that timed out is still recorded.
	pctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	err := p.poll(pctx, st, pr)
	cancel()
	now := p.opts.Clock.Now()
	if err == nil {
		st.failures = 0
		st.nextAttempt = now.Add(p.opts.Interval)
		return nil
	}
	st.contacted = false // read the identity again next time: this poll's may not be stored
	var devErr *deviceError
	if !errors.As(err, &devErr) {
		// The store failed, not the printer: retry at the normal pace.
		st.nextAttempt = now.Add(p.opts.Interval)
		return fmt.Errorf("poll %s: %w", pr.Address, err)
	}
	if errors.Is(err, deviceapi.ErrPinMismatch) {
		msg := fmt.Sprintf("certificate changed: the printer at %s no longer presents the certificate pinned on %s "+
			"(fingerprint %s); collection is stopped until an operator checks the printer and confirms its new "+
			"certificate (%v)", pr.Address, pr.PinnedAt.Format(time.DateOnly), pr.Fingerprint, devErr.err)
		if serr := p.st.markFailed(ctx, pr.ID, CollectionCertificateChanged, msg, now); serr != nil {
			return fmt.Errorf("poll %s: %w", pr.Address, errors.Join(err, serr))
		}
		return fmt.Errorf("poll %s: %w", pr.Address, err)
	}
	st.failures++
	st.nextAttempt = now.Add(pollBackoff(p.opts.Interval, st.failures))
	if serr := p.st.markFailed(ctx, pr.ID, CollectionUnreachable, devErr.Error(), now); serr != nil {
		return fmt.Errorf("poll %s: %w", pr.Address, errors.Join(err, serr))
	}
	return fmt.Errorf("poll %s: %w", pr.Address, err)
}

// pollBackoff is the wait after the n-th consecutive failure: the interval
// doubled n-1 times, capped at a minute.
func pollBackoff(interval time.Duration, n int) time.Duration {
	d := interval
	for i := 1; i < n && d < maxPollBackoff; i++ {
		d *= 2
	}
	return min(d, maxPollBackoff)
}

// deviceError marks an error that came from talking to the printer, as
// opposed to one from the Store.
type deviceError struct {
	op  string
	err error
}

func (e *deviceError) Error() string { return e.op + ": " + e.err.Error() }
func (e *deviceError) Unwrap() error { return e.err }

func devErr(op string, err error) error {
	if err == nil {
		return nil
	}
	return &deviceError{op: op, err: err}
}

// poll does the work of Poll with st locked.
func (p *Poller) poll(ctx context.Context, st *printerState, pr Printer) error {
	if st.dev == nil || st.devAddr != pr.Address || st.devPin != pr.Fingerprint {
		st.dev, st.devAddr, st.devPin = p.dial(pr.Address, pr.Fingerprint), pr.Address, pr.Fingerprint
		st.contacted = false
	}
	dev := st.dev

	var (
		recs     []fleet.Record
		newIdent *deviceapi.Identity
	)
	readIdentity := func() error {
		id, err := dev.Identity(ctx)
		if err != nil {
			return devErr("read identity", err)
		}
		if err := id.Validate(); err != nil {
			return devErr("read identity", err)
		}
		if st.contacted && id.PrinterID != st.identity.PrinterID {
			return devErr("read identity", fmt.Errorf("printer ID changed from %s to %s", st.identity.PrinterID, id.PrinterID))
		}
		st.identity, st.contacted = id, true
		newIdent = &id
		return nil
	}
	if !st.contacted {
		if err := readIdentity(); err != nil {
			return err
		}
		if pr.Identity != nil && pr.Identity.PrinterID != st.identity.PrinterID {
			return devErr("read identity", fmt.Errorf("the printer at %s now reports ID %s instead of %s",
				pr.Address, st.identity.PrinterID, pr.Identity.PrinterID))
		}
	}
	status, err := dev.Status(ctx)
	if err != nil {
		return devErr("read status", err)
	}
	now := p.opts.Clock.Now()

	// Events: continue after the cursor of the instance we know; a new
	// instance means the printer restarted its feed and we start over.
	instance, cursor := pr.Instance, pr.EventCursor
	page, err := dev.Events(ctx, cursor, eventPageSize)
	if err != nil {
		return devErr("read events", err)
	}
	if page.Instance != instance {
		if instance != "" {
			recs = append(recs, gapRecord(st.identity.PrinterID, now, "printer restarted", cursor+1, 0))
		}
		if newIdent == nil || st.identity.Instance != page.Instance {
			if err := readIdentity(); err != nil {
				return err
			}
		}
		instance, cursor = page.Instance, 0
		if page, err = dev.Events(ctx, 0, eventPageSize); err != nil {
			return devErr("read events", err)
		}
		if page.Instance != instance {
			return devErr("read events", errors.New("the printer restarted its event feed twice during one poll"))
		}
	}
	pid := st.identity.PrinterID
	// The identity goes before the events so the cloud knows the printer
	// (and its firmware) before it reads what happened on it.
	if newIdent != nil && (pr.Identity == nil || !sameIdentity(*pr.Identity, *newIdent) || pr.Instance != instance) {
		id := privacy.Identity(*newIdent)
		recs = append(recs, fleet.Record{Kind: fleet.KindIdentity, PrinterID: pid, Time: now, Identity: &id})
	}
	for pages := 1; ; pages++ {
		if page.First > cursor+1 {
			recs = append(recs, gapRecord(pid, now, "events overwritten before they were read", cursor+1, page.First-1))
			cursor = page.First - 1
		}
		for _, e := range page.Items {
			if e.Seq <= cursor {
				continue // already read; a printer must not repeat, but we need not care
			}
			if e.Seq > cursor+1 {
				recs = append(recs, gapRecord(pid, now, "events skipped by the printer", cursor+1, e.Seq-1))
			}
			cursor = e.Seq
			if err := e.Validate(); err != nil {
				recs = append(recs, gapRecord(pid, now, "event rejected: "+err.Error(), e.Seq, e.Seq))
				continue
			}
			ev := privacy.Event(e)
			recs = append(recs, fleet.Record{Kind: fleet.KindEvent, PrinterID: pid, Time: now, Event: &ev})
		}
		if len(page.Items) < eventPageSize || pages == maxEventPages {
			break
		}
		if page, err = dev.Events(ctx, cursor, eventPageSize); err != nil {
			return devErr("read events", err)
		}
		if page.Instance != instance {
			break // restarted meanwhile: the next poll records the gap
		}
	}

	fs := privacy.Status(pid, status)
	if err := fs.Validate(); err != nil {
		return devErr("read status", err)
	}
	if statusChanged(st.lastStatus, fs) || now.Sub(st.lastSent) >= p.opts.Heartbeat {
		recs = append(recs, fleet.Record{Kind: fleet.KindStatus, PrinterID: pid, Time: now, Status: &fs})
	}

	o := observation{Identity: newIdent, Status: status, Instance: instance, Cursor: cursor, Seen: now}
	if err := p.st.observe(ctx, pr.ID, o, recs); err != nil {
		return err
	}
	for _, r := range recs {
		if r.Kind == fleet.KindStatus {
			st.lastStatus, st.lastSent = *r.Status, now
		}
	}
	return nil
}

func gapRecord(pid fleet.PrinterID, now time.Time, reason string, from, to uint64) fleet.Record {
	return fleet.Record{Kind: fleet.KindGap, PrinterID: pid, Time: now,
		Gap: &fleet.Gap{Feed: "events", Reason: reason, FromSeq: from, ToSeq: to}}
}

// sameIdentity compares identities without the fields that change by
// themselves (uptime, the printer's clock).
func sameIdentity(a, b deviceapi.Identity) bool {
	a.UptimeSec, b.UptimeSec = 0, 0
	a.Date, b.Date = time.Time{}, time.Time{}
	a.Instance, b.Instance = "", ""
	return a == b
}

// statusChanged reports whether a status is worth a record before the
// heartbeat is due: state, job, pending jobs or the ETC bucket changed.
func statusChanged(prev, cur fleet.Status) bool {
	return prev.State != cur.State || prev.JobID != cur.JobID || prev.PendingJobs != cur.PendingJobs ||
		etcBucket(prev.ETCSeconds) != etcBucket(cur.ETCSeconds)
}

// etcBucket coarsens an estimated time to completion so that a countdown
// produces a record every few minutes, not every poll: 5-minute steps
// below an hour, 30-minute steps above.
func etcBucket(s int64) int64 {
	switch {
	case s <= 0:
		return -1
	case s < 3600:
		return s / 300
	default:
		return 1000 + s/1800
	}
}
