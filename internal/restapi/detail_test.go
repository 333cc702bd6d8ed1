package restapi

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
	"github.com/google/go-cmp/cmp"
)

// walkJob is the job every side's first printer has.
const walkJob = "job-walk"

// history gives printer p of org a job with two parts and three layers,
// consumables and counters snapshots 40, 10 and 1 days old, and events
// as old, all reported through the store's ingest.
func (f *fixture) history(t *testing.T, org fleet.OrgID, site fleet.SiteID, p fleet.PrinterID, job string) {
	t.Helper()
	var recs []fleet.Record
	add := func(r fleet.Record) {
		f.seq++
		r.Seq, r.PrinterID = f.seq, p
		if r.Time.IsZero() {
			r.Time = t0
		}
		recs = append(recs, r)
	}
	add(fleet.Record{Kind: fleet.KindJob, Job: &fleet.Job{ID: job, CreatedAt: t0.Add(-time.Hour), Status: fleet.JobCompleted,
		LayerCount: 3, LayersDone: 3, PartCount: 2, Material: "PA12"}})
	add(fleet.Record{Kind: fleet.KindJob, Job: &fleet.Job{ID: job + "-failed", CreatedAt: t0.Add(-2 * time.Hour), Status: fleet.JobFailed}})
	for _, id := range []string{"part-1", "part-2"} {
		add(fleet.Record{Kind: fleet.KindPart, Part: &fleet.Part{ID: id, JobID: job, CreatedAt: t0, Outcome: fleet.PartPass}})
	}
	for i := 1; i <= 3; i++ {
		start := t0.Add(-time.Hour + time.Duration(i)*time.Minute)
		add(fleet.Record{Kind: fleet.KindLayer, Layer: &fleet.Layer{Seq: uint64(i), JobID: job, Index: i, SizeMM2: 100,
			DurationSec: 9, Start: start, End: start.Add(9 * time.Second)}})
	}
	for _, days := range []int{40, 10, 1} {
		at := t0.AddDate(0, 0, -days)
		add(fleet.Record{Kind: fleet.KindConsumables, Time: at, Consumables: &fleet.Consumables{
			CleaningRoll: fleet.CleaningRoll{Status: "ok", UsagePercent: float64(100 - days)}, Time: at}})
		add(fleet.Record{Kind: fleet.KindCounters, Time: at, Counters: &fleet.Counters{FilterStatusPercent: float64(days), Time: at}})
		add(fleet.Record{Kind: fleet.KindEvent, Time: at, Event: &fleet.Event{Seq: uint64(days), Code: "E" + string(rune('A'+days%26)),
			Severity: fleet.SeverityWarning, Time: at}})
	}
	env := fleet.Envelope{OrgID: org, SiteID: site, GatewayID: fleet.GatewayID("gw_" + string(site)), Records: recs}
	if _, err := f.db.ApplyEnvelope(t.Context(), env); err != nil {
		t.Fatal(err)
	}
}

