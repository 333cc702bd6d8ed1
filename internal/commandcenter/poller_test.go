package commandcenter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/sqlitedb"
	"github.com/google/go-cmp/cmp"
)

// canaries are private names the fake printers know; none may reach the outbox.
var canaries = []string{"CANARY-job-name", "CANARY-job-user", "CANARY-job-host"}

// fakeDevice is a printer's device API in memory.
type fakeDevice struct {
	mu          sync.Mutex
	identity    deviceapi.Identity
	status      deviceapi.Status
	events      []fleet.Event // held by the printer, oldest first
	jobs        []deviceapi.Job
	layers      []fleet.Layer
	logs        map[fleet.LogKind][]fleet.LogLine
	counters    fleet.Counters
	consumables fleet.Consumables
	err         error            // returned by every call when set
	failOn      map[string]error // returned by one endpoint ("jobs", "counters", ...) when set
	rewind      uint64           // feeds answer as if asked from this much before the cursor
	calls       int
}

func newFakeDevice(id fleet.PrinterID) *fakeDevice {
	return &fakeDevice{
		identity: deviceapi.Identity{
			Identity: fleet.Identity{PrinterID: id, Name: "3DP " + string(id[len(id)-1:]), Model: "PBF 5200",
				SerialNumber: "SN-" + string(id), Firmware: "1.0.0", Date: t0, UptimeSec: 10},
			Instance: "inst-1",
		},
		status:      deviceapi.Status{State: fleet.StateIdle, Activity: "idle", Time: t0},
		logs:        map[fleet.LogKind][]fleet.LogLine{},
		counters:    fleet.Counters{TotalJobs: 3, CompletedJobs: 2, Time: t0},
		consumables: fleet.Consumables{CleaningRoll: fleet.CleaningRoll{PartNumber: "CR-1", Status: "ok", UsagePercent: 10}, Time: t0},
	}
}

// call counts a call and returns the error the endpoint is to fail with.
func (d *fakeDevice) call(endpoint string) error {
	d.calls++
	if d.err != nil {
		return d.err
	}
	return d.failOn[endpoint]
}

func (d *fakeDevice) Identity(ctx context.Context) (deviceapi.Identity, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.identity.UptimeSec++ // changes on every read, must not cause identity records
	return d.identity, d.call("identity")
}

func (d *fakeDevice) Status(ctx context.Context) (deviceapi.Status, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.status, d.call("status")
}

// fakePage answers a feed read from items held oldest first.
func fakePage[T any](d *fakeDevice, endpoint string, items []T, seq func(T) uint64, after uint64, limit int) (deviceapi.Page[T], error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.call(endpoint); err != nil {
		return deviceapi.Page[T]{}, err
	}
	if d.rewind > 0 {
		after -= min(after, d.rewind)
	}
	page := deviceapi.Page[T]{Instance: d.identity.Instance, Next: after, First: 1, Items: []T{}}
	if len(items) > 0 {
		page.First = seq(items[0])
	}
	for _, it := range items {
		if seq(it) > after && len(page.Items) < limit {
			page.Items = append(page.Items, it)
			page.Next = seq(it)
		}
	}
	return page, nil
}

func (d *fakeDevice) Events(ctx context.Context, after uint64, limit int) (deviceapi.EventPage, error) {
	d.mu.Lock()
	items := slices.Clone(d.events)
	d.mu.Unlock()
	return fakePage(d, "events", items, func(e fleet.Event) uint64 { return e.Seq }, after, limit)
}

func (d *fakeDevice) Jobs(ctx context.Context, after uint64, limit int) (deviceapi.JobPage, error) {
	d.mu.Lock()
	items := slices.Clone(d.jobs)
	d.mu.Unlock()
	return fakePage(d, "jobs", items, func(j deviceapi.Job) uint64 { return j.Seq }, after, limit)
}

func (d *fakeDevice) Layers(ctx context.Context, after uint64, limit int) (deviceapi.LayerPage, error) {
	d.mu.Lock()
	items := slices.Clone(d.layers)
	d.mu.Unlock()
	return fakePage(d, "layers", items, func(l fleet.Layer) uint64 { return l.Seq }, after, limit)
}

func (d *fakeDevice) Logs(ctx context.Context, log fleet.LogKind, after uint64, limit int) (deviceapi.LogPage, error) {
	d.mu.Lock()
	items := slices.Clone(d.logs[log])
	d.mu.Unlock()
	return fakePage(d, "logs", items, func(l fleet.LogLine) uint64 { return l.Seq }, after, limit)
}

func (d *fakeDevice) Counters(ctx context.Context) (fleet.Counters, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.counters, d.call("counters")
}

func (d *fakeDevice) Consumables(ctx context.Context) (fleet.Consumables, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.consumables, d.call("consumables")
}

func (d *fakeDevice) set(f func(d *fakeDevice)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(d)
}

func (d *fakeDevice) callCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls
}

func (d *fakeDevice) addEvents(seqs ...uint64) {
	d.set(func(d *fakeDevice) {
		for _, s := range seqs {
			d.events = append(d.events, fleet.Event{Seq: s, Code: fmt.Sprintf("E%d", s), Description: "lamp warm-up",
				Severity: fleet.SeverityInfo, Time: t0, Firmware: "1.0.0", Subsystem: "lamps"})
		}
	})
}

// sameNames is a resolver that takes every name for an address, so fake
// devices are dialled by the names they were added with.
type sameNames struct{}

func (sameNames) LookupHost(_ context.Context, host string) ([]string, error) {
	return []string{host}, nil
}

// fakeNet dials fake devices by address and records the pins used.
type fakeNet struct {
	mu      sync.Mutex
	devices map[string]*fakeDevice
	pins    []deviceapi.Fingerprint
}

