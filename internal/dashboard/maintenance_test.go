package dashboard

import (
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/maintenance"
)

// fixedModels is a MaintenanceModels of models learned elsewhere.
type fixedModels map[maintenance.Kind]maintenance.Model

func (m fixedModels) Models() (map[maintenance.Kind]maintenance.Model, maintenance.Training) {
	return m, maintenance.Training{At: t0.Add(-time.Hour), Printers: 42}
}

// fillWear stores twenty days of printer A's counters and consumables:
// one printhead used 10 h a day from 100 h, and a lamp whose intensity
// steps down on the last day.
func (f *fixture) fillWear(t *testing.T) {
	t.Helper()
	const p = fleet.PrinterID("printer-a001")
	now := f.clock.Now()
	var recs []fleet.Record
	for d := 20; d >= 0; d-- {
		at := now.AddDate(0, 0, -d)
		h := float64(10 * (20 - d))
		intensity := 95 - 0.05*h
		if d == 0 {
			intensity -= 9
		}
		f.seq += 2
		recs = append(recs,
			fleet.Record{Seq: f.seq - 1, Kind: fleet.KindCounters, PrinterID: p, Time: at,
				Counters: &fleet.Counters{PrintTimeSec: h * 3600, FilterStatusPercent: 90 - h/10, Time: at}},
			fleet.Record{Seq: f.seq, Kind: fleet.KindConsumables, PrinterID: p, Time: at,
				Consumables: &fleet.Consumables{Time: at,
					Printheads: []fleet.Printhead{{Slot: 3, SerialNumber: "PHX3", UsageHours: 100 + h, Status: "ok", InstallDate: now.AddDate(0, -1, 0)}},
					Lamps:      []fleet.Lamp{{Position: "fusing-1", Hours: 1000 + h, IntensityPercent: intensity, Status: "ok"}}}})
	}
	// A snapshot whose head has run less than the day before: left out,
	// and said so.
	back := now.AddDate(0, 0, -5).Add(time.Minute)
	f.seq++
	recs = append(recs, fleet.Record{Seq: f.seq, Kind: fleet.KindConsumables, PrinterID: p, Time: back,
		Consumables: &fleet.Consumables{Time: back, Printheads: []fleet.Printhead{{Slot: 3, SerialNumber: "PHX3", UsageHours: 150, Status: "ok"}}}})
	env := fleet.Envelope{OrgID: f.orgA, SiteID: f.siteA, GatewayID: fleet.GatewayID("gw_" + string(f.orgA)), Records: recs}
	if _, err := f.db.ApplyEnvelope(t.Context(), env); err != nil {
		t.Fatal(err)
	}
}

func TestMaintenancePage(t *testing.T) {
	f := newFixture(t)
	f.fillWear(t)
	ada := f.user(t, "ada")
	ph := maintenance.Model{Kind: maintenance.Printhead, Fitted: true, Shape: 2, Scale: 450, Failures: 300, Censored: 100,
		Effects: []maintenance.Effect{{Name: "non-original agent", Coef: math.Log(2), SE: 0.1, Fitted: true}, {Name: "material PP", Reason: "too little"},
			{Name: "usage rate", Coef: 0.2, SE: 0.15, Fitted: true}}}
	tests := []struct {
		name, path, lang string
		models           fixedModels
		want, notWant    []string
	}{
		{"rated life without models", "/maintenance", "", nil, []string{
			`data-printer-id="printer-a001" data-kind="printhead"`, "Printhead PH3", "PHX3", "rated life ends in ≈10 days",
			"rated life: too little data", "300 h, 10.0 h a day", "no fleet model yet", "rated life 400 h",
			"PH-FD-600", "LMP-FUS-1", "announced its failure", "due now",
			`id="maint-excluded"`, "component usage hours went back: 1",
		}, []string{"printer-b001", "B&#39;s printer", "Degrading signals"}},
		{"fleet model, one printer, 2 weeks", "/maintenance?printer=printer-a001&weeks=2", "", fixedModels{maintenance.Printhead: ph}, []string{
			"Maintenance: 3DP 1", "replace in ≈", "80 % band", "fleet model", "Weibull: shape 2.00, scale 450 h",
			"300 failures, 100 still running", "Trained", "42 printers", "Degrading signals", "<svg", "Lamp fusing-1",
			"a usage hour counts as: non-original agent ×2.00</p>", "1 more covariates without a clear effect",
			`id="maint-parts"`, "LMP-FUS-1",
		}, []string{"PH-FD-600"}}, // its median is 19 days away
		{"in German", "/maintenance", "de", fixedModels{maintenance.Printhead: ph}, []string{
			"Wartung", "Prognosekalender", "Zu bestellende Teile", "Druckkopf PH3", "ersetzen in ≈", "Lebensdauermodelle",
			"eine Betriebsstunde zählt: Nicht-Original-Agent ×2.00", "Betriebsstunden der Komponente liefen zurück: 1",
		}, []string{"Forecast calendar", "replace in", "material PP", "went back"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.h.maint.models = nil
			if tt.models != nil {
				f.h.maint.models = tt.models
			}
			resp, body := f.getAs(t, ada, tt.path, tt.lang)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(body, w) {
					t.Errorf("page shows %q", w)
				}
			}
		})
	}
}
