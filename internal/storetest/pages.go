package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/alert"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/identity"
)

// This file serves the page benchmark of the stores (BenchmarkPages): the
// JSON documents of its bulk fixture, the organisation's users, tokens,
// channels and rules made through the store, and the driver that reads
// every page through the dashboard handler and prints the figures.

// PageBudget is the server time every dashboard page must stay within at
// 10,000 printers and a year of history.
const PageBudget = 100 * time.Millisecond

// sentinel is a time no fixture uses, so that it can be found in JSON
// and replaced by a token.
func sentinel(sec int) time.Time { return time.Date(2001, 1, 1, 0, 0, sec, 0, time.UTC) }

// FixtureJSON holds JSON documents shaped exactly as the stores write
// them (json.Marshal of the fleet types), with tokens such as @JOB@ where
// a bulk insert puts its own values: the store's pages fixture
// (store.LoadPagesFleet, which takes it as a store.PagesJSON) substitutes
// them in SQL.
type FixtureJSON struct {
	// Job: @JOB@ id, @STATUS@, @CREATED@ and @STARTED@ times, @LAYERS@ done,
	// @PHASE@ of the printing sub-job.
	Job string
	// Part: @PART@ id, @JOB@, @OUTCOME@, @CREATED@ and @STARTED@ times.
	Part string
	// Counters: @TIME@, @JOBS@ total, @FILTER@ percent left.
	Counters string
	// Consumables: @TIME@, @AGENT@ level percent, @HEAD@ usage hours,
	// @LAMP@ intensity percent, @ROLL@ usage percent, @RECYCLED@ percent.
	Consumables string
	// Identity: @PRINTER@, @NAME@, @MODEL@, @CREATED@.
	Identity string
	// Alert (as a delivery carries it): @ALERT@, @SITE@, @PRINTER@, @NAME@,
	// @RULE@, @TITLE@, @CREATED@ and @STARTED@ (opened, updated), @REVISION@.
	Alert string
}