func (n *fakeNet) dial(address string, pin deviceapi.Fingerprint) Device {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.pins = append(n.pins, pin)
	return n.devices[address]
}

type pollerFixture struct {
	st    *Store
	path  string // st's file
	clock *clock.Manual
	net   *fakeNet
	p     *Poller
}

func newPollerFixture(t *testing.T) *pollerFixture {
	t.Helper()
	st, path := openStore(t)
	f := &pollerFixture{st: st, path: path, clock: clock.NewManual(t0), net: &fakeNet{devices: map[string]*fakeDevice{}}}
	f.p = NewPoller(st, f.net.dial, PollerOptions{Interval: 5 * time.Second, Heartbeat: time.Minute, Clock: f.clock,
		Resolver: sameNames{}})
	return f
}

func (f *pollerFixture) add(t *testing.T, address string, id fleet.PrinterID) (*fakeDevice, Printer) {
	t.Helper()
	d := newFakeDevice(id)
	f.net.mu.Lock()
	f.net.devices[address] = d
	f.net.mu.Unlock()
	p, err := f.st.AddPrinter(t.Context(), address, fpA, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return d, p
}

// drain returns the outbox and acknowledges it, so each step of a test sees
// only its own records.
func (f *pollerFixture) drain(t *testing.T) []fleet.Record {
	t.Helper()
	recs := pending(t, f.st)
	if len(recs) > 0 {
		if err := f.st.Outbox().Ack(t.Context(), recs[len(recs)-1].Seq); err != nil {
			t.Fatal(err)
		}
	}
	assertNoCanary(t, recs)
	return recs
}

func (f *pollerFixture) printer(t *testing.T, id int64) Printer {
	t.Helper()
	p, err := f.st.printer(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func assertNoCanary(t *testing.T, recs []fleet.Record) {
	t.Helper()
	b, err := json.Marshal(recs)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range canaries {
		if strings.Contains(string(b), c) {
			t.Errorf("outbox leaks %q: %s", c, b)
		}
	}
}

// kinds summarises records as "kind" or "kind:detail" for comparison.
func kinds(recs []fleet.Record) []string {
	var s []string
	for _, r := range recs {
		switch r.Kind {
		case fleet.KindEvent:
			s = append(s, fmt.Sprintf("event:%d", r.Event.Seq))
		case fleet.KindStatus:
			s = append(s, "status:"+r.Status.State.String())
		case fleet.KindGap:
			s = append(s, fmt.Sprintf("gap:%s:%d-%d", r.Gap.Reason, r.Gap.FromSeq, r.Gap.ToSeq))
		case fleet.KindJob:
			s = append(s, fmt.Sprintf("job:%s:%s", r.Job.ID, r.Job.Status))
		case fleet.KindPart:
			s = append(s, fmt.Sprintf("part:%s:%s", r.Part.ID, r.Part.Outcome))
		case fleet.KindLayer:
			s = append(s, fmt.Sprintf("layer:%d", r.Layer.Seq))
		case fleet.KindLog:
			s = append(s, fmt.Sprintf("log:%s:%d", r.Log.Log, r.Log.Seq))
		default:
			s = append(s, string(r.Kind))
		}
	}
	return s
}

func pollOnce(t *testing.T, p *Poller) {
	t.Helper()
	if err := p.PollOnce(t.Context()); err != nil {
		t.Fatalf("PollOnce: %v", err)
	}
}

func printingStatus(jobID string, etc int64) deviceapi.Status {
	return deviceapi.Status{
		State: fleet.StatePrinting, Activity: "printing layer 10 of 100",
		Job: &deviceapi.CurrentJob{ID: jobID, Private: deviceapi.JobPrivate{Name: "CANARY-job-name", User: "CANARY-job-user", Host: "CANARY-job-host"},
			Progress: 0.1, LayersDone: 10, LayersTotal: 100},
		ETCSeconds: etc, PendingJobs: 1, Time: t0,
	}
}

func TestPollerFirstContactAndChanges(t *testing.T) {
	f := newPollerFixture(t)
	dev, pr := f.add(t, "printer-a:8443", "printer-000a")
	dev.addEvents(1, 2)
	dev.set(func(d *fakeDevice) { d.status = printingStatus("job-1", 2990) })
	pollOnce(t, f.p)

	recs := f.drain(t)
	if diff := cmp.Diff([]string{"identity", "event:1", "event:2", "counters", "consumables", "status:printing"}, kinds(recs)); diff != "" {
		t.Fatalf("records of first contact (-want +got):\n%s", diff)
	}
	if got := recs[5].Status; got.JobID != "job-1" || got.PrinterID != "printer-000a" {
		t.Errorf("status record = %+v, want job-1 of printer-000a", got)
	}
	got := f.printer(t, pr.ID)
	if got.State != CollectionOK || got.EventCursor != 2 || got.Instance != "inst-1" || !got.LastSeen.Equal(t0) {
		t.Errorf("printer after first poll: state %q cursor %d instance %q seen %v", got.State, got.EventCursor, got.Instance, got.LastSeen)
	}
	// The local truth keeps the private names for the local UI.
	if got.Status == nil || got.Status.Job == nil || got.Status.Job.Private.Name != "CANARY-job-name" {
		t.Errorf("local status = %+v, want the job name kept locally", got.Status)
	}
	if got.Identity == nil || got.Identity.Name != "3DP a" {
		t.Errorf("local identity = %+v, want it stored", got.Identity)
	}

	// stateChange says whether the step's status record is marked as a
	// change of the printer's state, which the uploader sends sooner.
	steps := []struct {
		name        string
		advance     time.Duration
		change      func(d *fakeDevice)
		want        []string
		stateChange bool
	}{
		{"unchanged", 5 * time.Second, nil, nil, false},
		{"ETC within its bucket", 5 * time.Second, func(d *fakeDevice) { d.status.ETCSeconds = 2950 }, nil, false},
		{"progress alone", 5 * time.Second, func(d *fakeDevice) { d.status.Job.Progress = 0.2 }, nil, false},
		{"ETC crosses a bucket", 5 * time.Second, func(d *fakeDevice) { d.status.ETCSeconds = 2690 }, []string{"status:printing"}, false},
		{"new event", 5 * time.Second, func(d *fakeDevice) { d.events = d.events[:0] }, nil, false},
		{"state changes", 5 * time.Second, func(d *fakeDevice) {
			d.status = deviceapi.Status{State: fleet.StateCooling, Activity: "cooling", ETCSeconds: 7200, Time: t0}
		}, []string{"status:cooling"}, true},
		{"pending jobs change", 5 * time.Second, func(d *fakeDevice) { d.status.PendingJobs = 4 }, []string{"status:cooling"}, false},
		{"heartbeat due", time.Minute, nil, []string{"status:cooling"}, false},
		{"job changes", 5 * time.Second, func(d *fakeDevice) { d.status = printingStatus("job-2", 3000) }, []string{"status:printing"}, true},
		{"the next job in the same state", 5 * time.Second, func(d *fakeDevice) { d.status = printingStatus("job-3", 3000) }, []string{"status:printing"}, true},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			f.clock.Advance(s.advance)
			if s.change != nil {
				dev.set(s.change)
			}
			pollOnce(t, f.p)
			w, err := f.st.Outbox().Priority(t.Context(), time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if got := !w.OldestChange.IsZero(); got != s.stateChange {
				t.Errorf("status marked as a state change: %v, want %v", got, s.stateChange)
			}
			if diff := cmp.Diff(s.want, kinds(f.drain(t))); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("new events continue after the cursor", func(t *testing.T) {
		dev.addEvents(3, 4)
		f.clock.Advance(5 * time.Second)
		pollOnce(t, f.p)
		if diff := cmp.Diff([]string{"event:3", "event:4"}, kinds(f.drain(t))); diff != "" {
			t.Errorf("records (-want +got):\n%s", diff)
		}
	})
}

func TestPollerNotDueIsSkipped(t *testing.T) {
	f := newPollerFixture(t)
	dev, _ := f.add(t, "printer-a:8443", "printer-000a")
	pollOnce(t, f.p)
	n := dev.callCount()
	pollOnce(t, f.p) // same instant: the interval has not passed
	if got := dev.callCount(); got != n {
		t.Errorf("device calls = %d after a second PollOnce at the same time, want %d", got, n)
	}
}

func TestPollerRestartAfterGatewayRestart(t *testing.T) {
	// A new Poller (the gateway restarted) reads the identity again but
	// sends no identity record when nothing changed, and continues the cursor.
	f := newPollerFixture(t)
	dev, _ := f.add(t, "printer-a:8443", "printer-000a")
	dev.addEvents(1)
	pollOnce(t, f.p)
	f.drain(t)

	dev.addEvents(2)
	p2 := NewPoller(f.st, f.net.dial, PollerOptions{Clock: f.clock, Resolver: sameNames{}})
	f.clock.Advance(10 * time.Second)
	pollOnce(t, p2)
	if diff := cmp.Diff([]string{"event:2", "status:idle"}, kinds(f.drain(t))); diff != "" {
		t.Errorf("records after gateway restart (-want +got):\n%s", diff)
	}
}

func TestPollerUnreachableThenRecovered(t *testing.T) {
	f := newPollerFixture(t)
	dev, pr := f.add(t, "printer-a:8443", "printer-000a")
	pollOnce(t, f.p)
	f.drain(t)

	dev.set(func(d *fakeDevice) { d.err = errors.New("dial tcp: connection refused") })
	failAt := t0.Add(5 * time.Second)
	f.clock.Set(failAt)
	err := f.p.PollOnce(t.Context())
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("PollOnce() error = %v, want the device error", err)
	}
	got := f.printer(t, pr.ID)
	if got.State != CollectionUnreachable || !got.StateSince.Equal(failAt) || !strings.Contains(got.LastError, "connection refused") {
		t.Errorf("printer = state %q since %v error %q; want unreachable since %v with the error", got.State, got.StateSince, got.LastError, failAt)
	}

	// Backoff: due again after 5 s, then 10 s, then 20 s ...
	for i, wait := range []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second} {
		n := dev.callCount()
		f.clock.Advance(wait - time.Second)
		f.p.PollOnce(t.Context())
		if dev.callCount() != n {
			t.Fatalf("failure %d: polled %v before the backoff of %v ended", i+1, wait-time.Second, wait)
		}
		f.clock.Advance(time.Second)
		f.p.PollOnce(t.Context())
		if dev.callCount() == n {
			t.Fatalf("failure %d: not polled after the backoff of %v", i+1, wait)
		}
	}
	if recs := f.drain(t); len(recs) != 0 {
		t.Errorf("records while unreachable: %v", kinds(recs))
	}
	if got := f.printer(t, pr.ID); !got.StateSince.Equal(failAt) {
		t.Errorf("unreachable since %v, want the first failure %v", got.StateSince, failAt)
	}

	dev.set(func(d *fakeDevice) { d.err = nil })
	f.clock.Advance(time.Minute)
	pollOnce(t, f.p)
	got = f.printer(t, pr.ID)
	if got.State != CollectionOK || got.LastError != "" {
		t.Errorf("after recovery: state %q error %q, want ok without error", got.State, got.LastError)
	}
	// The identity is read again after an outage, but unchanged it sends nothing.
	if diff := cmp.Diff([]string{"status:idle"}, kinds(f.drain(t))); diff != "" {
		t.Errorf("records after recovery (-want +got):\n%s", diff)
	}
}

func TestPollBackoffIsCapped(t *testing.T) {
	tests := []struct {
		n    int
		want time.Duration
	}{{1, 5 * time.Second}, {2, 10 * time.Second}, {4, 40 * time.Second}, {5, time.Minute}, {50, time.Minute}}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.n), func(t *testing.T) {
			if got := pollBackoff(5*time.Second, tt.n); got != tt.want {
				t.Errorf("pollBackoff(5s, %d) = %v, want %v", tt.n, got, tt.want)
			}
		})
	}
}

