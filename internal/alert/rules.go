package alert

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// The built-in rules.
const (
	RuleAgentSupply  fleet.RuleKey = "agent-supply"
	RulePrinthead    fleet.RuleKey = "printhead"
	RuleCleaningRoll fleet.RuleKey = "cleaning-roll"
	RuleLamp         fleet.RuleKey = "lamp"
	RuleFilter       fleet.RuleKey = "filter"
	RuleFaultEvent   fleet.RuleKey = "fault-event"
	RulePrinterError fleet.RuleKey = "printer-error"
	RuleOffline      fleet.RuleKey = "offline"
	RuleStalledJob   fleet.RuleKey = "stalled-job"
	// RuleUpdateAvailable is computed outside the evaluator, from the
	// releases of the cloud's update repository, and handed to
	// Evaluator.Report.
	RuleUpdateAvailable fleet.RuleKey = "update-available"
)

// Builtin describes a built-in rule for people.
type Builtin struct {
	Key         fleet.RuleKey `json:"key"`
	Title       string        `json:"title"`
	Description string        `json:"description"`
}

// Builtins lists the built-in rules in a stable order, described with the
// thresholds of opts.
func Builtins(opts Options) []Builtin {
	opts = opts.withDefaults()
	return []Builtin{
		{RuleAgentSupply, "Agent supply", "An agent supply reports low (warning) or empty (error)."},
		{RulePrinthead, "Printhead", "A printhead is degraded (warning), must be replaced (error) or has failed (critical)."},
		{RuleCleaningRoll, "Cleaning roll", "The cleaning roll is low (warning) or empty (error)."},
		{RuleLamp, "Lamp", "A lamp is weak (warning) or has failed (error)."},
		{RuleFilter, "Filter", fmt.Sprintf("The filter has less than %g percent of its life left (warning; error below %g percent).",
			opts.FilterWarnPercent, opts.FilterErrorPercent)},
		{RuleFaultEvent, "Fault", fmt.Sprintf("The printer raised an event of severity error or critical; resolved after %s without another.",
			duration(opts.FaultQuiet))},
		{RulePrinterError, "Printer in error state", "The printer reports the error state."},
		{RuleOffline, "Offline", fmt.Sprintf("No report from the printer for %s.", duration(opts.OfflineAfter))},
		{RuleStalledJob, "Stalled job", fmt.Sprintf("The printer is printing but no layer was finished for %s.", duration(opts.StallAfter))},
		{RuleLampDegrading, "Lamp degrading", "A lamp's intensity stepped down far faster than its usual decline, as most lamps do before they fail (warning); resolved once it is replaced. Needs the degradation detectors."},
		{RuleFilterDegrading, "Filter degrading", "The filter's life left stepped down far faster than its usual decline, as most filters do before they block (warning); resolved once it is replaced. Needs the degradation detectors."},
		{RuleCoolingWarning, "Cooling system warning", "The cooling system warned of a coming failure (warning); resolved once it is serviced. Needs the degradation detectors."},
		{RuleCarriageWarning, "Carriage warning", "The carriage warned of high wear (warning); resolved once it is serviced. Needs the degradation detectors."},
		{RuleUpdateAvailable, "Update available", "A newer firmware or print-parameter set that fits the printer was released (info); resolved once the printer runs it."},
	}
}

// IsBuiltin reports whether k names a built-in rule.
func IsBuiltin(k fleet.RuleKey) bool {
	for _, b := range Builtins(Options{}) {
		if b.Key == k {
			return true
		}
	}
	return false
}

// Metric is a number a custom rule watches.
type Metric string

// The metrics of custom rules: from consumables snapshots and counters.
const (
	MetricAgentLevel       Metric = "agent_level_percent"         // lowest agent supply level
	MetricCleaningRollUse  Metric = "cleaning_roll_usage_percent" // cleaning roll used
	MetricLampIntensity    Metric = "lamp_intensity_percent"      // weakest lamp
	MetricLampHours        Metric = "lamp_hours"                  // longest-burning lamp
	MetricPrintheadHours   Metric = "printhead_usage_hours"       // most-used printhead
	MetricRecycledPercent  Metric = "build_unit_recycled_percent" // recycled share of the installed build unit
	MetricFilterStatus     Metric = "filter_status_percent"       // remaining filter life
	MetricSystemErrors     Metric = "system_errors"
	MetricPrintHours       Metric = "print_time_hours"
	MetricCoolingHours     Metric = "cooling_system_hours"
	MetricAgentSystemHours Metric = "agent_system_hours"
	MetricCarriageCycles   Metric = "carriage_cycles"
	MetricServiceStation   Metric = "service_station_uses"
)

// MetricInfo describes a metric for people.
type MetricInfo struct {
	Metric Metric `json:"metric"`
	Name   string `json:"name"`
	Unit   string `json:"unit"`
	// Counters is true for metrics from counters, false for consumables.
	Counters bool `json:"-"`
}

