package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// State is an alert as the evaluator tracks it: the incident, and when its
// rule last observed the printer.
type State struct {
	fleet.Alert
	Seen time.Time
}

// Matches reports whether the alert already says what f says (severity,
// title and detail): a finding that holds and matches an active alert
// changes nothing, unless it is a Touch.
func (s State) Matches(f Finding) bool {
	return s.Severity == f.Severity && s.Title == f.Title && s.Detail == f.Detail
}

// Subject is a printer a sweep found in a condition, and since when.
type Subject struct {
	OrgID     fleet.OrgID
	SiteID    fleet.SiteID
	PrinterID fleet.PrinterID
	Since     time.Time
}

// Store keeps alerts and the organisations' rules.
type Store interface {
	// AlertStates returns the newest alert of each rule of printer p of
	// org, active or resolved.
	AlertStates(ctx context.Context, org fleet.OrgID, p fleet.PrinterID) ([]State, error)
	// SaveAlert stores s. With prev 0 it opens a new alert, and is
	// fleet.ErrConflict when the printer has an active alert of the rule in
	// s's organisation.
	// Otherwise it replaces revision prev of the active alert s.ID (s.Revision
	// is prev, or prev+1), and is fleet.ErrConflict when that is no longer
	// what is stored. It never changes acknowledgement or assignment.
	SaveAlert(ctx context.Context, s State, prev int) error
	// AlertRules returns org's custom rules and muted rules.
	AlertRules(ctx context.Context, org fleet.OrgID) (Rules, error)
	// PrinterPlaces returns the key and site of each of devices (printer
	// IDs as org's gateways report them), as the store keeps their
	// records; a printer not stored yet has no site, or is left out.
	PrinterPlaces(ctx context.Context, org fleet.OrgID, devices []fleet.PrinterID) (map[fleet.PrinterID]fleet.PrinterPlace, error)
}

// SweepStore is what the periodic sweep asks of the store, across every
// organisation.
type SweepStore interface {
	Store
	// ActiveAlerts lists the active alerts of rule.
	ActiveAlerts(ctx context.Context, rule fleet.RuleKey) ([]State, error)
	// SilentPrinters lists the printers last seen before before; Since is
	// when they were last seen.
	SilentPrinters(ctx context.Context, before time.Time) ([]Subject, error)
	// StalledPrinters lists the printers seen after seenAfter whose status
	// is printing and whose current job finished its last layer (or, with
	// none yet, started) before before; Since is that time.
	StalledPrinters(ctx context.Context, before, seenAfter time.Time) ([]Subject, error)
}

// Notifier hears of every alert that opens, changes or resolves.
type Notifier interface {
	Notify(ctx context.Context, a fleet.Alert) error
}

// Options tune an Evaluator. The zero value is ready to use.
type Options struct {
	Logger *slog.Logger // nil → discard
	Clock  clock.Clock  // the sweeps' time; nil → the real clock
	// OfflineAfter is how long a printer may be silent; 0 → 10 minutes.
	OfflineAfter time.Duration
	// StallAfter is how long a printing job may finish no layer; 0 → 30 minutes.
	StallAfter time.Duration
	// FaultQuiet is how long after the last fault event a fault alert
	// resolves; 0 → 1 hour.
	FaultQuiet time.Duration
	// FilterWarnPercent and FilterErrorPercent: remaining filter life
	// below which the filter rule warns (0 → 10) and errs (0 → 3).
	FilterWarnPercent, FilterErrorPercent float64
	// SweepEvery is how often Run sweeps; 0 → 1 minute.
	SweepEvery time.Duration
	// SweepFrom, if set, holds the sweeps until the clock reaches it. The
	// demo sets it to the end of the past its clock fills at a day per
	// second: every printer is silent for demo hours between two polls
	// then, and the sweeps, which judge silence by the clock, would open
	// an offline alert for each.
	SweepFrom time.Time
	// StoreWait is how long Apply waits, by failing an envelope so that it
	// is delivered again, for the SQL writer to store a printer new to its
	// organisation, before it evaluates the envelope without that
	// printer's records (and says so in the log); 0 → 10 minutes. The
	// writer stores a printer within moments of its first records; waiting
	// for ever would hold every organisation's alerts behind an envelope
	// whose printer the writer never stores.
	StoreWait time.Duration
	// Degradation, if set, feeds the lamp- and filter-degrading rules.
	Degradation Degradation
	// WaitClock measures StoreWait: the writer's pace is real time even
	// where Clock is a demo's simulated one, which passes ten minutes in
	// a blink while it fills the past. nil → Clock.
	WaitClock clock.Clock
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.OfflineAfter <= 0 {
		o.OfflineAfter = 10 * time.Minute
	}
	if o.StallAfter <= 0 {
		o.StallAfter = 30 * time.Minute
	}
	if o.FaultQuiet <= 0 {
		o.FaultQuiet = time.Hour
	}
	if o.FilterWarnPercent <= 0 {
		o.FilterWarnPercent = 10
	}
	if o.FilterErrorPercent <= 0 {
		o.FilterErrorPercent = 3
	}
	if o.SweepEvery <= 0 {
		o.SweepEvery = time.Minute
	}
	if o.StoreWait <= 0 {
		o.StoreWait = 10 * time.Minute
	}
	if o.WaitClock == nil {
		o.WaitClock = o.Clock
	}
	return o
}

