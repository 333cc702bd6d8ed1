package commandcenter

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/sqlitedb"
	"github.com/fusionfleet/fusionfleet/internal/wait"
)

// served serves a fakeDevice over the real device API handler.
type served struct{ d *fakeDevice }

func (s served) Identity() deviceapi.Identity {
	v, _ := s.d.Identity(context.Background())
	return v
}

func (s served) Status() deviceapi.Status {
	v, _ := s.d.Status(context.Background())
	return v
}

func (s served) Events(after uint64, limit int) deviceapi.EventPage {
	v, _ := s.d.Events(context.Background(), after, limit)
	return v
}

func (s served) Jobs(after uint64, limit int) deviceapi.JobPage {
	v, _ := s.d.Jobs(context.Background(), after, limit)
	return v
}

func (s served) Layers(after uint64, limit int) deviceapi.LayerPage {
	v, _ := s.d.Layers(context.Background(), after, limit)
	return v
}

func (s served) Logs(log fleet.LogKind, after uint64, limit int) deviceapi.LogPage {
	v, _ := s.d.Logs(context.Background(), log, after, limit)
	return v
}

func (s served) Counters() fleet.Counters {
	v, _ := s.d.Counters(context.Background())
	return v
}

func (s served) Consumables() fleet.Consumables {
	v, _ := s.d.Consumables(context.Background())
	return v
}

func (s served) SelfTest() deviceapi.SelfTest {
	return deviceapi.SelfTest{Time: time.Unix(0, 0), Passed: true}
}

// tlsPrinter is a fake printer behind a real HTTPS device API.
type tlsPrinter struct {
	srv    *httptest.Server
	conns  atomic.Int64 // connections accepted
	closed atomic.Int64 // connections closed
	pin    deviceapi.Fingerprint
}

// startPrinter serves h over TLS on l (nil: a fresh loopback port).
func startPrinter(t *testing.T, h http.Handler, l net.Listener) *tlsPrinter {
	t.Helper()
	return startPrinterWith(t, h, l, nil)
}

// startPrinterWith is startPrinter presenting cert (nil: httptest's).
func startPrinterWith(t *testing.T, h http.Handler, l net.Listener, cert *tls.Certificate) *tlsPrinter {
	t.Helper()
	p := &tlsPrinter{srv: httptest.NewUnstartedServer(h)}
	// As deviceapi.NewServer: the client's certificate is asked for, and
	// the handler decides by its fingerprint.
	p.srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	if cert != nil {
		p.srv.TLS.Certificates = []tls.Certificate{*cert}
	}
	if l != nil {
		p.srv.Listener.Close()
		p.srv.Listener = l
	}
	p.srv.Config.ErrorLog = slog.NewLogLogger(slog.DiscardHandler, slog.LevelError) // refused handshakes are the point
	p.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			p.conns.Add(1)
		case http.StateClosed:
			p.closed.Add(1)
		}
	}
	p.srv.StartTLS()
	t.Cleanup(p.srv.Close)
	p.pin = deviceapi.FingerprintOf(p.srv.Certificate().Raw)
	return p
}

func (p *tlsPrinter) addr() string { return p.srv.Listener.Addr().String() }

// realDialer reaches printers with the real device API client.
func realDialer(timeout time.Duration, maxBytes int64) Dialer {
	return func(addr string, pin deviceapi.Fingerprint) Device {
		return deviceapi.NewClient(addr, pin, deviceapi.ClientOptions{Timeout: timeout, MaxResponseBytes: maxBytes, Certificate: testCC()})
	}
}

