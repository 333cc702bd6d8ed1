package commandcenter

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/privacy"
)

// pollRun is one poll of one printer in the making: what was read, the
// records for the outbox in order, and the refusals met on the way.
type pollRun struct {
	p   *Poller
	st  *printerState
	pr  Printer
	dev Device
	// due is when the poll was due (or began, if it was not scheduled:
	// first contact, or late by a whole interval), now when the printer's
	// status was read. The poll's records carry now; its cadences count
	// from due, so a printer is polled at a fixed rate however long each
	// poll took or waited for its turn.
	due, now time.Time

	newIdent  *deviceapi.Identity // read during this poll
	identSent bool
	recs      []fleet.Record
	obs       Observation
	problems  []error
	outcomes  map[string]map[string]fleet.PartOutcome // job ID → part ID → outcome sent

	readEvents, readFeeds bool
	status                *fleet.Status // the status record appended, if any
}

// commit updates the in-memory state after the poll was stored.
func (r *pollRun) commit(st *printerState) {
	if r.status != nil {
		st.lastStatus, st.lastSent = *r.status, r.now
	}
	// Counted from when the poll was due, as the next poll is: so the
	// feeds are due again by the time it starts.
	if r.readEvents {
		st.eventsDue = r.due.Add(r.p.opts.EventInterval)
	}
	if r.readFeeds {
		st.feedsDue = r.due.Add(r.p.opts.FeedInterval)
	}
}

// device resolves the printer's address and returns the Device for it,
// dialling a new one when the address or the pin changed. Every poll
// resolves the name again (R-ARCH-7), so a printer whose IP address changed
// is found at the new one.
//
// The Device keeps its connection from one poll to the next (a TLS
// handshake costs more than the poll it opens), and only while both stay
// the same: a connection is to one address, and its peer was checked
// against the pin when it was opened. So a new address or a new pin closes
// the old Device's connections before the new Device dials, and every new
// connection is checked against the pin again.
func (p *Poller) device(ctx context.Context, st *printerState, pr Printer) (Device, string, error) {
	addr, err := p.resolve(ctx, pr.Address, st.devAddr)
	if err != nil {
		return nil, "", devErr("resolve", err)
	}
	if st.dev == nil || st.devAddr != addr || st.devPin != pr.Fingerprint {
		if st.dev != nil && st.devAddr != addr {
			p.log.Info("printer address changed", "printer", pr.ID, "address", pr.Address, "from", st.devAddr, "to", addr)
		}
		st.hangUp()
		st.dev, st.devAddr, st.devPin = p.dial(addr, pr.Fingerprint), addr, pr.Fingerprint
		st.contacted = false
	}
	return st.dev, addr, nil
}

// hangUp closes the connections the printer's Device keeps for the next
// poll. The caller holds st.mu.
func (st *printerState) hangUp() {
	if st.dev != nil {
		closeIdle(st.dev)
	}
}

// closeIdle closes the connections a Device kept for reuse.
func closeIdle(dev Device) {
	if c, ok := dev.(idleCloser); ok {
		c.CloseIdleConnections()
	}
}

// resolve turns "host:port" into "ip:port". An IP address is taken as it
// is; of a name's addresses the one used before is kept while the name
// still has it, else the first is taken.
func (p *Poller) resolve(ctx context.Context, address, prev string) (string, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		host, port = address, ""
	}
	if net.ParseIP(host) != nil {
		return address, nil
	}
	ips, err := p.opts.Resolver.LookupHost(ctx, host)
	if err != nil {
		return "", err
	}
	if len(ips) == 0 {
		return "", fmt.Errorf("lookup %s: no addresses", host)
	}
	join := func(ip string) string {
		if port == "" {
			return ip
		}
		return net.JoinHostPort(ip, port)
	}
	for _, ip := range ips {
		if join(ip) == prev {
			return prev, nil
		}
	}
	return join(ips[0]), nil
}

