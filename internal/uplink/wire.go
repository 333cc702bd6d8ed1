package uplink

import (
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// Header names of a signed upload.
const (
	HeaderGateway   = "FusionFleet-Gateway"   // the gateway ID
	HeaderTimestamp = "FusionFleet-Timestamp" // Unix seconds
	// HeaderSignature is base64(Ed25519(private key,
	//   "fusionfleet-upload-v1\n" + gateway + "\n" + timestamp + "\n" + hex(sha256(body)))).
	HeaderSignature = "FusionFleet-Signature"
)

// EnrolRequest is the body of POST /v1/enrol.
type EnrolRequest struct {
	Token     string `json:"token"`      // one-time enrolment token
	Name      string `json:"name"`       // the Command Center's name, for the admin
	PublicKey []byte `json:"public_key"` // Ed25519 public key, 32 bytes
}

// EnrolResponse answers a successful enrolment.
type EnrolResponse struct {
	GatewayID fleet.GatewayID `json:"gateway_id"`
	OrgID     fleet.OrgID     `json:"org_id"`
	SiteID    fleet.SiteID    `json:"site_id"`
}

// Batch is the body of POST /v1/batches: records in Seq order.
type Batch struct {
	Records []fleet.Record `json:"records"`
}

// Ack answers an upload: every record with Seq <= Through is durable in the
// cloud and need not be sent again. Diagnostics are the requests waiting
// for the gateway's site (R-ARCH-3: the cloud hands them over in an
// answer); a cloud without diagnostics, and one with none waiting, leaves
// the field out, so an older gateway reads the Ack as before.
type Ack struct {
	Through     uint64                    `json:"through"`
	Diagnostics []fleet.DiagnosticRequest `json:"diagnostics,omitempty"`
}

// Paths of the diagnostics endpoints: every body is signed as a batch is,
// and sent as JSON without compression.
const (
	// PathDiagnosticsPending takes an empty JSON object and answers a
	// Pending: the check-in of a gateway that has uploaded nothing for a
	// while.
	PathDiagnosticsPending = "/v1/diagnostics/pending"
	// PathDiagnosticsReport takes a fleet.DiagnosticReport and answers a
	// DiagnosticAnswer.
	PathDiagnosticsReport = "/v1/diagnostics/report"
	// PathDiagnosticsChunk takes a fleet.DiagnosticChunkData and answers a
	// DiagnosticAnswer.
	PathDiagnosticsChunk = "/v1/diagnostics/chunk"
)

// Pending answers a check-in with the diagnostic requests waiting for the
// gateway's site.
type Pending struct {
	Diagnostics []fleet.DiagnosticRequest `json:"diagnostics"`
}

// DiagnosticAnswer is the cloud's view of a request after a report or a
// chunk: a state other than the one reported means the cloud keeps
// another (a request cancelled or expired meanwhile, a replay).
type DiagnosticAnswer struct {
	ID       fleet.DiagnosticID    `json:"id"`
	State    fleet.DiagnosticState `json:"state"`
	Reason   string                `json:"reason,omitempty"`
	Received int                   `json:"chunks_received"`
}

// ErrorBody is the JSON body of every non-2xx answer.
type ErrorBody struct {
	Error string `json:"error"`
	// Refused lists the Seq of each record a 400 refuses, when the cloud
	// refuses some records of the batch for what they are and would take
	// the others: the gateway sets the refused ones aside and sends the
	// rest again. Empty: the whole batch is refused.
	Refused []uint64 `json:"refused,omitempty"`
}
