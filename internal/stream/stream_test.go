package stream

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fusionfleet/fusionfleet/internal/wait"
)

const externalURL = "nats://127.0.0.1:4222"

// backend opens a fresh stream for a test and closes it afterwards.
type backend struct {
	name string
	open func(t *testing.T) *Stream
}

func openEmbedded(t *testing.T) *Stream {
	t.Helper()
	s, err := Open(t.Context(), Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("Open embedded: %v", err)
	}
	s.nakDelay = 100 * time.Millisecond
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// openExternal connects to the NATS server on its standard local port
// with a stream of the test's own, deleted afterwards.
func openExternal(t *testing.T) *Stream {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:4222", time.Second)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("external NATS at %s is required in CI but not reachable: %v", externalURL, err)
		}
		t.Skipf("SKIPPING external NATS test: no NATS server at %s (%v); start one to run it", externalURL, err)
	}
	c.Close()
	name := "TEST_" + randomHex(t)
	s, err := Open(t.Context(), Options{URL: externalURL, Name: name})
	if err != nil {
		t.Fatalf("Open external: %v", err)
	}
	s.nakDelay = 100 * time.Millisecond
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	t.Cleanup(func() { // runs before Close
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.js.DeleteStream(ctx, name); err != nil {
			t.Errorf("delete stream %s: %v", name, err)
		}
	})
	return s
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

var backends = []backend{{"embedded", openEmbedded}, {"external", openExternal}}

// consumer runs Consume in the background and reports what fn saw.
type consumer struct {
	got    chan string
	cancel context.CancelFunc
	done   chan error
}

func startConsumer(t *testing.T, s *Stream, durable string, fn func(data string) error) *consumer {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	c := &consumer{got: make(chan string, 100), cancel: cancel, done: make(chan error, 1)}
	go func() {
		c.done <- s.Consume(ctx, durable, func(_ context.Context, data []byte) error {
			c.got <- string(data)
			if fn != nil {
				return fn(string(data))
			}
			return nil
		})
	}()
	t.Cleanup(func() { c.stop(t) })
	return c
}

// stop cancels the consumer and checks that Consume returned nil.
func (c *consumer) stop(t *testing.T) {
	t.Helper()
	c.cancel()
	select {
	case err, ok := <-c.done:
		if ok && err != nil {
			t.Errorf("Consume returned %v, want nil after cancel", err)
		}
		if ok {
			close(c.done)
		}
	case <-time.After(10 * time.Second):
		t.Error("Consume did not return after cancel")
	}
}

// next returns what fn saw next, within a deadline.
func (c *consumer) next(t *testing.T) string {
	t.Helper()
	select {
	case s := <-c.got:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no message within 10s")
		return ""
	}
}

// quiet asserts that fn sees nothing for a while.
func (c *consumer) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case s := <-c.got:
		t.Errorf("unexpected message %q", s)
	case <-time.After(d):
	}
}

func publish(t *testing.T, s *Stream, msgs ...string) {
	t.Helper()
	for _, m := range msgs {
		if err := s.Publish(t.Context(), "id-"+m, []byte(m)); err != nil {
			t.Fatalf("Publish %s: %v", m, err)
		}
	}
}

func TestPublishConsume(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t)
			publish(t, s, "m1", "m2", "m3")
			c := startConsumer(t, s, "store", nil)
			var got []string
			for range 3 {
				got = append(got, c.next(t))
			}
			publish(t, s, "m4")
			got = append(got, c.next(t))
			if diff := cmp.Diff([]string{"m1", "m2", "m3", "m4"}, got); diff != "" {
				t.Errorf("consumed (-want +got):\n%s", diff)
			}
			c.quiet(t, 200*time.Millisecond)
		})
	}
}

func TestDuplicateStoredOnce(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t)
			for _, m := range []struct{ id, data string }{{"gw-1:1-3", "a"}, {"gw-1:1-3", "a"}, {"gw-1:4-4", "b"}} {
				if err := s.Publish(t.Context(), m.id, []byte(m.data)); err != nil {
					t.Fatalf("Publish %s: %v", m.id, err)
				}
			}
			st, err := s.js.Stream(t.Context(), s.name)
			if err != nil {
				t.Fatal(err)
			}
			info, err := st.Info(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if info.State.Msgs != 2 {
				t.Errorf("stream holds %d messages, want 2", info.State.Msgs)
			}
			c := startConsumer(t, s, "store", nil)
			got := []string{c.next(t), c.next(t)}
			if diff := cmp.Diff([]string{"a", "b"}, got); diff != "" {
				t.Errorf("consumed (-want +got):\n%s", diff)
			}
			c.quiet(t, 200*time.Millisecond)
		})
	}
}

