package deviceapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// PinError reports that the printer at Addr presented a certificate whose
// fingerprint Got differs from the pinned Want (R-SEC-9). Collection from
// that printer must stop until an operator re-pairs it.
type PinError struct {
	Addr      string
	Want, Got Fingerprint
}

func (e *PinError) Error() string {
	return fmt.Sprintf("certificate of printer at %s changed: pinned %s, presented %s; collection stopped — re-pair after checking the printer", e.Addr, e.Want, e.Got)
}

// Is makes errors.Is(err, ErrPinMismatch) true for a *PinError.
func (e *PinError) Is(target error) bool { return target == ErrPinMismatch }

// StatusError is a non-2xx answer from a printer.
type StatusError struct {
	Addr    string
	Path    string
	Code    int
	Message string // the printer's {"error": ...}, or the start of its body
}

func (e *StatusError) Error() string {
	msg := ""
	if e.Message != "" {
		msg = ": " + e.Message
	}
	return fmt.Sprintf("printer %s: GET %s: %d %s%s", e.Addr, e.Path, e.Code, http.StatusText(e.Code), msg)
}

// NotPairedError reports that the printer at Addr refused a route with 401:
// it has not paired the Command Center presenting the client certificate
// with fingerprint Collector ("" when it presented none). Nothing was read;
// collection resumes once the operator pairs the Command Center at the
// printer.
type NotPairedError struct {
	Addr      string
	Path      string
	Collector Fingerprint
	Message   string // the printer's {"error": ...}
}

func (e *NotPairedError) Error() string {
	said := ""
	if e.Message != "" {
		said = " (the printer said: " + e.Message + ")"
	}
	if e.Collector == "" {
		return fmt.Sprintf("printer %s: GET %s: not paired: this Command Center presented no client certificate%s", e.Addr, e.Path, said)
	}
	return fmt.Sprintf("printer %s: GET %s: not paired: confirm this Command Center's fingerprint %s at the printer%s", e.Addr, e.Path, e.Collector, said)
}

// Is makes errors.Is(err, ErrNotPaired) true for a *NotPairedError.
func (e *NotPairedError) Is(target error) bool { return target == ErrNotPaired }

// ClientOptions tune a Client. The zero value works.
type ClientOptions struct {
	// Certificate is the Command Center's client certificate
	// (LoadOrCreateClientCertificate), presented to every printer; a
	// printer serves its private fields and logs only to a certificate
	// paired at the printer. Nil: none presented, and only the public
	// routes answer.
	Certificate *tls.Certificate
	// Timeout bounds one request, connection included. Zero means 10 s.
	Timeout time.Duration
	// MaxResponseBytes bounds an answer's body. Zero means 8 MiB.
	MaxResponseBytes int64
	// SessionCache, shared by the clients of one poller, lets a new
	// connection resume an earlier TLS session instead of a full handshake.
	// The pin is checked on resumed connections too (VerifyConnection runs
	// on every handshake). Nil: no resumption.
	SessionCache tls.ClientSessionCache
}

const (
	defaultClientTimeout    = 10 * time.Second
	defaultMaxResponseBytes = 8 << 20
	maxErrorBodyBytes       = 4 << 10
	dialTimeout             = 10 * time.Second
)

// Client reads one printer's device API over HTTPS, trusting exactly the
// certificate whose fingerprint was pinned at pairing. It is safe for
// concurrent use.
type Client struct {
	addr      string
	pin       Fingerprint
	collector Fingerprint // of the client certificate; "" without one
	hc        *http.Client
	maxBytes  int64
}

