package dashboard

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// A week of snapshots every 5 minutes, as the Command Center sends them:
// the printer page plots them thinned in the store, and still from the
// start of the week to the newest snapshot.
func TestPrinterPageDenseHistory(t *testing.T) {
	f := newFixture(t)
	const p = fleet.PrinterID("printer-a042")
	now := f.clock.Now()
	from := now.AddDate(0, 0, -7)
	recs := []fleet.Record{{Kind: fleet.KindIdentity, PrinterID: p, Time: from, Identity: &fleet.Identity{PrinterID: p,
		Name: "3DP 42", Model: "FF-4200", SerialNumber: "SN42"}}}
	const snapshots = 7 * 24 * 12
	for i := range snapshots {
		at := from.Add(time.Duration(i) * 5 * time.Minute)
		recs = append(recs, consumablesRecord(p, at, 90-float64(i)*0.04, float64(i)*0.04),
			fleet.Record{Kind: fleet.KindCounters, PrinterID: p, Time: at,
				Counters: &fleet.Counters{FilterStatusPercent: 60 - float64(i)*0.02, Time: at}})
	}
	f.apply(t, f.orgA, f.siteA, recs...)
	resp, body := f.getAs(t, f.user(t, "ada"), "/printers/"+string(p)+"?period=7d", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d\n%s", resp.StatusCode, body)
	}
	// The newest snapshot (number 2015: level 90 - 2015 × 0.04, filter
	// 60 - 2015 × 0.02) ends each plot; the first span, a 365th of the week
	// (27.6 minutes), starts it with its newest snapshot, number 5.
	for _, want := range []string{"fusing from 9.40 % to 89.8 %, latest 9.40 %", "Cleaning roll used from 0.20 % to 80.6 %, latest 80.6 %",
		"Filter life left from 19.7 % to 59.9 %, latest 19.7 %"} {
		if !strings.Contains(body, want) {
			t.Errorf("printer page lacks the plot summary %q", want)
		}
	}
}

// A printer whose clock runs ahead of the cloud's (the demo's accelerated
// printers, or a wrong clock) still shows its wear: the plots end at its
// newest snapshot rather than at the cloud's now.
func TestPrinterPageClockAhead(t *testing.T) {
	f := newFixture(t)
	const p = fleet.PrinterID("printer-a043")
	ahead := f.clock.Now().AddDate(0, 2, 0) // two months in the cloud's future
	recs := []fleet.Record{{Kind: fleet.KindIdentity, PrinterID: p, Time: f.clock.Now(), Identity: &fleet.Identity{PrinterID: p,
		Name: "3DP 43", Model: "FF-4200", SerialNumber: "SN43"}}}
	for i := range 10 {
		at := ahead.Add(time.Duration(i) * time.Hour)
		recs = append(recs, consumablesRecord(p, at, 80-float64(i), float64(i)),
			fleet.Record{Kind: fleet.KindCounters, PrinterID: p, Time: f.clock.Now(),
				Counters: &fleet.Counters{FilterStatusPercent: 50 - float64(i), Time: at}})
	}
	f.apply(t, f.orgA, f.siteA, recs...)
	resp, body := f.getAs(t, f.user(t, "ada"), "/printers/"+string(p)+"?period=7d", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d\n%s", resp.StatusCode, body)
	}
	for _, want := range []string{"fusing from 71 % to 80 %, latest 71 %", "Filter life left from 41 % to 50 %, latest 41 %"} {
		if !strings.Contains(body, want) {
			t.Errorf("printer page lacks the plot summary %q", want)
		}
	}
}
