package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/alert"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// AlertTracking is what the alert engine keeps: one active alert per
// printer and rule, saved revision by revision, and the printers its
// sweeps find silent or stalled.
type AlertTracking interface {
	AlertStates(ctx context.Context, org fleet.OrgID, p fleet.PrinterID) ([]alert.State, error)
	AlertStatesOf(ctx context.Context, org fleet.OrgID, printers []fleet.PrinterID) (map[fleet.PrinterID][]alert.State, error)
	SaveAlert(ctx context.Context, s alert.State, prev int) error
	ActiveAlerts(ctx context.Context, rule fleet.RuleKey) ([]alert.State, error)
	SilentPrinters(ctx context.Context, before time.Time) ([]alert.Subject, error)
	StalledPrinters(ctx context.Context, before, seenAfter time.Time) ([]alert.Subject, error)
}

// AlertTriage is what users do with an organisation's alerts: list them,
// read one, see each printer's worst, acknowledge and assign.
type AlertTriage interface {
	Alerts(ctx context.Context, org fleet.OrgID, f alert.Filter) ([]fleet.Alert, error)
	Alert(ctx context.Context, org fleet.OrgID, id fleet.AlertID) (fleet.Alert, error)
	WorstAlerts(ctx context.Context, org fleet.OrgID) (map[fleet.PrinterID]fleet.Alert, error)
	AckAlert(ctx context.Context, org fleet.OrgID, id fleet.AlertID, user fleet.UserID, at time.Time) error
	AssignAlert(ctx context.Context, org fleet.OrgID, id fleet.AlertID, user fleet.UserID) error
}

// RuleSettings keeps an organisation's custom alert rules and the rules
// it muted.
type RuleSettings interface {
	AlertRules(ctx context.Context, org fleet.OrgID) (alert.Rules, error)
	CreateAlertRule(ctx context.Context, r alert.CustomRule) (string, error)
	DeleteAlertRule(ctx context.Context, org fleet.OrgID, id string, at time.Time) error
	SetRuleMuted(ctx context.Context, org fleet.OrgID, rule fleet.RuleKey, muted bool) error
}

// AlertStore is what RunAlerts drives: alerts, with organisations,
// ingest for the printers alerts are about and users who act on them.
type AlertStore interface {
	AlertTracking
	AlertTriage
	RuleSettings
	Orgs
	Ingest
	Accounts
}

// RunAlerts runs the alerts contract against stores made by open: the
// lifecycle of an alert by revision, one active alert per printer and rule
// even under races, acknowledgement and assignment within the
// organisation, the alert list's filters, custom and muted rules, and the
// sweeps' queries for silent and stalled printers.
func RunAlerts(t *testing.T, open func(t *testing.T) AlertStore) {
	runTests(t, open, []storeTest[AlertStore]{
		{"AlertLifecycle", testAlertLifecycle},
		{"AlertQueries", testAlertQueries},
		{"AlertOpenUnderRace", testAlertOpenRace},
		{"AlertRules", testAlertRules},
		{"AlertSweepQueries", testAlertSweepQueries},
	})
}

// newAlert is an active alert of rule opened at at.
func newAlert(id fleet.AlertID, org fleet.OrgID, site fleet.SiteID, p fleet.PrinterID, rule fleet.RuleKey, sev fleet.Severity, at time.Time) alert.State {
	return alert.State{Alert: fleet.Alert{ID: id, OrgID: org, SiteID: site, PrinterID: p, Rule: rule, Severity: sev,
		Title: "t", Detail: "d", Opened: at, Updated: at, Revision: 1}, Seen: at}
}

func saveAlert(t *testing.T, s AlertTracking, a alert.State, prev int) {
	t.Helper()
	if err := s.SaveAlert(t.Context(), a, prev); err != nil {
		t.Fatalf("SaveAlert(%s rev %d, prev %d): %v", a.ID, a.Revision, prev, err)
	}
}

