package main

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/storetest"
	"github.com/fusionfleet/fusionfleet/internal/update"
)

// BenchmarkUpdateAlertsSweep measures one update sweep over 10,000
// printers of one organisation: with nothing on offer, and with an offer
// for every printer whose alert is already open (the steady state after
// a release: two store reads per printer, no write, no notification).
func BenchmarkUpdateAlertsSweep(b *testing.B) {
	const printers = 10000
	for _, offered := range []bool{false, true} {
		b.Run(fmt.Sprintf("offered=%v", offered), func(b *testing.B) {
			e := newUpdateAlertsEnv(b)
			fw := "4.3.0"
			if offered {
				fw = "4.2.0"
			}
			e.initRepo(b, update.Release{Kind: update.KindFirmware, Version: "4.3.0", Models: []string{"Jet 4200"}})
			u, err := newCloudUpdates(e.dir, "", e.clk, slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			recs := make([]fleet.Record, printers)
			for i := range recs {
				p := fleet.PrinterID(fmt.Sprintf("printer-%05d", i))
				recs[i] = storetest.IdentityRecord(uint64(i+1), p, string(p), e.clk.Now())
				recs[i].Identity.Firmware = fw
			}
			if _, err := e.db.ApplyEnvelope(b.Context(), storetest.Env(e.org, e.site, "gw", recs...)); err != nil {
				b.Fatal(err)
			}
			if err := u.sweepUpdateAlerts(b.Context(), e.db, e.ev); err != nil { // opens the alerts
				b.Fatal(err)
			}
			for b.Loop() {
				e.clk.Advance(updateAlertsEvery)
				if err := u.sweepUpdateAlerts(b.Context(), e.db, e.ev); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(printers, "printers/op")
		})
	}
}