// Metrics lists every metric a custom rule may watch, in a stable order.
func Metrics() []MetricInfo {
	return []MetricInfo{
		{MetricAgentLevel, "Lowest agent supply level", "%", false},
		{MetricCleaningRollUse, "Cleaning roll used", "%", false},
		{MetricLampIntensity, "Weakest lamp intensity", "%", false},
		{MetricLampHours, "Longest lamp hours", "h", false},
		{MetricPrintheadHours, "Most-used printhead hours", "h", false},
		{MetricRecycledPercent, "Recycled share of the build unit", "%", false},
		{MetricFilterStatus, "Remaining filter life", "%", true},
		{MetricSystemErrors, "System errors", "", true},
		{MetricPrintHours, "Printing time", "h", true},
		{MetricCoolingHours, "Cooling system hours", "h", true},
		{MetricAgentSystemHours, "Agent system hours", "h", true},
		{MetricCarriageCycles, "Carriage cycles", "", true},
		{MetricServiceStation, "Service station uses", "", true},
	}
}

func metricInfo(m Metric) (MetricInfo, bool) {
	for _, i := range Metrics() {
		if i.Metric == m {
			return i, true
		}
	}
	return MetricInfo{}, false
}

// Comparison is how a custom rule compares its metric with the threshold.
type Comparison string

// The comparisons.
const (
	Below        Comparison = "<"
	AtMost       Comparison = "<="
	Above        Comparison = ">"
	AtLeast      Comparison = ">="
	maxThreshold            = 1e12
)

func (c Comparison) holds(v, threshold float64) bool {
	switch c {
	case Below:
		return v < threshold
	case AtMost:
		return v <= threshold
	case Above:
		return v > threshold
	case AtLeast:
		return v >= threshold
	}
	return false
}

// Valid reports whether c is a known comparison.
func (c Comparison) Valid() bool {
	switch c {
	case Below, AtMost, Above, AtLeast:
		return true
	}
	return false
}

// CustomRule is an organisation's threshold on one metric of its printers
// (or of one site's printers).
type CustomRule struct {
	ID        string         `json:"id"`
	OrgID     fleet.OrgID    `json:"-"`
	SiteID    fleet.SiteID   `json:"site_id,omitempty"` // "" → every site
	Metric    Metric         `json:"metric"`
	Op        Comparison     `json:"comparison"`
	Threshold float64        `json:"threshold"`
	Severity  fleet.Severity `json:"severity"`
	Created   time.Time      `json:"created"`
}

// CustomPrefix starts the key of every custom rule.
const CustomPrefix = "custom-"

// Key is the rule's key in alerts.
func (r CustomRule) Key() fleet.RuleKey { return fleet.RuleKey(CustomPrefix + r.ID) }

// Title names the rule in words, e.g. "Remaining filter life < 15 %".
func (r CustomRule) Title() string {
	info, _ := metricInfo(r.Metric)
	s := fmt.Sprintf("%s %s %g", info.Name, r.Op, r.Threshold)
	if info.Unit != "" {
		s += " " + info.Unit
	}
	return s
}

// Field errors of a custom rule, for forms to show next to their field.
var (
	ErrMetric    = errors.New("choose one of the listed metrics")
	ErrOp        = errors.New("choose a comparison: <, <=, > or >=")
	ErrThreshold = errors.New("the threshold must be a finite number")
	ErrSeverity  = errors.New("choose a severity: info, warning, error or critical")
)

// Validate reports whether the rule is complete and sensible. The errors
// wrap ErrMetric, ErrOp, ErrThreshold or ErrSeverity.
func (r CustomRule) Validate() error {
	var errs []error
	if r.OrgID == "" {
		errs = append(errs, errors.New("custom rule: no organisation"))
	}
	if _, ok := metricInfo(r.Metric); !ok {
		errs = append(errs, fmt.Errorf("metric %q: %w", r.Metric, ErrMetric))
	}
	if !r.Op.Valid() {
		errs = append(errs, fmt.Errorf("comparison %q: %w", r.Op, ErrOp))
	}
	if math.IsNaN(r.Threshold) || math.Abs(r.Threshold) > maxThreshold {
		errs = append(errs, fmt.Errorf("threshold %v: %w", r.Threshold, ErrThreshold))
	}
	if r.Severity == fleet.SeverityUnknown || r.Severity > fleet.SeverityCritical {
		errs = append(errs, fmt.Errorf("severity %d: %w", r.Severity, ErrSeverity))
	}
	return errors.Join(errs...)
}

// Rules is an organisation's configuration: its custom rules and the rules
// it muted. A muted rule opens and revises no alerts and notifies nobody;
// alerts it opened before still resolve.
type Rules struct {
	Custom []CustomRule
	Muted  []fleet.RuleKey
}

