package storetest

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
	"github.com/google/go-cmp/cmp"
)

// PrinterReads reads an organisation's printers as they are now.
type PrinterReads interface {
	Printers(ctx context.Context, org fleet.OrgID) ([]fleet.PrinterView, error)
	PrinterDetail(ctx context.Context, org fleet.OrgID, p fleet.PrinterID) (fleetquery.PrinterDetail, error)
}

// JobReads reads an organisation's jobs, their parts and their layers.
type JobReads interface {
	Jobs(ctx context.Context, org fleet.OrgID, f fleetquery.JobFilter) ([]fleetquery.PrinterJob, error)
	JobHistory(ctx context.Context, org fleet.OrgID, q fleetquery.JobQuery) ([]fleetquery.PrinterJob, error)
	Job(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, job string) (fleet.Job, error)
	JobParts(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, job string) ([]fleet.Part, error)
	JobLayers(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, job string) ([]fleet.Layer, error)
}

// HistoryReads reads what a printer reported over time: counters and
// consumables, in full or as a trend of a few points, events and logs.
type HistoryReads interface {
	CountersHistory(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time) ([]fleet.Counters, error)
	ConsumablesHistory(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time) ([]fleet.Consumables, error)
	CountersTrend(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time, points int) ([]fleet.Counters, error)
	ConsumablesTrend(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time, points int) ([]fleet.Consumables, error)
	Events(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time, limit int) ([]fleet.Event, error)
	Logs(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, log fleet.LogKind, from, to time.Time, limit int) ([]fleet.LogLine, error)
}

// FleetStore is what RunFleetReads drives: the fleet reads, with
// organisations and ingest to fill them.
type FleetStore interface {
	PrinterReads
	JobReads
	HistoryReads
	Orgs
	Ingest
	io.Closer
}

// RunFleetReads runs the fleet reads contract against stores made by
// open: jobs and the job history with their filters and paging, one job,
// events, trends of counters and consumables, and no read ever showing
// another organisation's printer.
func RunFleetReads(t *testing.T, open func(t *testing.T) FleetStore) {
	runTests(t, open, []storeTest[FleetStore]{
		{"Jobs", testJobs},
		{"JobHistory", testJobHistory},
		{"Job", testJob},
		{"LayersReported", testLayersReported},
		{"Trend", testTrend},
		{"TenantIsolation", testTenantIsolation},
		{"Closed", testReadsClosed},
	})
}

func testJobs(t *testing.T, db FleetStore) {
	ctx := t.Context()
	org, site := tenant(t, db, "Acme")
	const p1, p2 = fleet.PrinterID("printer-0001"), fleet.PrinterID("printer-0002")
	var recs []fleet.Record
	for i := range 6 {
		p := p1
		if i%2 == 1 {
			p = p2
		}
		created := T0.Add(time.Duration(i) * 24 * time.Hour)
		recs = append(recs, JobRecord(uint64(i+1), p, "job-"+string(rune('a'+i)), fleet.JobCompleted, created, created))
	}
	apply(t, db, Env(org, site, "gw", recs...), 6)
	tests := []struct {
		name string
		f    fleetquery.JobFilter
		want []string
	}{
		{"all", fleetquery.JobFilter{}, []string{"printer-0002/job-f", "printer-0001/job-e", "printer-0002/job-d",
			"printer-0001/job-c", "printer-0002/job-b", "printer-0001/job-a"}},
		{"printer", fleetquery.JobFilter{PrinterID: p1}, []string{"printer-0001/job-e", "printer-0001/job-c", "printer-0001/job-a"}},
		{"range", fleetquery.JobFilter{From: T0.Add(24 * time.Hour), To: T0.Add(3 * 24 * time.Hour)},
			[]string{"printer-0001/job-c", "printer-0002/job-b"}},
		{"limit", fleetquery.JobFilter{Limit: 2}, []string{"printer-0002/job-f", "printer-0001/job-e"}},
		{"unknown printer", fleetquery.JobFilter{PrinterID: "printer-9999"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.Jobs(ctx, org, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, jobIDs(got)); diff != "" {
				t.Errorf("Jobs (-want +got):\n%s", diff)
			}
		})
	}
	events := []fleet.Record{EventRecord(10, p1, "E1", T0), EventRecord(11, p1, "E2", T0.Add(time.Minute)), EventRecord(12, p1, "E3", T0.Add(2*time.Minute))}
	apply(t, db, Env(org, site, "gw", events...), 3)
	got, err := db.Events(ctx, org, p1, T0.Add(time.Second), time.Time{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]fleet.Event{*events[2].Event}, got); diff != "" {
		t.Errorf("Events limit 1 (-want +got):\n%s", diff)
	}
}

