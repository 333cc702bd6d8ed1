package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/backoff"
	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"golang.org/x/sync/errgroup"
)

// Store is what the dispatcher needs from the cloud store.
type Store interface {
	// Recipients lists where an alert of org at site may go.
	Recipients(ctx context.Context, org fleet.OrgID, site fleet.SiteID) ([]fleet.Recipient, error)
	// EnqueueDeliveries queues deliveries, skipping those already queued.
	EnqueueDeliveries(ctx context.Context, ds []fleet.Delivery) (int, error)
	// ClaimDeliveries takes due deliveries for a while.
	ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]fleet.Delivery, error)
	// RecordAttempt logs an attempt and moves its delivery on.
	RecordAttempt(ctx context.Context, a fleet.DeliveryAttempt, next time.Time) error
	// PruneDeliveries forgets finished deliveries created before cutoff.
	PruneDeliveries(ctx context.Context, cutoff time.Time) (int64, error)
}

// SMTPOptions configure the mail server e-mails go through. Without Addr
// no e-mail is sent (and none is queued).
type SMTPOptions struct {
	// Addr is the server's host:port.
	Addr string
	// From is the sender's bare address ("alerts@example.com").
	From string
	// StartTLS upgrades the connection with STARTTLS and refuses a server
	// that does not offer it. TLSConfig (optional) sets the RootCAs; its
	// ServerName defaults to Addr's host.
	StartTLS  bool
	TLSConfig *tls.Config
	// PasswordFile, if set, names a file holding the password for PLAIN
	// authentication as Username (default: From). It is read for every
	// message, so it can be rotated. net/smtp refuses to send it over an
	// unencrypted connection except to localhost.
	Username     string
	PasswordFile string
	// HelloName is sent in EHLO; default "localhost".
	HelloName string
	// Timeout bounds one whole SMTP conversation; default 30 s.
	Timeout time.Duration
}

// Options tune a dispatcher. The zero value works: real clock, no logs,
// no e-mail, webhooks only to public addresses.
type Options struct {
	Clock clock.Clock
	// WireClock is the time written on the wire: webhook signature
	// timestamps and e-mail Date headers, which receivers check against
	// their own clocks; nil → Clock. The cloud sets the real clock here,
	// so that a demo, whose Clock runs fast, still sends times receivers
	// accept.
	WireClock clock.Clock
	Logger    *slog.Logger
	// Rand returns a number in [0, 1) for the jitter of retry delays;
	// default math/rand/v2.
	Rand func() float64

	SMTP SMTPOptions

	// WebhookTLS (optional) sets the RootCAs webhook servers are checked
	// against; default the system's.
	WebhookTLS *tls.Config
	// WebhookTimeout bounds one webhook request; default 10 s.
	WebhookTimeout time.Duration
	// MaxResponseBytes is how much of a webhook's answer is read; default
	// 64 KiB.
	MaxResponseBytes int64
	// AllowPrivateWebhooks lets webhooks reach loopback, private,
	// link-local and every other special-purpose address (the IANA
	// registries, see checkPublic). Off, such addresses are refused when
	// connecting (after name resolution), so that a webhook cannot be used
	// to probe the cloud's own network. Tests and closed on-premises
	// installations turn it on.
	AllowPrivateWebhooks bool
	// WebhookResolver (optional) looks up webhook host names; default the
	// system's. Every address it returns is checked before connecting.
	WebhookResolver *net.Resolver

	// BaseDelay is the delay after a first failure; it doubles with each
	// further failure up to MaxDelay, each with up to half of it taken off
	// at random (jitter). Defaults 30 s and 1 h.
	BaseDelay, MaxDelay time.Duration
	// MaxAge is how long a delivery is tried before it is given up;
	// default 24 h.
	MaxAge time.Duration
	// Lease is how long a claimed delivery belongs to this node; it must
	// exceed the SMTP and webhook timeouts. Default 5 min.
	Lease time.Duration
	// PollEvery is how often Run looks for due deliveries; default 5 s.
	PollEvery time.Duration
	// Workers is how many deliveries are sent at once; default 4.
	Workers int
	// KeepLog is how long finished deliveries stay in the log; default
	// 90 days.
	KeepLog time.Duration
	// DashboardURL (optional) is linked from e-mails ("https://fleet.example.com").
	DashboardURL string
}

const (
	defaultSMTPTimeout    = 30 * time.Second
	defaultWebhookTimeout = 10 * time.Second
	defaultMaxResponse    = 64 << 10
	defaultBaseDelay      = 30 * time.Second
	defaultMaxDelay       = time.Hour
	defaultMaxAge         = 24 * time.Hour
	defaultLease          = 5 * time.Minute
	defaultPollEvery      = 5 * time.Second
	defaultWorkers        = 4
	defaultKeepLog        = 90 * 24 * time.Hour
	claimBatch            = 16
	pruneEvery            = time.Hour
	maxErrorLen           = 300
)

