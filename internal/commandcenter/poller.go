package commandcenter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/backoff"
	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/outbox"
	"github.com/fusionfleet/fusionfleet/internal/privacy"
)

// Device is a printer's device API as the poller uses it (deviceapi.Client
// is one). Feed reads return the items after a cursor (see deviceapi.Page).
type Device interface {
	Identity(ctx context.Context) (deviceapi.Identity, error)
	Status(ctx context.Context) (deviceapi.Status, error)
	Events(ctx context.Context, after uint64, limit int) (deviceapi.EventPage, error)
	Jobs(ctx context.Context, after uint64, limit int) (deviceapi.JobPage, error)
	Layers(ctx context.Context, after uint64, limit int) (deviceapi.LayerPage, error)
	Logs(ctx context.Context, log fleet.LogKind, after uint64, limit int) (deviceapi.LogPage, error)
	Counters(ctx context.Context) (fleet.Counters, error)
	Consumables(ctx context.Context) (fleet.Consumables, error)
}

// idleCloser is a Device that keeps connections alive between calls. The
// poller keeps a printer's connection from one poll to the next, and closes
// it when the printer's address or pin changes, after a failed poll and
// when it stops polling the printer (see Poller.device).
type idleCloser interface {
	CloseIdleConnections()
}

// Dialer returns a Device for the printer at address ("ip:port", as
// resolved by the poller) whose certificate must match pin. It must not
// connect yet: errors surface from the calls. A pin mismatch must be
// reported as an error matching errors.Is(err, deviceapi.ErrPinMismatch).
type Dialer func(address string, pin deviceapi.Fingerprint) Device

// Resolver looks up a host name's addresses (*net.Resolver is one).
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// PollerOptions tunes a Poller. The zero value works.
type PollerOptions struct {
	Interval  time.Duration // status, between polls of one printer; 0 → 5 s
	Heartbeat time.Duration // a status record at least this often, even if unchanged; 0 → 60 s
	Timeout   time.Duration // one whole poll of one printer; 0 → 30 s
	// EventInterval is how often the events feed is read; 0 → Interval,
	// so alerts travel within seconds.
	EventInterval time.Duration
	// FeedInterval is how often the jobs and layers feeds are read; 0 → 15 s.
	FeedInterval time.Duration
	// SnapshotInterval is how often counters and consumables are read; 0 → 5 min.
	SnapshotInterval time.Duration
	// LayersFrom, if set, passes over the layers that ended before it:
	// read (so the feed's cursor moves on and no gap is reported) but
	// neither kept nor uploaded. Per-layer data is the bulk of a
	// printer's records, twenty times all the rest; the demo sets it
	// when it fills weeks of simulated past, whose jobs, parts, events
	// and wear are what its pages show, and keeps the layers of the
	// present.
	LayersFrom time.Time
	// MaxPages bounds the pages read from one feed in one poll, so one
	// chatty printer cannot starve the rest; 0 → 20.
	MaxPages int
	// MaxConcurrent bounds the polls Run has in flight at once; more wait
	// their turn. 0 → 64: a poll spends most of its time waiting for the
	// printer and for the disk (its commit), so 2,000 printers every 5 s,
	// 400 polls a second at 50–150 ms each on a busy machine, need 20–60
	// in flight; few enough that a site of thousands of printers, all due
	// at once after a start, does not open thousands of connections at once.
	MaxConcurrent int
	// Retention is how long the local history (events, jobs, snapshots,
	// gaps) is kept; 0 → 30 days.
	Retention time.Duration
	Resolver  Resolver     // nil → net.DefaultResolver
	Clock     clock.Clock  // nil → the real clock
	Logger    *slog.Logger // nil → discard
}

const (
	maxPollBackoff   = time.Minute
	eventPageSize    = 500
	jobPageSize      = deviceapi.MaxJobLimit
	layerPageSize    = 1000
	logPageSize      = 1000
	defaultMaxPages  = 20
	defaultMaxPolls  = 64
	defaultRetention = 30 * 24 * time.Hour
	pruneEvery       = time.Hour
)