// Evaluator turns records and sweeps into alerts.
type Evaluator struct {
	store  SweepStore
	notify Notifier
	opts   Options
	log    *slog.Logger

	mu sync.Mutex
	// waiting holds when Apply first waited for the writer to store a
	// printer of an envelope, by envelope (see waited).
	waiting map[string]time.Time
}

// NewEvaluator returns an evaluator keeping alerts in st and telling n
// (which may be nil) of every change.
func NewEvaluator(st SweepStore, n Notifier, opts Options) *Evaluator {
	opts = opts.withDefaults()
	return &Evaluator{store: st, notify: n, opts: opts, log: opts.Logger.With("component", "alert"),
		waiting: map[string]time.Time{}}
}

// maxAttempts bounds the retries of a change another node raced with.
const maxAttempts = 4

// Handle evaluates one stream message. It returns nil when the message is
// done with (evaluated, or poison, which the SQL writer reports) and an
// error when it should be redelivered.
func (e *Evaluator) Handle(ctx context.Context, data []byte) error {
	env, err := fleet.DecodeEnvelope(data)
	if err != nil {
		e.log.Debug("skipping message that can never be evaluated", "err", err)
		return nil
	}
	return e.Apply(ctx, env)
}

// HandleBatch evaluates stream messages in order, as ConsumeBatches hands
// them over, and returns nil when all are done with, else each one's
// result as Handle would return it. The messages share the store's
// answers a batch needs: each organisation's rules and printers' places
// are read once, each printer's alerts once (then kept up to date by what
// this batch saves). A message that fails holds the later ones of its
// printers in the batch back (they fail too, and come again after it), so
// that each printer's records are evaluated in order.
func (e *Evaluator) HandleBatch(ctx context.Context, data [][]byte) []error {
	var errs []error
	b := newBatch(data)
	held := map[printerOf]bool{} // printers of the messages that failed
	for i, env := range b.envs {
		if env.OrgID == "" { // poison, which the SQL writer reports
			continue
		}
		err := b.heldBack(env, held)
		if err == nil {
			err = e.evaluate(ctx, env, b)
		}
		if err == nil {
			continue
		}
		for _, r := range env.Records {
			held[printerOf{env.OrgID, r.PrinterID}] = true
		}
		if errs == nil {
			errs = make([]error, len(data))
		}
		errs[i] = err
	}
	return errs
}

