package uplink

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/httpserver"
	"github.com/klauspost/compress/zstd"
)

// Gateways is the cloud's register of enrolled gateways.
type Gateways interface {
	// Enrol consumes the token whose HashToken is tokenHash and registers a
	// gateway with the public key. It returns fleet.ErrInvalidToken when
	// the token is unknown, used or expired.
	Enrol(ctx context.Context, tokenHash, name string, pub []byte, now time.Time) (fleet.Gateway, error)
	// Gateway returns an enrolled gateway, or fleet.ErrNotFound.
	Gateway(ctx context.Context, id fleet.GatewayID) (fleet.Gateway, error)
}

// Printers knows where an organisation's printers belong.
type Printers interface {
	// PrinterPlaces returns the place of each of devices (printer IDs as
	// org's gateways report them) known to org; a printer not stored yet
	// has no site, and one missing from the answer is not bound to a site
	// either.
	PrinterPlaces(ctx context.Context, org fleet.OrgID, devices []fleet.PrinterID) (map[fleet.PrinterID]fleet.PrinterPlace, error)
}

// Publisher makes an accepted batch durable.
type Publisher interface {
	// Publish returns only once data is durable. Publishing the same msgID
	// again within the dedupe window stores it once.
	Publish(ctx context.Context, msgID string, data []byte) error
}

// HandlerOptions tunes the handler. The zero value is ready to use.
type HandlerOptions struct {
	Clock  clock.Clock  // nil → the real clock
	Logger *slog.Logger // nil → discard
	// MaxBodyBytes bounds an upload's body as sent (compressed); 0 → 4 MiB.
	MaxBodyBytes int64
	// MaxMessageBytes is the largest envelope the Publisher takes: the
	// stream's largest message (stream.Stream.MaxPayload); 0 → 8 MiB, the
	// embedded stream's.
	MaxMessageBytes int64
	// MaxDecodedBytes bounds a decompressed body; 0, or more than
	// MaxMessageBytes → MaxMessageBytes. It is derived from the stream and
	// never above it: the envelope holds the batch's records, as the client
	// encodes them, plus the gateway's identity, so a batch that
	// decompresses to more than the stream takes could never be published,
	// and decompressing it would only cost the cloud.
	MaxDecodedBytes int64
	// MaxRecords bounds the records of one batch; 0 → 10000.
	MaxRecords int
	// Skew is how far a signed timestamp may be from the cloud's clock;
	// 0 → 5 minutes.
	Skew time.Duration
	// MaxAhead is how far a record's times may be ahead of the cloud's
	// clock when its batch arrives; 0 → 24 hours. A record from further
	// ahead comes from a wrong clock (the printer's or the gateway's) and
	// is refused (400, invalid_record) with the reason, so the gateway
	// sets it aside as it does any record the cloud refuses. Refused
	// rather than kept with a flag: a time from the future would sort
	// before every real report of the printer for as long as it stays
	// ahead, and the cloud cannot tell which time the record should have
	// had. Times in the past are bounded only by fleet.MinYear: a gateway
	// back-fills days-old records after an outage, and those are real.
	// Negative: no bound, for printers whose clocks run fast on purpose
	// (the demo's accelerated virtual printers).
	MaxAhead time.Duration
	// RecordsPerSecond is the rate at which one gateway may upload records
	// for long; above it the gateway is answered 429 with Retry-After.
	// 0 → 1000, far above a site's normal load (a few records per second)
	// and enough to back-fill a day's outage in minutes; < 0 → no limit.
	RecordsPerSecond float64
	// Burst is how many records a gateway may send at once before the rate
	// applies; 0 → 2 × MaxRecords. A batch larger than Burst is refused
	// with 413.
	Burst int
	// BytesPerSecond is the rate at which one gateway may upload
	// decompressed bytes for long, counted beside its records: a gateway
	// sending few records of huge size is held to it. 0 → 1 MiB/s: a
	// typical record is a few hundred bytes, so an honest gateway reaches
	// RecordsPerSecond first (a site's normal load is a few KiB/s, a
	// thousandth of it), while no gateway makes the cloud decode, publish
	// and store more than that for long, whatever its records' size;
	// < 0 → no limit.
	BytesPerSecond float64
	// ByteBurst is how many decompressed bytes a gateway may send at once
	// before BytesPerSecond applies; 0 → 2 × MaxDecodedBytes, so the
	// largest acceptable batch always fits, twice.
	ByteBurst int
	// MaxInFlight is how many uploads of one gateway the cloud handles at
	// once; more are answered 429 with Retry-After (which the client
	// retries) before they are decompressed. 0 → 2: the Command Center
	// uploads one batch at a time, and a second lets its retry overlap a
	// request the cloud is still finishing after the client gave up on it.
	// Anything beyond is no honest client's and would multiply what one
	// gateway costs the cloud (each upload holds up to MaxDecodedBytes
	// decompressed, its records and its envelope).
	MaxInFlight int
	// MaxDecoding is how many uploads of all gateways together the node
	// decompresses, decodes and publishes at once; an upload beyond waits up to
	// decodeWait for a turn, then is answered 429 with Retry-After. 0 →
	// 4 × GOMAXPROCS: the work is CPU-bound, so more at once only adds
	// memory (each holds up to MaxDecodedBytes), and many gateways
	// uploading at one moment cannot make the node hold more than this
	// many decompressed batches.
	MaxDecoding int
	// Metrics receives the handler's measurements; the zero value records
	// nothing.
	Metrics Metrics
	// Diagnostics is the desk of remote diagnostic requests: the Ack of
	// every upload carries the requests waiting for the gateway's site, and
	// the diagnostics endpoints take the site's reports and results. nil →
	// no diagnostics: the endpoints answer 404.
	Diagnostics Diagnostics
}

