package privacy

import (
	"slices"
	"strings"

	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// redacted replaces a private name that a printer wrote into a free-text
// field that may otherwise leave the site.
const redacted = "[private]"

// Identity returns the part of a printer's identity that may leave the site
// (R-DATA-1). The feed instance is local bookkeeping and stays behind.
func Identity(id deviceapi.Identity) fleet.Identity {
	return fleet.Identity{
		PrinterID:    id.PrinterID,
		Name:         id.Name,
		Model:        id.Model,
		ModelNumber:  id.ModelNumber,
		SerialNumber: id.SerialNumber,
		Firmware:     id.Firmware,
		Size:         id.Size,
		DiskBytes:    id.DiskBytes,
		MemoryBytes:  id.MemoryBytes,
		Date:         id.Date,
		UptimeSec:    id.UptimeSec,
	}
}

// Status returns the heartbeat of printer p that may leave the site
// (R-DATA-2). The current job is reduced to its random ID and progress; its
// name, user and host are dropped (R-PRIV-2), and should the printer have
// written any of them into the activity text, they are redacted there too.
func Status(p fleet.PrinterID, s deviceapi.Status) fleet.Status {
	out := fleet.Status{
		PrinterID:   p,
		State:       s.State,
		Activity:    s.Activity,
		ETCSeconds:  s.ETCSeconds,
		PendingJobs: s.PendingJobs,
		Time:        s.Time,
	}
	if j := s.Job; j != nil {
		out.JobID = j.ID
		out.Progress = j.Progress
		out.Activity = redact(out.Activity, j.Name, j.User, j.Host)
	}
	return out
}

// Event returns the part of a printer event that may leave the site
// (R-DATA-3).
func Event(e fleet.Event) fleet.Event {
	return fleet.Event{
		Seq:         e.Seq,
		Code:        e.Code,
		Description: e.Description,
		Severity:    e.Severity,
		Time:        e.Time,
		Firmware:    e.Firmware,
		Subsystem:   e.Subsystem,
		Details:     e.Details,
	}
}

// redact replaces every occurrence of the private strings in s. Empty and
// very short strings are skipped: replacing a one-letter user name would
// mangle the text without protecting anything.
// Longer strings go first so that one name containing another is replaced
// whole.
func redact(s string, private ...string) string {
	slices.SortFunc(private, func(a, b string) int { return len(b) - len(a) })
	for _, p := range private {
		if len(strings.TrimSpace(p)) < 3 {
			continue
		}
		s = strings.ReplaceAll(s, p, redacted)
	}
	return s
}
