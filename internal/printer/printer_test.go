package printer

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

var start = time.Date(2026, 4, 6, 6, 0, 0, 0, time.UTC)

func newTestPrinter(t *testing.T, seed int64, opts Options) (*Printer, *clock.Manual) {
	t.Helper()
	clk := clock.NewManual(start)
	opts.Seed, opts.Clock = seed, clk
	return New(opts), clk
}

// allEvents reads every event the printer holds.
func allEvents(p *Printer) []fleet.Event {
	return p.Events(0, math.MaxInt).Items
}

func TestDeterminism(t *testing.T) {
	a, clkA := newTestPrinter(t, 42, Options{})
	b, clkB := newTestPrinter(t, 42, Options{})
	for i := range 400 {
		d := time.Duration(7+i%13) * time.Minute
		clkA.Advance(d)
		clkB.Advance(d)
		if diff := cmp.Diff(a.Status(), b.Status()); diff != "" {
			t.Fatalf("step %d: status differs (-a +b):\n%s", i, diff)
		}
	}
	evA := allEvents(a)
	if diff := cmp.Diff(evA, allEvents(b)); diff != "" {
		t.Fatalf("events differ (-a +b):\n%s", diff)
	}
	if len(evA) < 10 {
		t.Fatalf("only %d events in %v of simulated time", len(evA), clkA.Now().Sub(start))
	}

	t.Run("independent of how often it is read", func(t *testing.T) {
		c, clkC := newTestPrinter(t, 42, Options{})
		clkC.Set(clkA.Now())
		if diff := cmp.Diff(evA, allEvents(c)); diff != "" {
			t.Errorf("events read once differ from events read 400 times (-often +once):\n%s", diff)
		}
		if diff := cmp.Diff(a.Status(), c.Status()); diff != "" {
			t.Errorf("status differs (-often +once):\n%s", diff)
		}
	})
	t.Run("another seed, another history", func(t *testing.T) {
		d, clkD := newTestPrinter(t, 43, Options{})
		clkD.Set(clkA.Now())
		if cmp.Equal(evA, allEvents(d)) {
			t.Error("seeds 42 and 43 produced the same events")
		}
	})
}

// legal lists the state changes the printer may make.
var legal = map[[2]fleet.State]bool{
	{fleet.StateIdle, fleet.StatePrinting}:    true,
	{fleet.StateIdle, fleet.StateError}:       true,
	{fleet.StatePrinting, fleet.StateCooling}: true,
	{fleet.StatePrinting, fleet.StateError}:   true,
	{fleet.StateCooling, fleet.StateIdle}:     true,
	{fleet.StateError, fleet.StateIdle}:       true,
	{fleet.StateError, fleet.StatePrinting}:   true,
}

var activityRE = map[fleet.State]*regexp.Regexp{
	fleet.StateIdle:     regexp.MustCompile(`^(idle|installing an update)$`),
	fleet.StatePrinting: regexp.MustCompile(`^printing layer \d+ of \d+$`),
	fleet.StateCooling:  regexp.MustCompile(`^cooling$`),
	fleet.StateError:    regexp.MustCompile(`^error: .+$`),
}

func TestLifecycle(t *testing.T) {
	for _, model := range []string{"4200", "5200"} {
		t.Run(model, func(t *testing.T) {
			p, clk := newTestPrinter(t, 7, Options{Model: model})
			seen := map[fleet.State]int{}
			var walk []fleet.State // idle→printing→cooling→idle, matched in order
			want := []fleet.State{fleet.StateIdle, fleet.StatePrinting, fleet.StateCooling, fleet.StateIdle}
			prev := fleet.StateUnknown
			for range 14 * 24 * 60 {
				clk.Advance(time.Minute)
				s := p.Status()
				if err := s.Validate(); err != nil {
					t.Fatalf("%v: invalid status %+v: %v", s.Time, s, err)
				}
				if !activityRE[s.State].MatchString(s.Activity) {
					t.Fatalf("%v: activity %q for state %v", s.Time, s.Activity, s.State)
				}
				if got, want := s.Job != nil, s.State == fleet.StatePrinting || s.State == fleet.StateCooling; s.State != fleet.StateError && got != want {
					t.Fatalf("%v: state %v with job %+v", s.Time, s.State, s.Job)
				}
				if s.PendingJobs > maxPending {
					t.Fatalf("%v: %d pending jobs, want at most %d", s.Time, s.PendingJobs, maxPending)
				}
				if prev != fleet.StateUnknown && s.State != prev && !legal[[2]fleet.State{prev, s.State}] {
					t.Fatalf("%v: illegal change %v → %v", s.Time, prev, s.State)
				}
				if s.State != prev {
					seen[s.State]++
					if len(walk) < len(want) && s.State == want[len(walk)] {
						walk = append(walk, s.State)
					}
				}
				prev = s.State
			}
			if diff := cmp.Diff(want, walk); diff != "" {
				t.Errorf("state walk (-want +got):\n%s", diff)
			}
			for _, st := range []fleet.State{fleet.StateIdle, fleet.StatePrinting, fleet.StateCooling, fleet.StateError} {
				if seen[st] == 0 {
					t.Errorf("state %v never seen in two simulated weeks (seen %v)", st, seen)
				}
			}
		})
	}
}

