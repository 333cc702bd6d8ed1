package dashboard

import (
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/alert"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
	"github.com/fusionfleet/fusionfleet/internal/i18n"
	"github.com/google/go-cmp/cmp"
)

// apply sends records of printers at site through the store's ingest, as
// a gateway would, numbering them after the fixture's records.
func (f *fixture) apply(t *testing.T, org fleet.OrgID, site fleet.SiteID, recs ...fleet.Record) {
	t.Helper()
	for i := range recs {
		f.seq++
		recs[i].Seq = f.seq
	}
	env := fleet.Envelope{OrgID: org, SiteID: site, GatewayID: fleet.GatewayID("gw_" + string(site)), Records: recs}
	if _, err := f.db.ApplyEnvelope(t.Context(), env); err != nil {
		t.Fatal(err)
	}
}

// jobRecord is a report of job id of printer p.
func jobRecord(p fleet.PrinterID, id string, st fleet.JobStatus, created time.Time) fleet.Record {
	return fleet.Record{Kind: fleet.KindJob, PrinterID: p, Time: created, Job: &fleet.Job{
		ID: id, CreatedAt: created, StartedAt: created.Add(time.Minute), SourceApp: "Build Manager 5.1",
		BoundingBox: fleet.Box{Max: fleet.Vec3{X: 380, Y: 284, Z: 120}}, VolumeCM3: 812.5, Density: 0.12,
		LayerCount: 1500, LayersDone: 750, LayerThicknessMM: 0.08, Material: "PA12", PrintMode: "balanced",
		ParameterSet: "PA12-balanced", BuildUnitID: "BU-7", Status: st, PartCount: 2,
		Warnings: []fleet.JobWarning{{ID: "w1", Message: "Lamp 2 weak", Severity: fleet.SeverityWarning, Time: created}},
		SubJobs: []fleet.SubJob{{Kind: "printing", Status: "running", CompletionPercent: 50, DurationSec: 3600, Start: created},
			{Kind: "cooling", Status: "pending"}},
	}}
}

// addJob stores one job of printer p.
func (f *fixture) addJob(t *testing.T, org fleet.OrgID, site fleet.SiteID, p fleet.PrinterID, id string, st fleet.JobStatus, created time.Time) {
	t.Helper()
	f.apply(t, org, site, jobRecord(p, id, st, created))
}

func consumablesRecord(p fleet.PrinterID, at time.Time, level, roll float64) fleet.Record {
	return fleet.Record{Kind: fleet.KindConsumables, PrinterID: p, Time: at, Consumables: &fleet.Consumables{
		CleaningRoll: fleet.CleaningRoll{Status: "ok", UsagePercent: roll},
		Agents:       []fleet.AgentSupply{{Agent: "fusing", SupplyStatus: "ok", SupplyLevelPercent: level, UsedCC: 300}},
		Printheads: []fleet.Printhead{{Slot: 1, Status: "degraded", SerialNumber: "PH-SN-1", UsageHours: 400 - level,
			RecoveryLevel: 2, WarrantyEnd: t0.AddDate(0, 0, 100), WarrantyStatus: "in warranty"}},
		BuildUnits: fleet.BuildUnits{TotalInserts: 9, Installed: &fleet.BuildUnit{SerialNumber: "BU-7", Status: "printing",
			Material: "PA12", MaterialKG: 21.5, RecycledPercent: 80}},
		Lamps: []fleet.Lamp{{Position: "fusing-1", Hours: 812, IntensityPercent: level, Status: "ok"}},
		Time:  at,
	}}
}

