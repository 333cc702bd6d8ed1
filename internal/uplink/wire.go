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
// cloud and need not be sent again.
type Ack struct {
	Through uint64 `json:"through"`
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