func testTenantIsolation(t *testing.T, db FleetStore) {
	ctx := t.Context()
	orgA, siteA := tenant(t, db, "A")
	orgB, _ := tenant(t, db, "B")
	const p = fleet.PrinterID("printer-aaaa")
	apply(t, db, Env(orgA, siteA, "gw", IdentityRecord(1, p, "A1", T0), StatusRecord(2, p, fleet.StateIdle, T0),
		JobRecord(3, p, "job-1", fleet.JobPrinting, T0, T0), PartRecord(4, p, "job-1", "part-1", fleet.PartPass, T0),
		LayerRecord(5, p, "job-1", 1, T0), CountersRecord(6, p, 1, T0), ConsumablesRecord(7, p, 1, T0),
		EventRecord(8, p, "E", T0), LogRecord(9, p, fleet.LogSession, "x", T0)), 9)
	open := time.Time{}
	notFound := []errCase{
		{"PrinterDetail", func() error { _, err := db.PrinterDetail(ctx, orgB, p); return err }, fleet.ErrNotFound},
		{"JobParts", func() error { _, err := db.JobParts(ctx, orgB, p, "job-1"); return err }, fleet.ErrNotFound},
		{"JobLayers", func() error { _, err := db.JobLayers(ctx, orgB, p, "job-1"); return err }, fleet.ErrNotFound},
		{"CountersHistory", func() error { _, err := db.CountersHistory(ctx, orgB, p, open, open); return err }, fleet.ErrNotFound},
		{"ConsumablesHistory", func() error { _, err := db.ConsumablesHistory(ctx, orgB, p, open, open); return err }, fleet.ErrNotFound},
		{"Events", func() error { _, err := db.Events(ctx, orgB, p, open, open, 0); return err }, fleet.ErrNotFound},
		{"Logs", func() error { _, err := db.Logs(ctx, orgB, p, fleet.LogSession, open, open, 0); return err }, fleet.ErrNotFound},
		{"unknown printer", func() error { _, err := db.PrinterDetail(ctx, orgA, "printer-none"); return err }, fleet.ErrNotFound},
	}
	checkErrs(t, notFound)
	if got, err := db.Printers(ctx, orgB); err != nil || len(got) != 0 {
		t.Errorf("Printers(B) = %v, %v; want none", got, err)
	}
	for _, f := range []fleetquery.JobFilter{{}, {PrinterID: p}} {
		if got, err := db.Jobs(ctx, orgB, f); err != nil || len(got) != 0 {
			t.Errorf("Jobs(B, %+v) = %v, %v; want none", f, got, err)
		}
	}
	// A sees all of it.
	if got, err := db.Jobs(ctx, orgA, fleetquery.JobFilter{PrinterID: p}); err != nil || len(got) != 1 {
		t.Errorf("Jobs(A) = %v, %v; want one", got, err)
	}
}