func TestJobsAreWithinTheProcessLimits(t *testing.T) {
	p, clk := newTestPrinter(t, 11, Options{})
	jobs := map[string]deviceapi.CurrentJob{}
	idRE := regexp.MustCompile(`^[A-Z0-9]{12}$`)
	for range 30 * 24 * 6 {
		clk.Advance(10 * time.Minute)
		if j := p.Status().Job; j != nil {
			jobs[j.ID] = *j
		}
	}
	if len(jobs) < 10 {
		t.Fatalf("only %d jobs in a simulated month", len(jobs))
	}
	for id, j := range jobs {
		if !idRE.MatchString(id) {
			t.Errorf("job id %q: want 12 random letters and digits", id)
		}
		if j.LayersTotal < 300 || j.LayersTotal > 4750 {
			t.Errorf("job %s: %d layers, want 300..4750", id, j.LayersTotal)
		}
		if j.Private.Name == "" || j.Private.User == "" || j.Private.Host == "" || strings.Contains(j.Private.Name, id) {
			t.Errorf("job %s: private fields %+v", id, j.Private)
		}
	}
	if p.job != nil {
		if d := p.job.cool; d < 3*time.Hour || d > 20*time.Hour {
			t.Errorf("cooling %v, want several hours", d)
		}
	}
}

func TestETC(t *testing.T) {
	p, clk := newTestPrinter(t, 3, Options{})
	// Find a print job that is a few hours long.
	var s deviceapi.Status
	for {
		clk.Advance(10 * time.Minute)
		s = p.Status()
		if s.State == fleet.StatePrinting && s.Job.LayersTotal > 2000 && s.Job.Progress < 0.05 {
			break
		}
		if clk.Now().Sub(start) > 30*24*time.Hour {
			t.Fatal("no long print job in 30 simulated days")
		}
	}
	jobID := s.Job.ID
	estimateAt10 := time.Time{}
	prev := s
	for {
		clk.Advance(30 * time.Minute)
		s = p.Status()
		if s.Job == nil || s.Job.ID != jobID {
			t.Fatalf("job %s vanished", jobID)
		}
		if s.State == fleet.StateError || prev.State == fleet.StateError {
			prev = s
			continue
		}
		if s.State == fleet.StateCooling {
			break
		}
		if s.ETCSeconds >= prev.ETCSeconds {
			t.Errorf("%v: ETC %d s after %d s half an hour earlier, want it to fall", s.Time, s.ETCSeconds, prev.ETCSeconds)
		}
		if s.Job.LayersDone < prev.Job.LayersDone || s.Job.Progress < prev.Job.Progress {
			t.Errorf("%v: progress went back from %+v to %+v", s.Time, prev.Job, s.Job)
		}
		if estimateAt10.IsZero() && s.Job.Progress >= 0.1 {
			estimateAt10 = s.Time.Add(time.Duration(s.ETCSeconds) * time.Second)
		}
		prev = s
	}
	// The estimate at 10% held within 5% of the job's length. Faults are
	// not predictable, so the seed is one whose job ran without a fault.
	finished := findEvent(t, allEvents(p), "JOB_FINISHED", jobID).Time
	if hasFaultBetween(allEvents(p), estimateAt10, finished) {
		t.Fatalf("job %s was paused by a fault: choose a seed without one for this check", jobID)
	}
	started := findEvent(t, allEvents(p), "JOB_STARTED", jobID).Time
	tol := finished.Sub(started) / 20
	if d := estimateAt10.Sub(finished).Abs(); d > tol {
		t.Errorf("estimate at 10%%: finish at %v, finished at %v (off by %v, tolerance %v)", estimateAt10, finished, d, tol)
	}

	// Cooling: ETC is the cooling time left, to the second.
	cool := s.ETCSeconds
	clk.Advance(17 * time.Minute)
	if s2 := p.Status(); s2.State == fleet.StateCooling && s2.ETCSeconds != cool-17*60 {
		t.Errorf("cooling ETC: got %d after 17 min, want %d", s2.ETCSeconds, cool-17*60)
	}
}

