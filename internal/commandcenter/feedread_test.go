package commandcenter

import (
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
)

func TestEventsAfterAndJobsSince(t *testing.T) {
	st, _ := openStore(t)
	ctx := t.Context()
	a, err := st.AddPrinter(ctx, "printer-a:8443", fpA, t0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.AddPrinter(ctx, "printer-b:8443", fpB, t0)
	if err != nil {
		t.Fatal(err)
	}
	if evs, end, err := st.EventsAfter(ctx, -1, 0); err != nil || len(evs) != 0 || end != 0 {
		t.Fatalf("EventsAfter(-1) of an empty history = %v, %d, %v; want none, 0", evs, end, err)
	}
	observe := func(id int64, at time.Duration, seqs []uint64, jobs ...deviceapi.Job) {
		t.Helper()
		h := History{Instance: "i1", Jobs: jobs}
		for _, s := range seqs {
			h.Events = append(h.Events, fleet.Event{Seq: s, Code: "E" + string(rune('0'+s)), Severity: fleet.SeverityInfo, Time: t0})
		}
		if err := st.Observe(ctx, id, Observation{Seen: t0.Add(at), Status: deviceapi.Status{State: fleet.StateIdle, Time: t0}, History: h}, nil); err != nil {
			t.Fatal(err)
		}
	}
	observe(a.ID, time.Minute, []uint64{1, 2}, scrubJob(1, "j1", "First"))
	observe(b.ID, 30*time.Second, []uint64{1}, scrubJob(1, "j2", "Second"))

	type ev struct {
		Printer int64
		Seq     uint64
	}
	events := func(after int64, limit int) ([]ev, int64) {
		t.Helper()
		evs, pos, err := st.EventsAfter(ctx, after, limit)
		if err != nil {
			t.Fatal(err)
		}
		var out []ev
		for _, e := range evs {
			out = append(out, ev{e.Printer, e.Event.Seq})
		}
		return out, pos
	}
	got, pos := events(0, 2)
	if diff := cmp.Diff([]ev{{a.ID, 1}, {a.ID, 2}}, got); diff != "" {
		t.Errorf("EventsAfter(0, 2) (-want +got):\n%s", diff)
	}
	got, pos = events(pos, 0)
	if diff := cmp.Diff([]ev{{b.ID, 1}}, got); diff != "" {
		t.Errorf("EventsAfter(%d) (-want +got):\n%s", pos, diff)
	}
	if _, end := events(-1, 0); end != pos {
		t.Errorf("EventsAfter(-1) end = %d, want %d (the last read)", end, pos)
	}
	if got, again := events(pos, 0); len(got) != 0 || again != pos {
		t.Errorf("EventsAfter(end) = %v, %d; want none, %d", got, again, pos)
	}
	observe(a.ID, 2*time.Minute, []uint64{3}, scrubJob(2, "j1", "First"))
	if got, _ := events(pos, 0); !cmp.Equal(got, []ev{{a.ID, 3}}) {
		t.Errorf("EventsAfter(%d) after a new poll = %v, want printer %d's event 3", pos, got, a.ID)
	}

	jobs, err := st.JobsSince(ctx, t0, 0)
	if err != nil {
		t.Fatal(err)
	}
	type job struct {
		Printer int64
		ID      string
		Seq     uint64
		Updated time.Time
	}
	var gotJobs []job
	for _, j := range jobs {
		gotJobs = append(gotJobs, job{j.Printer, j.Job.ID, j.Job.Seq, j.Updated})
	}
	want := []job{{b.ID, "j2", 1, t0.Add(30 * time.Second)}, {a.ID, "j1", 2, t0.Add(2 * time.Minute)}}
	if diff := cmp.Diff(want, gotJobs); diff != "" {
		t.Errorf("JobsSince (-want +got):\n%s", diff)
	}
	if jobs, err := st.JobsSince(ctx, t0.Add(time.Minute), 0); err != nil || len(jobs) != 1 || jobs[0].Job.Private.Name != "First" {
		t.Errorf("JobsSince(t0+1m) = %v, %v; want j1 with its name", jobs, err)
	}

	if _, err := st.db.Exec(`UPDATE events SET event = '{bad'`); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.EventsAfter(ctx, 0, 0); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("EventsAfter over a corrupt row = %v, want an error", err)
	}
	st.Close()
	if _, _, err := st.EventsAfter(ctx, -1, 0); err == nil {
		t.Error("EventsAfter(-1) on a closed store: no error")
	}
	if _, _, err := st.EventsAfter(ctx, 0, 0); err == nil {
		t.Error("EventsAfter on a closed store: no error")
	}
}
