package alert_test

import (
	"strings"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/alert"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/maintenance"
)

// TestLampDegrading feeds a lamp's intensity through the evaluator with
// the degradation detectors: a steady decline alerts nobody, a step down
// opens one warning with the readings as evidence, replays change
// nothing, and the new lamp resolves it.
func TestLampDegrading(t *testing.T) {
	e := newEnv(t)
	e.ev = alert.NewEvaluator(e.db, e.n, alert.Options{Clock: e.clk, Degradation: maintenance.NewWatch()})
	lamp := func(m int, hours, intensity float64) fleet.Record {
		return consumables(m, func(c *fleet.Consumables) {
			c.Lamps = []fleet.Lamp{{Position: "fusing-2", Hours: hours, IntensityPercent: intensity, Status: "ok"}}
		})
	}
	var envs []fleet.Envelope
	for i, v := range []float64{95, 94.9, 94.8, 94.7, 94.6} {
		envs = append(envs, e.send(t, lamp(i*60, 800+float64(i), v)))
	}
	if got := e.n.takeOf(alert.RuleLampDegrading); len(got) != 0 {
		t.Fatalf("a steady decline notified %+v", got)
	}
	envs = append(envs, e.send(t, lamp(5*60, 805, 86.5)), e.send(t, lamp(6*60, 806, 86.4)))
	got := e.n.takeOf(alert.RuleLampDegrading)
	if len(got) != 1 || got[0].Severity != fleet.SeverityWarning || got[0].Resolved {
		t.Fatalf("after the step: %+v, want one open warning", got)
	}
	for _, want := range []string{"fusing-2", "94.8 % → 86.5 %", "usual 0.10 a reading", "805 h"} {
		if !strings.Contains(got[0].Detail, want) {
			t.Errorf("evidence %q lacks %q", got[0].Detail, want)
		}
	}
	for _, en := range envs {
		if err := e.ev.Apply(t.Context(), en); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.n.takeOf(alert.RuleLampDegrading); len(got) != 0 {
		t.Errorf("replays notified %+v", got)
	}
	e.send(t, lamp(7*60, 0.5, 100))
	if got := e.n.takeOf(alert.RuleLampDegrading); len(got) != 1 || !got[0].Resolved {
		t.Errorf("after the replacement: %+v, want the alert resolved", got)
	}
}

// TestCoolingWarning opens a warning on the cooling system's warning event
// and resolves it when the system is serviced; replays change nothing.
func TestCoolingWarning(t *testing.T) {
	e := newEnv(t)
	e.ev = alert.NewEvaluator(e.db, e.n, alert.Options{Clock: e.clk, Degradation: maintenance.NewWatch()})
	warn := e.send(t, event(10, "THERMAL_WARNING", fleet.SeverityWarning))
	got := e.n.takeOf(alert.RuleCoolingWarning)
	if len(got) != 1 || got[0].Resolved || !strings.Contains(got[0].Detail, "THERMAL_WARNING") {
		t.Fatalf("after the warning: %+v, want one open alert naming the event", got)
	}
	if err := e.ev.Apply(t.Context(), warn); err != nil {
		t.Fatal(err)
	}
	if got := e.n.takeOf(alert.RuleCoolingWarning); len(got) != 0 {
		t.Errorf("a replay notified %+v", got)
	}
	e.send(t, event(20, "COOLING_SYSTEM_SERVICED", fleet.SeverityInfo))
	if got := e.n.takeOf(alert.RuleCoolingWarning); len(got) != 1 || !got[0].Resolved {
		t.Errorf("after the service: %+v, want the alert resolved", got)
	}
}