// poll talks to the printer and gathers what Poll stores. It fails when
// the printer cannot be talked to or its identity or status is refused;
// a refused feed or snapshot is noted in run.problems and the rest kept.
func (p *Poller) poll(ctx context.Context, st *printerState, pr Printer) (*pollRun, error) {
	// Due when scheduled, unless late by a whole interval (or never
	// scheduled): then the rate starts over from now.
	due := p.opts.Clock.Now()
	if at := st.nextAttempt; !at.After(due) && due.Sub(at) < p.opts.Interval {
		due = at
	}
	dev, addr, err := p.device(ctx, st, pr)
	if err != nil {
		return nil, err
	}
	if err := p.loadNames(ctx); err != nil {
		return nil, err
	}
	r := &pollRun{p: p, st: st, pr: pr, dev: dev, due: due}

	// A printer the operator re-pinned (Store.Repin: state new, identity
	// known) is read afresh: the confirmed certificate may be another
	// machine's at the same address.
	repinned := pr.State == CollectionNew && pr.Identity != nil
	if !st.contacted || repinned {
		st.contacted = false
		if err := r.readIdentity(ctx); err != nil {
			return nil, err
		}
		if pr.Identity != nil && pr.Identity.PrinterID != st.identity.PrinterID {
			if !repinned {
				return nil, devErr("read identity", fmt.Errorf("the printer at %s now reports ID %s instead of %s",
					pr.Address, st.identity.PrinterID, pr.Identity.PrinterID))
			}
			// A replacement, confirmed by the operator: a new printer,
			// whose feeds are read from their start. The printer it
			// replaced keeps what was collected from it.
			p.log.Warn("printer replaced", "address", pr.Address, "was", pr.Identity.PrinterID, "now", st.identity.PrinterID)
			pr.Identity, pr.Instance, pr.EventCursor, pr.Jobs, pr.Layers = nil, "", 0, FeedPosition{}, FeedPosition{}
			r.pr = pr
		}
	}
	status, err := dev.Status(ctx)
	if err != nil {
		return nil, devErr("read status", err)
	}
	r.now = p.opts.Clock.Now()
	p.names.Add(statusNames(status)...)
	pid := st.identity.PrinterID
	fs := privacy.Status(pid, status)
	if err := fs.Validate(); err != nil {
		return nil, devErr("read status", err)
	}
	r.obs.Status, r.obs.Resolved, r.obs.Seen = status, addr, r.now
	r.obs.Instance, r.obs.Cursor, r.obs.Jobs, r.obs.Layers = pr.Instance, pr.EventCursor, pr.Jobs, pr.Layers

	// note keeps a refused feed's records up to the refusal and fails the
	// poll only when the printer cannot be talked to any more or its
	// identity (read again after a restart) is refused.
	note := func(err error) error {
		if err == nil {
			return nil
		}
		var de *deviceError
		if !errors.As(err, &de) || connectionLost(err) || isOp(err, "read identity") {
			return err
		}
		r.problems = append(r.problems, err)
		return nil
	}

	if !r.now.Before(st.eventsDue) {
		r.readEvents = true
		r.obs.History.Instance = pr.Instance
		pos, err := readFeed(ctx, r, feed[fleet.Event]{
			name: "events", item: "event", pageSize: eventPageSize, read: dev.Events,
			seq: func(e fleet.Event) uint64 { return e.Seq }, take: r.takeEvent,
		}, FeedPosition{pr.Instance, pr.EventCursor})
		r.obs.Instance, r.obs.Cursor = pos.Instance, pos.Cursor
		r.obs.History.Instance = pos.Instance
		if err := note(err); err != nil {
			return nil, err
		}
	}
	if !r.now.Before(st.feedsDue) {
		r.readFeeds = true
		pos, err := readFeed(ctx, r, feed[deviceapi.Job]{
			name: "jobs", item: "job", pageSize: jobPageSize, read: dev.Jobs,
			seq: func(j deviceapi.Job) uint64 { return j.Seq }, take: r.takeJob,
		}, pr.Jobs)
		r.obs.Jobs = pos
		if err := note(err); err != nil {
			return nil, err
		}
		pos, err = readFeed(ctx, r, feed[fleet.Layer]{
			name: "layers", item: "layer", pageSize: layerPageSize, read: dev.Layers,
			seq: func(l fleet.Layer) uint64 { return l.Seq }, take: r.takeLayer, passedOver: r.passedOver,
		}, pr.Layers)
		r.obs.Layers = pos
		if err := note(err); err != nil {
			return nil, err
		}
	}
	// A snapshot dated after now was taken before the clock went back:
	// it is due, rather than in the hours or days the clock lost.
	if pr.SnapshotAt.IsZero() || pr.SnapshotAt.After(r.now) || !r.now.Before(pr.SnapshotAt.Add(p.opts.SnapshotInterval)) {
		r.obs.Snapshot = r.now
		// The identity too, at this cadence: firmware and parameter set
		// change when an update is installed, with or without an event
		// this gateway understands.
		if r.newIdent == nil {
			if err := note(r.refreshIdentity(ctx)); err != nil {
				return nil, err
			}
		}
		if err := note(r.readSnapshots(ctx)); err != nil {
			return nil, err
		}
	}

	r.flushIdentity()
	if statusChanged(st.lastStatus, fs) || r.now.Sub(st.lastSent) >= p.opts.Heartbeat {
		r.add(fleet.Record{Kind: fleet.KindStatus, Status: &fs})
		r.status = &fs
		r.obs.StateChange = stateChanged(st.lastStatus, fs)
	}
	if len(r.problems) > 0 {
		r.obs.Problem = &PollProblem{Kind: classify(r.problems[0]), Msg: errors.Join(r.problems...).Error()}
	}
	r.scrub()
	return r, nil
}