// Apply evaluates the records of one envelope.
//
// Alerts are about printers as the store keeps them: a record's printer
// ID, as the gateway reports it, is mapped to the printer's key in the
// envelope's organisation, the key its data is stored under. The key of a
// printer new to the organisation is chosen when the SQL writer, which
// consumes the same stream independently, stores its first records (its
// own ID, unless another organisation's printer has that key, perhaps
// from a message the writer has not applied yet): until then Apply fails,
// so that the envelope is delivered again, for at most Options.StoreWait.
// A record of a printer that belongs to another site is skipped, as the
// store refuses it, and so are records the store refuses for good
// (fleet.StorableRecord), whose printer may never be stored.
func (e *Evaluator) Apply(ctx context.Context, env fleet.Envelope) error {
	return e.evaluate(ctx, env, &batch{envs: []fleet.Envelope{env}})
}

// printerOf is a printer as a gateway of an organisation reports it.
type printerOf struct {
	org fleet.OrgID
	p   fleet.PrinterID
}

// batch is what the envelopes of one batch share: the store's answers,
// read once for all of them.
type batch struct {
	envs   []fleet.Envelope                                       // poison: the zero Envelope
	rules  map[fleet.OrgID]Rules                                  // by organisation, read when first needed
	places map[fleet.OrgID]map[fleet.PrinterID]fleet.PrinterPlace // of every printer of the organisation in envs
	alerts cache                                                  // the alerts of the printers looked at
}

// newBatch decodes data into a batch.
func newBatch(data [][]byte) *batch {
	b := &batch{envs: make([]fleet.Envelope, len(data))}
	for i, d := range data {
		env, err := fleet.DecodeEnvelope(d)
		if err == nil {
			b.envs[i] = env
		}
	}
	return b
}

// heldBack fails env when an earlier message of the batch with one of
// its printers failed.
func (b *batch) heldBack(env fleet.Envelope, held map[printerOf]bool) error {
	if len(held) == 0 {
		return nil
	}
	for _, r := range env.Records {
		if held[printerOf{env.OrgID, r.PrinterID}] {
			return fmt.Errorf("evaluate alerts of %s: printer %s waits for an earlier message", env.OrgID, r.PrinterID)
		}
	}
	return nil
}

// rulesOf returns org's rules, read from st once per batch.
func (b *batch) rulesOf(ctx context.Context, st Store, org fleet.OrgID) (Rules, error) {
	if r, ok := b.rules[org]; ok {
		return r, nil
	}
	r, err := st.AlertRules(ctx, org)
	if err != nil {
		return Rules{}, err
	}
	if b.rules == nil {
		b.rules = map[fleet.OrgID]Rules{}
	}
	b.rules[org] = r
	return r, nil
}

// placesOf returns the places of env's printers: read once for every
// printer of env's organisation in the batch, and again for env's own
// when one of them was not stored then (the SQL writer may have stored it
// since).
func (b *batch) placesOf(ctx context.Context, st Store, env fleet.Envelope) (map[fleet.PrinterID]fleet.PrinterPlace, error) {
	known, ok := b.places[env.OrgID]
	if !ok {
		seen := map[fleet.PrinterID]bool{}
		var devices []fleet.PrinterID
		for _, other := range b.envs {
			if other.OrgID != env.OrgID {
				continue
			}
			for _, r := range other.Records {
				if !seen[r.PrinterID] {
					seen[r.PrinterID] = true
					devices = append(devices, r.PrinterID)
				}
			}
		}
		var err error
		if known, err = st.PrinterPlaces(ctx, env.OrgID, devices); err != nil {
			return nil, err
		}
		if known == nil {
			known = map[fleet.PrinterID]fleet.PrinterPlace{}
		}
		if b.places == nil {
			b.places = map[fleet.OrgID]map[fleet.PrinterID]fleet.PrinterPlace{}
		}
		b.places[env.OrgID] = known
		return known, nil
	}
	var missing []fleet.PrinterID
	for _, r := range env.Records {
		if known[r.PrinterID].SiteID == "" && !slices.Contains(missing, r.PrinterID) {
			missing = append(missing, r.PrinterID)
		}
	}
	if len(missing) == 0 {
		return known, nil
	}
	found, err := st.PrinterPlaces(ctx, env.OrgID, missing)
	if err != nil {
		return nil, err
	}
	maps.Copy(known, found)
	return known, nil
}

