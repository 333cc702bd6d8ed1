package deviceapi

import (
	"errors"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// Wire types of the device API. Fields tagged PRIVATE are known on the site
// (printer, Command Center, local UI) and must never reach the uplink
// (R-PRIV-2); the privacy package is the only place that turns these types
// into fleet records.

// Identity is GET /v1/identity.
type Identity struct {
	fleet.Identity
	// Instance changes every time the printer (re)starts its feeds, like an
	// MTConnect agent's instanceId: a client whose cursor belongs to another
	// instance must start over and record a gap.
	Instance string `json:"instance"`
}

// Status is GET /v1/status.
type Status struct {
	State       fleet.State `json:"state"`
	Activity    string      `json:"activity"`
	Job         *Job        `json:"job,omitempty"` // current job, nil when idle
	ETCSeconds  int64       `json:"etc_seconds"`
	PendingJobs int         `json:"pending_jobs"`
	Time        time.Time   `json:"time"`
}

// Job is a print job as the printer knows it.
type Job struct {
	ID          string  `json:"id"`   // random, never derived from names (R-DATA-4)
	Name        string  `json:"name"` // PRIVATE: job name
	User        string  `json:"user"` // PRIVATE: submitting user name
	Host        string  `json:"host"` // PRIVATE: submitting computer name
	Progress    float64 `json:"progress"`
	LayersDone  int     `json:"layers_done"`
	LayersTotal int     `json:"layers_total"`
}

// EventPage is GET /v1/events?after=<seq>&limit=<n>. Events are those with
// Seq > after, oldest first, at most limit. Next is the cursor for the next
// read (the Seq of the last event returned, or after when none). First is the
// oldest Seq the printer still holds: a client whose after+1 < First has
// missed events (a gap).
type EventPage struct {
	Instance string        `json:"instance"`
	Events   []fleet.Event `json:"events"`
	Next     uint64        `json:"next"`
	First    uint64        `json:"first"`
}

// Fingerprint is the SHA-256 of a printer certificate's DER bytes, written
// as 32 upper-case hex pairs joined by colons (as `openssl x509 -fingerprint
// -sha256` prints it), so an operator can compare it with the printer panel.
type Fingerprint string

// ErrPinMismatch is returned (wrapped) by the client when a printer presents a
// certificate whose fingerprint differs from the one pinned at enrolment
// (R-SEC-9): collection from that printer must stop until an operator
// confirms the new certificate.
var ErrPinMismatch = errors.New("printer certificate does not match the pinned fingerprint")