// readIdentity reads the printer's identity and remembers it.
func (r *pollRun) readIdentity(ctx context.Context) error {
	id, err := r.dev.Identity(ctx)
	if err != nil {
		return devErr("read identity", err)
	}
	if err := id.Validate(); err != nil {
		return devErr("read identity", err)
	}
	if r.st.contacted && id.PrinterID != r.st.identity.PrinterID {
		return devErr("read identity", fmt.Errorf("printer ID changed from %s to %s", r.st.identity.PrinterID, id.PrinterID))
	}
	r.st.identity, r.st.contacted = id, true
	r.newIdent = &id
	r.obs.Identity = &id
	return nil
}

// refreshIdentity reads the identity again in the middle of a poll; it is
// sent (by flushIdentity) if it differs from the one stored.
func (r *pollRun) refreshIdentity(ctx context.Context) error {
	if err := r.readIdentity(ctx); err != nil {
		return err
	}
	r.identSent = false
	return nil
}

// updatesIdentity reports whether an event code announces a change of
// firmware or print-parameter set (the device API's update events).
func updatesIdentity(code string) bool {
	return code == "FIRMWARE_UPDATED" || code == "PARAMETER_SET_UPDATED"
}

// flushIdentity appends an identity record before the first record that
// needs it, when the identity read in this poll is news: first contact,
// a change, or a new feed instance. So the cloud knows the printer (and
// its firmware) before it reads what happened on it.
func (r *pollRun) flushIdentity() {
	if r.identSent || r.newIdent == nil {
		return
	}
	r.identSent = true
	old := r.pr.Identity
	if old != nil && sameIdentity(*old, *r.newIdent) && old.Instance == r.newIdent.Instance {
		return
	}
	id := privacy.Identity(*r.newIdent)
	r.recs = append(r.recs, fleet.Record{Kind: fleet.KindIdentity, PrinterID: r.st.identity.PrinterID, Time: r.now, Identity: &id})
}

// add appends a record of this printer, after the identity if that is news.
func (r *pollRun) add(rec fleet.Record) {
	r.flushIdentity()
	rec.PrinterID, rec.Time = r.st.identity.PrinterID, r.now
	r.recs = append(r.recs, rec)
}

// gap appends a gap record (and keeps it in the local history).
func (r *pollRun) gap(g fleet.Gap) {
	r.recs = append(r.recs, fleet.Record{Kind: fleet.KindGap, PrinterID: r.st.identity.PrinterID, Time: r.now, Gap: &g})
	r.obs.History.Gaps = append(r.obs.History.Gaps, g)
}

// newInstance is called when a feed reports instance inst: the printer
// restarted its feeds, so its identity is read again unless it already
// names inst.
func (r *pollRun) newInstance(ctx context.Context, inst string) error {
	if r.newIdent != nil && r.st.identity.Instance == inst {
		return nil
	}
	return r.readIdentity(ctx)
}

// rejected is an item a feed delivered that cannot be stored: it becomes
// a gap record naming why, and reading goes on.
type rejected struct{ err error }

func (e *rejected) Error() string { return e.err.Error() }

// validRecord checks rec as it will be checked when numbered.
func validRecord(rec fleet.Record) error {
	rec.Seq, rec.PrinterID, rec.Time = 1, "printer-validate", time.Unix(1, 0)
	return rec.Validate()
}

