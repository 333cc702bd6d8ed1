package store

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
	"github.com/fusionfleet/fusionfleet/internal/storetest"
)

// The job history's filters are served by indexes on the big fleet, also
// the worst case: a status no job has, over the whole history.
func TestJobHistoryUsesIndexes(t *testing.T) {
	if testing.Short() {
		t.Skip("loads a large synthetic fleet")
	}
	forEachDialect(t, func(t *testing.T, dsn func(testing.TB) string) {
		ctx := t.Context()
		db := openDSN(t, dsn(t))
		org, p := loadFleet(t, db)
		site := fleet.SiteID(strings.Replace(string(org), "org_", "site_", 1))
		year := fleetquery.JobQuery{From: storetest.T0.AddDate(-1, 0, 0), To: storetest.T0, Limit: 51}
		perOrg := fleetPrinters / fleetOrgs * yearJobs(db) // jobs of the organisation
		with := func(f func(*fleetquery.JobQuery)) fleetquery.JobQuery { q := year; f(&q); return q }
		tests := []struct {
			name  string
			q     fleetquery.JobQuery
			index string // on SQLite; PostgreSQL's planner may pick another
			want  int
		}{
			{"all", fleetquery.JobQuery{Limit: 51}, "jobs_org_created", 51},
			{"status nobody has", with(func(q *fleetquery.JobQuery) { q.Status = fleet.JobFailed }), "jobs_org_status_created", 0},
			{"status", with(func(q *fleetquery.JobQuery) { q.Status = fleet.JobCompleted }), "jobs_org_status_created", 51},
			{"site", with(func(q *fleetquery.JobQuery) { q.Sites = []fleet.SiteID{site} }), "", 51},
			{"printer and status", with(func(q *fleetquery.JobQuery) { q.PrinterID, q.Status = p, fleet.JobCompleted }), "", yearJobs(db)},
			{"last page", with(func(q *fleetquery.JobQuery) { q.Offset = perOrg - 10 }), "jobs_org_created", 10},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				q, args := db.jobHistorySQL(org, tt.q)
				indexes := checkIndexed(t, db, q, args...)
				if db.dialect.kind == postgres && tt.name != "status nobody has" {
					tt.index = ""
				}
				if tt.index != "" && !slices.Contains(indexes, tt.index) {
					t.Errorf("plan uses indexes %q, want %q", indexes, tt.index)
				}
				began := time.Now()
				jobs, err := db.JobHistory(ctx, org, tt.q)
				took := time.Since(began)
				if err != nil || len(jobs) != tt.want {
					t.Errorf("JobHistory = %d jobs, %v; want %d", len(jobs), err, tt.want)
				}
				t.Logf("%v for %d jobs; indexes %q", took.Round(time.Microsecond), len(jobs), indexes)
			})
		}
	})
}
