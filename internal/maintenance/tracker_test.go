package maintenance

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

const pid = fleet.PrinterID("0b6ad6a4-5f8e-4c1e-9a51-3c3b8f1f2a10")

// feed builds records for one printer.
type feed struct {
	t   *Tracker
	seq uint64
}

func (f *feed) counters(h float64, filter float64, at time.Duration) {
	f.seq++
	f.t.Add(fleet.Record{Seq: f.seq, Kind: fleet.KindCounters, PrinterID: pid, Time: t0.Add(at),
		Counters: &fleet.Counters{PrintTimeSec: h * 3600, FilterStatusPercent: filter, Time: t0.Add(at)}})
}

func (f *feed) heads(at time.Duration, heads ...fleet.Printhead) {
	f.seq++
	f.t.Add(fleet.Record{Seq: f.seq, Kind: fleet.KindConsumables, PrinterID: pid, Time: t0.Add(at),
		Consumables: &fleet.Consumables{Printheads: heads, Time: t0.Add(at)}})
}

func (f *feed) event(code string, at time.Duration) {
	f.seq++
	f.t.Add(fleet.Record{Seq: f.seq, Kind: fleet.KindEvent, PrinterID: pid, Time: t0.Add(at),
		Event: &fleet.Event{Code: code, Severity: fleet.SeverityError, Time: t0.Add(at)}})
}

func head(slot int, serial string, usage float64, status string) fleet.Printhead {
	return fleet.Printhead{Slot: slot, SerialNumber: serial, UsageHours: usage, Status: status}
}