// IsMuted reports whether k is muted.
func (r Rules) IsMuted(k fleet.RuleKey) bool {
	for _, m := range r.Muted {
		if m == k {
			return true
		}
	}
	return false
}

// SiteOf is the site rule k concerns: a custom rule's site, or none (the
// whole organisation) for a built-in rule or a custom one for every site.
func (r Rules) SiteOf(k fleet.RuleKey) fleet.SiteID {
	for _, c := range r.Custom {
		if c.Key() == k {
			return c.SiteID
		}
	}
	return ""
}

// Finding is what a rule concludes about a printer from one observation.
type Finding struct {
	Rule     fleet.RuleKey
	At       time.Time // when the printer was observed
	Holds    bool      // the condition holds
	Severity fleet.Severity
	Title    string
	Detail   string
	// Touch records the observation even when nothing changed: for rules
	// that resolve after a quiet period.
	Touch bool
}

// cleared is a finding that the condition of rule does not hold.
func cleared(rule fleet.RuleKey, at time.Time) Finding { return Finding{Rule: rule, At: at} }

// Findings applies the rules that look at one record. site is the
// record's site, for custom rules limited to one.
func Findings(rec fleet.Record, site fleet.SiteID, rules Rules, opts Options) []Finding {
	opts = opts.withDefaults()
	switch {
	case rec.Status != nil:
		if rec.Status.State == fleet.StateError {
			return []Finding{{Rule: RulePrinterError, At: rec.Time, Holds: true, Severity: fleet.SeverityError,
				Title: "Printer in error state", Detail: rec.Status.Activity}}
		}
		return []Finding{cleared(RulePrinterError, rec.Time)}
	case rec.Event != nil:
		e := rec.Event
		if e.Severity < fleet.SeverityError {
			return nil
		}
		detail := e.Code
		if e.Description != "" {
			detail += ": " + e.Description
		}
		return []Finding{{Rule: RuleFaultEvent, At: rec.Time, Holds: true, Severity: e.Severity,
			Title: "Fault", Detail: detail, Touch: true}}
	case rec.Consumables != nil:
		c := rec.Consumables
		out := []Finding{agentFinding(c, rec.Time), printheadFinding(c, rec.Time),
			cleaningRollFinding(c, rec.Time), lampFinding(c, rec.Time)}
		return append(out, customFindings(rules.Custom, site, false, func(m Metric) (float64, bool) {
			return consumablesMetric(c, m)
		}, rec.Time)...)
	case rec.Counters != nil:
		k := rec.Counters
		out := []Finding{filterFinding(k.FilterStatusPercent, rec.Time, opts)}
		return append(out, customFindings(rules.Custom, site, true, func(m Metric) (float64, bool) {
			return countersMetric(k, m)
		}, rec.Time)...)
	}
	return nil
}

// worst collects the items of a consumable rule that hold, and the worst
// severity among them.
type worst struct {
	sev   fleet.Severity
	items []string
}

func (w *worst) add(sev fleet.Severity, item string) {
	w.sev = max(w.sev, sev)
	w.items = append(w.items, item)
}

func (w worst) finding(rule fleet.RuleKey, title string, at time.Time) Finding {
	if w.sev == fleet.SeverityUnknown {
		return cleared(rule, at)
	}
	return Finding{Rule: rule, At: at, Holds: true, Severity: w.sev, Title: title, Detail: strings.Join(w.items, "; ")}
}

func agentFinding(c *fleet.Consumables, at time.Time) Finding {
	var w worst
	for _, a := range c.Agents {
		switch a.SupplyStatus {
		case "low":
			w.add(fleet.SeverityWarning, fmt.Sprintf("%s agent low (%.0f%%)", a.Agent, a.SupplyLevelPercent))
		case "empty":
			w.add(fleet.SeverityError, a.Agent+" agent empty")
		}
	}
	return w.finding(RuleAgentSupply, "Agent supply low", at)
}

func printheadFinding(c *fleet.Consumables, at time.Time) Finding {
	var w worst
	for _, p := range c.Printheads {
		switch p.Status {
		case "degraded":
			w.add(fleet.SeverityWarning, fmt.Sprintf("printhead %d degraded", p.Slot))
		case "replace":
			w.add(fleet.SeverityError, fmt.Sprintf("printhead %d at end of life: replace", p.Slot))
		case "failed":
			w.add(fleet.SeverityCritical, fmt.Sprintf("printhead %d failed", p.Slot))
		}
	}
	return w.finding(RulePrinthead, "Printhead needs attention", at)
}