func testAlertLifecycle(t *testing.T, db AlertStore) {
	ctx := t.Context()
	org, site := tenant(t, db, "Acme")
	other, otherSite := tenant(t, db, "Other")
	const p = fleet.PrinterID("printer-aaaa")
	apply(t, db, Env(org, site, "gw", IdentityRecord(1, p, "3DP 1", T0)), 1)

	a := newAlert("alr_1", org, site, p, alert.RuleLamp, fleet.SeverityWarning, T0)
	saveAlert(t, db, a, 0)
	dup := newAlert("alr_2", org, site, p, alert.RuleLamp, fleet.SeverityError, T0.Add(time.Minute))
	checkErrs(t, []errCase{
		{"second active alert of the rule", func() error { return db.SaveAlert(ctx, dup, 0) }, fleet.ErrConflict},
		{"stale revision", func() error {
			b := a
			b.Revision = 3
			return db.SaveAlert(ctx, b, 2)
		}, fleet.ErrConflict},
		{"other org's alert", func() error {
			b := a
			b.OrgID, b.Revision = other, 2
			return db.SaveAlert(ctx, b, 1)
		}, fleet.ErrConflict},
		{"invalid", func() error { b := dup; b.Severity = 0; return db.SaveAlert(ctx, b, 0) }, nil},
		{"new alert resolved", func() error { b := dup; b.Resolved = b.Opened; return db.SaveAlert(ctx, b, 0) }, nil},
		{"revision jump", func() error { b := a; b.Revision = 5; return db.SaveAlert(ctx, b, 1) }, nil},
	})

	// Touch, revise, resolve; acknowledgement and assignment survive.
	uid, err := db.CreateUser(ctx, org, "ada", "h", fleet.RoleOperator)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.AckAlert(ctx, org, a.ID, uid, T0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := db.AssignAlert(ctx, org, a.ID, uid); err != nil {
		t.Fatal(err)
	}
	touched := a
	touched.Seen = T0.Add(2 * time.Minute)
	saveAlert(t, db, touched, 1)
	revised := touched
	revised.Severity, revised.Detail, revised.Updated, revised.Seen, revised.Revision =
		fleet.SeverityError, "worse", T0.Add(3*time.Minute), T0.Add(3*time.Minute), 2
	saveAlert(t, db, revised, 1)

	want := revised
	want.PrinterName, want.AckedBy, want.AckedAt, want.Assignee = "3DP 1", uid, T0.Add(time.Second), uid
	got, err := db.AlertStates(ctx, org, p)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]alert.State{want}, got); diff != "" {
		t.Errorf("AlertStates (-want +got):\n%s", diff)
	}
	if got, err := db.AlertStates(ctx, other, p); err != nil || len(got) != 0 {
		t.Errorf("AlertStates of another org = %v, %v; want none", got, err)
	}
	// All at once: the same, and nothing of printers without alerts or
	// of another organisation.
	many, err := db.AlertStatesOf(ctx, org, []fleet.PrinterID{"printer-none", p})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[fleet.PrinterID][]alert.State{p: {want}}, many, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("AlertStatesOf (-want +got):\n%s", diff)
	}
	if got, err := db.AlertStatesOf(ctx, other, []fleet.PrinterID{p}); err != nil || len(got[p]) != 0 {
		t.Errorf("AlertStatesOf of another org = %v, %v; want none", got, err)
	}
	// A later acknowledgement does not replace the first.
	uid2, err := db.CreateUser(ctx, org, "bob", "h", fleet.RoleOperator)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.AckAlert(ctx, org, a.ID, uid2, T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if g, err := db.Alert(ctx, org, a.ID); err != nil || g.AckedBy != uid || !g.AckedAt.Equal(T0.Add(time.Second)) {
		t.Errorf("after second ack: %+v, %v; want the first ack kept", g, err)
	}
	ouid, err := db.CreateUser(ctx, other, "eve", "h", fleet.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	checkErrs(t, []errCase{
		{"ack other org", func() error { return db.AckAlert(ctx, other, a.ID, ouid, T0) }, fleet.ErrNotFound},
		{"ack unknown", func() error { return db.AckAlert(ctx, org, "alr_none", uid, T0) }, fleet.ErrNotFound},
		{"ack no user", func() error { return db.AckAlert(ctx, org, a.ID, "", T0) }, nil},
		{"assign other org", func() error { return db.AssignAlert(ctx, other, a.ID, ouid) }, fleet.ErrNotFound},
		{"assign to other org's user", func() error { return db.AssignAlert(ctx, org, a.ID, ouid) }, fleet.ErrNotFound},
		{"assign to unknown user", func() error { return db.AssignAlert(ctx, org, a.ID, "usr_none") }, fleet.ErrNotFound},
		{"read other org", func() error { _, err := db.Alert(ctx, other, a.ID); return err }, fleet.ErrNotFound},
	})
	if err := db.AssignAlert(ctx, org, a.ID, ""); err != nil {
		t.Fatal(err)
	}

	resolved := revised
	resolved.Resolved, resolved.Updated, resolved.Seen, resolved.Revision = T0.Add(time.Hour), T0.Add(time.Hour), T0.Add(time.Hour), 3
	saveAlert(t, db, resolved, 2)
	if err := db.SaveAlert(ctx, resolved, 2); !errors.Is(err, fleet.ErrConflict) {
		t.Errorf("resolving twice: err = %v, want ErrConflict", err)
	}
	// Now a new alert of the rule may open; it is the newest state.
	second := newAlert("alr_3", org, site, p, alert.RuleLamp, fleet.SeverityWarning, T0.Add(2*time.Hour))
	saveAlert(t, db, second, 0)
	if got, err := db.AlertStates(ctx, org, p); err != nil || len(got) != 1 || got[0].ID != "alr_3" {
		t.Errorf("AlertStates after reopening = %+v, %v; want alr_3 only", got, err)
	}
	// An alert of another org's printer with the same rule is independent.
	saveAlert(t, db, newAlert("alr_4", other, otherSite, "printer-bbbb", alert.RuleLamp, fleet.SeverityWarning, T0), 0)
	// A gateway of another organisation reporting org's printer neither
	// blocks org's alerts nor learns the printer's name.
	saveAlert(t, db, newAlert("alr_5", other, otherSite, p, alert.RuleLamp, fleet.SeverityWarning, T0.Add(3*time.Hour)), 0)
	if a, err := db.Alert(ctx, other, "alr_5"); err != nil || a.PrinterName != "" {
		t.Errorf("other org's alert on org's printer = %+v, %v; want no printer name", a, err)
	}
	if got, err := db.AlertStates(ctx, org, p); err != nil || len(got) != 1 || got[0].ID != "alr_3" {
		t.Errorf("AlertStates beside another org's alert = %+v, %v; want alr_3 only", got, err)
	}
	active, err := db.ActiveAlerts(ctx, alert.RuleLamp)
	if err != nil {
		t.Fatal(err)
	}
	var ids []fleet.AlertID
	for _, s := range active {
		ids = append(ids, s.ID)
	}
	if diff := cmp.Diff([]fleet.AlertID{"alr_4", "alr_3", "alr_5"}, ids); diff != "" {
		t.Errorf("ActiveAlerts (-want +got):\n%s", diff)
	}
}

func testAlertQueries(t *testing.T, db AlertStore) {
	ctx := t.Context()
	org, s1 := tenant(t, db, "Acme")
	s2, err := db.CreateSite(ctx, org, "Second")
	if err != nil {
		t.Fatal(err)
	}
	other, os := tenant(t, db, "Other")
	const p1, p2, p3 = fleet.PrinterID("printer-0001"), fleet.PrinterID("printer-0002"), fleet.PrinterID("printer-0003")
	at := func(m int) time.Time { return T0.Add(time.Duration(m) * time.Minute) }
	saveAlert(t, db, newAlert("alr_a", org, s1, p1, alert.RuleLamp, fleet.SeverityWarning, at(1)), 0)
	saveAlert(t, db, newAlert("alr_b", org, s1, p1, alert.RulePrinthead, fleet.SeverityCritical, at(2)), 0)
	saveAlert(t, db, newAlert("alr_c", org, s2, p2, alert.RuleOffline, fleet.SeverityWarning, at(3)), 0)
	old := newAlert("alr_d", org, s2, p2, alert.RuleFilter, fleet.SeverityError, at(0))
	saveAlert(t, db, old, 0)
	old.Resolved, old.Updated, old.Seen, old.Revision = at(5), at(5), at(5), 2
	saveAlert(t, db, old, 1)
	saveAlert(t, db, newAlert("alr_x", other, os, p3, alert.RuleLamp, fleet.SeverityCritical, at(1)), 0)

	tests := []struct {
		name string
		f    alert.Filter
		want []fleet.AlertID
	}{
		{"all: active worst first, then past", alert.Filter{}, []fleet.AlertID{"alr_b", "alr_c", "alr_a", "alr_d"}},
		{"active", alert.Filter{Status: alert.ActiveOnly}, []fleet.AlertID{"alr_b", "alr_c", "alr_a"}},
		{"resolved", alert.Filter{Status: alert.ResolvedOnly}, []fleet.AlertID{"alr_d"}},
		{"site 2", alert.Filter{Sites: access.OnlySites(s2)}, []fleet.AlertID{"alr_c", "alr_d"}},
		{"no site", alert.Filter{Sites: access.OnlySites()}, nil},
		{"other org's site", alert.Filter{Sites: access.OnlySites(os)}, nil},
		{"printer", alert.Filter{PrinterID: p1}, []fleet.AlertID{"alr_b", "alr_a"}},
		{"other org's printer", alert.Filter{PrinterID: p3}, nil},
		{"period", alert.Filter{From: at(1), To: at(3)}, []fleet.AlertID{"alr_b", "alr_a"}},
		{"page", alert.Filter{Limit: 2, Offset: 1}, []fleet.AlertID{"alr_c", "alr_a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.Alerts(ctx, org, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []fleet.AlertID
			for _, a := range got {
				if a.OrgID != org {
					t.Errorf("alert %s of org %s", a.ID, a.OrgID)
				}
				ids = append(ids, a.ID)
			}
			if diff := cmp.Diff(tt.want, ids); diff != "" {
				t.Errorf("Alerts (-want +got):\n%s", diff)
			}
		})
	}
	worst, err := db.WorstAlerts(ctx, org)
	if err != nil {
		t.Fatal(err)
	}
	got := map[fleet.PrinterID]fleet.AlertID{}
	for p, a := range worst {
		got[p] = a.ID
	}
	if diff := cmp.Diff(map[fleet.PrinterID]fleet.AlertID{p1: "alr_b", p2: "alr_c"}, got); diff != "" {
		t.Errorf("WorstAlerts (-want +got):\n%s", diff)
	}
}

// testAlertOpenRace: nodes opening the same alert at once make one.
func testAlertOpenRace(t *testing.T, db AlertStore) {
	ctx := t.Context()
	org, site := tenant(t, db, "Acme")
	errs := race(8, func(i int) error {
		a := newAlert(fleet.AlertID("alr_"+string(rune('a'+i))), org, site, "printer-aaaa", alert.RuleOffline, fleet.SeverityWarning, T0)
		return db.SaveAlert(ctx, a, 0)
	})
	checkOneWins(t, errs, fleet.ErrConflict)
	if got, err := db.Alerts(ctx, org, alert.Filter{}); err != nil || len(got) != 1 {
		t.Errorf("Alerts = %d, %v; want 1", len(got), err)
	}
}

func testAlertRules(t *testing.T, db AlertStore) {
	ctx := t.Context()
	org, site := tenant(t, db, "Acme")
	other, otherSite := tenant(t, db, "Other")
	r := alert.CustomRule{OrgID: org, SiteID: site, Metric: alert.MetricFilterStatus, Op: alert.Below, Threshold: 15,
		Severity: fleet.SeverityError, Created: T0}
	id, err := db.CreateAlertRule(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	r.ID = id
	all := alert.CustomRule{OrgID: org, Metric: alert.MetricSystemErrors, Op: alert.AtLeast, Threshold: 3,
		Severity: fleet.SeverityWarning, Created: T0.Add(time.Second)}
	if all.ID, err = db.CreateAlertRule(ctx, all); err != nil {
		t.Fatal(err)
	}
	if err := db.SetRuleMuted(ctx, org, alert.RuleOffline, true); err != nil {
		t.Fatal(err)
	}
	if err := db.SetRuleMuted(ctx, org, r.Key(), true); err != nil {
		t.Fatal(err)
	}
	if err := db.SetRuleMuted(ctx, org, alert.RuleOffline, true); err != nil {
		t.Errorf("muting twice: %v", err)
	}
	got, err := db.AlertRules(ctx, org)
	if err != nil {
		t.Fatal(err)
	}
	want := alert.Rules{Custom: []alert.CustomRule{r, all}, Muted: []fleet.RuleKey{r.Key(), alert.RuleOffline}}
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b fleet.RuleKey) bool { return a < b })); diff != "" {
		t.Errorf("AlertRules (-want +got):\n%s", diff)
	}
	if got, err := db.AlertRules(ctx, other); err != nil || len(got.Custom)+len(got.Muted) != 0 {
		t.Errorf("AlertRules of another org = %+v, %v; want none", got, err)
	}
	bad := r
	bad.Metric = "temperature"
	checkErrs(t, []errCase{
		{"invalid", func() error { _, err := db.CreateAlertRule(ctx, bad); return err }, alert.ErrMetric},
		{"other org's site", func() error {
			x := r
			x.SiteID = otherSite
			_, err := db.CreateAlertRule(ctx, x)
			return err
		}, fleet.ErrNotFound},
		{"unknown org", func() error { x := r; x.OrgID = "org_none"; _, err := db.CreateAlertRule(ctx, x); return err }, fleet.ErrNotFound},
		{"mute other org's rule", func() error { return db.SetRuleMuted(ctx, other, r.Key(), true) }, fleet.ErrNotFound},
		{"mute unknown rule", func() error { return db.SetRuleMuted(ctx, org, "no-such-rule", true) }, fleet.ErrNotFound},
		{"delete other org's rule", func() error { return db.DeleteAlertRule(ctx, other, r.ID, T0) }, fleet.ErrNotFound},
	})
	// Deleting a rule resolves its alerts and forgets its mute.
	saveAlert(t, db, newAlert("alr_1", org, site, "printer-aaaa", r.Key(), fleet.SeverityError, T0), 0)
	if err := db.DeleteAlertRule(ctx, org, r.ID, T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if a, err := db.Alert(ctx, org, "alr_1"); err != nil || !a.Resolved.Equal(T0.Add(time.Hour)) || a.Revision != 2 {
		t.Errorf("alert of deleted rule = %+v, %v; want resolved at revision 2", a, err)
	}
	if err := db.DeleteAlertRule(ctx, org, r.ID, T0); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("deleting twice: err = %v, want ErrNotFound", err)
	}
	if err := db.SetRuleMuted(ctx, org, alert.RuleOffline, false); err != nil {
		t.Fatal(err)
	}
	got, err = db.AlertRules(ctx, org)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(alert.Rules{Custom: []alert.CustomRule{all}}, got); diff != "" {
		t.Errorf("AlertRules after delete and unmute (-want +got):\n%s", diff)
	}
}