func findEvent(t *testing.T, evs []fleet.Event, code, jobID string) fleet.Event {
	t.Helper()
	for _, e := range evs {
		if e.Code == code && strings.Contains(e.Details, jobID) {
			return e
		}
	}
	t.Fatalf("no %s event for job %s", code, jobID)
	return fleet.Event{}
}

func hasFaultBetween(evs []fleet.Event, from, to time.Time) bool {
	for _, e := range evs {
		if e.Severity >= fleet.SeverityError && !e.Time.Before(from.Add(-3*time.Hour)) && !e.Time.After(to) {
			return true
		}
	}
	return false
}

func TestEvents(t *testing.T) {
	p, clk := newTestPrinter(t, 5, Options{})
	private := map[string]bool{}
	for range 10 * 24 * 12 {
		clk.Advance(5 * time.Minute)
		if j := p.Status().Job; j != nil {
			private[j.Private.Name], private[j.Private.User], private[j.Private.Host] = true, true, true
		}
	}
	all := allEvents(p)
	if len(all) < 20 {
		t.Fatalf("only %d events in 10 simulated days", len(all))
	}
	codes := map[string]bool{}
	named := 0
	for i, e := range all {
		codes[e.Code] = true
		if e.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d, want %d", i, e.Seq, i+1)
		}
		if err := e.Validate(); err != nil {
			t.Errorf("event %d: %v", e.Seq, err)
		}
		if i > 0 && e.Time.Before(all[i-1].Time) {
			t.Errorf("event %d at %v before event %d at %v", e.Seq, e.Time, all[i-1].Seq, all[i-1].Time)
		}
		// Like a real printer it names jobs, users and computers in the
		// details of a queued job (the Command Center scrubs them), and
		// nowhere else; never in the description.
		for name := range private {
			if strings.Contains(e.Description, name) || e.Code != "JOB_QUEUED" && strings.Contains(e.Details, name) {
				t.Errorf("event %d %s %q names %q", e.Seq, e.Code, e.Details, name)
			}
			if e.Code == "JOB_QUEUED" && strings.Contains(e.Details, name) {
				named++
			}
		}
	}
	if named == 0 {
		t.Error("no queued job's event names its job, user or computer, as real printers do")
	}
	for _, c := range []string{"JOB_QUEUED", "JOB_STARTED", "JOB_FINISHED", "BUILD_UNIT_REMOVED", "COOLING_STARTED", "COOLING_FINISHED", "JOB_UNPACKED"} {
		if !codes[c] {
			t.Errorf("no %s event in 10 simulated days", c)
		}
	}

	for _, limit := range []int{1, 7, 100} {
		t.Run(fmt.Sprintf("paging by %d", limit), func(t *testing.T) {
			var got []fleet.Event
			after := uint64(0)
			for {
				pg := p.Events(after, limit)
				if err := pg.Validate(); err != nil {
					t.Fatalf("page after %d: %v", after, err)
				}
				if len(pg.Items) > limit {
					t.Fatalf("page after %d: %d events, limit %d", after, len(pg.Items), limit)
				}
				if len(pg.Items) == 0 {
					if pg.Next != after {
						t.Fatalf("empty page moved cursor %d → %d", after, pg.Next)
					}
					break
				}
				got = append(got, pg.Items...)
				after = pg.Next
			}
			if diff := cmp.Diff(all, got); diff != "" {
				t.Errorf("paged events (-all +paged):\n%s", diff)
			}
		})
	}
}

