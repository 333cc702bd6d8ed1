package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/alert"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
)

// VersionStore lists what every printer runs, for the update sweep.
type VersionStore interface {
	PrinterVersions(ctx context.Context) ([]alert.PrinterVersion, error)
}

func testPrinterVersions(t *testing.T, db Store) {
	ctx := t.Context()
	if got, err := db.PrinterVersions(ctx); err != nil || len(got) != 0 {
		t.Fatalf("PrinterVersions of an empty store = %v, %v; want none", got, err)
	}
	org, site := tenant(t, db, "Acme")
	other, otherSite := tenant(t, db, "Other")
	ident := func(seq uint64, p fleet.PrinterID, model, fw, params string, at time.Time) fleet.Record {
		r := IdentityRecord(seq, p, string(p), at)
		r.Identity.Model, r.Identity.Firmware, r.Identity.ParameterSet = model, fw, params
		return r
	}
	t1, t2 := T0.Add(time.Hour), T0.Add(2*time.Hour)
	apply(t, db, Env(org, site, "gw-a",
		ident(1, "printer-a1", "Jet 4200", "4.2.0", "std-4200-2.1", t1),
		ident(2, "printer-a2", "Jet 5200", "5.0.1", "", t1),
		StatusRecord(3, "printer-a3", fleet.StateIdle, t1), // no identity yet: left out
		ident(4, "printer-a1", "Jet 4200", "4.3.0", "std-4200-2.2", t2),
	), 4)
	// An identity older than the one stored changes nothing.
	apply(t, db, Env(org, site, "gw-a", ident(5, "printer-a1", "Jet 4200", "4.1.0", "std-4200-2.0", T0)), 1)
	apply(t, db, Env(other, otherSite, "gw-b", ident(1, "printer-b1", "Jet 4200", "4.2.0", "PA12-balanced", t1)), 1)

	want := []alert.PrinterVersion{
		{Subject: alert.Subject{OrgID: org, SiteID: site, PrinterID: "printer-a1", Since: t2},
			Model: "Jet 4200", Firmware: "4.3.0", ParameterSet: "std-4200-2.2"},
		{Subject: alert.Subject{OrgID: org, SiteID: site, PrinterID: "printer-a2", Since: t1},
			Model: "Jet 5200", Firmware: "5.0.1"},
		{Subject: alert.Subject{OrgID: other, SiteID: otherSite, PrinterID: "printer-b1", Since: t1},
			Model: "Jet 4200", Firmware: "4.2.0", ParameterSet: "PA12-balanced"},
	}
	got, err := db.PrinterVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("PrinterVersions (-want +got):\n%s", diff)
	}
}

// BenchPrinterVersions measures PrinterVersions at 10,000 printers in 10
// organisations, each with an identity: the update sweep's listing.
func BenchPrinterVersions(b *testing.B, db Store) {
	const orgs, perOrg = 10, 1000
	ctx := b.Context()
	for o := range orgs {
		org, err := db.CreateOrg(ctx, fmt.Sprintf("Org %d", o))
		if err != nil {
			b.Fatal(err)
		}
		site, err := db.CreateSite(ctx, org, "Plant")
		if err != nil {
			b.Fatal(err)
		}
		recs := make([]fleet.Record, perOrg)
		for i := range recs {
			p := fleet.PrinterID(fmt.Sprintf("printer-%02d%04d", o, i))
			recs[i] = IdentityRecord(uint64(i+1), p, string(p), T0.Add(time.Duration(i)*time.Second))
			recs[i].Identity.Firmware = fmt.Sprintf("4.%d.0", i%4)
			recs[i].Identity.ParameterSet = fmt.Sprintf("std-4200-2.%d", i%3)
		}
		if _, err := db.ApplyEnvelope(ctx, Env(org, site, fleet.GatewayID(fmt.Sprintf("gw-%d", o)), recs...)); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		vs, err := db.PrinterVersions(ctx)
		if err != nil || len(vs) != orgs*perOrg {
			b.Fatalf("PrinterVersions = %d printers, %v; want %d", len(vs), err, orgs*perOrg)
		}
	}
	b.ReportMetric(orgs*perOrg, "printers/op")
}
