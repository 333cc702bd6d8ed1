package uplink

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// encodeEnvelope returns the JSON of the envelope the cloud publishes for
// an accepted batch: the authenticated gateway's identity and recs, the
// records decodeBatch decoded strictly from raw and validated.
//
// When raw is in the form a client sends (json.Marshal's, see
// canonicalRecords), its records array is spliced into the envelope as it
// is: it decodes to exactly recs, and is byte for byte what json.Marshal of
// the envelope gives (but for invalid UTF-8 the gateway escaped as \ufffd,
// which re-encoding writes unescaped), at a quarter of the cost of
// re-encoding (BenchmarkEncodeEnvelope). Any other form is re-encoded from
// recs, so no byte the decoder did not turn into a validated record is
// ever published.
//
// canonical says raw was taken by decodeFast, whose form implies every
// condition canonicalRecords checks, so its records array is spliced
// without a second scan (FuzzFastDecode checks the two agree).
func encodeEnvelope(gw fleet.Gateway, raw []byte, recs []fleet.Record, canonical bool) ([]byte, error) {
	var arr []byte
	ok := canonical
	if canonical {
		arr = recordsArray(raw)
	} else {
		arr, ok = canonicalRecords(raw, len(recs))
	}
	if !ok {
		return json.Marshal(fleet.Envelope{OrgID: gw.OrgID, SiteID: gw.SiteID, GatewayID: gw.ID, Records: recs})
	}
	head, err := json.Marshal(struct {
		OrgID     fleet.OrgID     `json:"org_id"`
		SiteID    fleet.SiteID    `json:"site_id"`
		GatewayID fleet.GatewayID `json:"gateway_id"`
	}{gw.OrgID, gw.SiteID, gw.ID})
	if err != nil {
		return nil, err
	}
	const key = `,"records":`
	data := make([]byte, 0, len(head)+len(key)+len(arr)+1)
	data = append(data, head[:len(head)-1]...) // without the closing brace
	data = append(data, key...)
	data = append(data, arr...)
	return append(data, '}'), nil
}

// maxObjectKeys bounds the keys of one object that canonicalRecords
// compares for duplicates (the largest record type has far fewer), so the
// check stays linear in the size of the batch.
const maxObjectKeys = 64

// canonicalRecords returns the bytes of the records array of raw, a batch
// that decodeStrict accepted into n records, when those bytes say nothing
// that the decoded records do not: raw is valid UTF-8, has no whitespace
// outside strings, no \u escape of a surrogate half, and every object key
// is plain lower-case ASCII ([a-z0-9_], no escapes) and unique within its
// object. Together with the strict decoder's refusal of unknown fields this
// means every key is a schema name spelled as the schema spells it, and no
// value was decoded and then overwritten by a later duplicate (which
// encoding/json allows and other decoders may read differently). Anything
// else reports false, and the caller re-encodes.
func canonicalRecords(raw []byte, n int) ([]byte, bool) {
	const prefix = `{"records":[`
	if !bytes.HasPrefix(raw, []byte(prefix)) || !utf8.Valid(raw) {
		return nil, false
	}
	type frame struct {
		object bool
		keys   int // index in keys of the object's first key
	}
	var (
		frames    = make([]frame, 0, 8)
		keys      = make([][]byte, 0, 64)
		expectKey bool
		elems     int // elements of the records array
		arrEnd    = -1
	)
	for i := 0; i < len(raw); {
		switch c := raw[i]; c {
		case '{', '[':
			frames = append(frames, frame{object: c == '{', keys: len(keys)})
			expectKey = c == '{'
			if len(frames) == 2 && i == len(prefix)-1 && i+1 < len(raw) && raw[i+1] != ']' {
				elems = 1
			}
			i++
		case '}', ']':
			if len(frames) == 0 || frames[len(frames)-1].object != (c == '}') {
				return nil, false
			}
			f := frames[len(frames)-1]
			frames, keys = frames[:len(frames)-1], keys[:f.keys]
			if len(frames) == 1 && arrEnd < 0 {
				arrEnd = i + 1
			}
			expectKey = false
			i++
		case ',':
			if len(frames) == 0 {
				return nil, false
			}
			expectKey = frames[len(frames)-1].object
			if len(frames) == 2 && arrEnd < 0 {
				elems++
			}
			i++
		case ':':
			expectKey = false
			i++
		case '"':
			end, ok := stringEnd(raw, i)
			if !ok {
				return nil, false
			}
			if expectKey {
				f := frames[len(frames)-1]
				k := raw[i+1 : end-1]
				if !plainKey(k) || len(keys)-f.keys >= maxObjectKeys {
					return nil, false
				}
				for _, seen := range keys[f.keys:] {
					if bytes.Equal(seen, k) {
						return nil, false
					}
				}
				keys = append(keys, k)
				expectKey = false
			}
			i = end
		case ' ', '\t', '\n', '\r':
			return nil, false
		default: // a number, true, false or null
			j := i
			for j < len(raw) && literalByte(raw[j]) {
				j++
			}
			if j == i || len(frames) == 0 {
				return nil, false
			}
			expectKey = false
			i = j
		}
	}
	// The top-level object must hold the records array and nothing else.
	if len(frames) != 0 || arrEnd != len(raw)-1 || elems != n {
		return nil, false
	}
	return raw[len(prefix)-1 : arrEnd], true
}

// stringEnd returns the index just past the JSON string that starts at
// raw[i], false if it does not end or escapes a UTF-16 surrogate half.
func stringEnd(raw []byte, i int) (int, bool) {
	for j := i + 1; j < len(raw); {
		q := bytes.IndexByte(raw[j:], '"')
		if q < 0 {
			return 0, false
		}
		e := bytes.IndexByte(raw[j:j+q], '\\')
		if e < 0 {
			return j + q + 1, true
		}
		j += e // at a backslash
		switch {
		case j+1 >= len(raw):
			return 0, false
		case raw[j+1] != 'u':
			j += 2 // \" \\ \/ \b \f \n \r \t
			continue
		case j+5 >= len(raw):
			return 0, false
		}
		if h := raw[j+2 : j+4]; (h[0] == 'd' || h[0] == 'D') && bytes.IndexByte([]byte("89abcdefABCDEF"), h[1]) >= 0 {
			return 0, false
		}
		j += 6
	}
	return 0, false
}

// plainKey reports whether k is a non-empty [a-z0-9_] name.
func plainKey(k []byte) bool {
	if len(k) == 0 {
		return false
	}
	for _, c := range k {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// literalByte reports whether c may occur in a JSON number or literal.
func literalByte(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '.' || c == '+' || c == '-'
}

// recordsArray returns the records array of a batch in the canonical form
// `{"records":[…]}`.
func recordsArray(raw []byte) []byte {
	return raw[len(`{"records":`) : len(raw)-1]
}