func TestEventRingOverflow(t *testing.T) {
	p, clk := newTestPrinter(t, 9, Options{EventCapacity: 50})
	clk.Advance(30 * 24 * time.Hour)
	pg := p.Events(0, 1000)
	if pg.First <= 1 {
		t.Fatalf("first %d after a month with room for 50 events, want > 1", pg.First)
	}
	if len(pg.Items) != 50 {
		t.Fatalf("got %d events, want the 50 held", len(pg.Items))
	}
	if pg.Items[0].Seq != pg.First || pg.Next != pg.First+49 {
		t.Errorf("events %d..%d, first %d next %d: want first..first+49", pg.Items[0].Seq, pg.Items[49].Seq, pg.First, pg.Next)
	}
	if err := pg.Validate(); err != nil {
		t.Error(err)
	}
	// A reader whose cursor predates First sees the gap: after+1 < First.
	behind := p.Events(3, 10)
	if behind.Items[0].Seq != behind.First || 3+1 >= behind.First {
		t.Errorf("reader at 3: first event %d, first %d", behind.Items[0].Seq, behind.First)
	}
}

func TestRingPage(t *testing.T) {
	r := newRing[int](4)
	for i := range 6 {
		if seq := r.add(i * 10); seq != uint64(i+1) {
			t.Fatalf("add %d: seq %d, want %d", i, seq, i+1)
		}
	}
	render := func(seq uint64, v *int) uint64 {
		if *v != int(seq-1)*10 {
			t.Errorf("seq %d holds %d, want %d", seq, *v, (seq-1)*10)
		}
		return seq
	}
	tests := []struct {
		name     string
		after    uint64
		limit    int
		want     []uint64
		wantNext uint64
	}{
		{"from start", 0, 10, []uint64{3, 4, 5, 6}, 6},
		{"limited", 0, 2, []uint64{3, 4}, 4},
		{"middle", 4, 10, []uint64{5, 6}, 6},
		{"at end", 6, 10, []uint64{}, 6},
		{"beyond end", 99, 10, []uint64{}, 99},
		{"max cursor", math.MaxUint64, 10, []uint64{}, math.MaxUint64},
		{"zero limit", 0, 0, []uint64{}, 0},
		{"negative limit", 0, -1, []uint64{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, next := page(&r, tt.after, tt.limit, render)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("seqs (-want +got):\n%s", diff)
			}
			if next != tt.wantNext {
				t.Errorf("next: got %d, want %d", next, tt.wantNext)
			}
		})
	}
	if got := r.first(); got != 3 {
		t.Errorf("first: got %d, want 3", got)
	}
	empty := newRing[int](4)
	if evs, next := page(&empty, 0, 10, render); len(evs) != 0 || next != 0 || empty.first() != 1 {
		t.Errorf("empty ring: %d events, next %d, first %d; want none, 0, 1", len(evs), next, empty.first())
	}
}