// testJobHistory: the job history's filters, paging and site limit.
func testJobHistory(t *testing.T, db FleetStore) {
	ctx := t.Context()
	org, site1 := tenant(t, db, "Acme")
	site2, err := db.CreateSite(ctx, org, "Acme second plant")
	if err != nil {
		t.Fatal(err)
	}
	other, otherSite := tenant(t, db, "Other")
	const p1, p2 = fleet.PrinterID("printer-0001"), fleet.PrinterID("printer-0002")
	statuses := []fleet.JobStatus{fleet.JobCompleted, fleet.JobFailed, fleet.JobCompleted, fleet.JobPrinting}
	var recs1, recs2 []fleet.Record
	for i, st := range statuses {
		created := T0.Add(time.Duration(i) * time.Hour)
		id := "job-" + string(rune('a'+i))
		if i%2 == 0 {
			recs1 = append(recs1, JobRecord(uint64(i+1), p1, id, st, created, created))
		} else {
			recs2 = append(recs2, JobRecord(uint64(i+1), p2, id, st, created, created))
		}
	}
	apply(t, db, Env(org, site1, "gw_1", recs1...), 2)
	apply(t, db, Env(org, site2, "gw_2", recs2...), 2)
	apply(t, db, Env(other, otherSite, "gw_3", JobRecord(1, "printer-0003", "job-x", fleet.JobCompleted, T0, T0)), 1)

	tests := []struct {
		name string
		q    fleetquery.JobQuery
		want []string
	}{
		{"all", fleetquery.JobQuery{}, []string{"printer-0002/job-d", "printer-0001/job-c", "printer-0002/job-b", "printer-0001/job-a"}},
		{"printer", fleetquery.JobQuery{PrinterID: p1}, []string{"printer-0001/job-c", "printer-0001/job-a"}},
		{"site", fleetquery.JobQuery{Sites: []fleet.SiteID{site2}}, []string{"printer-0002/job-d", "printer-0002/job-b"}},
		{"both sites", fleetquery.JobQuery{Sites: []fleet.SiteID{site1, site2}, Limit: 1}, []string{"printer-0002/job-d"}},
		{"no sites", fleetquery.JobQuery{Sites: []fleet.SiteID{}}, nil},
		{"other org's site", fleetquery.JobQuery{Sites: []fleet.SiteID{otherSite}}, nil},
		{"site and printer elsewhere", fleetquery.JobQuery{Sites: []fleet.SiteID{site1}, PrinterID: p2}, nil},
		{"status", fleetquery.JobQuery{Status: fleet.JobCompleted}, []string{"printer-0001/job-c", "printer-0001/job-a"}},
		{"status none", fleetquery.JobQuery{Status: fleet.JobCancelled}, nil},
		{"period", fleetquery.JobQuery{From: T0.Add(time.Hour), To: T0.Add(3 * time.Hour)},
			[]string{"printer-0001/job-c", "printer-0002/job-b"}},
		{"page 1", fleetquery.JobQuery{Limit: 3}, []string{"printer-0002/job-d", "printer-0001/job-c", "printer-0002/job-b"}},
		{"page 2", fleetquery.JobQuery{Limit: 3, Offset: 3}, []string{"printer-0001/job-a"}},
		{"past the end", fleetquery.JobQuery{Offset: 4}, nil},
		{"negative offset", fleetquery.JobQuery{Offset: -5, Limit: 1}, []string{"printer-0002/job-d"}},
		{"all filters", fleetquery.JobQuery{PrinterID: p2, Sites: []fleet.SiteID{site2}, Status: fleet.JobFailed,
			From: T0, To: T0.Add(24 * time.Hour)}, []string{"printer-0002/job-b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.JobHistory(ctx, org, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, jobIDs(got)); diff != "" {
				t.Errorf("JobHistory (-want +got):\n%s", diff)
			}
		})
	}
	// The whole job comes back, as stored.
	got, err := db.JobHistory(ctx, org, fleetquery.JobQuery{PrinterID: p2, Status: fleet.JobFailed})
	if err != nil || len(got) != 1 {
		t.Fatalf("JobHistory = %v, %v", got, err)
	}
	if diff := cmp.Diff(*recs2[0].Job, got[0].Job); diff != "" {
		t.Errorf("job (-want +got):\n%s", diff)
	}
	if got, err := db.JobHistory(ctx, other, fleetquery.JobQuery{PrinterID: p1}); err != nil || len(got) != 0 {
		t.Errorf("JobHistory(other org, A's printer) = %v, %v; want none", got, err)
	}
}