// Fixtures returns the fixture documents.
func Fixtures() FixtureJSON {
	created, started := sentinel(1), sentinel(61)
	job := JobRecord(0, "", "@JOB@", "@STATUS@", created, created).Job
	job.LayersDone = 90001
	job.SubJobs = []fleet.SubJob{
		{Kind: "preparation", Status: "done", CompletionPercent: 100, DurationSec: 60, Start: created, End: started},
		{Kind: "printing", Status: "@PHASE@", CompletionPercent: 50, DurationSec: 3600, Start: started},
	}
	part := PartRecord(0, "", "@JOB@", "@PART@", "@OUTCOME@", created).Part
	counters := fleet.Counters{TotalJobs: 90002, CompletedJobs: 90002, Layers: 1500 * 90002, Parts: 40 * 90002,
		PrintVolumeCM3: 812.5 * 90002, PrintTimeSec: 36000 * 90002,
		AgentsConsumedML: map[string]float64{"fusing": 125, "detailing": 80}, MaterialConsumedKG: 9.5 * 90002,
		CoolingSystemHours: 812, FilterStatusPercent: 90003.5, LampUsageHours: 812, IntermediateTanks: 12,
		AgentSystemHours: 640, ServiceStationUses: 3100, CarriageCycles: 881200, SystemErrors: 4, Time: created}
	head := func(slot int) fleet.Printhead {
		return fleet.Printhead{Slot: slot, Type: "F9K08A", UUID: fmt.Sprintf("ph-%d", slot), Status: "ok",
			PartNumber: "F9K08A", SerialNumber: fmt.Sprintf("PH%06d", slot), AgentUsedCC: 410, InstallDate: T0.AddDate(0, -6, 0),
			UsageHours: 90004.5, WarrantyEnd: T0.AddDate(0, 6, 0), WarrantyStatus: "in warranty", ManufactureDate: T0.AddDate(-1, 0, 0)}
	}
	agent := func(name string) fleet.AgentSupply {
		return fleet.AgentSupply{Agent: name, UsedCC: 1200, BuildUnitInserts: 40, SupplyStatus: "ok", SupplyLevelPercent: 90005.5}
	}
	lamp := func(pos string) fleet.Lamp {
		return fleet.Lamp{Position: pos, Hours: 812, IntensityPercent: 90006.5, Status: "ok"}
	}
	cons := fleet.Consumables{
		CleaningRoll: fleet.CleaningRoll{PartNumber: "3ED58A", Status: "ok", UsagePercent: 90007.5},
		Agents:       []fleet.AgentSupply{agent("fusing"), agent("detailing")},
		Printheads:   []fleet.Printhead{head(1), head(2), head(3)},
		BuildUnits: fleet.BuildUnits{TotalInserts: 40, Installed: &fleet.BuildUnit{PartNumber: "M0P45A", SerialNumber: "BU-1",
			Inserts: 40, Status: "printing", UsageHours: 1200, Material: "PA12", RecycledPercent: 90008.5, MaterialKG: 30,
			Printers: []fleet.BuildUnitPrinter{{ProductNumber: "M0P44A", SerialNumber: "SN-1", Firmware: "1.0", Connected: T0.AddDate(0, -1, 0)}}}},
		Lamps: []fleet.Lamp{lamp("fusing-1"), lamp("fusing-2"), lamp("warming")},
		Time:  created,
	}
	id := fleet.Identity{PrinterID: "@PRINTER@", Name: "@NAME@", Model: "@MODEL@", ModelNumber: "M0P44A",
		SerialNumber: "SN-@NAME@", Firmware: "1.0", ParameterSet: "PA12-balanced", Size: "380x284x380 mm",
		DiskBytes: 1 << 40, MemoryBytes: 32 << 30, Date: created, UptimeSec: 86400}
	al := fleet.Alert{ID: "@ALERT@", SiteID: "@SITE@", PrinterID: "@PRINTER@", PrinterName: "@NAME@", Rule: "@RULE@",
		Severity: fleet.SeverityWarning, Title: "@TITLE@", Detail: "Reported by the printer.", Opened: created, Updated: started,
		Revision: 90009}
	tokens := strings.NewReplacer(
		`"`+created.Format(time.RFC3339)+`"`, `"@CREATED@"`, `"`+started.Format(time.RFC3339)+`"`, `"@STARTED@"`,
		"90001", "@LAYERS@", "90002", "@JOBS@", "90003.5", "@FILTER@", "90004.5", "@HEAD@", "90005.5", "@AGENT@",
		"90006.5", "@LAMP@", "90007.5", "@ROLL@", "90008.5", "@RECYCLED@", "90009", "@REVISION@")
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err) // the fleet types always marshal
		}
		return tokens.Replace(string(b))
	}
	f := FixtureJSON{Job: enc(job), Part: enc(part), Counters: enc(counters), Consumables: enc(cons), Identity: enc(id), Alert: enc(al)}
	// Counters and consumables carry @TIME@: their one time is the snapshot's.
	f.Counters = strings.ReplaceAll(f.Counters, "@CREATED@", "@TIME@")
	f.Consumables = strings.Replace(f.Consumables, `"time":"@CREATED@"`, `"time":"@TIME@"`, 1)
	return f
}

// RuleKeys are the built-in alert rules the fixture's alerts are of, with
// a title each.
var RuleKeys = []struct {
	Key   fleet.RuleKey
	Title string
}{
	{alert.RuleAgentSupply, "Fusing agent low"}, {alert.RulePrinthead, "Printhead degraded"},
	{alert.RuleCleaningRoll, "Cleaning roll nearly used up"}, {alert.RuleLamp, "Fusing lamp weak"},
	{alert.RuleFilter, "Filter nearly exhausted"}, {alert.RuleFaultEvent, "Fault reported"},
	{alert.RulePrinterError, "Printer in error"}, {alert.RuleOffline, "Printer offline"},
	{alert.RuleStalledJob, "Job stalled"},
}

// PageStore is what SeedPagesOrg needs of a store.
type PageStore interface {
	Orgs
	Membership
	Sessions
	AccessTokens
	Channels
	Subscriptions
	RuleSettings
}

// Session cookie names of the dashboard without Secure cookies.
const sessionCookie = "ff_session"

// SeedTB is what SeedPagesOrg needs of a test or a benchmark: testing.TB
// has it, and so has the bench command's runner.
type SeedTB interface {
	Helper()
	Context() context.Context
	Fatal(args ...any)
}