// fillPrinterA gives printer-a001 a full identity, consumables and
// counters over three weeks, two jobs with parts and layers, and events.
func (f *fixture) fillPrinterA(t *testing.T) {
	t.Helper()
	const p = fleet.PrinterID("printer-a001")
	now := f.clock.Now()
	recs := []fleet.Record{
		{Kind: fleet.KindIdentity, PrinterID: p, Time: now, Identity: &fleet.Identity{PrinterID: p, Name: "3DP 1",
			Model: "FF-4200", ModelNumber: "M0P44A", SerialNumber: "SN1", Firmware: "4.2.1", ParameterSet: "PA12-balanced",
			Size: "380x284x380 mm"}},
		consumablesRecord(p, now.AddDate(0, 0, -20), 90, 10),
		consumablesRecord(p, now.AddDate(0, 0, -10), 70, 20),
		consumablesRecord(p, now.Add(-time.Hour), 50, 30),
		{Kind: fleet.KindCounters, PrinterID: p, Time: now.Add(-time.Hour), Counters: &fleet.Counters{
			TotalJobs: 12, FilterStatusPercent: 60, Time: now.Add(-time.Hour)}},
		jobRecord(p, "job0", fleet.JobCompleted, now.Add(-24*time.Hour)),
		jobRecord(p, "job1", fleet.JobPrinting, now.Add(-2*time.Hour)),
		{Kind: fleet.KindEvent, PrinterID: p, Time: now.Add(-2 * time.Hour), Event: &fleet.Event{Seq: 1, Code: "LAMP-WEAK",
			Description: "Fusing lamp weak", Severity: fleet.SeverityWarning, Time: now.Add(-2 * time.Hour)}},
		{Kind: fleet.KindEvent, PrinterID: p, Time: now.AddDate(0, 0, -40), Event: &fleet.Event{Seq: 2, Code: "OLD-EVENT",
			Description: "Long ago", Severity: fleet.SeverityError, Time: now.AddDate(0, 0, -40)}},
	}
	for i, o := range []fleet.PartOutcome{fleet.PartPass, fleet.PartPorosity} {
		at := now.Add(-2 * time.Hour)
		recs = append(recs, fleet.Record{Kind: fleet.KindPart, PrinterID: p, Time: at, Part: &fleet.Part{
			ID: "part-" + strconv.Itoa(i), JobID: "job1", CreatedAt: at, VolumeCM3: 6.8, MaterialG: 7.1, Outcome: o,
			CompletionDetails: "inspected"}})
	}
	for i := 1; i <= 3; i++ {
		start := now.Add(-time.Hour + time.Duration(i)*10*time.Second)
		recs = append(recs, fleet.Record{Kind: fleet.KindLayer, PrinterID: p, Time: start, Layer: &fleet.Layer{
			Seq: uint64(i), JobID: "job1", Index: i, SizeMM2: 1000 * float64(i), DurationSec: 8 + float64(i),
			Start: start, End: start.Add(time.Duration(8+i) * time.Second)}})
	}
	f.apply(t, f.orgA, f.siteA, recs...)
}

