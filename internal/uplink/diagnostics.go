package uplink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// Diagnostics is the cloud's desk of remote diagnostic requests, as the
// gateways see it: the requests waiting for a gateway's site, the states
// the site reports and the chunks of results it uploads. Every call is
// scoped to the gateway's organisation and site; a request of another is
// fleet.ErrNotFound.
type Diagnostics interface {
	PendingDiagnostics(ctx context.Context, gw fleet.Gateway, now time.Time) ([]fleet.DiagnosticRequest, error)
	ReportDiagnostic(ctx context.Context, gw fleet.Gateway, r fleet.DiagnosticReport, now time.Time) (fleet.Diagnostic, error)
	PutDiagnosticChunk(ctx context.Context, gw fleet.Gateway, c fleet.DiagnosticChunkData, now time.Time) (fleet.Diagnostic, error)
}

// maxDiagnosticBody bounds the body of a diagnostics call: a chunk of
// fleet.DiagnosticChunk bytes in base64 with its JSON around it.
const maxDiagnosticBody = fleet.DiagnosticChunk*4/3 + 4<<10

// pending returns the requests waiting for gw's site for an Ack. A failure
// is logged and answered with none: the batch is durable all the same,
// and the next answer carries them.
func (h *handler) pending(ctx context.Context, gw fleet.Gateway) []fleet.DiagnosticRequest {
	if h.opts.Diagnostics == nil {
		return nil
	}
	reqs, err := h.opts.Diagnostics.PendingDiagnostics(ctx, gw, h.opts.Clock.Now())
	if err != nil {
		h.log.WarnContext(ctx, "pending diagnostics", "gateway", gw.ID, "err", err)
		return nil
	}
	return reqs
}

// diagnostics serves the three diagnostics endpoints.
func (h *handler) diagnostics(w http.ResponseWriter, r *http.Request) {
	v, err := h.doDiagnostics(r.Context(), w, r)
	if err != nil {
		reason := ReasonUnavailable
		if he, ok := errors.AsType[*httpError](err); ok {
			reason = he.reason
		}
		h.m.rejected(reason)
		h.fail(w, r, err)
		return
	}
	encode(w, http.StatusOK, v)
}

func (h *handler) doDiagnostics(ctx context.Context, w http.ResponseWriter, r *http.Request) (any, error) {
	desk := h.opts.Diagnostics
	if desk == nil {
		return nil, errorf(http.StatusNotFound, "this cloud takes no diagnostics")
	}
	gw, err := h.authenticate(ctx, w, r, maxDiagnosticBody)
	if err != nil {
		return nil, err
	}
	if !h.inFlight.acquire(gw.ID) {
		e := errorf(http.StatusTooManyRequests, "gateway has %d uploads in progress already: retry in %d s",
			h.opts.MaxInFlight, busyRetryAfterSeconds).because(ReasonRateLimited)
		e.retryAfter = busyRetryAfterSeconds
		return nil, e
	}
	defer h.inFlight.release(gw.ID)
	now := h.opts.Clock.Now()
	if err := h.take(gw.ID, 1, len(gw.body), now); err != nil {
		return nil, err
	}
	switch r.URL.Path {
	case PathDiagnosticsPending:
		var empty struct{}
		if err := decodeStrict(bytes.NewReader(gw.body), &empty); err != nil {
			return nil, errorf(http.StatusBadRequest, "bad check-in: %v", err).because(ReasonMalformed)
		}
		reqs, err := desk.PendingDiagnostics(ctx, gw.Gateway, now)
		if err != nil {
			return nil, fmt.Errorf("pending diagnostics: %w", err)
		}
		return Pending{Diagnostics: append([]fleet.DiagnosticRequest{}, reqs...)}, nil
	case PathDiagnosticsReport:
		rep, err := DecodeDiagnosticReport(gw.body)
		if err != nil {
			return nil, err
		}
		dg, err := desk.ReportDiagnostic(ctx, gw.Gateway, rep, now)
		if err != nil {
			return nil, diagnosticError(err)
		}
		return answerOf(dg), nil
	default: // PathDiagnosticsChunk
		c, err := DecodeDiagnosticChunk(gw.body)
		if err != nil {
			return nil, err
		}
		dg, err := desk.PutDiagnosticChunk(ctx, gw.Gateway, c, now)
		if err != nil {
			return nil, diagnosticError(err)
		}
		return answerOf(dg), nil
	}
}

// DecodeDiagnosticReport decodes and checks a gateway's report; the error
// is the 400 the gateway gets.
func DecodeDiagnosticReport(body []byte) (fleet.DiagnosticReport, error) {
	var rep fleet.DiagnosticReport
	if err := decodeStrict(bytes.NewReader(body), &rep); err != nil {
		return fleet.DiagnosticReport{}, errorf(http.StatusBadRequest, "bad diagnostic report: %v", err).because(ReasonMalformed)
	}
	if err := rep.Validate(); err != nil {
		return fleet.DiagnosticReport{}, errorf(http.StatusBadRequest, "bad diagnostic report: %v", err).because(ReasonInvalid)
	}
	return rep, nil
}

// DecodeDiagnosticChunk decodes and checks a chunk of a result; the error
// is the 400 or 413 the gateway gets.
func DecodeDiagnosticChunk(body []byte) (fleet.DiagnosticChunkData, error) {
	var c fleet.DiagnosticChunkData
	if err := decodeStrict(bytes.NewReader(body), &c); err != nil {
		return fleet.DiagnosticChunkData{}, errorf(http.StatusBadRequest, "bad diagnostic chunk: %v", err).because(ReasonMalformed)
	}
	if len(c.Data) > fleet.DiagnosticChunk {
		return fleet.DiagnosticChunkData{}, errorf(http.StatusRequestEntityTooLarge, "diagnostic chunk of %d bytes: at most %d", len(c.Data), fleet.DiagnosticChunk).because(ReasonTooLarge)
	}
	if err := c.Validate(); err != nil {
		return fleet.DiagnosticChunkData{}, errorf(http.StatusBadRequest, "bad diagnostic chunk: %v", err).because(ReasonInvalid)
	}
	return c, nil
}

// diagnosticError maps the desk's refusals to what the gateway gets: an
// unknown request 404, a conflicting one 409, one refused for good 400.
func diagnosticError(err error) error {
	switch {
	case errors.Is(err, fleet.ErrNotFound):
		return errorf(http.StatusNotFound, "no such diagnostic request for this site").because(ReasonInvalid)
	case errors.Is(err, fleet.ErrConflict):
		return errorf(http.StatusConflict, "%v", err).because(ReasonInvalid)
	case errors.Is(err, fleet.ErrRejected):
		return errorf(http.StatusBadRequest, "%v", err).because(ReasonInvalid)
	}
	return err
}

func answerOf(dg fleet.Diagnostic) DiagnosticAnswer {
	return DiagnosticAnswer{ID: dg.ID, State: dg.State, Reason: dg.Reason, Received: dg.Received}
}
