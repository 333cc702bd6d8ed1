package mqttfeed

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/backoff"
	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/mqttfeed/mqtttest"
)

// These tests run a real Mosquitto of their own on free loopback ports
// (never the shared broker on 1883) and read what arrives with a real
// client, mosquitto_sub (package mqtttest).

// cutter is a TCP relay between the feed and the broker that the test can
// close (the feed's connection dies without a goodbye, as when the
// Command Center's host loses the network) and hold shut.
type cutter struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	shut   bool
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newCutter(t *testing.T, target string) *cutter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cutter{ln: ln, target: target}
	c.wg.Go(c.serve)
	t.Cleanup(func() {
		ln.Close()
		c.cut(true)
		c.wg.Wait()
	})
	return c
}

func (c *cutter) serve() {
	for {
		in, err := c.ln.Accept()
		if err != nil {
			return
		}
		c.mu.Lock()
		shut := c.shut
		c.mu.Unlock()
		var out net.Conn
		if !shut {
			out, err = net.DialTimeout("tcp", c.target, time.Second)
		}
		if shut || err != nil {
			in.Close()
			continue
		}
		c.mu.Lock()
		c.conns = append(c.conns, in, out)
		c.mu.Unlock()
		c.wg.Go(func() { io.Copy(out, in); out.Close() })
		c.wg.Go(func() { io.Copy(in, out); in.Close() })
	}
}

// cut closes every relayed connection; shut refuses new ones until open.
func (c *cutter) cut(shut bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shut = shut
	for _, conn := range c.conns {
		conn.Close()
	}
	c.conns = nil
}

func (c *cutter) open() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shut = false
}

func (c *cutter) url() string { return "mqtt://" + c.ln.Addr().String() }