func TestPollerUnreachableDoesNotBlockOthers(t *testing.T) {
	f := newPollerFixture(t)
	bad, _ := f.add(t, "printer-a:8443", "printer-000a")
	_, _ = f.add(t, "printer-b:8443", "printer-000b")
	bad.set(func(d *fakeDevice) { d.err = errors.New("no route to host") })
	if err := f.p.PollOnce(t.Context()); err == nil {
		t.Fatal("PollOnce() succeeded with an unreachable printer")
	}
	recs := f.drain(t)
	if len(recs) == 0 || recs[0].PrinterID != "printer-000b" {
		t.Errorf("records = %v, want printer-000b collected despite printer-000a failing", kinds(recs))
	}
}

func TestPollerPinMismatchStopsCollection(t *testing.T) {
	f := newPollerFixture(t)
	dev, pr := f.add(t, "printer-a:8443", "printer-000a")
	pollOnce(t, f.p)
	f.drain(t)

	dev.set(func(d *fakeDevice) {
		d.err = fmt.Errorf("get status: tls: %w (presented EE:FF)", deviceapi.ErrPinMismatch)
	})
	f.clock.Advance(5 * time.Second)
	if err := f.p.PollOnce(t.Context()); !errors.Is(err, deviceapi.ErrPinMismatch) {
		t.Fatalf("PollOnce() error = %v, want ErrPinMismatch", err)
	}
	got := f.printer(t, pr.ID)
	if got.State != CollectionCertificateChanged {
		t.Errorf("state = %q, want %q", got.State, CollectionCertificateChanged)
	}
	for _, want := range []string{"certificate changed", string(fpA), "confirms its new certificate", "presented EE:FF"} {
		if !strings.Contains(got.LastError, want) {
			t.Errorf("stored message %q does not contain %q", got.LastError, want)
		}
	}

	n := dev.callCount()
	f.clock.Advance(time.Hour)
	pollOnce(t, f.p)
	if dev.callCount() != n {
		t.Error("printer polled after its certificate changed")
	}

	// The operator confirms the new certificate: collection resumes with it.
	dev.set(func(d *fakeDevice) { d.err = nil })
	if err := f.st.Repin(t.Context(), "printer-a:8443", fpB, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	pollOnce(t, f.p)
	if got := f.printer(t, pr.ID); got.State != CollectionOK {
		t.Errorf("state after Repin and poll = %q, want ok", got.State)
	}
	f.net.mu.Lock()
	last := f.net.pins[len(f.net.pins)-1]
	f.net.mu.Unlock()
	if last != fpB {
		t.Errorf("dialled with pin %q after Repin, want %q", last, fpB)
	}
}

func TestPollerGaps(t *testing.T) {
	tests := []struct {
		name   string
		change func(d *fakeDevice)
		want   []string
		cursor uint64
	}{
		{
			name: "printer restarted",
			change: func(d *fakeDevice) {
				d.identity.Instance = "inst-2"
				d.identity.Firmware = "1.1.0"
				d.events = nil
			},
			want:   []string{"gap:printer restarted:3-0", "identity", "event:1"},
			cursor: 1,
		},
		{
			name: "events overwritten before they were read",
			change: func(d *fakeDevice) {
				d.events = d.events[len(d.events):]
			},
			want:   []string{"gap:events overwritten before they were read:3-9", "event:10", "event:11"},
			cursor: 11,
		},
		{
			name:   "events skipped by the printer",
			change: func(d *fakeDevice) {},
			want:   []string{"event:3", "gap:events skipped by the printer:4-9", "event:10", "event:11"},
			cursor: 11,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newPollerFixture(t)
			dev, pr := f.add(t, "printer-a:8443", "printer-000a")
			dev.addEvents(1, 2)
			pollOnce(t, f.p)
			f.drain(t)

			dev.set(tt.change)
			if tt.name == "events skipped by the printer" {
				dev.addEvents(3)
			}
			if tt.name == "printer restarted" {
				dev.addEvents(1)
			} else {
				dev.addEvents(10, 11)
			}
			f.clock.Advance(5 * time.Second)
			pollOnce(t, f.p)
			recs := f.drain(t)
			if diff := cmp.Diff(tt.want, kinds(recs)); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			if got := f.printer(t, pr.ID).EventCursor; got != tt.cursor {
				t.Errorf("cursor = %d, want %d", got, tt.cursor)
			}
		})
	}
}

