package commandcenter

import (
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// LatestSnapshot returns the newest consumables and counters of a printer,
// nothing before the first, and refuses a corrupt row.
func TestLatestSnapshot(t *testing.T) {
	st, _ := openStore(t)
	ctx := t.Context()
	p, err := st.AddPrinter(ctx, "p1:443", fpA, t0)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := st.LatestSnapshot(ctx, p.ID)
	if err != nil || snap.Consumables != nil || snap.Counters != nil {
		t.Fatalf("before any snapshot: %+v, %v; want none", snap, err)
	}
	for i, kg := range []float64{10, 12} {
		seen := t0.Add(time.Duration(i) * time.Hour)
		cons := &fleet.Consumables{Time: seen, BuildUnits: fleet.BuildUnits{Installed: &fleet.BuildUnit{SerialNumber: "BU", MaterialKG: kg}}}
		o := Observation{Status: deviceapi.Status{State: fleet.StateIdle, Time: seen}, Seen: seen, Snapshot: seen,
			History: History{Consumables: cons, Counters: &fleet.Counters{Layers: int64(i + 1), Time: seen}}}
		if err := st.Observe(ctx, p.ID, o, nil); err != nil {
			t.Fatal(err)
		}
	}
	snap, err = st.LatestSnapshot(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c := snap.Consumables; c == nil || c.Consumables.BuildUnits.Installed.MaterialKG != 12 || !c.Seen.Equal(t0.Add(time.Hour)) || c.Printer != p.ID {
		t.Errorf("consumables %+v, want the newest (12 kg, an hour later)", c)
	}
	if c := snap.Counters; c == nil || c.Counters.Layers != 2 || !c.Seen.Equal(t0.Add(time.Hour)) {
		t.Errorf("counters %+v, want the newest (2 layers)", c)
	}
	if _, err := st.db.ExecContext(ctx, `UPDATE counters_history SET counters = '{' WHERE printer = ?`, p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.LatestSnapshot(ctx, p.ID); err == nil || !strings.Contains(err.Error(), "corrupt row") {
		t.Errorf("a corrupt counters row: %v, want a corrupt row error", err)
	}
}
