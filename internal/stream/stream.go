package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Options configure Open. The zero value, given a Dir, runs an embedded
// server with the stream "FLEET".
type Options struct {
	// URL of an external NATS server or cluster: one URL or several,
	// comma-separated (nats://a:4222,nats://b:4222), tried in turn; "" starts
	// an embedded nats-server.
	URL string
	// Credentials and TLS authenticate and secure the connection to an
	// external server. The embedded server has no network listener, so
	// both must be zero without a URL.
	Credentials Credentials
	TLS         TLS
	// Dir is the embedded server's JetStream store directory; required when
	// URL is "".
	Dir string
	// Replicas of the stream in a cluster; 0 → 1. The embedded server is
	// a single node and refuses more than 1.
	Replicas int
	// Name of the stream; "" → "FLEET". Its subject is "<name lowercased>.batches".
	Name string
	// MaxAge is how long the stream keeps a message; 0 → 7 days, time for a
	// stopped consumer to catch up.
	MaxAge time.Duration
	// Logger receives the embedded server's warnings and errors (and its
	// notices at debug level); nil → discard.
	Logger *slog.Logger
	// Metrics receives publish latencies, consumer lag and redeliveries;
	// the zero value records nothing.
	Metrics Metrics
}

const (
	// embeddedMaxPayload is the embedded server's largest message.
	embeddedMaxPayload = 8 << 20
	dedupeWindow       = 10 * time.Minute
	drainTimeout       = 10 * time.Second
)

var validName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Stream is an open connection to the fleet stream. Safe for concurrent use.
type Stream struct {
	srv     *server.Server // nil when external
	nc      *nats.Conn
	js      jetstream.JetStream
	name    string
	subject string
	url     string
	// connOpts reach the server: in-process for the embedded one,
	// credentials and TLS for an external one.
	connOpts []nats.Option
	log      *slog.Logger
	closed   chan struct{} // closed when the connection is closed

	// nakDelay is how long a failed message waits before redelivery.
	nakDelay time.Duration
	// ackWait is how long a delivered message may go unacknowledged (the
	// callback still running says so) before it is delivered again, e.g.
	// after its node died.
	ackWait time.Duration
	// lagInterval is how often Consume reads its consumer's lag while no
	// message arrives.
	lagInterval time.Duration
	m           Metrics

	closeOnce sync.Once
	closeErr  error
}

// Open connects to NATS (starting an embedded server when opts.URL is "")
// and creates or updates the stream.
func Open(ctx context.Context, opts Options) (*Stream, error) {
	if opts.Name == "" {
		opts.Name = "FLEET"
	}
	if !validName.MatchString(opts.Name) {
		return nil, fmt.Errorf("open stream: name %q: want 1 to 64 letters, digits, '_' or '-'", opts.Name)
	}
	if opts.Replicas <= 0 {
		opts.Replicas = 1
	}
	if opts.URL == "" && opts.Replicas > 1 {
		return nil, fmt.Errorf("open stream: %d replicas need a NATS cluster (an external URL); the embedded server is a single node and keeps 1", opts.Replicas)
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = 7 * 24 * time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Stream{
		name:        opts.Name,
		subject:     strings.ToLower(opts.Name) + ".batches",
		url:         opts.URL,
		log:         opts.Logger.With("component", "stream"),
		closed:      make(chan struct{}),
		nakDelay:    time.Second,
		ackWait:     30 * time.Second,
		lagInterval: 5 * time.Second,
		m:           opts.Metrics,
	}
	if opts.URL == "" {
		if opts.Credentials != (Credentials{}) || opts.TLS != (TLS{}) {
			return nil, errors.New("open stream: NATS credentials and TLS are for an external server (a URL); the embedded one has no network listener")
		}
		srv, err := startEmbedded(ctx, opts.Dir, s.log)
		if err != nil {
			return nil, fmt.Errorf("open stream: %w", err)
		}
		s.srv = srv
		s.connOpts = []nats.Option{nats.InProcessServer(srv)}
	} else {
		var err error
		if s.connOpts, err = natsOptions(opts.Credentials, opts.TLS); err != nil {
			return nil, fmt.Errorf("open stream: %w", err)
		}
	}
	nc, err := s.Connect(
		nats.Name("fusionfleet"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.ClosedHandler(func(*nats.Conn) { close(s.closed) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				s.log.Warn("disconnected from NATS", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { s.log.Info("reconnected to NATS", "url", c.ConnectedUrlRedacted()) }),
	)
	if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked) {
		err = fmt.Errorf("the server refused the credentials given (none, or wrong ones): %w", err)
	}
	if err != nil {
		s.shutdownServer()
		return nil, fmt.Errorf("open stream: connect to NATS: %w", err)
	}
	s.nc = nc
	js, err := jetstream.New(nc)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("open stream: %w", err)
	}
	s.js = js
	err = retrySetup(ctx, s.log, "create stream "+s.name, setupPatience, func(ctx context.Context) error {
		_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name:       s.name,
			Subjects:   []string{s.subject},
			Storage:    jetstream.FileStorage,
			Duplicates: dedupeWindow,
			Replicas:   opts.Replicas,
			MaxAge:     opts.MaxAge,
		})
		return err
	})
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("open stream: create stream %s: %w", s.name, err)
	}
	return s, nil
}