// evaluate evaluates the records of env, one envelope of b (see Apply).
func (e *Evaluator) evaluate(ctx context.Context, env fleet.Envelope, b *batch) error {
	rules, err := b.rulesOf(ctx, e.store, env.OrgID)
	if err != nil {
		return fmt.Errorf("evaluate alerts of %s: %w", env.OrgID, err)
	}
	if b.alerts == nil {
		b.alerts = cache{}
	}
	var places map[fleet.PrinterID]fleet.PrinterPlace
	var asked, gaveUp bool // whether this call asked waited, and its answer
	for _, rec := range env.Records {
		findings := append(Findings(rec, env.SiteID, rules, e.opts), e.degradationFindings(rec)...)
		if len(findings) == 0 || fleet.StorableRecord(rec) != nil {
			continue
		}
		if places == nil {
			if places, err = b.placesOf(ctx, e.store, env); err != nil {
				return fmt.Errorf("evaluate alerts of %s: %w", env.OrgID, err)
			}
		}
		pl := places[rec.PrinterID]
		switch {
		case pl.SiteID == "":
			if !asked {
				asked, gaveUp = true, e.waited(env)
			}
			if gaveUp {
				e.log.Error("evaluating without a printer the store has not stored in time: its alerts are lost",
					"org", env.OrgID, "gateway", env.GatewayID, "printer", rec.PrinterID, "waited", e.opts.StoreWait)
				continue
			}
			return fmt.Errorf("evaluate alerts of %s: printer %s is not stored yet", env.OrgID, rec.PrinterID)
		case pl.SiteID != env.SiteID:
			continue
		}
		for _, f := range findings {
			subj := Subject{OrgID: env.OrgID, SiteID: env.SiteID, PrinterID: pl.Key}
			if err := e.apply(ctx, b.alerts, subj, f, rules.IsMuted(f.Rule)); err != nil {
				return fmt.Errorf("evaluate alerts of %s: %w", env.OrgID, err)
			}
		}
	}
	e.done(env)
	return nil
}

// waited reports whether Apply has waited Options.StoreWait for the
// writer to store a printer of env, remembering when it first waited.
// Entries are by the envelope's gateway and first record; one that
// another node finished, after this one waited, is forgotten once it is
// twice as old.
func (e *Evaluator) waited(env fleet.Envelope) bool {
	now := e.opts.WaitClock.Now()
	key := envelopeKey(env)
	e.mu.Lock()
	defer e.mu.Unlock()
	first, ok := e.waiting[key]
	if !ok {
		for k, t := range e.waiting {
			if now.Sub(t) > 2*e.opts.StoreWait {
				delete(e.waiting, k)
			}
		}
		e.waiting[key] = now
		return false
	}
	if now.Sub(first) < e.opts.StoreWait {
		return false
	}
	delete(e.waiting, key)
	return true
}

// done forgets that Apply waited for env.
func (e *Evaluator) done(env fleet.Envelope) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.waiting, envelopeKey(env))
}

func envelopeKey(env fleet.Envelope) string {
	if len(env.Records) == 0 {
		return string(env.GatewayID)
	}
	return fmt.Sprintf("%s:%d", env.GatewayID, env.Records[0].Seq)
}

// Report applies one finding about subj's printer that the evaluator does
// not compute itself (such as RuleUpdateAvailable, from the releases the
// cloud offers): it opens, revises or resolves the alert of f.Rule exactly
// as a record's finding would, honours the organisation's mutes and tells
// the Notifier. A finding observed before the rule's last observation of
// the printer changes nothing.
func (e *Evaluator) Report(ctx context.Context, subj Subject, f Finding) error {
	rules, err := e.store.AlertRules(ctx, subj.OrgID)
	if err == nil {
		err = e.apply(ctx, cache{}, subj, f, rules.IsMuted(f.Rule))
	}
	if err != nil {
		return fmt.Errorf("report %s of %s: %w", f.Rule, subj.PrinterID, err)
	}
	return nil
}

// cache holds the alert states of the printers one envelope or sweep has
// looked at.
type cache map[fleet.PrinterID]map[fleet.RuleKey]State

