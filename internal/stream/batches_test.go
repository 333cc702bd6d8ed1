package stream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// batchConsumer runs ConsumeBatches in the background and reports each
// batch fn saw.
type batchConsumer struct {
	got    chan []string
	cancel context.CancelFunc
	done   chan error
}

func startBatches(t *testing.T, s *Stream, durable string, size int, fn func(data []string) []error) *batchConsumer {
	return startBatchesOf(t, s, durable, Batch{Messages: size}, fn)
}

func startBatchesOf(t *testing.T, s *Stream, durable string, limit Batch, fn func(data []string) []error) *batchConsumer {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	c := &batchConsumer{got: make(chan []string, 100), cancel: cancel, done: make(chan error, 1)}
	go func() {
		c.done <- s.ConsumeBatches(ctx, durable, limit, func(_ context.Context, data [][]byte) []error {
			var msgs []string
			for _, d := range data {
				msgs = append(msgs, string(d))
			}
			c.got <- msgs
			if fn != nil {
				return fn(msgs)
			}
			return nil
		})
	}()
	t.Cleanup(func() { c.stop(t) })
	return c
}

func (c *batchConsumer) stop(t *testing.T) {
	t.Helper()
	c.cancel()
	select {
	case err, ok := <-c.done:
		if ok && err != nil {
			t.Errorf("ConsumeBatches returned %v, want nil after cancel", err)
		}
		if ok {
			close(c.done)
		}
	case <-time.After(10 * time.Second):
		t.Error("ConsumeBatches did not return after cancel")
	}
}

// messages returns the messages of the batches fn saw until there are n.
func (c *batchConsumer) messages(t *testing.T, n int) (msgs []string, batches int) {
	t.Helper()
	for len(msgs) < n {
		select {
		case b := <-c.got:
			msgs = append(msgs, b...)
			batches++
		case <-time.After(10 * time.Second):
			t.Fatalf("got %v, want %d messages within 10s", msgs, n)
		}
	}
	return msgs, batches
}

func (c *batchConsumer) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case b := <-c.got:
		t.Errorf("unexpected batch %q", b)
	case <-time.After(d):
	}
}

func names(prefix string, n int) []string {
	var s []string
	for i := range n {
		s = append(s, fmt.Sprintf("%s%02d", prefix, i))
	}
	return s
}

// What is waiting comes in batches of at most the size asked, in order,
// each message once; a message published later comes at once, alone.
func TestConsumeBatches(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t)
			want := names("m", 10)
			publish(t, s, want...)
			var mu sync.Mutex
			var sizes []int
			c := startBatches(t, s, "store", 4, func(data []string) []error {
				mu.Lock()
				sizes = append(sizes, len(data))
				mu.Unlock()
				return nil
			})
			got, batches := c.messages(t, 10)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("consumed (-want +got):\n%s", diff)
			}
			if batches >= 10 {
				t.Errorf("10 waiting messages came in %d batches, want fewer", batches)
			}
			publish(t, s, "late")
			if got, _ := c.messages(t, 1); !slices.Equal(got, []string{"late"}) {
				t.Errorf("then got %q, want [late]", got)
			}
			c.quiet(t, 300*time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			if slices.Max(sizes) > 4 {
				t.Errorf("batch sizes %v, want at most 4", sizes)
			}
		})
	}
}

// Large messages come few at a time: the byte limit, judged by the
// messages' sizes so far, bounds a batch, which holds one at least.
func TestConsumeBatchesByteLimit(t *testing.T) {
	t.Parallel()
	s := openEmbedded(t)
	var want []string
	for i := range 12 {
		want = append(want, fmt.Sprintf("%02d%s", i, strings.Repeat("x", 1000)))
	}
	publish(t, s, want...)
	var mu sync.Mutex
	var sizes []int
	c := startBatchesOf(t, s, "store", Batch{Messages: 10, Bytes: 2500}, func(data []string) []error {
		mu.Lock()
		sizes = append(sizes, len(data))
		mu.Unlock()
		return nil
	})
	got, _ := c.messages(t, 12)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("consumed (-want +got):\n%s", diff)
	}
	mu.Lock()
	defer mu.Unlock()
	// The first fetch knows no size yet; after it, two of 1 KB fit.
	if len(sizes) < 2 || slices.Max(sizes[1:]) > 2 {
		t.Errorf("batch sizes %v, want at most 2 after the first", sizes)
	}
}

