package mtconnect

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// ErrorCode is one of the standard's error codes.
type ErrorCode string

// The error codes the agent answers with.
const (
	InvalidRequest ErrorCode = "INVALID_REQUEST"
	OutOfRange     ErrorCode = "OUT_OF_RANGE"
	NoDevice       ErrorCode = "NO_DEVICE"
	InvalidURI     ErrorCode = "INVALID_URI"
	Unsupported    ErrorCode = "UNSUPPORTED"
	AssetNotFound  ErrorCode = "ASSET_NOT_FOUND"
	TooMany        ErrorCode = "TOO_MANY"
	InternalError  ErrorCode = "INTERNAL_ERROR"
)

// status is the HTTP status an error is answered with.
func (c ErrorCode) status() int {
	switch c {
	case NoDevice, InvalidURI, AssetNotFound:
		return http.StatusNotFound
	case Unsupported:
		return http.StatusMethodNotAllowed
	case TooMany:
		return http.StatusServiceUnavailable
	case InternalError:
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

// Error is a request the agent refuses, answered with an MTConnectError
// document.
type Error struct {
	Code ErrorCode
	Msg  string
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Msg }

func errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// The limits of the query parameters.
const (
	maxQuery         = 2048             // bytes of a query string
	defaultCount     = 100              // observations of a sample
	defaultHeartbeat = 10 * time.Second // of a stream
	maxHeartbeat     = 10 * time.Minute
	maxInterval      = time.Hour
)

// request is a parsed query of one of the agent's requests.
type request struct {
	op string // probe, current, sample, assets, asset
	// at (current), from and to (sample): 0 when absent.
	at, from, to uint64
	count        int // sample, assets; 0 → the default
	// interval streams the answer (current, sample); stream says it was
	// given.
	interval  time.Duration
	stream    bool
	heartbeat time.Duration
	// deviceType (probe, current, sample): Device or Agent, "" → both.
	deviceType string
	// assets: the asset type, the device, whether removed ones count.
	typ, device string
	removed     bool
}

// params lists the query parameters each request takes.
var params = map[string][]string{
	"probe":   {"deviceType"},
	"current": {"at", "interval", "heartbeat", "deviceType"},
	"sample":  {"from", "to", "count", "interval", "heartbeat", "deviceType"},
	"assets":  {"type", "removed", "count", "device"},
	"asset":   {},
}

// parseQuery parses the raw query string of request op. It checks
// syntax and the parameters' own bounds; whether a sequence number lies
// in the buffer is for the caller.
func parseQuery(op, raw string) (request, *Error) {
	r := request{op: op, heartbeat: defaultHeartbeat}
	if len(raw) > maxQuery {
		return r, errorf(InvalidRequest, "query longer than %d bytes", maxQuery)
	}
	vs, err := url.ParseQuery(raw)
	if err != nil {
		return r, errorf(InvalidRequest, "malformed query: %v", err)
	}
	allowed := params[op]
	for k, v := range vs {
		if k == "path" {
			return r, errorf(Unsupported, "the path parameter (XPath filters) is not supported")
		}
		ok := false
		for _, a := range allowed {
			ok = ok || a == k
		}
		if !ok {
			return r, errorf(InvalidRequest, "%s takes no parameter %q", op, k)
		}
		if len(v) != 1 {
			return r, errorf(InvalidRequest, "parameter %q given %d times", k, len(v))
		}
	}
	seq := func(k string) (uint64, *Error) {
		s := vs.Get(k)
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n == 0 {
			return 0, errorf(InvalidRequest, "%s must be a positive integer, not %q", k, s)
		}
		return n, nil
	}
	millis := func(k string, lo, hi time.Duration) (time.Duration, *Error) {
		s := vs.Get(k)
		n, err := strconv.ParseInt(s, 10, 64)
		d := time.Duration(n) * time.Millisecond
		if err != nil || n < 0 || d < lo || d > hi || n > int64(hi/time.Millisecond) {
			return 0, errorf(InvalidRequest, "%s must be milliseconds from %d to %d, not %q",
				k, lo.Milliseconds(), hi.Milliseconds(), s)
		}
		return d, nil
	}
	var e *Error
	if vs.Has("at") {
		if r.at, e = seq("at"); e != nil {
			return r, e
		}
	}
	if vs.Has("from") {
		if r.from, e = seq("from"); e != nil {
			return r, e
		}
	}
	if vs.Has("to") {
		if r.to, e = seq("to"); e != nil {
			return r, e
		}
	}
	if vs.Has("count") {
		s := vs.Get("count")
		n, err := strconv.Atoi(s)
		if err != nil || n == 0 {
			return r, errorf(InvalidRequest, "count must be a non-zero integer, not %q", s)
		}
		if op == "assets" && n < 0 {
			return r, errorf(InvalidRequest, "count of assets must be positive, not %q", s)
		}
		r.count = n
	}
	if vs.Has("interval") {
		if r.interval, e = millis("interval", 0, maxInterval); e != nil {
			return r, e
		}
		r.stream = true
	}
	if vs.Has("heartbeat") {
		if r.heartbeat, e = millis("heartbeat", 10*time.Millisecond, maxHeartbeat); e != nil {
			return r, e
		}
	}
	if vs.Has("removed") {
		b, err := strconv.ParseBool(vs.Get("removed"))
		if err != nil {
			return r, errorf(InvalidRequest, "removed must be true or false, not %q", vs.Get("removed"))
		}
		r.removed = b
	}
	if vs.Has("deviceType") {
		if t := vs.Get("deviceType"); t != "Device" && t != "Agent" {
			return r, errorf(InvalidRequest, "deviceType must be Device or Agent, not %q", t)
		}
		r.deviceType = vs.Get("deviceType")
	}
	if op == "assets" {
		r.typ, r.device = vs.Get("type"), vs.Get("device")
	}
	switch {
	case r.at != 0 && r.stream:
		return r, errorf(InvalidRequest, "at and interval cannot be given together")
	case r.to != 0 && r.stream:
		return r, errorf(InvalidRequest, "to and interval cannot be given together")
	case r.to != 0 && r.from != 0 && r.to <= r.from:
		return r, errorf(InvalidRequest, "to (%d) must be greater than from (%d)", r.to, r.from)
	case vs.Has("heartbeat") && !r.stream:
		return r, errorf(InvalidRequest, "heartbeat is for streams only (with interval)")
	}
	return r, nil
}
