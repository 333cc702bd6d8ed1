package alert

import (
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/maintenance"
)

// The rules fed by the degradation detectors (Options.Degradation).
const (
	RuleLampDegrading   fleet.RuleKey = "lamp-degrading"
	RuleFilterDegrading fleet.RuleKey = "filter-degrading"
	RuleCoolingWarning  fleet.RuleKey = "cooling-warning"
	RuleCarriageWarning fleet.RuleKey = "carriage-warning"
)

// Degradation watches the live streams for components whose visible
// condition steps down, the way most announce their failure
// (maintenance.Watch). It keeps state across records.
type Degradation interface {
	Observe(rec fleet.Record) []maintenance.Signal
}

var degradationRules = map[maintenance.Kind]struct {
	rule  fleet.RuleKey
	title string
}{
	maintenance.Lamp:     {RuleLampDegrading, "Lamp degrading: replace soon"},
	maintenance.Filter:   {RuleFilterDegrading, "Filter degrading: replace soon"},
	maintenance.Cooling:  {RuleCoolingWarning, "Cooling system warning: service soon"},
	maintenance.Carriage: {RuleCarriageWarning, "Carriage warning: service soon"},
}

// degradationFindings turns the detectors' signals on rec into findings.
func (e *Evaluator) degradationFindings(rec fleet.Record) []Finding {
	if e.opts.Degradation == nil {
		return nil
	}
	var out []Finding
	for _, s := range e.opts.Degradation.Observe(rec) {
		r, ok := degradationRules[s.Kind]
		if !ok {
			continue
		}
		if !s.Holds {
			out = append(out, cleared(r.rule, rec.Time))
			continue
		}
		out = append(out, Finding{Rule: r.rule, At: rec.Time, Holds: true, Severity: fleet.SeverityWarning,
			Title: r.title, Detail: s.Evidence})
	}
	return out
}