func (r *pollRun) takeEvent(ctx context.Context, e fleet.Event) error {
	if err := e.Validate(); err != nil {
		return &rejected{err}
	}
	if updatesIdentity(e.Code) {
		// Read the identity now so the cloud learns the new version
		// before the event that announces it.
		if err := r.refreshIdentity(ctx); err != nil {
			return err
		}
	}
	ev := privacy.Event(e)
	r.add(fleet.Record{Kind: fleet.KindEvent, Event: &ev})
	r.obs.History.Events = append(r.obs.History.Events, e)
	return nil
}

// takeJob turns one jobs-feed entry into a job record, plus a part record
// for every part first seen or whose outcome changed, and keeps the entry
// with its private names for the local UI.
func (r *pollRun) takeJob(ctx context.Context, j deviceapi.Job) error {
	r.p.names.Add(jobNames(j)...) // even of a job refused: its names may be written elsewhere
	if err := j.Validate(); err != nil {
		return &rejected{err}
	}
	secret, err := r.p.siteSecret(ctx)
	if err != nil {
		return err
	}
	fj := privacy.Job(j, privacy.SourceHostID(secret, j.Private.Host))
	rec := fleet.Record{Kind: fleet.KindJob, Job: &fj}
	if err := validRecord(rec); err != nil {
		return &rejected{err}
	}
	sent, ok := r.outcomes[j.ID]
	if !ok {
		if sent, err = r.p.st.partOutcomes(ctx, r.pr.ID, j.ID); err != nil {
			return err
		}
		if r.outcomes == nil {
			r.outcomes = map[string]map[string]fleet.PartOutcome{}
		}
		r.outcomes[j.ID] = sent
	}
	var parts []fleet.Record
	for _, part := range j.Parts {
		if o, ok := sent[part.ID]; ok && o == part.Outcome {
			continue
		}
		fp := privacy.Part(part)
		prec := fleet.Record{Kind: fleet.KindPart, Part: &fp}
		if err := validRecord(prec); err != nil {
			return &rejected{err}
		}
		parts = append(parts, prec)
	}
	r.add(rec)
	for _, pr := range parts {
		r.add(pr)
		sent[pr.Part.ID] = pr.Part.Outcome
	}
	r.obs.History.Jobs = append(r.obs.History.Jobs, j)
	return nil
}

// passedOver reports whether a layer ended before PollerOptions.LayersFrom.
func (r *pollRun) passedOver(l fleet.Layer) bool { return l.End.Before(r.p.opts.LayersFrom) }

func (r *pollRun) takeLayer(_ context.Context, l fleet.Layer) error {
	if r.passedOver(l) {
		return nil
	}
	fl := privacy.Layer(l)
	rec := fleet.Record{Kind: fleet.KindLayer, Layer: &fl}
	if err := validRecord(rec); err != nil {
		return &rejected{err}
	}
	r.add(rec)
	return nil
}

// readSnapshots reads counters and consumables. A refused one does not
// keep the other from being stored.
func (r *pollRun) readSnapshots(ctx context.Context) error {
	var errs []error
	if c, err := r.dev.Counters(ctx); err != nil {
		errs = append(errs, devErr("read counters", err))
	} else {
		fc := privacy.Counters(c)
		rec := fleet.Record{Kind: fleet.KindCounters, Counters: &fc}
		if err := validRecord(rec); err != nil {
			errs = append(errs, devErr("read counters", err))
		} else {
			r.add(rec)
			r.obs.History.Counters = &c
		}
	}
	if c, err := r.dev.Consumables(ctx); err != nil {
		errs = append(errs, devErr("read consumables", err))
	} else {
		fc := privacy.Consumables(c)
		rec := fleet.Record{Kind: fleet.KindConsumables, Consumables: &fc}
		if err := validRecord(rec); err != nil {
			errs = append(errs, devErr("read consumables", err))
		} else {
			r.add(rec)
			r.obs.History.Consumables = &c
		}
	}
	for _, err := range errs {
		if connectionLost(err) {
			return err
		}
	}
	return errors.Join(errs...)
}

