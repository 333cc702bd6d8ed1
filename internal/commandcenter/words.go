package commandcenter

import (
	"fmt"
	"time"
)

// DurationWords writes d as "2 h 05 min", "12 min" or "under a minute".
func DurationWords(d time.Duration) string {
	m := int64(d.Round(time.Minute) / time.Minute)
	switch {
	case m < 1:
		return "under a minute"
	case m < 60:
		return fmt.Sprintf("%d min", m)
	default:
		return fmt.Sprintf("%d h %02d min", m/60, m%60)
	}
}

// Stamp writes a time for people on the site, in the server's zone, as
// the local pages and the self-test report do.
func Stamp(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Local().Format("2006-01-02 15:04:05 MST")
}