// siteStore is a Command Center store with one printer, P-7, reached.
func siteStore(t *testing.T) (*commandcenter.Store, int64) {
	t.Helper()
	st, err := commandcenter.Open(t.Context(), filepath.Join(t.TempDir(), "cc.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	p, err := st.AddPrinter(t.Context(), "10.1.2.3:8443", "AA:BB", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ident := deviceapi.Identity{Identity: fleet.Identity{PrinterID: "P-7", Name: "Line 2", Model: "FF-4200", SerialNumber: "SN7"}, Instance: "i1"}
	observe(t, st, p.ID, &ident, 1)
	return st, p.ID
}

// observe stores a poll of printer id: printing job-1 ("Bracket Order
// 4711"), event seq and the job's change seq.
func observe(t *testing.T, st *commandcenter.Store, id int64, ident *deviceapi.Identity, seq uint64) {
	t.Helper()
	now := time.Now()
	status := deviceapi.Status{State: fleet.StatePrinting, Activity: "printing", Time: now, Job: &deviceapi.CurrentJob{ID: "job-1", Progress: 0.25,
		Private: deviceapi.JobPrivate{Name: "Bracket Order 4711", User: "jdoe", Host: "CAD-PC-7"}}}
	job := deviceapi.Job{Seq: seq, Job: fleet.Job{ID: "job-1", CreatedAt: now, Status: fleet.JobPrinting, LayerCount: 10},
		Private: deviceapi.JobPrivate{Name: "Bracket Order 4711", User: "jdoe", Host: "CAD-PC-7"}}
	h := commandcenter.History{Instance: "i1", Jobs: []deviceapi.Job{job}, Events: []fleet.Event{{Seq: seq, Code: "E" + strconv.FormatUint(seq, 10),
		Description: "recoater check", Severity: fleet.SeverityInfo, Time: now,
		Details: `job "Bracket Order 4711" submitted by jdoe from CAD-PC-7`}}}
	if err := st.Observe(t.Context(), id, commandcenter.Observation{Identity: ident, Status: status, Instance: "i1", Cursor: seq, Seen: now, History: h}, nil); err != nil {
		t.Fatal(err)
	}
}

// runFeed runs f until the test ends.
func runFeed(t *testing.T, f *Feed) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
}

// awaitState waits up to 20 s for the feed's state to satisfy ok.
func awaitState(t *testing.T, f *Feed, what string, ok func(State) bool) State {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := f.State()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("feed never %s: %+v", what, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var fastRetry = backoff.Policy{Base: 50 * time.Millisecond, Max: 200 * time.Millisecond}

func TestFeedToMosquittoOverTLS(t *testing.T) {
	b := mqtttest.Start(t)
	st, id := siteStore(t)
	f, err := New(st, Options{URL: b.TLSURL(), Username: mqtttest.FeedUser, Password: mqtttest.FeedPassword,
		RootCAs: b.CA.Pool, Prefix: "plant/ff", ClientID: "feed-tls", Interval: 50 * time.Millisecond, Backoff: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	runFeed(t, f)
	awaitState(t, f, "connected", func(s State) bool { return s.Connected && s.Queued == 0 })

	sub := b.Subscribe("plant/ff/#")
	sub.Await("retained birth", mqtttest.On("plant/ff/status", true, `"state":"online"`))
	state := sub.Await("retained state", mqtttest.On("plant/ff/printers/P-7/state", true, `"Bracket Order 4711"`))
	var sp struct {
		Printer  string `json:"printer"`
		Identity struct {
			Serial string `json:"serial_number"`
		} `json:"identity"`
		Status struct {
			Job struct {
				Progress float64 `json:"progress"`
			} `json:"job"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(state.Payload), &sp); err != nil || sp.Printer != "P-7" || sp.Status.Job.Progress != 0.25 {
		t.Errorf("state payload %s: %+v, %v", state.Payload, sp, err)
	}

	observe(t, st, id, nil, 2)
	sub.Await("event 2", mqtttest.On("plant/ff/printers/P-7/events", false, `"seq":2`, `"code":"E2"`))
	sub.Await("job change 2", mqtttest.On("plant/ff/printers/P-7/jobs", false, `"seq":2`, `"Bracket Order 4711"`))
}

func TestFeedSurvivesBrokerRestartAndLeavesItsWill(t *testing.T) {
	b := mqtttest.Start(t)
	relay := newCutter(t, b.Addr())
	st, id := siteStore(t)
	f, err := New(st, Options{URL: relay.url(), Username: mqtttest.FeedUser, Password: mqtttest.FeedPassword, Prefix: "ff", ClientID: "feed-restart",
		AllowList: true, Interval: 50 * time.Millisecond, Backoff: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	runFeed(t, f)
	awaitState(t, f, "connected", func(s State) bool { return s.Connected && s.Queued == 0 })

	// The broker dies; what the site learns meanwhile waits in the queue.
	relay.cut(true)
	b.Kill()
	down := awaitState(t, f, "noticed the broker gone", func(s State) bool { return !s.Connected && s.LastError != "" })
	observe(t, st, id, nil, 2)
	observe(t, st, id, nil, 3)
	awaitState(t, f, "queued the events", func(s State) bool { return s.Queued >= 3 })

	b.Restart()
	sub := b.Subscribe("ff/#")
	relay.open()
	awaitState(t, f, "reconnected", func(s State) bool { return s.Connected && s.Queued == 0 })
	arrived := []mqtttest.Arrival{
		sub.Await("birth", mqtttest.On("ff/status", false, `"state":"online"`)),
		sub.Await("state republished", mqtttest.On("ff/printers/P-7/state", false, `"printer":"P-7"`)),
		sub.Await("event 2 kept", mqtttest.On("ff/printers/P-7/events", false, `"seq":2`, `"details":"job \"[private]\" submitted by [private] from [private]"`)),
		sub.Await("event 3 kept", mqtttest.On("ff/printers/P-7/events", false, `"seq":3`)),
		sub.Await("job change 3", mqtttest.On("ff/printers/P-7/jobs", false, `"seq":3`)),
	}
	for _, a := range append(arrived, sub.Drain()...) {
		for _, name := range []string{"Bracket Order 4711", "jdoe", "CAD-PC-7", "10.1.2.3"} {
			if strings.Contains(a.Payload, name) {
				t.Errorf("with the allow-list, %s carries %q: %s", a.Topic, name, a.Payload)
			}
		}
	}
	if s := f.State(); s.Since.Before(down.Since) || s.Dropped != 0 {
		t.Errorf("state after the restart = %+v", s)
	}

	// The Command Center's connection dies without a goodbye: the broker
	// publishes its will, then the feed is back.
	relay.cut(false)
	sub.Await("will", mqtttest.On("ff/status", false, `"state":"offline"`, `"reason":"connection lost"`))
	sub.Await("birth again", mqtttest.On("ff/status", false, `"state":"online"`))
	fresh := b.Subscribe("ff/#")
	fresh.Await("retained state", mqtttest.On("ff/printers/P-7/state", true, `"printer":"P-7"`))
	fresh.Await("retained birth", mqtttest.On("ff/status", true, `"state":"online"`))
}

func TestFeedRefusedRetriesAndSays(t *testing.T) {
	b := mqtttest.Start(t)
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"wrong password", Options{URL: b.URL(), Username: mqtttest.FeedUser, Password: "wrong"}, "not Authorized"},
		{"no login", Options{URL: b.URL()}, "not Authorized"},
		{"untrusted certificate", Options{URL: b.TLSURL(), Username: mqtttest.FeedUser, Password: mqtttest.FeedPassword}, "certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, _ := siteStore(t)
			tc.opts.Interval, tc.opts.Backoff, tc.opts.ClientID = 50*time.Millisecond, fastRetry, "feed-"+strings.ReplaceAll(tc.name, " ", "-")
			f, err := New(st, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			runFeed(t, f)
			first := awaitState(t, f, "failed", func(s State) bool { return s.LastError != "" })
			again := awaitState(t, f, "retried", func(s State) bool { return s.LastErrorAt.After(first.LastErrorAt) })
			if again.Connected || !strings.Contains(again.LastError, tc.want) || !again.Since.Equal(first.Since) || again.Queued == 0 {
				t.Errorf("state = %+v, want not connected, retrying since %v, the error saying %q, the state queued", again, first.Since, tc.want)
			}
		})
	}
}