// NewClient returns a client for the printer at addr ("host:port") whose
// certificate has fingerprint pin. The host name is resolved again for every
// new connection, so a printer whose address changed is found again
// (R-ARCH-7). The connection is kept alive between calls (90 s idle at
// most): its peer was checked against pin when it was opened, so it may
// serve the next poll; the caller closes it (CloseIdleConnections) when
// the printer's address or pin changes.
func NewClient(addr string, pin Fingerprint, opts ClientOptions) *Client {
	if opts.Timeout <= 0 {
		opts.Timeout = defaultClientTimeout
	}
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = defaultMaxResponseBytes
	}
	tlsCfg := PinnedTLS(addr, pin, opts.Certificate, opts.SessionCache)
	var collector Fingerprint
	if cert := opts.Certificate; cert != nil && len(cert.Certificate) > 0 {
		collector = FingerprintOf(cert.Certificate[0])
	}
	tr := &http.Transport{
		// Printers are on the LAN: never through the site's internet proxy.
		Proxy:                  nil,
		DialContext:            (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:        tlsCfg,
		TLSHandshakeTimeout:    opts.Timeout,
		ResponseHeaderTimeout:  opts.Timeout,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &Client{
		addr:      addr,
		pin:       pin,
		collector: collector,
		hc: &http.Client{
			Transport: tr,
			Timeout:   opts.Timeout,
			// A printer has no reason to redirect, and following one would
			// talk to a host nobody paired (R-SEC-3).
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		maxBytes: opts.MaxResponseBytes,
	}
}

// Addr returns the printer's address as given to NewClient.
func (c *Client) Addr() string { return c.addr }

// CloseIdleConnections closes the connections kept alive for reuse.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// Identity reads GET /v1/identity.
func (c *Client) Identity(ctx context.Context) (Identity, error) {
	const path = "/v1/identity"
	buf, err := c.fetch(ctx, path)
	if err != nil {
		return Identity{}, err
	}
	id, err := decodeIdentity(buf.Bytes())
	release(buf)
	if err != nil {
		return Identity{}, fmt.Errorf("printer %s: GET %s: %w", c.addr, path, err)
	}
	return id, nil
}

// Status reads GET /v1/status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	const path = "/v1/status"
	buf, err := c.fetch(ctx, path)
	if err != nil {
		return Status{}, err
	}
	s, err := decodeStatus(buf.Bytes())
	release(buf)
	if err != nil {
		return Status{}, fmt.Errorf("printer %s: GET %s: %w", c.addr, path, err)
	}
	return s, nil
}

// Events reads GET /v1/events: the events with Seq > after, at most limit
// (limit <= 0 leaves the printer's default, DefaultEventLimit).
func (c *Client) Events(ctx context.Context, after uint64, limit int) (EventPage, error) {
	return readPage(ctx, c, "/v1/events", after, limit, DefaultEventLimit, decodeEventPage)
}

// Jobs reads GET /v1/jobs: the job changes with Seq > after, with their
// parts, at most limit (limit <= 0 leaves the printer's default,
// DefaultJobLimit).
func (c *Client) Jobs(ctx context.Context, after uint64, limit int) (JobPage, error) {
	return readPage(ctx, c, "/v1/jobs", after, limit, DefaultJobLimit, decodeJobPage)
}

// Layers reads GET /v1/layers: the layers with Seq > after, at most limit
// (limit <= 0 leaves the printer's default, DefaultLayerLimit).
func (c *Client) Layers(ctx context.Context, after uint64, limit int) (LayerPage, error) {
	return readPage(ctx, c, "/v1/layers", after, limit, DefaultLayerLimit, decodeLayerPage)
}

// Logs reads GET /v1/logs/{log}: the lines of one device log with Seq >
// after, at most limit (limit <= 0 leaves the printer's default,
// DefaultLogLimit). An unknown log is refused without asking the printer,
// and lines of another log than asked for are refused.
func (c *Client) Logs(ctx context.Context, log fleet.LogKind, after uint64, limit int) (LogPage, error) {
	path := "/v1/logs/" + url.PathEscape(string(log))
	if !log.Valid() {
		return LogPage{}, fmt.Errorf("printer %s: GET %s: unknown log %q", c.addr, path, log)
	}
	p, err := readPage(ctx, c, path, after, limit, DefaultLogLimit, decodeLogPage)
	if err != nil {
		return LogPage{}, err
	}
	if len(p.Items) > 0 && p.Items[0].Log != log {
		return LogPage{}, fmt.Errorf("printer %s: GET %s: lines of log %s, asked for %s", c.addr, path, p.Items[0].Log, log)
	}
	return p, nil
}

// Counters reads GET /v1/counters.
func (c *Client) Counters(ctx context.Context) (fleet.Counters, error) {
	return readSnapshot(ctx, c, "/v1/counters", decodeCounters)
}

// Consumables reads GET /v1/consumables.
func (c *Client) Consumables(ctx context.Context) (fleet.Consumables, error) {
	return readSnapshot(ctx, c, "/v1/consumables", decodeConsumables)
}

// SelfTest reads GET /v1/selftest: the printer runs its self-test.
func (c *Client) SelfTest(ctx context.Context) (SelfTest, error) {
	return readSnapshot(ctx, c, "/v1/selftest", decodeSelfTest)
}

// OpenAPI reads GET /openapi.json, the printer's description of its API,
// and returns it as it came after checking that it is one JSON object
// naming an OpenAPI version.
func (c *Client) OpenAPI(ctx context.Context) ([]byte, error) {
	b, err := c.get(ctx, openAPIPath)
	if err != nil {
		return nil, err
	}
	if b, err = decodeOpenAPI(b); err != nil {
		return nil, fmt.Errorf("printer %s: GET %s: %w", c.addr, openAPIPath, err)
	}
	return b, nil
}

// readSnapshot fetches path and decodes the answer with decode, which
// must not keep the bytes it is given.
func readSnapshot[T any](ctx context.Context, c *Client, path string, decode func([]byte) (T, error)) (T, error) {
	var zero T
	buf, err := c.fetch(ctx, path)
	if err != nil {
		return zero, err
	}
	v, err := decode(buf.Bytes())
	release(buf)
	if err != nil {
		return zero, fmt.Errorf("printer %s: GET %s: %w", c.addr, path, err)
	}
	return v, nil
}

// readPage reads one page of the feed at path after the cursor after,
// asking for at most limit items (limit <= 0: the feed's default def), and
// checks that the page answers that read.
func readPage[T any](ctx context.Context, c *Client, path string, after uint64, limit, def int, decode func([]byte) (Page[T], error)) (Page[T], error) {
	path += "?after=" + strconv.FormatUint(after, 10)
	if limit > 0 {
		path += "&limit=" + strconv.Itoa(limit)
	} else {
		limit = def
	}
	buf, err := c.fetch(ctx, path)
	if err != nil {
		return Page[T]{}, err
	}
	p, err := decode(buf.Bytes())
	release(buf)
	if err == nil {
		err = checkCursor(p, after, limit)
	}
	if err != nil {
		return Page[T]{}, fmt.Errorf("printer %s: GET %s: %w", c.addr, path, err)
	}
	return p, nil
}

// answerBuffers hold answers while they are decoded: a poller reads a few
// small answers from every printer every few seconds, and reading each
// into a buffer of its own, grown as it came, was a good part of the
// poller's allocations.
var answerBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledAnswer is the largest buffer kept for reuse: one huge answer
// is not held on to.
const maxPooledAnswer = 256 << 10

// release returns a buffer of fetch for reuse; its bytes must not be used
// any more.
func release(buf *bytes.Buffer) {
	if buf.Cap() <= maxPooledAnswer {
		answerBuffers.Put(buf)
	}
}

// get fetches path and returns the body of a 2xx JSON answer.
func (c *Client) get(ctx context.Context, path string) ([]byte, error) {
	buf, err := c.fetch(ctx, path)
	if err != nil {
		return nil, err
	}
	b := bytes.Clone(buf.Bytes())
	release(buf)
	return b, nil
}

// fetch is get into a buffer of answerBuffers, which the caller releases.
func (c *Client) fetch(ctx context.Context, path string) (*bytes.Buffer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+c.addr+path, nil)
	if err != nil {
		return nil, fmt.Errorf("printer %s: GET %s: %w", c.addr, path, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		if pe, ok := errors.AsType[*PinError](err); ok {
			return nil, pe
		}
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err // the URL repeats what the prefix says
		}
		return nil, fmt.Errorf("printer %s: GET %s: %w", c.addr, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
		return nil, &NotPairedError{Addr: c.addr, Path: path, Collector: c.collector, Message: errorMessage(b)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
		return nil, &StatusError{Addr: c.addr, Path: path, Code: resp.StatusCode, Message: errorMessage(b)}
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return nil, fmt.Errorf("printer %s: GET %s: content type %q, want application/json", c.addr, path, ct)
		}
	}
	buf := answerBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, c.maxBytes+1)); err != nil {
		release(buf)
		return nil, fmt.Errorf("printer %s: GET %s: read answer: %w", c.addr, path, err)
	}
	if int64(buf.Len()) > c.maxBytes {
		release(buf)
		return nil, fmt.Errorf("printer %s: GET %s: answer larger than %d bytes", c.addr, path, c.maxBytes)
	}
	return buf, nil
}