func (o HandlerOptions) withDefaults() HandlerOptions {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 4 << 20
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = 8 << 20
	}
	if o.MaxDecodedBytes <= 0 || o.MaxDecodedBytes > o.MaxMessageBytes {
		o.MaxDecodedBytes = o.MaxMessageBytes
	}
	if o.MaxRecords <= 0 {
		o.MaxRecords = 10000
	}
	if o.MaxAhead == 0 {
		o.MaxAhead = 24 * time.Hour
	}
	if o.Skew <= 0 {
		o.Skew = 5 * time.Minute
	}
	if o.RecordsPerSecond == 0 {
		o.RecordsPerSecond = 1000
	}
	if o.Burst <= 0 {
		o.Burst = 2 * o.MaxRecords
	}
	if o.BytesPerSecond == 0 {
		o.BytesPerSecond = 1 << 20
	}
	if o.ByteBurst <= 0 {
		o.ByteBurst = int(min(2*o.MaxDecodedBytes, math.MaxInt32))
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 2
	}
	if o.MaxDecoding <= 0 {
		o.MaxDecoding = 4 * runtime.GOMAXPROCS(0)
	}
	return o
}

// maxEnrolBytes bounds the body of an enrolment request.
const maxEnrolBytes = 64 << 10

// retryAfterSeconds is what the handler asks a gateway to wait when the
// stream cannot take a batch.
const retryAfterSeconds = 5

// maxIdleDecoders is how many zstd decoders are kept between uploads. A
// decoder keeps its buffers, which spares an honest batch their
// allocation, but they grow to the window of the largest frame it decoded
// (up to MaxDecodedBytes): a few keep what a sender can make the cloud
// hold between uploads to a few times MaxDecodedBytes, whatever the number
// of CPUs.
const maxIdleDecoders = 4

// busyRetryAfterSeconds is what the handler asks a gateway to wait when it
// has MaxInFlight uploads in progress already: about what one takes.
const busyRetryAfterSeconds = 1

// decodeWait is how long an upload waits for one of MaxDecoding turns
// before it is answered 429: a turn takes milliseconds, so only a node
// flooded with uploads makes one wait that long.
const decodeWait = 2 * time.Second

type handler struct {
	gws      Gateways
	printers Printers
	pub      Publisher
	opts     HandlerOptions
	log      *slog.Logger
	m        Metrics
	records  *limiters // tokens are records
	bytes    *limiters // tokens are decompressed bytes
	inFlight *inFlight
	decoding chan struct{} // a token per upload being decompressed and decoded
	// idle holds up to maxIdleDecoders zstd decoders between uploads,
	// each used by one upload at a time.
	idle  chan *zstd.Decoder
	zopts []zstd.DOption
}

