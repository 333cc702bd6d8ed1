package storetest

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/alert"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
)

// Versions reports what every printer runs and how the printers on a
// version fare against the others of their model: what updates and
// staged rollouts decide on.
type Versions interface {
	PrinterVersions(ctx context.Context) ([]alert.PrinterVersion, error)
	VersionFailures(ctx context.Context, q fleet.VersionQuery) (fleet.VersionFailures, error)
}

// UpdateStore is what RunUpdates drives: updates, with organisations,
// ingest for the printers' identities and alerts that count as failures.
type UpdateStore interface {
	Versions
	Orgs
	Ingest
	AlertTracking
}

// RunUpdates runs the updates contract against stores made by open: the
// newest identity of every printer, and failures per firmware or
// parameter-set version for staged-rollout halts.
func RunUpdates(t *testing.T, open func(t *testing.T) UpdateStore) {
	runTests(t, open, []storeTest[UpdateStore]{
		{"VersionFailures", testVersionFailures},
		{"PrinterVersions", testPrinterVersions},
	})
}

func testVersionFailures(t *testing.T, db UpdateStore) {
	ctx := t.Context()
	org, site := tenant(t, db, "Acme")
	other, otherSite := tenant(t, db, "Other")
	// Printers of two organisations: model Jet 4200 on firmware 4.3.0 or
	// 4.2.0, one without a version, one of another model.
	printers := []struct {
		org         fleet.OrgID
		site        fleet.SiteID
		id          fleet.PrinterID
		model, fw   string
		params      string
		alertSev    fleet.Severity // 0: no alert
		alertOpened time.Time
	}{
		{org, site, "printer-new1", "Jet 4200", "4.3.0", "PA12-2.2", fleet.SeverityError, T0.Add(time.Hour)},
		{org, site, "printer-new2", "Jet 4200", "4.3.0", "PA12-2.2", fleet.SeverityCritical, T0.Add(2 * time.Hour)},
		{other, otherSite, "printer-new3", "Jet 4200", "4.3.0", "PA12-2.1", fleet.SeverityWarning, T0.Add(time.Hour)},
		{other, otherSite, "printer-new4", "Jet 4200", "4.3.0", "PA12-2.1", 0, time.Time{}},
		{org, site, "printer-old1", "Jet 4200", "4.2.0", "PA12-2.1", fleet.SeverityError, T0.Add(-time.Hour)}, // before the window
		{org, site, "printer-old2", "Jet 4200", "4.2.0", "PA12-2.1", fleet.SeverityError, T0.Add(time.Hour)},
		{other, otherSite, "printer-old3", "Jet 4200", "4.2.0", "PA12-2.1", 0, time.Time{}},
		{org, site, "printer-none", "Jet 4200", "", "", fleet.SeverityCritical, T0.Add(time.Hour)},
		{org, site, "printer-5200", "Jet 5200", "4.3.0", "PA12-2.2", fleet.SeverityCritical, T0.Add(time.Hour)},
	}
	for i, p := range printers {
		rec := IdentityRecord(uint64(i+1), p.id, "P"+strconv.Itoa(i), T0.Add(-2*time.Hour))
		rec.Identity.Model, rec.Identity.Firmware, rec.Identity.ParameterSet = p.model, p.fw, p.params
		apply(t, db, Env(p.org, p.site, "gw-"+fleet.GatewayID(p.org), rec), 1)
		if p.alertSev != 0 {
			a := newAlert(fleet.AlertID("alr_"+strconv.Itoa(i)), p.org, p.site, p.id, alert.RuleLamp, p.alertSev, p.alertOpened)
			saveAlert(t, db, a, 0)
		}
	}
	// A second alert of the same printer counts it once.
	saveAlert(t, db, newAlert("alr_dup", org, site, "printer-new1", alert.RuleStalledJob, fleet.SeverityError, T0.Add(3*time.Hour)), 0)

	tests := []struct {
		name string
		q    fleet.VersionQuery
		want fleet.VersionFailures
	}{
		{"firmware", fleet.VersionQuery{Model: "Jet 4200", Version: "4.3.0", Since: T0},
			fleet.VersionFailures{Printers: 4, Failing: 2, OtherPrinters: 3, OtherFailing: 1}},
		{"warnings count when asked", fleet.VersionQuery{Model: "Jet 4200", Version: "4.3.0", Since: T0, MinSeverity: fleet.SeverityWarning},
			fleet.VersionFailures{Printers: 4, Failing: 3, OtherPrinters: 3, OtherFailing: 1}},
		{"wider window", fleet.VersionQuery{Model: "Jet 4200", Version: "4.2.0", Since: T0.Add(-2 * time.Hour)},
			fleet.VersionFailures{Printers: 3, Failing: 2, OtherPrinters: 4, OtherFailing: 2}},
		{"parameter set", fleet.VersionQuery{Model: "Jet 4200", Version: "PA12-2.2", ParameterSet: true, Since: T0},
			fleet.VersionFailures{Printers: 2, Failing: 2, OtherPrinters: 5, OtherFailing: 1}},
		{"unknown model", fleet.VersionQuery{Model: "Jet 9999", Version: "4.3.0", Since: T0}, fleet.VersionFailures{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.VersionFailures(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("VersionFailures(%+v) (-want +got):\n%s", tt.q, diff)
			}
		})
	}
}

func testPrinterVersions(t *testing.T, db UpdateStore) {
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
func BenchPrinterVersions(b *testing.B, db UpdateStore) {
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
