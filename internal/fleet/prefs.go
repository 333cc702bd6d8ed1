package fleet

import (
	"errors"
	"fmt"
	"time"

	// The zone database is compiled in, so that time zone names validate
	// and convert on machines without one (minimal containers).
	_ "time/tzdata"
)

// Prefs are a user's display preferences. The zero value means "not
// chosen": the language the browser asks for, and UTC.
type Prefs struct {
	// Lang is a BCP 47 primary language tag ("en", "de"), or "" for the
	// browser's language.
	Lang string
	// TimeZone is an IANA time zone name ("Europe/Berlin"), or "" for UTC.
	TimeZone string
}

// maxZoneLen bounds a time zone name; the longest IANA name has 32 bytes.
const maxZoneLen = 64

// Validate checks that Lang looks like a language tag and that TimeZone
// names a known zone. Which languages the product speaks is the
// dashboard's business, not the store's.
func (p Prefs) Validate() error {
	if len(p.Lang) > 8 {
		return fmt.Errorf("prefs: invalid language %q", p.Lang)
	}
	for _, c := range p.Lang {
		if c < 'a' || c > 'z' {
			return fmt.Errorf("prefs: invalid language %q", p.Lang)
		}
	}
	if _, err := p.Location(); err != nil {
		return err
	}
	return nil
}

// Location loads TimeZone; "" is UTC.
func (p Prefs) Location() (*time.Location, error) {
	if p.TimeZone == "" {
		return time.UTC, nil
	}
	if len(p.TimeZone) > maxZoneLen {
		return nil, errors.New("prefs: time zone name too long")
	}
	// LoadLocation also reads files named by the environment (ZONEINFO) and
	// accepts "Local"; neither names a zone a user can mean.
	if p.TimeZone == "Local" {
		return nil, errors.New("prefs: time zone \"Local\" names no zone")
	}
	loc, err := time.LoadLocation(p.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("prefs: time zone: %w", err)
	}
	return loc, nil
}