func TestTrackerPrintheadLives(t *testing.T) {
	tests := []struct {
		name     string
		run      func(f *feed)
		want     []Obs // ended printhead lives, in order
		excluded map[string]int
	}{
		{
			name: "failure matched to the one replaced head",
			run: func(f *feed) {
				f.counters(0, 100, 0)
				f.heads(0, head(1, "A", 0, "ok"), head(2, "B", 0, "ok"))
				f.counters(10, 100, 10*time.Hour)
				f.heads(10*time.Hour, head(1, "A", 10, "ok"), head(2, "B", 10, "ok"))
				f.counters(14, 100, 14*time.Hour)
				f.event("PRINTHEAD_FAILED", 12*time.Hour)
				f.heads(14*time.Hour, head(1, "A", 14, "ok"), head(2, "C", 0, "ok"))
			},
			want:     []Obs{{Hours: 12, Failed: true}},
			excluded: map[string]int{},
		},
		{
			name: "replacement without a failure is censored",
			run: func(f *feed) {
				f.counters(0, 100, 0)
				f.heads(0, head(1, "A", 0, "ok"))
				f.counters(30, 100, 40*time.Hour)
				f.heads(40*time.Hour, head(1, "B", 1, "ok"))
			},
			want:     []Obs{{Hours: 30}},
			excluded: map[string]int{},
		},
		{
			name: "a failure two replaced heads could mean is left out",
			run: func(f *feed) {
				f.counters(0, 100, 0)
				f.heads(0, head(1, "A", 0, "ok"), head(2, "B", 0, "ok"))
				f.event("PRINTHEAD_FAILED", 5*time.Hour)
				f.counters(8, 100, 8*time.Hour)
				f.heads(8*time.Hour, head(1, "C", 0, "ok"), head(2, "D", 0, "ok"))
			},
			excluded: map[string]int{ExclAmbiguous: 2},
		},
		{
			name: "the head shown failed takes the failure",
			run: func(f *feed) {
				f.counters(0, 100, 0)
				f.heads(0, head(1, "A", 0, "ok"), head(2, "B", 0, "ok"))
				f.event("PRINTHEAD_FAILED", 5*time.Hour)
				f.counters(5, 100, 5*time.Hour)
				f.heads(5*time.Hour, head(1, "A", 5, "ok"), head(2, "B", 5, "failed"))
				f.counters(8, 100, 8*time.Hour)
				f.heads(8*time.Hour, head(1, "C", 0, "ok"), head(2, "D", 0, "ok"))
			},
			want:     []Obs{{Hours: 5, Failed: true}, {Hours: 8}},
			excluded: map[string]int{},
		},
		{
			name: "counters and usage going back are excluded",
			run: func(f *feed) {
				f.counters(10, 100, 0)
				f.counters(5, 100, time.Hour)
				f.heads(0, head(1, "A", 10, "ok"))
				f.heads(time.Hour, head(1, "A", 9, "ok"))
				f.event("PRINTHEAD_FAILED", 2*time.Hour)
				f.counters(20, 100, 40*time.Hour)
				f.heads(40*time.Hour, head(1, "A", 20, "ok"))
			},
			excluded: map[string]int{ExclPrintTimeBack: 1, ExclUsageBack: 1, ExclUnmatchedFail: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &feed{t: NewTracker()}
			tt.run(f)
			var got []Obs
			for _, in := range f.t.ended {
				if in.Kind == Printhead {
					got = append(got, Obs{Hours: in.Usage, Failed: in.Failed, Entry: in.Entry})
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("lives (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.excluded, f.t.Excluded); diff != "" {
				t.Errorf("excluded (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTrackerSingleComponents follows a filter: installed with a new
// printer, its step down in life left is the warning, and it is replaced.
func TestTrackerSingleComponents(t *testing.T) {
	f := &feed{t: NewTracker()}
	f.counters(0, 100, 0)
	for i := 1; i <= 10; i++ {
		f.counters(float64(10*i), 100-float64(5*i), time.Duration(i)*10*time.Hour)
	}
	ins := f.t.Installed(pid, t0.Add(100*time.Hour))
	var filter Instance
	for _, in := range ins {
		if in.Kind == Filter {
			filter = in
		}
	}
	if filter.Usage != 100 || !filter.Warned.IsZero() {
		t.Fatalf("filter after a steady decline: usage %v warned %v, want 100 h and no warning", filter.Usage, filter.Warned)
	}
	f.event("FILTER_CLOGGED", 101*time.Hour) // life left low: not a warning of failure
	f.counters(111, 40, 110*time.Hour)       // a step of 10 points
	f.event("FILTER_BLOCKED", 115*time.Hour)
	f.counters(120, 0, 120*time.Hour)
	f.event("FILTER_REPLACED", 121*time.Hour)
	var got []Obs
	for _, in := range f.t.ended {
		got = append(got, Obs{Hours: in.Usage, Failed: in.Failed})
		if want := t0.Add(110 * time.Hour); !in.Warned.Equal(want) {
			t.Errorf("warned at %v, want %v", in.Warned, want)
		}
	}
	// The failure's usage is the print time last read before it: the
	// tracker takes records as they come and does not wait for the next.
	if diff := cmp.Diff([]Obs{{Hours: 111, Failed: true}}, got); diff != "" {
		t.Errorf("filter lives (-want +got):\n%s", diff)
	}
}

func TestForecastFallsBackToRatedLife(t *testing.T) {
	f := &feed{t: NewTracker()}
	f.counters(0, 100, 0)
	f.heads(0, head(1, "A", 0, "ok"))
	for d := 1; d <= 20; d++ {
		at := time.Duration(d) * 24 * time.Hour
		f.counters(float64(10*d), 100, at)
		f.heads(at, head(1, "A", float64(10*d), "ok"))
	}
	at := t0.Add(20 * 24 * time.Hour)
	fc := NewForecaster(f.t, at, Options{})
	got := fc.Forecasts(f.t, pid, at)
	var ph Forecast
	for _, x := range got {
		if x.Kind == Printhead {
			ph = x
		}
	}
	if ph.Basis != BasisRated || ph.RemainingHours != 200 || ph.FailWithin != -1 || ph.Due {
		t.Errorf("forecast %+v: want rated life, 200 h left, no probability, not due", ph)
	}
	if want := at.Add(20 * 24 * time.Hour); !ph.Replace.Equal(want) {
		t.Errorf("replace %v, want %v at 10 h a day", ph.Replace, want)
	}
	if ph.Reason == "" {
		t.Error("no reason given for the fallback")
	}
}

// TestTrackerCovariates runs a printhead 10 h on original agent printing
// PA12, 10 h on non-original agent printing TPU in fast mode, and checks
// the usage is split by what it ran under, the hours before the history
// saw it on the reference, and the vector in effect now.
func TestTrackerCovariates(t *testing.T) {
	f := &feed{t: NewTracker()}
	job := func(at time.Duration, material, mode string) {
		f.seq++
		f.t.Add(fleet.Record{Seq: f.seq, Kind: fleet.KindJob, PrinterID: pid, Time: t0.Add(at),
			Job: &fleet.Job{ID: material, Material: material, PrintMode: mode, StartedAt: t0.Add(at), Status: fleet.JobPrinting}})
	}
	cons := func(at time.Duration, usage float64, agent string, flag bool) {
		f.seq++
		h := head(1, "A", usage, "ok")
		h.Type, h.NonOriginalAgent = "fusing/detailing", flag
		f.t.Add(fleet.Record{Seq: f.seq, Kind: fleet.KindConsumables, PrinterID: pid, Time: t0.Add(at),
			Consumables: &fleet.Consumables{Time: t0.Add(at), Printheads: []fleet.Printhead{h},
				Agents: []fleet.AgentSupply{{Agent: "fusing", SupplyStatus: agent}, {Agent: "cyan", SupplyStatus: "ok"}}}})
	}
	f.counters(0, 100, 0)
	job(0, "PA12", "balanced")
	cons(0, 5, "ok", false) // 5 h before the history
	f.counters(10, 100, 10*time.Hour)
	job(10*time.Hour, "TPU", "fast") // a job before the snapshot of the same time, as Replay orders them
	cons(10*time.Hour, 15, "non-original", true)
	f.counters(20, 100, 20*time.Hour)
	cons(20*time.Hour, 25, "non-original", true)
	at := t0.Add(20 * time.Hour)
	var ph Instance
	for _, in := range f.t.Installed(pid, at) {
		if in.Kind == Printhead {
			ph = in
		}
	}
	var now Covariates
	now[CovNonOriginal], now[CovTPU], now[CovFast] = 1, 1, 1
	now[CovRate] = rateCov(24) // 20 h in 20 h
	// The first 10 h on what the first snapshot showed: no rate yet.
	want := []Exposure{{Hours: 5, Unknown: true}, {Hours: 10}, {X: now, Hours: 10}}
	if diff := cmp.Diff(want, ph.Exposure); diff != "" {
		t.Errorf("exposure (-want +got):\n%s", diff)
	}
	if ph.Now != now {
		t.Errorf("now %v, want %v", ph.Now, now)
	}
	// The supply back to original: the head's flag stays, the hours do not
	// count as non-original.
	f.counters(30, 100, 30*time.Hour)
	cons(30*time.Hour, 35, "ok", true)
	for _, in := range f.t.Installed(pid, t0.Add(30*time.Hour)) {
		if in.Kind == Printhead && (in.Now[CovNonOriginal] != 0 || !in.NonOriginal) {
			t.Errorf("back on original agent: now %v, non-original flag %v", in.Now, in.NonOriginal)
		}
	}
}

func TestRecoveryCovariateStopsAtWarning(t *testing.T) {
	f := &feed{t: NewTracker()}
	f.counters(0, 100, 0)
	h := head(1, "A", 0, "ok")
	f.heads(0, h)
	h.UsageHours, h.RecoveryLevel = 100, 2
	f.counters(100, 100, 100*time.Hour)
	f.heads(100*time.Hour, h)
	h.UsageHours, h.RecoveryLevel, h.Status = 110, 30, "degraded" // a failing head recovers often
	f.counters(110, 100, 110*time.Hour)
	f.heads(110*time.Hour, h)
	h.UsageHours = 120
	f.counters(120, 100, 120*time.Hour)
	f.heads(120*time.Hour, h)
	for _, in := range f.t.Installed(pid, t0.Add(120*time.Hour)) {
		if in.Kind == Printhead {
			if got, want := in.Now[CovRecoveries], recoveryCov(30, 110); got != want {
				t.Errorf("recoveries covariate %v, want %v: the count when it announced its failure", got, want)
			}
		}
	}
}
