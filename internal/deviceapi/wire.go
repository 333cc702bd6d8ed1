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
	Job         *CurrentJob `json:"job,omitempty"` // current job, nil when idle
	ETCSeconds  int64       `json:"etc_seconds"`
	PendingJobs int         `json:"pending_jobs"`
	Time        time.Time   `json:"time"`
}

// CurrentJob summarises the job a printer is working on.
type CurrentJob struct {
	ID          string     `json:"id"` // random, never derived from names (R-DATA-4)
	Progress    float64    `json:"progress"`
	LayersDone  int        `json:"layers_done"`
	LayersTotal int        `json:"layers_total"`
	Private     JobPrivate `json:"private"`
}

// JobPrivate is what the printer knows of a job that must never leave the
// site (R-PRIV-2): shown in the local UI, dropped by the privacy package.
type JobPrivate struct {
	Name string `json:"name"` // PRIVATE: job name
	User string `json:"user"` // PRIVATE: submitting user name
	Host string `json:"host"` // PRIVATE: submitting computer name
}

// PartPrivate is what the printer knows of a part that must never leave
// the site (R-PRIV-1, R-PRIV-2).
type PartPrivate struct {
	Name        string `json:"name"`         // PRIVATE: part name
	GeometryRef string `json:"geometry_ref"` // PRIVATE: reference to the part's geometry file
}

// Job is one entry of GET /v1/jobs: a job as it was at one change (queued,
// started, finished printing, cooled, unpacked), with its parts. The newest
// entry of a job ID is the job's current state.
type Job struct {
	Seq uint64 `json:"seq"` // position in the jobs feed
	fleet.Job
	Private JobPrivate `json:"private"`
	Parts   []Part     `json:"parts"`
}

// Part is a part of a job as the printer knows it.
type Part struct {
	fleet.Part
	Private PartPrivate `json:"private"`
}

// Page is one read of a cursor feed (events, jobs, layers, logs): the items
// with Seq > after, oldest first, at most limit. Next is the cursor for the
// next read (the Seq of the last item returned, or after when none). First
// is the oldest Seq the printer still holds: a reader whose after+1 < First
// has missed items (a gap). Instance changes when the printer restarts its
// feeds; a cursor of another instance is meaningless.
type Page[T any] struct {
	Instance string `json:"instance"`
	Items    []T    `json:"items"`
	Next     uint64 `json:"next"`
	First    uint64 `json:"first"`
}

// The feeds of the device API.
type (
	EventPage = Page[fleet.Event]   // GET /v1/events
	JobPage   = Page[Job]           // GET /v1/jobs
	LayerPage = Page[fleet.Layer]   // GET /v1/layers
	LogPage   = Page[fleet.LogLine] // GET /v1/logs/{log}
)

// Fingerprint is the SHA-256 of a certificate's DER bytes (a printer's, or
// a Command Center's client certificate), written
// as 32 upper-case hex pairs joined by colons (as `openssl x509 -fingerprint
// -sha256` prints it), so an operator can compare it with the printer panel
// or the local UI.
type Fingerprint string

// ErrPinMismatch is returned (wrapped) by the client when a printer presents a
// certificate whose fingerprint differs from the one pinned at enrolment
// (R-SEC-9): collection from that printer must stop until an operator
// confirms the new certificate.
var ErrPinMismatch = errors.New("printer certificate does not match the pinned fingerprint")

// ErrNotPaired is returned (wrapped, as a *NotPairedError) by the client
// when a printer answers 401: it has not paired this Command Center's
// client certificate, and serves it no private field or log until the
// operator pairs it at the printer.
var ErrNotPaired = errors.New("this Command Center is not paired with the printer")
