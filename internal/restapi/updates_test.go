package restapi

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/update"
	"github.com/google/go-cmp/cmp"
)

// staticReleases is a fixed release list, as the cloud's repository would
// give it.
type staticReleases []update.Offer

func (s staticReleases) Releases(context.Context) ([]update.Offer, error) {
	return append([]update.Offer(nil), s...), nil
}

func TestUpdatesAPI(t *testing.T) {
	f := newFixture(t)
	// The first printer runs firmware 1.5 and a parameter set named by its
	// release; the second reports no versions.
	f.seq++
	p := f.a.printer
	if _, err := f.db.ApplyEnvelope(t.Context(), fleet.Envelope{OrgID: f.a.org, SiteID: f.a.site, GatewayID: fleet.GatewayID("gw_" + string(f.a.site)),
		Records: []fleet.Record{{Seq: f.seq, Kind: fleet.KindIdentity, PrinterID: p, Time: t0, Identity: &fleet.Identity{
			PrinterID: p, Name: "CanaryAlpha Printer", Model: "M1", SerialNumber: "SN", Firmware: "1.5", ParameterSet: "PA12-3"}}}}); err != nil {
		t.Fatal(err)
	}
	f.h.updates.releases = staticReleases{
		{Target: "params-3", Release: update.Release{Kind: update.KindParameters, Version: "3", Name: "PA12-3", Models: []string{"M1"}}},
		{Target: "fw-2.0", Release: update.Release{Kind: update.KindFirmware, Version: "2.0", Models: []string{"M1"}}},
		{Target: "fw-3.0", Halted: true, HaltReason: "failing", Release: update.Release{Kind: update.KindFirmware, Version: "3.0", Models: []string{"M1"}}},
	}
	status, body := f.do(t, "GET", "/api/v1/updates", f.a.tokens["admin"], "")
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	var got updatesBody
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	var rels []string
	for _, r := range got.Releases {
		rels = append(rels, r.Target)
	}
	if diff := cmp.Diff([]string{"fw-3.0", "fw-2.0", "params-3"}, rels); diff != "" {
		t.Errorf("releases, by kind and newest first (-want +got):\n%s", diff)
	}
	type row struct{ ID, Firmware, Params, FirmwareUpdate, ParamsUpdate string }
	var rows []row
	for _, pv := range got.Printers {
		r := row{ID: string(pv.ID), Firmware: pv.Firmware, Params: pv.ParameterSet}
		if pv.FirmwareUpdate != nil {
			r.FirmwareUpdate = pv.FirmwareUpdate.Target
		}
		if pv.ParametersUpdate != nil {
			r.ParamsUpdate = pv.ParametersUpdate.Target
		}
		rows = append(rows, r)
	}
	want := []row{
		{ID: string(p), Firmware: "1.5", Params: "PA12-3", FirmwareUpdate: "fw-2.0"},
		{ID: string(p) + "-2"},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("printers (-want +got):\n%s", diff)
	}

	// Without a repository: empty lists, configured false.
	f.h.updates.releases = nil
	_, body = f.do(t, "GET", "/api/v1/updates", f.a.tokens["admin"], "")
	if !strings.Contains(body, `"configured":false`) || !strings.Contains(body, `"releases":[]`) {
		t.Errorf("without repository: %s", body)
	}
}
