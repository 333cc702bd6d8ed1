package stream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/fusionfleet/fusionfleet/internal/wait"
)

// listeningServer starts a nats-server in the test process that listens
// on a free loopback port, as an external one would, and returns its URL.
// (The stream's embedded server listens on nothing.)
func listeningServer(t *testing.T) string {
	t.Helper()
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("test NATS server not ready after 10s")
	}
	return srv.ClientURL()
}

// A comma-separated URL list is a server list: a dead first server is
// skipped.
func TestClusterURLList(t *testing.T) {
	t.Parallel()
	url := listeningServer(t)
	for _, list := range []string{"nats://127.0.0.1:1," + url, url + ", nats://127.0.0.1:1"} {
		t.Run(list, func(t *testing.T) {
			s, err := Open(t.Context(), Options{URL: list, Name: "LIST_" + randomHex(t)})
			if err != nil {
				t.Fatalf("Open(%q): %v", list, err)
			}
			defer s.Close()
			if got := s.nc.ConnectedUrl(); got != url {
				t.Errorf("connected to %q, want %q", got, url)
			}
			if servers := s.nc.Servers(); len(servers) < 2 {
				t.Errorf("server pool %v, want both URLs", servers)
			}
			if err := s.Publish(t.Context(), "a", []byte("x")); err != nil {
				t.Errorf("Publish: %v", err)
			}
		})
	}
}

func TestReady(t *testing.T) {
	tests := []struct {
		name    string
		breakIt func(t *testing.T, s *Stream)
		wantErr string
	}{
		{"open", func(*testing.T, *Stream) {}, ""},
		{"stream deleted", func(t *testing.T, s *Stream) {
			if err := s.js.DeleteStream(t.Context(), s.name); err != nil {
				t.Fatal(err)
			}
		}, "stream not ready: FLEET"},
		{"server gone", func(t *testing.T, s *Stream) {
			s.srv.Shutdown()
			s.srv.WaitForShutdown()
			// The client learns of it over the connection, in its time.
			wait.Until(10*time.Second, 10*time.Millisecond, func() error {
				if st := s.nc.Status(); st == nats.CONNECTED {
					return fmt.Errorf("connection still %v", st)
				}
				return nil
			})
		}, "stream not ready: NATS connection is"},
		{"closed", func(t *testing.T, s *Stream) { s.Close() }, "stream not ready: NATS connection is CLOSED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(t.Context(), Options{Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			tt.breakIt(t, s)
			err = s.Ready(t.Context())
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("Ready = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Ready = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

type fakeCounter struct {
	mu sync.Mutex
	v  float64
}

func (c *fakeCounter) Add(v float64) { c.mu.Lock(); c.v += v; c.mu.Unlock() }
func (c *fakeCounter) Set(v float64) { c.mu.Lock(); c.v = v; c.mu.Unlock() }
func (c *fakeCounter) value() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.v
}

type fakeObserver struct {
	mu sync.Mutex
	v  []float64
}

func (o *fakeObserver) Observe(v float64) { o.mu.Lock(); o.v = append(o.v, v); o.mu.Unlock() }
func (o *fakeObserver) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.v)
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	var latency fakeObserver
	var errs, redeliveries, pending fakeCounter
	var mu sync.Mutex
	var labels []string
	m := Metrics{
		PublishSeconds: &latency,
		PublishErrors:  &errs,
		Pending: func(c string) Gauge {
			mu.Lock()
			labels = append(labels, "pending "+c)
			mu.Unlock()
			return &pending
		},
		Redeliveries: func(c string) Counter {
			mu.Lock()
			labels = append(labels, "redeliveries "+c)
			mu.Unlock()
			return &redeliveries
		},
	}
	s, err := Open(t.Context(), Options{Dir: t.TempDir(), Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.nakDelay, s.lagInterval = 50*time.Millisecond, 50*time.Millisecond
	publish(t, s, "m1", "m2", "m3")
	if err := s.Publish(t.Context(), "big", make([]byte, embeddedMaxPayload+1)); err == nil {
		t.Fatal("oversized Publish succeeded")
	}
	if got := latency.count(); got != 3 {
		t.Errorf("%d publish latencies observed, want 3", got)
	}
	if got := errs.value(); got != 1 {
		t.Errorf("publish errors = %v, want 1", got)
	}

	// The consumer fails m1 once, then stops after m1: m2 and m3 pending.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	release := make(chan struct{})
	done := make(chan error, 1)
	failed := false
	var seen []string
	go func() {
		done <- s.Consume(ctx, "store", func(ctx context.Context, data []byte) error {
			seen = append(seen, string(data))
			if !failed {
				failed = true
				return errors.New("database busy")
			}
			select { // hold m2 until the test has looked at the lag
			case <-release:
			case <-ctx.Done():
			}
			return nil
		})
	}()
	// The server's figures change in its time: wait for them; the checks
	// below report what they are if they never do.
	wait.Until(10*time.Second, 10*time.Millisecond, func() error {
		if redeliveries.value() < 1 || pending.value() != 2 {
			return errors.New("no redelivery with 2 pending yet")
		}
		return nil
	})
	if got := redeliveries.value(); got != 1 {
		t.Errorf("redeliveries = %v, want 1", got)
	}
	if got := pending.value(); got != 2 {
		t.Errorf("pending = %v, want 2 (m2, m3) while m1 is redelivered", got)
	}
	close(release)
	wait.Until(10*time.Second, 10*time.Millisecond, func() error {
		if pending.value() != 0 {
			return errors.New("messages still pending")
		}
		return nil
	})
	if got := pending.value(); got != 0 {
		t.Errorf("pending = %v, want 0 once all is consumed", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Consume: %v", err)
	}
	if diff := cmp.Diff([]string{"m1", "m1", "m2", "m3"}, seen); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"pending store", "redeliveries store"}, labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
}