// getAs fetches path with a fresh session of user, in language lang.
func (f *fixture) getAs(t *testing.T, user fleet.UserID, path, lang string) (*http.Response, string) {
	t.Helper()
	token, _ := f.sessionFor(t, user, f.clock.Now().Add(time.Hour))
	req := f.walkRequest(t, http.MethodGet, path)
	req.AddCookie(&http.Cookie{Name: "ff_session", Value: token})
	if lang != "" {
		req.Header.Set("Accept-Language", lang)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func (f *fixture) user(t *testing.T, name string) fleet.UserID {
	t.Helper()
	u, _, err := f.db.UserByName(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

func TestPrinterPage(t *testing.T) {
	f := newFixture(t)
	f.fillPrinterA(t)
	f.seedAlert(t, f.orgA, f.siteA, "printer-a001", alert.RuleLamp, fleet.SeverityWarning, "Lamp weak or failed")
	f.seedAlert(t, f.orgB, f.siteB, "printer-b001", alert.RuleLamp, fleet.SeverityError, "Printer reports an error")
	ada := f.user(t, "ada")
	tests := []struct {
		name, path, lang string
		status           int
		want, notWant    []string
		plots            int
	}{
		{"default period", "/printers/printer-a001", "", 200,
			[]string{"3DP 1", "M0P44A", "SN1", "4.2.1", "PA12-balanced", "Powered on, printing", "Aachen",
				"Agents", "fusing", "Degraded", "PH-SN-1", "until 2026-06-09", "Cleaning roll", "30 %", "60 %",
				"fusing-1", "PA12", "80\u00a0%", `href="/printers/printer-a001/jobs/job1"`, `href="/printers/printer-a001/jobs/job0"`,
				"Printing", "Completed", "3 layers reported", "LAMP-WEAK", "Fusing lamp weak", `href="/jobs?printer=printer-a001"`,
				"Lamp weak or failed", "still active"},
			[]string{"OLD-EVENT", "B&#39;s printer", "printer-b001", "Printer reports an error"}, 8},
		{"a year", "/printers/printer-a001?period=365d", "", 200, []string{"OLD-EVENT", `<option value="365d" selected>`}, nil, 8},
		{"German", "/printers/printer-a001", "de-DE", 200,
			[]string{"Verbrauchsmaterial", "Druckköpfe", "Beeinträchtigt", "Letzte Ereignisse", "Füllstände der Agenzien"}, nil, 8},
		{"bad period", "/printers/printer-a001?period=2w", "", 400, []string{"Unknown period"}, nil, 0},
		{"unknown printer", "/printers/printer-none", "", 404, []string{"No such printer"}, nil, 0},
		{"other organisation's printer", "/printers/printer-b001", "", 404, []string{"No such printer"},
			[]string{"printer-b001", "B&#39;s printer"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.getAs(t, ada, tt.path, tt.lang)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, tt.status, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(body, w) {
					t.Errorf("page shows %q", w)
				}
			}
			if got := strings.Count(body, `<svg class="plot plot-wide"`); got != tt.plots {
				t.Errorf("%d plots, want %d", got, tt.plots)
			}
		})
	}
}

// A printer without any reports but its status still has a page.
func TestPrinterPageEmpty(t *testing.T) {
	f := newFixture(t)
	resp, body := f.getAs(t, f.user(t, "ada"), "/printers/printer-a001", "")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d\n%s", resp.StatusCode, body)
	}
	for _, w := range []string{"No consumables report received yet.", "No jobs yet.", "No events in this period.", "No data in this period"} {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

func TestJobPage(t *testing.T) {
	f := newFixture(t)
	f.fillPrinterA(t)
	f.addJob(t, f.orgB, f.siteB, "printer-b001", "job-b1", fleet.JobFailed, t0)
	ada, bob := f.user(t, "ada"), f.user(t, "bob")
	tests := []struct {
		name   string
		user   fleet.UserID
		path   string
		status int
		want   []string
	}{
		{"own job", ada, "/printers/printer-a001/jobs/job1", 200, []string{"Job job1", "Printing", "3DP 1", "Aachen",
			"PA12-balanced", "BU-7", "12.0\u00a0%", "Lamp 2 weak", "printing", "running", "60\u00a0min", "Pass: 1", "Porosity: 1",
			"part-0", "part-1", "Summary of 3 layers", "11.0\u00a0s", "layer 3", "6000\u00a0mm²"}},
		{"job without parts and layers", ada, "/printers/printer-a001/jobs/job0", 200, []string{"Completed", "No parts reported.", "No layers reported."}},
		{"unknown job", ada, "/printers/printer-a001/jobs/nope", 404, []string{"No such job"}},
		{"own printer, other org's job", ada, "/printers/printer-a001/jobs/job-b1", 404, []string{"No such job"}},
		{"other org's printer and job", ada, "/printers/printer-b001/jobs/job-b1", 404, []string{"No such job"}},
		{"the other org sees its own", bob, "/printers/printer-b001/jobs/job-b1", 200, []string{"Failed"}},
		{"other org's job of own printer", bob, "/printers/printer-a001/jobs/job1", 404, []string{"No such job"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.getAs(t, tt.user, tt.path, "")
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, tt.status, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			if tt.status == 404 && (strings.Contains(body, "job-b1") || strings.Contains(body, "job1")) {
				t.Error("404 page names the job")
			}
		})
	}
	_, body := f.getAs(t, ada, "/printers/printer-a001/jobs/job1", "")
	if got := strings.Count(body, `<svg class="plot plot-wide"`); got != 2 {
		t.Errorf("%d layer plots, want 2", got)
	}
}

// jobIDs are the job links of a jobs page, in order.
func jobIDs(body string) []string {
	var out []string
	for _, part := range strings.Split(body, `/jobs/`)[1:] {
		if end := strings.IndexByte(part, '"'); end > 0 {
			out = append(out, part[:end])
		}
	}
	return out
}

func TestJobsPage(t *testing.T) {
	f := newFixture(t)
	f.fillPrinterA(t)
	f.addJob(t, f.orgA, f.siteA, "printer-a001", "job-old", fleet.JobFailed, t0.AddDate(0, 0, -10))
	f.addJob(t, f.orgB, f.siteB, "printer-b001", "job-b1", fleet.JobCompleted, t0)
	ada := f.user(t, "ada")
	tests := []struct {
		name   string
		query  string
		status int
		want   []string // job IDs, or the message of a refused filter
	}{
		{"all", "", 200, []string{"job1", "job0", "job-old"}},
		{"status", "?status=failed", 200, []string{"job-old"}},
		{"printer", "?printer=printer-a001", 200, []string{"job1", "job0", "job-old"}},
		{"site", "?site=" + string(f.siteA), 200, []string{"job1", "job0", "job-old"}},
		{"period", "?from=2026-02-19&to=2026-02-28", 200, []string{"job0", "job-old"}},
		{"one day", "?from=2026-02-19&to=2026-02-19", 200, []string{"job-old"}},
		{"nothing", "?status=queued", 200, nil},
		{"bad date", "?from=2026-13-01", 400, []string{"Dates must be written as year-month-day"}},
		{"bad to", "?to=yesterday", 400, []string{"Dates must be written as year-month-day"}},
		{"reversed period", "?from=2026-03-01&to=2026-02-01", 400, []string{"The first day must not be after the last day."}},
		{"bad status", "?status=exploded", 400, []string{"Unknown job status"}},
		{"bad page", "?page=0", 400, []string{"The page must be a whole number"}},
		{"page not a number", "?page=two", 400, []string{"The page must be a whole number"}},
		{"page too deep", "?page=999999", 400, []string{"The page must be a whole number"}},
		{"other org's printer", "?printer=printer-b001", 400, []string{"Unknown printer"}},
		{"other org's site", "?site=" + string(f.siteB), 400, []string{"Unknown site"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.getAs(t, ada, "/jobs"+tt.query, "")
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, tt.status, body)
			}
			if strings.Contains(body, "job-b1") || strings.Contains(body, "printer-b001\"") {
				t.Error("page shows the other organisation's job")
			}
			if tt.status != 200 {
				if !strings.Contains(body, tt.want[0]) || !strings.Contains(body, `role="alert"`) {
					t.Errorf("page lacks the message %q", tt.want[0])
				}
				return
			}
			if diff := cmp.Diff(tt.want, jobIDs(body)); diff != "" {
				t.Errorf("jobs (-want +got):\n%s", diff)
			}
		})
	}
	_, body := f.getAs(t, ada, "/jobs?status=exploded", "de")
	if !strings.Contains(body, "Unbekannter Auftragsstatus") {
		t.Error("the message is not in German")
	}
	_, body = f.getAs(t, ada, "/jobs?status=failed&from=2026-02-01", "")
	if !strings.Contains(body, `href="/jobs.csv?from=2026-02-01&amp;status=failed"`) {
		t.Error("the CSV link does not carry the filters")
	}
}

func TestJobsPaging(t *testing.T) {
	f := newFixture(t)
	var recs []fleet.Record
	for i := range jobsPerPage + 5 {
		recs = append(recs, jobRecord("printer-a001", "job-"+strconv.Itoa(1000+i), fleet.JobCompleted, t0.Add(-time.Duration(i)*time.Hour)))
	}
	f.apply(t, f.orgA, f.siteA, recs...)
	ada := f.user(t, "ada")
	_, body := f.getAs(t, ada, "/jobs?status=completed", "")
	ids := jobIDs(body)
	if len(ids) != jobsPerPage || ids[0] != "job-1000" {
		t.Fatalf("page 1: %d jobs starting %v", len(ids), ids[:1])
	}
	if !strings.Contains(body, `href="/jobs?page=2&amp;status=completed" rel="next"`) || strings.Contains(body, `rel="prev"`) {
		t.Error("page 1: wrong paging links")
	}
	_, body = f.getAs(t, ada, "/jobs?status=completed&page=2", "")
	want := []string{"job-1050", "job-1051", "job-1052", "job-1053", "job-1054"}
	if diff := cmp.Diff(want, jobIDs(body)); diff != "" {
		t.Errorf("page 2 (-want +got):\n%s", diff)
	}
	if !strings.Contains(body, `href="/jobs?status=completed" rel="prev"`) || strings.Contains(body, `rel="next"`) {
		t.Error("page 2: wrong paging links")
	}
}

// readCSV parses an export.
func readCSV(t *testing.T, body string) [][]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("export is not CSV: %v\n%s", err, body)
	}
	return recs
}

