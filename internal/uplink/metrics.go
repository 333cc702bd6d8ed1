package uplink

import "strconv"

// Counter is a monotonically rising count; prometheus.Counter is one.
type Counter interface{ Add(float64) }

// Metrics receives the handler's measurements. Each field is optional: the
// zero value records nothing. The shapes match the Prometheus client, so
// wiring is one line per field, e.g.
//
//	Requests: func(route, code string) uplink.Counter { return vec.WithLabelValues(route, code) }
//
// All of them must be safe for concurrent use.
type Metrics struct {
	// Requests counts answers by route ("/v1/batches", "/v1/enrol",
	// "other") and status code.
	Requests func(route, code string) Counter
	// RecordsAccepted counts records of batches that were made durable.
	RecordsAccepted Counter
	// Rejected counts refused uploads by reason, one of the Reason*
	// constants.
	Rejected func(reason string) Counter
	// BytesIn counts upload bodies as received (compressed).
	BytesIn Counter
	// DecodedBytes counts upload bodies after decompression.
	DecodedBytes Counter
}

// Reasons an upload is refused, the label values of Metrics.Rejected.
const (
	ReasonUnauthenticated = "unauthenticated" // 401: headers, key, signature or clock
	ReasonRevoked         = "revoked"         // 403
	ReasonTooLarge        = "too_large"       // 413: body, decompressed body, records, message
	ReasonEncoding        = "encoding"        // 415, or a broken compressed stream
	ReasonMalformed       = "malformed"       // 400: not a batch
	ReasonInvalid         = "invalid_record"  // 400: a record fails validation or order
	ReasonPrivateField    = "private_field"   // 400: a field the allow-list does not name (R-PRIV-2)
	ReasonRateLimited     = "rate_limited"    // 429
	ReasonUnavailable     = "unavailable"     // 503: the stream or the register failed
)

func add(c Counter, v float64) {
	if c != nil {
		c.Add(v)
	}
}

func (m Metrics) request(route string, code int) {
	if m.Requests != nil {
		m.Requests(route, strconv.Itoa(code)).Add(1)
	}
}

func (m Metrics) rejected(reason string) {
	if m.Rejected != nil && reason != "" {
		m.Rejected(reason).Add(1)
	}
}