// NewHandler returns the cloud side of the uplink: POST /v1/enrol and
// POST /v1/batches. It authenticates gateways with gws, refuses records of
// printers that printers places at another site than the gateway's, and
// publishes accepted batches to pub. Mount it behind an http.Server with
// ReadHeaderTimeout and ReadTimeout set.
func NewHandler(gws Gateways, printers Printers, pub Publisher, opts HandlerOptions) http.Handler {
	return newHandler(gws, printers, pub, opts).routes()
}

// newHandler returns the handler's state: what uploads and air-gapped
// bundles share.
func newHandler(gws Gateways, printers Printers, pub Publisher, opts HandlerOptions) *handler {
	opts = opts.withDefaults()
	// A decoder decodes synchronously, in the goroutine of the upload
	// (concurrency 1: no goroutines of its own, so a pooled one needs no
	// Close), and refuses a frame that declares more than MaxDecodedBytes
	// of content or a window larger than that (its memory). It always
	// streams (no buffers decoded whole on Reset: that would decode a bomb
	// up to the limit before the first read), so what it decompresses is
	// only what decompress reads through its limit.
	zopts := []zstd.DOption{
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecodeBuffersBelow(0),
		zstd.WithDecoderMaxMemory(uint64(opts.MaxDecodedBytes)),
		zstd.WithDecoderMaxWindow(uint64(min(max(opts.MaxDecodedBytes, zstd.MinWindowSize), zstd.MaxWindowSize))),
	}
	zd, err := zstd.NewReader(nil, zopts...)
	if err != nil {
		panic(fmt.Sprintf("uplink: zstd decoder options: %v", err)) // a programming error
	}
	h := &handler{
		gws: gws, printers: printers, pub: pub, opts: opts, log: opts.Logger.With("component", "uplink"), m: opts.Metrics,
		records:  newLimiters(opts.RecordsPerSecond, opts.Burst),
		bytes:    newLimiters(opts.BytesPerSecond, opts.ByteBurst),
		inFlight: newInFlight(opts.MaxInFlight),
		decoding: make(chan struct{}, opts.MaxDecoding),
		idle:     make(chan *zstd.Decoder, maxIdleDecoders),
		zopts:    zopts,
	}
	h.idle <- zd
	return h
}

func (h *handler) routes() http.Handler {
	opts := h.opts
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/enrol", h.enrol)
	mux.HandleFunc("POST /v1/batches", h.batches)
	for _, p := range []string{PathDiagnosticsPending, PathDiagnosticsReport, PathDiagnosticsChunk} {
		mux.HandleFunc("POST "+p, h.diagnostics)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/enrol", "/v1/batches", PathDiagnosticsPending, PathDiagnosticsReport, PathDiagnosticsChunk:
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, http.StatusMethodNotAllowed, ErrorBody{Error: "method not allowed, use POST"})
			return
		}
		writeError(w, http.StatusNotFound, ErrorBody{Error: "no such endpoint"})
	})
	if opts.Metrics.Requests == nil {
		return mux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		mux.ServeHTTP(sw, r)
		route := r.URL.Path
		switch route {
		case "/v1/batches", "/v1/enrol", PathDiagnosticsPending, PathDiagnosticsReport, PathDiagnosticsChunk:
		default:
			route = "other"
		}
		opts.Metrics.request(route, sw.code)
	})
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	code int
	done bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.done {
		w.code, w.done = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// httpError is a failure with the status the gateway gets.
type httpError struct {
	code       int
	msg        string
	reason     string // a Reason* constant, for Metrics.Rejected
	retryAfter int    // seconds, for 429
	refused    []uint64
}

func (e *httpError) Error() string { return e.msg }

func errorf(code int, format string, args ...any) *httpError {
	return &httpError{code: code, msg: fmt.Sprintf(format, args...)}
}

// because sets the reason a request is refused.
func (e *httpError) because(reason string) *httpError {
	e.reason = reason
	return e
}

// writeError writes the one JSON error shape of this API.
func writeError(w http.ResponseWriter, code int, body ErrorBody) {
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	}
	encode(w, code, body)
}

func encode(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the client is gone if this fails
}