func TestJobsCSV(t *testing.T) {
	f := newFixture(t)
	f.fillPrinterA(t)
	evil := jobRecord("printer-a001", "job-evil", fleet.JobFailed, t0.Add(-3*time.Hour))
	evil.Job.Material = `=HYPERLINK("http://example.invalid","x")`
	evil.Job.SourceApp = "@SUM(1+1)"
	evil.Job.PrintMode = "-2+3"
	f.apply(t, f.orgA, f.siteA, evil)
	f.addJob(t, f.orgB, f.siteB, "printer-b001", "job-b1", fleet.JobCompleted, t0)
	ada := f.user(t, "ada")

	resp, body := f.getAs(t, ada, "/jobs.csv", "")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d\n%s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="jobs-2026-03-01.csv"` {
		t.Errorf("Content-Disposition %q", cd)
	}
	recs := readCSV(t, body)
	if diff := cmp.Diff(csvHeader, recs[0]); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	var ids []string
	for _, r := range recs[1:] {
		ids = append(ids, r[3])
	}
	if diff := cmp.Diff([]string{"job1", "job-evil", "job0"}, ids); diff != "" {
		t.Errorf("exported jobs (-want +got):\n%s", diff)
	}
	col := func(name string) int {
		for i, h := range csvHeader {
			if h == name {
				return i
			}
		}
		t.Fatalf("no column %s", name)
		return -1
	}
	row := recs[2]
	for name, want := range map[string]string{
		"printer_id": "printer-a001", "printer_name": "3DP 1", "site": "Aachen", "status": "failed",
		"created_at": "2026-03-01T09:00:00Z", "material": `'=HYPERLINK("http://example.invalid","x")`,
		"source_app": "'@SUM(1+1)", "print_mode": "'-2+3", "layer_count": "1500", "density": "0.12", "warnings": "1",
	} {
		if got := row[col(name)]; got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if strings.Contains(body, "job-b1") {
		t.Error("export holds the other organisation's job")
	}
	// The filters of the page apply; a page number is ignored.
	_, body = f.getAs(t, ada, "/jobs.csv?status=completed&page=7", "")
	if recs := readCSV(t, body); len(recs) != 2 || recs[1][3] != "job0" {
		t.Errorf("filtered export = %v, want job0 only", recs)
	}
	resp, body = f.getAs(t, ada, "/jobs.csv?from=01.02.2026", "")
	if resp.StatusCode != 400 || !strings.Contains(body, "Dates must be written") {
		t.Errorf("bad filter: status %d\n%s", resp.StatusCode, body)
	}
}

