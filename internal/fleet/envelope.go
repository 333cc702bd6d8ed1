package fleet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Envelope is one accepted batch as the cloud passes it on (through the
// stream, to the store and the alert evaluator): the records plus who sent
// them, as authenticated by the cloud (never as the gateway claims).
type Envelope struct {
	OrgID     OrgID     `json:"org_id"`
	SiteID    SiteID    `json:"site_id"`
	GatewayID GatewayID `json:"gateway_id"`
	Records   []Record  `json:"records"`
}

// ErrPoison marks an envelope that can never be applied: retrying it would
// only block the stream behind it.
var ErrPoison = errors.New("poison message")

// DecodeEnvelope parses and checks one envelope: known fields only, every
// record valid, sequence numbers strictly increasing. Its errors wrap
// ErrPoison.
//
// An envelope as the cloud publishes it (json.Marshal's form, records of
// the kinds sent most) takes decodeEnvelopeFast, which gives what
// encoding/json would at a fraction of its cost; anything else is decoded
// by encoding/json.
func DecodeEnvelope(data []byte) (Envelope, error) {
	env, ok := decodeEnvelopeFast(data)
	if !ok {
		env = Envelope{}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&env); err != nil {
			return env, fmt.Errorf("decode envelope: %w: %w", ErrPoison, err)
		}
		if dec.More() {
			return env, fmt.Errorf("decode envelope: %w: trailing data", ErrPoison)
		}
	}
	if env.OrgID == "" || env.SiteID == "" || env.GatewayID == "" {
		return env, fmt.Errorf("decode envelope: %w: missing organisation, site or gateway", ErrPoison)
	}
	var prev uint64
	for _, r := range env.Records {
		if err := r.Validate(); err != nil {
			return env, fmt.Errorf("envelope from %s: %w: %w", env.GatewayID, ErrPoison, err)
		}
		if r.Seq <= prev {
			return env, fmt.Errorf("envelope from %s: %w: seq %d after %d", env.GatewayID, ErrPoison, r.Seq, prev)
		}
		prev = r.Seq
	}
	return env, nil
}
