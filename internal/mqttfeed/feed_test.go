package mqttfeed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fusionfleet/fusionfleet/internal/backoff"
	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/privacy"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeSource is the local truth in memory: positions of events are their
// index + 1.
type fakeSource struct {
	mu       sync.Mutex
	printers []commandcenter.Printer
	events   []commandcenter.LocalEvent
	jobs     []commandcenter.LocalJob
	err      error
}

func (s *fakeSource) Printers(context.Context) ([]commandcenter.Printer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]commandcenter.Printer(nil), s.printers...), s.err
}

func (s *fakeSource) EventsAfter(_ context.Context, after int64, limit int) ([]commandcenter.LocalEvent, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, after, s.err
	}
	if after < 0 {
		return nil, int64(len(s.events)), nil
	}
	out := s.events[after:]
	if len(out) > limit {
		out = out[:limit]
	}
	return append([]commandcenter.LocalEvent(nil), out...), after + int64(len(out)), nil
}

func (s *fakeSource) JobsSince(_ context.Context, since time.Time, limit int) ([]commandcenter.LocalJob, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []commandcenter.LocalJob
	for _, j := range s.jobs {
		if !j.Updated.Before(since) && len(out) < limit {
			out = append(out, j)
		}
	}
	return out, s.err
}

func (s *fakeSource) addEvent(printer int64, seq uint64, desc string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, commandcenter.LocalEvent{Printer: printer, Seen: t0,
		Event: fleet.Event{Seq: seq, Code: "E1", Description: desc, Severity: fleet.SeverityWarning, Time: t0}})
}

func printer(id int64, pid fleet.PrinterID, job string) commandcenter.Printer {
	st := deviceapi.Status{State: fleet.StateIdle, Time: t0}
	if job != "" {
		st = deviceapi.Status{State: fleet.StatePrinting, Activity: "printing " + job, Time: t0, Job: &deviceapi.CurrentJob{
			ID: "job-1", Progress: 0.5, Private: deviceapi.JobPrivate{Name: job, User: "jdoe", Host: "CAD-PC-7"}}}
	}
	return commandcenter.Printer{ID: id, Address: "10.1.2.3:8443", State: commandcenter.CollectionOK, StateSince: t0, LastSeen: t0,
		Identity: &deviceapi.Identity{Identity: fleet.Identity{PrinterID: pid, Name: "Printer " + string(pid), Model: "FF-4200"}},
		Status:   &st}
}

// fakeBroker stands for the broker and its connections.
type fakeBroker struct {
	mu       sync.Mutex
	refuse   error       // dialling fails with it while set
	attempts []time.Time // when the feed dialled
	wills    []message
	got      []message // acknowledged, in order
	// lose, when > 0, acknowledges that many more publications and then
	// loses the connection at the next.
	lose int
}

func (b *fakeBroker) dial(ctx context.Context, will message) (session, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.attempts = append(b.attempts, time.Now())
	if b.refuse != nil {
		return nil, b.refuse
	}
	b.wills = append(b.wills, will)
	return &fakeSession{b: b, done: make(chan struct{})}, nil
}

func (b *fakeBroker) messages() []message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]message(nil), b.got...)
}

type fakeSession struct {
	b    *fakeBroker
	once sync.Once
	done chan struct{}
}

func (s *fakeSession) publish(ctx context.Context, m message) error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	select {
	case <-s.done:
		return errConnectionLost
	default:
	}
	if s.b.lose > 0 {
		s.b.lose--
		if s.b.lose == 0 {
			s.once.Do(func() { close(s.done) })
			return errConnectionLost
		}
	}
	s.b.got = append(s.b.got, m)
	return nil
}

func (s *fakeSession) lost() <-chan struct{} { return s.done }
func (s *fakeSession) err() error            { return errConnectionLost }
func (s *fakeSession) close(final *message) {
	if final != nil {
		s.publish(context.Background(), *final)
	}
	s.once.Do(func() { close(s.done) })
}

// topicsOf says each message as "topic" or "topic retained".
func topicsOf(ms []message) []string {
	var out []string
	for _, m := range ms {
		s := m.topic
		if m.retained {
			s += " retained"
		}
		out = append(out, s)
	}
	return out
}

// startFeed runs a feed of src into b until the test ends; call inside a
// synctest bubble.
func startFeed(t *testing.T, src Source, b *fakeBroker, opts Options) (*Feed, func()) {
	t.Helper()
	opts.URL, opts.dial = "mqtt://broker.test", b.dial
	if opts.Backoff.Base == 0 {
		opts.Backoff = backoff.Policy{Base: time.Second, Max: 4 * time.Second}
	}
	f, err := New(src, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- f.Run(ctx) }()
	return f, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	}
}