// testJob: one job by printer and ID, never another organisation's.
func testJob(t *testing.T, db FleetStore) {
	ctx := t.Context()
	org, site := tenant(t, db, "Acme")
	other, _ := tenant(t, db, "Other")
	const p = fleet.PrinterID("printer-0001")
	first := JobRecord(1, p, "job-a", fleet.JobPrinting, T0, T0)
	apply(t, db, Env(org, site, "gw", first, JobRecord(2, p, "job-b", fleet.JobCompleted, T0, T0)), 2)
	// A newer report of the job wins.
	newer := JobRecord(3, p, "job-a", fleet.JobCompleted, T0, T0.Add(time.Hour))
	apply(t, db, Env(org, site, "gw", newer), 1)
	got, err := db.Job(ctx, org, p, "job-a")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(*newer.Job, got); diff != "" {
		t.Errorf("Job (-want +got):\n%s", diff)
	}
	checkErrs(t, []errCase{
		{"other org", func() error { _, err := db.Job(ctx, other, p, "job-a"); return err }, fleet.ErrNotFound},
		{"unknown job", func() error { _, err := db.Job(ctx, org, p, "job-z"); return err }, fleet.ErrNotFound},
		{"job of another printer", func() error { _, err := db.Job(ctx, org, "printer-0002", "job-a"); return err }, fleet.ErrNotFound},
	})
}

// testLayersReported: a printing job counts the layers its printer
// reported since the job's last report (which said none were done), in
// the job lists and alone, never beyond its layer count; a job no longer
// printing keeps what its last report said.
func testLayersReported(t *testing.T, db FleetStore) {
	ctx := t.Context()
	org, site := tenant(t, db, "Acme")
	const p = fleet.PrinterID("printer-0001")
	printing := JobRecord(1, p, "job-a", fleet.JobPrinting, T0, T0)
	printing.Job.LayersDone, printing.Job.LayerCount = 0, 4
	done := JobRecord(2, p, "job-b", fleet.JobCompleted, T0.Add(-time.Hour), T0)
	apply(t, db, Env(org, site, "gw", printing, done,
		LayerRecord(3, p, "job-a", 1, T0.Add(time.Minute)), LayerRecord(4, p, "job-a", 2, T0.Add(2*time.Minute)),
		LayerRecord(5, p, "job-a", 3, T0.Add(3*time.Minute)), LayerRecord(6, p, "job-b", 1, T0)), 6)
	layersDone := func(jobs []fleetquery.PrinterJob) map[string]int {
		out := map[string]int{}
		for _, j := range jobs {
			out[j.Job.ID] = j.Job.LayersDone
		}
		return out
	}
	want := map[string]int{"job-a": 3, "job-b": done.Job.LayersDone}
	jobs, err := db.Jobs(ctx, org, fleetquery.JobFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, layersDone(jobs)); diff != "" {
		t.Errorf("Jobs: layers done (-want +got):\n%s", diff)
	}
	hist, err := db.JobHistory(ctx, org, fleetquery.JobQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, layersDone(hist)); diff != "" {
		t.Errorf("JobHistory: layers done (-want +got):\n%s", diff)
	}
	// More layers than the job said it has: capped, so the job stays valid.
	apply(t, db, Env(org, site, "gw", LayerRecord(7, p, "job-a", 4, T0.Add(4*time.Minute)), LayerRecord(8, p, "job-a", 5, T0.Add(5*time.Minute))), 2)
	got, err := db.Job(ctx, org, p, "job-a")
	if err != nil {
		t.Fatal(err)
	}
	if got.LayersDone != 4 {
		t.Errorf("Job: %d layers done, want the 4 it has", got.LayersDone)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("Job with layers reported: %v", err)
	}
}

