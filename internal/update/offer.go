package update

import (
	"slices"
	"strings"
)

// Offer is a release as the cloud offers it to an organisation's
// printers: its target, and whether its staged rollout is halted.
type Offer struct {
	Target string `json:"target"`
	Length int64  `json:"length"`
	Release
	Halted     bool   `json:"halted"`
	HaltReason string `json:"halt_reason,omitempty"`
}

// InstalledVersion reads the version a printer reports running as a
// release version. Firmware reports its version; a parameter set reports
// its name, which is looked up among the offers (a release's Name), else
// read as a version or from its last "-" field ("std-4200-2.1" → "2.1").
// "" means unknown.
func InstalledVersion(offers []Offer, kind Kind, model, reported string) string {
	if reported == "" {
		return ""
	}
	for _, o := range offers {
		if o.Kind == kind && o.Fits(model) && o.DisplayName() == reported {
			return o.Version
		}
	}
	if _, err := ParseVersion(reported); err == nil {
		return reported
	}
	if i := strings.LastIndexByte(reported, '-'); i >= 0 {
		if _, err := ParseVersion(reported[i+1:]); err == nil {
			return reported[i+1:]
		}
	}
	return ""
}

// NewestOffer is the newest offer of kind that fits model, is newer than
// installed, upgrades from it and is not halted; nil if none (or if
// installed is unknown). Staged-rollout percentages are the printer's own
// business and not considered.
func NewestOffer(offers []Offer, kind Kind, model, installed string) *Offer {
	if installed == "" || model == "" {
		return nil
	}
	var best *Offer
	for i := range offers {
		o := &offers[i]
		if o.Kind != kind || !o.Fits(model) || o.Halted || CompareVersions(o.Version, installed) <= 0 {
			continue
		}
		if o.MinVersion != "" && CompareVersions(installed, o.MinVersion) < 0 {
			continue
		}
		if best == nil || CompareVersions(o.Version, best.Version) > 0 {
			best = o
		}
	}
	return best
}

// SortOffers orders offers by kind, newest version first.
func SortOffers(offers []Offer) {
	slices.SortStableFunc(offers, func(a, b Offer) int {
		if c := strings.Compare(string(a.Kind), string(b.Kind)); c != 0 {
			return c
		}
		return CompareVersions(b.Version, a.Version)
	})
}