func TestCSVSafe(t *testing.T) {
	for in, want := range map[string]string{
		"":             "",
		"PA12":         "PA12",
		"=1+1":         "'=1+1",
		"+1":           "'+1",
		"-1":           "'-1",
		"@A1":          "'@A1",
		"\t=1":         "'\t=1",
		"\r=1":         "'\r=1",
		"a=b":          "a=b",
		"'quoted":      "'quoted",
		"Überschrift=": "Überschrift=",
	} {
		if got := csvSafe(in); got != want {
			t.Errorf("csvSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

// countingJobs counts the job history reads of the export.
type countingJobs struct {
	fleetquery.JobReader
	reads *[]fleetquery.JobQuery
}

func (s countingJobs) JobHistory(ctx context.Context, org fleet.OrgID, q fleetquery.JobQuery) ([]fleetquery.PrinterJob, error) {
	*s.reads = append(*s.reads, q)
	return s.JobReader.JobHistory(ctx, org, q)
}

// The export reads in chunks and stops at its row cap.
func TestWriteJobsCSVChunks(t *testing.T) {
	f := newFixture(t)
	var recs []fleet.Record
	for i := range 7 {
		recs = append(recs, jobRecord("printer-a001", "job-"+strconv.Itoa(i), fleet.JobCompleted, t0.Add(-time.Duration(i)*time.Hour)))
	}
	f.apply(t, f.orgA, f.siteA, recs...)
	printers, err := f.db.Printers(t.Context(), f.orgA)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name           string
		chunk, maxRows int
		wantRows       int
		wantReads      []int // offsets
	}{
		{"chunks", 3, 100, 7, []int{0, 3, 6}},
		{"exact chunks", 7, 100, 7, []int{0, 7}},
		{"capped", 3, 5, 5, []int{0, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var reads []fleetquery.JobQuery
			h := &jobPages{handler: f.h.handler, jobs: countingJobs{JobReader: f.db, reads: &reads}}
			w := httptest.NewRecorder()
			err := h.writeJobsCSV(t.Context(), w, f.orgA, fleetquery.JobQuery{}, printers, nil, tt.chunk, tt.maxRows)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(readCSV(t, w.Body.String())) - 1; got != tt.wantRows {
				t.Errorf("%d rows, want %d", got, tt.wantRows)
			}
			var offsets []int
			for _, q := range reads {
				offsets = append(offsets, q.Offset)
				if q.Limit > tt.chunk {
					t.Errorf("read of %d rows, chunk is %d", q.Limit, tt.chunk)
				}
			}
			if diff := cmp.Diff(tt.wantReads, offsets); diff != "" {
				t.Errorf("read offsets (-want +got):\n%s", diff)
			}
		})
	}
}

// A user limited to a site sees that site's printers and jobs only, on
// every page and in the export; the rest is 404 or refused as unknown.
func TestDetailSiteLimited(t *testing.T) {
	f := newFixture(t)
	f.fillPrinterA(t)
	ctx := t.Context()
	site2, err := f.db.CreateSite(ctx, f.orgA, "Zweitwerk")
	if err != nil {
		t.Fatal(err)
	}
	f.status(t, f.orgA, site2, "printer-a002", "3DP 2", fleet.StateIdle)
	f.addJob(t, f.orgA, site2, "printer-a002", "job-s2", fleet.JobCompleted, t0.Add(-time.Hour))
	lim, err := f.db.CreateMember(ctx, f.orgA, "lim", f.hashed, fleet.RoleViewer, access.OnlySites(site2))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path   string
		status int
	}{
		{"/printers/printer-a002", 200},
		{"/printers/printer-a002/jobs/job-s2", 200},
		{"/jobs", 200},
		{"/jobs?site=" + string(site2), 200},
		{"/jobs.csv", 200},
		{"/printers/printer-a001", 404},
		{"/printers/printer-a001/jobs/job1", 404},
		{"/printers/printer-a002/jobs/job1", 404},
		{"/jobs?printer=printer-a001", 400},
		{"/jobs?site=" + string(f.siteA), 400},
		{"/jobs.csv?printer=printer-a001", 400},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, body := f.getAs(t, lim, tt.path, "")
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, tt.status, body)
			}
			for _, c := range []string{"printer-a001", "3DP 1", "job0", "Aachen"} {
				if strings.Contains(body, c) {
					t.Errorf("answer names %q of the other site", c)
				}
			}
			if tt.status == 200 && strings.HasPrefix(tt.path, "/jobs") && !strings.Contains(body, "job-s2") {
				t.Error("the site's own job is missing")
			}
		})
	}
	// An unlimited member sees both sites' jobs.
	_, body := f.getAs(t, f.user(t, "ada"), "/jobs.csv", "")
	if recs := readCSV(t, body); len(recs) != 4 {
		t.Errorf("admin's export has %d jobs, want 3", len(recs)-1)
	}
}

