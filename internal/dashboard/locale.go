package dashboard

import (
	"context"
	"net/http"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/i18n"
)

// prefsKey is the request context key of the logged-in reader's
// preferences, which authorize puts there from the session's row: the
// preferences cost no query of their own.
type prefsKey struct{}

// withPrefs returns r carrying the reader's preferences.
func withPrefs(r *http.Request, p fleet.Prefs) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), prefsKey{}, p))
}

// prefsOf returns the preferences authorize attached to r, if any.
func prefsOf(r *http.Request) (fleet.Prefs, bool) {
	p, ok := r.Context().Value(prefsKey{}).(fleet.Prefs)
	return p, ok
}

// chooseLang picks the reader's language: their chosen one when they are
// logged in and chose one, else the best of the browser's, else English.
func chooseLang(p fleet.Prefs, acceptLanguage string) i18n.Lang {
	if l, ok := i18n.Parse(p.Lang); ok && p.Lang != "" {
		return l
	}
	return i18n.Negotiate(acceptLanguage)
}

// zone loads a time zone by name, remembering it: names come from stored
// preferences that were validated when saved. An unloadable name (the
// zone database changed) falls back to UTC.
func (h *handler) zone(name string) *time.Location {
	if name == "" {
		return time.UTC
	}
	if loc, ok := h.zones.Load(name); ok {
		return loc.(*time.Location)
	}
	loc, err := fleet.Prefs{TimeZone: name}.Location()
	if err != nil {
		h.log.Warn("stored time zone unusable", "zone", name, "err", err)
		return time.UTC
	}
	h.zones.Store(name, loc)
	return loc
}

// formatTime shows t in zone, to the minute, the way readers of lang write
// dates: "2 Jan 2026, 15:04 CET" or "2. Jan. 2026, 15:04 CET".
func formatTime(lang i18n.Lang, zone *time.Location, t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	if zone == nil {
		zone = time.UTC
	}
	t = t.In(zone)
	if lang == i18n.German {
		return t.Format("2. ") + lang.ShortMonth(t.Month()) + t.Format(" 2006, 15:04 MST")
	}
	return t.Format("2 Jan 2006, 15:04 MST")
}

// commonZones are offered on the account page; any other IANA name may be
// typed in.
var commonZones = []string{
	"UTC",
	"Europe/Berlin", "Europe/Vienna", "Europe/Zurich", "Europe/Amsterdam", "Europe/Paris", "Europe/London",
	"Europe/Madrid", "Europe/Rome", "Europe/Warsaw", "Europe/Prague", "Europe/Stockholm", "Europe/Helsinki",
	"Europe/Istanbul", "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
	"America/Sao_Paulo", "America/Mexico_City", "Asia/Dubai", "Asia/Kolkata", "Asia/Singapore",
	"Asia/Shanghai", "Asia/Tokyo", "Asia/Seoul", "Australia/Sydney",
}

// isCommonZone reports whether name is one of commonZones.
func isCommonZone(name string) bool {
	for _, z := range commonZones {
		if z == name {
			return true
		}
	}
	return false
}