// feed describes one cursor feed of the device API.
type feed[T any] struct {
	name     string // as in fleet.Gap.Feed
	item     string // one item, in words
	pageSize int
	read     func(ctx context.Context, after uint64, limit int) (deviceapi.Page[T], error)
	seq      func(T) uint64
	// take stores one item; a *rejected error turns it into a gap, any
	// other error ends the read.
	take func(context.Context, T) error
	// lostBeforeFirstRead reports whether items a printer overwrote before
	// the feed was ever read count as a gap; nil: they do.
	lostBeforeFirstRead func(deviceapi.Page[T]) bool
	// passedOver reports whether an item is one the poller does not keep
	// (PollerOptions.LayersFrom); items lost before such an item would
	// have been passed over too, so their loss is no gap. nil: none is.
	passedOver func(T) bool
}

// readFeed reads feed f after pos until it is caught up or MaxPages were
// read, passing every item to f.take in order, and returns where reading
// continues next time. A new feed instance (the printer restarted), items
// the printer no longer holds, items it skipped and items refused all
// become gap records: loss is recorded, never silent. A page that goes
// back behind the cursor in the same instance is bad input: reading stops
// there, the cursor stays, and the error says why. The position returned
// always matches the records taken, even with an error.
func readFeed[T any](ctx context.Context, r *pollRun, f feed[T], pos FeedPosition) (FeedPosition, error) {
	op := "read " + f.name
	page, err := f.read(ctx, pos.Cursor, f.pageSize)
	if err != nil {
		return pos, devErr(op, err)
	}
	if page.Instance != pos.Instance {
		if pos.Instance != "" {
			r.gap(fleet.Gap{Feed: f.name, Reason: "printer restarted", FromSeq: pos.Cursor + 1})
		}
		if err := r.newInstance(ctx, page.Instance); err != nil {
			return pos, err
		}
		r.flushIdentity()
		restartedAt := pos.Cursor
		pos = FeedPosition{Instance: page.Instance}
		if restartedAt != 0 {
			if page, err = f.read(ctx, 0, f.pageSize); err != nil {
				return pos, devErr(op, err)
			}
			if page.Instance != pos.Instance {
				return pos, devErr(op, fmt.Errorf("the printer restarted its %s feed twice during one poll", f.name))
			}
		}
	}
	for pages := 1; ; pages++ {
		if page.Next < pos.Cursor {
			return pos, devErr(op, fmt.Errorf("%w: %s page ends at %d, cursor is at %d", errCursorBackwards, f.name, page.Next, pos.Cursor))
		}
		lost := pos.Cursor > 0 || f.lostBeforeFirstRead == nil || f.lostBeforeFirstRead(page)
		if f.passedOver != nil && len(page.Items) > 0 && f.passedOver(page.Items[0]) {
			lost = false
		}
		if page.First > pos.Cursor+1 {
			if lost {
				r.gap(fleet.Gap{Feed: f.name, Reason: f.name + " overwritten before they were read", FromSeq: pos.Cursor + 1, ToSeq: page.First - 1})
			}
			pos.Cursor = page.First - 1
		}
		for _, it := range page.Items {
			s := f.seq(it)
			if s <= pos.Cursor {
				return pos, devErr(op, fmt.Errorf("%w: %s %d at or before cursor %d", errCursorBackwards, f.item, s, pos.Cursor))
			}
			if s > pos.Cursor+1 {
				r.gap(fleet.Gap{Feed: f.name, Reason: f.name + " skipped by the printer", FromSeq: pos.Cursor + 1, ToSeq: s - 1})
			}
			if err := f.take(ctx, it); err != nil {
				if rj, ok := errors.AsType[*rejected](err); ok {
					r.gap(fleet.Gap{Feed: f.name, Reason: f.item + " rejected: " + rj.Error(), FromSeq: s, ToSeq: s})
				} else {
					return pos, err
				}
			}
			pos.Cursor = s
		}
		if len(page.Items) < f.pageSize || pages >= r.p.opts.MaxPages {
			return pos, nil
		}
		if page, err = f.read(ctx, pos.Cursor, f.pageSize); err != nil {
			return pos, devErr(op, err)
		}
		if page.Instance != pos.Instance {
			return pos, nil // restarted meanwhile: the next poll records the gap
		}
	}
}

// siteSecret returns the site's secret, reading it from the store once.
func (p *Poller) siteSecret(ctx context.Context) ([]byte, error) {
	p.mu.Lock()
	s := p.secret
	p.mu.Unlock()
	if s != nil {
		return s, nil
	}
	s, err := p.st.siteSecret(ctx)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.secret = s
	p.mu.Unlock()
	return s, nil
}