// decodeStrict decodes exactly one JSON value, refusing fields the type
// does not name: the wire-level allow-list (R-PRIV-2).
func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func (h *handler) enrol(w http.ResponseWriter, r *http.Request) {
	resp, err := h.doEnrol(r.Context(), w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	encode(w, http.StatusOK, resp)
}

func (h *handler) doEnrol(ctx context.Context, w http.ResponseWriter, r *http.Request) (EnrolResponse, error) {
	var req EnrolRequest
	if err := decodeStrict(http.MaxBytesReader(w, r.Body, maxEnrolBytes), &req); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return EnrolResponse{}, errorf(http.StatusRequestEntityTooLarge, "enrolment request exceeds %d bytes", maxEnrolBytes)
		}
		return EnrolResponse{}, errorf(http.StatusBadRequest, "bad enrolment request: %v", err)
	}
	if req.Token == "" {
		return EnrolResponse{}, errorf(http.StatusBadRequest, "missing enrolment token")
	}
	if len(req.PublicKey) != ed25519.PublicKeySize {
		return EnrolResponse{}, errorf(http.StatusBadRequest, "public key: want %d bytes of Ed25519 key, have %d", ed25519.PublicKeySize, len(req.PublicKey))
	}
	if err := validName(req.Name); err != nil {
		return EnrolResponse{}, errorf(http.StatusBadRequest, "name: %v", err)
	}
	gw, err := h.gws.Enrol(ctx, HashToken(req.Token), req.Name, req.PublicKey, h.opts.Clock.Now())
	switch {
	case errors.Is(err, fleet.ErrInvalidToken):
		return EnrolResponse{}, errorf(http.StatusUnauthorized, "enrolment token is invalid, already used or expired: ask the cloud administrator for a new one")
	case err != nil:
		return EnrolResponse{}, fmt.Errorf("enrol gateway %q: %w", req.Name, err)
	}
	h.log.InfoContext(ctx, "gateway enrolled", "gateway", gw.ID, "org", gw.OrgID, "site", gw.SiteID)
	return EnrolResponse{GatewayID: gw.ID, OrgID: gw.OrgID, SiteID: gw.SiteID}, nil
}

func validName(s string) error {
	n := utf8.RuneCountInString(s)
	switch {
	case !utf8.ValidString(s):
		return errors.New("not valid UTF-8")
	case n < 1 || n > 100:
		return fmt.Errorf("want 1 to 100 characters, have %d", n)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return errors.New("control characters are not allowed")
	}
	return nil
}

func (h *handler) batches(w http.ResponseWriter, r *http.Request) {
	ack, n, err := h.doBatch(r.Context(), w, r)
	if err != nil {
		reason := ReasonUnavailable
		if he, ok := errors.AsType[*httpError](err); ok {
			reason = he.reason
		}
		h.m.rejected(reason)
		h.fail(w, r, err)
		return
	}
	add(h.m.RecordsAccepted, float64(n))
	encode(w, http.StatusOK, ack)
}

// fail answers a failed request: an *httpError as it says, anything else
// as an internal error that is logged but not shown.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if he, ok := errors.AsType[*httpError](err); ok {
		h.log.DebugContext(r.Context(), "request refused", "path", r.URL.Path, "status", he.code, "reason", he.msg)
		if he.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(he.retryAfter))
		}
		writeError(w, he.code, ErrorBody{Error: he.msg, Refused: he.refused})
		return
	}
	if httpserver.ClientGone(r) {
		// The gateway gave up (its timeout, or a shutdown): it sends the
		// batch again, and there is no one to answer.
		h.log.DebugContext(r.Context(), "request ended by the client", "path", r.URL.Path, "err", err)
		return
	}
	h.log.ErrorContext(r.Context(), "request failed", "path", r.URL.Path, "err", err)
	writeError(w, http.StatusServiceUnavailable, ErrorBody{Error: "temporarily unavailable, try again later"})
}

