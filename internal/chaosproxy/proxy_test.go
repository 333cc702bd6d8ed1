package chaosproxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// echoServer echoes every connection's bytes back and records what it
// received.
type echoServer struct {
	ln   net.Listener
	mu   sync.Mutex
	got  bytes.Buffer
	wg   sync.WaitGroup
	done chan struct{}
}

func startEcho(t *testing.T) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{ln: ln, done: make(chan struct{})}
	e.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.wg.Go(func() {
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					e.mu.Lock()
					e.got.Write(buf[:n])
					e.mu.Unlock()
					if n > 0 {
						if _, err := c.Write(buf[:n]); err != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() { ln.Close(); e.wg.Wait() })
	return e
}

func (e *echoServer) received() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.got.String()
}

// startProxy runs a proxy to target that applies fault to every connection.
func startProxy(t *testing.T, target string, fault Fault, opts Options) *Proxy {
	t.Helper()
	opts.Schedule = Schedule{Seed: 1, Rate: 1, Faults: []Fault{fault}, MaxAfter: opts.Schedule.MaxAfter}
	if fault == Pass {
		opts.Schedule.Rate = 0
	}
	p, err := New(target, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return p
}

// roundTrip writes msg through the proxy and reads up to len(msg) bytes
// back, giving up after wait.
func roundTrip(t *testing.T, addr, msg string, wait time.Duration) (string, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
	if _, err := c.Write([]byte(msg)); err != nil {
		return "", err
	}
	buf := make([]byte, len(msg))
	n, err := io.ReadFull(c, buf)
	return string(buf[:n]), err
}

func TestFaultsOnEcho(t *testing.T) {
	msg := strings.Repeat("fusionfleet ", 100) // 1200 bytes
	tests := []struct {
		fault Fault
		opts  Options
		check func(t *testing.T, e *echoServer, got string, err error, took time.Duration)
	}{
		{Pass, Options{}, func(t *testing.T, _ *echoServer, got string, err error, _ time.Duration) {
			if err != nil || got != msg {
				t.Errorf("got %d bytes, %v; want the message back", len(got), err)
			}
		}},
		{Latency, Options{Latency: 50 * time.Millisecond}, func(t *testing.T, _ *echoServer, got string, err error, took time.Duration) {
			if err != nil || got != msg {
				t.Errorf("got %d bytes, %v; want the message back", len(got), err)
			}
			// At least one delay each way: a lower bound, never a race.
			if took < 100*time.Millisecond {
				t.Errorf("round trip took %v, want at least two delays of 50ms", took)
			}
		}},
		{Drop, Options{Schedule: Schedule{MaxAfter: 1000}}, func(t *testing.T, _ *echoServer, got string, err error, _ time.Duration) {
			if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("got %d bytes, err %v; want the connection closed part-way", len(got), err)
			}
			if len(got) >= len(msg) {
				t.Errorf("got all %d bytes through a drop after less than 1000", len(got))
			}
		}},
		{Reset, Options{Schedule: Schedule{MaxAfter: 1000}}, func(t *testing.T, _ *echoServer, got string, err error, _ time.Duration) {
			if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
				t.Errorf("got %d bytes, err %v; want a reset", len(got), err)
			}
			if len(got) >= len(msg) {
				t.Errorf("got all %d bytes through a reset after less than 1000", len(got))
			}
		}},
		{Blackhole, Options{}, func(t *testing.T, e *echoServer, got string, err error, _ time.Duration) {
			if !errors.Is(err, os.ErrDeadlineExceeded) || got != "" {
				t.Errorf("got %q, %v; want nothing until the deadline", got, err)
			}
			if r := e.received(); r != "" {
				t.Errorf("the server received %d bytes through a blackhole", len(r))
			}
		}},
		{OneWay, Options{}, func(t *testing.T, e *echoServer, got string, err error, _ time.Duration) {
			if !errors.Is(err, os.ErrDeadlineExceeded) || got != "" {
				t.Errorf("got %q, %v; want nothing until the deadline", got, err)
			}
			if r := e.received(); r != msg {
				t.Errorf("the server received %d bytes, want the %d sent", len(r), len(msg))
			}
		}},
		{Drip, Options{DripBytes: 100, DripDelay: 10 * time.Millisecond}, func(t *testing.T, _ *echoServer, got string, err error, took time.Duration) {
			if err != nil || got != msg {
				t.Errorf("got %d bytes, %v; want the message back", len(got), err)
			}
			// 12 chunks of 100 bytes each way, 10ms apart: a lower bound.
			if took < 120*time.Millisecond {
				t.Errorf("round trip took %v, want at least 12 drips of 10ms", took)
			}
		}},
		{Partition, Options{PartitionFor: time.Hour}, func(t *testing.T, _ *echoServer, got string, err error, _ time.Duration) {
			if !errors.Is(err, os.ErrDeadlineExceeded) || got != "" {
				t.Errorf("got %q, %v; want nothing during the partition", got, err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			t.Parallel()
			e := startEcho(t)
			p := startProxy(t, e.ln.Addr().String(), tt.fault, tt.opts)
			wait := 10 * time.Second
			if tt.fault == Blackhole || tt.fault == OneWay || tt.fault == Partition {
				wait = 300 * time.Millisecond
			}
			start := time.Now()
			got, err := roundTrip(t, p.Addr(), msg, wait)
			tt.check(t, e, got, err, time.Since(start))
			if n := p.Stats().Conns[tt.fault]; tt.fault != Partition && n != 1 {
				t.Errorf("stats count %d connections with %s, want 1", n, tt.fault)
			}
		})
	}
}

// A partition refuses connections until it heals, and cuts those open
// when it starts.
func TestPartitionHeals(t *testing.T) {
	e := startEcho(t)
	p := startProxy(t, e.ln.Addr().String(), Pass, Options{})
	open, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if _, err := open.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(open, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}

	p.Partition(time.Hour)
	open.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := open.Read(make([]byte, 1)); err == nil {
		t.Error("a connection open at the partition still reads")
	}
	if got, err := roundTrip(t, p.Addr(), "during", 200*time.Millisecond); err == nil {
		t.Errorf("during the partition: got %q, want no answer", got)
	}
	p.Heal()
	if got, err := roundTrip(t, p.Addr(), "after", 10*time.Second); err != nil || got != "after" {
		t.Errorf("after healing: got %q, %v", got, err)
	}
	if s := p.Stats(); s.Refused != 1 {
		t.Errorf("refused %d connections, want 1", s.Refused)
	}
}

// A drawn partition heals by itself after PartitionFor.
func TestPartitionHealsByItself(t *testing.T) {
	e := startEcho(t)
	p, err := New(e.ln.Addr().String(), Options{PartitionFor: 50 * time.Millisecond,
		// The first connection draws the partition, the later ones pass.
		Schedule: Schedule{Seed: seedWhere(t, Partition), Rate: 0.5, Faults: []Fault{Partition}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go p.Run(ctx)
	if _, err := roundTrip(t, p.Addr(), "first", 10*time.Second); err == nil {
		t.Error("the connection that drew the partition was answered")
	}
	var got string
	for i := uint64(1); ; i++ {
		if p.Schedule().Step(i).Fault != Pass {
			continue // a later partition: skip it
		}
		if got, err = roundTrip(t, p.Addr(), "healed", 10*time.Second); err == nil {
			break
		}
		if i > 20 {
			t.Fatalf("no answer after the partition healed: %v", err)
		}
	}
	if got != "healed" {
		t.Errorf("got %q after healing", got)
	}
}

// seedWhere returns a seed whose schedule gives connection 0 the fault
// and connection 1 none.
func seedWhere(t *testing.T, f Fault) uint64 {
	t.Helper()
	for seed := uint64(1); seed < 1000; seed++ {
		s := Schedule{Seed: seed, Rate: 0.5, Faults: []Fault{f}}
		if s.Step(0).Fault == f && s.Step(1).Fault == Pass {
			return seed
		}
	}
	t.Fatal("no seed found")
	return 0
}

// Through TLS (a real HTTPS server and client), a pass works and every
// fault that cuts or stalls fails the request rather than corrupting it.
func TestFaultsOnTLS(t *testing.T) {
	body := strings.Repeat("x", 64<<10)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the faults' handshake errors
	srv.StartTLS()
	t.Cleanup(srv.Close) // after the parallel subtests
	target := strings.TrimPrefix(srv.URL, "https://")
	tests := []struct {
		fault  Fault
		opts   Options
		wantOK bool
	}{
		{Pass, Options{}, true},
		{Latency, Options{Latency: 5 * time.Millisecond}, true},
		{Drip, Options{DripBytes: 8 << 10, DripDelay: time.Millisecond}, true},
		{Drop, Options{}, false},
		{Reset, Options{}, false},
		{Blackhole, Options{}, false},
		{OneWay, Options{}, false},
		{Partition, Options{PartitionFor: time.Hour}, false},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			t.Parallel()
			p := startProxy(t, target, tt.fault, tt.opts)
			tr := srv.Client().Transport.(*http.Transport).Clone()
			tr.DisableKeepAlives = true
			hc := &http.Client{Transport: tr, Timeout: 2 * time.Second}
			if tt.wantOK {
				hc.Timeout = time.Minute
			}
			resp, err := hc.Get("https://" + p.Addr() + "/")
			var got []byte
			if err == nil {
				got, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			switch {
			case tt.wantOK && (err != nil || string(got) != body):
				t.Errorf("got %d bytes, %v; want the body", len(got), err)
			case !tt.wantOK && err == nil:
				t.Errorf("got %d bytes through %s without an error", len(got), tt.fault)
			}
		})
	}
}

// The schedule is replayable: the same seed gives every connection the
// same step, another seed another sequence, and the rate holds roughly.
func TestScheduleReplays(t *testing.T) {
	steps := func(seed uint64) []Step {
		s := Schedule{Seed: seed, Rate: 0.3}
		out := make([]Step, 200)
		for i := range out {
			out[i] = s.Step(uint64(i))
		}
		return out
	}
	a, b, c := steps(42), steps(42), steps(43)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("same seed, different steps (-first +second):\n%s", diff)
	}
	if cmp.Equal(a, c) {
		t.Error("seeds 42 and 43 give the same steps")
	}
	faulty := 0
	for _, s := range a {
		if s.Fault != Pass {
			faulty++
		}
	}
	if faulty < 30 || faulty > 90 {
		t.Errorf("%d of 200 connections faulty at rate 0.3", faulty)
	}
	if got, want := (Schedule{Seed: 42, Rate: 0.3}).String(), "seed 42, rate 0.3, faults latency,drop,reset,blackhole,one-way,drip,partition"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestParseFaults(t *testing.T) {
	got, err := ParseFaults("reset, drip,partition")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Fault{Reset, Drip, Partition}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := ParseFaults("reset,flood"); err == nil {
		t.Error("ParseFaults accepted an unknown fault")
	}
}

// Over MaxConns, a connection is refused; an idle one is closed.
func TestLimits(t *testing.T) {
	e := startEcho(t)
	t.Run("MaxConns", func(t *testing.T) {
		// A blackholed connection takes both slots (client and target).
		p := startProxy(t, e.ln.Addr().String(), Blackhole, Options{MaxConns: 2})
		first, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer first.Close()
		err = waitFor(func() bool { return p.Stats().Conns[Blackhole] == 1 })
		if err != nil {
			t.Fatal(err)
		}
		if got, err := roundTrip(t, p.Addr(), "x", 10*time.Second); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("over MaxConns: got %q, %v; want the connection closed", got, err)
		}
		if s := p.Stats(); s.Refused != 1 {
			t.Errorf("refused %d, want 1", s.Refused)
		}
	})
	t.Run("Idle", func(t *testing.T) {
		p := startProxy(t, e.ln.Addr().String(), Blackhole, Options{Idle: 100 * time.Millisecond})
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("idle blackholed connection: read %v, want it closed", err)
		}
	})
}

// waitFor polls cond for up to 10 s.
func waitFor(cond func() bool) error {
	for range 1000 {
		if cond() {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return errors.New("condition not met in 10s")
}

// Dialling a target that is down resets the client.
func TestTargetDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := startProxy(t, addr, Pass, Options{})
	if got, err := roundTrip(t, p.Addr(), "x", 10*time.Second); err == nil {
		t.Errorf("got %q from a target that is down", got)
	}
}

// While calm, a proxy that spoils every connection passes them.
func TestCalm(t *testing.T) {
	e := startEcho(t)
	p := startProxy(t, e.ln.Addr().String(), Partition, Options{PartitionFor: time.Hour})
	if got, err := roundTrip(t, p.Addr(), "before", 200*time.Millisecond); err == nil {
		t.Errorf("before calm: got %q through a partition", got)
	}
	p.SetCalm(true)
	if got, err := roundTrip(t, p.Addr(), "calm", 10*time.Second); err != nil || got != "calm" {
		t.Errorf("calm: got %q, %v", got, err)
	}
	p.SetCalm(false)
	if got, err := roundTrip(t, p.Addr(), "after", 200*time.Millisecond); err == nil {
		t.Errorf("after calm: got %q through a partition", got)
	}
}

// After SetTarget, new connections reach the other server.
func TestSetTarget(t *testing.T) {
	a, b := startEcho(t), startEcho(t)
	p := startProxy(t, a.ln.Addr().String(), Pass, Options{})
	open, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if _, err := open.Write([]byte("to a")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(open, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	p.SetTarget(b.ln.Addr().String())
	open.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := open.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("a connection open at SetTarget: read %v, want it reset", err)
	}
	if _, err := roundTrip(t, p.Addr(), "to b", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if got, want := a.received()+"|"+b.received(), "to a|to b"; got != want {
		t.Errorf("received %q, want %q", got, want)
	}
	if _, err := New("no port", Options{}); err == nil {
		t.Error("New accepted a target without a port")
	}
}