func cleaningRollFinding(c *fleet.Consumables, at time.Time) Finding {
	var w worst
	switch c.CleaningRoll.Status {
	case "low":
		w.add(fleet.SeverityWarning, fmt.Sprintf("cleaning roll low (%.0f%% used)", c.CleaningRoll.UsagePercent))
	case "empty":
		w.add(fleet.SeverityError, "cleaning roll empty")
	}
	return w.finding(RuleCleaningRoll, "Cleaning roll low", at)
}

func lampFinding(c *fleet.Consumables, at time.Time) Finding {
	var w worst
	for _, l := range c.Lamps {
		switch l.Status {
		case "weak":
			w.add(fleet.SeverityWarning, fmt.Sprintf("lamp %s weak (%.0f%%)", l.Position, l.IntensityPercent))
		case "failed":
			w.add(fleet.SeverityError, "lamp "+l.Position+" failed")
		}
	}
	return w.finding(RuleLamp, "Lamp weak or failed", at)
}

func filterFinding(percent float64, at time.Time, opts Options) Finding {
	var w worst
	switch {
	case percent < opts.FilterErrorPercent:
		w.add(fleet.SeverityError, fmt.Sprintf("filter at %.0f%%: replace now", percent))
	case percent < opts.FilterWarnPercent:
		w.add(fleet.SeverityWarning, fmt.Sprintf("filter at %.0f%%", percent))
	}
	return w.finding(RuleFilter, "Filter below threshold", at)
}

func customFindings(rules []CustomRule, site fleet.SiteID, counters bool, value func(Metric) (float64, bool), at time.Time) []Finding {
	var out []Finding
	for _, r := range rules {
		info, ok := metricInfo(r.Metric)
		if !ok || info.Counters != counters || (r.SiteID != "" && r.SiteID != site) {
			continue
		}
		v, ok := value(r.Metric)
		if !ok || !r.Op.holds(v, r.Threshold) {
			out = append(out, cleared(r.Key(), at))
			continue
		}
		out = append(out, Finding{Rule: r.Key(), At: at, Holds: true, Severity: r.Severity,
			Title: r.Title(), Detail: fmt.Sprintf("%s is %s", info.Name, formatValue(v, info.Unit))})
	}
	return out
}

// formatValue rounds a metric for a detail: a detail that changes with
// every tiny wear step would notify on every snapshot.
func formatValue(v float64, unit string) string {
	s := fmt.Sprintf("%.0f", v)
	if unit != "" {
		s += " " + unit
	}
	return s
}

func consumablesMetric(c *fleet.Consumables, m Metric) (float64, bool) {
	extreme := func(n int, get func(int) float64, lowest bool) (float64, bool) {
		if n == 0 {
			return 0, false
		}
		v := get(0)
		for i := 1; i < n; i++ {
			if x := get(i); (lowest && x < v) || (!lowest && x > v) {
				v = x
			}
		}
		return v, true
	}
	switch m {
	case MetricAgentLevel:
		return extreme(len(c.Agents), func(i int) float64 { return c.Agents[i].SupplyLevelPercent }, true)
	case MetricCleaningRollUse:
		return c.CleaningRoll.UsagePercent, c.CleaningRoll.Status != ""
	case MetricLampIntensity:
		return extreme(len(c.Lamps), func(i int) float64 { return c.Lamps[i].IntensityPercent }, true)
	case MetricLampHours:
		return extreme(len(c.Lamps), func(i int) float64 { return c.Lamps[i].Hours }, false)
	case MetricPrintheadHours:
		return extreme(len(c.Printheads), func(i int) float64 { return c.Printheads[i].UsageHours }, false)
	case MetricRecycledPercent:
		if c.BuildUnits.Installed == nil {
			return 0, false
		}
		return c.BuildUnits.Installed.RecycledPercent, true
	}
	return 0, false
}

func countersMetric(k *fleet.Counters, m Metric) (float64, bool) {
	switch m {
	case MetricFilterStatus:
		return k.FilterStatusPercent, true
	case MetricSystemErrors:
		return float64(k.SystemErrors), true
	case MetricPrintHours:
		return k.PrintTimeSec / 3600, true
	case MetricCoolingHours:
		return k.CoolingSystemHours, true
	case MetricAgentSystemHours:
		return k.AgentSystemHours, true
	case MetricCarriageCycles:
		return float64(k.CarriageCycles), true
	case MetricServiceStation:
		return float64(k.ServiceStationUses), true
	}
	return 0, false
}

// duration says d in words: "1 hour", "90 minutes", "45 seconds".
func duration(d time.Duration) string {
	switch {
	case d == time.Hour:
		return "1 hour"
	case d%time.Hour == 0:
		return fmt.Sprintf("%d hours", d/time.Hour)
	case d == time.Minute:
		return "1 minute"
	case d%time.Minute == 0:
		return fmt.Sprintf("%d minutes", d/time.Minute)
	}
	return fmt.Sprintf("%d seconds", d/time.Second)
}