// misbehave answers path with bad and everything else with h.
func misbehave(h http.Handler, path string, bad http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == path {
			bad(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func answer(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
	}
}

func TestPollerBadPrinters(t *testing.T) {
	tests := []struct {
		name  string
		path  string
		bad   http.HandlerFunc
		pin   deviceapi.Fingerprint // "" → the server's own
		state CollectionState
		kind  PollErrorKind
	}{
		{name: "garbage status", path: "/v1/status", bad: answer("<html>printer busy</html>"),
			state: CollectionUnreachable, kind: ErrorGarbage},
		{name: "garbage jobs", path: "/v1/jobs", bad: answer(`{"instance":"inst-1","items":[{"seq":"x"}],"next":0,"first":1}`),
			state: CollectionBadInput, kind: ErrorGarbage},
		{name: "huge body", path: "/v1/events", bad: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"instance":"inst-1","items":[],"next":0,"first":1` + strings.Repeat(" ", 256<<10) + "}"))
		}, state: CollectionBadInput, kind: ErrorTooLarge},
		{name: "slow drip", path: "/v1/jobs", bad: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte("{"))
			for {
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					// Never end the answer: a dripping printer is cut off, not finished.
					panic(http.ErrAbortHandler)
				case <-time.After(20 * time.Millisecond):
				}
				if _, err := w.Write([]byte(" ")); err != nil {
					panic(http.ErrAbortHandler)
				}
			}
		}, state: CollectionBadInput, kind: ErrorTimeout},
		{name: "error answer", path: "/v1/layers", bad: func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "internal", http.StatusInternalServerError)
		}, state: CollectionBadInput, kind: ErrorHTTPStatus},
		{name: "cursor goes backwards", path: "/v1/events", bad: func(w http.ResponseWriter, r *http.Request) {
			after := r.URL.Query().Get("after")
			if after == "0" {
				answer(`{"instance":"inst-1","items":[{"seq":1,"code":"E1","description":"","severity":"info","time":"2025-03-01T12:00:00Z","firmware":"","subsystem":"","details":""},{"seq":2,"code":"E2","description":"","severity":"info","time":"2025-03-01T12:00:00Z","firmware":"","subsystem":"","details":""}],"next":2,"first":1}`)(w, r)
				return
			}
			answer(`{"instance":"inst-1","items":[],"next":1,"first":1}`)(w, r)
		}, state: CollectionBadInput, kind: ErrorCursorBackwards},
		{name: "wrong certificate", pin: fpA, state: CollectionCertificateChanged, kind: ErrorCertificate},
		// A 401 on any route means the printer does not serve this Command
		// Center: the whole poll fails rather than storing a part of it.
		{name: "not paired for one feed", path: "/v1/layers", bad: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"not paired"}`)
		}, state: CollectionNotPaired, kind: ErrorNotPaired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, _ := openStore(t)
			clk := clock.NewManual(t0)
			p := NewPoller(st, realDialer(300*time.Millisecond, 64<<10), PollerOptions{Clock: clk})

			badDev, goodDev := newFakeDevice("printer-000a"), newFakeDevice("printer-000b")
			goodDev.set(func(d *fakeDevice) { d.status = printingStatus("job-1", 3000) })
			var h http.Handler = deviceHandler(t, served{badDev})
			if tt.bad != nil {
				h = misbehave(h, tt.path, tt.bad)
			}
			bad := startPrinter(t, h, nil)
			good := startPrinter(t, deviceHandler(t, served{goodDev}), nil)
			pin := bad.pin
			if tt.pin != "" {
				pin = tt.pin
			}
			badPr, err := st.AddPrinter(t.Context(), bad.addr(), pin, t0)
			if err != nil {
				t.Fatal(err)
			}
			goodPr, err := st.AddPrinter(t.Context(), good.addr(), good.pin, t0)
			if err != nil {
				t.Fatal(err)
			}

			err = p.PollOnce(t.Context())
			clk.Advance(15 * time.Second)
			if err2 := p.PollOnce(t.Context()); err2 == nil && tt.state != CollectionCertificateChanged {
				t.Error("second PollOnce() with a bad printer succeeded")
			}
			if err == nil && tt.kind != ErrorCursorBackwards {
				t.Fatal("PollOnce() with a bad printer succeeded")
			}

			got := storedPrinter(t, st, badPr.ID)
			if got.State != tt.state || got.ErrorKind != tt.kind || got.LastError == "" {
				t.Errorf("bad printer: state %q kind %q error %q; want %q of kind %q", got.State, got.ErrorKind, got.LastError, tt.state, tt.kind)
			}
			if n := p.Stats().PollErrors[tt.kind]; n == 0 {
				t.Errorf("no error of kind %q counted: %v", tt.kind, p.Stats().PollErrors)
			}
			if g := storedPrinter(t, st, goodPr.ID); g.State != CollectionOK {
				t.Errorf("good printer: state %q (%s), want ok", g.State, g.LastError)
			}
			recs := pending(t, st)
			assertNoCanary(t, recs)
			seen := map[string]bool{}
			for _, r := range recs {
				if r.PrinterID == "printer-000b" {
					seen[string(r.Kind)] = true
				}
			}
			for _, k := range []fleet.Kind{fleet.KindIdentity, fleet.KindStatus, fleet.KindCounters, fleet.KindConsumables} {
				if !seen[string(k)] {
					t.Errorf("good printer: no %s record (have %v)", k, seen)
				}
			}
		})
	}
}