func TestIdentity(t *testing.T) {
	p, clk := newTestPrinter(t, 21, Options{Name: "3DP 1", Model: "5200"})
	id := p.Identity()
	if err := id.Validate(); err != nil {
		t.Fatalf("identity invalid: %v", err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(string(id.PrinterID)) {
		t.Errorf("printer id %q: want a version 4 UUID", id.PrinterID)
	}
	want := fleet.Identity{
		PrinterID: id.PrinterID, Name: "3DP 1", Model: "FF-5200", ModelNumber: "FF5200-A",
		SerialNumber: id.SerialNumber, Firmware: "5.2.3", ParameterSet: "std-5200-3.0", Size: "380x284x380 mm",
		DiskBytes: 2 << 40, MemoryBytes: 128 << 30, Date: start, UptimeSec: 0,
	}
	if diff := cmp.Diff(want, id.Identity); diff != "" {
		t.Errorf("identity (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(id.SerialNumber, "FF52") || len(id.SerialNumber) != 12 {
		t.Errorf("serial %q: want FF52 and 8 characters", id.SerialNumber)
	}

	clk.Advance(90 * time.Minute)
	later := p.Identity()
	if later.UptimeSec != 5400 || !later.Date.Equal(start.Add(90*time.Minute)) {
		t.Errorf("after 90 min: uptime %d, date %v", later.UptimeSec, later.Date)
	}
	if later.PrinterID != id.PrinterID || later.Instance != id.Instance {
		t.Errorf("identity changed within one instance")
	}

	again, _ := newTestPrinter(t, 21, Options{Name: "3DP 1", Model: "FF-5200", Firmware: "5.3.0"})
	a := again.Identity()
	if a.PrinterID != id.PrinterID || a.SerialNumber != id.SerialNumber {
		t.Errorf("same seed: got %s/%s, want %s/%s", a.PrinterID, a.SerialNumber, id.PrinterID, id.SerialNumber)
	}
	if a.Instance == id.Instance {
		t.Errorf("two starts share instance %q", a.Instance)
	}
	if a.Firmware != "5.3.0" || allEvents(again)[0].Firmware != "5.3.0" {
		t.Errorf("firmware option not used: %q", a.Firmware)
	}
	other, _ := newTestPrinter(t, 22, Options{})
	if o := other.Identity(); o.PrinterID == id.PrinterID || o.Model != "FF-4200" || !strings.HasPrefix(o.Name, "Printer ") {
		t.Errorf("seed 22 defaults: %+v", o.Identity)
	}
}

func TestOptions(t *testing.T) {
	tests := []struct {
		model   string
		wantErr bool
	}{
		{"", false}, {"4200", false}, {"5200", false}, {"FF-4200", false}, {"FF-5200", false},
		{"3200", true}, {"ff-4200", true},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			err := Options{Model: tt.model}.Validate()
			if (err != nil) != tt.wantErr {
				t.Errorf("Validate model %q: got %v, want error %v", tt.model, err, tt.wantErr)
			}
		})
	}
	// The zero value works with the real clock.
	p := New(Options{})
	if s := p.Status(); s.Validate() != nil || s.Time.IsZero() {
		t.Errorf("zero options: status %+v", s)
	}
	if m := New(Options{Model: "3200"}).Identity().Model; m != "FF-4200" {
		t.Errorf("unknown model: got %q, want the FF-4200 fallback", m)
	}
}

func TestConcurrentReaders(t *testing.T) {
	p, clk := newTestPrinter(t, 13, Options{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			var after uint64
			for range 200 {
				if g == 0 {
					clk.Advance(20 * time.Minute)
				}
				if err := p.Status().Validate(); err != nil {
					t.Errorf("status: %v", err)
					return
				}
				pg := p.Events(after, 10)
				if err := pg.Validate(); err != nil {
					t.Errorf("events: %v", err)
					return
				}
				after = pg.Next
				p.Identity()
			}
		})
	}
	wg.Wait()
}

// TestTruthKeepsWhatItIsAsked checks that Truth keeps as many replaced
// components and finished jobs as the options ask, the newest ones.
func TestTruthKeepsWhatItIsAsked(t *testing.T) {
	small, clkS := newTestPrinter(t, 7, Options{TruthComponents: 3, TruthJobs: 2})
	big, clkB := newTestPrinter(t, 7, Options{TruthComponents: 1 << 20, TruthJobs: 1 << 20})
	clkS.Advance(120 * 24 * time.Hour)
	clkB.Advance(120 * 24 * time.Hour)
	removed := func(tr Truth) []ComponentTruth {
		var out []ComponentTruth
		for _, c := range tr.Components {
			if !c.Installed {
				out = append(out, c)
			}
		}
		return out
	}
	ts, tb := small.Truth(), big.Truth()
	rs, rb := removed(ts), removed(tb)
	if len(rb) <= 3 || len(tb.Jobs) <= 2 {
		t.Fatalf("big truth keeps %d replaced components and %d jobs after 120 days; want more than 3 and 2", len(rb), len(tb.Jobs))
	}
	if diff := cmp.Diff(rb[len(rb)-3:], rs); diff != "" {
		t.Errorf("small truth's components are not the newest of the big one (-big +small):\n%s", diff)
	}
	if diff := cmp.Diff(tb.Jobs[len(tb.Jobs)-2:], ts.Jobs); diff != "" {
		t.Errorf("small truth's jobs are not the newest of the big one (-big +small):\n%s", diff)
	}
}
