package commandcenter

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/privacy"
	"github.com/google/go-cmp/cmp"
)

// privateCanaries are the names of jobs and parts only the site may know.
var privateCanaries = []string{"CANARY-job-name", "CANARY-job-user", "CANARY-job-host", "CANARY-part-name", "CANARY-geometry"}

func newFixtureWith(t *testing.T, opts PollerOptions) *pollerFixture {
	t.Helper()
	f := newPollerFixture(t)
	if opts.Interval == 0 {
		opts.Interval = 5 * time.Second
	}
	opts.Clock, opts.Resolver = f.clock, sameNames{}
	f.p = NewPoller(f.st, f.net.dial, opts)
	return f
}

// job returns a jobs-feed entry of job id at feed position seq, with a
// part per outcome.
func job(seq uint64, id string, status fleet.JobStatus, outcomes ...fleet.PartOutcome) deviceapi.Job {
	j := deviceapi.Job{
		Seq: seq,
		Job: fleet.Job{ID: id, CreatedAt: t0, SourceApp: "prep 5", Status: status, LayerCount: 100, Material: "PA12",
			PartCount: len(outcomes)},
		Private: deviceapi.JobPrivate{Name: "CANARY-job-name", User: "CANARY-job-user", Host: "CANARY-job-host"},
	}
	for i, o := range outcomes {
		j.Parts = append(j.Parts, deviceapi.Part{
			Part:    fleet.Part{ID: fmt.Sprintf("%s-p%d", id, i+1), JobID: id, CreatedAt: t0, VolumeCM3: 1, Outcome: o},
			Private: deviceapi.PartPrivate{Name: "CANARY-part-name", GeometryRef: "CANARY-geometry"},
		})
	}
	return j
}

func assertNoPrivate(t *testing.T, recs []fleet.Record) {
	t.Helper()
	for _, r := range recs {
		b := fmt.Sprintf("%+v %+v %+v %+v", r, r.Job, r.Part, r.Status)
		for _, c := range privateCanaries {
			if strings.Contains(b, c) {
				t.Errorf("record %s leaks %q", r.Kind, c)
			}
		}
	}
	assertNoCanary(t, recs)
}