// TestPollerFollowsAMovingName polls a printer by name while the name
// moves from one address to another, over the real client: every poll
// resolves the name again; the connection is kept while the address stays
// and closed when it moves, so no connection to the old address is kept.
func TestPollerFollowsAMovingName(t *testing.T) {
	l4, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l4.Addr().(*net.TCPAddr).Port
	l6, err := net.Listen("tcp", fmt.Sprintf("[::1]:%d", port))
	if err != nil {
		l4.Close()
		t.Skipf("no IPv6 loopback on port %d: %v", port, err)
	}
	dev := newFakeDevice("printer-000a")
	h := deviceHandler(t, served{dev})
	old, moved := startPrinter(t, h, l4), startPrinter(t, h, l6)

	st, _ := openStore(t)
	clk := clock.NewManual(t0)
	res := &movingResolver{ips: []string{"127.0.0.1"}}
	p := NewPoller(st, realDialer(2*time.Second, 0), PollerOptions{Clock: clk, Resolver: res})
	pr, err := st.AddPrinter(t.Context(), fmt.Sprintf("printer-m.example:%d", port), old.pin, t0)
	if err != nil {
		t.Fatal(err)
	}
	poll := func(wantResolved string) {
		t.Helper()
		clk.Advance(5 * time.Second)
		if err := p.PollOnce(t.Context()); err != nil {
			t.Fatalf("PollOnce: %v", err)
		}
		if got := storedPrinter(t, st, pr.ID); got.State != CollectionOK || got.ResolvedAddress != wantResolved {
			t.Fatalf("printer: state %q at %q, want ok at %q", got.State, got.ResolvedAddress, wantResolved)
		}
	}
	poll(fmt.Sprintf("127.0.0.1:%d", port))
	poll(fmt.Sprintf("127.0.0.1:%d", port))
	if n := old.conns.Load(); n != 1 {
		t.Errorf("connections for two polls = %d, want one kept for both", n)
	}
	// The old address still answers, but the name moved: the connection
	// to the old address is closed, not kept beside the new one.
	res.set(nil, "::1")
	poll(fmt.Sprintf("[::1]:%d", port))
	poll(fmt.Sprintf("[::1]:%d", port))
	if n := moved.conns.Load(); n != 1 {
		t.Errorf("connections at the new address = %d, want one kept for both polls", n)
	}
	wait.For(t, "the connection to the old address closed", 5*time.Second, func() bool { return old.closed.Load() == 1 })
	if n := old.conns.Load(); n != 1 {
		t.Errorf("connections to the old address = %d after the move, want none more", n)
	}
}

