package maintenance

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// FuzzTracker feeds uplinked records, as any gateway may send them, to the
// tracker, the forecasts and the degradation watch: whatever the records
// say, no life is negative or not a number, and every forecast's band
// holds its median.
func FuzzTracker(f *testing.F) {
	at := t0.Format(time.RFC3339)
	later := t0.Add(10 * time.Hour).Format(time.RFC3339)
	f.Add([]byte(`[{"kind":"counters","printer_id":"p","time":"` + at + `","counters":{"print_time_seconds":0,"filter_status_percent":90,"time":"` + at + `"}},
{"kind":"consumables","printer_id":"p","time":"` + at + `","consumables":{"printheads":[{"slot":1,"serial_number":"A","usage_hours":5,"status":"ok"}],"lamps":[{"position":"fusing-1","hours":3,"intensity_percent":95}],"time":"` + at + `"}},
{"kind":"event","printer_id":"p","time":"` + later + `","event":{"code":"PRINTHEAD_FAILED","severity":"error","time":"` + later + `"}},
{"kind":"counters","printer_id":"p","time":"` + later + `","counters":{"print_time_seconds":36000,"filter_status_percent":70,"time":"` + later + `"}},
{"kind":"consumables","printer_id":"p","time":"` + later + `","consumables":{"printheads":[{"slot":1,"serial_number":"B","usage_hours":0,"status":"ok"}],"lamps":[{"position":"fusing-1","hours":1,"intensity_percent":80}],"time":"` + later + `"}},
{"kind":"event","printer_id":"p","time":"` + later + `","event":{"code":"FILTER_REPLACED","severity":"info","time":"` + later + `"}}]`))
	f.Add([]byte(`[{"kind":"job","printer_id":"p","time":"` + at + `","job":{"id":"j","material":"TPU","print_mode":"fast","started_at":"` + at + `"}},
{"kind":"consumables","printer_id":"p","time":"` + later + `","consumables":{"agents":[{"agent":"fusing","supply_status":"non-original"}],"printheads":[{"slot":1,"type":"fusing/detailing","serial_number":"A","usage_hours":5,"non_original_agent":true,"recovery_level":3}],"time":"` + later + `"}},
{"kind":"job","printer_id":"p","time":"` + later + `","job":{"id":"k","material":"PP","print_mode":"robust","started_at":"0001-01-01T00:00:00Z"}}]`))
	f.Add([]byte(`[{"kind":"counters","printer_id":"p","counters":{"print_time_seconds":-5}},{"kind":"consumables","printer_id":"p","consumables":{"printheads":[{"slot":1,"usage_hours":1e308}]}}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var recs []fleet.Record
		if json.Unmarshal(data, &recs) != nil {
			return
		}
		tr, w := NewTracker(), NewWatch()
		for _, r := range recs {
			tr.Add(r)
			w.Observe(r)
		}
		now := t0.Add(24 * time.Hour)
		for k, obs := range tr.Observations(now) {
			for _, o := range obs {
				if o.Hours < 0 || o.Entry < 0 {
					t.Fatalf("%s life %+v: negative", k, o)
				}
			}
			m := Fit(k, obs) // must not panic
			for _, o := range obs {
				if a := m.EffectiveAge(o.Hours, o.Exposure); math.IsNaN(a) || a < 0 {
					t.Fatalf("%s life %+v: effective age %v", k, o, a)
				}
			}
		}
		fc := &Forecaster{Models: map[Kind]Model{Printhead: {Kind: Printhead, Fitted: true, Shape: 2, Scale: 450},
			Lamp: {Kind: Lamp, Fitted: true, Shape: 1.6, Scale: 2200}}}
		for _, id := range tr.Printers() {
			for _, x := range fc.Forecasts(tr, id, now) {
				if x.Basis == BasisModel && !(x.LowHours <= x.RemainingHours && x.RemainingHours <= x.HighHours) && !math.IsNaN(x.UsageHours) && !math.IsInf(x.UsageHours, 0) {
					t.Fatalf("forecast %+v: band does not hold its median", x)
				}
				if x.RemainingHours < 0 {
					t.Fatalf("forecast %+v: negative remaining life", x)
				}
			}
		}
	})
}