func (e *Evaluator) states(ctx context.Context, c cache, org fleet.OrgID, p fleet.PrinterID) (map[fleet.RuleKey]State, error) {
	if m, ok := c[p]; ok {
		return m, nil
	}
	list, err := e.store.AlertStates(ctx, org, p)
	if err != nil {
		return nil, err
	}
	m := make(map[fleet.RuleKey]State, len(list))
	for _, s := range list {
		m[s.Rule] = s
	}
	c[p] = m
	return m, nil
}

// apply brings the alert of (subject, f.Rule) in line with f.
func (e *Evaluator) apply(ctx context.Context, c cache, subj Subject, f Finding, muted bool) error {
	for attempt := 1; ; attempt++ {
		m, err := e.states(ctx, c, subj.OrgID, subj.PrinterID)
		if err != nil {
			return err
		}
		cur, exists := m[f.Rule]
		ch, ok := decide(cur, exists, f, muted, subj)
		if !ok {
			return nil
		}
		if ch.next.ID == "" {
			id, err := fleet.NewID("alr_")
			if err != nil {
				return err
			}
			ch.next.ID = fleet.AlertID(id)
		}
		err = e.store.SaveAlert(ctx, ch.next, ch.prev)
		if errors.Is(err, fleet.ErrConflict) && attempt < maxAttempts {
			delete(c, subj.PrinterID) // another node changed it: look again
			continue
		}
		if err != nil {
			return fmt.Errorf("save alert %s of %s: %w", f.Rule, subj.PrinterID, err)
		}
		if ch.next.PrinterName == "" {
			// A new alert knows its printer by ID only; the store names
			// it, for the e-mails and webhooks that tell people of it.
			ch.next.PrinterName = e.printerName(ctx, subj, ch.next.ID)
		}
		m[f.Rule] = ch.next
		if ch.notify && e.notify != nil {
			if err := e.notify.Notify(ctx, ch.next.Alert); err != nil {
				// The alert is stored and shown; a redelivery would not
				// notify again, so say so rather than retry.
				e.log.Error("notify", "alert", ch.next.ID, "revision", ch.next.Revision, "err", err)
			}
		}
		return nil
	}
}

// printerName is the name the store gives the printer of alert id, or ""
// when it cannot say (the notification then names the printer by ID).
func (e *Evaluator) printerName(ctx context.Context, subj Subject, id fleet.AlertID) string {
	states, err := e.store.AlertStates(ctx, subj.OrgID, subj.PrinterID)
	if err != nil {
		e.log.Warn("printer name for a notification", "printer", subj.PrinterID, "err", err)
		return ""
	}
	for _, s := range states {
		if s.ID == id {
			return s.PrinterName
		}
	}
	return ""
}

// change is a decided write: the new state, the revision it replaces (0
// for a new alert) and whether people hear of it.
type change struct {
	next   State
	prev   int
	notify bool
}

// decide is the heart of the evaluator: given the newest alert of a rule
// (exists false: none ever) and a finding, what to store. ok is false when
// nothing changes.
func decide(cur State, exists bool, f Finding, muted bool, subj Subject) (ch change, ok bool) {
	if exists && f.At.Before(cur.Seen) {
		return change{}, false // older than what the rule already saw: a replay
	}
	active := exists && cur.Active()
	switch {
	case f.Holds && !active:
		if muted {
			return change{}, false
		}
		return change{next: State{Alert: fleet.Alert{
			OrgID: subj.OrgID, SiteID: subj.SiteID, PrinterID: subj.PrinterID, Rule: f.Rule,
			Severity: f.Severity, Title: f.Title, Detail: f.Detail,
			Opened: f.At, Updated: f.At, Revision: 1,
		}, Seen: f.At}, notify: true}, true
	case f.Holds && active:
		next := cur
		next.Seen = f.At
		if cur.Matches(f) {
			if !f.Touch || !f.At.After(cur.Seen) {
				return change{}, false
			}
			return change{next: next, prev: cur.Revision}, true
		}
		if muted {
			return change{}, false
		}
		next.Severity, next.Title, next.Detail = f.Severity, f.Title, f.Detail
		next.Updated = f.At
		next.Revision++
		return change{next: next, prev: cur.Revision, notify: true}, true
	case !f.Holds && active:
		next := cur
		next.Seen, next.Updated, next.Resolved = f.At, f.At, f.At
		next.Revision++
		return change{next: next, prev: cur.Revision, notify: !muted}, true
	}
	return change{}, false
}