func TestFeedRetriesWithBackoffAndKeepsWhatWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{printers: []commandcenter.Printer{printer(1, "P-1", "")}}
		b := &fakeBroker{refuse: errors.New("connect to broker.test:1883: not Authorized")}
		start := time.Now()
		f, stop := startFeed(t, src, b, Options{})
		defer stop()
		time.Sleep(500 * time.Millisecond)
		synctest.Wait()
		src.addEvent(1, 1, "door opened")
		src.addEvent(1, 2, "door closed")
		time.Sleep(11 * time.Second)
		synctest.Wait()

		got := f.State()
		want := State{Broker: "mqtt://broker.test", Prefix: "fusionfleet", Since: start,
			LastError: "connect to broker.test:1883: not Authorized", LastErrorAt: start.Add(11 * time.Second), Queued: 3}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("State while the broker refuses (-want +got):\n%s", diff)
		}
		var after []time.Duration
		for _, at := range b.attempts {
			after = append(after, at.Sub(start))
		}
		// 1 s doubling to the 4 s cap: 0, 1, 3, 7, 11.
		wantAfter := []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second, 11 * time.Second}
		if diff := cmp.Diff(wantAfter, after); diff != "" {
			t.Errorf("attempts (-want +got):\n%s", diff)
		}

		b.mu.Lock()
		b.refuse = nil
		b.mu.Unlock()
		time.Sleep(4 * time.Second)
		synctest.Wait()
		wantTopics := []string{"fusionfleet/status retained", "fusionfleet/printers/P-1/state retained",
			"fusionfleet/printers/P-1/events", "fusionfleet/printers/P-1/events"}
		if diff := cmp.Diff(wantTopics, topicsOf(b.messages())); diff != "" {
			t.Errorf("published once the broker takes the feed (-want +got):\n%s", diff)
		}
		got = f.State()
		if !got.Connected || got.Since != start.Add(15*time.Second) || got.Queued != 0 || got.Published != 4 {
			t.Errorf("State once connected = %+v, want connected since 15 s, nothing queued, 4 published", got)
		}
		if len(b.wills) != 1 || b.wills[0].topic != "fusionfleet/status" || !strings.Contains(string(b.wills[0].payload), `"offline"`) {
			t.Errorf("wills = %v, want the retained offline status", b.wills)
		}
	})
}

func TestFeedQueueBoundDropsTheOldest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{printers: []commandcenter.Printer{printer(1, "P-1", "")}}
		b := &fakeBroker{refuse: errors.New("connection refused")}
		f, stop := startFeed(t, src, b, Options{QueueLimit: 3})
		defer stop()
		synctest.Wait()
		for i := range 5 {
			src.addEvent(1, uint64(i+1), "event")
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := f.State(); got.Queued != 4 || got.Dropped != 2 {
			t.Errorf("State = %+v, want 4 queued (3 events, 1 state) and 2 dropped", got)
		}
		reg := prometheus.NewRegistry()
		reg.MustRegister(f.Metrics())
		want := `
# HELP fusionfleet_commandcenter_mqtt_connected 1 while the MQTT feed is connected to its broker, else 0.
# TYPE fusionfleet_commandcenter_mqtt_connected gauge
fusionfleet_commandcenter_mqtt_connected 0
# HELP fusionfleet_commandcenter_mqtt_dropped_messages_total Events and job changes dropped from the MQTT feed's full queue.
# TYPE fusionfleet_commandcenter_mqtt_dropped_messages_total counter
fusionfleet_commandcenter_mqtt_dropped_messages_total 2
# HELP fusionfleet_commandcenter_mqtt_published_messages_total Messages of the MQTT feed the broker acknowledged.
# TYPE fusionfleet_commandcenter_mqtt_published_messages_total counter
fusionfleet_commandcenter_mqtt_published_messages_total 0
# HELP fusionfleet_commandcenter_mqtt_queued_messages Messages of the MQTT feed waiting for the broker's acknowledgement.
# TYPE fusionfleet_commandcenter_mqtt_queued_messages gauge
fusionfleet_commandcenter_mqtt_queued_messages 4
`
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
			t.Errorf("metrics while the broker is down: %v", err)
		}
		b.mu.Lock()
		b.refuse = nil
		b.mu.Unlock()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		var seqs []uint64
		for _, m := range b.messages() {
			var e eventPayload
			if strings.HasSuffix(m.topic, "/events") {
				if err := json.Unmarshal(m.payload, &e); err != nil {
					t.Fatal(err)
				}
				seqs = append(seqs, e.Event.Seq)
			}
		}
		if diff := cmp.Diff([]uint64{3, 4, 5}, seqs); diff != "" {
			t.Errorf("events published (-want +got):\n%s", diff)
		}
		connected := `
# HELP fusionfleet_commandcenter_mqtt_connected 1 while the MQTT feed is connected to its broker, else 0.
# TYPE fusionfleet_commandcenter_mqtt_connected gauge
fusionfleet_commandcenter_mqtt_connected 1
`
		if err := testutil.CollectAndCompare(f.Metrics(), strings.NewReader(connected), "fusionfleet_commandcenter_mqtt_connected"); err != nil {
			t.Errorf("metrics once connected: %v", err)
		}
	})
}