// A failing callback gets the message again, and the next message waits
// for it: order is kept.
func TestFailedMessageRedelivered(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t)
			publish(t, s, "m1", "m2")
			var mu sync.Mutex
			fails := 2
			c := startConsumer(t, s, "store", func(data string) error {
				mu.Lock()
				defer mu.Unlock()
				if data == "m1" && fails > 0 {
					fails--
					return errors.New("database busy")
				}
				return nil
			})
			var got []string
			for range 4 {
				got = append(got, c.next(t))
			}
			if diff := cmp.Diff([]string{"m1", "m1", "m1", "m2"}, got); diff != "" {
				t.Errorf("deliveries (-want +got):\n%s", diff)
			}
			c.quiet(t, 300*time.Millisecond)
		})
	}
}

// Acked messages are not delivered again after a restart on the same
// store; the one in flight at shutdown is, once its ack wait expires.
func TestDurableAcrossRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s1, err := Open(t.Context(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	publish(t, s1, "m1", "m2", "m3")
	ctx, cancel := context.WithCancel(t.Context())
	var got []string
	err = s1.Consume(ctx, "store", func(_ context.Context, data []byte) error {
		got = append(got, string(data))
		if string(data) == "m3" {
			cancel() // shut down while m3 is being processed
			return errors.New("interrupted")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Consume: %v", err)
	}
	if diff := cmp.Diff([]string{"m1", "m2", "m3"}, got); diff != "" {
		t.Errorf("first run (-want +got):\n%s", diff)
	}
	if err := s1.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s1.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	s2, err := Open(t.Context(), Options{Dir: dir})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { s2.Close() })
	s2.ackWait = time.Second // m3's delivery before the restart expires soon
	publish(t, s2, "m4")
	c := startConsumer(t, s2, "store", nil)
	got = []string{c.next(t), c.next(t)}
	if diff := cmp.Diff([]string{"m3", "m4"}, got); diff != "" {
		t.Errorf("after restart (-want +got):\n%s", diff)
	}
	c.quiet(t, 200*time.Millisecond)
}

func TestNotifyListen(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t)
			subject := "live." + randomHex(t) + ".status"
			got := make(chan string, 10)
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- s.Listen(ctx, "live.*.status", func(d []byte) { got <- string(d) }) }()
			// Core NATS drops what nobody listens to: notify until heard.
			var first string
			err := wait.Until(10*time.Second, 50*time.Millisecond, func() error {
				if err := s.Notify(subject, []byte("hello")); err != nil {
					return err
				}
				select {
				case first = <-got:
					return nil
				case <-time.After(50 * time.Millisecond):
					return errors.New("nothing heard")
				}
			})
			if err != nil || first != "hello" {
				t.Fatalf("Listen got %q (%v), want hello", first, err)
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Listen = %v, want nil after cancel", err)
			}
		})
	}
}