// TestPollerKeepsConnectionWhilePinHolds polls a real printer over the
// real client: one connection serves every poll; a re-pin closes it and the
// next connection is checked against the new pin; a printer that comes
// back at the same address with another certificate is refused, although
// its predecessor's connection had been kept.
func TestPollerKeepsConnectionWhilePinHolds(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	dev := newFakeDevice("printer-000a")
	h := deviceHandler(t, served{dev})
	first := startPrinter(t, h, l)

	st, _ := openStore(t)
	clk := clock.NewManual(t0)
	p := NewPoller(st, realDialer(2*time.Second, 0), PollerOptions{Clock: clk})
	pr, err := st.AddPrinter(t.Context(), addr, first.pin, t0)
	if err != nil {
		t.Fatal(err)
	}
	poll := func(want CollectionState) {
		t.Helper()
		clk.Advance(time.Minute)
		p.PollOnce(t.Context())
		if got := storedPrinter(t, st, pr.ID); got.State != want {
			t.Fatalf("printer: state %q (%s), want %q", got.State, got.LastError, want)
		}
	}
	for range 3 {
		poll(CollectionOK)
	}
	if n := first.conns.Load(); n != 1 {
		t.Errorf("connections for three polls = %d, want one kept for all", n)
	}

	// Re-pinned to a certificate the printer does not have: the kept
	// connection, checked against the old pin, is closed, and the new
	// connection is refused.
	if err := st.Repin(t.Context(), addr, fpA, clk.Now()); err != nil {
		t.Fatal(err)
	}
	poll(CollectionCertificateChanged)
	wait.For(t, "the connection checked against the old pin closed", 5*time.Second, func() bool { return first.closed.Load() >= 1 })
	if n := first.conns.Load(); n != 2 {
		t.Errorf("connections after the re-pin = %d, want a new one checked against the new pin", n)
	}
	if err := st.Repin(t.Context(), addr, first.pin, clk.Now()); err != nil {
		t.Fatal(err)
	}
	poll(CollectionOK)
	poll(CollectionOK)
	if n := first.conns.Load(); n != 3 {
		t.Errorf("connections after re-pinning the right certificate = %d, want 3", n)
	}

	// The printer is replaced at the same address by one with another
	// certificate: the kept connection ends with the old printer, and the
	// new one's certificate is refused.
	first.srv.Close()
	l2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s not free again: %v", addr, err)
	}
	other, err := deviceapi.LoadOrCreateCertificate(t.TempDir(), nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	second := startPrinterWith(t, h, l2, &other)
	poll(CollectionCertificateChanged)
	if n := second.conns.Load(); n != 1 {
		t.Errorf("connections to the replacement = %d, want 1", n)
	}
	if got := storedPrinter(t, st, pr.ID).ErrorKind; got != ErrorCertificate {
		t.Errorf("error kind = %q, want %q", got, ErrorCertificate)
	}
}

func TestPollerPrunesHistory(t *testing.T) {
	f := newFixtureWith(t, PollerOptions{Retention: 24 * time.Hour})
	dev, pr := f.add(t, "printer-a:8443", "printer-000a")
	dev.set(func(d *fakeDevice) {
		d.jobs = []deviceapi.Job{job(1, "job-1", fleet.JobQueued)}
		d.events = []fleet.Event{{Seq: 1, Code: "E1", Severity: fleet.SeverityInfo, Time: t0}}
	})
	pollOnce(t, f.p)
	dev.set(func(d *fakeDevice) {
		d.jobs = append(d.jobs, job(2, "job-2", fleet.JobQueued))
		d.events = append(d.events, fleet.Event{Seq: 2, Code: "E2", Severity: fleet.SeverityInfo, Time: t0})
	})
	f.clock.Advance(25 * time.Hour)
	pollOnce(t, f.p)

	jobs, err := f.st.Jobs(t.Context(), 0, 0)
	if err != nil || len(jobs) != 1 || jobs[0].Job.ID != "job-2" {
		t.Errorf("jobs after pruning = %+v (%v), want job-2 only", jobs, err)
	}
	evs, err := f.st.Events(t.Context(), pr.ID, 0)
	if err != nil || len(evs) != 1 || evs[0].Event.Code != "E2" {
		t.Errorf("events after pruning = %+v (%v), want E2 only", evs, err)
	}
	cons, err := f.st.ConsumablesHistory(t.Context(), pr.ID, t0, t0.Add(48*time.Hour))
	if err != nil || len(cons) != 1 {
		t.Errorf("consumables after pruning = %d samples (%v), want the new one", len(cons), err)
	}
	n, err := f.st.Prune(t.Context(), t0.Add(100*time.Hour))
	if err != nil || n != 4 { // job-2, E2, counters, consumables
		t.Errorf("Prune everything = %d, %v; want 4 rows", n, err)
	}
}