func TestFeedRepublishesWhatTheBrokerDidNotAcknowledge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{printers: []commandcenter.Printer{printer(1, "P-1", "")}}
		for i := range 3 {
			src.addEvent(1, uint64(i+1), "before")
		}
		// Birth and state go; the first event is lost with the connection.
		b := &fakeBroker{lose: 3}
		f, stop := startFeed(t, src, b, Options{})
		synctest.Wait()
		src.addEvent(1, 4, "one")
		src.addEvent(1, 5, "two")
		time.Sleep(3 * time.Second)
		synctest.Wait()
		want := []string{
			"fusionfleet/status retained", "fusionfleet/printers/P-1/state retained",
			// after the reconnection: birth and state again, then every event
			"fusionfleet/status retained", "fusionfleet/printers/P-1/state retained",
			"fusionfleet/printers/P-1/events", "fusionfleet/printers/P-1/events",
		}
		if diff := cmp.Diff(want, topicsOf(b.messages())); diff != "" {
			t.Errorf("published (-want +got):\n%s", diff)
		}
		if got := f.State(); !got.Connected || got.LastError != errConnectionLost.Error() {
			t.Errorf("State = %+v, want connected again, the loss as last error", got)
		}
		stop()
		ms := b.messages()
		if last := ms[len(ms)-1]; last.topic != "fusionfleet/status" || !strings.Contains(string(last.payload), `"reason":"stopped"`) {
			t.Errorf("last message at a clean stop = %s %s, want the offline status", last.topic, last.payload)
		}
	})
}

func TestFeedStoreErrorsAffectNothingElse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{err: errors.New("disk I/O error")}
		b := &fakeBroker{}
		f, stop := startFeed(t, src, b, Options{})
		defer stop()
		time.Sleep(3 * time.Second)
		synctest.Wait()
		src.mu.Lock()
		src.err = nil
		src.printers = []commandcenter.Printer{printer(1, "P-1", "")}
		src.mu.Unlock()
		time.Sleep(time.Second)
		synctest.Wait()
		if got := f.State(); !got.Connected || got.Published != 2 {
			t.Errorf("State = %+v, want connected, birth and the state published once the store reads", got)
		}
	})
}

func TestPayloadsPrivacy(t *testing.T) {
	job := commandcenter.LocalJob{Printer: 1, Updated: t0, Job: deviceapi.Job{Seq: 3,
		Job:     fleet.Job{ID: "job-1", CreatedAt: t0, Status: fleet.JobPrinting, LayerCount: 10, PartCount: 1},
		Private: deviceapi.JobPrivate{Name: "Bracket Order 4711", User: "jdoe", Host: "CAD-PC-7"},
		Parts: []deviceapi.Part{{Part: fleet.Part{ID: "part-1", JobID: "job-1", CreatedAt: t0, Outcome: fleet.PartPending},
			Private: deviceapi.PartPrivate{Name: "Hinge Left", GeometryRef: "hinge.3mf"}}}}}
	private := []string{"Bracket Order 4711", "jdoe", "CAD-PC-7", "Hinge Left", "hinge.3mf", "10.1.2.3"}
	for _, tc := range []struct {
		allowList bool
		want      []string // private strings each payload must hold; none with the allow-list
	}{
		{false, private},
		{true, nil},
	} {
		p := payloads{allowList: tc.allowList, names: privacy.NewNames(0)}
		pr := printer(1, "P-1", "Bracket Order 4711")
		p.learnStatus(pr.Status)
		p.learnJob(job.Job)
		state, err := p.state(pr)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := p.event("P-1", commandcenter.LocalEvent{Printer: 1, Seen: t0, Event: fleet.Event{Seq: 1, Code: "E7",
			Description: "job Bracket Order 4711 paused", Severity: fleet.SeverityWarning, Time: t0}})
		if err != nil {
			t.Fatal(err)
		}
		jb, err := p.job("P-1", job)
		if err != nil {
			t.Fatal(err)
		}
		all := string(state) + string(ev) + string(jb)
		for _, s := range private {
			if has, want := strings.Contains(all, s), tc.want != nil; has != want {
				t.Errorf("allow-list %v: payloads hold %q: %v, want %v\n%s", tc.allowList, s, has, want, all)
			}
		}
		for _, s := range []string{`"printer":"P-1"`, `"job-1"`, `"part-1"`, `"E7"`, `"progress":0.5`} {
			if !strings.Contains(all, s) {
				t.Errorf("allow-list %v: payloads lack %s\n%s", tc.allowList, s, all)
			}
		}
		if tc.allowList && !strings.Contains(string(ev), "job [private] paused") {
			t.Errorf("allow-list: event %s, want the job name redacted in its description", ev)
		}
	}
}