func startEmbedded(ctx context.Context, dir string, log *slog.Logger) (*server.Server, error) {
	if dir == "" {
		return nil, errors.New("embedded NATS needs a store directory")
	}
	// No network listener: the node talks to its server over an
	// in-process pipe (nats.InProcessServer), as nats-server is meant to
	// be embedded. A listener, even on a random loopback port, is open to
	// every process and user of the host: they could read every
	// organisation's batches, purge the stream or publish forged batches
	// past the uplink's checks. A password would guard it only as well as
	// it is kept; with no listener there is nothing to guard.
	srv, err := server.NewServer(&server.Options{
		ServerName: "fusionfleet",
		DontListen: true,
		JetStream:  true,
		StoreDir:   dir,
		MaxPayload: embeddedMaxPayload,
		NoSigs:     true,
		NoLog:      true,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded NATS: %w", err)
	}
	debug := log.Enabled(ctx, slog.LevelDebug)
	srv.SetLoggerV2(serverLogger{log}, debug, false, false)
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, errors.New("embedded NATS: not ready for connections after 10s")
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, errors.New("embedded NATS: JetStream did not start")
	}
	return srv, nil
}

// serverLogger hands the embedded server's log to slog: notices and below
// at debug, so the server is quiet unless the logger is at debug.
type serverLogger struct{ l *slog.Logger }

func (s serverLogger) Noticef(format string, v ...any) { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s serverLogger) Warnf(format string, v ...any)   { s.l.Warn(fmt.Sprintf(format, v...)) }
func (s serverLogger) Fatalf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s serverLogger) Errorf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s serverLogger) Debugf(format string, v ...any)  { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s serverLogger) Tracef(format string, v ...any)  { s.l.Debug(fmt.Sprintf(format, v...)) }

// Connect opens a further connection to the stream's NATS server, with
// the stream's credentials and TLS, or in-process to the embedded
// server (which no other process can reach). opts come on top of
// those. The caller closes the connection.
func (s *Stream) Connect(opts ...nats.Option) (*nats.Conn, error) {
	return nats.Connect(s.url, append(slices.Clone(s.connOpts), opts...)...)
}

// MaxPayload is the largest message the server accepts, in bytes.
func (s *Stream) MaxPayload() int64 { return s.nc.MaxPayload() }

// Publish stores data in the stream and returns once JetStream has
// acknowledged it. A msgID published before within the dedupe window is
// not stored again (and is not an error).
func (s *Stream) Publish(ctx context.Context, msgID string, data []byte) error {
	if msgID == "" {
		return errors.New("publish: empty message ID")
	}
	start := time.Now()
	_, err := s.js.Publish(ctx, s.subject, data, jetstream.WithMsgID(msgID))
	if err != nil {
		add(s.m.PublishErrors, 1)
		return fmt.Errorf("publish %s: %w", msgID, err)
	}
	if s.m.PublishSeconds != nil {
		s.m.PublishSeconds.Observe(time.Since(start).Seconds())
	}
	return nil
}

// Ready reports whether the stream can take messages: the connection to
// NATS is up and the stream exists. It is what a readiness probe asks.
func (s *Stream) Ready(ctx context.Context) error {
	if st := s.nc.Status(); st != nats.CONNECTED {
		return fmt.Errorf("stream not ready: NATS connection is %s", st)
	}
	if _, err := s.js.Stream(ctx, s.name); err != nil {
		return fmt.Errorf("stream not ready: %s: %w", s.name, err)
	}
	return nil
}

// Consume runs the durable pull consumer named durable over the stream
// until ctx is done, then returns nil. Messages arrive one at a time, in
// order; a message is acknowledged when fn returns nil and redelivered
// after a delay when fn fails. Cloud nodes that run Consume with the same
// durable share the work.
func (s *Stream) Consume(ctx context.Context, durable string, fn func(ctx context.Context, data []byte) error) error {
	cons, err := s.durable(ctx, durable, 1) // strict order: the next message waits for this one's ack
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("consume %s: %w", durable, err)
	}
	log := s.log.With("consumer", durable)
	var pending Gauge
	if s.m.Pending != nil {
		pending = s.m.Pending(durable)
		lagCtx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { s.watchLag(lagCtx, cons, pending) })
		defer wg.Wait()
		defer cancel()
	}
	var redelivered Counter
	if s.m.Redeliveries != nil {
		redelivered = s.m.Redeliveries(durable)
	}
	// One short-lived pull request at a time (a long poll of at most
	// fetchWait): no pull state outlives a loop, so a slow or loaded node
	// cannot leave the consumer waiting on an expired request.
	for {
		if ctx.Err() != nil {
			return nil
		}
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(fetchWait))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("consume %s: %w", durable, err)
		}
		var m jetstream.Msg
		for msg := range batch.Messages() {
			m = msg
		}
		if m == nil {
			if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) && ctx.Err() == nil {
				log.Warn("fetch", "err", err)
			}
			continue
		}
		if ctx.Err() != nil {
			_ = m.Nak() // hand it to another node right away
			return nil
		}
		if meta, err := m.Metadata(); err == nil {
			if meta.NumDelivered > 1 {
				add(redelivered, 1)
			}
			if pending != nil {
				pending.Set(float64(meta.NumPending))
			}
		}
		s.handle(ctx, log, m, fn)
	}
}