// A message that fn fails comes again, alone; the others of its batch are
// acknowledged. So does every message when fn answers for the wrong
// number of messages.
func TestConsumeBatchesRedeliversFailed(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t)
			publish(t, s, "m1", "m2", "m3")
			var mu sync.Mutex
			fails, wrong := 1, 1
			c := startBatches(t, s, "store", 10, func(data []string) []error {
				mu.Lock()
				defer mu.Unlock()
				if len(data) == 3 && wrong > 0 {
					wrong--
					return []error{errors.New("one result for three")}
				}
				errs := make([]error, len(data))
				for i, d := range data {
					if d == "m2" && fails > 0 {
						fails--
						errs[i] = errors.New("database busy")
					}
				}
				return errs
			})
			got, _ := c.messages(t, 7)
			slices.Sort(got)
			if diff := cmp.Diff([]string{"m1", "m1", "m2", "m2", "m2", "m3", "m3"}, got); diff != "" {
				t.Errorf("deliveries (-want +got):\n%s", diff)
			}
			c.quiet(t, 500*time.Millisecond)
		})
	}
}

// Messages are acknowledged only after fn returns: a node that stops in
// the middle of a batch leaves it to the next.
func TestConsumeBatchesAckAfterReturn(t *testing.T) {
	t.Parallel()
	s := openEmbedded(t)
	publish(t, s, "m1", "m2")
	ctx, cancel := context.WithCancel(t.Context())
	err := s.ConsumeBatches(ctx, "store", Batch{Messages: 10}, func(ctx context.Context, data [][]byte) []error {
		cancel() // the node stops while the batch is being committed
		<-ctx.Done()
		return []error{ctx.Err(), ctx.Err()}
	})
	if err != nil {
		t.Fatalf("ConsumeBatches = %v, want nil after cancel", err)
	}
	c := startBatches(t, s, "store", 10, nil)
	// Both come back; in which order is not promised for redelivered
	// messages (the server may redeliver m2 first when m1's nak is
	// handled later, as seen on a loaded machine).
	got, _ := c.messages(t, 2)
	slices.Sort(got)
	if !slices.Equal(got, []string{"m1", "m2"}) {
		t.Errorf("after the restart got %q, want m1 and m2", got)
	}
	c.quiet(t, 300*time.Millisecond)
}

// A slow batch keeps its messages and the batch fetched meanwhile: none
// is delivered again while fn still runs past the ack wait.
func TestConsumeBatchesSlowNotRedelivered(t *testing.T) {
	s := openEmbedded(t)
	s.ackWait = 300 * time.Millisecond
	publish(t, s, "m1")
	first := true
	c := startBatches(t, s, "store", 2, func(data []string) []error {
		if first { // work that outlasts the ack wait, while m2 and m3 wait fetched
			first = false
			publish(t, s, "m2", "m3")
			time.Sleep(time.Second)
		}
		return nil
	})
	got, _ := c.messages(t, 3)
	if diff := cmp.Diff([]string{"m1", "m2", "m3"}, got); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
	c.quiet(t, 600*time.Millisecond)
}

// Two nodes on one durable consumer share the messages: each is handled
// by one of them, once.
func TestConsumeBatchesShared(t *testing.T) {
	t.Parallel()
	a := openExternal(t)
	b, err := Open(t.Context(), Options{URL: externalURL, Name: a.name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	slow := func([]string) []error { time.Sleep(20 * time.Millisecond); return nil }
	ca := startBatches(t, a, "store", 3, slow)
	cb := startBatches(t, b, "store", 3, slow)
	want := names("m", 40)
	publish(t, a, want...)
	var got []string
	var fromA, fromB int
	for len(got) < len(want) {
		select {
		case m := <-ca.got:
			got, fromA = append(got, m...), fromA+len(m)
		case m := <-cb.got:
			got, fromB = append(got, m...), fromB+len(m)
		case <-time.After(10 * time.Second):
			t.Fatalf("got %d of %d messages within 10s", len(got), len(want))
		}
	}
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("handled (-want +got):\n%s", diff)
	}
	if fromA == 0 || fromB == 0 {
		t.Errorf("node a handled %d, node b %d: want both to share", fromA, fromB)
	}
	ca.quiet(t, 300*time.Millisecond)
	cb.quiet(t, 10*time.Millisecond)
}