func TestHistoryReadErrors(t *testing.T) {
	st, _ := openStore(t)
	pr, err := st.AddPrinter(t.Context(), "printer-a:8443", fpA, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.db.Exec(`INSERT INTO jobs (printer, job_id, feed_seq, updated, job) VALUES (?, 'j', 1, ?, '{bad')`,
		pr.ID, sqlitedb.FormatTime(t0)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.db.Exec(`INSERT INTO events (printer, instance, seq, seen, event) VALUES (?, 'i', 1, 'yesterday', '{}')`, pr.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Jobs(t.Context(), pr.ID, 10); err == nil || !strings.Contains(err.Error(), "corrupt row") {
		t.Errorf("Jobs over a corrupt row = %v, want 'corrupt row'", err)
	}
	if _, err := st.partOutcomes(t.Context(), pr.ID, "j"); err == nil {
		t.Error("partOutcomes over a corrupt row succeeded")
	}
	if _, err := st.Events(t.Context(), pr.ID, 10); err == nil || !strings.Contains(err.Error(), "bad time") {
		t.Errorf("Events over a corrupt row = %v, want 'bad time'", err)
	}
	if _, err := st.db.Exec(`UPDATE meta SET value = 'zz' WHERE key = 'site_secret'`); err != nil {
		t.Fatal(err)
	}
	if _, err := st.db.Exec(`INSERT INTO meta (key, value) VALUES ('site_secret', 'zz') ON CONFLICT DO NOTHING`); err != nil {
		t.Fatal(err)
	}
	if _, err := st.siteSecret(t.Context()); err == nil {
		t.Error("a corrupt site secret was accepted")
	}
	st.Close()
	if _, err := st.Prune(t.Context(), t0); err == nil {
		t.Error("Prune on a closed store succeeded")
	}
	if _, err := st.ConsumablesHistory(t.Context(), pr.ID, t0, t0); err == nil {
		t.Error("ConsumablesHistory on a closed store succeeded")
	}
}

// FuzzReadFeed feeds arbitrary event pages to readFeed: it must not panic,
// every record it produces must be valid, and within one instance the
// cursor never goes backwards.
func FuzzReadFeed(f *testing.F) {
	f.Add([]byte(`[{"instance":"inst-1","items":[{"seq":1,"code":"E","severity":"info","time":"2025-03-01T12:00:00Z"}],"next":1,"first":1}]`))
	f.Add([]byte(`[{"instance":"inst-1","items":[],"next":0,"first":9}]`))
	f.Add([]byte(`[{"instance":"inst-2","items":[{"seq":3,"code":""}],"next":3,"first":1}]`))
	f.Add([]byte(`[{"instance":"inst-1","items":[{"seq":7,"code":"E","severity":"info","time":"2025-03-01T12:00:00Z"},{"seq":2}],"next":1,"first":1}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var pages []deviceapi.EventPage
		if json.Unmarshal(data, &pages) != nil {
			return
		}
		st := &printerState{}
		dev := newFakeDevice("printer-000a")
		st.identity, st.contacted = dev.identity, true
		p := &Poller{opts: PollerOptions{MaxPages: 3}}
		r := &pollRun{p: p, st: st, dev: dev, now: t0, identSent: true}
		r.newIdent = &st.identity
		i := 0
		read := func(_ context.Context, after uint64, limit int) (deviceapi.EventPage, error) {
			if i >= len(pages) {
				return deviceapi.EventPage{Instance: "inst-1", Next: after}, nil
			}
			i++
			return pages[i-1], nil
		}
		start := FeedPosition{Instance: "inst-1", Cursor: 5}
		pos, err := readFeed(context.Background(), r, feed[fleet.Event]{
			name: "events", item: "event", pageSize: 2, read: read,
			seq: func(e fleet.Event) uint64 { return e.Seq }, take: r.takeEvent,
		}, start)
		if err != nil && classify(err) == ErrorStore {
			t.Fatalf("readFeed error %v is not a device error", err)
		}
		if pos.Instance == start.Instance && pos.Cursor < start.Cursor {
			t.Fatalf("cursor went back from %d to %d", start.Cursor, pos.Cursor)
		}
		for _, rec := range r.recs {
			if err := validRecord(rec); err != nil {
				t.Fatalf("invalid record %+v: %v", rec, err)
			}
			if rec.Kind == fleet.KindEvent && rec.Event.Seq > pos.Cursor && pos.Instance == start.Instance {
				t.Fatalf("event %d taken beyond the cursor %d", rec.Event.Seq, pos.Cursor)
			}
		}
	})
}