func TestPollerRejectsInvalidEvent(t *testing.T) {
	f := newPollerFixture(t)
	dev, _ := f.add(t, "printer-a:8443", "printer-000a")
	dev.addEvents(1)
	dev.set(func(d *fakeDevice) {
		d.events = append(d.events, fleet.Event{Seq: 2, Code: "", Severity: fleet.SeverityInfo, Time: t0})
	})
	dev.addEvents(3)
	pollOnce(t, f.p)
	recs := f.drain(t)
	var got []string
	for _, k := range kinds(recs) {
		if strings.HasPrefix(k, "gap:") {
			k = k[:strings.LastIndex(k, ":")] // drop the range
			k = strings.SplitN(k, ": ", 2)[0] // drop the validation message
		}
		got = append(got, k)
	}
	if diff := cmp.Diff([]string{"identity", "event:1", "gap:event rejected", "event:3", "counters", "consumables", "status:idle"}, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if g := recs[2].Gap; g.FromSeq != 2 || g.ToSeq != 2 || !strings.Contains(g.Reason, "empty code") {
		t.Errorf("gap = %+v, want seq 2 rejected for its empty code", g)
	}
}

func TestPollerInvalidDeviceDataMarksPrinter(t *testing.T) {
	tests := []struct {
		name   string
		change func(d *fakeDevice)
		want   string
	}{
		{"identity without model", func(d *fakeDevice) { d.identity.Model = "" }, "empty model"},
		{"status with unknown state", func(d *fakeDevice) { d.status.State = fleet.StateUnknown }, "invalid state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newPollerFixture(t)
			dev, pr := f.add(t, "printer-a:8443", "printer-000a")
			dev.set(tt.change)
			if err := f.p.PollOnce(t.Context()); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("PollOnce() error = %v, want %q", err, tt.want)
			}
			if got := f.printer(t, pr.ID); got.State != CollectionUnreachable || !strings.Contains(got.LastError, tt.want) {
				t.Errorf("printer state %q error %q, want unreachable with %q", got.State, got.LastError, tt.want)
			}
			if recs := f.drain(t); len(recs) != 0 {
				t.Errorf("records from invalid data: %v", kinds(recs))
			}
		})
	}
}