// Poller collects from every enrolled printer into the Store.
type Poller struct {
	st   *Store
	dial Dialer
	opts PollerOptions
	log  *slog.Logger

	mu        sync.Mutex
	states    map[int64]*printerState // by printer row ID
	secret    []byte                  // the site secret, once read
	nextPrune time.Time
	stats     PollStats

	// slots bounds the polls Run has in flight (MaxConcurrent).
	slots chan struct{}
	// commits groups the commits of polls that end together (pollcommit.go).
	commits *pollCommits

	// A printer's poll starts from the row its previous successful poll
	// left, kept in memory (printerState.row), unless the store's printers
	// were changed from outside the poller since (Store.printersVersion: a
	// printer added, re-pinned). Run lists the printers only when they
	// were changed so, and a poll takes its row from that list (listed,
	// read when writes stood at listedWrites and the version at
	// listedVersion) unless the poller wrote the row since
	// (printerState.wrote > listedWrites); else it reads the row. writes
	// counts the poller's writes of printer rows. At a thousand printers
	// reading each row again before its poll cost more than the poll's
	// HTTP, and listing them all every interval 7 % of the poller's time.
	writes        atomic.Uint64
	listed        map[int64]Printer
	listedWrites  uint64
	listedVersion uint64
	// polled, if set, learns of each successful poll how late it began
	// (after it was due) and how long it took, from resolving the
	// printer's address to committing its records: a seam for the
	// benchmarks.
	polled func(id int64, late, took time.Duration)

	// names are the site's private names, scrubbed from every record
	// (scrub.go); loaded from the store on the first poll.
	names       *privacy.Names
	namesMu     sync.Mutex
	namesLoaded atomic.Bool
}

// printerState is what the poller remembers about a printer between polls.
type printerState struct {
	mu sync.Mutex

	dev     Device
	devAddr string // resolved address the device was dialled with
	devPin  deviceapi.Fingerprint

	contacted  bool // identity read since this poller started
	identity   deviceapi.Identity
	lastStatus fleet.Status // last status record appended
	lastSent   time.Time    // when it was appended

	eventsDue time.Time // when the events feed is read next
	feedsDue  time.Time // when the jobs and layers feeds are read next

	failures    int
	nextAttempt time.Time

	// wrote is Poller.writes after the poller last wrote this printer's
	// row (a poll or a log request, stored or failed).
	wrote uint64
	// row is the printer's row as the latest successful poll stored it,
	// while rowOK; rowVersion is Store.printersVersion when that poll
	// began: the row is current while the version stays the same.
	row        Printer
	rowOK      bool
	rowVersion uint64
	// storedAt is when the latest poll written to the store was seen
	// (see quiet).
	storedAt time.Time
	// lastPoll is the clock's time at the latest poll (see followClock).
	lastPoll time.Time
}