// SeedPagesOrg gives org what its pages list besides fleet data, through
// the store: two more sites, 20 members, an administrator with display
// and notification preferences and five API tokens, three notification
// channels, five custom alert rules and a muted rule. It returns the
// administrator's session cookie, valid for an hour after T0.
func SeedPagesOrg(tb SeedTB, st PageStore, org fleet.OrgID) *http.Cookie {
	tb.Helper()
	ctx := tb.Context()
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	for _, name := range []string{"Plant North", "Plant South"} {
		_, err := st.CreateSite(ctx, org, name)
		must(err)
	}
	admin, err := st.CreateMember(ctx, org, "pages-admin", "x", fleet.RoleAdmin, access.AllSites())
	must(err)
	for i := range 20 {
		role := []fleet.Role{fleet.RoleViewer, fleet.RoleOperator, fleet.RoleAdmin}[i%3]
		_, err := st.CreateMember(ctx, org, fmt.Sprintf("member-%02d", i), "x", role, access.AllSites())
		must(err)
	}
	must(st.SetPrefs(ctx, org, admin, fleet.Prefs{Lang: "en", TimeZone: "Europe/Berlin"}))
	must(st.SetNotifyPrefs(ctx, fleet.NotifyPrefs{UserID: admin, OrgID: org, Enabled: true, Email: "admin@example.com",
		MinSeverity: fleet.SeverityWarning}))
	for i := range 5 {
		_, err := st.CreateAPIToken(ctx, access.Token{OrgID: org, UserID: admin, Name: fmt.Sprintf("MES export %d", i),
			Scope: access.ScopeRead, Sites: access.AllSites(), Created: T0.AddDate(0, -i, 0), Expires: T0.AddDate(1, 0, 0)},
			identity.HashToken(fmt.Sprintf("pages-api-token-%d", i)))
		must(err)
	}
	for _, c := range []fleet.NotifyChannel{
		{OrgID: org, Kind: fleet.ChannelWebhook, Name: "MES webhook", Target: "https://mes.example.com/hook",
			Secret: strings.Repeat("s", 32), MinSeverity: fleet.SeverityWarning, Created: T0.AddDate(0, -6, 0)},
		{OrgID: org, Kind: fleet.ChannelEmail, Name: "Shift leads", Target: "shift@example.com",
			MinSeverity: fleet.SeverityWarning, Created: T0.AddDate(0, -6, 0)},
		{OrgID: org, Kind: fleet.ChannelEmail, Name: "Maintenance", Target: "maintenance@example.com",
			MinSeverity: fleet.SeverityError, Created: T0.AddDate(0, -6, 0)},
	} {
		_, err := st.CreateNotifyChannel(ctx, c)
		must(err)
	}
	for i, m := range []alert.Metric{alert.MetricAgentLevel, alert.MetricCleaningRollUse, alert.MetricLampIntensity,
		alert.MetricFilterStatus, alert.MetricPrintheadHours} {
		_, err := st.CreateAlertRule(ctx, alert.CustomRule{OrgID: org, Metric: m, Op: alert.Below, Threshold: float64(10 + i),
			Severity: fleet.SeverityWarning, Created: T0.AddDate(0, -i, 0)})
		must(err)
	}
	must(st.SetRuleMuted(ctx, org, alert.RuleOffline, true))
	const secret = "pages-bench-session-token"
	must(st.CreateSession(ctx, identity.HashToken(secret), admin, T0.Add(time.Hour)))
	return &http.Cookie{Name: sessionCookie, Value: secret}
}

// Page is a dashboard page the benchmark reads: its name in the table,
// its path, and a text its answer must contain, which proves the page
// shows the fixture's data rather than an empty state.
type Page struct {
	Name, Path, Want string
	// Anonymous pages are read without the session cookie.
	Anonymous bool
}