func TestPollerPrinterSwapped(t *testing.T) {
	f := newPollerFixture(t)
	dev, pr := f.add(t, "printer-a:8443", "printer-000a")
	pollOnce(t, f.p)
	f.drain(t)
	dev.set(func(d *fakeDevice) { d.identity.PrinterID = "printer-000z"; d.identity.Instance = "inst-9" })
	f.clock.Advance(5 * time.Second)
	if err := f.p.PollOnce(t.Context()); err == nil || !strings.Contains(err.Error(), "printer ID changed") {
		t.Fatalf("PollOnce() error = %v, want 'printer ID changed'", err)
	}
	if got := f.printer(t, pr.ID); got.State != CollectionUnreachable {
		t.Errorf("state = %q, want unreachable", got.State)
	}
}

func TestPollerStoreFailure(t *testing.T) {
	f := newPollerFixture(t)
	f.add(t, "printer-a:8443", "printer-000a")
	f.st.Close()
	if err := f.p.PollOnce(t.Context()); err == nil {
		t.Error("PollOnce() with a closed store succeeded")
	}
}

func TestPollerRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st, _ := openStore(t)
		n := &fakeNet{devices: map[string]*fakeDevice{}}
		p := NewPoller(st, n.dial, PollerOptions{Interval: 10 * time.Millisecond, Resolver: sameNames{}})
		add := func(address string, id fleet.PrinterID) {
			n.mu.Lock()
			n.devices[address] = newFakeDevice(id)
			n.mu.Unlock()
			if _, err := st.AddPrinter(t.Context(), address, fpA, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		// waitFor lets the poller run a few intervals of the bubble's fake
		// time and checks the printers.
		waitFor := func(what string, ok func([]Printer) bool) {
			t.Helper()
			elapse(200 * time.Millisecond)
			ps, err := st.Printers(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if !ok(ps) {
				t.Fatalf("no %s after 200 ms: %+v", what, ps)
			}
		}
		allOK := func(want int) func([]Printer) bool {
			return func(ps []Printer) bool {
				if len(ps) != want {
					return false
				}
				for _, p := range ps {
					if p.State != CollectionOK {
						return false
					}
				}
				return true
			}
		}

		add("printer-a:8443", "printer-000a")
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- p.Run(ctx) }()
		waitFor("the first printer", allOK(1))
		add("printer-b:8443", "printer-000b") // added while running
		waitFor("the printer added while running", allOK(2))

		// A changed certificate stops that printer's goroutine; Repin restarts it.
		n.devices["printer-a:8443"].set(func(d *fakeDevice) { d.err = deviceapi.ErrPinMismatch })
		waitFor("certificate changed", func(ps []Printer) bool { return ps[0].State == CollectionCertificateChanged })
		n.devices["printer-a:8443"].set(func(d *fakeDevice) { d.err = nil })
		if err := st.Repin(t.Context(), "printer-a:8443", fpB, time.Now()); err != nil {
			t.Fatal(err)
		}
		waitFor("collection after Repin", allOK(2))

		// A printer's goroutine that stopped because its row could not be
		// read is started again once it can.
		n.devices["printer-b:8443"].set(func(d *fakeDevice) { d.err = errors.New("connection refused") })
		if _, err := st.db.Exec(`UPDATE printers SET status = '{' WHERE address = 'printer-b:8443'`); err != nil {
			t.Fatal(err)
		}
		elapse(200 * time.Millisecond)
		n.devices["printer-b:8443"].set(func(d *fakeDevice) { d.err = nil })
		if _, err := st.db.Exec(`UPDATE printers SET status = '' WHERE address = 'printer-b:8443'`); err != nil {
			t.Fatal(err)
		}
		waitFor("collection after the row could be read again", allOK(2))

		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v, want nil after cancel", err)
		}
		assertNoCanary(t, pending(t, st))
	})
}

// slowDevice takes a while to answer its status and counts the polls in
// flight across all devices sharing inFlight.
type slowDevice struct {
	*fakeDevice
	inFlight *flightCounter
}

type flightCounter struct {
	mu        sync.Mutex
	now, most int
}

func (d slowDevice) Status(ctx context.Context) (deviceapi.Status, error) {
	c := d.inFlight
	c.mu.Lock()
	c.now++
	c.most = max(c.most, c.now)
	c.mu.Unlock()
	time.Sleep(50 * time.Millisecond)
	c.mu.Lock()
	c.now--
	c.mu.Unlock()
	return d.fakeDevice.Status(ctx)
}

