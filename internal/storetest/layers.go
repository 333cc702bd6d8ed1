package storetest

import (
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// testLayersResentInPart: a batch of layers of which some arrived before
// (a resend after a lost acknowledgement, grown by new layers) adds only
// the new ones, whatever fast path a store takes for fresh layers.
func testLayersResentInPart(t *testing.T, db Store) {
	org, site := tenant(t, db, "Layers Inc")
	const p fleet.PrinterID = "printer-0001"
	layers := func(from, to int) []fleet.Record {
		var out []fleet.Record
		for i := from; i <= to; i++ {
			out = append(out, LayerRecord(uint64(100+i), p, "job-1", i, T0.Add(time.Duration(i)*10*time.Second)))
		}
		return out
	}
	apply(t, db, Env(org, site, "gw", layers(1, 3)...), 3)
	apply(t, db, Env(org, site, "gw", layers(2, 6)...), 3)
	apply(t, db, Env(org, site, "gw", layers(1, 6)...), 0)
	got, err := db.JobLayers(t.Context(), org, p, "job-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 {
		t.Fatalf("%d layers stored, want 6", len(got))
	}
	for i, l := range got {
		if l.Index != i+1 {
			t.Errorf("layer %d has index %d", i, l.Index)
		}
	}
}
