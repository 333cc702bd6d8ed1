package commandcenter

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net"
	"strings"
	"syscall"

	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// PollErrorKind says what went wrong in a poll, for the printer list and
// for metrics labels.
type PollErrorKind string

// The kinds of poll errors. The first five mean the printer could not be
// talked to (or would not talk to this Command Center); the others that it
// answered with something refused.
const (
	ErrorUnreachable PollErrorKind = "unreachable" // refused, reset, no route
	ErrorResolve     PollErrorKind = "resolve"     // the printer's host name did not resolve
	ErrorCertificate PollErrorKind = "certificate" // not the pinned certificate (R-SEC-9)
	// ErrorNotPaired: the printer answered 401: it has not paired this
	// Command Center's client certificate, and serves it no private field.
	ErrorNotPaired  PollErrorKind = "not_paired"
	ErrorTimeout    PollErrorKind = "timeout"     // no (complete) answer in time: silent or dripping
	ErrorHTTPStatus PollErrorKind = "http_status" // a non-2xx answer
	ErrorTooLarge   PollErrorKind = "too_large"   // an answer over the size limit
	ErrorGarbage    PollErrorKind = "garbage"     // not the JSON asked for
	ErrorInvalid    PollErrorKind = "invalid"     // JSON, but refused by validation
	// ErrorCursorBackwards: a feed answered a read with items at or before
	// the cursor without a new instance.
	ErrorCursorBackwards PollErrorKind = "cursor_backwards"
	ErrorStore           PollErrorKind = "store" // the local database failed, not the printer
)

// errCursorBackwards is the poller's own finding of a cursor going
// backwards (a Device that does not check pages itself).
var errCursorBackwards = errors.New("cursor went backwards without a new feed instance")

// classify says what kind of poll error err is. The device API client
// reports some refusals only in words; the tests against a real client
// keep these in step.
func classify(err error) PollErrorKind {
	msg := err.Error()
	var (
		netErr net.Error
		dnsErr *net.DNSError
		opErr  *net.OpError
		stErr  *deviceapi.StatusError
		synErr *json.SyntaxError
		typErr *json.UnmarshalTypeError
		recErr tls.RecordHeaderError
		alert  tls.AlertError
	)
	switch {
	case errors.Is(err, deviceapi.ErrPinMismatch):
		return ErrorCertificate
	case errors.Is(err, deviceapi.ErrNotPaired):
		return ErrorNotPaired
	case errors.Is(err, errCursorBackwards) || strings.Contains(msg, "not after cursor") ||
		strings.Contains(msg, "empty page moves cursor"):
		return ErrorCursorBackwards
	case errors.As(err, &dnsErr) || isOp(err, "resolve"):
		return ErrorResolve
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout():
		return ErrorTimeout
	case strings.Contains(msg, "answer larger than"):
		return ErrorTooLarge
	case errors.As(err, &stErr):
		return ErrorHTTPStatus
	case errors.As(err, &synErr) || errors.As(err, &typErr) || strings.Contains(msg, "decode answer") ||
		strings.Contains(msg, "content type"):
		return ErrorGarbage // a truncated JSON value included
	case errors.As(err, &opErr) || errors.As(err, &recErr) || errors.As(err, &alert) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return ErrorUnreachable
	}
	var de *deviceError
	if !errors.As(err, &de) {
		return ErrorStore
	}
	return ErrorInvalid
}

// isOp reports whether err is a deviceError of operation op.
func isOp(err error, op string) bool {
	var de *deviceError
	return errors.As(err, &de) && de.op == op
}

// connectionLost reports whether err means the printer cannot be talked
// to at all, so the whole poll fails (as opposed to one refused answer).
func connectionLost(err error) bool {
	switch classify(err) {
	case ErrorUnreachable, ErrorResolve, ErrorCertificate, ErrorNotPaired:
		return true
	}
	return false
}

// PollStats counts what the poller did since it started, for metrics.
type PollStats struct {
	Polls       uint64                   `json:"polls"`
	PollErrors  map[PollErrorKind]uint64 `json:"poll_errors"` // failed polls and refused answers, by kind
	Records     map[fleet.Kind]uint64    `json:"records"`     // records appended to the outbox, by kind
	Gaps        map[string]uint64        `json:"gaps"`        // gap records, by feed
	LogRequests uint64                   `json:"log_requests"`
}

func newPollStats() PollStats {
	return PollStats{PollErrors: map[PollErrorKind]uint64{}, Records: map[fleet.Kind]uint64{}, Gaps: map[string]uint64{}}
}

// Stats returns a copy of the poller's counters.
func (p *Poller) Stats() PollStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.PollErrors = maps.Clone(s.PollErrors)
	s.Records = maps.Clone(s.Records)
	s.Gaps = maps.Clone(s.Gaps)
	return s
}

// count updates the counters under the poller's lock.
func (p *Poller) count(f func(*PollStats)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(&p.stats)
}
