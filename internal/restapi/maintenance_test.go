package restapi

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/maintenance"
)

// fixedModels is a MaintenanceModels of models learned elsewhere.
type fixedModels map[maintenance.Kind]maintenance.Model

func (m fixedModels) Models() (map[maintenance.Kind]maintenance.Model, maintenance.Training) {
	return m, maintenance.Training{Printers: 42}
}

// TestMaintenanceAPI stores twenty days of a printer's printhead usage and
// asks for its forecast: on the rated life without fleet models, on the
// fleet's printhead model with them, with the replacement date from the
// printer's usage rate.
func TestMaintenanceAPI(t *testing.T) {
	f := newFixture(t)
	a := f.a
	var recs []fleet.Record
	for d := 20; d >= 0; d-- {
		at := t0.AddDate(0, 0, -d)
		h := float64(10 * (20 - d))
		f.seq += 2
		recs = append(recs,
			fleet.Record{Seq: f.seq - 1, Kind: fleet.KindCounters, PrinterID: a.printer, Time: at,
				Counters: &fleet.Counters{PrintTimeSec: h * 3600, FilterStatusPercent: 90, Time: at}},
			fleet.Record{Seq: f.seq, Kind: fleet.KindConsumables, PrinterID: a.printer, Time: at,
				Consumables: &fleet.Consumables{Time: at, Printheads: []fleet.Printhead{
					{Slot: 1, SerialNumber: "PHX1", UsageHours: 100 + h, Status: "ok", InstallDate: t0.AddDate(0, -1, 0)},
				}}})
	}
	// A snapshot whose head has run less than the day before: left out,
	// and said so.
	back := t0.AddDate(0, 0, -5).Add(time.Minute)
	f.seq++
	recs = append(recs, fleet.Record{Seq: f.seq, Kind: fleet.KindConsumables, PrinterID: a.printer, Time: back,
		Consumables: &fleet.Consumables{Time: back, Printheads: []fleet.Printhead{{Slot: 1, SerialNumber: "PHX1", UsageHours: 150, Status: "ok"}}}})
	env := fleet.Envelope{OrgID: a.org, SiteID: a.site, GatewayID: fleet.GatewayID("gw_" + string(a.site)), Records: recs}
	if _, err := f.db.ApplyEnvelope(t.Context(), env); err != nil {
		t.Fatal(err)
	}
	get := func(t *testing.T) maintenanceReport {
		t.Helper()
		status, body := f.do(t, "GET", "/api/v1/printers/"+string(a.printer)+"/maintenance", a.tokens["viewer"], "")
		if status != 200 {
			t.Fatalf("status %d: %s", status, body)
		}
		var rep maintenanceReport
		if err := json.Unmarshal([]byte(body), &rep); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		return rep
	}
	head := func(t *testing.T, rep maintenanceReport) maintenance.Forecast {
		t.Helper()
		for _, fc := range rep.Forecasts {
			if fc.Kind == maintenance.Printhead {
				return fc
			}
		}
		t.Fatalf("no printhead forecast in %+v", rep.Forecasts)
		return maintenance.Forecast{}
	}
	t.Run("rated life without models", func(t *testing.T) {
		rep := get(t)
		if rep.Excluded[maintenance.ExclUsageBack] != 1 {
			t.Errorf("excluded %v: want the snapshot whose usage went back counted by its reason", rep.Excluded)
		}
		fc := head(t, rep)
		if fc.Basis != maintenance.BasisRated || fc.UsageHours != 300 || fc.RemainingHours != 100 || fc.Serial != "PHX1" || fc.Position != "PH1" {
			t.Errorf("forecast %+v: want rated life, 300 h used, 100 h left, PHX1 at PH1", fc)
		}
		if want := t0.Add(10 * 24 * time.Hour); !fc.Replace.Equal(want) {
			t.Errorf("replace %v, want %v (100 h at 10 h a day)", fc.Replace, want)
		}
	})
	t.Run("fleet model", func(t *testing.T) {
		f.h.maint.models = fixedModels{maintenance.Printhead: {Kind: maintenance.Printhead, Fitted: true, Shape: 2, Scale: 450, Failures: 300, Censored: 100}}
		defer func() { f.h.maint.models = nil }()
		rep := get(t)
		fc := head(t, rep)
		m := maintenance.Model{Shape: 2, Scale: 450, Fitted: true}
		if fc.Basis != maintenance.BasisModel || fc.RemainingHours != m.Remaining(300, 0.5) ||
			fc.LowHours != m.Remaining(300, 0.1) || fc.HighHours != m.Remaining(300, 0.9) ||
			fc.FailWithin != m.FailWithin(300, 70) {
			t.Errorf("forecast %+v: want the model's median, band and 7-day probability at 300 h", fc)
		}
		if fc.Pace != 1 || fc.EffectiveHours != 300 {
			t.Errorf("pace %v, effective age %v: want 1 and the usage without effects", fc.Pace, fc.EffectiveHours)
		}
		if rep.Training.Printers != 42 || len(rep.Models) != len(maintenance.Kinds()) {
			t.Errorf("training %+v, %d models", rep.Training, len(rep.Models))
		}
	})
}
