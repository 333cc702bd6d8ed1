package alert_test

import (
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/alert"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/i18n"
	"github.com/google/go-cmp/cmp"
)

// TestReport hands the evaluator findings computed elsewhere, as the
// cloud's update sweep does: each alert revision is notified once.
func TestReport(t *testing.T) {
	type step struct {
		m     int    // minute of the observation
		offer string // the offered firmware; "" → nothing offered
	}
	upd := alert.RuleUpdateAvailable
	info := fleet.SeverityInfo
	tests := []struct {
		name       string
		muted      bool
		steps      []step
		want       []summary
		wantAlerts int
		wantActive bool
	}{
		{"opens once", false, []step{{1, "4.3.0"}, {2, "4.3.0"}, {3, "4.3.0"}},
			[]summary{{upd, 1, info, "Firmware 4.3.0", false}}, 1, true},
		{"revises when the offer changes", false, []step{{1, "4.3.0"}, {2, "4.4.0"}, {3, "4.4.0"}},
			[]summary{{upd, 1, info, "Firmware 4.3.0", false}, {upd, 2, info, "Firmware 4.4.0", false}}, 1, true},
		{"resolves when installed", false, []step{{1, "4.3.0"}, {2, ""}, {3, ""}},
			[]summary{{upd, 1, info, "Firmware 4.3.0", false}, {upd, 2, info, "Firmware 4.3.0", true}}, 1, false},
		{"opens again for the next release", false, []step{{1, "4.3.0"}, {2, ""}, {3, "4.4.0"}},
			[]summary{{upd, 1, info, "Firmware 4.3.0", false}, {upd, 2, info, "Firmware 4.3.0", true},
				{upd, 1, info, "Firmware 4.4.0", false}}, 2, true},
		{"an older observation changes nothing", false, []step{{5, "4.3.0"}, {4, ""}, {3, "4.4.0"}},
			[]summary{{upd, 1, info, "Firmware 4.3.0", false}}, 1, true},
		{"nothing offered opens nothing", false, []step{{1, ""}, {2, ""}}, nil, 0, false},
		{"muted rule opens nothing", true, []step{{1, "4.3.0"}, {2, "4.4.0"}}, nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if tt.muted {
				if err := e.db.SetRuleMuted(t.Context(), e.org, upd, true); err != nil {
					t.Fatal(err)
				}
			}
			subj := alert.Subject{OrgID: e.org, SiteID: e.sit, PrinterID: p}
			for _, s := range tt.steps {
				f := alert.Finding{Rule: upd, At: at(s.m)}
				if s.offer != "" {
					f.Holds, f.Severity, f.Title, f.Detail = true, info, "Firmware update available", "Firmware "+s.offer
				}
				if err := e.ev.Report(t.Context(), subj, f); err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(tt.want, e.n.take()); diff != "" {
				t.Errorf("notifications (-want +got):\n%s", diff)
			}
			all := e.alerts(t)
			if len(all) != tt.wantAlerts {
				t.Fatalf("alerts = %+v, want %d", all, tt.wantAlerts)
			}
			if len(all) > 0 && all[0].Active() != tt.wantActive {
				t.Errorf("newest alert active = %v, want %v", all[0].Active(), tt.wantActive)
			}
		})
	}
}

// TestUpdateRuleIsBuiltin: the rule is listed with the others, so an
// organisation can mute it on the rules page, which shows every built-in
// rule's title and description in the reader's language.
func TestUpdateRuleIsBuiltin(t *testing.T) {
	if !alert.IsBuiltin(alert.RuleUpdateAvailable) {
		t.Errorf("IsBuiltin(%s) = false, want true", alert.RuleUpdateAvailable)
	}
	for _, b := range alert.Builtins(alert.Options{}) {
		for _, m := range []string{b.Title, b.Description} {
			if !i18n.German.Has(m) {
				t.Errorf("rule %s: no German for %q", b.Key, m)
			}
		}
	}
}