// Run polls at most MaxConcurrent printers at once; the others wait their
// turn and are polled all the same.
func TestPollerRunBoundsConcurrentPolls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st, _ := openStore(t)
		var flights flightCounter
		devs := map[string]Device{}
		for i := range 6 {
			addr := fmt.Sprintf("printer-%d:8443", i)
			devs[addr] = slowDevice{fakeDevice: newFakeDevice(fleet.PrinterID(fmt.Sprintf("printer-000%d", i))), inFlight: &flights}
			if _, err := st.AddPrinter(t.Context(), addr, fpA, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		p := NewPoller(st, func(addr string, _ deviceapi.Fingerprint) Device { return devs[addr] },
			PollerOptions{Interval: time.Second, MaxConcurrent: 2, Resolver: sameNames{}})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- p.Run(ctx) }()
		elapse(500 * time.Millisecond)
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run() = %v", err)
		}
		if flights.most != 2 {
			t.Errorf("at most %d polls in flight, want 2", flights.most)
		}
		ps, err := st.Printers(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, pr := range ps {
			if pr.State != CollectionOK {
				t.Errorf("printer %s: state %q (%s), want ok", pr.Address, pr.State, pr.LastError)
			}
		}
	})
}

// ratedDevice takes 300 ms to answer its status and counts its event reads.
type ratedDevice struct {
	*fakeDevice
	eventReads atomic.Int64
}

func (d *ratedDevice) Status(ctx context.Context) (deviceapi.Status, error) {
	time.Sleep(300 * time.Millisecond)
	return d.fakeDevice.Status(ctx)
}

func (d *ratedDevice) Events(ctx context.Context, after uint64, limit int) (deviceapi.EventPage, error) {
	d.eventReads.Add(1)
	return d.fakeDevice.Events(ctx, after, limit)
}

// Run polls a printer at the interval, not the interval plus the time a
// poll takes: a 300 ms poll every second makes ten polls in ten seconds,
// each reading the events, not eight.
func TestPollerRunKeepsTheRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st, _ := openStore(t)
		dev := &ratedDevice{fakeDevice: newFakeDevice("printer-000a")}
		if _, err := st.AddPrinter(t.Context(), "printer-a:8443", fpA, time.Now()); err != nil {
			t.Fatal(err)
		}
		p := NewPoller(st, func(string, deviceapi.Fingerprint) Device { return dev },
			PollerOptions{Interval: time.Second, Resolver: sameNames{}})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- p.Run(ctx) }()
		elapse(9*time.Second + 500*time.Millisecond)
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run() = %v", err)
		}
		if got := p.Stats().Polls; got != 10 {
			t.Errorf("%d polls in 9.5 s at an interval of 1 s, each taking 300 ms; want 10", got)
		}
		if got := dev.eventReads.Load(); got != 10 {
			t.Errorf("events read %d times in 10 polls, want every time", got)
		}
	})
}

// blockingDevice answers nothing until its context ends.
type blockingDevice struct{ fakeDevice }

func (d *blockingDevice) Status(ctx context.Context) (deviceapi.Status, error) {
	<-ctx.Done()
	return deviceapi.Status{}, ctx.Err()
}

func TestPollerRecordsTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) { pollerRecordsTimeout(t) })
}

// pollerRecordsTimeout runs in a synctest bubble: the timeout passes in
// fake time.
func pollerRecordsTimeout(t *testing.T) {
	st, _ := openStore(t)
	dev := &blockingDevice{fakeDevice: *newFakeDevice("printer-000a")}
	p := NewPoller(st, func(string, deviceapi.Fingerprint) Device { return dev }, PollerOptions{Timeout: 20 * time.Millisecond, Resolver: sameNames{}})
	pr, err := st.AddPrinter(t.Context(), "printer-a:8443", fpA, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Poll(t.Context(), pr); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Poll() of a printer that never answers = %v, want a deadline error", err)
	}
	got, err := st.printer(t.Context(), pr.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != CollectionUnreachable || !strings.Contains(got.LastError, "deadline exceeded") {
		t.Errorf("printer state %q error %q, want unreachable with the timeout recorded", got.State, got.LastError)
	}
}

// A poll whose results could not be stored reads the identity again next
// time, so the identity is neither lost locally nor missing from the outbox.
func TestPollerStoresIdentityAfterStoreFailure(t *testing.T) {
	f := newPollerFixture(t)
	_, pr := f.add(t, "printer-a:8443", "printer-000a")
	// Make the first observe fail: a printer row the poll cannot update.
	if _, err := f.st.db.Exec(`CREATE TRIGGER fail_once BEFORE UPDATE OF status ON printers
		BEGIN SELECT RAISE(ABORT, 'disk full'); END`); err != nil {
		t.Fatal(err)
	}
	if err := f.p.PollOnce(t.Context()); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("PollOnce() = %v, want the store's error", err)
	}
	if _, err := f.st.db.Exec(`DROP TRIGGER fail_once`); err != nil {
		t.Fatal(err)
	}
	if got := f.printer(t, pr.ID).State; got != CollectionNew {
		t.Errorf("state after a store failure = %q, want it unchanged (the printer is fine)", got)
	}
	f.clock.Advance(5 * time.Second)
	pollOnce(t, f.p)
	if got := f.printer(t, pr.ID); got.Identity == nil {
		t.Error("identity not stored after the store recovered")
	}
	if diff := cmp.Diff([]string{"identity", "counters", "consumables", "status:idle"}, kinds(f.drain(t))); diff != "" {
		t.Errorf("records after the store recovered (-want +got):\n%s", diff)
	}
}

