package alert

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
)

var at0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestFindings(t *testing.T) {
	custom := CustomRule{ID: "r1", OrgID: "org_1", Metric: MetricAgentLevel, Op: AtMost, Threshold: 20, Severity: fleet.SeverityInfo}
	onSite := CustomRule{ID: "r2", OrgID: "org_1", SiteID: "site_2", Metric: MetricSystemErrors, Op: Above, Threshold: 2, Severity: fleet.SeverityError}
	rules := Rules{Custom: []CustomRule{custom, onSite}}
	cons := func(edit func(*fleet.Consumables)) fleet.Record {
		c := &fleet.Consumables{
			CleaningRoll: fleet.CleaningRoll{Status: "ok", UsagePercent: 10},
			Agents:       []fleet.AgentSupply{{Agent: "fusing", SupplyStatus: "ok", SupplyLevelPercent: 60}, {Agent: "detailing", SupplyStatus: "ok", SupplyLevelPercent: 50}},
			Printheads:   []fleet.Printhead{{Slot: 1, Status: "ok"}, {Slot: 2, Status: "ok"}},
			Lamps:        []fleet.Lamp{{Position: "fusing-1", Status: "ok", IntensityPercent: 95}},
			Time:         at0,
		}
		edit(c)
		return fleet.Record{Kind: fleet.KindConsumables, Time: at0, Consumables: c}
	}
	holding := func(fs []Finding) map[fleet.RuleKey]Finding {
		out := map[fleet.RuleKey]Finding{}
		for _, f := range fs {
			if f.Holds {
				f.At = time.Time{}
				out[f.Rule] = f
			}
		}
		return out
	}
	tests := []struct {
		name string
		rec  fleet.Record
		site fleet.SiteID
		want map[fleet.RuleKey]Finding
	}{
		{"all fine", cons(func(*fleet.Consumables) {}), "site_1", map[fleet.RuleKey]Finding{}},
		{"two agents, worst severity wins", cons(func(c *fleet.Consumables) {
			c.Agents[0].SupplyStatus, c.Agents[0].SupplyLevelPercent = "low", 9
			c.Agents[1].SupplyStatus, c.Agents[1].SupplyLevelPercent = "empty", 0
		}), "site_1", map[fleet.RuleKey]Finding{
			RuleAgentSupply: {Rule: RuleAgentSupply, Holds: true, Severity: fleet.SeverityError, Title: "Agent supply low",
				Detail: "fusing agent low (9%); detailing agent empty"},
			custom.Key(): {Rule: custom.Key(), Holds: true, Severity: fleet.SeverityInfo, Title: "Lowest agent supply level <= 20 %",
				Detail: "Lowest agent supply level is 0 %"},
		}},
		{"printhead failed is critical", cons(func(c *fleet.Consumables) { c.Printheads[0].Status = "degraded"; c.Printheads[1].Status = "failed" }), "site_1",
			map[fleet.RuleKey]Finding{RulePrinthead: {Rule: RulePrinthead, Holds: true, Severity: fleet.SeverityCritical,
				Title: "Printhead needs attention", Detail: "printhead 1 degraded; printhead 2 failed"}}},
		{"error event", fleet.Record{Kind: fleet.KindEvent, Time: at0, Event: &fleet.Event{Code: "E42", Description: "lamp driver", Severity: fleet.SeverityError, Time: at0}}, "site_1",
			map[fleet.RuleKey]Finding{RuleFaultEvent: {Rule: RuleFaultEvent, Holds: true, Severity: fleet.SeverityError, Title: "Fault", Detail: "E42: lamp driver", Touch: true}}},
		{"warning event is no fault", fleet.Record{Kind: fleet.KindEvent, Time: at0, Event: &fleet.Event{Code: "W1", Severity: fleet.SeverityWarning, Time: at0}}, "site_1",
			map[fleet.RuleKey]Finding{}},
		{"counters: site rule on its site", fleet.Record{Kind: fleet.KindCounters, Time: at0, Counters: &fleet.Counters{FilterStatusPercent: 50, SystemErrors: 3, Time: at0}}, "site_2",
			map[fleet.RuleKey]Finding{onSite.Key(): {Rule: onSite.Key(), Holds: true, Severity: fleet.SeverityError, Title: "System errors > 2", Detail: "System errors is 3"}}},
		{"counters: site rule elsewhere", fleet.Record{Kind: fleet.KindCounters, Time: at0, Counters: &fleet.Counters{FilterStatusPercent: 50, SystemErrors: 3, Time: at0}}, "site_1",
			map[fleet.RuleKey]Finding{}},
		{"layers say nothing", fleet.Record{Kind: fleet.KindLayer, Time: at0, Layer: &fleet.Layer{JobID: "j", Index: 1, Start: at0, End: at0}}, "site_1", map[fleet.RuleKey]Finding{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, holding(Findings(tt.rec, tt.site, rules, Options{}))); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzFindings: whatever a gateway sends that passes validation, the
// rules neither panic nor hold without a severity and a title.
func FuzzFindings(f *testing.F) {
	for _, s := range []string{
		`{"seq":1,"kind":"consumables","printer_id":"printer-aaaa","time":"2026-03-01T12:00:00Z","consumables":{"time":"2026-03-01T12:00:00Z","agents":[{"agent":"fusing","supply_status":"empty"}],"lamps":[{"position":"x","status":"weak"}],"cleaning_roll":{"status":"low"}}}`,
		`{"seq":1,"kind":"counters","printer_id":"printer-aaaa","time":"2026-03-01T12:00:00Z","counters":{"time":"2026-03-01T12:00:00Z","filter_status_percent":-5}}`,
		`{"seq":1,"kind":"event","printer_id":"printer-aaaa","time":"2026-03-01T12:00:00Z","event":{"code":"E","severity":"critical","time":"2026-03-01T12:00:00Z"}}`,
	} {
		f.Add([]byte(s))
	}
	rules := Rules{Custom: []CustomRule{
		{ID: "a", OrgID: "o", Metric: MetricLampIntensity, Op: Below, Threshold: 50, Severity: fleet.SeverityWarning},
		{ID: "b", OrgID: "o", Metric: MetricFilterStatus, Op: AtLeast, Threshold: -1, Severity: fleet.SeverityCritical},
	}}
	f.Fuzz(func(t *testing.T, data []byte) {
		var rec fleet.Record
		if json.Unmarshal(data, &rec) != nil || rec.Validate() != nil {
			return
		}
		for _, fd := range Findings(rec, "site", rules, Options{}) {
			if fd.Rule == "" || !fd.At.Equal(rec.Time) {
				t.Errorf("finding %+v of record at %v", fd, rec.Time)
			}
			if fd.Holds && (fd.Severity == fleet.SeverityUnknown || fd.Severity > fleet.SeverityCritical || fd.Title == "") {
				t.Errorf("holding finding without severity or title: %+v", fd)
			}
		}
	})
}

func TestRulesSiteOf(t *testing.T) {
	rules := Rules{Custom: []CustomRule{{ID: "a", SiteID: "site_b"}, {ID: "all"}}}
	tests := []struct {
		key  fleet.RuleKey
		want fleet.SiteID
	}{
		{"custom-a", "site_b"},
		{"custom-all", ""},
		{RuleLamp, ""},
		{"custom-unknown", ""},
	}
	for _, tt := range tests {
		if got := rules.SiteOf(tt.key); got != tt.want {
			t.Errorf("SiteOf(%s) = %q, want %q", tt.key, got, tt.want)
		}
	}
}
