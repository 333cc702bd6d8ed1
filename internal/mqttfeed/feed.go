package mqttfeed

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/backoff"
	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/privacy"
)

// Defaults of Options.
const (
	DefaultPrefix     = "fusionfleet"
	DefaultQueueLimit = 10000
	defaultInterval   = time.Second
	defaultTimeout    = 10 * time.Second
	// jobSlack is how far before the newest job change it saw the feed
	// asks the store again (Store.JobsSince): the polls of several
	// printers are stored together, a little out of the order of reading.
	jobSlack = 10 * time.Minute
	// readBatch is how many events or jobs one read of the store takes.
	readBatch = 1000
)

// Source is the Command Center's local truth as the feed reads it;
// *commandcenter.Store is one.
type Source interface {
	Printers(ctx context.Context) ([]commandcenter.Printer, error)
	EventsAfter(ctx context.Context, after int64, limit int) ([]commandcenter.LocalEvent, int64, error)
	JobsSince(ctx context.Context, since time.Time, limit int) ([]commandcenter.LocalJob, error)
}

// Options configure a Feed. URL is required; the zero value of every other
// field works.
type Options struct {
	// URL is the broker: mqtt://host[:port] (port 1883 by default) or
	// mqtts://host[:port] (TLS, port 8883), with no user or password in it.
	URL string
	// Username and Password log in to the broker; "" → anonymous.
	Username, Password string
	// RootCAs verify an mqtts broker; nil → the system's.
	RootCAs *x509.CertPool
	// Prefix is the first level(s) of every topic; "" → DefaultPrefix.
	Prefix string
	// ClientID is the feed's MQTT client identifier; "" → "fusionfleet".
	ClientID string
	// AllowList builds every payload by the uplink's privacy allow-list,
	// as if it left the site; false → the names stay, as on the local UI.
	AllowList bool
	// QueueLimit is how many events and job changes wait for a broker that
	// is away before the oldest are dropped; 0 → DefaultQueueLimit. The
	// printers' states wait regardless (one per printer).
	QueueLimit int
	// Interval is how often the store is read; 0 → 1 s.
	Interval time.Duration
	// Timeout bounds connecting and each publication's acknowledgement;
	// 0 → 10 s.
	Timeout time.Duration
	// Backoff paces the attempts to reach a broker that is down or refuses
	// the feed; zero → from 1 s doubling to 1 min, jittered by half.
	Backoff backoff.Policy
	Clock   clock.Clock  // nil → the real clock
	Logger  *slog.Logger // nil → discard

	// dial connects to the broker (tests: a fake); nil → the Paho client.
	dial dialFunc
}