// followClock moves the printer's schedule back with a clock that went
// back: what was due in a second is due in a second still, not after the
// hours or days the clock lost. Before, a clock set back by a day held the
// events and the other feeds for a day (found by site's TestClockJumps).
func (st *printerState) followClock(now time.Time) {
	if !st.lastPoll.IsZero() && now.Before(st.lastPoll) {
		d := st.lastPoll.Sub(now)
		for _, t := range []*time.Time{&st.eventsDue, &st.feedsDue, &st.nextAttempt, &st.lastSent, &st.storedAt} {
			if !t.IsZero() {
				*t = t.Add(-d)
			}
		}
	}
	st.lastPoll = now
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
	if opts.EventInterval <= 0 {
		opts.EventInterval = opts.Interval
	}
	if opts.FeedInterval <= 0 {
		opts.FeedInterval = 15 * time.Second
	}
	if opts.SnapshotInterval <= 0 {
		opts.SnapshotInterval = 5 * time.Minute
	}
	if opts.MaxPages <= 0 {
		opts.MaxPages = defaultMaxPages
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = defaultMaxPolls
	}
	if opts.Retention <= 0 {
		opts.Retention = defaultRetention
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Poller{st: st, dial: dial, opts: opts, log: log.With("component", "poller"), states: map[int64]*printerState{},
		stats: newPollStats(), names: privacy.NewNames(privateNameLimit), slots: make(chan struct{}, opts.MaxConcurrent)}
	p.commits = &pollCommits{st: st, gather: p.gatherCommits}
	return p
}

// gatherCommits waits commitGather for the polls Run has in flight to
// join the group of the poll that leads a commit, if there are any but
// that one.
func (p *Poller) gatherCommits() {
	if len(p.slots) > 1 {
		time.Sleep(clock.Wall(p.opts.Clock, commitGather))
	}
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
// printers added, re-pinned, moved or re-activated while it runs, and
// stopping the goroutine of a printer retired. It returns nil once ctx is
// cancelled and every goroutine has stopped; per-printer failures are
// recorded in the Store and logged, never returned.
func (p *Poller) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	var mu sync.Mutex
	running := map[int64]bool{}
	t := time.NewTicker(clock.Wall(p.opts.Clock, p.opts.Interval))
	defer t.Stop()
	listed, listedOnce := uint64(0), false
	// relist is set when a printer's goroutine stopped (its certificate
	// changed, its row could not be read): the next list starts it again
	// if it is to be polled.
	var relist atomic.Bool
	for {
		// The printers are listed at the start, whenever they were changed
		// from outside the poller (by another process too) and after a
		// printer's goroutine stopped; each printer's goroutine polls on
		// from its own row.
		var printers []Printer
		if err := p.st.noteOtherWriters(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("changes by other processes not seen", "err", err)
		}
		if version := p.st.printersVersion(); !listedOnce || version != listed || relist.Load() {
			relist.Store(false)
			writes := p.writes.Load()
			var err error
			printers, err = p.st.Printers(ctx)
			if err != nil && ctx.Err() == nil {
				p.log.Error("list printers", "err", err)
			}
			if err == nil {
				p.list(printers, writes, version)
				listed, listedOnce = version, true
			} else {
				relist.Store(true) // try again at the next tick
			}
		}
		if err := p.prune(ctx); err != nil && ctx.Err() == nil {
			p.log.Error("prune local history", "err", err)
		}
		for _, pr := range printers {
			mu.Lock()
			start := !running[pr.ID] && pr.State != CollectionCertificateChanged && !pr.Retired()
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
					relist.Store(true)
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

// runPrinter polls one printer until ctx is done or its certificate changed,
// at most MaxConcurrent printers at a time.
func (p *Poller) runPrinter(ctx context.Context, id int64) {
	log := p.log.With("printer", id)
	defer func() {
		// Polling this printer stops: its connection is not needed any more.
		st := p.state(id)
		st.mu.Lock()
		st.hangUp()
		st.mu.Unlock()
	}()
	// One timer for the goroutine's life, reset for every wait.
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		pr, err := p.printerToPoll(ctx, id)
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
		if pr.Retired() {
			log.Info("printer retired: polling stops", "address", pr.Address)
			return
		}
		select {
		case p.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		err = p.Poll(ctx, pr)
		<-p.slots
		if err != nil && ctx.Err() == nil {
			log.Warn("poll failed", "address", pr.Address, "kind", classify(err), "err", err)
		}
		st := p.state(id)
		st.mu.Lock()
		// The clock may have gone back since the poll set nextAttempt: the
		// schedule follows it here too, or this wait would last as long
		// as the clock lost (a day for a clock set back a day; found by
		// site's TestClockJumps).
		now := p.opts.Clock.Now()
		st.followClock(now)
		wait := st.nextAttempt.Sub(now)
		st.mu.Unlock()
		timer.Reset(max(clock.Wall(p.opts.Clock, wait), time.Millisecond))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
	}
}

// list keeps the printers Run listed, read when the poller's writes stood at
// writes and the store's printers at version.
func (p *Poller) list(printers []Printer, writes, version uint64) {
	rows := make(map[int64]Printer, len(printers))
	for _, pr := range printers {
		rows[pr.ID] = pr
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.listed, p.listedWrites, p.listedVersion = rows, writes, version
}

// printerToPoll returns printer id's row as the next poll starts from: as
// Run listed it, if the poller has not written the row since; else read
// again. So cursors never go back to before a stored poll, and changes
// made outside the poller (a re-pin, a removal) are seen within an
// interval.
func (p *Poller) printerToPoll(ctx context.Context, id int64) (Printer, error) {
	version := p.st.printersVersion()
	st := p.state(id)
	st.mu.Lock()
	row, kept, wrote := st.row, st.rowOK && st.rowVersion == version, st.wrote
	st.mu.Unlock()
	if kept {
		return row, nil
	}
	p.mu.Lock()
	pr, ok := p.listed[id]
	fresh := ok && wrote <= p.listedWrites && p.listedVersion == version
	p.mu.Unlock()
	if fresh {
		return pr, nil
	}
	return p.st.printer(ctx, id)
}

// wrote notes that the poller wrote (or may have written) st's printer
// row, which is then read again before the next poll, unless the poll
// keeps it (keepRow). The caller holds st.mu.
func (p *Poller) wrote(st *printerState) {
	st.wrote = p.writes.Add(1)
	st.rowOK = false
}

// quiet reports whether run, a successful poll of pr, learnt nothing but
// the printer's live status (progress, activity, the time it was seen):
// no record for the cloud, no local history, no cursor, identity, address
// or collection state changed, and the printer's row was written less than
// a heartbeat ago. Such a poll is not written to the database: the Store
// keeps the status in memory for its readers (Store.keepLive) and writes
// it with the printer's next written poll, at the latest a heartbeat
// later, or when it closes. Most polls of a printing printer are quiet, and
// a transaction for each cost more than the poll's HTTP.
func (p *Poller) quiet(st *printerState, pr Printer, run *pollRun) bool {
	o, h := run.obs, run.obs.History
	return len(run.recs) == 0 && len(h.Events) == 0 && len(h.Gaps) == 0 && len(h.Jobs) == 0 && h.Counters == nil &&
		h.Consumables == nil && o.Identity == nil && o.Snapshot.IsZero() && o.Problem == nil &&
		pr.State == CollectionOK && o.Resolved == pr.ResolvedAddress && o.Instance == pr.Instance &&
		o.Cursor == pr.EventCursor && o.Jobs == pr.Jobs && o.Layers == pr.Layers &&
		!st.storedAt.IsZero() && o.Seen.Sub(st.storedAt) < p.opts.Heartbeat
}

// keepRow keeps pr, as the poll that began at store version version
// stored it with o, as the row the printer's next poll starts from. The
// caller holds st.mu.
func (st *printerState) keepRow(pr Printer, o Observation, version uint64) {
	status := o.Status
	pr.Status = &status
	if o.Identity != nil {
		ident := *o.Identity
		pr.Identity = &ident
	}
	pr.Instance, pr.EventCursor, pr.Jobs, pr.Layers = o.Instance, o.Cursor, o.Jobs, o.Layers
	if !o.Snapshot.IsZero() {
		pr.SnapshotAt = o.Snapshot
	}
	pr.ResolvedAddress = o.Resolved
	state, msg, kind, errAt := CollectionOK, "", PollErrorKind(""), time.Time{}
	if o.Problem != nil {
		state, msg, kind, errAt = CollectionBadInput, o.Problem.Msg, o.Problem.Kind, o.Seen
	}
	if pr.State != state {
		pr.StateSince = o.Seen
	}
	pr.State, pr.LastError, pr.ErrorKind, pr.LastErrorAt, pr.LastSeen = state, msg, kind, errAt, o.Seen
	st.row, st.rowOK, st.rowVersion = pr, true, version
}

// PollOnce polls, one after the other, every printer that is due: not
// retired, not stopped by a changed certificate and not waiting out a
// backoff. It prunes the local history when that is due. It returns the
// joined errors of the polls that failed or refused part of a printer's
// answer.
func (p *Poller) PollOnce(ctx context.Context) error {
	printers, err := p.st.Printers(ctx)
	if err != nil {
		return fmt.Errorf("poll: %w", err)
	}
	var errs []error
	now := p.opts.Clock.Now()
	for _, pr := range printers {
		if pr.State == CollectionCertificateChanged || pr.Retired() {
			continue
		}
		st := p.state(pr.ID)
		st.mu.Lock()
		st.followClock(now)
		due := !now.Before(st.nextAttempt)
		st.mu.Unlock()
		if due {
			errs = append(errs, p.Poll(ctx, pr))
		}
	}
	errs = append(errs, p.prune(ctx))
	return errors.Join(errs...)
}

// prune deletes the local history older than the retention, at most once
// an hour.
func (p *Poller) prune(ctx context.Context) error {
	now := p.opts.Clock.Now()
	p.mu.Lock()
	due := !now.Before(p.nextPrune)
	if due {
		p.nextPrune = now.Add(pruneEvery)
	}
	p.mu.Unlock()
	if !due {
		return nil
	}
	if _, err := p.st.Prune(ctx, now.Add(-p.opts.Retention)); err != nil {
		p.mu.Lock()
		p.nextPrune = time.Time{} // try again next time
		p.mu.Unlock()
		return err
	}
	return nil
}

// Poll polls one printer once: it stores the printer's state and local
// history and appends the records that leave the site, or records why it
// could not. After a failure the printer is due again after an exponential
// backoff (capped at a minute), after a success an interval after the poll
// was due (see pollRun.due).
// A poll whose printer answered but sent something refused (garbage, a
// body too large, a cursor going backwards) stores the rest, marks the
// printer CollectionBadInput and returns the refusal.
func (p *Poller) Poll(ctx context.Context, pr Printer) error {
	st := p.state(pr.ID)
	st.mu.Lock()
	defer st.mu.Unlock()
	p.wrote(st) // stored or failed, the row changes
	p.count(func(s *PollStats) { s.Polls++ })
	version := p.st.printersVersion()

	// The timeout bounds the talk with the printer; storing the outcome
	// afterwards uses ctx, so a poll that timed out is still recorded.
	began := p.opts.Clock.Now()
	st.followClock(began)
	pctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	run, err := p.poll(pctx, st, pr)
	cancel()
	if err == nil {
		if p.quiet(st, pr, run) {
			p.st.keepLive(pr.ID, run.obs.Status, run.obs.Seen)
		} else if err = p.commits.store(ctx, pr.ID, run.obs, run.recs); err == nil {
			st.storedAt = run.obs.Seen
		}
	}
	if err == nil && p.polled != nil {
		p.polled(pr.ID, began.Sub(run.due), p.opts.Clock.Now().Sub(began))
	}
	now := p.opts.Clock.Now()
	if err == nil {
		// The next poll is due an interval after this one was, so a
		// printer is polled at the interval, not the interval plus a poll.
		st.failures = 0
		st.nextAttempt = run.due.Add(p.opts.Interval)
		run.commit(st)
		st.keepRow(pr, run.obs, version)
		p.count(func(s *PollStats) {
			for _, r := range run.recs {
				s.Records[r.Kind]++
				if r.Kind == fleet.KindGap {
					s.Gaps[r.Gap.Feed]++
				}
			}
			for _, e := range run.problems {
				s.PollErrors[classify(e)]++
			}
		})
		if len(run.problems) > 0 {
			return fmt.Errorf("poll %s: %w", pr.Address, errors.Join(run.problems...))
		}
		return nil
	}
	st.contacted = false // read the identity again next time: this poll's may not be stored
	if ctx.Err() != nil {
		return fmt.Errorf("poll %s: %w", pr.Address, err) // shutting down: not the printer's fault
	}
	var devErr *deviceError
	if !errors.As(err, &devErr) {
		// The store failed, not the printer: retry at the normal pace.
		p.count(func(s *PollStats) { s.PollErrors[ErrorStore]++ })
		st.nextAttempt = now.Add(p.opts.Interval)
		if errors.Is(err, outbox.ErrDiskFull) {
			// Collection pauses: nothing of the poll was stored, so no
			// cursor moved and the printer's data waits on the printer;
			// the outbox health shows why (the local UI's banner). Retried
			// with backoff until a poll is stored again.
			st.failures++
			st.nextAttempt = now.Add(pollBackoff(p.opts.Interval, st.failures))
			return fmt.Errorf("poll %s: collection paused: %w", pr.Address, err)
		}
		return fmt.Errorf("poll %s: %w", pr.Address, err)
	}
	// The next attempt starts on a fresh connection, whatever state this
	// one was left in.
	st.hangUp()
	kind := classify(err)
	p.count(func(s *PollStats) { s.PollErrors[kind]++ })
	if errors.Is(err, deviceapi.ErrPinMismatch) {
		msg := fmt.Sprintf("certificate changed: the printer at %s no longer presents the certificate pinned on %s "+
			"(fingerprint %s); collection is stopped until an operator checks the printer and confirms its new "+
			"certificate at the next start with -printer %s (%v)", pr.Address, pr.PinnedAt.Format(time.DateOnly), pr.Fingerprint, pr.Address, devErr.err)
		if serr := p.st.markFailure(ctx, pr.ID, CollectionCertificateChanged, kind, msg, now); serr != nil {
			return fmt.Errorf("poll %s: %w", pr.Address, errors.Join(err, serr))
		}
		return fmt.Errorf("poll %s: %w", pr.Address, err)
	}
	st.failures++
	st.nextAttempt = now.Add(pollBackoff(p.opts.Interval, st.failures))
	if npe, ok := errors.AsType[*deviceapi.NotPairedError](err); ok {
		// Nothing of this poll was stored, so no cursor moved: once the
		// operator pairs this Command Center at the printer, the next poll
		// reads on from where collection stopped.
		msg := fmt.Sprintf("not paired: the printer at %s serves its private fields and logs only to Command Centers "+
			"paired at the printer; confirm this Command Center's fingerprint %s at the printer, and collection resumes where it stopped",
			pr.Address, npe.Collector)
		if npe.Collector == "" {
			msg = fmt.Sprintf("not paired: the printer at %s serves its private fields and logs only to Command Centers paired at "+
				"the printer, and this Command Center presented no client certificate", pr.Address)
		}
		if serr := p.st.markFailure(ctx, pr.ID, CollectionNotPaired, kind, msg, now); serr != nil {
			return fmt.Errorf("poll %s: %w", pr.Address, errors.Join(err, serr))
		}
		return fmt.Errorf("poll %s: %w", pr.Address, err)
	}
	if serr := p.st.markFailure(ctx, pr.ID, CollectionUnreachable, kind, devErr.Error(), now); serr != nil {
		return fmt.Errorf("poll %s: %w", pr.Address, errors.Join(err, serr))
	}
	return fmt.Errorf("poll %s: %w", pr.Address, err)
}

// pollBackoff is the wait after the n-th consecutive failure: the interval
// doubled n-1 times, capped at a minute.
func pollBackoff(interval time.Duration, n int) time.Duration {
	return backoff.Policy{Base: interval, Max: maxPollBackoff}.Delay(n)
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

// stateChanged reports whether a status record carries a change of its
// printer's state, which the uploader sends within seconds: a state (idle,
// printing, cooling, fault, …) or a job other than the previous status
// record's (none before the first).
func stateChanged(prev, cur fleet.Status) bool {
	return prev.State != cur.State || prev.JobID != cur.JobID
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
