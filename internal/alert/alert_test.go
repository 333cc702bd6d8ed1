package alert_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/alert"
	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/store"
	"github.com/fusionfleet/fusionfleet/internal/storetest"
	"github.com/google/go-cmp/cmp"
)

var t0 = storetest.T0

// notes is a Notifier that records what it hears.
type notes struct {
	mu  sync.Mutex
	got []fleet.Alert
}

func (n *notes) Notify(_ context.Context, a fleet.Alert) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.got = append(n.got, a)
	return nil
}

// summary is what a test compares of a notification.
type summary struct {
	Rule     fleet.RuleKey
	Revision int
	Severity fleet.Severity
	Detail   string
	Resolved bool
}

func (n *notes) take() []summary { return n.takeOf("") }

// takeOf returns the notifications of rule ("": of every rule).
func (n *notes) takeOf(rule fleet.RuleKey) []summary {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []summary
	for _, a := range n.got {
		if rule == "" || a.Rule == rule {
			out = append(out, summary{a.Rule, a.Revision, a.Severity, a.Detail, !a.Active()})
		}
	}
	n.got = nil
	return out
}

type env struct {
	db  *store.DB
	org fleet.OrgID
	sit fleet.SiteID
	n   *notes
	clk *clock.Manual
	ev  *alert.Evaluator
	seq uint64
}

func newEnv(t *testing.T) *env {
	t.Helper()
	db, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "cloud.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	org, err := db.CreateOrg(t.Context(), "Acme")
	if err != nil {
		t.Fatal(err)
	}
	site, err := db.CreateSite(t.Context(), org, "Plant")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{db: db, org: org, sit: site, n: &notes{}, clk: clock.NewManual(t0)}
	e.ev = alert.NewEvaluator(db, e.n, alert.Options{Clock: e.clk})
	return e
}

// send stores the records and evaluates them, as the two consumers do.
func (e *env) send(t *testing.T, recs ...fleet.Record) fleet.Envelope {
	t.Helper()
	for i := range recs {
		e.seq++
		recs[i].Seq = e.seq
	}
	en := storetest.Env(e.org, e.sit, "gw", recs...)
	if _, err := e.db.ApplyEnvelope(t.Context(), en); err != nil {
		t.Fatal(err)
	}
	if err := e.ev.Apply(t.Context(), en); err != nil {
		t.Fatal(err)
	}
	return en
}

