package fleet

import (
	"fmt"
	"slices"
	"time"
)

// Remote diagnostics (R-FEAT-7): someone in the cloud with the right (a
// customer's operator, or a service provider under the customer's grant)
// asks for a printer's logs, a snapshot or a self-test. The request waits
// in the cloud until the site's Command Center picks it up in the answer
// to an upload (R-ARCH-3); the site approves or refuses it, runs it, and
// uploads the filtered result in chunks. Both sides keep its state.

// DiagnosticID identifies a diagnostic request: "dg_" and 32 hex digits.
type DiagnosticID string

// NewDiagnosticID returns a fresh random DiagnosticID.
func NewDiagnosticID() (DiagnosticID, error) {
	id, err := NewID("dg_")
	return DiagnosticID(id), err
}

// Valid reports whether id has the shape of a DiagnosticID: a forged or
// mangled one is refused before any lookup.
func (id DiagnosticID) Valid() bool {
	const prefix = "dg_"
	s := string(id)
	if len(s) != len(prefix)+32 || s[:len(prefix)] != prefix {
		return false
	}
	for _, r := range s[len(prefix):] {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

// DiagnosticKind is what a diagnostic collects.
type DiagnosticKind string

// The kinds of diagnostic.
const (
	DiagnosticLogs     DiagnosticKind = "logs"     // named device logs over a time window
	DiagnosticSnapshot DiagnosticKind = "snapshot" // counters and consumables, now
	DiagnosticSelfTest DiagnosticKind = "selftest" // the printer's self-test
)

// Valid reports whether k is a known kind.
func (k DiagnosticKind) Valid() bool {
	return k == DiagnosticLogs || k == DiagnosticSnapshot || k == DiagnosticSelfTest
}

// DiagnosticState is where a diagnostic request stands.
type DiagnosticState string

// The states, in the order a request passes them. Refused, done, failed,
// cancelled and expired are final.
const (
	DiagRequested DiagnosticState = "requested" // waits in the cloud for the Command Center
	DiagDelivered DiagnosticState = "delivered" // the Command Center has it; awaits the site's decision
	DiagApproved  DiagnosticState = "approved"  // the site agreed (a person, or its policy)
	DiagRunning   DiagnosticState = "running"   // collecting from the printer
	DiagUploading DiagnosticState = "uploading" // the result travels, chunk by chunk
	DiagDone      DiagnosticState = "done"      // the whole result is in the cloud
	DiagRefused   DiagnosticState = "refused"   // the site said no
	DiagFailed    DiagnosticState = "failed"    // could not be run or delivered; Reason says why
	DiagCancelled DiagnosticState = "cancelled" // withdrawn before the site took it up
	DiagExpired   DiagnosticState = "expired"   // not picked up in time
)

// diagOrder ranks the states of the main path.
var diagOrder = []DiagnosticState{DiagRequested, DiagDelivered, DiagApproved, DiagRunning, DiagUploading, DiagDone}

// DiagnosticStates lists every state, the main path first.
func DiagnosticStates() []DiagnosticState {
	return append(slices.Clone(diagOrder), DiagRefused, DiagFailed, DiagCancelled, DiagExpired)
}

// Valid reports whether s is a known state.
func (s DiagnosticState) Valid() bool { return slices.Contains(DiagnosticStates(), s) }

// Final reports whether nothing follows s.
func (s DiagnosticState) Final() bool {
	switch s {
	case DiagDone, DiagRefused, DiagFailed, DiagCancelled, DiagExpired:
		return true
	}
	return false
}

// CanMove reports whether a request in state s may move to next. Along the
// main path it moves forward only (a step may be skipped: a site's
// approval may reach the cloud before its report of the delivery); it is
// refused only before it is approved, cancelled or expired only before the site acted,
// and it fails from any state before done. Staying in a state is not a
// move: a replayed report changes nothing.
func (s DiagnosticState) CanMove(next DiagnosticState) bool {
	if s.Final() || !next.Valid() || s == next {
		return false
	}
	switch next {
	case DiagRefused:
		// The site may refuse before its report of the delivery
		// reached the cloud.
		return s == DiagRequested || s == DiagDelivered
	case DiagCancelled, DiagExpired:
		return s == DiagRequested || s == DiagDelivered
	case DiagFailed:
		return true
	}
	from, to := slices.Index(diagOrder, s), slices.Index(diagOrder, next)
	return from >= 0 && to > from
}

// Limits of a diagnostic request: a window or size beyond them is refused
// before it is stored, so no request can make a site read or send without
// bound.
const (
	MaxDiagnosticWindow = 7 * 24 * time.Hour // the longest log window
	MaxDiagnosticBytes  = 64 << 20           // the largest result
	MinDiagnosticBytes  = 4 << 10            // the smallest limit a requester may set
	DiagnosticChunk     = 32 << 10           // bytes of result per uploaded chunk
	// MaxDiagnosticChunks is how many chunks the largest result has.
	MaxDiagnosticChunks = MaxDiagnosticBytes / DiagnosticChunk
	// DiagnosticTTL is how long a request waits for its site before it
	// expires.
	DiagnosticTTL = 24 * time.Hour
)

// DiagnosticRequest is what the cloud hands a Command Center: everything
// the site needs to decide and to run it.
type DiagnosticRequest struct {
	ID        DiagnosticID   `json:"id"`
	PrinterID PrinterID      `json:"printer_id"` // the printer's own (device) ID
	Kind      DiagnosticKind `json:"kind"`
	Logs      []LogKind      `json:"logs,omitempty"` // for DiagnosticLogs
	From      time.Time      `json:"from,omitzero"`  // for DiagnosticLogs
	To        time.Time      `json:"to,omitzero"`    // for DiagnosticLogs
	MaxBytes  int64          `json:"max_bytes"`      // the result is cut at this size
	Requester string         `json:"requester"`      // who asks, for the site's decision
	Grant     string         `json:"grant,omitempty"`
	Created   time.Time      `json:"created"`
	Expires   time.Time      `json:"expires"`
}

// Validate checks a request as the requester made it: a known kind, known
// logs, a window and a size within bounds.
func (r DiagnosticRequest) Validate() error {
	if !r.ID.Valid() {
		return fmt.Errorf("diagnostic id %q: malformed", r.ID)
	}
	if err := validID("printer", string(r.PrinterID)); err != nil {
		return err
	}
	if !r.Kind.Valid() {
		return fmt.Errorf("diagnostic kind %q: want logs, snapshot or selftest", r.Kind)
	}
	if r.MaxBytes < MinDiagnosticBytes || r.MaxBytes > MaxDiagnosticBytes {
		return fmt.Errorf("max_bytes %d: want %d to %d", r.MaxBytes, MinDiagnosticBytes, MaxDiagnosticBytes)
	}
	if len(r.Requester) > 200 {
		return fmt.Errorf("requester: %d bytes, at most 200", len(r.Requester))
	}
	if r.Kind != DiagnosticLogs {
		if len(r.Logs) > 0 || !r.From.IsZero() || !r.To.IsZero() {
			return fmt.Errorf("a %s diagnostic takes no logs and no window", r.Kind)
		}
		return nil
	}
	if len(r.Logs) == 0 {
		return fmt.Errorf("a logs diagnostic names at least one log")
	}
	seen := map[LogKind]bool{}
	for _, l := range r.Logs {
		if !l.Valid() {
			return fmt.Errorf("log %q: unknown", l)
		}
		if seen[l] {
			return fmt.Errorf("log %q named twice", l)
		}
		seen[l] = true
	}
	switch {
	case r.From.IsZero() || r.To.IsZero():
		return fmt.Errorf("a logs diagnostic needs a window: from and to")
	case r.From.Year() < MinYear || r.To.Year() > MaxYear:
		return fmt.Errorf("window %s to %s: out of range", r.From.UTC().Format(time.RFC3339), r.To.UTC().Format(time.RFC3339))
	case !r.From.Before(r.To):
		return fmt.Errorf("window: from %s is not before to %s", r.From.UTC().Format(time.RFC3339), r.To.UTC().Format(time.RFC3339))
	case r.To.Sub(r.From) > MaxDiagnosticWindow:
		return fmt.Errorf("window of %s: at most %s", r.To.Sub(r.From), MaxDiagnosticWindow)
	}
	return nil
}

// Diagnostic is a request as the cloud keeps it: the request, who made
// it, and where it stands.
type Diagnostic struct {
	DiagnosticRequest
	Org          OrgID           `json:"org_id"`
	Site         SiteID          `json:"site_id"`
	Printer      PrinterID       `json:"printer"` // the cloud's key of the printer
	RequestedBy  UserID          `json:"requested_by"`
	RequesterOrg OrgID           `json:"requester_org"`
	State        DiagnosticState `json:"state"`
	Reason       string          `json:"reason,omitempty"` // why it was refused or failed
	Updated      time.Time       `json:"updated"`
	Chunks       int             `json:"chunks"`          // of the result; 0 until the first arrives
	Received     int             `json:"chunks_received"` // chunks stored so far
	Size         int64           `json:"size"`            // bytes of the result, once done
	SHA256       string          `json:"sha256,omitempty"`
}

// DiagnosticReport is what a Command Center tells the cloud of a request.
type DiagnosticReport struct {
	ID     DiagnosticID    `json:"id"`
	State  DiagnosticState `json:"state"`
	Reason string          `json:"reason,omitempty"`
	// Chunks, Size and SHA256 describe the whole result; set with
	// uploading (Chunks) and done (all three).
	Chunks int    `json:"chunks,omitempty"`
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

// Validate checks a report's shape.
func (r DiagnosticReport) Validate() error {
	if !r.ID.Valid() {
		return fmt.Errorf("diagnostic id %q: malformed", r.ID)
	}
	if !r.State.Valid() || r.State == DiagRequested || r.State == DiagCancelled || r.State == DiagExpired {
		return fmt.Errorf("state %q: a site reports delivered, approved, refused, running, uploading, done or failed", r.State)
	}
	if len(r.Reason) > 500 {
		return fmt.Errorf("reason: %d bytes, at most 500", len(r.Reason))
	}
	if r.Chunks < 0 || r.Chunks > MaxDiagnosticChunks {
		return fmt.Errorf("chunks %d: at most %d", r.Chunks, MaxDiagnosticChunks)
	}
	if r.Size < 0 || r.Size > MaxDiagnosticBytes {
		return fmt.Errorf("size %d: at most %d", r.Size, MaxDiagnosticBytes)
	}
	if r.State == DiagDone && len(r.SHA256) != 64 {
		return fmt.Errorf("done: want the result's SHA-256 in 64 hex digits")
	}
	return nil
}

// DiagnosticChunkData is one piece of a result, as a site uploads it.
type DiagnosticChunkData struct {
	ID     DiagnosticID `json:"id"`
	Index  int          `json:"index"` // from 0
	Chunks int          `json:"chunks"`
	Data   []byte       `json:"data"`
}

// Validate checks a chunk's shape.
func (c DiagnosticChunkData) Validate() error {
	switch {
	case !c.ID.Valid():
		return fmt.Errorf("diagnostic id %q: malformed", c.ID)
	case c.Chunks < 1 || c.Chunks > MaxDiagnosticChunks:
		return fmt.Errorf("chunks %d: want 1 to %d", c.Chunks, MaxDiagnosticChunks)
	case c.Index < 0 || c.Index >= c.Chunks:
		return fmt.Errorf("chunk %d of %d: out of range", c.Index, c.Chunks)
	case len(c.Data) == 0 || len(c.Data) > DiagnosticChunk:
		return fmt.Errorf("chunk of %d bytes: want 1 to %d", len(c.Data), DiagnosticChunk)
	}
	return nil
}
