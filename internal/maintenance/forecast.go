package maintenance

import (
	"fmt"
	"math"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// Options tune the forecasts. The zero value works.
type Options struct {
	// Horizon is how far ahead "due" looks. Zero means 7 days.
	Horizon time.Duration
	// Threshold is the probability of failing within the horizon at or
	// above which a component is due. Zero means 0.5. Thresholds
	// overrides it per kind.
	Threshold  float64
	Thresholds map[Kind]float64
	// RateWindow is how far back the usage rate is measured. Zero means 14
	// days.
	RateWindow time.Duration
}

func (o Options) withDefaults() Options {
	if o.Horizon <= 0 {
		o.Horizon = 7 * 24 * time.Hour
	}
	if o.Threshold <= 0 {
		o.Threshold = 0.5
	}
	if o.RateWindow <= 0 {
		o.RateWindow = 14 * 24 * time.Hour
	}
	return o
}

// Basis says what a forecast rests on.
type Basis string

// The bases of a forecast.
const (
	BasisModel  Basis = "fleet-model" // the kind's fitted life model
	BasisRated  Basis = "rated-life"  // too little data: the datasheet's rated life
	BasisNoData Basis = "no-usage"    // usage unknown (installed before the history): no forecast
)

// Forecast is the outlook for one installed component.
type Forecast struct {
	Printer    fleet.PrinterID `json:"printer_id"`
	Kind       Kind            `json:"kind"`
	Position   string          `json:"position,omitempty"`
	Serial     string          `json:"serial,omitempty"`
	PartNumber string          `json:"part_number"`
	Installed  time.Time       `json:"installed"`
	UsageHours float64         `json:"usage_hours"`
	// RatePerDay is the printer's recent usage in hours per day.
	RatePerDay float64 `json:"usage_hours_per_day"`
	Basis      Basis   `json:"basis"`
	// EffectiveHours is the usage weighed by the covariates it ran under
	// and Pace how many effective hours a usage hour adds now (fleet-model
	// basis only; 1 and the usage without covariate effects).
	EffectiveHours float64 `json:"effective_hours,omitempty"`
	Pace           float64 `json:"pace,omitempty"`
	// RemainingHours is the median usage left; Low and High bound the
	// 80 % band (10th and 90th percentile). For the rated-life basis all
	// three are the rated life less the usage: no band is claimed.
	RemainingHours float64 `json:"remaining_hours"`
	LowHours       float64 `json:"remaining_low_hours"`
	HighHours      float64 `json:"remaining_high_hours"`
	// Replace, ReplaceLow and ReplaceHigh turn them into dates at the
	// recent usage rate; zero when the printer has not printed lately.
	Replace     time.Time `json:"replace,omitzero"`
	ReplaceLow  time.Time `json:"replace_low,omitzero"`
	ReplaceHigh time.Time `json:"replace_high,omitzero"`
	// FailWithin is the probability of failing within the horizon; -1
	// when the basis cannot say.
	FailWithin float64 `json:"fail_within_horizon"`
	// Warned is when the component announced its failure; a warned
	// component is due whatever its model says.
	Warned time.Time `json:"warned,omitzero"`
	Due    bool      `json:"due"`
	Reason string    `json:"reason"`
}

// Forecaster forecasts from fitted models.
type Forecaster struct {
	Models map[Kind]Model
	Opts   Options
}

// NewForecaster fits a model per kind to the tracker's history at time at.
func NewForecaster(t *Tracker, at time.Time, opts Options) *Forecaster {
	f := &Forecaster{Models: map[Kind]Model{}, Opts: opts.withDefaults()}
	obs := t.Observations(at)
	for _, k := range Kinds() {
		f.Models[k] = Fit(k, obs[k])
	}
	return f
}

// Forecasts returns the forecasts for the printer's installed components
// at time at.
func (f *Forecaster) Forecasts(t *Tracker, id fleet.PrinterID, at time.Time) []Forecast {
	o := f.Opts.withDefaults()
	rate := t.RatePerDay(id, at, o.RateWindow)
	var out []Forecast
	for _, in := range t.Installed(id, at) {
		out = append(out, f.Forecast(in, rate, at))
	}
	return out
}

// Forecast forecasts one instance whose printer runs rate usage hours a
// day, at time at.
func (f *Forecaster) Forecast(in Instance, rate float64, at time.Time) Forecast {
	o := f.Opts.withDefaults()
	fc := Forecast{
		Printer: in.Printer, Kind: in.Kind, Position: in.Position, Serial: in.Serial, PartNumber: PartNumber(in.Kind),
		Installed: in.Installed, UsageHours: in.Usage, RatePerDay: rate, Warned: in.Warned, FailWithin: -1,
	}
	horizonH := rate * o.Horizon.Hours() / 24
	m, ok := f.Models[in.Kind]
	if !ok {
		m = Model{Kind: in.Kind, Reason: "no fleet model"}
	}
	switch {
	case math.IsNaN(in.Usage):
		fc.Basis, fc.UsageHours = BasisNoData, 0
		fc.Reason = "installed before the history starts: usage unknown"
	case !m.Fitted:
		fc.Basis = BasisRated
		left := max(RatedHours(in.Kind)-in.Usage, 0)
		fc.RemainingHours, fc.LowHours, fc.HighHours = left, left, left
		fc.Due = left <= horizonH
		fc.Reason = "too little data (" + m.Reason + "): rated life " + fmt.Sprint(RatedHours(in.Kind)) + " h"
	default:
		fc.Basis = BasisModel
		// Effective hours: usage weighed by what it ran under; from now on
		// each usage hour counts pace hours.
		age, pace := m.EffectiveAge(in.Usage, in.Exposure), m.Pace(in.Now)
		fc.EffectiveHours, fc.Pace = age, pace
		fc.RemainingHours = m.Remaining(age, 0.5) / pace
		fc.LowHours, fc.HighHours = m.Remaining(age, 0.1)/pace, m.Remaining(age, 0.9)/pace
		fc.FailWithin = m.FailWithin(age, horizonH*pace)
		th := o.Threshold
		if x, ok := o.Thresholds[in.Kind]; ok && x > 0 {
			th = x
		}
		fc.Due = fc.FailWithin >= th
		fc.Reason = fmt.Sprintf("Weibull shape %.2f scale %.0f h from %d failures and %d running or replaced", m.Shape, m.Scale, m.Failures, m.Censored)
		if math.Abs(pace-1) >= 0.05 || math.Abs(age-in.Usage) >= 1 {
			fc.Reason += fmt.Sprintf("; effective age %.0f h, wearing %.2f× the reference now", age, pace)
		}
	}
	if !in.Warned.IsZero() {
		fc.Due = true
		fc.Reason = "announced its failure " + in.Warned.UTC().Format(time.DateTime) + "; " + fc.Reason
	}
	if rate > 0 && fc.Basis != BasisNoData {
		day := 24 * time.Hour
		date := func(h float64) time.Time { return at.Add(time.Duration(h / rate * float64(day))).Truncate(time.Minute) }
		fc.Replace, fc.ReplaceLow, fc.ReplaceHigh = date(fc.RemainingHours), date(fc.LowHours), date(fc.HighHours)
	}
	return fc
}