// fetchWait is the longest one pull request waits for a message.
const fetchWait = 2 * time.Second

// watchLag sets g to the consumer's undelivered messages every
// lagInterval: the lag stays visible while the consumer is stuck or idle.
func (s *Stream) watchLag(ctx context.Context, cons jetstream.Consumer, g Gauge) {
	t := time.NewTicker(s.lagInterval)
	defer t.Stop()
	for {
		if info, err := cons.Info(ctx); err == nil {
			g.Set(float64(info.NumPending))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Stream) handle(ctx context.Context, log *slog.Logger, m jetstream.Msg, fn func(context.Context, []byte) error) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // keep a slow fn from being redelivered elsewhere
		t := time.NewTicker(s.ackWait / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = m.InProgress()
			}
		}
	})
	err := fn(ctx, m.Data())
	close(done)
	wg.Wait()
	s.settle(ctx, log, m, err, true)
}

// settle acknowledges m when err is nil (waiting for the server to
// confirm if confirm), else hands it back for redelivery: at once when
// ctx is done (the node stops), after a delay when it failed.
func (s *Stream) settle(ctx context.Context, log *slog.Logger, m jetstream.Msg, err error, confirm bool) {
	switch {
	case err == nil && !confirm:
		if aerr := m.Ack(); aerr != nil {
			log.Warn("ack failed, message will be redelivered", "err", aerr)
		}
	case err == nil:
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if aerr := m.DoubleAck(actx); aerr != nil {
			log.Warn("ack failed, message will be redelivered", "err", aerr)
		}
	case ctx.Err() != nil:
		_ = m.Nak()
	default:
		meta, _ := m.Metadata()
		attrs := []any{"err", err}
		if meta != nil {
			attrs = append(attrs, "stream_seq", meta.Sequence.Stream, "delivered", meta.NumDelivered)
		}
		log.Warn("message failed, will be redelivered", attrs...)
		if nerr := m.NakWithDelay(s.nakDelay); nerr != nil {
			log.Warn("nak failed, message will be redelivered after the ack wait", "err", nerr)
		}
	}
}

// Notify publishes data on a core NATS subject for live fan-out; it is not
// stored.
func (s *Stream) Notify(subject string, data []byte) error {
	if err := s.nc.Publish(subject, data); err != nil {
		return fmt.Errorf("notify %s: %w", subject, err)
	}
	return nil
}

// Listen calls fn, one message at a time, with everything notified on
// subject (wildcards allowed) until ctx is done, then returns nil. It
// returns an error if the stream is closed first.
func (s *Stream) Listen(ctx context.Context, subject string, fn func(data []byte)) error {
	sub, err := s.nc.Subscribe(subject, func(m *nats.Msg) { fn(m.Data) })
	if err != nil {
		return fmt.Errorf("listen %s: %w", subject, err)
	}
	select {
	case <-ctx.Done():
		if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			return fmt.Errorf("listen %s: %w", subject, err)
		}
		return nil
	case <-s.closed:
		return fmt.Errorf("listen %s: %w", subject, nats.ErrConnectionClosed)
	}
}

// Close drains the connection (in-flight acks and publishes complete) and
// shuts down the embedded server, waiting for it.
func (s *Stream) Close() error {
	s.closeOnce.Do(func() {
		if s.nc != nil {
			if err := s.nc.Drain(); err != nil {
				s.nc.Close()
			}
			select {
			case <-s.closed:
			case <-time.After(drainTimeout):
				s.nc.Close()
				s.closeErr = errors.New("close stream: drain timed out")
			}
		}
		s.shutdownServer()
	})
	return s.closeErr
}

func (s *Stream) shutdownServer() {
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
	}
}

// durable creates or updates the durable consumer of the stream's subject
// that every node running it shares: explicit acks, redelivered for ever,
// at most maxAckPending messages unacknowledged.
// It retries while the cluster cannot answer, as Open does.
func (s *Stream) durable(ctx context.Context, name string, maxAckPending int) (jetstream.Consumer, error) {
	var cons jetstream.Consumer
	err := retrySetup(ctx, s.log, "create consumer "+name, setupPatience, func(ctx context.Context) error {
		var err error
		cons, err = s.js.CreateOrUpdateConsumer(ctx, s.name, jetstream.ConsumerConfig{
			Durable:       name,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       s.ackWait,
			MaxAckPending: maxAckPending,
			MaxDeliver:    -1,
			DeliverPolicy: jetstream.DeliverAllPolicy,
			FilterSubject: s.subject,
		})
		return err
	})
	return cons, err
}