// State is how the feed fares, for the local UI.
type State struct {
	Broker    string `json:"broker"` // Options.URL
	Prefix    string `json:"prefix"`
	Connected bool   `json:"connected"`
	// Since is when the feed connected, or, while not connected, when it
	// first failed to; zero before its first attempt ended.
	Since       time.Time `json:"since,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	Queued      int       `json:"queued"`    // messages waiting for the broker
	Dropped     uint64    `json:"dropped"`   // events and job changes dropped from a full queue
	Published   uint64    `json:"published"` // messages the broker acknowledged
}

// Feed publishes a Command Center's local truth to an MQTT broker. Make one
// with New and run it with Run.
type Feed struct {
	src    Source
	opts   Options
	log    *slog.Logger
	topics topics
	pay    payloads
	q      *queue

	mu    sync.Mutex
	state State

	// What the reader of the store has seen; used by its goroutine only.
	// started: the positions are set; jobsSeeded: the jobs changed
	// shortly before the start are noted as seen.
	started    bool
	jobsSeeded bool
	eventPos   int64
	jobsFrom   time.Time
	jobsSeen   map[jobKey]jobSeen
	keys       map[int64]fleet.PrinterID // printers' local IDs → their IDs
}

type jobKey struct {
	printer int64
	id      string
}

type jobSeen struct {
	seq     uint64
	updated time.Time
}

// ParseURL checks a broker URL (Options.URL) and returns its host:port
// and whether it asks for TLS.
func ParseURL(s string) (hostport string, useTLS bool, err error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", false, fmt.Errorf("mqtt broker URL: %w", err)
	}
	port := "1883"
	switch u.Scheme {
	case "mqtt":
	case "mqtts":
		port, useTLS = "8883", true
	default:
		return "", false, fmt.Errorf("mqtt broker URL %q: want mqtt://host[:port] or mqtts://host[:port]", s)
	}
	if u.User != nil {
		return "", false, errors.New("mqtt broker URL: no user or password in the URL; give them apart (the password from a file or the environment)")
	}
	if u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", false, fmt.Errorf("mqtt broker URL %q: want mqtt://host[:port] or mqtts://host[:port]", s)
	}
	if p := u.Port(); p != "" {
		port = p
	}
	return net.JoinHostPort(u.Hostname(), port), useTLS, nil
}

// Validate checks the broker URL and the topic prefix, so that a
// Command Center refuses a bad feed before it starts anything.
func (o Options) Validate() error {
	if _, _, err := ParseURL(o.URL); err != nil {
		return err
	}
	if o.Prefix != "" {
		return checkPrefix(o.Prefix)
	}
	return nil
}

// New returns a feed of src to the broker at opts.URL. It connects at Run.
func New(src Source, opts Options) (*Feed, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	hostport, useTLS, err := ParseURL(opts.URL)
	if err != nil {
		return nil, err
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.ClientID == "" {
		opts.ClientID = "fusionfleet"
	}
	if opts.QueueLimit <= 0 {
		opts.QueueLimit = DefaultQueueLimit
	}
	if opts.Interval <= 0 {
		opts.Interval = defaultInterval
	}
	if opts.Timeout <= 0 {
		opts.Timeout = defaultTimeout
	}
	if opts.Backoff.Base <= 0 {
		opts.Backoff = backoff.Policy{Base: time.Second, Max: time.Minute, Jitter: 0.5}
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.dial == nil {
		opts.dial = pahoDialer(hostport, useTLS, opts)
	}
	f := &Feed{
		src: src, opts: opts, log: opts.Logger.With("component", "mqtt"),
		topics: topics{opts.Prefix}, pay: payloads{allowList: opts.AllowList, names: privacy.NewNames(0)},
		q: newQueue(opts.QueueLimit), jobsSeen: map[jobKey]jobSeen{}, keys: map[int64]fleet.PrinterID{},
	}
	f.state = State{Broker: opts.URL, Prefix: opts.Prefix}
	return f, nil
}

// checkPrefix refuses a topic prefix MQTT would refuse to publish under.
func checkPrefix(p string) error {
	for _, r := range p {
		if r == '+' || r == '#' || r == 0 {
			return fmt.Errorf("mqtt topic prefix %q: no wildcards (+, #)", p)
		}
	}
	if p[0] == '/' || p[len(p)-1] == '/' {
		return fmt.Errorf("mqtt topic prefix %q: no leading or trailing /", p)
	}
	return nil
}

// State returns how the feed fares.
func (f *Feed) State() State {
	f.mu.Lock()
	s := f.state
	f.mu.Unlock()
	s.Queued, s.Dropped = f.q.size()
	return s
}

// Run reads the store and publishes until ctx ends; it returns nil then. A
// broker that is down or refuses the feed is retried with backoff and
// never ends Run: the rest of the Command Center goes on regardless.
func (f *Feed) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { f.follow(ctx) })
	f.publish(ctx)
	wg.Wait()
	return nil
}

// follow reads the store every Interval into the queue.
func (f *Feed) follow(ctx context.Context) {
	t := time.NewTicker(clock.Wall(f.opts.Clock, f.opts.Interval))
	defer t.Stop()
	for {
		if err := f.read(ctx); err != nil && ctx.Err() == nil {
			f.log.Warn("mqtt feed: read the local store", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// read queues what changed in the store since the last read: every
// printer's state (when it changed), new events and job changes. The
// first read starts from the present: the history before it is not sent.
func (f *Feed) read(ctx context.Context) error {
	if !f.started {
		_, pos, err := f.src.EventsAfter(ctx, -1, 0)
		if err != nil {
			return err
		}
		f.eventPos, f.jobsFrom = pos, f.opts.Clock.Now()
		f.started = true
	}
	printers, err := f.src.Printers(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range printers {
		if p.Identity == nil {
			continue // never reached: nothing to say yet
		}
		f.keys[p.ID] = p.Identity.PrinterID
		f.pay.learnStatus(p.Status)
		b, err := f.pay.state(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("printer %d: %w", p.ID, err))
			continue
		}
		f.q.setState(f.topics.printer(p.Identity.PrinterID, "state"), b)
	}
	if err := f.readJobs(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := f.readEvents(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (f *Feed) readEvents(ctx context.Context) error {
	for {
		evs, pos, err := f.src.EventsAfter(ctx, f.eventPos, readBatch)
		if err != nil {
			return err
		}
		for _, e := range evs {
			id, ok := f.keys[e.Printer]
			if !ok {
				continue
			}
			b, err := f.pay.event(id, e)
			if err != nil {
				return fmt.Errorf("event %d of printer %d: %w", e.Event.Seq, e.Printer, err)
			}
			f.q.push(f.topics.printer(id, "events"), b)
		}
		f.eventPos = pos
		if len(evs) < readBatch {
			return nil
		}
	}
}

// readJobs queues the job changes not seen before; the first read only
// notes those of the last jobSlack as seen.
func (f *Feed) readJobs(ctx context.Context) error {
	jobs, err := f.src.JobsSince(ctx, f.jobsFrom.Add(-jobSlack), readBatch)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		k := jobKey{j.Printer, j.Job.ID}
		if seen, ok := f.jobsSeen[k]; ok && seen.seq >= j.Job.Seq {
			continue
		}
		f.jobsSeen[k] = jobSeen{j.Job.Seq, j.Updated}
		if j.Updated.After(f.jobsFrom) {
			f.jobsFrom = j.Updated
		}
		f.pay.learnJob(j.Job)
		id, ok := f.keys[j.Printer]
		if !f.jobsSeeded || !ok {
			continue
		}
		b, err := f.pay.job(id, j)
		if err != nil {
			return fmt.Errorf("job %s of printer %d: %w", j.Job.ID, j.Printer, err)
		}
		f.q.push(f.topics.printer(id, "jobs"), b)
	}
	for k, seen := range f.jobsSeen {
		if seen.updated.Before(f.jobsFrom.Add(-jobSlack)) {
			delete(f.jobsSeen, k)
		}
	}
	f.jobsSeeded = true
	return nil
}

// publish connects to the broker and drains the queue into it, again and
// again, with backoff between failures, until ctx ends.
func (f *Feed) publish(ctx context.Context) {
	failures := 0
	for {
		err := f.session(ctx, &failures)
		if ctx.Err() != nil {
			return
		}
		failures++
		f.failed(err)
		wait := f.opts.Backoff.Delay(failures)
		f.log.Debug("mqtt feed: retrying", "in", wait, "err", err)
		t := time.NewTimer(clock.Wall(f.opts.Clock, wait))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// session is one connection to the broker: the birth message, every
// printer's state, then the queue as it fills, until the connection fails
// (its error) or ctx ends (nil, after the farewell). A birth message
// acknowledged resets failures.
func (f *Feed) session(ctx context.Context, failures *int) error {
	will, err := f.status("offline", time.Time{}, "connection lost")
	if err != nil {
		return err
	}
	s, err := f.opts.dial(ctx, will)
	if err != nil {
		return err
	}
	birth, err := f.status("online", f.opts.Clock.Now(), "")
	if err == nil {
		err = s.publish(ctx, birth)
	}
	if err != nil {
		s.close(nil)
		return fmt.Errorf("birth message: %w", err)
	}
	*failures = 0
	f.connected()
	f.acknowledged()
	f.q.resend()
	for {
		m, ok := f.q.next()
		if !ok {
			select {
			case <-ctx.Done():
			case <-s.lost():
			case <-f.q.wake:
				continue
			}
		} else if err := s.publish(ctx, m); err == nil {
			f.q.done(m)
			f.acknowledged()
			continue
		} else if ctx.Err() == nil {
			s.close(nil)
			return err
		}
		if ctx.Err() != nil {
			bye, err := f.status("offline", f.opts.Clock.Now(), "stopped")
			if err != nil {
				s.close(nil)
				return err
			}
			s.close(&bye)
			return nil
		}
		err := s.err()
		s.close(nil)
		return err
	}
}

// status is the Command Center's status message, retained.
func (f *Feed) status(state string, since time.Time, reason string) (message, error) {
	b, err := json.Marshal(statusPayload{State: state, Since: since, Reason: reason})
	return message{topic: f.topics.status(), payload: b, retained: true}, err
}

func (f *Feed) connected() {
	now := f.opts.Clock.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state.Connected, f.state.Since = true, now
	f.log.Info("mqtt feed: connected", "broker", f.opts.URL, "prefix", f.opts.Prefix)
}

func (f *Feed) acknowledged() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state.Published++
}

func (f *Feed) failed(err error) {
	now := f.opts.Clock.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.state.Connected || f.state.Since.IsZero() {
		f.state.Since = now
		f.log.Warn("mqtt feed: broker not reached; retrying with backoff", "broker", f.opts.URL, "err", err)
	}
	f.state.Connected = false
	f.state.LastError, f.state.LastErrorAt = err.Error(), now
}