// RequestLogs reads log kind of printer printerID (its local ID) and
// appends a KindLog record for every line written at or after since that
// was not sent before, for a diagnostic. Logs are read only when asked
// (R-DATA-12). Reading continues where the previous request for this log
// ended; at most MaxPages pages are read per request, so a long log takes
// several. It returns how many lines were appended.
func (p *Poller) RequestLogs(ctx context.Context, printerID int64, kind fleet.LogKind, since time.Time) (int, error) {
	if !kind.Valid() {
		return 0, fmt.Errorf("request log %q: unknown log", kind)
	}
	pr, err := p.st.printer(ctx, printerID)
	if err != nil {
		return 0, fmt.Errorf("request log %s: %w", kind, err)
	}
	if pr.State == CollectionCertificateChanged {
		return 0, fmt.Errorf("request log %s of %s: %s", kind, pr.Address, pr.LastError)
	}
	if pr.Identity == nil {
		return 0, fmt.Errorf("request log %s of %s: the printer was never reached", kind, pr.Address)
	}
	if err := p.loadNames(ctx); err != nil {
		return 0, fmt.Errorf("request log %s of %s: %w", kind, pr.Address, err)
	}
	st := p.state(pr.ID)
	st.mu.Lock()
	defer st.mu.Unlock()
	defer p.wrote(st) // the log's cursor moves
	p.count(func(s *PollStats) { s.LogRequests++ })

	pctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	dev, _, err := p.device(pctx, st, pr)
	if err != nil {
		p.count(func(s *PollStats) { s.PollErrors[classify(err)]++ })
		return 0, fmt.Errorf("request log %s of %s: %w", kind, pr.Address, err)
	}
	if !st.contacted {
		st.identity = *pr.Identity // the printer's ID for the records; the next poll checks it
	}
	now := p.opts.Clock.Now()
	r := &pollRun{p: p, st: st, pr: pr, dev: dev, due: now, now: now, identSent: true}
	// The identity was read by a poll; a new instance is for the next poll to notice.
	r.newIdent = &st.identity
	name := "logs/" + string(kind)
	pos, rerr := readFeed(pctx, r, feed[fleet.LogLine]{
		name: name, item: "log line", pageSize: logPageSize,
		read: func(ctx context.Context, after uint64, limit int) (deviceapi.LogPage, error) {
			return dev.Logs(ctx, kind, after, limit)
		},
		seq: func(l fleet.LogLine) uint64 { return l.Seq },
		take: func(_ context.Context, l fleet.LogLine) error {
			if l.Time.Before(since) {
				return nil
			}
			fl := privacy.LogLine(l)
			rec := fleet.Record{Kind: fleet.KindLog, Log: &fl}
			if err := validRecord(rec); err != nil || fl.Log != kind {
				return &rejected{errors.Join(err, fmt.Errorf("line of log %s, asked for %s", fl.Log, kind))}
			}
			r.add(rec)
			return nil
		},
		// Lines overwritten before this log was first asked for are lost
		// only if they may be younger than since.
		lostBeforeFirstRead: func(pg deviceapi.LogPage) bool {
			return len(pg.Items) == 0 || pg.Items[0].Time.After(since)
		},
	}, pr.Logs[kind])
	var de *deviceError
	if rerr != nil && !errors.As(rerr, &de) {
		return 0, fmt.Errorf("request log %s of %s: %w", kind, pr.Address, rerr) // the store failed
	}
	r.scrub()
	if err := p.st.storeLogs(ctx, pr.ID, kind, pos, r.now, r.obs.History.Gaps, r.recs); err != nil {
		p.count(func(s *PollStats) { s.PollErrors[ErrorStore]++ })
		return 0, fmt.Errorf("request log %s of %s: %w", kind, pr.Address, err)
	}
	n := 0
	p.count(func(s *PollStats) {
		for _, rec := range r.recs {
			s.Records[rec.Kind]++
			if rec.Kind == fleet.KindGap {
				s.Gaps[rec.Gap.Feed]++
			}
			if rec.Kind == fleet.KindLog {
				n++
			}
		}
		if rerr != nil {
			s.PollErrors[classify(rerr)]++
		}
	})
	if rerr != nil {
		return n, fmt.Errorf("request log %s of %s: %w", kind, pr.Address, rerr)
	}
	return n, nil
}