// errorMessage extracts the message of an error answer: the "error" field
// of a JSON body, or else the body's start with control characters removed.
func errorMessage(b []byte) string {
	var e errorBody
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		b = []byte(e.Error)
	}
	s := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(string(b), "?"))
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}

func decodeIdentity(b []byte) (Identity, error) {
	var v Identity
	if err := decodeStrict(b, &v); err != nil {
		return Identity{}, err
	}
	return v, v.Validate()
}

func decodeStatus(b []byte) (Status, error) {
	var v Status
	if err := decodeStrict(b, &v); err != nil {
		return Status{}, err
	}
	return v, v.Validate()
}

func decodeEventPage(b []byte) (EventPage, error) { return decodePage[fleet.Event](b) }
func decodeJobPage(b []byte) (JobPage, error)     { return decodePage[Job](b) }
func decodeLayerPage(b []byte) (LayerPage, error) { return decodePage[fleet.Layer](b) }
func decodeLogPage(b []byte) (LogPage, error)     { return decodePage[fleet.LogLine](b) }

func decodePage[T any](b []byte) (Page[T], error) {
	var v Page[T]
	if err := decodeStrict(b, &v); err != nil {
		return Page[T]{}, err
	}
	return v, v.Validate()
}

func decodeCounters(b []byte) (fleet.Counters, error) {
	var v fleet.Counters
	if err := decodeStrict(b, &v); err != nil {
		return fleet.Counters{}, err
	}
	return v, validateCounters(v)
}

