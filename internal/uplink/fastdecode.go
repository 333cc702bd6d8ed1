package uplink

import (
	"bytes"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// decodeFast decodes a batch written exactly as json.Marshal writes it
// (the form uplink.Client sends) with fleet.DecodeRecordsFast, into the
// records that decodeStrict would give for the same bytes. It reports
// false for anything that shortcut does not take, an empty batch
// included: the caller then decodes with decodeStrict, which refuses,
// explains or accepts as it always has. FuzzFastDecode checks that the
// two agree, and that canonicalRecords splices what decodeFast takes.
func decodeFast(raw []byte) ([]fleet.Record, bool) {
	const prefix, suffix = `{"records":`, `}`
	if !bytes.HasPrefix(raw, []byte(prefix)) || !bytes.HasSuffix(raw, []byte(suffix)) || len(raw) < len(prefix)+len(suffix) {
		return nil, false
	}
	return fleet.DecodeRecordsFast(raw[len(prefix) : len(raw)-len(suffix)])
}
