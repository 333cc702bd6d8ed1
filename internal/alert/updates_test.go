package alert_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fusionfleet/fusionfleet/internal/alert"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/i18n"
	"github.com/fusionfleet/fusionfleet/internal/storetest"
)

func TestUpdateFinding(t *testing.T) {
	v := alert.PrinterVersion{Model: "Jet 4200", Firmware: "4.2.0", ParameterSet: "std-4200-2.1"}
	fw := &alert.UpdateOffer{Name: "4.3.0", Notes: "  Fixes the lamp driver timing. \nAlso: faster homing."}
	ps := &alert.UpdateOffer{Name: "std-4200-2.2"}
	long := &alert.UpdateOffer{Name: "4.4.0", Notes: strings.Repeat("ä", 300)}
	tests := []struct {
		name                  string
		fw, ps                *alert.UpdateOffer
		wantHolds             bool
		wantTitle, wantDetail string
	}{
		{"nothing on offer", nil, nil, false, "", ""},
		{"firmware", fw, nil, true, "Firmware update available", "Firmware 4.3.0 (running 4.2.0): Fixes the lamp driver timing"},
		{"parameter set", nil, ps, true, "Parameter set update available", "Parameter set std-4200-2.2 (running std-4200-2.1)"},
		{"both", fw, ps, true, "Firmware and parameter set updates available",
			"Firmware 4.3.0 (running 4.2.0): Fixes the lamp driver timing; Parameter set std-4200-2.2 (running std-4200-2.1)"},
		{"long notes are cut", long, nil, true, "Firmware update available",
			"Firmware 4.4.0 (running 4.2.0): " + strings.Repeat("ä", 199) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := alert.UpdateFinding(v, tt.fw, tt.ps, t0)
			if f.Rule != alert.RuleUpdateAvailable || !f.At.Equal(t0) {
				t.Errorf("finding of rule %s at %v, want %s at %v", f.Rule, f.At, alert.RuleUpdateAvailable, t0)
			}
			if f.Holds != tt.wantHolds || f.Title != tt.wantTitle || f.Detail != tt.wantDetail {
				t.Errorf("finding = %v %q %q, want %v %q %q", f.Holds, f.Title, f.Detail, tt.wantHolds, tt.wantTitle, tt.wantDetail)
			}
			if f.Holds && (f.Severity != fleet.SeverityInfo || !i18n.German.Has(f.Title)) {
				t.Errorf("severity %s, title %q: want info and a German entry", f.Severity, f.Title)
			}
		})
	}
}

// versions is what the store would list: every printer's versions.
type versions []alert.PrinterVersion

func (v versions) PrinterVersions(context.Context) ([]alert.PrinterVersion, error) { return v, nil }

// TestSweepUpdates: a sweep opens an alert per printer with an offer,
// notifies nobody again while the offer stands, and resolves the alert of
// a printer with nothing more on offer.
func TestSweepUpdates(t *testing.T) {
	e := newEnv(t)
	e.send(t, storetest.IdentityRecord(0, p, "P", at(0)))
	vs := versions{{Subject: alert.Subject{OrgID: e.org, SiteID: e.sit, PrinterID: p}, Model: "Jet 4200", Firmware: "4.2.0"}}
	offer := "4.3.0"
	offered := func(alert.PrinterVersion) (fw, ps *alert.UpdateOffer) {
		if offer == "" {
			return nil, nil
		}
		return &alert.UpdateOffer{Name: offer}, nil
	}
	upd, info := alert.RuleUpdateAvailable, fleet.SeverityInfo
	steps := []struct {
		offer string
		want  []summary
	}{
		{"4.3.0", []summary{{upd, 1, info, "Firmware 4.3.0 (running 4.2.0)", false}}},
		{"4.3.0", nil},
		{"4.4.0", []summary{{upd, 2, info, "Firmware 4.4.0 (running 4.2.0)", false}}},
		{"", []summary{{upd, 3, info, "Firmware 4.4.0 (running 4.2.0)", true}}},
		{"", nil},
	}
	for i, s := range steps {
		offer = s.offer
		e.clk.Advance(10 * time.Minute)
		if err := e.ev.SweepUpdates(t.Context(), vs, offered); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(s.want, e.n.takeOf(upd)); diff != "" {
			t.Errorf("sweep %d, offer %q: notifications (-want +got):\n%s", i+1, s.offer, diff)
		}
	}
}