func (e *env) alerts(t *testing.T) []fleet.Alert {
	t.Helper()
	got, err := e.db.Alerts(t.Context(), e.org, alert.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

const p = fleet.PrinterID("printer-aaaa")

func at(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }

func consumables(m int, edit func(c *fleet.Consumables)) fleet.Record {
	r := storetest.ConsumablesRecord(0, p, 40, at(m))
	edit(r.Consumables)
	return r
}

func counters(m int, filter float64) fleet.Record {
	r := storetest.CountersRecord(0, p, 3, at(m))
	r.Counters.FilterStatusPercent = filter
	return r
}

func status(m int, st fleet.State) fleet.Record { return storetest.StatusRecord(0, p, st, at(m)) }

func event(m int, code string, sev fleet.Severity) fleet.Record {
	r := storetest.EventRecord(0, p, code, at(m))
	r.Event.Severity = sev
	r.Event.Description = "desc"
	return r
}

// TestRulesOpenReviseResolve walks each record-driven rule through fine →
// bad → worse → worse again → fine, and replays everything: one alert,
// three notifications, nothing more.
func TestRulesOpenReviseResolve(t *testing.T) {
	agent := func(status string, level float64) func(*fleet.Consumables) {
		return func(c *fleet.Consumables) { c.Agents[0].SupplyStatus, c.Agents[0].SupplyLevelPercent = status, level }
	}
	head := func(status string) func(*fleet.Consumables) {
		return func(c *fleet.Consumables) { c.Printheads[0].Status = status }
	}
	roll := func(status string) func(*fleet.Consumables) {
		return func(c *fleet.Consumables) { c.CleaningRoll.Status = status }
	}
	lamp := func(status string) func(*fleet.Consumables) {
		return func(c *fleet.Consumables) { c.Lamps[0].Status = status }
	}
	tests := []struct {
		rule fleet.RuleKey
		recs []fleet.Record // fine, bad, worse, worse again, fine
		sevs [2]fleet.Severity
	}{
		{alert.RuleAgentSupply, []fleet.Record{consumables(0, agent("ok", 50)), consumables(1, agent("low", 8)),
			consumables(2, agent("empty", 0)), consumables(3, agent("empty", 0)), consumables(4, agent("ok", 100))},
			[2]fleet.Severity{fleet.SeverityWarning, fleet.SeverityError}},
		{alert.RulePrinthead, []fleet.Record{consumables(0, head("ok")), consumables(1, head("degraded")),
			consumables(2, head("replace")), consumables(3, head("replace")), consumables(4, head("ok"))},
			[2]fleet.Severity{fleet.SeverityWarning, fleet.SeverityError}},
		{alert.RuleCleaningRoll, []fleet.Record{consumables(0, roll("ok")), consumables(1, roll("low")),
			consumables(2, roll("empty")), consumables(3, roll("empty")), consumables(4, roll("ok"))},
			[2]fleet.Severity{fleet.SeverityWarning, fleet.SeverityError}},
		{alert.RuleLamp, []fleet.Record{consumables(0, lamp("ok")), consumables(1, lamp("weak")),
			consumables(2, lamp("failed")), consumables(3, lamp("failed")), consumables(4, lamp("ok"))},
			[2]fleet.Severity{fleet.SeverityWarning, fleet.SeverityError}},
		{alert.RuleFilter, []fleet.Record{counters(0, 50), counters(1, 8), counters(2, 1), counters(3, 1), counters(4, 100)},
			[2]fleet.Severity{fleet.SeverityWarning, fleet.SeverityError}},
		{alert.RulePrinterError, []fleet.Record{status(0, fleet.StatePrinting), status(1, fleet.StateError),
			func() fleet.Record { r := status(2, fleet.StateError); r.Status.Activity = "door open"; return r }(),
			func() fleet.Record { r := status(3, fleet.StateError); r.Status.Activity = "door open"; return r }(),
			status(4, fleet.StateIdle)},
			[2]fleet.Severity{fleet.SeverityError, fleet.SeverityError}},
	}
	for _, tt := range tests {
		t.Run(string(tt.rule), func(t *testing.T) {
			e := newEnv(t)
			var envs []fleet.Envelope
			for _, r := range tt.recs {
				envs = append(envs, e.send(t, r))
			}
			got := e.n.take()
			if len(got) != 3 {
				t.Fatalf("notifications = %+v, want open, revise, resolve", got)
			}
			for i, want := range []struct {
				rev      int
				sev      fleet.Severity
				resolved bool
			}{{1, tt.sevs[0], false}, {2, tt.sevs[1], false}, {3, tt.sevs[1], true}} {
				if g := got[i]; g.Rule != tt.rule || g.Revision != want.rev || g.Severity != want.sev || g.Resolved != want.resolved {
					t.Errorf("notification %d = %+v, want rule %s revision %d severity %s resolved %v",
						i, g, tt.rule, want.rev, want.sev, want.resolved)
				}
			}
			// Replays, in order and out of order, change nothing.
			for _, i := range []int{0, 1, 2, 3, 4, 2, 1, 4} {
				if err := e.ev.Apply(t.Context(), envs[i]); err != nil {
					t.Fatal(err)
				}
			}
			if got := e.n.take(); len(got) != 0 {
				t.Errorf("replays notified %+v", got)
			}
			all := e.alerts(t)
			if len(all) != 1 || all[0].Active() || all[0].Revision != 3 || !all[0].Opened.Equal(at(1)) || !all[0].Resolved.Equal(at(4)) {
				t.Errorf("alerts = %+v, want one resolved at revision 3", all)
			}
		})
	}
}

func TestFaultEventsResolveWhenQuiet(t *testing.T) {
	e := newEnv(t)
	e.send(t, event(0, "W1", fleet.SeverityWarning)) // not a fault
	e.send(t, event(1, "E1", fleet.SeverityError))
	e.send(t, event(20, "E1", fleet.SeverityError)) // the same fault again: no news
	e.send(t, event(30, "C9", fleet.SeverityCritical))
	want := []summary{
		{alert.RuleFaultEvent, 1, fleet.SeverityError, "E1: desc", false},
		{alert.RuleFaultEvent, 2, fleet.SeverityCritical, "C9: desc", false},
	}
	if diff := cmp.Diff(want, e.n.takeOf(alert.RuleFaultEvent)); diff != "" {
		t.Errorf("notifications (-want +got):\n%s", diff)
	}
	// An hour after the last fault the alert resolves; not before.
	e.clk.Set(at(30).Add(59 * time.Minute))
	if err := e.ev.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := e.n.takeOf(alert.RuleFaultEvent); len(got) != 0 {
		t.Errorf("sweep before the quiet hour notified %+v", got)
	}
	e.clk.Set(at(30).Add(time.Hour))
	if err := e.ev.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	want = []summary{{alert.RuleFaultEvent, 3, fleet.SeverityCritical, "C9: desc", true}}
	if diff := cmp.Diff(want, e.n.takeOf(alert.RuleFaultEvent)); diff != "" {
		t.Errorf("notifications after the quiet hour (-want +got):\n%s", diff)
	}
}

// Notifications name the printer, from the first revision on: e-mails and
// webhooks tell people which printer an alert is about.
func TestNotificationsNameThePrinter(t *testing.T) {
	e := newEnv(t)
	e.send(t, storetest.IdentityRecord(0, p, "3DP 7", at(0)))
	e.send(t, event(1, "E1", fleet.SeverityError))
	e.send(t, event(2, "C9", fleet.SeverityCritical))
	e.n.mu.Lock()
	defer e.n.mu.Unlock()
	var got []string
	for _, a := range e.n.got {
		got = append(got, fmt.Sprintf("%s rev %d: %s", a.Rule, a.Revision, a.PrinterName))
	}
	want := []string{"fault-event rev 1: 3DP 7", "fault-event rev 2: 3DP 7"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("notified alerts (-want +got):\n%s", diff)
	}
}

func TestSweepOffline(t *testing.T) {
	e := newEnv(t)
	e.send(t, status(0, fleet.StateIdle))
	sweep := func(m int) []summary {
		t.Helper()
		e.clk.Set(at(m))
		if err := e.ev.Sweep(t.Context()); err != nil {
			t.Fatal(err)
		}
		return e.n.take()
	}
	if got := sweep(9); len(got) != 0 {
		t.Errorf("sweep at 9 min = %+v, want nothing", got)
	}
	want := []summary{{alert.RuleOffline, 1, fleet.SeverityWarning, "no report for more than 10 minutes", false}}
	if diff := cmp.Diff(want, sweep(11)); diff != "" {
		t.Errorf("sweep at 11 min (-want +got):\n%s", diff)
	}
	if got := sweep(30); len(got) != 0 {
		t.Errorf("sweep at 30 min = %+v, want nothing new", got)
	}
	e.send(t, status(31, fleet.StateIdle))
	want = []summary{{alert.RuleOffline, 2, fleet.SeverityWarning, "no report for more than 10 minutes", true}}
	if diff := cmp.Diff(want, sweep(32)); diff != "" {
		t.Errorf("sweep after the printer came back (-want +got):\n%s", diff)
	}
	if all := e.alerts(t); len(all) != 1 {
		t.Errorf("alerts = %+v, want one", all)
	}
}

// Before Options.SweepFrom a sweep finds nothing, however long a printer
// was silent; from it on, it sweeps as ever.
func TestSweepFrom(t *testing.T) {
	e := newEnv(t)
	e.ev = alert.NewEvaluator(e.db, e.n, alert.Options{Clock: e.clk, SweepFrom: at(60)})
	e.send(t, status(0, fleet.StateIdle))
	for _, m := range []int{11, 59} {
		e.clk.Set(at(m))
		if err := e.ev.Sweep(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := e.n.take(); len(got) != 0 {
			t.Errorf("sweep at %d min, before SweepFrom: %+v, want nothing", m, got)
		}
	}
	e.clk.Set(at(60))
	if err := e.ev.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := []summary{{alert.RuleOffline, 1, fleet.SeverityWarning, "no report for more than 10 minutes", false}}
	if diff := cmp.Diff(want, e.n.take()); diff != "" {
		t.Errorf("sweep at SweepFrom (-want +got):\n%s", diff)
	}
}

func TestSweepStalledJob(t *testing.T) {
	e := newEnv(t)
	heartbeat := func(m int) { e.send(t, status(m, fleet.StatePrinting)) }
	e.send(t, storetest.JobRecord(0, p, "job12345", fleet.JobPrinting, at(0), at(0)))
	e.send(t, storetest.LayerRecord(0, p, "job12345", 1, at(1)))
	sweep := func(m int) []summary {
		t.Helper()
		e.clk.Set(at(m))
		if err := e.ev.Sweep(t.Context()); err != nil {
			t.Fatal(err)
		}
		return e.n.take()
	}
	for m := 2; m <= 30; m += 4 {
		heartbeat(m)
	}
	if got := sweep(30); len(got) != 0 {
		t.Errorf("sweep at 30 min = %+v, want nothing", got)
	}
	heartbeat(32)
	want := []summary{{alert.RuleStalledJob, 1, fleet.SeverityWarning, "printing, but no layer finished for more than 30 minutes", false}}
	if diff := cmp.Diff(want, sweep(32)); diff != "" {
		t.Errorf("sweep at 32 min (-want +got):\n%s", diff)
	}
	e.send(t, storetest.LayerRecord(0, p, "job12345", 2, at(33)))
	heartbeat(34)
	want[0].Revision, want[0].Resolved = 2, true
	if diff := cmp.Diff(want, sweep(34)); diff != "" {
		t.Errorf("sweep after a new layer (-want +got):\n%s", diff)
	}
}

func TestMutedRule(t *testing.T) {
	e := newEnv(t)
	lampWeak := func(c *fleet.Consumables) { c.Lamps[0].Status = "weak" }
	e.send(t, consumables(0, lampWeak))
	if err := e.db.SetRuleMuted(t.Context(), e.org, alert.RuleLamp, true); err != nil {
		t.Fatal(err)
	}
	e.send(t, consumables(1, func(c *fleet.Consumables) { c.Lamps[0].Status = "failed" })) // no revision while muted
	e.send(t, consumables(2, func(*fleet.Consumables) {}))                                 // resolves, silently
	e.send(t, consumables(3, lampWeak))                                                    // opens nothing
	want := []summary{{alert.RuleLamp, 1, fleet.SeverityWarning, "lamp fusing-1 weak (91%)", false}}
	if diff := cmp.Diff(want, e.n.take()); diff != "" {
		t.Errorf("notifications (-want +got):\n%s", diff)
	}
	if all := e.alerts(t); len(all) != 1 || all[0].Active() || all[0].Revision != 2 {
		t.Errorf("alerts = %+v, want the first one resolved", all)
	}
}

func TestCustomRule(t *testing.T) {
	e := newEnv(t)
	other, err := e.db.CreateSite(t.Context(), e.org, "Elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	rule := alert.CustomRule{OrgID: e.org, Metric: alert.MetricFilterStatus, Op: alert.Below, Threshold: 30, Severity: fleet.SeverityInfo}
	if rule.ID, err = e.db.CreateAlertRule(t.Context(), rule); err != nil {
		t.Fatal(err)
	}
	elsewhere := alert.CustomRule{OrgID: e.org, SiteID: other, Metric: alert.MetricFilterStatus, Op: alert.Below, Threshold: 90, Severity: fleet.SeverityError}
	if _, err := e.db.CreateAlertRule(t.Context(), elsewhere); err != nil {
		t.Fatal(err)
	}
	e.send(t, counters(0, 50))
	e.send(t, counters(1, 25))
	e.send(t, counters(2, 25.2)) // rounds to the same detail: no news
	e.send(t, counters(3, 60))
	want := []summary{
		{rule.Key(), 1, fleet.SeverityInfo, "Remaining filter life is 25 %", false},
		{rule.Key(), 2, fleet.SeverityInfo, "Remaining filter life is 25 %", true},
	}
	if diff := cmp.Diff(want, e.n.take()); diff != "" {
		t.Errorf("notifications (-want +got):\n%s", diff)
	}
	if all := e.alerts(t); len(all) != 1 || all[0].Title != "Remaining filter life < 30 %" {
		t.Errorf("alerts = %+v, want one titled by the rule", all)
	}
}

// TestTwoNodesOneAlert: two evaluators on one store, handed the same
// messages at once, make one alert and one notification per change.
func TestTwoNodesOneAlert(t *testing.T) {
	e := newEnv(t)
	second := alert.NewEvaluator(e.db, e.n, alert.Options{Clock: e.clk})
	for m, st := range []string{"weak", "failed", "ok"} {
		r := consumables(m, func(c *fleet.Consumables) { c.Lamps[0].Status = st })
		e.seq++
		r.Seq = e.seq
		en := storetest.Env(e.org, e.sit, "gw", r)
		data, err := json.Marshal(en)
		if err != nil {
			t.Fatal(err)
		}
		// The SQL writer stored the printer, as it does before the
		// evaluators can tell which printer an alert is about.
		if _, err := e.db.ApplyEnvelope(t.Context(), en); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for _, ev := range []*alert.Evaluator{e.ev, second, e.ev, second} {
			wg.Go(func() {
				if err := ev.Handle(t.Context(), data); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	got := e.n.take()
	var revs []int
	for _, s := range got {
		revs = append(revs, s.Revision)
	}
	if diff := cmp.Diff([]int{1, 2, 3}, revs); diff != "" {
		t.Errorf("notified revisions (-want +got):\n%s", diff)
	}
	if all := e.alerts(t); len(all) != 1 {
		t.Errorf("alerts = %+v, want one", all)
	}
}

func TestHandleSkipsPoison(t *testing.T) {
	e := newEnv(t)
	for _, data := range []string{"", "{", `{"org_id":"o"}`, `[1,2]`} {
		if err := e.ev.Handle(t.Context(), []byte(data)); err != nil {
			t.Errorf("Handle(%q) = %v, want nil", data, err)
		}
	}
}

func TestCustomRuleValidate(t *testing.T) {
	ok := alert.CustomRule{OrgID: "org_1", Metric: alert.MetricLampHours, Op: alert.AtLeast, Threshold: 2000, Severity: fleet.SeverityWarning}
	tests := []struct {
		name string
		edit func(*alert.CustomRule)
		want error
	}{
		{"valid", func(*alert.CustomRule) {}, nil},
		{"metric", func(r *alert.CustomRule) { r.Metric = "temperature" }, alert.ErrMetric},
		{"comparison", func(r *alert.CustomRule) { r.Op = "==" }, alert.ErrOp},
		{"threshold", func(r *alert.CustomRule) { r.Threshold = 1e300 }, alert.ErrThreshold},
		{"severity", func(r *alert.CustomRule) { r.Severity = fleet.SeverityUnknown }, alert.ErrSeverity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ok
			tt.edit(&r)
			err := r.Validate()
			if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("Validate = %v, want %v", err, tt.want)
			}
		})
	}
}

// BenchmarkApply measures evaluating envelopes of 100 printers' consumables
// snapshots on SQLite, with nothing changing (the common case).
func BenchmarkApply(b *testing.B) {
	db, err := store.Open(b.Context(), filepath.Join(b.TempDir(), "cloud.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	org, err := db.CreateOrg(b.Context(), "Acme")
	if err != nil {
		b.Fatal(err)
	}
	site, err := db.CreateSite(b.Context(), org, "Plant")
	if err != nil {
		b.Fatal(err)
	}
	ev := alert.NewEvaluator(db, nil, alert.Options{})
	const printers = 100
	var recs []fleet.Record
	for i := range printers {
		r := storetest.ConsumablesRecord(uint64(i+1), fleet.PrinterID(fmt.Sprintf("printer-%04d", i)), 40, t0)
		if i%10 == 0 {
			r.Consumables.Lamps[0].Status = "weak" // a tenth has an active alert
		}
		recs = append(recs, r)
	}
	en := storetest.Env(org, site, "gw", recs...)
	b.ResetTimer()
	for b.Loop() {
		if err := ev.Apply(b.Context(), en); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*printers), "µs/record")
}

// TestAlertsFollowPrinterKeys: an alert is about the printer as the store
// keeps it in the envelope's organisation. Another organisation's printer
// of the same ID gets its own alerts, under its own key; the evaluator
// may run before the SQL writer stored a new printer; a record of a
// printer of another site, which the store refuses, raises nothing.
func TestAlertsFollowPrinterKeys(t *testing.T) {
	ctx := t.Context()
	e := newEnv(t)
	e.send(t, storetest.IdentityRecord(0, p, "A's printer", at(0)), event(1, "E1", fleet.SeverityError))
	tenantOf := func(name string) (fleet.OrgID, fleet.SiteID) {
		org, err := e.db.CreateOrg(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		site, err := e.db.CreateSite(ctx, org, name+" plant")
		if err != nil {
			t.Fatal(err)
		}
		return org, site
	}
	fault := func(seq uint64) fleet.Record {
		r := event(2, "E2", fleet.SeverityError)
		r.Seq = seq
		return r
	}
	keyOf := func(org fleet.OrgID) fleet.PrinterID {
		places, err := e.db.PrinterPlaces(ctx, org, []fleet.PrinterID{p})
		if err != nil {
			t.Fatal(err)
		}
		return places[p].Key
	}
	alertsOf := func(org fleet.OrgID) []fleet.Alert {
		got, err := e.db.Alerts(ctx, org, alert.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	// Stored first, then evaluated: B's alert is about B's printer.
	orgB, siteB := tenantOf("B")
	envB := storetest.Env(orgB, siteB, "gw_b", storetest.IdentityRecord(1, p, "B's printer", at(2)), fault(2))
	if _, err := e.db.ApplyEnvelope(ctx, envB); err != nil {
		t.Fatal(err)
	}
	if err := e.ev.Apply(ctx, envB); err != nil {
		t.Fatal(err)
	}
	keyB := keyOf(orgB)
	if got := alertsOf(orgB); len(got) != 1 || got[0].PrinterID != keyB || keyB == p || got[0].PrinterName != "B's printer" {
		t.Errorf("B's alerts = %+v, want one of its printer %s named B's printer", got, keyB)
	}
	if got := alertsOf(e.org); len(got) != 1 || got[0].PrinterID != p || got[0].PrinterName != "A's printer" {
		t.Errorf("A's alerts = %+v, want only its own", got)
	}

	// Evaluated before the writer stored the printer: C's key is not
	// known yet, so the envelope is to be evaluated again; once stored,
	// its alert is about C's printer.
	orgC, siteC := tenantOf("C")
	envC := storetest.Env(orgC, siteC, "gw_c", fault(1))
	if err := e.ev.Apply(ctx, envC); err == nil {
		t.Fatal("Apply before the printer's key is known succeeded, want an error to retry")
	}
	if _, err := e.db.ApplyEnvelope(ctx, envC); err != nil {
		t.Fatal(err)
	}
	if err := e.ev.Apply(ctx, envC); err != nil {
		t.Fatal(err)
	}
	if got, key := alertsOf(orgC), keyOf(orgC); len(got) != 1 || got[0].PrinterID != key || key == p {
		t.Errorf("C's alerts = %+v, want one of its printer %s", got, key)
	}
	// A record the store refuses for good, of a printer whose key is not
	// known, is skipped rather than waited for: the store will never give
	// the printer a key, and the envelopes behind it would wait for ever.
	unstorable := fault(3)
	unstorable.Event.Seq = 1 << 63
	orgD, siteD := tenantOf("D")
	if err := e.ev.Apply(ctx, storetest.Env(orgD, siteD, "gw_d", unstorable)); err != nil {
		t.Errorf("Apply of an unstorable record = %v, want it skipped", err)
	}
	if got := alertsOf(orgD); len(got) != 0 {
		t.Errorf("D's alerts = %+v, want none", got)
	}
	// Even a printer whose ID no printer has as key yet is waited for: a
	// message the writer has not applied yet may give that key to another
	// organisation's printer.
	const q = fleet.PrinterID("printer-qqqq")
	rq := fault(2)
	rq.PrinterID = q
	envQ := storetest.Env(orgC, siteC, "gw_c", rq)
	if err := e.ev.Apply(ctx, envQ); err == nil {
		t.Fatal("Apply before the printer is stored succeeded, want an error to retry")
	}
	if _, err := e.db.ApplyEnvelope(ctx, envQ); err != nil {
		t.Fatal(err)
	}
	if err := e.ev.Apply(ctx, envQ); err != nil {
		t.Fatal(err)
	}
	if got, err := e.db.Alerts(ctx, orgC, alert.Filter{PrinterID: q}); err != nil || len(got) != 1 {
		t.Errorf("alerts of %s = %+v, %v; want one", q, got, err)
	}
	// A printer the writer does not store in time is given up on after
	// StoreWait: the envelopes behind it are not held for ever.
	const never = fleet.PrinterID("printer-never")
	rn, rn2 := fault(3), fault(4)
	rn.PrinterID, rn2.PrinterID = never, never
	envN := storetest.Env(orgC, siteC, "gw_c", rn, rn2)
	for _, advance := range []time.Duration{0, 9 * time.Minute} {
		e.clk.Advance(advance)
		if err := e.ev.Apply(ctx, envN); err == nil {
			t.Fatalf("Apply %v after the first wait succeeded, want an error to retry", advance)
		}
	}
	e.clk.Advance(time.Minute)
	if err := e.ev.Apply(ctx, envN); err != nil {
		t.Errorf("Apply after StoreWait = %v, want the printer given up on", err)
	}
	if got, err := e.db.Alerts(ctx, orgC, alert.Filter{PrinterID: never}); err != nil || len(got) != 0 {
		t.Errorf("alerts of %s = %+v, %v; want none", never, got, err)
	}

	// A's printer reported by a gateway of A's other site: refused by the
	// store, no alert.
	site2, err := e.db.CreateSite(ctx, e.org, "Second plant")
	if err != nil {
		t.Fatal(err)
	}
	env2 := storetest.Env(e.org, site2, "gw_2", event(3, "E3", fleet.SeverityCritical))
	env2.Records[0].Seq = 1
	if _, err := e.db.ApplyEnvelope(ctx, env2); !errors.Is(err, fleet.ErrRejected) {
		t.Fatalf("ApplyEnvelope from the other site = %v, want a rejection", err)
	}
	if err := e.ev.Apply(ctx, env2); err != nil {
		t.Fatal(err)
	}
	if got := alertsOf(e.org); len(got) != 1 {
		t.Errorf("A's alerts after the other site's fault = %+v, want only the first", got)
	}
}

// In the demo the evaluator's Clock is simulated and passes ten minutes in
// a blink while the past fills; the wait for the SQL writer is measured by
// WaitClock, real time, so a printer stored a moment later is not given up
// on.
func TestStoreWaitOnTheWaitClock(t *testing.T) {
	ctx := t.Context()
	e := newEnv(t)
	wall := clock.NewManual(t0)
	ev := alert.NewEvaluator(e.db, e.n, alert.Options{Clock: e.clk, WaitClock: wall})
	r := event(1, "E1", fleet.SeverityError)
	r.PrinterID, r.Seq = "printer-late", 1
	env := storetest.Env(e.org, e.sit, "gw_late", r)
	for range 3 {
		e.clk.Advance(24 * time.Hour) // the demo clock races on
		if err := ev.Apply(ctx, env); err == nil {
			t.Fatal("Apply before the printer is stored succeeded, want an error to retry")
		}
	}
	if _, err := e.db.ApplyEnvelope(ctx, env); err != nil {
		t.Fatal(err)
	}
	if err := ev.Apply(ctx, env); err != nil {
		t.Fatal(err)
	}
	if got, err := e.db.Alerts(ctx, e.org, alert.Filter{PrinterID: "printer-late"}); err != nil || len(got) != 1 {
		t.Errorf("alerts of the late printer = %+v, %v; want one, not given up on by the demo clock", got, err)
	}
}

// countingStore counts the store reads an evaluator makes per batch.
type countingStore struct {
	*store.DB
	mu                   sync.Mutex
	rules, places, reads int
}

func (c *countingStore) AlertRules(ctx context.Context, org fleet.OrgID) (alert.Rules, error) {
	c.mu.Lock()
	c.rules++
	c.mu.Unlock()
	return c.DB.AlertRules(ctx, org)
}

func (c *countingStore) PrinterPlaces(ctx context.Context, org fleet.OrgID, devices []fleet.PrinterID) (map[fleet.PrinterID]fleet.PrinterPlace, error) {
	c.mu.Lock()
	c.places++
	c.mu.Unlock()
	return c.DB.PrinterPlaces(ctx, org, devices)
}

func (c *countingStore) AlertStates(ctx context.Context, org fleet.OrgID, p fleet.PrinterID) ([]alert.State, error) {
	c.mu.Lock()
	c.reads++
	c.mu.Unlock()
	return c.DB.AlertStates(ctx, org, p)
}

// batchTraffic is a run of envelopes of two printers that opens, revises
// and resolves alerts, stored as the SQL writer stores them, and the
// messages of them (one poison among them).
func batchTraffic(t *testing.T, e *env) [][]byte {
	t.Helper()
	q := fleet.PrinterID("printer-bbbb")
	other := func(r fleet.Record) fleet.Record {
		r.PrinterID = q
		if r.Status != nil {
			r.Status.PrinterID = q
		}
		return r
	}
	envs := [][]fleet.Record{
		{status(0, fleet.StateError), other(status(0, fleet.StatePrinting))},
		{counters(1, 2), other(event(1, "E-7", fleet.SeverityCritical))},
		{status(2, fleet.StatePrinting), other(status(2, fleet.StateError))},
		{counters(3, 8), other(event(3, "E-8", fleet.SeverityError))},
		{counters(4, 50), status(5, fleet.StateError)},
	}
	var data [][]byte
	for i, recs := range envs {
		for k := range recs {
			e.seq++
			recs[k].Seq = e.seq
		}
		en := storetest.Env(e.org, e.sit, "gw", recs...)
		if _, err := e.db.ApplyEnvelope(t.Context(), en); err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(en)
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, b)
		if i == 2 {
			data = append(data, []byte(`{"org_id":"o"}`))
		}
	}
	return data
}

// TestHandleBatchAsOneByOne: a batch opens, revises and resolves the
// alerts that its messages handled one by one do, notifies the same, and
// reads the organisation's rules and printers' places once, and its
// printers' alerts less often.
func TestHandleBatchAsOneByOne(t *testing.T) {
	one := newEnv(t)
	countedOne := &countingStore{DB: one.db}
	one.ev = alert.NewEvaluator(countedOne, one.n, alert.Options{Clock: one.clk})
	for _, data := range batchTraffic(t, one) {
		if err := one.ev.Handle(t.Context(), data); err != nil {
			t.Fatal(err)
		}
	}
	batched := newEnv(t)
	counted := &countingStore{DB: batched.db}
	batched.ev = alert.NewEvaluator(counted, batched.n, alert.Options{Clock: batched.clk})
	data := batchTraffic(t, batched)
	if errs := batched.ev.HandleBatch(t.Context(), data); errs != nil {
		t.Fatalf("HandleBatch = %v", errs)
	}
	want, got := one.n.take(), batched.n.take()
	if len(want) == 0 {
		t.Fatal("the traffic notified nothing")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("notifications (-one by one +batch):\n%s", diff)
	}
	type alertSummary struct {
		Printer  fleet.PrinterID
		Rule     fleet.RuleKey
		Revision int
		Active   bool
	}
	sum := func(all []fleet.Alert) []alertSummary {
		var out []alertSummary
		for _, a := range all {
			out = append(out, alertSummary{a.PrinterID, a.Rule, a.Revision, a.Active()})
		}
		return out
	}
	if diff := cmp.Diff(sum(one.alerts(t)), sum(batched.alerts(t))); diff != "" {
		t.Errorf("stored alerts (-one by one +batch):\n%s", diff)
	}
	if counted.rules != 1 || counted.places != 1 || counted.reads >= countedOne.reads {
		t.Errorf("store reads for one batch of one organisation's two printers: rules %d, places %d, alert states %d; want 1, 1, fewer than one by one's %d",
			counted.rules, counted.places, counted.reads, countedOne.reads)
	}
}

// TestHandleBatchHoldsPrinterBack: a message whose printer the SQL writer
// has not stored yet fails, and so does a later message of that printer
// in the batch (its records must not overtake), while another printer's
// message is evaluated.
func TestHandleBatchHoldsPrinterBack(t *testing.T) {
	e := newEnv(t)
	q := fleet.PrinterID("printer-cccc")
	message := func(store bool, recs ...fleet.Record) []byte {
		for i := range recs {
			e.seq++
			recs[i].Seq = e.seq
		}
		en := storetest.Env(e.org, e.sit, "gw", recs...)
		if store {
			if _, err := e.db.ApplyEnvelope(t.Context(), en); err != nil {
				t.Fatal(err)
			}
		}
		b, err := json.Marshal(en)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	errQ := storetest.StatusRecord(0, q, fleet.StateError, at(0))
	okQ := storetest.StatusRecord(0, q, fleet.StatePrinting, at(1))
	data := [][]byte{message(false, errQ), message(true, status(1, fleet.StateError)), message(false, okQ)}
	errs := e.ev.HandleBatch(t.Context(), data)
	if len(errs) != 3 || errs[0] == nil || errs[1] != nil || errs[2] == nil {
		t.Fatalf("HandleBatch = %v, want the first and last (printer %s) failed, the second done", errs, q)
	}
	if got := e.n.take(); len(got) != 1 || got[0].Rule != alert.RulePrinterError {
		t.Errorf("notified %+v, want printer %s's error only", got, p)
	}
	// Redelivered once the writer stored the printer, both go through in order.
	for _, d := range [][]byte{data[0], data[2]} {
		en, err := fleet.DecodeEnvelope(d)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.db.ApplyEnvelope(t.Context(), en); err != nil {
			t.Fatal(err)
		}
	}
	if errs := e.ev.HandleBatch(t.Context(), [][]byte{data[0], data[2]}); errs != nil {
		t.Fatalf("HandleBatch again = %v", errs)
	}
	want := []summary{{alert.RulePrinterError, 1, fleet.SeverityError, "error", false}, {alert.RulePrinterError, 2, fleet.SeverityError, "error", true}}
	if diff := cmp.Diff(want, e.n.take()); diff != "" {
		t.Errorf("notifications of %s (-want +got):\n%s", q, diff)
	}
}
