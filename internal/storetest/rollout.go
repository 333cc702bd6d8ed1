package storetest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/alert"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
)

// RolloutStore counts failures per version for staged-rollout halts.
type RolloutStore interface {
	VersionFailures(ctx context.Context, q fleet.VersionQuery) (fleet.VersionFailures, error)
}

func testVersionFailures(t *testing.T, db Store) {
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