// parseJobForm turns any query into a query within bounds, limited to
// what the principal may see, or refuses it with a message.
func FuzzParseJobForm(f *testing.F) {
	for _, q := range []string{"", "status=failed&from=2026-02-01&to=2026-02-28&page=3", "printer=printer-a001&site=site_a",
		"page=0", "page=99999999999999999999", "from=2026-13-40", "status=%00", "site=site_b&site=site_a"} {
		f.Add(q, true)
	}
	printers := []fleet.PrinterView{{ID: "printer-a001", SiteID: "site_a"}, {ID: "printer-a002", SiteID: "site_b"}}
	sites := []fleet.Site{{ID: "site_a"}, {ID: "site_b"}}
	f.Fuzz(func(t *testing.T, raw string, limited bool) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		p := access.Principal{Org: "org_a", Sites: access.AllSites()}
		visible := sites
		if limited {
			p.Sites = access.OnlySites("site_b")
			visible = sites[1:]
		}
		form, jq, err := parseJobForm(q, p, p.FilterPrinters(printers), visible, time.UTC)
		if err != nil {
			if _, _, ok := formStatus(err); !ok {
				t.Fatalf("error %v is not a message for people", err)
			}
			return
		}
		if jq.Offset < 0 || jq.Offset > fleetquery.MaxOffset || jq.Limit != jobsPerPage || form.Page < 1 {
			t.Errorf("out of bounds: %+v %+v", form, jq)
		}
		if jq.Status != "" && !jq.Status.Valid() {
			t.Errorf("status %q", jq.Status)
		}
		if limited && (jq.Sites == nil || slices.Contains(jq.Sites, "site_a")) {
			t.Errorf("limited principal queries sites %v", jq.Sites)
		}
		if jq.PrinterID != "" && !slices.ContainsFunc(p.FilterPrinters(printers), func(v fleet.PrinterView) bool { return v.ID == jq.PrinterID }) {
			t.Errorf("printer %q is not visible", jq.PrinterID)
		}
		if !jq.From.IsZero() && !jq.To.IsZero() && !jq.From.Before(jq.To) {
			t.Errorf("empty period %v..%v", jq.From, jq.To)
		}
	})
}