// testTrend: a day of snapshots every 5 minutes, read as 24 points, is
// the last snapshot of each hour; fewer snapshots than points come back
// all; another organisation's printer is not found; a range without
// bounds is refused.
func testTrend(t *testing.T, db FleetStore) {
	ctx := t.Context()
	org, site := tenant(t, db, "Acme")
	other, _ := tenant(t, db, "Other")
	p := fleet.PrinterID("printer-trend-1")
	var recs []fleet.Record
	var cons []fleet.Consumables
	var counters []fleet.Counters
	for i := range 24 * 12 {
		at := T0.Add(time.Duration(i) * 5 * time.Minute)
		c := ConsumablesRecord(uint64(2*i+1), p, float64(i)/10, at)
		n := CountersRecord(uint64(2*i+2), p, int64(i+1), at)
		recs = append(recs, c, n)
		cons, counters = append(cons, *c.Consumables), append(counters, *n.Counters)
	}
	if _, err := db.ApplyEnvelope(ctx, Env(org, site, "gw_trend", recs...)); err != nil {
		t.Fatal(err)
	}
	var wantCons []fleet.Consumables
	var wantCounters []fleet.Counters
	for h := range 24 {
		wantCons = append(wantCons, cons[h*12+11])
		wantCounters = append(wantCounters, counters[h*12+11])
	}
	day := T0.Add(24 * time.Hour)
	gotCons, err := db.ConsumablesTrend(ctx, org, p, T0, day, 24)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantCons, gotCons); diff != "" {
		t.Errorf("ConsumablesTrend of a day in 24 points (-want +got):\n%s", diff)
	}
	gotCounters, err := db.CountersTrend(ctx, org, p, T0, day, 24)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantCounters, gotCounters); diff != "" {
		t.Errorf("CountersTrend of a day in 24 points (-want +got):\n%s", diff)
	}
	// An hour in 1000 points: every snapshot of the hour, in order.
	gotCons, err = db.ConsumablesTrend(ctx, org, p, T0.Add(time.Hour), T0.Add(2*time.Hour), 1000)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(cons[12:24], gotCons); diff != "" {
		t.Errorf("ConsumablesTrend of an hour in 1000 points (-want +got):\n%s", diff)
	}
	// A range before any snapshot is empty.
	if got, err := db.CountersTrend(ctx, org, p, T0.Add(-time.Hour), T0, 10); err != nil || len(got) != 0 {
		t.Errorf("CountersTrend before the first snapshot = %v, %v; want none", got, err)
	}
	if _, err := db.ConsumablesTrend(ctx, other, p, T0, day, 24); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("ConsumablesTrend of another org's printer: err = %v, want ErrNotFound", err)
	}
	if _, err := db.CountersTrend(ctx, org, p, time.Time{}, day, 24); err == nil {
		t.Error("CountersTrend without a start: no error")
	}
	if _, err := db.ConsumablesTrend(ctx, org, p, T0, day, 0); err == nil {
		t.Error("ConsumablesTrend of 0 points: no error")
	}
}

// jobIDs names each job printer/job.
func jobIDs(jobs []fleetquery.PrinterJob) []string {
	var out []string
	for _, j := range jobs {
		out = append(out, string(j.PrinterID)+"/"+j.ID)
	}
	return out
}

// testReadsClosed: a new organisation has no printers; once closed, the
// store fails every read rather than answer "none" or "not found".
func testReadsClosed(t *testing.T, db FleetStore) {
	ctx := t.Context()
	org, _ := tenant(t, db, "A")
	if got, err := db.Printers(ctx, org); err != nil || len(got) != 0 {
		t.Errorf("Printers of new org = %v, %v; want none", got, err)
	}
	const p = fleet.PrinterID("printer-aaaa")
	open := time.Time{}
	checkClosed(t, db, []closedCall{
		{"Printers", func() error { _, err := db.Printers(ctx, org); return err }},
		{"PrinterDetail", func() error { _, err := db.PrinterDetail(ctx, org, p); return err }},
		{"Jobs", func() error { _, err := db.Jobs(ctx, org, fleetquery.JobFilter{}); return err }},
		{"JobHistory", func() error { _, err := db.JobHistory(ctx, org, fleetquery.JobQuery{}); return err }},
		{"Job", func() error { _, err := db.Job(ctx, org, p, "job-1"); return err }},
		{"JobParts", func() error { _, err := db.JobParts(ctx, org, p, "job-1"); return err }},
		{"JobLayers", func() error { _, err := db.JobLayers(ctx, org, p, "job-1"); return err }},
		{"CountersHistory", func() error { _, err := db.CountersHistory(ctx, org, p, open, open); return err }},
		{"ConsumablesHistory", func() error { _, err := db.ConsumablesHistory(ctx, org, p, open, open); return err }},
		{"CountersTrend", func() error { _, err := db.CountersTrend(ctx, org, p, T0, T0.Add(time.Hour), 10); return err }},
		{"ConsumablesTrend", func() error { _, err := db.ConsumablesTrend(ctx, org, p, T0, T0.Add(time.Hour), 10); return err }},
		{"Events", func() error { _, err := db.Events(ctx, org, p, open, open, 0); return err }},
		{"Logs", func() error { _, err := db.Logs(ctx, org, p, fleet.LogSession, open, open, 0); return err }},
	})
}