// BenchPages reads each page through h as a sub-benchmark, fails unless it
// answers 200 with its Want text, reports ms/op, budget-ratio (server time
// over PageBudget; above 1 is over budget) and cpu-ms/op (CPU time of this
// process per request: the handler's own work, which a busy machine does
// not inflate as it does elapsed time; a database server's work is not in
// it), and prints a table of all pages at the end.
func BenchPages(b *testing.B, h http.Handler, session *http.Cookie, pages []Page) {
	b.Helper()
	get := func(pg Page) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, pg.Path, nil)
		if !pg.Anonymous {
			req.AddCookie(session)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	type row struct {
		page    Page
		ns, cpu float64 // per request: elapsed, and CPU of this process
		bytes   int
	}
	var rows []row
	for _, pg := range pages {
		rec := get(pg)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET %s: %d %.500s", pg.Path, rec.Code, rec.Body.String())
		}
		if !strings.Contains(rec.Body.String(), pg.Want) {
			b.Fatalf("GET %s: answer without %q:\n%.2000s", pg.Path, pg.Want, rec.Body.String())
		}
		r := row{page: pg, bytes: rec.Body.Len()}
		b.Run(pg.Name, func(b *testing.B) {
			cpu := processCPU()
			for b.Loop() {
				if rec := get(pg); rec.Code != http.StatusOK {
					b.Fatalf("GET %s: %d", pg.Path, rec.Code)
				}
			}
			r.ns = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			r.cpu = float64(processCPU()-cpu) / float64(b.N)
			b.ReportMetric(r.ns/1e6, "ms/op")
			b.ReportMetric(r.cpu/1e6, "cpu-ms/op")
			b.ReportMetric(r.ns/float64(PageBudget), "budget-ratio")
		})
		rows = append(rows, r)
	}
	var out strings.Builder
	tw := tabwriter.NewWriter(&out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "page\tpath\tms\tcpu-ms\tbudget-ratio\tKiB\t\n")
	over := 0
	for _, r := range rows {
		if r.ns == 0 {
			continue // not selected by -bench
		}
		mark := ""
		if r.ns > float64(PageBudget) {
			mark, over = " OVER", over+1
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%.2f\t%.3f%s\t%d\t\n", r.page.Name, r.page.Path, r.ns/1e6, r.cpu/1e6,
			r.ns/float64(PageBudget), mark, r.bytes/1024)
	}
	tw.Flush()
	// The log of a benchmark with sub-benchmarks shows only under -v: the
	// table goes to the standard output as well, after the figures.
	fmt.Fprintf(os.Stdout, "%s: server time per page (budget %v), %d over budget:\n%s", b.Name(), PageBudget, over, out.String())
}

// DashboardPages lists every GET page of the dashboard's route table (but
// the event stream and the static files), as the administrator of the
// fixture's organisation reads them: printer p and its current job, the
// job history and its export of a year, KPIs of 30 and 365 days.
func DashboardPages(p fleet.PrinterID, job string) []Page {
	year := T0.AddDate(-1, 0, 0).Format(time.DateOnly) + "&to=" + T0.Format(time.DateOnly)
	return []Page{
		{Name: "printers", Path: "/", Want: "3DP 7"},
		{Name: "api-printers", Path: "/api/printers", Want: string(p)},
		{Name: "printer", Path: "/printers/" + string(p), Want: "Agent levels: fusing from"},
		{Name: "printer-365d", Path: "/printers/" + string(p) + "?period=365d", Want: "Agent levels: fusing from"},
		{Name: "job", Path: "/printers/" + string(p) + "/jobs/" + job, Want: job + "-part-39"},
		{Name: "jobs", Path: "/jobs", Want: job},
		{Name: "jobs-csv-year", Path: "/jobs.csv?from=" + year, Want: job},
		{Name: "kpis-30d", Path: "/kpis?period=30d", Want: "Packing density"},
		{Name: "kpis-365d", Path: "/kpis?period=365d", Want: "Packing density"},
		{Name: "benchmark", Path: "/benchmark?period=12m", Want: "Packing density"},
		{Name: "usage", Path: "/usage?period=365d", Want: "Usage"},
		{Name: "alerts", Path: "/alerts", Want: RuleKeys[0].Title},
		{Name: "alert-rules", Path: "/alerts/rules", Want: "Alert rules"},
		{Name: "notifications-admin", Path: "/admin/notifications", Want: "MES webhook"},
		{Name: "notification-prefs", Path: "/account/notifications", Want: "admin@example.com"},
		{Name: "account", Path: "/account", Want: "Europe/Berlin"},
		{Name: "users", Path: "/admin/users", Want: "member-19"},
		{Name: "tokens", Path: "/tokens", Want: "MES export 4"},
		{Name: "sites", Path: "/admin/sites", Want: "Plant North"},
		{Name: "enrolment", Path: "/admin/enrolment", Want: "Plant North"},
		{Name: "two-factor", Path: "/account/two-factor", Want: "Two-factor"},
		{Name: "updates", Path: "/updates", Want: "Updates"},
		{Name: "login", Path: "/login", Want: "Password", Anonymous: true},
	}
}