// A job that reported no layers yet gets no layer plots: they would have
// no time axis to draw.
func TestLayerPlotsWithoutLayers(t *testing.T) {
	if got := layerPlots(i18n.English, nil); len(got) != 0 {
		t.Errorf("layerPlots(no layers) = %d plots, want none", len(got))
	}
	layers := []fleet.Layer{{Index: 1, Start: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC), DurationSec: 8, SizeMM2: 100}}
	if got := layerPlots(i18n.English, layers); len(got) != 2 {
		t.Errorf("layerPlots(one layer) = %d plots, want 2", len(got))
	}
}

// What printers say they do and their events' descriptions come from a
// fixed set of phrases: German pages say them in German, and a phrase
// outside the set stays as the printer said it.
func TestActivityAndEventsInGerman(t *testing.T) {
	tests := []struct{ in, want string }{
		{"cooling", "Abkühlen"},
		{"idle", "bereit"},
		{"printing layer 12 of 300", "druckt Schicht 12 von 300"},
		{"error: recoater powder feed jam", "Fehler: Pulverzufuhr des Recoaters blockiert"},
		{"error: something new", "Fehler: something new"},
		{"calibrating 100 %", "calibrating 100 %"},
		{"printer started", "Drucker gestartet"},
		{"lamp condition degrading", "Lampe: Zustand verschlechtert sich"},
	}
	for _, tt := range []struct{ in, want string }{
		{"FAULT_DOOR: top cover opened during operation", "FAULT_DOOR: obere Abdeckung im Betrieb geöffnet"},
		{"error: agent supply pressure low", "Fehler: Druck der Agent-Versorgung niedrig"},
		{"no report for more than 3m0s", "no report for more than 3m0s"},
	} {
		if got := detailWords(i18n.German, tt.in); got != tt.want {
			t.Errorf("detailWords(German, %q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, tt := range tests {
		if got := activityWords(i18n.German, tt.in); got != tt.want {
			t.Errorf("activityWords(German, %q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := activityWords(i18n.English, tt.in); got != tt.in {
			t.Errorf("activityWords(English, %q) = %q, want it unchanged", tt.in, got)
		}
	}
}
