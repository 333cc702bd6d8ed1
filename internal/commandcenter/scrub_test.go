package commandcenter

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/sqlitedb"
)

// scrubJob is a jobs-feed entry with private names.
func scrubJob(seq uint64, id, name string, parts ...string) deviceapi.Job {
	j := deviceapi.Job{Seq: seq,
		Job:     fleet.Job{ID: id, CreatedAt: t0, Status: fleet.JobPrinting, LayerCount: 10, PartCount: len(parts)},
		Private: deviceapi.JobPrivate{Name: name, User: "jdoe-" + id, Host: "CAD-" + id},
	}
	for i, p := range parts {
		j.Parts = append(j.Parts, deviceapi.Part{
			Part:    fleet.Part{ID: id + "-p" + string(rune('1'+i)), JobID: id, CreatedAt: t0, Outcome: fleet.PartPending},
			Private: deviceapi.PartPrivate{Name: p, GeometryRef: p + ".3mf"},
		})
	}
	return j
}

// recordText returns the JSON of recs, for looking for names in.
func recordText(t *testing.T, recs []fleet.Record) string {
	t.Helper()
	b, err := json.Marshal(recs)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Names the printer wrote into free text are scrubbed, whichever feed
// brought the name and whichever feed the text: a name read later in the
// same poll included.
func TestPollerScrubsNamesFromFreeText(t *testing.T) {
	f := newPollerFixture(t)
	dev, _ := f.add(t, "printer-a:8443", "printer-000a")
	dev.set(func(d *fakeDevice) {
		d.status = printingStatus("job-1", 600)
		d.status.Activity = "printing for canary-job-user" // the status's own names, another case
		d.jobs = []deviceapi.Job{scrubJob(1, "job-2", "Housing Left", "Gear Wheel")}
		d.events = []fleet.Event{{Seq: 1, Code: "E-1", Description: "housing left: powder low", Severity: fleet.SeverityWarning,
			Time: t0, Details: "part GEAR WHEEL at x=10, file gear wheel.3mf, job of CANARY-job-name"}}
	})
	pollOnce(t, f.p)
	recs := f.drain(t)
	text := recordText(t, recs)
	for _, name := range []string{"housing left", "gear wheel", "canary-job-user", "canary-job-name"} {
		if strings.Contains(strings.ToLower(text), name) {
			t.Errorf("records name %q: %s", name, text)
		}
	}
	var ev *fleet.Event
	for _, r := range recs {
		if r.Kind == fleet.KindEvent {
			ev = r.Event
		}
	}
	want := &fleet.Event{Seq: 1, Code: "E-1", Description: "[private]: powder low", Severity: fleet.SeverityWarning, Time: t0,
		Details: "part [private] at x=10, file [private], job of [private]"}
	if diff := cmp.Diff(want, ev); diff != "" {
		t.Errorf("event (-want +got):\n%s", diff)
	}
	// The local history keeps what the printer said.
	local, err := f.st.Events(t.Context(), 0, 10)
	if err != nil || len(local) != 1 || local[0].Event.Description != "housing left: powder low" {
		t.Errorf("local events = %+v, %v; want the printer's own text", local, err)
	}
}

// A restarted gateway still scrubs the names it learnt before: they are
// loaded from the local jobs and the printers' latest status.
func TestScrubNamesSurviveRestart(t *testing.T) {
	st, path := openStore(t)
	clk := clock.NewManual(t0)
	net := &fakeNet{devices: map[string]*fakeDevice{}}
	dev := newFakeDevice("printer-000a")
	net.devices["printer-a:8443"] = dev
	if _, err := st.AddPrinter(t.Context(), "printer-a:8443", fpA, clk.Now()); err != nil {
		t.Fatal(err)
	}
	opts := PollerOptions{Interval: 5 * time.Second, Clock: clk, Resolver: sameNames{}}
	dev.set(func(d *fakeDevice) {
		d.status = printingStatus("job-9", 600) // CANARY-job-name, -user, -host: known from the status only
		d.jobs = []deviceapi.Job{scrubJob(1, "job-2", "Housing Left", "Gear Wheel")}
	})
	if err := NewPoller(st, net.dial, opts).PollOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st2, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st2.Close() })
	f := &pollerFixture{st: st2, clock: clk, net: net, p: NewPoller(st2, net.dial, opts)}
	f.drain(t)
	dev.set(func(d *fakeDevice) {
		d.status = deviceapi.Status{State: fleet.StateIdle, Activity: "idle", Time: t0}
		d.events = []fleet.Event{{Seq: 1, Code: "E-1", Severity: fleet.SeverityInfo, Time: t0,
			Description: "Gear Wheel of Housing Left unpacked by jdoe-job-2 on cad-job-2",
			Details:     "previous job canary-job-name by CANARY-job-user"}}
	})
	clk.Advance(20 * time.Second)
	pollOnce(t, f.p)
	text := recordText(t, f.drain(t))
	for _, name := range []string{"gear wheel", "housing left", "jdoe-job-2", "cad-job-2", "canary-job-name", "canary-job-user"} {
		if strings.Contains(strings.ToLower(text), name) {
			t.Errorf("after a restart, records name %q: %s", name, text)
		}
	}
	if !strings.Contains(text, "[private] of [private] unpacked by [private] on [private]") {
		t.Errorf("event text not scrubbed as expected: %s", text)
	}
}