func (h *handler) doBatch(ctx context.Context, w http.ResponseWriter, r *http.Request) (Ack, int, error) {
	gw, err := h.authenticate(ctx, w, r, h.opts.MaxBodyBytes)
	if err != nil {
		return Ack{}, 0, err
	}
	add(h.m.BytesIn, float64(len(gw.body)))
	// What follows costs the cloud memory and CPU in proportion to the
	// batch: at most MaxInFlight uploads of one gateway do it at once. The
	// count is by authenticated gateway, so no one can use up another
	// gateway's uploads by sending its ID.
	if !h.inFlight.acquire(gw.ID) {
		e := errorf(http.StatusTooManyRequests, "gateway has %d uploads in progress already, the most it may have at once: retry in %d s",
			h.opts.MaxInFlight, busyRetryAfterSeconds).because(ReasonRateLimited)
		e.retryAfter = busyRetryAfterSeconds
		return Ack{}, 0, e
	}
	defer h.inFlight.release(gw.ID)
	now := h.opts.Clock.Now()
	// A gateway over its rate is answered before its body is decompressed.
	// An honest body decompresses to more than its compressed size, so
	// that much of the byte budget is the least it will take.
	if wait := max(h.records.ready(gw.ID, 1, now), h.bytes.ready(gw.ID, len(gw.body), now)); wait > 0 {
		return Ack{}, 0, rateLimited(wait)
	}
	// The batch is held decompressed and decoded until it is published:
	// the turn lasts as long.
	release, err := h.decodeTurn(ctx)
	if err != nil {
		return Ack{}, 0, err
	}
	defer release()
	raw, decoded, err := h.decompress(r.Header.Get("Content-Encoding"), gw.body)
	var recs []fleet.Record
	var canonical bool
	if err == nil {
		recs, canonical, err = h.decodeBatch(raw, now)
	}
	if err != nil {
		// Decompressing and decoding a refused body cost the cloud as
		// much as an accepted one of its size, so it counts against the
		// byte budget all the same: a gateway sending bombs, or batches
		// that decode to too many records, is soon answered 429 before
		// its bodies are decompressed.
		h.bytes.charge(gw.ID, decoded, now)
		return Ack{}, 0, err
	}
	if err := h.take(gw.ID, len(recs), len(raw), now); err != nil {
		return Ack{}, 0, err
	}
	if err := h.checkSites(ctx, gw.Gateway, recs); err != nil {
		return Ack{}, 0, err
	}
	msg, err := h.envelope(gw.Gateway, raw, recs, canonical)
	if err != nil {
		return Ack{}, 0, err
	}
	if err := h.pub.Publish(ctx, msg.id, msg.data); err != nil {
		return Ack{}, 0, fmt.Errorf("publish batch %s: %w", msg.id, err)
	}
	return Ack{Through: recs[len(recs)-1].Seq, Diagnostics: h.pending(ctx, gw.Gateway)}, len(recs), nil
}

// message is an accepted batch as the Publisher takes it.
type message struct {
	id   string // the dedupe ID: gateway and the batch's first and last seq
	data []byte // the envelope
}

// envelope returns the message that publishes recs, decoded from raw, for
// gw: an error when it is too large for the stream. Uploads and air-gapped
// bundles both publish through it.
func (h *handler) envelope(gw fleet.Gateway, raw []byte, recs []fleet.Record, canonical bool) (message, error) {
	data, err := encodeEnvelope(gw, raw, recs, canonical)
	if err != nil {
		return message{}, errorf(http.StatusBadRequest, "batch cannot be re-encoded: %v", err).because(ReasonMalformed)
	}
	if h.opts.MaxMessageBytes > 0 && int64(len(data)) > h.opts.MaxMessageBytes {
		return message{}, errorf(http.StatusRequestEntityTooLarge, "batch of %d records is too large for the cloud's stream (%d bytes, at most %d): send smaller batches",
			len(recs), len(data), h.opts.MaxMessageBytes).because(ReasonTooLarge)
	}
	return message{id: fmt.Sprintf("%s:%d-%d", gw.ID, recs[0].Seq, recs[len(recs)-1].Seq), data: data}, nil
}

// checkSites refuses the records of printers that belong to another site
// of the gateway's organisation: a printer belongs to the site whose
// gateway first sent its records, and only an administrator moves it, so
// that no gateway of one site can pull another site's printer, and its
// history, into its own. The refusal is a 400 invalid_record that names
// the refused records (ErrorBody.Refused): the gateway sets those aside,
// with the reason, and sends the rest of the batch again. Checked here,
// before the batch is durable, because an accepted batch is acknowledged
// as stored; the store refuses such records too, for a move racing with
// the upload.
func (h *handler) checkSites(ctx context.Context, gw fleet.Gateway, recs []fleet.Record) error {
	devices := make([]fleet.PrinterID, len(recs))
	for i, r := range recs {
		devices[i] = r.PrinterID
	}
	places, err := h.printers.PrinterPlaces(ctx, gw.OrgID, devices)
	if err != nil {
		return fmt.Errorf("check the sites of the batch's printers: %w", err)
	}
	var refused []uint64
	var first string
	for i, r := range recs {
		if site := places[r.PrinterID].SiteID; site != "" && site != gw.SiteID {
			if refused == nil {
				first = fmt.Sprintf("record %d (seq %d): %v", i, r.Seq, fleet.OtherSiteError(r.PrinterID, site))
			}
			refused = append(refused, r.Seq)
		}
	}
	if refused == nil {
		return nil
	}
	if len(refused) > 1 {
		first += fmt.Sprintf(" (%d records of printers of other sites refused in all)", len(refused))
	}
	e := errorf(http.StatusBadRequest, "%s", first).because(ReasonInvalid)
	e.refused = refused
	return e
}