// Sweep looks for what no record says: printers gone silent, jobs that
// stopped moving, faults that went quiet. It opens and resolves alerts as
// of the clock's now.
func (e *Evaluator) Sweep(ctx context.Context) error {
	now := e.opts.Clock.Now()
	if now.Before(e.opts.SweepFrom) {
		return nil
	}
	rules := map[fleet.OrgID]Rules{}
	muted := func(org fleet.OrgID, k fleet.RuleKey) (bool, error) {
		r, ok := rules[org]
		if !ok {
			var err error
			if r, err = e.store.AlertRules(ctx, org); err != nil {
				return false, err
			}
			rules[org] = r
		}
		return r.IsMuted(k), nil
	}
	c := cache{}
	sweeps := []struct {
		rule   fleet.RuleKey
		find   func() ([]Subject, error)
		holds  func(Subject) Finding
		stayOK func(State) bool // an active alert with no subject stays
	}{
		{RuleOffline, func() ([]Subject, error) { return e.store.SilentPrinters(ctx, now.Add(-e.opts.OfflineAfter)) },
			func(Subject) Finding {
				return Finding{Rule: RuleOffline, At: now, Holds: true, Severity: fleet.SeverityWarning,
					Title: "Printer offline", Detail: "no report for more than " + duration(e.opts.OfflineAfter)}
			}, nil},
		{RuleStalledJob, func() ([]Subject, error) {
			return e.store.StalledPrinters(ctx, now.Add(-e.opts.StallAfter), now.Add(-e.opts.OfflineAfter))
		}, func(Subject) Finding {
			return Finding{Rule: RuleStalledJob, At: now, Holds: true, Severity: fleet.SeverityWarning,
				Title: "Job stalled", Detail: "printing, but no layer finished for more than " + duration(e.opts.StallAfter)}
		}, nil},
		{RuleFaultEvent, func() ([]Subject, error) { return nil, nil }, nil,
			func(s State) bool { return s.Seen.After(now.Add(-e.opts.FaultQuiet)) }},
	}
	var errs []error
	for _, sw := range sweeps {
		subjects, err := sw.find()
		if err != nil {
			errs = append(errs, fmt.Errorf("sweep %s: %w", sw.rule, err))
			continue
		}
		found := map[fleet.PrinterID]bool{}
		for _, s := range subjects {
			found[s.PrinterID] = true
			m, err := muted(s.OrgID, sw.rule)
			if err == nil {
				err = e.apply(ctx, c, s, sw.holds(s), m)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("sweep %s: %w", sw.rule, err))
			}
		}
		active, err := e.store.ActiveAlerts(ctx, sw.rule)
		if err != nil {
			errs = append(errs, fmt.Errorf("sweep %s: %w", sw.rule, err))
			continue
		}
		for _, a := range active {
			if found[a.PrinterID] || (sw.stayOK != nil && sw.stayOK(a)) {
				continue
			}
			s := Subject{OrgID: a.OrgID, SiteID: a.SiteID, PrinterID: a.PrinterID}
			m, err := muted(a.OrgID, sw.rule)
			if err == nil {
				err = e.apply(ctx, c, s, Finding{Rule: sw.rule, At: now}, m)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("sweep %s: %w", sw.rule, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Run sweeps every Options.SweepEvery until ctx is done, then returns nil.
func (e *Evaluator) Run(ctx context.Context) error {
	t := time.NewTicker(e.opts.SweepEvery)
	defer t.Stop()
	for {
		if err := e.Sweep(ctx); err != nil && ctx.Err() == nil {
			e.log.Warn("sweep", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