// A record whose identifier holds a private name cannot be sent scrubbed
// (it would be invalid) nor as it is: it is withheld, and a gap says so.
func TestPollerWithholdsRecordsWithNamesInIdentifiers(t *testing.T) {
	f := newPollerFixture(t)
	dev, _ := f.add(t, "printer-a:8443", "printer-000a")
	dev.set(func(d *fakeDevice) {
		d.jobs = []deviceapi.Job{scrubJob(1, "Bracket-7", "Bracket", "Arm")}
		d.layers = []fleet.Layer{{Seq: 1, JobID: "Bracket-7", Index: 1, Start: t0, End: t0.Add(time.Second)}}
	})
	pollOnce(t, f.p)
	recs := f.drain(t)
	if strings.Contains(strings.ToLower(recordText(t, recs)), "bracket") {
		t.Errorf("records name the job: %s", recordText(t, recs))
	}
	var got []string
	for _, r := range recs {
		if r.Kind == fleet.KindGap {
			got = append(got, r.Gap.Feed+": "+r.Gap.Reason)
		}
	}
	want := []string{
		"jobs: job withheld: an identifier in it holds a private name",
		"jobs: part withheld: an identifier in it holds a private name",
		"layers: layer withheld: an identifier in it holds a private name",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("gaps (-want +got):\n%s", diff)
	}
	gaps, err := f.st.Gaps(t.Context(), 0, 10)
	if err != nil || len(gaps) != 3 {
		t.Errorf("local gaps = %+v, %v; want the 3 withheld records", gaps, err)
	}
}

// Without the site's names the poller must not collect: a corrupt local
// job fails polls and log requests as store errors, and nothing is
// appended until the row is repaired.
func TestPollerNeedsTheNamesToCollect(t *testing.T) {
	f := newPollerFixture(t)
	_, pr := f.add(t, "printer-a:8443", "printer-000a")
	pollOnce(t, f.p)
	f.drain(t)
	if _, err := f.st.db.Exec(`INSERT INTO jobs (printer, job_id, feed_seq, updated, job) VALUES (?, 'j1', 1, ?, '{not json')`,
		pr.ID, sqlitedb.FormatTime(t0)); err != nil {
		t.Fatal(err)
	}
	p := NewPoller(f.st, f.net.dial, PollerOptions{Interval: 5 * time.Second, Clock: f.clock, Resolver: sameNames{}})
	if err := p.PollOnce(t.Context()); err == nil || !strings.Contains(err.Error(), "load private names") {
		t.Errorf("PollOnce = %v, want the names' load error", err)
	}
	if _, err := p.RequestLogs(t.Context(), pr.ID, fleet.LogSensors, time.Time{}); err == nil ||
		!strings.Contains(err.Error(), "load private names") {
		t.Errorf("RequestLogs = %v, want the names' load error", err)
	}
	if n := len(pending(t, f.st)); n != 0 {
		t.Errorf("%d records appended without the names, want none", n)
	}
	if _, err := f.st.db.Exec(`UPDATE jobs SET job = ? WHERE job_id = 'j1'`, `{"id":"j1","private":{"name":"Old Job"}}`); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(5 * time.Second)
	pollOnce(t, p)
	if got := p.names.ScrubString("the Old Job"); got != "the [private]" {
		t.Errorf("names after the row was repaired: ScrubString = %q", got)
	}
}

func TestRecentPrivateNames(t *testing.T) {
	st, _ := openStore(t)
	ctx := t.Context()
	pr, err := st.AddPrinter(ctx, "printer-a:8443", fpA, t0)
	if err != nil {
		t.Fatal(err)
	}
	for i, j := range []deviceapi.Job{scrubJob(1, "j1", "First", "P1"), scrubJob(2, "j2", "Second"), scrubJob(3, "j3", "Third")} {
		err := st.Observe(ctx, pr.ID, Observation{Seen: t0.Add(time.Duration(i) * time.Minute),
			Status: deviceapi.Status{State: fleet.StatePrinting, Time: t0, Job: &deviceapi.CurrentJob{ID: "j4",
				Private: deviceapi.JobPrivate{Name: "Fourth", User: "u4", Host: "h4"}}},
			History: History{Jobs: []deviceapi.Job{j}}}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.recentPrivateNames(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Second", "jdoe-j2", "CAD-j2", "Third", "jdoe-j3", "CAD-j3", "Fourth", "u4", "h4"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("recentPrivateNames(2) (-want +got):\n%s", diff)
	}
	if _, err := st.db.Exec(`UPDATE printers SET status = '{bad'`); err != nil {
		t.Fatal(err)
	}
	if _, err := st.recentPrivateNames(ctx, 2); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("recentPrivateNames with a corrupt status = %v, want an error", err)
	}
}