// take charges a decoded batch of n records and size bytes to the budget
// of gateway id: both or neither.
func (h *handler) take(id fleet.GatewayID, n, size int, now time.Time) error {
	undo, wait, ok := h.records.reserve(id, n, now)
	switch {
	case !ok:
		return errorf(http.StatusRequestEntityTooLarge, "batch has %d records, more than the %d a gateway may send at once: send smaller batches",
			n, h.opts.Burst).because(ReasonTooLarge)
	case wait > 0:
		return rateLimited(wait)
	}
	switch _, wait, ok := h.bytes.reserve(id, size, now); {
	case !ok:
		undo()
		return errorf(http.StatusRequestEntityTooLarge, "batch has %d bytes, more than the %d a gateway may send at once: send smaller batches",
			size, h.opts.ByteBurst).because(ReasonTooLarge)
	case wait > 0:
		undo()
		return rateLimited(wait)
	}
	return nil
}

func rateLimited(wait time.Duration) *httpError {
	s := retryAfterFor(wait)
	e := errorf(http.StatusTooManyRequests, "gateway is uploading faster than its rate limit: retry in %d s", s).because(ReasonRateLimited)
	e.retryAfter = s
	return e
}

// authenticated is a gateway whose signature over body checked out.
type authenticated struct {
	fleet.Gateway
	body []byte
}

// authenticate checks who sent the upload before its body is decoded:
// known gateway, not revoked, fresh timestamp, valid signature.
func (h *handler) authenticate(ctx context.Context, w http.ResponseWriter, r *http.Request, limit int64) (authenticated, error) {
	id, ts, sig := r.Header.Get(HeaderGateway), r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderSignature)
	if id == "" || ts == "" || sig == "" {
		return authenticated{}, errorf(http.StatusUnauthorized, "missing signature headers %s, %s, %s", HeaderGateway, HeaderTimestamp, HeaderSignature).because(ReasonUnauthenticated)
	}
	gw, err := h.gws.Gateway(ctx, fleet.GatewayID(id))
	switch {
	case errors.Is(err, fleet.ErrNotFound):
		return authenticated{}, errorf(http.StatusUnauthorized, "unknown gateway: enrol again").because(ReasonUnauthenticated)
	case errors.Is(err, fleet.ErrRevoked):
		return authenticated{}, errorf(http.StatusForbidden, "gateway revoked: enrol again with a new token").because(ReasonRevoked)
	case err != nil:
		return authenticated{}, fmt.Errorf("look up gateway: %w", err)
	case gw.Revoked:
		return authenticated{}, errorf(http.StatusForbidden, "gateway revoked: enrol again with a new token").because(ReasonRevoked)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return authenticated{}, errorf(http.StatusUnauthorized, "bad timestamp %q: want Unix seconds", ts).because(ReasonUnauthenticated)
	}
	now := h.opts.Clock.Now()
	if d := now.Sub(time.Unix(sec, 0)).Abs(); d > h.opts.Skew {
		return authenticated{}, errorf(http.StatusUnauthorized, "clock skew: request time %d is %s away from the cloud's time %d (at most %s allowed); check the Command Center's clock",
			sec, d.Truncate(time.Second), now.Unix(), h.opts.Skew).because(ReasonUnauthenticated)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return authenticated{}, errorf(http.StatusRequestEntityTooLarge, "body exceeds %d bytes: send smaller batches", limit).because(ReasonTooLarge)
		}
		return authenticated{}, errorf(http.StatusBadRequest, "read body: %v", err).because(ReasonMalformed)
	}
	if !verify(gw.PublicKey, id, ts, body, sig) {
		return authenticated{}, errorf(http.StatusUnauthorized, "bad signature").because(ReasonUnauthenticated)
	}
	return authenticated{Gateway: gw, body: body}, nil
}