func TestDetailAPI(t *testing.T) {
	f := newFixture(t)
	a := f.a
	// A job at the second site, which the limited token may see.
	f.history(t, a.org, a.site2, a.printer+"-2", "job-second")
	base := "/api/v1/printers/" + string(a.printer)
	jobIDs := func(body string) any {
		var jobs []fleetquery.PrinterJob
		if err := json.Unmarshal([]byte(body), &jobs); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		ids := []string{}
		for _, j := range jobs {
			ids = append(ids, j.ID)
		}
		return ids
	}
	count := func(body string) any {
		var list []json.RawMessage
		if err := json.Unmarshal([]byte(body), &list); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		return len(list)
	}
	tests := []struct {
		name   string
		who    string
		path   string
		status int
		got    func(body string) any // what to compare with want
		want   any
	}{
		{"detail", "viewer", base + "/detail", 200, func(b string) any {
			var d fleetquery.PrinterDetail
			if err := json.Unmarshal([]byte(b), &d); err != nil {
				t.Fatal(err)
			}
			return []any{d.View.ID, d.Consumables.CleaningRoll.UsagePercent, d.Counters.FilterStatusPercent}
		}, []any{a.printer, 99.0, 1.0}},
		{"consumables, last 30 days", "viewer", base + "/consumables", 200, count, 2},
		{"consumables, a range", "viewer", base + "/consumables?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z", 200, count, 1},
		{"counters", "read", base + "/counters?from=2025-12-01T00:00:00Z", 200, count, 3},
		{"events", "viewer", base + "/events", 200, count, 2},
		{"events, limited", "viewer", base + "/events?limit=1", 200, count, 1},
		{"job with parts", "viewer", base + "/jobs/" + walkJob, 200, func(b string) any {
			var j jobJSON
			if err := json.Unmarshal([]byte(b), &j); err != nil {
				t.Fatal(err)
			}
			return []any{j.PrinterID, j.ID, j.Status, len(j.Parts)}
		}, []any{a.printer, walkJob, fleet.JobCompleted, 2}},
		{"layers", "viewer", base + "/jobs/" + walkJob + "/layers", 200, count, 3},
		{"job without layers", "viewer", base + "/jobs/" + walkJob + "-failed/layers", 200, func(b string) any { return b }, "[]\n"},
		{"all jobs", "viewer", "/api/v1/jobs", 200, jobIDs, []string{walkJob, "job-second", walkJob + "-failed", "job-second-failed"}},
		{"failed jobs", "viewer", "/api/v1/jobs?status=failed", 200, jobIDs, []string{walkJob + "-failed", "job-second-failed"}},
		{"a printer's jobs", "viewer", "/api/v1/jobs?printer=" + string(a.printer), 200, jobIDs, []string{walkJob, walkJob + "-failed"}},
		{"a site's jobs", "viewer", "/api/v1/jobs?site=" + string(a.site2), 200, jobIDs, []string{"job-second", "job-second-failed"}},
		{"a page", "viewer", "/api/v1/jobs?offset=1&limit=2", 200, jobIDs, []string{"job-second", walkJob + "-failed"}},
		{"a period", "viewer", "/api/v1/jobs?from=" + url.QueryEscape(t0.Add(-90*time.Minute).Format(time.RFC3339)), 200, jobIDs, []string{walkJob, "job-second"}},
		{"limited token", "limited", "/api/v1/jobs", 200, jobIDs, []string{"job-second", "job-second-failed"}},
		{"limited token, other site", "limited", "/api/v1/jobs?site=" + string(a.site), 200, jobIDs, []string{}},
		{"limited token, other site's printer", "limited", "/api/v1/jobs?printer=" + string(a.printer), 200, jobIDs, []string{}},
		{"other org's printer", "viewer", "/api/v1/jobs?printer=" + string(f.b.printer), 200, jobIDs, []string{}},
		{"other org's site", "viewer", "/api/v1/jobs?site=" + string(f.b.site), 200, jobIDs, []string{}},

		{"unknown job", "viewer", base + "/jobs/nope", 404, nil, nil},
		{"another printer's job", "viewer", base + "/jobs/job-second", 404, nil, nil},
		{"bad from", "viewer", base + "/consumables?from=yesterday", 400, nil, "RFC 3339"},
		{"range too long", "viewer", base + "/counters?from=2024-01-01T00:00:00Z", 400, nil, "366 days"},
		{"range reversed", "viewer", base + "/events?from=2026-03-01T00:00:00Z&to=2026-02-01T00:00:00Z", 400, nil, "before"},
		{"limit zero", "viewer", base + "/events?limit=0", 400, nil, "limit"},
		{"limit not a number", "viewer", "/api/v1/jobs?limit=many", 400, nil, "limit"},
		{"offset negative", "viewer", "/api/v1/jobs?offset=-1", 400, nil, "offset"},
		{"bad status", "viewer", "/api/v1/jobs?status=exploded", 400, nil, "status"},
		{"bad to", "viewer", "/api/v1/jobs?to=2026-03-01", 400, nil, "RFC 3339"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := f.do(t, "GET", tt.path, a.tokens[tt.who], "")
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			for _, c := range a.otherCanaries {
				if strings.Contains(body, c) {
					t.Errorf("answer names %q of the other organisation", c)
				}
			}
			if tt.got == nil {
				if msg, _ := tt.want.(string); !strings.Contains(body, msg) {
					t.Errorf("error %s does not mention %q", body, msg)
				}
				return
			}
			if diff := cmp.Diff(tt.want, tt.got(body)); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
}