// Dispatcher queues and sends notifications. It is safe for concurrent
// use; run one Run per process (several processes may share a store).
type Dispatcher struct {
	st     Store
	opts   Options
	clock  clock.Clock
	log    *slog.Logger
	rand   func() float64
	client *http.Client
	wake   chan struct{}

	mu         sync.Mutex
	lastPruned time.Time
}

// New returns a dispatcher over st. It checks the SMTP settings: a From
// address is needed with Addr, and the password file must be readable.
func New(st Store, opts Options) (*Dispatcher, error) {
	o := opts
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.WireClock == nil {
		o.WireClock = o.Clock
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	setDefault(&o.SMTP.Timeout, defaultSMTPTimeout)
	setDefault(&o.WebhookTimeout, defaultWebhookTimeout)
	setDefault(&o.BaseDelay, defaultBaseDelay)
	setDefault(&o.MaxDelay, defaultMaxDelay)
	setDefault(&o.MaxAge, defaultMaxAge)
	setDefault(&o.Lease, defaultLease)
	setDefault(&o.PollEvery, defaultPollEvery)
	setDefault(&o.KeepLog, defaultKeepLog)
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = defaultMaxResponse
	}
	if o.Workers <= 0 {
		o.Workers = defaultWorkers
	}
	if o.SMTP.HelloName == "" {
		o.SMTP.HelloName = "localhost"
	}
	if o.SMTP.Username == "" {
		o.SMTP.Username = o.SMTP.From
	}
	o.DashboardURL = strings.TrimRight(o.DashboardURL, "/")
	if o.SMTP.Addr != "" {
		if err := fleet.ValidEmail(o.SMTP.From); err != nil {
			return nil, fmt.Errorf("notify: smtp sender: %w", err)
		}
		if o.SMTP.PasswordFile != "" {
			if _, err := readPassword(o.SMTP.PasswordFile); err != nil {
				return nil, fmt.Errorf("notify: %w", err)
			}
		}
	}
	if o.Lease <= o.SMTP.Timeout || o.Lease <= o.WebhookTimeout {
		return nil, fmt.Errorf("notify: lease %v must exceed the SMTP and webhook timeouts", o.Lease)
	}
	return &Dispatcher{
		st:     st,
		opts:   o,
		clock:  o.Clock,
		log:    o.Logger.With("component", "notify"),
		rand:   o.Rand,
		client: newWebhookClient(o),
		wake:   make(chan struct{}, 1),
	}, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// EmailEnabled reports whether e-mails are sent at all.
func (d *Dispatcher) EmailEnabled() bool { return d.opts.SMTP.Addr != "" }

// Notify queues the notifications of one revision of an alert: one
// delivery per recipient of its organisation whose minimum severity it
// reaches (e-mail ones only when e-mail is configured). Queuing a revision
// again is a no-op, so callers may retry and several nodes may notify the
// same alert. It returns once the deliveries are stored; Run sends them.
func (d *Dispatcher) Notify(ctx context.Context, a fleet.Alert) error {
	if err := a.Validate(); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	rs, err := d.st.Recipients(ctx, a.OrgID, a.SiteID)
	if err != nil {
		return fmt.Errorf("notify %s: %w", a.ID, err)
	}
	now := d.clock.Now()
	var ds []fleet.Delivery
	for _, r := range rs {
		if a.Severity < r.MinSeverity || (r.Kind == fleet.ChannelEmail && !d.EmailEnabled()) {
			continue
		}
		ds = append(ds, fleet.Delivery{OrgID: a.OrgID, Alert: a, Recipient: r, NextAt: now, Created: now})
	}
	return d.enqueue(ctx, ds)
}

// TestRule is the rule of the made-up alert a channel test sends.
const TestRule fleet.RuleKey = "test"

// SendTest queues a made-up alert to one channel, so that an
// administrator can see it arrive. Each call sends a new test.
func (d *Dispatcher) SendTest(ctx context.Context, c fleet.NotifyChannel) error {
	return d.enqueue(ctx, []fleet.Delivery{TestDelivery(c, d.clock.Now())})
}

// TestDelivery returns a delivery of a made-up alert to channel c, due at
// now.
func TestDelivery(c fleet.NotifyChannel, now time.Time) fleet.Delivery {
	a := fleet.Alert{
		ID: fleet.AlertID(fmt.Sprintf("test_%s_%d", c.ID, now.UnixNano())), OrgID: c.OrgID,
		PrinterID: "printer-test", PrinterName: "Test printer", Rule: TestRule, Severity: max(c.MinSeverity, fleet.SeverityInfo),
		Title: "Test notification", Detail: "This is a test of a notification channel. No printer is affected.",
		Opened: now, Updated: now, Revision: 1,
	}
	r := fleet.Recipient{Key: "channel:" + string(c.ID), Kind: c.Kind, Target: c.Target, ChannelID: c.ID}
	return fleet.Delivery{OrgID: c.OrgID, Alert: a, Recipient: r, NextAt: now, Created: now}
}

func (d *Dispatcher) enqueue(ctx context.Context, ds []fleet.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	n, err := d.st.EnqueueDeliveries(ctx, ds)
	if err != nil {
		return fmt.Errorf("notify %s: %w", ds[0].Alert.ID, err)
	}
	if n > 0 {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// Run sends due deliveries until ctx is done, then returns nil. It looks
// every Options.PollEvery, and at once after Notify queued something.
func (d *Dispatcher) Run(ctx context.Context) error {
	t := time.NewTicker(d.opts.PollEvery)
	defer t.Stop()
	for {
		if _, err := d.SendDue(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("send due deliveries", "err", err)
		}
		if err := d.prune(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("prune deliveries", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-d.wake:
		}
	}
}

// SendDue sends every delivery due now, Options.Workers at a time, and
// returns how many it attempted.
func (d *Dispatcher) SendDue(ctx context.Context) (int, error) {
	total := 0
	for {
		ds, err := d.st.ClaimDeliveries(ctx, d.clock.Now(), d.opts.Lease, claimBatch)
		if err != nil {
			return total, fmt.Errorf("send due: %w", err)
		}
		var g errgroup.Group
		g.SetLimit(d.opts.Workers)
		for _, dl := range ds {
			g.Go(func() error { return d.attempt(ctx, dl) })
		}
		if err := g.Wait(); err != nil {
			return total, fmt.Errorf("send due: %w", err)
		}
		total += len(ds)
		if len(ds) < claimBatch {
			return total, nil
		}
	}
}

// attempt sends one claimed delivery and records the outcome.
func (d *Dispatcher) attempt(ctx context.Context, dl fleet.Delivery) error {
	err := d.send(ctx, dl)
	now := d.clock.Now()
	a := fleet.DeliveryAttempt{DeliveryID: dl.ID, Attempt: dl.Attempts, At: now, Status: fleet.DeliverySent}
	var next time.Time
	giveUp := dl.Created.Add(d.opts.MaxAge)
	switch {
	case err == nil:
	case errors.As(err, new(permanentError)) || !now.Before(giveUp):
		a.Status, a.Error = fleet.DeliveryFailed, errorText(err)
	default:
		a.Status, a.Error = fleet.DeliveryPending, errorText(err)
		next = now.Add(d.backoff(dl.Attempts))
		if next.After(giveUp) {
			next = giveUp // one last try at the deadline
		}
	}
	log := d.log.With("delivery", dl.ID, "alert", dl.Alert.ID, "revision", dl.Alert.Revision,
		"kind", dl.Recipient.Kind, "attempt", dl.Attempts)
	switch a.Status {
	case fleet.DeliverySent:
		log.Info("delivered")
	case fleet.DeliveryPending:
		log.Warn("delivery failed, will retry", "err", err, "next", next)
	default:
		log.Error("delivery failed, giving up", "err", err)
	}
	if err := d.st.RecordAttempt(ctx, a, next); err != nil {
		return fmt.Errorf("record attempt: %w", err)
	}
	return nil
}

// backoff is the delay after the n-th failed attempt: BaseDelay·2^(n-1),
// at most MaxDelay, less up to half of it at random.
func (d *Dispatcher) backoff(n int) time.Duration {
	return backoff.Policy{Base: d.opts.BaseDelay, Max: d.opts.MaxDelay, Jitter: 0.5, Rand: d.rand}.Delay(n)
}

func (d *Dispatcher) send(ctx context.Context, dl fleet.Delivery) error {
	switch dl.Recipient.Kind {
	case fleet.ChannelEmail:
		return d.sendMail(ctx, dl)
	case fleet.ChannelWebhook:
		return d.sendWebhook(ctx, dl)
	}
	return permanent(fmt.Errorf("unknown channel kind %s", dl.Recipient.Kind))
}

// prune forgets finished deliveries older than KeepLog, at most hourly.
func (d *Dispatcher) prune(ctx context.Context) error {
	now := d.clock.Now()
	d.mu.Lock()
	due := now.Sub(d.lastPruned) >= pruneEvery
	if due {
		d.lastPruned = now
	}
	d.mu.Unlock()
	if !due {
		return nil
	}
	n, err := d.st.PruneDeliveries(ctx, now.Add(-d.opts.KeepLog))
	if n > 0 {
		d.log.Info("pruned deliveries", "count", n)
	}
	return err
}

// permanentError is a failure that retrying cannot fix (a refused
// address, a 4xx answer).
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

func permanent(err error) error { return permanentError{err} }

// errorText is err for the delivery log: one line, bounded.
func errorText(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	if len(s) > maxErrorLen {
		s = strings.ToValidUTF8(s[:maxErrorLen], "") + "…"
	}
	return s
}