func TestListenEndsWhenClosed(t *testing.T) {
	s, err := Open(t.Context(), Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	subs := s.nc.NumSubscriptions()
	done := make(chan error, 1)
	go func() { done <- s.Listen(t.Context(), "live.x", func([]byte) {}) }()
	err = wait.Until(10*time.Second, 10*time.Millisecond, func() error {
		if s.nc.NumSubscriptions() == subs {
			return errors.New("Listen has not subscribed")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Error("Listen = nil after Close, want an error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Listen did not return after Close")
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name    string
		opts    func(dir string) Options
		wantErr string
	}{
		{"embedded without dir", func(string) Options { return Options{} }, "store directory"},
		{"bad name", func(dir string) Options { return Options{Dir: dir, Name: "fleet.batches"} }, "name"},
		{"unreachable external", func(string) Options { return Options{URL: "nats://127.0.0.1:1"} }, "connect to NATS"},
		{"replicas beyond one server", func(dir string) Options { return Options{Dir: dir, Replicas: 3} }, "3 replicas need a NATS cluster"},
		{"replicas beyond one external server", func(string) Options {
			return Options{URL: listeningServer(t), Name: "R3", Replicas: 3}
		}, "create stream R3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(t.Context(), tt.opts(t.TempDir()))
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Open = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestOperationsAfterClose(t *testing.T) {
	s, err := Open(t.Context(), Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(t.Context(), "id", []byte("x")); err == nil {
		t.Error("Publish after Close succeeded")
	}
	if err := s.Notify("live.x", []byte("x")); err == nil {
		t.Error("Notify after Close succeeded")
	}
	if err := s.Consume(t.Context(), "store", func(context.Context, []byte) error { return nil }); err == nil {
		t.Error("Consume after Close succeeded")
	}
	if err := s.Listen(t.Context(), "live.x", func([]byte) {}); err == nil {
		t.Error("Listen after Close succeeded")
	}
}

func TestPublishRefusals(t *testing.T) {
	s := openEmbedded(t)
	if err := s.Publish(t.Context(), "", []byte("x")); err == nil {
		t.Error("Publish with empty msgID succeeded")
	}
	if got, want := s.MaxPayload(), int64(embeddedMaxPayload); got != want {
		t.Errorf("MaxPayload = %d, want %d", got, want)
	}
	if err := s.Publish(t.Context(), "big", make([]byte, embeddedMaxPayload+1)); err == nil {
		t.Error("Publish beyond MaxPayload succeeded")
	}
	if err := s.Notify("bad subject", nil); err == nil {
		t.Error("Notify on an invalid subject succeeded")
	}
}

// The embedded server opens no network listener: no other process of the
// host can read the batches, call the JetStream API or publish forged
// batches. The node reaches it in-process, and so does Connect.
func TestEmbeddedHasNoListener(t *testing.T) {
	t.Parallel()
	s := openEmbedded(t)
	listening := map[string]bool{
		"client": s.srv.Addr() != nil, "monitor": s.srv.MonitorAddr() != nil, "cluster": s.srv.ClusterAddr() != nil,
		"gateway": s.srv.GatewayAddr() != nil, "profiler": s.srv.ProfilerAddr() != nil,
	}
	for name, ok := range listening {
		if ok {
			t.Errorf("embedded NATS has a %s listener, want none", name)
		}
	}
	nc, err := s.Connect()
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	defer nc.Close()
	if _, err := nc.Request("$JS.API.INFO", nil, 10*time.Second); err != nil {
		t.Errorf("JetStream API over a second in-process connection: %v", err)
	}
}

func TestEmbeddedRefusesCredentials(t *testing.T) {
	for _, opts := range []Options{
		{Credentials: Credentials{Token: "secret"}},
		{TLS: TLS{CAFile: "ca.pem"}},
	} {
		opts.Dir = t.TempDir()
		s, err := Open(t.Context(), opts)
		if err == nil {
			s.Close()
			t.Fatalf("Open(%+v) succeeded", opts)
		}
		if want := "the embedded one has no network listener"; !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%+v) = %v, want error containing %q", opts, err, want)
		}
	}
}

// The embedded server is silent unless the logger is at debug.
func TestEmbeddedLogging(t *testing.T) {
	t.Parallel()
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		t.Run(level.String(), func(t *testing.T) {
			var buf syncBuffer
			s, err := Open(t.Context(), Options{Dir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: level}))})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			noisy := strings.Contains(buf.String(), "Starting nats-server")
			if want := level == slog.LevelDebug; noisy != want {
				t.Errorf("server notices logged = %v, want %v; log:\n%s", noisy, want, buf.String())
			}
		})
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A slow callback keeps its message: it is not delivered again while the
// callback still runs past the ack wait.
func TestSlowCallbackNotRedelivered(t *testing.T) {
	s := openEmbedded(t)
	s.ackWait = 300 * time.Millisecond
	publish(t, s, "m1", "m2")
	c := startConsumer(t, s, "store", func(data string) error {
		if data == "m1" { // work that outlasts the real server's ack wait
			time.Sleep(time.Second)
		}
		return nil
	})
	got := []string{c.next(t), c.next(t)}
	if diff := cmp.Diff([]string{"m1", "m2"}, got); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
	c.quiet(t, 500*time.Millisecond)
}