func TestParseURLAndNew(t *testing.T) {
	for _, tc := range []struct {
		url, hostport string
		tls           bool
		err           string
	}{
		{url: "mqtt://127.0.0.1", hostport: "127.0.0.1:1883"},
		{url: "mqtt://broker.example:1884/", hostport: "broker.example:1884"},
		{url: "mqtts://broker.example", hostport: "broker.example:8883", tls: true},
		{url: "mqtts://[::1]:8884", hostport: "[::1]:8884", tls: true},
		{url: "tcp://127.0.0.1:1883", err: "want mqtt://"},
		{url: "mqtt://user:secret@127.0.0.1", err: "no user or password"},
		{url: "mqtt:///topic", err: "want mqtt://"},
		{url: "mqtt://host/path", err: "want mqtt://"},
		{url: "mqtt://host?x=1", err: "want mqtt://"},
		{url: "mqtt://host:%zz", err: "mqtt broker URL"},
	} {
		hp, useTLS, err := ParseURL(tc.url)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseURL(%q) = %v, want an error with %q", tc.url, err, tc.err)
			}
			continue
		}
		if err != nil || hp != tc.hostport || useTLS != tc.tls {
			t.Errorf("ParseURL(%q) = %q, %v, %v; want %q, %v", tc.url, hp, useTLS, err, tc.hostport, tc.tls)
		}
	}
	for _, prefix := range []string{"site/#", "a/+/b", "/lead", "trail/"} {
		if _, err := New(&fakeSource{}, Options{URL: "mqtt://127.0.0.1", Prefix: prefix}); err == nil {
			t.Errorf("New with prefix %q: no error", prefix)
		}
	}
	if _, err := New(&fakeSource{}, Options{URL: "http://127.0.0.1"}); err == nil {
		t.Error("New with an http URL: no error")
	}
	f, err := New(&fakeSource{}, Options{URL: "mqtt://127.0.0.1", Prefix: "plant-3/fusionfleet", Clock: clock.NewManual(t0)})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.topics.printer("P/1+#", "state"); got != "plant-3/fusionfleet/printers/P_1__/state" {
		t.Errorf("topic of printer P/1+# = %q", got)
	}
}

func TestFeedPublishesEachJobChangeOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		job := func(id string, seq uint64, at time.Duration) commandcenter.LocalJob {
			return commandcenter.LocalJob{Printer: 1, Updated: start.Add(at), Job: deviceapi.Job{Seq: seq, Job: fleet.Job{ID: id}}}
		}
		// j1 changed before the feed started: history, not news.
		src := &fakeSource{printers: []commandcenter.Printer{printer(1, "P-1", "")}, jobs: []commandcenter.LocalJob{job("j1", 1, -time.Minute)}}
		b := &fakeBroker{}
		_, stop := startFeed(t, src, b, Options{})
		defer stop()
		synctest.Wait()
		src.mu.Lock()
		// A change of j1 and a new j2 stored out of order of reading, then
		// j2 again unchanged.
		src.jobs = []commandcenter.LocalJob{job("j1", 1, -time.Minute), job("j2", 2, 2*time.Second), job("j1", 3, time.Second)}
		src.mu.Unlock()
		time.Sleep(time.Second)
		synctest.Wait()
		time.Sleep(time.Second)
		synctest.Wait()
		var got []string
		for _, m := range b.messages() {
			var j jobPayload
			if strings.HasSuffix(m.topic, "/jobs") {
				if err := json.Unmarshal(m.payload, &j); err != nil {
					t.Fatal(err)
				}
				got = append(got, fmt.Sprintf("%s %d", m.topic, j.Seq))
			}
		}
		want := []string{"fusionfleet/printers/P-1/jobs 2", "fusionfleet/printers/P-1/jobs 3"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("job changes published (-want +got):\n%s", diff)
		}
	})
}
