package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
)

// testTrend: a day of snapshots every 5 minutes, read as 24 points, is
// the last snapshot of each hour; fewer snapshots than points come back
// all; another organisation's printer is not found; a range without
// bounds is refused.
func testTrend(t *testing.T, db Store) {
	ctx := t.Context()
	org, site := tenant(t, db, "Acme")
	other, _ := tenant(t, db, "Other")
	p := fleet.PrinterID("printer-trend-1")
	var recs []fleet.Record
	var cons []fleet.Consumables
	var counters []fleet.Counters
	for i := range 24 * 12 {
		at := T0.Add(time.Duration(i) * 5 * time.Minute)
		c := ConsumablesRecord(uint64(2*i+1), p, float64(i)/10, at)
		n := CountersRecord(uint64(2*i+2), p, int64(i+1), at)
		recs = append(recs, c, n)
		cons, counters = append(cons, *c.Consumables), append(counters, *n.Counters)
	}
	if _, err := db.ApplyEnvelope(ctx, Env(org, site, "gw_trend", recs...)); err != nil {
		t.Fatal(err)
	}
	var wantCons []fleet.Consumables
	var wantCounters []fleet.Counters
	for h := range 24 {
		wantCons = append(wantCons, cons[h*12+11])
		wantCounters = append(wantCounters, counters[h*12+11])
	}
	day := T0.Add(24 * time.Hour)
	gotCons, err := db.ConsumablesTrend(ctx, org, p, T0, day, 24)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantCons, gotCons); diff != "" {
		t.Errorf("ConsumablesTrend of a day in 24 points (-want +got):\n%s", diff)
	}
	gotCounters, err := db.CountersTrend(ctx, org, p, T0, day, 24)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantCounters, gotCounters); diff != "" {
		t.Errorf("CountersTrend of a day in 24 points (-want +got):\n%s", diff)
	}
	// An hour in 1000 points: every snapshot of the hour, in order.
	gotCons, err = db.ConsumablesTrend(ctx, org, p, T0.Add(time.Hour), T0.Add(2*time.Hour), 1000)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(cons[12:24], gotCons); diff != "" {
		t.Errorf("ConsumablesTrend of an hour in 1000 points (-want +got):\n%s", diff)
	}
	// A range before any snapshot is empty.
	if got, err := db.CountersTrend(ctx, org, p, T0.Add(-time.Hour), T0, 10); err != nil || len(got) != 0 {
		t.Errorf("CountersTrend before the first snapshot = %v, %v; want none", got, err)
	}
	if _, err := db.ConsumablesTrend(ctx, other, p, T0, day, 24); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("ConsumablesTrend of another org's printer: err = %v, want ErrNotFound", err)
	}
	if _, err := db.CountersTrend(ctx, org, p, time.Time{}, day, 24); err == nil {
		t.Error("CountersTrend without a start: no error")
	}
	if _, err := db.ConsumablesTrend(ctx, org, p, T0, day, 0); err == nil {
		t.Error("ConsumablesTrend of 0 points: no error")
	}
}
