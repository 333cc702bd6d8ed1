package storetest

import (
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
	"github.com/google/go-cmp/cmp"
)

// testJobHistory: the job history's filters, paging and site limit.
func testJobHistory(t *testing.T, db Store) {
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

	ids := func(jobs []fleetquery.PrinterJob) []string {
		var out []string
		for _, j := range jobs {
			out = append(out, string(j.PrinterID)+"/"+j.ID)
		}
		return out
	}
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
			if diff := cmp.Diff(tt.want, ids(got)); diff != "" {
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
func testJob(t *testing.T, db Store) {
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