func decodeConsumables(b []byte) (fleet.Consumables, error) {
	var v fleet.Consumables
	if err := decodeStrict(b, &v); err != nil {
		return fleet.Consumables{}, err
	}
	return v, validateConsumables(v)
}

// decodeOpenAPI checks that b is one JSON object with an "openapi" version
// and returns b unchanged. The document's inside is the printer's
// business; it is not interpreted.
func decodeOpenAPI(b []byte) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := decodeStrict(b, &top); err != nil {
		return nil, err
	}
	var version string
	if err := json.Unmarshal(top["openapi"], &version); err != nil || version == "" {
		return nil, errors.New("decode answer: no openapi version")
	}
	return b, nil
}

// decodeStrict decodes exactly one JSON value into v, refusing unknown
// fields and trailing data.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("decode answer: data after the JSON value")
	}
	return nil
}

// PinnedTLS is the TLS configuration of a connection to the printer at
// addr whose certificate has fingerprint pin, presenting cert (nil: none)
// and resuming sessions from cache (nil: none).
func PinnedTLS(addr string, pin Fingerprint, cert *tls.Certificate, cache tls.ClientSessionCache) *tls.Config {
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ClientSessionCache: perAddress(cache, addr),
		// The printer's certificate is self-signed, so there is no chain or
		// CA to verify. The pin taken at pairing is the whole trust decision
		// (R-SEC-9) and VerifyConnection checks it on every handshake, so
		// skipping the chain check loses nothing.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return fmt.Errorf("printer %s presented no certificate", addr)
			}
			got := FingerprintOf(cs.PeerCertificates[0].Raw)
			if !strings.EqualFold(string(got), string(pin)) {
				return &PinError{Addr: addr, Want: pin, Got: got}
			}
			return nil
		},
	}
	if cert != nil && len(cert.Certificate) > 0 {
		// Always this certificate, whatever CAs the printer names: it is
		// pinned by fingerprint, not verified by a chain.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	return cfg
}

// Probe connects to the printer at addr ("host:port") and returns the
// fingerprint of the certificate it presents, for the operator to confirm
// against the printer's panel before pairing (trust on first use, R-SEC-9).
func Probe(ctx context.Context, addr string) (Fingerprint, error) {
	ctx, cancel := context.WithTimeout(ctx, defaultClientTimeout)
	defer cancel()
	d := tls.Dialer{
		NetDialer: &net.Dialer{Timeout: dialTimeout},
		Config: &tls.Config{
			MinVersion: tls.VersionTLS12,
			// Trust on first use: the certificate is self-signed and not yet
			// pinned, so there is nothing to verify it against. Probe only
			// reads the fingerprint for the operator to confirm; no data is
			// exchanged on this connection, and every later connection is
			// verified against the confirmed pin (see NewClient).
			InsecureSkipVerify: true,
		},
	}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("probe printer %s: %w", addr, err)
	}
	defer conn.Close()
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return "", fmt.Errorf("probe printer %s: no certificate presented", addr)
	}
	return FingerprintOf(certs[0].Raw), nil
}

// perAddress keys a shared session cache by the printer's address as well:
// crypto/tls keys sessions by server name, which is the bare IP for printers
// addressed by IP, so printers sharing an IP (one host, several ports) would
// otherwise overwrite each other's sessions.
func perAddress(c tls.ClientSessionCache, addr string) tls.ClientSessionCache {
	if c == nil {
		return nil
	}
	return addressCache{c: c, prefix: addr + "|"}
}

type addressCache struct {
	c      tls.ClientSessionCache
	prefix string
}

func (a addressCache) Get(key string) (*tls.ClientSessionState, bool) { return a.c.Get(a.prefix + key) }
func (a addressCache) Put(key string, cs *tls.ClientSessionState)     { a.c.Put(a.prefix+key, cs) }
