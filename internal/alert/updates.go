package alert

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// UpdateOffer is a release a printer could install, as RuleUpdateAvailable
// names it.
type UpdateOffer struct {
	Name  string // what the printer would report running: "4.3.0", "std-4200-2.2"
	Notes string // release notes; the alert quotes their first line
}

// UpdateOffers returns the newest firmware and parameter set on offer
// for printer v; nil where none is.
type UpdateOffers func(v PrinterVersion) (firmware, parameters *UpdateOffer)

// VersionStore lists what every printer last reported running.
type VersionStore interface {
	PrinterVersions(ctx context.Context) ([]PrinterVersion, error)
}

// SweepUpdates reports, for every printer, whether a newer firmware or
// parameter set is on offer for it, and resolves the update alerts of
// printers no longer listed. A printer whose alert already says what is
// on offer, or with neither offer nor alert, costs no further query.
func (e *Evaluator) SweepUpdates(ctx context.Context, st VersionStore, offered UpdateOffers) error {
	versions, err := st.PrinterVersions(ctx)
	if err != nil {
		return fmt.Errorf("update alerts: %w", err)
	}
	active, err := e.store.ActiveAlerts(ctx, RuleUpdateAvailable)
	if err != nil {
		return fmt.Errorf("update alerts: %w", err)
	}
	alerted := make(map[fleet.PrinterID]State, len(active))
	for _, a := range active {
		alerted[a.PrinterID] = a
	}
	now := e.opts.Clock.Now()
	var errs []error
	for _, v := range versions {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fw, ps := offered(v)
		f := UpdateFinding(v, fw, ps, now)
		a, ok := alerted[v.PrinterID]
		delete(alerted, v.PrinterID)
		if (!ok && !f.Holds) || (ok && f.Holds && a.Matches(f)) {
			continue // nothing would change
		}
		if err := e.Report(ctx, v.Subject, f); err != nil {
			errs = append(errs, err)
		}
	}
	for _, a := range alerted {
		s := Subject{OrgID: a.OrgID, SiteID: a.SiteID, PrinterID: a.PrinterID}
		if err := e.Report(ctx, s, cleared(RuleUpdateAvailable, now)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("update alerts: %w", err)
	}
	return nil
}

// UpdateFinding is RuleUpdateAvailable for printer v observed at now,
// given the newest firmware and parameter set on offer for it (nil: none):
// one alert for both, its detail naming each offer with the first line of
// its release notes. A new offer changes the detail and so notifies again.
func UpdateFinding(v PrinterVersion, firmware, parameters *UpdateOffer, now time.Time) Finding {
	f := cleared(RuleUpdateAvailable, now)
	var parts []string
	if firmware != nil {
		parts = append(parts, offerDetail("Firmware", firmware, v.Firmware))
	}
	if parameters != nil {
		parts = append(parts, offerDetail("Parameter set", parameters, v.ParameterSet))
	}
	switch {
	case firmware != nil && parameters != nil:
		f.Title = "Firmware and parameter set updates available"
	case firmware != nil:
		f.Title = "Firmware update available"
	case parameters != nil:
		f.Title = "Parameter set update available"
	default:
		return f
	}
	f.Holds, f.Severity, f.Detail = true, fleet.SeverityInfo, strings.Join(parts, "; ")
	return f
}

// maxNotesLine bounds the release notes an alert's detail quotes.
const maxNotesLine = 200

// offerDetail names an offer for an alert: "Firmware 4.3.0 (running
// 4.2.0): Fixes the lamp driver timing" (a final full stop is dropped:
// details are joined with "; ").
func offerDetail(what string, o *UpdateOffer, running string) string {
	s := fmt.Sprintf("%s %s (running %s)", what, o.Name, running)
	line, _, _ := strings.Cut(o.Notes, "\n")
	line = strings.TrimSuffix(strings.TrimSpace(line), ".")
	if r := []rune(line); len(r) > maxNotesLine {
		line = string(r[:maxNotesLine-1]) + "…"
	}
	if line != "" {
		s += ": " + line
	}
	return s
}
