package printer

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// everything renders all a printer serves, for comparison.
func everything(t *testing.T, p *Printer) string {
	t.Helper()
	all := map[string]any{
		"identity": p.Identity().Identity, "status": p.Status(), "counters": p.Counters(), "consumables": p.Consumables(),
		"events": p.Events(0, 1<<20).Items, "jobs": p.Jobs(0, 1<<20).Items, "layers": p.Layers(0, 1<<20).Items,
	}
	for _, k := range fleet.LogKinds() {
		all["log "+string(k)] = p.Logs(k, 0, 1<<20).Items
	}
	b, err := json.Marshal(all)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A printer in a fleet of many (one process, one clock, `printer --count`)
// produces exactly the records of the same printer alone with the same seed.
func TestFleetPrinterMatchesSinglePrinter(t *testing.T) {
	start := time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC)
	fleetClock, soloClock := clock.NewManual(start), clock.NewManual(start)
	var many []*Printer
	for i := range 20 {
		many = append(many, New(Options{Name: "3DP", Seed: 100 + int64(i), Clock: fleetClock}))
	}
	solo := New(Options{Name: "3DP", Seed: 107, Clock: soloClock})
	for range 3 * 24 * 6 { // three days in 10-minute steps, every printer read each step
		fleetClock.Advance(10 * time.Minute)
		soloClock.Advance(10 * time.Minute)
		for _, p := range many {
			p.Status()
		}
		solo.Status()
	}
	if got, want := everything(t, many[7]), everything(t, solo); got != want {
		t.Errorf("printer 7 of the fleet differs from a single printer with its seed:\nfleet %.300s\nsolo  %.300s", got, want)
	}
}