// decodeTurn waits up to decodeWait for one of MaxDecoding turns to
// decompress, decode and publish an upload, and returns its release; an
// error (429) when none came free.
func (h *handler) decodeTurn(ctx context.Context) (release func(), _ error) {
	select {
	case h.decoding <- struct{}{}:
		return func() { <-h.decoding }, nil
	default:
	}
	t := time.NewTimer(decodeWait)
	defer t.Stop()
	select {
	case h.decoding <- struct{}{}:
		return func() { <-h.decoding }, nil
	case <-t.C:
		e := errorf(http.StatusTooManyRequests, "the cloud is decoding %d uploads already, the most it does at once: retry in %d s",
			h.opts.MaxDecoding, busyRetryAfterSeconds).because(ReasonRateLimited)
		e.retryAfter = busyRetryAfterSeconds
		return nil, e
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// decodeBatch decodes a decompressed body, received at now, and checks
// every record. It never returns an empty or invalid batch without error.
func (h *handler) decodeBatch(raw []byte, now time.Time) (_ []fleet.Record, canonical bool, _ error) {
	recs, canonical, err := h.decodeRecords(raw)
	if err != nil {
		return nil, false, err
	}
	if len(recs) == 0 {
		return nil, false, errorf(http.StatusBadRequest, "empty batch").because(ReasonMalformed)
	}
	if len(recs) > h.opts.MaxRecords {
		return nil, false, errorf(http.StatusRequestEntityTooLarge, "batch has %d records, at most %d allowed: send smaller batches", len(recs), h.opts.MaxRecords).because(ReasonTooLarge)
	}
	// Records dated too far ahead (a printer's clock that jumped) are
	// named in the refusal, so that the gateway sets aside only them and
	// sends the rest of the batch again, rather than the whole batch of
	// every printer for one printer's clock.
	var ahead []uint64
	var first string
	for i, rec := range recs {
		if err := rec.Validate(); err != nil {
			return nil, false, errorf(http.StatusBadRequest, "record %d (seq %d): %v", i, rec.Seq, err).because(ReasonInvalid)
		}
		if t := rec.LatestTime(); h.opts.MaxAhead > 0 && t.Sub(now) > h.opts.MaxAhead {
			if ahead == nil {
				first = fmt.Sprintf("record %d (seq %d): time %s is %s ahead of the cloud's time %s (at most %s allowed): check the clocks of the printer and the Command Center",
					i, rec.Seq, t.UTC().Format(time.RFC3339), t.Sub(now).Truncate(time.Second), now.UTC().Format(time.RFC3339), h.opts.MaxAhead)
			}
			ahead = append(ahead, rec.Seq)
		}
		if i > 0 && rec.Seq <= recs[i-1].Seq {
			return nil, false, errorf(http.StatusBadRequest, "record %d (seq %d): seq not above the previous record's %d", i, rec.Seq, recs[i-1].Seq).because(ReasonInvalid)
		}
	}
	if ahead != nil {
		if len(ahead) > 1 {
			first += fmt.Sprintf(" (%d records dated too far ahead in all)", len(ahead))
		}
		e := errorf(http.StatusBadRequest, "%s", first).because(ReasonInvalid)
		e.refused = ahead
		return nil, false, e
	}
	return recs, canonical, nil
}

// decodeRecords decodes a decompressed batch. canonical reports that the
// fast decoder took it, which means raw is in the canonical form
// encodeEnvelope splices without scanning it again.
func (h *handler) decodeRecords(raw []byte) (_ []fleet.Record, canonical bool, _ error) {
	// The records a client sends most, as it writes them, take a shortcut
	// that decodes exactly what decodeStrict would; all else goes the
	// strict way.
	if recs, ok := decodeFast(raw); ok {
		return recs, true, nil
	}
	var b Batch
	if err := decodeStrict(bytes.NewReader(raw), &b); err != nil {
		if strings.HasPrefix(err.Error(), "json: unknown field ") {
			if msg := notAllowed(raw); msg != "" {
				return nil, false, errorf(http.StatusBadRequest, "%s", msg).because(ReasonPrivateField)
			}
			return nil, false, errorf(http.StatusBadRequest, "bad batch: %v: not allowed on the uplink (R-PRIV-2)", err).because(ReasonPrivateField)
		}
		return nil, false, errorf(http.StatusBadRequest, "bad batch: %v", err).because(ReasonMalformed)
	}
	return b.Records, false, nil
}

// decompress undoes the Content-Encoding of a body, refusing more than
// MaxDecodedBytes of output, and decompressing no more than one byte
// beyond it: a compression bomb costs the cloud no more than an honest
// batch of the largest size the stream takes. decoded is how many bytes
// were decompressed, of a refused body too; Metrics.DecodedBytes counts
// them.
func (h *handler) decompress(encoding string, body []byte) (_ []byte, decoded int, _ error) {
	limit := h.opts.MaxDecodedBytes
	tooLarge := func() error {
		return errorf(http.StatusRequestEntityTooLarge, "decompressed body exceeds %d bytes, the most the cloud's stream takes: send smaller batches",
			limit).because(ReasonTooLarge)
	}
	switch enc := strings.ToLower(strings.TrimSpace(encoding)); enc {
	case "", "identity":
		if int64(len(body)) > limit {
			return nil, 0, tooLarge()
		}
		add(h.m.DecodedBytes, float64(len(body)))
		return body, len(body), nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, 0, errorf(http.StatusBadRequest, "bad gzip body: %v", err).because(ReasonEncoding)
		}
		defer zr.Close()
		raw, n, err := h.readDecoded(zr, 4*len(body))
		switch {
		case errors.Is(err, errTooLarge):
			return nil, n, tooLarge()
		case err != nil:
			return nil, n, errorf(http.StatusBadRequest, "bad gzip body: %v", err).because(ReasonEncoding)
		}
		return raw, n, nil
	case "zstd":
		zd := h.zstdDecoder()
		defer h.putZstdDecoder(zd)
		hint := 4 * len(body)
		var fh zstd.Header
		if fh.Decode(body) == nil && fh.HasFCS {
			hint = int(min(fh.FrameContentSize, uint64(limit)))
		}
		var raw []byte
		var n int
		err := zd.Reset(bytes.NewReader(body))
		if err == nil {
			raw, n, err = h.readDecoded(zd, hint)
		}
		_ = zd.Reset(bytes.NewReader(nil)) // let go of body
		switch {
		case errors.Is(err, errTooLarge), errors.Is(err, zstd.ErrDecoderSizeExceeded), errors.Is(err, zstd.ErrWindowSizeExceeded):
			return nil, n, tooLarge()
		case err != nil:
			return nil, n, errorf(http.StatusBadRequest, "bad zstd body: %v", err).because(ReasonEncoding)
		}
		return raw, n, nil
	default:
		return nil, 0, errorf(http.StatusUnsupportedMediaType, "unsupported content encoding %q: use zstd or gzip", encoding).because(ReasonEncoding)
	}
}

// zstdDecoder returns an idle zstd decoder, or a new one.
func (h *handler) zstdDecoder() *zstd.Decoder {
	select {
	case zd := <-h.idle:
		return zd
	default:
		zd, _ := zstd.NewReader(nil, h.zopts...) // NewHandler checked the options
		return zd
	}
}

// putZstdDecoder keeps a decoder for the next upload, unless enough are
// kept already.
func (h *handler) putZstdDecoder(zd *zstd.Decoder) {
	select {
	case h.idle <- zd:
	default:
	}
}

// errTooLarge is readDecoded's answer to a body beyond MaxDecodedBytes.
var errTooLarge = errors.New("decompressed body too large")

// readDecoded reads a decompressing reader to its end, but no more than
// MaxDecodedBytes + 1 bytes of it, n; hint is the size it likely has.
func (h *handler) readDecoded(r io.Reader, hint int) (_ []byte, n int, _ error) {
	limit := h.opts.MaxDecodedBytes
	var buf bytes.Buffer
	buf.Grow(int(min(int64(hint), limit) + bytes.MinRead))
	read, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	add(h.m.DecodedBytes, float64(read))
	switch {
	case err != nil:
		return nil, int(read), err
	case read > limit:
		return nil, int(read), errTooLarge
	}
	return buf.Bytes(), int(read), nil
}