func TestPollerJobsAndParts(t *testing.T) {
	f := newPollerFixture(t)
	dev, pr := f.add(t, "printer-a:8443", "printer-000a")
	pollOnce(t, f.p)
	f.drain(t)

	steps := []struct {
		name string
		jobs []deviceapi.Job
		want []string
	}{
		{"queued: the job and its parts", []deviceapi.Job{job(1, "job-1", fleet.JobQueued, fleet.PartPending, fleet.PartPending)},
			[]string{"job:job-1:queued", "part:job-1-p1:pending", "part:job-1-p2:pending"}},
		{"printing: parts unchanged", []deviceapi.Job{job(2, "job-1", fleet.JobPrinting, fleet.PartPending, fleet.PartPending)},
			[]string{"job:job-1:printing"}},
		{"two changes in one read, outcomes once each", []deviceapi.Job{
			job(3, "job-1", fleet.JobCompleted, fleet.PartPass, fleet.PartPending),
			job(4, "job-1", fleet.JobCompleted, fleet.PartPass, fleet.PartWarp),
		}, []string{"job:job-1:completed", "part:job-1-p1:pass", "job:job-1:completed", "part:job-1-p2:warp"}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			dev.set(func(d *fakeDevice) { d.jobs = append(d.jobs, s.jobs...) })
			f.clock.Advance(15 * time.Second)
			pollOnce(t, f.p)
			recs := f.drain(t)
			assertNoPrivate(t, recs)
			var got []string
			for _, k := range kinds(recs) {
				if strings.HasPrefix(k, "job:") || strings.HasPrefix(k, "part:") {
					got = append(got, k)
				}
			}
			if diff := cmp.Diff(s.want, got); diff != "" {
				t.Errorf("job records (-want +got):\n%s", diff)
			}
			for _, r := range recs {
				if r.Kind == fleet.KindJob && r.Job.SourceHostID == "" {
					t.Error("job record without a source host pseudonym")
				}
			}
		})
	}

	t.Run("source host is the site's pseudonym", func(t *testing.T) {
		secret, err := f.st.siteSecret(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		again, err := f.st.siteSecret(t.Context())
		if err != nil || string(again) != string(secret) || len(secret) != 32 {
			t.Fatalf("site secret not stable: %x then %x (%v)", secret, again, err)
		}
		dev.set(func(d *fakeDevice) { d.jobs = append(d.jobs, job(5, "job-2", fleet.JobQueued)) })
		f.clock.Advance(15 * time.Second)
		pollOnce(t, f.p)
		recs := f.drain(t)
		want := privacy.SourceHostID(secret, "CANARY-job-host")
		for _, r := range recs {
			if r.Kind == fleet.KindJob && r.Job.SourceHostID != want {
				t.Errorf("source host ID = %q, want %q", r.Job.SourceHostID, want)
			}
		}
	})

	t.Run("local jobs keep the private names", func(t *testing.T) {
		jobs, err := f.st.Jobs(t.Context(), pr.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, j := range jobs {
			got = append(got, fmt.Sprintf("%s:%s:%s:%d", j.Job.ID, j.Job.Status, j.Job.Private.Name, len(j.Job.Parts)))
		}
		want := []string{"job-2:queued:CANARY-job-name:0", "job-1:completed:CANARY-job-name:2"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("local jobs (-want +got):\n%s", diff)
		}
		if p := jobs[1].Job.Parts[1]; p.Private.Name != "CANARY-part-name" || p.Outcome != fleet.PartWarp {
			t.Errorf("local part = %+v, want its name and outcome", p)
		}
	})

	t.Run("a restarted gateway sends unchanged parts no more", func(t *testing.T) {
		p2 := NewPoller(f.st, f.net.dial, PollerOptions{Clock: f.clock, Resolver: sameNames{}})
		dev.set(func(d *fakeDevice) {
			d.jobs = append(d.jobs, job(6, "job-1", fleet.JobCompleted, fleet.PartPass, fleet.PartWarp))
		})
		f.clock.Advance(15 * time.Second)
		pollOnce(t, p2)
		if diff := cmp.Diff([]string{"job:job-1:completed", "status:idle"}, kinds(f.drain(t))); diff != "" {
			t.Errorf("records (-want +got):\n%s", diff)
		}
	})
}

func TestPollerCadences(t *testing.T) {
	f := newPollerFixture(t)
	dev, pr := f.add(t, "printer-a:8443", "printer-000a")
	pollOnce(t, f.p)
	f.drain(t)
	dev.set(func(d *fakeDevice) {
		d.layers = []fleet.Layer{{Seq: 1, JobID: "job-1", Index: 1, SizeMM2: 10, DurationSec: 9, Start: t0, End: t0.Add(9 * time.Second)}}
		d.events = []fleet.Event{{Seq: 1, Code: "E1", Severity: fleet.SeverityWarning, Time: t0}}
		d.counters.TotalJobs = 4
	})
	var got []string
	for range 60 { // five minutes in 5 s steps
		f.clock.Advance(5 * time.Second)
		pollOnce(t, f.p)
		for _, k := range kinds(f.drain(t)) {
			got = append(got, fmt.Sprintf("%s@%v", k, f.clock.Now().Sub(t0)))
		}
	}
	// Events at the next status poll, layers at the next feed read (15 s),
	// snapshots at 5 min, and a status heartbeat every minute.
	want := []string{"event:1@5s", "layer:1@15s", "status:idle@1m0s", "status:idle@2m0s", "status:idle@3m0s",
		"status:idle@4m0s", "counters@5m0s", "consumables@5m0s", "status:idle@5m0s"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records over five minutes (-want +got):\n%s", diff)
	}
	hist, err := f.st.ConsumablesHistory(t.Context(), pr.ID, t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || !hist[0].Seen.Equal(t0) || !hist[1].Seen.Equal(t0.Add(5*time.Minute)) {
		t.Errorf("consumables history = %+v, want samples at 0 and 5 min", hist)
	}
	ch, err := f.st.CountersHistory(t.Context(), pr.ID, t0.Add(time.Minute), t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(ch) != 1 || ch[0].Counters.TotalJobs != 4 {
		t.Errorf("counters history from 1 min = %+v, want the 5 min sample", ch)
	}
	evs, err := f.st.Events(t.Context(), pr.ID, 0)
	if err != nil || len(evs) != 1 || evs[0].Event.Code != "E1" {
		t.Errorf("local events = %+v, %v; want E1", evs, err)
	}
}

func TestPollerDrainsFeedsBounded(t *testing.T) {
	f := newFixtureWith(t, PollerOptions{MaxPages: 1})
	dev, pr := f.add(t, "printer-a:8443", "printer-000a")
	var layers []fleet.Layer
	for i := range layerPageSize + 200 {
		s := uint64(i + 1)
		layers = append(layers, fleet.Layer{Seq: s, JobID: "job-1", Index: i + 1, Start: t0, End: t0})
	}
	dev.set(func(d *fakeDevice) { d.layers = layers })
	count := func() int {
		n := 0
		for _, r := range f.drain(t) {
			if r.Kind == fleet.KindLayer {
				n++
			}
		}
		return n
	}
	pollOnce(t, f.p)
	if got := count(); got != layerPageSize {
		t.Errorf("layers in the first poll = %d, want one page of %d", got, layerPageSize)
	}
	f.clock.Advance(15 * time.Second)
	pollOnce(t, f.p)
	if got := count(); got != 200 {
		t.Errorf("layers in the second poll = %d, want the remaining 200", got)
	}
	if got := f.printer(t, pr.ID).Layers; got != (FeedPosition{"inst-1", uint64(layerPageSize + 200)}) {
		t.Errorf("layers position = %+v", got)
	}
}

// With LayersFrom the layers that ended before it are passed over: the
// feed's position moves past them, no gap is reported, and only the
// later layers reach the outbox (the demo's simulated past).
func TestPollerPassesOverLayersBeforeLayersFrom(t *testing.T) {
	f := newFixtureWith(t, PollerOptions{LayersFrom: t0.Add(time.Minute)})
	dev, pr := f.add(t, "printer-a:8443", "printer-000a")
	var layers []fleet.Layer
	for i := range 5 {
		at := t0.Add(time.Duration(i) * 30 * time.Second) // 0, 30 s, 1 min, 1.5 min, 2 min
		layers = append(layers, fleet.Layer{Seq: uint64(i + 1), JobID: "job-1", Index: i + 1, Start: at, End: at})
	}
	dev.set(func(d *fakeDevice) { d.layers = layers })
	pollOnce(t, f.p)
	var got []int
	for _, r := range f.drain(t) {
		switch r.Kind {
		case fleet.KindLayer:
			got = append(got, r.Layer.Index)
		case fleet.KindGap:
			t.Errorf("gap record %+v for layers passed over on purpose", r.Gap)
		}
	}
	if diff := cmp.Diff([]int{3, 4, 5}, got); diff != "" {
		t.Errorf("layers uploaded (-want +got):\n%s", diff)
	}
	if got := f.printer(t, pr.ID).Layers; got != (FeedPosition{"inst-1", 5}) {
		t.Errorf("layers position = %+v, want past all five", got)
	}

	// Layers overwritten before they were read are no gap when the
	// printer's oldest layer left is itself passed over; they are when it
	// is kept.
	gaps := func() []string {
		var out []string
		for _, r := range f.drain(t) {
			if r.Kind == fleet.KindGap {
				out = append(out, fmt.Sprintf("%d-%d", r.Gap.FromSeq, r.Gap.ToSeq))
			}
		}
		return out
	}
	early, late := t0.Add(30*time.Second), t0.Add(5*time.Minute)
	dev.set(func(d *fakeDevice) {
		d.layers = []fleet.Layer{{Seq: 9, JobID: "job-1", Index: 9, Start: early, End: early}} // 6..8 gone
	})
	f.clock.Advance(15 * time.Second)
	pollOnce(t, f.p)
	if g := gaps(); len(g) != 0 {
		t.Errorf("gaps before layers passed over: %v, want none", g)
	}
	dev.set(func(d *fakeDevice) {
		d.layers = []fleet.Layer{{Seq: 12, JobID: "job-1", Index: 12, Start: late, End: late}} // 10..11 gone
	})
	f.clock.Advance(15 * time.Second)
	pollOnce(t, f.p)
	if diff := cmp.Diff([]string{"10-11"}, gaps()); diff != "" {
		t.Errorf("gaps before a layer kept (-want +got):\n%s", diff)
	}
}

func TestPollerGapsOnEveryFeed(t *testing.T) {
	f := newPollerFixture(t)
	dev, pr := f.add(t, "printer-a:8443", "printer-000a")
	dev.set(func(d *fakeDevice) {
		d.jobs = []deviceapi.Job{job(1, "job-1", fleet.JobQueued), job(2, "job-2", fleet.JobQueued)}
		d.layers = []fleet.Layer{{Seq: 1, JobID: "job-1", Index: 1, Start: t0, End: t0}}
	})
	pollOnce(t, f.p)
	f.drain(t)

	dev.set(func(d *fakeDevice) {
		d.identity.Instance = "inst-2"
		d.jobs = []deviceapi.Job{job(1, "job-3", fleet.JobQueued)}
		d.layers = []fleet.Layer{{Seq: 5, JobID: "job-3", Index: 1, Start: t0, End: t0}} // 1..4 already gone
	})
	f.clock.Advance(15 * time.Second)
	pollOnce(t, f.p)
	var gaps []string
	for _, r := range f.drain(t) {
		if r.Kind == fleet.KindGap {
			gaps = append(gaps, fmt.Sprintf("%s:%s:%d-%d", r.Gap.Feed, r.Gap.Reason, r.Gap.FromSeq, r.Gap.ToSeq))
		}
	}
	want := []string{
		"events:printer restarted:1-0",
		"jobs:printer restarted:3-0",
		"layers:printer restarted:2-0",
		"layers:layers overwritten before they were read:1-4",
	}
	if diff := cmp.Diff(want, gaps); diff != "" {
		t.Errorf("gaps (-want +got):\n%s", diff)
	}
	local, err := f.st.Gaps(t.Context(), pr.ID, 10)
	if err != nil || len(local) != len(want) {
		t.Errorf("local gaps = %d (%v), want %d", len(local), err, len(want))
	}
	if got := f.p.Stats().Gaps; got["jobs"] != 1 || got["layers"] != 2 {
		t.Errorf("gap counts = %v", got)
	}
}

func TestPollerBadInputMarksPrinterKeepsTheRest(t *testing.T) {
	tests := []struct {
		name     string
		breakDev func(d *fakeDevice)
		kind     PollErrorKind
		want     []string // records of the bad printer in the second poll
	}{
		{"cursor goes backwards", func(d *fakeDevice) { d.rewind = 2 },
			ErrorCursorBackwards, []string{"counters", "consumables", "status:error"}},
		{"jobs feed refused", func(d *fakeDevice) {
			d.failOn = map[string]error{"jobs": errors.New("decode answer: invalid character 'x'")}
		}, ErrorGarbage, []string{"event:3", "counters", "consumables", "status:error"}},
		{"counters refused", func(d *fakeDevice) {
			d.failOn = map[string]error{"counters": errors.New("counters: negative count")}
		}, ErrorInvalid, []string{"event:3", "consumables", "status:error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newPollerFixture(t)
			bad, pr := f.add(t, "printer-a:8443", "printer-000a")
			f.add(t, "printer-b:8443", "printer-000b")
			bad.set(func(d *fakeDevice) {
				d.events = []fleet.Event{{Seq: 1, Code: "E1", Severity: fleet.SeverityInfo, Time: t0}, {Seq: 2, Code: "E2", Severity: fleet.SeverityInfo, Time: t0}}
			})
			pollOnce(t, f.p)
			f.drain(t)

			bad.set(tt.breakDev)
			bad.set(func(d *fakeDevice) {
				d.status.State = fleet.StateError
				d.events = append(d.events, fleet.Event{Seq: 3, Code: "E3", Severity: fleet.SeverityInfo, Time: t0})
			})
			f.clock.Advance(5 * time.Minute)
			err := f.p.PollOnce(t.Context())
			if err == nil || classify(err) != tt.kind {
				t.Fatalf("PollOnce() = %v (kind %q), want a %q error", err, classifyOrNil(err), tt.kind)
			}
			var got []string
			var goodRecs int
			for _, r := range f.drain(t) {
				switch r.PrinterID {
				case "printer-000a":
					got = append(got, kinds([]fleet.Record{r})...)
				case "printer-000b":
					goodRecs++
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("records of the bad printer (-want +got):\n%s", diff)
			}
			if goodRecs == 0 {
				t.Error("nothing collected from the good printer")
			}
			p := f.printer(t, pr.ID)
			if p.State != CollectionBadInput || p.ErrorKind != tt.kind || p.LastError == "" {
				t.Errorf("bad printer: state %q kind %q error %q; want bad input of kind %q", p.State, p.ErrorKind, p.LastError, tt.kind)
			}
			if p.EventCursor > 3 {
				t.Errorf("event cursor = %d", p.EventCursor)
			}
			if n := f.p.Stats().PollErrors[tt.kind]; n != 1 {
				t.Errorf("errors of kind %q counted = %d, want 1", tt.kind, n)
			}

			// Repaired, the printer is ok again and nothing was lost.
			bad.set(func(d *fakeDevice) { d.rewind, d.failOn = 0, nil })
			f.clock.Advance(5 * time.Minute)
			pollOnce(t, f.p)
			if p := f.printer(t, pr.ID); p.State != CollectionOK || p.ErrorKind != "" || p.EventCursor != 3 {
				t.Errorf("after repair: state %q kind %q cursor %d; want ok at 3", p.State, p.ErrorKind, p.EventCursor)
			}
		})
	}
}

func classifyOrNil(err error) PollErrorKind {
	if err == nil {
		return ""
	}
	return classify(err)
}

func TestPollerRequestLogs(t *testing.T) {
	f := newPollerFixture(t)
	dev, pr := f.add(t, "printer-a:8443", "printer-000a")
	line := func(seq uint64, ago time.Duration) fleet.LogLine {
		return fleet.LogLine{Seq: seq, Log: fleet.LogSession, Time: t0.Add(-ago), Text: fmt.Sprintf("line %d", seq)}
	}

	if _, err := f.p.RequestLogs(t.Context(), pr.ID, fleet.LogSession, t0); err == nil || !strings.Contains(err.Error(), "never reached") {
		t.Errorf("RequestLogs before first contact = %v, want 'never reached'", err)
	}
	pollOnce(t, f.p)
	f.drain(t)
	for _, tt := range []struct {
		name string
		kind fleet.LogKind
		id   int64
		want string
	}{{"unknown log", "secrets", pr.ID, "unknown log"}, {"unknown printer", fleet.LogSession, 999, "not found"}} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := f.p.RequestLogs(t.Context(), tt.id, tt.kind, t0); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("RequestLogs = %v, want %q", err, tt.want)
			}
		})
	}

	dev.set(func(d *fakeDevice) {
		d.logs[fleet.LogSession] = []fleet.LogLine{line(3, 10*time.Minute), line(4, 2*time.Minute), line(5, time.Minute)}
	})
	steps := []struct {
		name   string
		change func(d *fakeDevice)
		want   []string
		n      int
	}{
		// Lines 1-2 were overwritten before anyone asked, and older than asked for: no gap.
		{"lines since the time asked", nil, []string{"log:session:4", "log:session:5"}, 2},
		{"nothing new", nil, nil, 0},
		{"continues after the last request", func(d *fakeDevice) {
			d.logs[fleet.LogSession] = append(d.logs[fleet.LogSession], line(6, 0))
		}, []string{"log:session:6"}, 1},
		{"lines lost between requests are a gap", func(d *fakeDevice) {
			d.logs[fleet.LogSession] = []fleet.LogLine{line(9, 0)}
		}, []string{"gap:logs/session overwritten before they were read:7-8", "log:session:9"}, 1},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.change != nil {
				dev.set(s.change)
			}
			n, err := f.p.RequestLogs(t.Context(), pr.ID, fleet.LogSession, t0.Add(-5*time.Minute))
			if err != nil || n != s.n {
				t.Fatalf("RequestLogs = %d, %v; want %d lines", n, err, s.n)
			}
			if diff := cmp.Diff(s.want, kinds(f.drain(t))); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
	if got := f.printer(t, pr.ID).Logs[fleet.LogSession]; got != (FeedPosition{"inst-1", 9}) {
		t.Errorf("session log position = %+v, want inst-1 at 9", got)
	}
	if s := f.p.Stats(); s.LogRequests < 4 || s.Records[fleet.KindLog] != 4 {
		t.Errorf("stats = %+v, want 4 log records", s)
	}
	dev.set(func(d *fakeDevice) { d.err = errors.New("dial tcp: connection refused") })
	if _, err := f.p.RequestLogs(t.Context(), pr.ID, fleet.LogSession, t0); err == nil {
		t.Error("RequestLogs of a failing printer succeeded")
	}
}

// movingResolver resolves every name to the address it is set to.
type movingResolver struct {
	mu   sync.Mutex
	ips  []string
	err  error
	asks int
}

func (r *movingResolver) LookupHost(_ context.Context, host string) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asks++
	return r.ips, r.err
}