func testAlertSweepQueries(t *testing.T, db AlertStore) {
	ctx := t.Context()
	org, site := tenant(t, db, "Acme")
	const (
		quiet   = fleet.PrinterID("printer-quiet")
		stuck   = fleet.PrinterID("printer-stuck")
		moving  = fleet.PrinterID("printer-moving")
		idle    = fleet.PrinterID("printer-idle")
		waiting = fleet.PrinterID("printer-waiting") // printing, no layer yet, job just reported
	)
	at := func(m int) time.Time { return T0.Add(time.Duration(m) * time.Minute) }
	apply(t, db, Env(org, site, "gw",
		StatusRecord(1, quiet, fleet.StateIdle, at(0)),
		StatusRecord(2, stuck, fleet.StatePrinting, at(50)),
		JobRecord(3, stuck, "job12345", fleet.JobPrinting, at(0), at(1)),
		LayerRecord(4, stuck, "job12345", 1, at(5)),
		LayerRecord(5, stuck, "job12345", 2, at(10)),
		StatusRecord(6, moving, fleet.StatePrinting, at(50)),
		JobRecord(7, moving, "job12345", fleet.JobPrinting, at(0), at(1)),
		LayerRecord(8, moving, "job12345", 1, at(45)),
		StatusRecord(9, idle, fleet.StateIdle, at(50)),
		StatusRecord(10, waiting, fleet.StatePrinting, at(50)),
		JobRecord(11, waiting, "job12345", fleet.JobPrinting, at(0), at(40)),
	), 11)
	silent, err := db.SilentPrinters(ctx, at(30))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]alert.Subject{{OrgID: org, SiteID: site, PrinterID: quiet, Since: at(0)}}, silent); diff != "" {
		t.Errorf("SilentPrinters (-want +got):\n%s", diff)
	}
	stalled, err := db.StalledPrinters(ctx, at(20), at(30))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]alert.Subject{{OrgID: org, SiteID: site, PrinterID: stuck, Since: at(10)}}, stalled); diff != "" {
		t.Errorf("StalledPrinters (-want +got):\n%s", diff)
	}
	if got, err := db.StalledPrinters(ctx, at(20), at(55)); err != nil || len(got) != 0 {
		t.Errorf("StalledPrinters of printers not seen lately = %v, %v; want none", got, err)
	}
}