// A poll starts from the row its printer's previous poll stored, kept in
// memory and the same as the stored row, while nothing outside the poller
// changed the printers; else from the row Run listed, if the poller has not
// written that row since the list was read; else from the row read again,
// so a cursor never goes back behind a stored poll.
func TestPollerPrinterToPoll(t *testing.T) {
	f := newPollerFixture(t)
	dev, pr := f.add(t, "printer-a:8443", "printer-000a")
	dev.addEvents(1, 2)
	listed := func(note string) {
		rows, err := f.st.Printers(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		rows[0].Address = note // tells the listed row from the stored one
		f.p.list(rows, f.p.writes.Load(), f.st.printersVersion())
	}
	toPoll := func() Printer {
		t.Helper()
		got, err := f.p.printerToPoll(t.Context(), pr.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	listed("listed before the poll")
	for i, change := range []func(d *fakeDevice){
		nil,
		func(d *fakeDevice) { d.status = printingStatus("job-1", 2990) },
		func(d *fakeDevice) { d.err = errors.New("connection refused") },
		func(d *fakeDevice) { d.err = nil },
	} {
		if change != nil {
			dev.set(change)
		}
		f.clock.Advance(5 * time.Minute)               // due, and counters too
		_ = f.p.Poll(t.Context(), f.printer(t, pr.ID)) // the third fails
		if diff := cmp.Diff(f.printer(t, pr.ID), toPoll()); diff != "" {
			t.Errorf("poll %d: the row a poll starts from differs from the stored row (-stored +used):\n%s", i+1, diff)
		}
	}
	if got := toPoll(); got.Address != pr.Address || got.EventCursor != 2 {
		t.Errorf("after a poll stored since the list: row at %q with event cursor %d, want the stored row at %q with cursor 2",
			got.Address, got.EventCursor, pr.Address)
	}
	// The kept row is used, not read again: a change behind the store's
	// back is not seen.
	if _, err := f.st.db.Exec(`UPDATE printers SET address = 'behind the back' WHERE id = ?`, pr.ID); err != nil {
		t.Fatal(err)
	}
	if got := toPoll(); got.Address != pr.Address {
		t.Errorf("row read again although nothing outside the poller changed it: at %q", got.Address)
	}
	if _, err := f.st.db.Exec(`UPDATE printers SET address = ? WHERE id = ?`, pr.Address, pr.ID); err != nil {
		t.Fatal(err)
	}

	// A change from outside the poller: the kept row is not used any more.
	if err := f.st.MarkFailed(t.Context(), pr.ID, CollectionUnreachable, "marked", f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if got := toPoll(); got.State != CollectionUnreachable {
		t.Errorf("after a change from outside: state %q, want the stored %q", got.State, CollectionUnreachable)
	}
	listed("listed after the change")
	if got := toPoll(); got.Address != "listed after the change" || got.EventCursor != 2 {
		t.Errorf("list read after the last poll: row at %q with cursor %d, want the listed row with cursor 2", got.Address, got.EventCursor)
	}
	if err := f.st.MarkFailed(t.Context(), pr.ID, CollectionUnreachable, "marked again", f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if got := toPoll(); got.Address != pr.Address || got.LastError != "marked again" {
		t.Errorf("list read before a change from outside: row at %q (%q), want the stored row", got.Address, got.LastError)
	}

	// A printer no longer listed (removed, or added since) is read.
	f.p.list(nil, f.p.writes.Load(), f.st.printersVersion())
	if got := toPoll(); got.Address != pr.Address {
		t.Errorf("printer not listed: row at %q; want the stored row", got.Address)
	}
}

// A poll that learnt nothing but the printer's live status (progress,
// activity) is not written to the database: readers of the store see it
// all the same, and it is written with the printer's next written poll,
// at the latest a heartbeat after the last, or when the store closes.
func TestQuietPollsAreKeptInMemory(t *testing.T) {
	f := newPollerFixture(t)
	dev, pr := f.add(t, "printer-a:8443", "printer-000a")
	dev.set(func(d *fakeDevice) { d.status = printingStatus("job-1", 2990) })
	pollOnce(t, f.p)
	f.drain(t)
	written := func() time.Time {
		t.Helper()
		var s string
		if err := f.st.db.QueryRow(`SELECT last_seen FROM printers WHERE id = ?`, pr.ID).Scan(&s); err != nil {
			t.Fatal(err)
		}
		at, err := sqlitedb.ParseTime(s)
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	lastWrite := f.clock.Now()
	steps := []struct {
		name    string
		advance time.Duration
		change  func(d *fakeDevice)
		written bool // the poll is written to the database
	}{
		{"progress alone", 5 * time.Second, func(d *fakeDevice) { d.status.Job.Progress = 0.2 }, false},
		{"activity alone", 5 * time.Second, func(d *fakeDevice) { d.status.Activity = "printing layer 11 of 100" }, false},
		{"nothing", 5 * time.Second, nil, false},
		{"a new event", 5 * time.Second, nil, true},
		{"progress after the event", 5 * time.Second, func(d *fakeDevice) { d.status.Job.Progress = 0.3 }, false},
		// The failure is written, not the time the printer was seen.
		{"unreachable", 5 * time.Second, func(d *fakeDevice) { d.err = errors.New("connection refused") }, false},
		{"back", 5 * time.Second, func(d *fakeDevice) { d.err = nil }, true},
		{"progress when back", 5 * time.Second, func(d *fakeDevice) { d.status.Job.Progress = 0.4 }, false},
		{"a heartbeat after the last write", 50 * time.Second, func(d *fakeDevice) { d.status.Job.Progress = 0.5 }, true},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			f.clock.Advance(s.advance)
			if s.change != nil {
				dev.set(s.change)
			}
			if s.name == "a new event" {
				dev.addEvents(1)
			}
			_ = f.p.PollOnce(t.Context()) // unreachable fails
			f.drain(t)
			if s.written {
				lastWrite = f.clock.Now()
			}
			if got := written(); !got.Equal(lastWrite) {
				t.Errorf("row written at %v, want %v", got, lastWrite)
			}
			got := f.printer(t, pr.ID)
			var want deviceapi.Status
			dev.set(func(d *fakeDevice) { want = d.status })
			if got.Status == nil || got.Status.Job.Progress != want.Job.Progress || got.Status.Activity != want.Activity {
				t.Errorf("store shows status %+v, want the latest %+v", got.Status, want)
			}
			if got.State == CollectionOK && !got.LastSeen.Equal(f.clock.Now()) {
				t.Errorf("store shows the printer last seen at %v, want %v", got.LastSeen, f.clock.Now())
			}
		})
	}

	f.clock.Advance(5 * time.Second)
	dev.set(func(d *fakeDevice) { d.status.Job.Progress = 0.6 })
	pollOnce(t, f.p)
	if got := written(); got.Equal(f.clock.Now()) {
		t.Fatalf("a quiet poll was written")
	}
	if err := f.st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := Open(t.Context(), f.path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := st.printer(t.Context(), pr.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.LastSeen.Equal(f.clock.Now()) || got.Status == nil || got.Status.Job.Progress != 0.6 {
		t.Errorf("after closing: the row was seen at %v with status %+v, want the last poll's", got.LastSeen, got.Status)
	}
}

// A printer replaced by another machine at its address, whose new
// certificate the operator confirmed (Repin): the replacement is collected
// as a new printer, its events from the first, and the old printer's
// records stay its own. Before, the poller refused it for good ("now
// reports ID … instead of …"), found by the chaos tests (e2e:
// TestChaosPrinterReplaced).
func TestPollerRepinnedReplacement(t *testing.T) {
	for _, restart := range []bool{false, true} {
		t.Run(fmt.Sprintf("restart=%v", restart), func(t *testing.T) {
			f := newPollerFixture(t)
			old, pr := f.add(t, "printer-a:8443", "printer-000a")
			old.addEvents(1, 2, 3)
			pollOnce(t, f.p)
			f.drain(t)

			old.set(func(d *fakeDevice) {
				d.err = fmt.Errorf("get status: tls: %w (presented EE:FF)", deviceapi.ErrPinMismatch)
			})
			f.clock.Advance(5 * time.Second)
			if err := f.p.PollOnce(t.Context()); !errors.Is(err, deviceapi.ErrPinMismatch) {
				t.Fatalf("PollOnce() error = %v, want ErrPinMismatch", err)
			}
			repl := newFakeDevice("printer-000r")
			repl.addEvents(1, 2)
			f.net.mu.Lock()
			f.net.devices["printer-a:8443"] = repl
			f.net.mu.Unlock()
			if err := f.st.Repin(t.Context(), "printer-a:8443", fpB, f.clock.Now()); err != nil {
				t.Fatal(err)
			}
			if restart {
				f.p = NewPoller(f.st, f.net.dial, PollerOptions{Interval: 5 * time.Second, Heartbeat: time.Minute,
					Clock: f.clock, Resolver: sameNames{}})
			}
			f.clock.Advance(5 * time.Second)
			pollOnce(t, f.p)
			recs := f.drain(t)
			var got []string
			for _, r := range recs {
				if r.Kind == fleet.KindIdentity || r.Kind == fleet.KindEvent {
					got = append(got, string(r.PrinterID)+" "+kinds([]fleet.Record{r})[0])
				}
			}
			want := []string{"printer-000r identity", "printer-000r event:1", "printer-000r event:2"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("records after the re-pin (-want +got):\n%s", diff)
			}
			p := f.printer(t, pr.ID)
			if p.State != CollectionOK || p.Identity == nil || p.Identity.PrinterID != "printer-000r" || p.EventCursor != 2 {
				t.Errorf("after the re-pin: state %q, identity %v, cursor %d; want ok, printer-000r, 2", p.State, p.Identity, p.EventCursor)
			}

			// The replacement is now the printer at the address: a
			// printer reporting yet another ID without a re-pin is
			// refused, as before.
			f.net.mu.Lock()
			f.net.devices["printer-a:8443"] = newFakeDevice("printer-000x")
			f.net.mu.Unlock()
			f.p = NewPoller(f.st, f.net.dial, PollerOptions{Interval: 5 * time.Second, Heartbeat: time.Minute,
				Clock: f.clock, Resolver: sameNames{}})
			f.clock.Advance(5 * time.Second)
			if err := f.p.PollOnce(t.Context()); err == nil || !strings.Contains(err.Error(), "instead of") {
				t.Errorf("another ID without a re-pin: %v, want refused", err)
			}
		})
	}
}

// A clock set back moves each printer's schedule back with it: events
// and the other feeds are read at their pace, not after the day the clock
// lost; a snapshot dated ahead of the clock is taken again. Before, a
// clock set back a day held the feeds for a day (found by site's
// TestClockJumps).
func TestPollerFollowsClockBack(t *testing.T) {
	f := newPollerFixture(t)
	dev, pr := f.add(t, "printer-a:8443", "printer-000a")
	dev.addEvents(1, 2)
	pollOnce(t, f.p)
	f.drain(t)

	f.clock.Set(t0.Add(-24 * time.Hour)) // a day back
	pollOnce(t, f.p)
	back := t0.Add(-24*time.Hour + 5*time.Second) // and an interval on
	f.clock.Set(back)
	dev.addEvents(3)
	pollOnce(t, f.p)
	recs := f.drain(t)
	if got := kinds(recs); !slices.Contains(got, "event:3") {
		t.Errorf("records after the clock went back a day: %v; want event:3", got)
	}
	if p := f.printer(t, pr.ID); !p.SnapshotAt.Equal(back) {
		t.Errorf("snapshot at %v after the clock went back; want one taken at %v", p.SnapshotAt, back)
	}
}