func (r *movingResolver) set(err error, ips ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ips, r.err = ips, err
}

func TestPollerResolvesNamesEveryPoll(t *testing.T) {
	st, _ := openStore(t)
	clk := clock.NewManual(t0)
	res := &movingResolver{ips: []string{"127.0.0.1"}}
	dev := newFakeDevice("printer-000a")
	var mu sync.Mutex
	var dialled []string
	p := NewPoller(st, func(addr string, _ deviceapi.Fingerprint) Device {
		mu.Lock()
		defer mu.Unlock()
		dialled = append(dialled, addr)
		return dev
	}, PollerOptions{Clock: clk, Resolver: res})
	pr, err := st.AddPrinter(t.Context(), "printer-a.example:8443", fpA, t0)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name     string
		err      error
		ips      []string
		state    CollectionState
		resolved string
	}{
		{"first address", nil, []string{"127.0.0.1"}, CollectionOK, "127.0.0.1:8443"},
		{"same address", nil, []string{"127.0.0.1"}, CollectionOK, "127.0.0.1:8443"},
		{"moved", nil, []string{"::1"}, CollectionOK, "[::1]:8443"},
		{"two addresses: the one in use is kept", nil, []string{"127.0.0.1", "::1"}, CollectionOK, "[::1]:8443"},
		{"name gone", errors.New("lookup printer-a.example: no such host"), nil, CollectionUnreachable, "[::1]:8443"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			res.set(s.err, s.ips...)
			clk.Advance(time.Minute)
			p.PollOnce(t.Context())
			got, err := st.printer(t.Context(), pr.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != s.state || got.ResolvedAddress != s.resolved {
				t.Errorf("printer: state %q resolved %q; want %q %q (%s)", got.State, got.ResolvedAddress, s.state, s.resolved, got.LastError)
			}
		})
	}
	if got := storedPrinter(t, st, pr.ID).ErrorKind; got != ErrorResolve {
		t.Errorf("error kind = %q, want %q", got, ErrorResolve)
	}
	if diff := cmp.Diff([]string{"127.0.0.1:8443", "[::1]:8443"}, dialled); diff != "" {
		t.Errorf("dialled (-want +got):\n%s", diff)
	}
	if res.asks != len(steps) {
		t.Errorf("resolver asked %d times in %d polls", res.asks, len(steps))
	}
}

func storedPrinter(t *testing.T, st *Store, id int64) Printer {
	t.Helper()
	p, err := st.printer(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		want PollErrorKind
	}{
		{devErr("read status", fmt.Errorf("x: %w", deviceapi.ErrPinMismatch)), ErrorCertificate},
		{devErr("read events", errors.New("event page: seq 3 not after cursor 5")), ErrorCursorBackwards},
		{devErr("read events", errors.New("event page: empty page moves cursor from 5 to 2")), ErrorCursorBackwards},
		{devErr("read events", errCursorBackwards), ErrorCursorBackwards},
		{devErr("resolve", errors.New("no such host")), ErrorResolve},
		{devErr("read status", context.DeadlineExceeded), ErrorTimeout},
		{devErr("read status", errors.New("GET /v1/status: answer larger than 10 bytes")), ErrorTooLarge},
		{devErr("read status", &deviceapi.StatusError{Code: 500}), ErrorHTTPStatus},
		{devErr("read status", errors.New("decode answer: invalid character")), ErrorGarbage},
		{devErr("read status", errors.New("status: zero time")), ErrorInvalid},
		{errors.New("disk I/O error"), ErrorStore},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			if got := classify(tt.err); got != tt.want {
				t.Errorf("classify(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}
