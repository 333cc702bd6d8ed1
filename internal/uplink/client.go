package uplink

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/klauspost/compress/zstd"
)

// maxResponseBytes bounds every answer the client reads from the cloud.
const maxResponseBytes = 1 << 20

// ClientOptions tunes a Client. The zero value verifies the cloud against
// the system's roots, takes the proxy from the environment and times out
// after 30 s.
type ClientOptions struct {
	// RootCAs verifies the cloud's certificate; nil means the system roots.
	RootCAs *x509.CertPool
	// Proxy picks the proxy for a request; nil means
	// http.ProxyFromEnvironment (HTTPS_PROXY, NO_PROXY: R-ARCH-5).
	Proxy func(*http.Request) (*url.URL, error)
	// Timeout bounds one request, connection set-up included; 0 means 30 s.
	Timeout time.Duration
	// Clock stamps signed uploads; nil means the real clock.
	Clock clock.Clock
	// Compression of upload bodies: "zstd" or "gzip"; "" means zstd, which
	// makes typical batches smaller (see TestZstdSmallerThanGzip). A cloud
	// that answers 415 to zstd gets gzip from then on.
	Compression string
}

// Compressions a client can upload with.
const (
	CompressionZstd = "zstd"
	CompressionGzip = "gzip"
)

// Client talks to the cloud on behalf of one Command Center. Every request
// opens its own connection and closes it afterwards (R-ARCH-4); TLS sessions
// are resumed to keep that cheap. Safe for concurrent use.
type Client struct {
	base  *url.URL
	hc    *http.Client
	clock clock.Clock
	zstd  *zstd.Encoder // nil when the client compresses with gzip
	// gzipOnly is set once the cloud refused zstd (415): an older cloud.
	gzipOnly atomic.Bool
}

// NewClient returns a client for the cloud at baseURL, which must be an
// https:// URL (R-SEC-1).
func NewClient(baseURL string, opts ClientOptions) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("uplink client: parse cloud URL: %w", err)
	}
	if u.Scheme != "https" {
		return nil, fmt.Errorf("uplink client: cloud URL %q: only https:// is allowed, the cloud must be reached over verified TLS", baseURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("uplink client: cloud URL %q has no host", baseURL)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("uplink client: cloud URL must not carry credentials, a query or a fragment")
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	if opts.Proxy == nil {
		opts.Proxy = http.ProxyFromEnvironment
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	var enc *zstd.Encoder
	switch opts.Compression {
	case "", CompressionZstd:
		// A nil writer starts no goroutines; EncodeAll is safe for
		// concurrent use. The fastest level: on a typical batch of 500
		// records it costs a sixth less CPU than the default level for
		// bodies 0.4 % larger (TestZstdLevel).
		if enc, err = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstdLevel)); err != nil {
			return nil, fmt.Errorf("uplink client: zstd: %w", err)
		}
	case CompressionGzip:
	default:
		return nil, fmt.Errorf("uplink client: compression %q: want %q or %q", opts.Compression, CompressionZstd, CompressionGzip)
	}
	tr := &http.Transport{
		Proxy:               opts.Proxy,
		DisableKeepAlives:   true, // one connection per payload (R-ARCH-4)
		TLSHandshakeTimeout: 10 * time.Second,
		TLSClientConfig: &tls.Config{
			RootCAs:            opts.RootCAs,
			MinVersion:         tls.VersionTLS12,
			CipherSuites:       aeadSuites, // TLS 1.2; TLS 1.3 suites are AEAD by definition (R-SEC-2)
			ClientSessionCache: tls.NewLRUClientSessionCache(16),
		},
		ResponseHeaderTimeout:  opts.Timeout,
		MaxResponseHeaderBytes: 64 << 10,
	}
	hc := &http.Client{
		Transport: tr,
		Timeout:   opts.Timeout,
		// The Command Center talks to the configured cloud only (R-SEC-3):
		// a redirect is an answer, not an instruction.
		CheckRedirect: noRedirects,
	}
	return &Client{base: u, hc: hc, clock: opts.Clock, zstd: enc}, nil
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Transport returns the client's transport, for other traffic to the cloud
// (the update mirror's fetches) that must follow the uplink's rules: one
// connection per request (R-ARCH-4), the client's TLS session cache and
// roots, the proxy from the environment (R-ARCH-5).
func (c *Client) Transport() http.RoundTripper { return c.hc.Transport }

// HTTPClient returns an http.Client that sends through rt (the client's
// Transport, wrapped or not), follows no redirects (R-SEC-3) and gives up
// on a request after timeout; timeout 0 means the client's own.
func (c *Client) HTTPClient(rt http.RoundTripper, timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = c.hc.Timeout
	}
	return &http.Client{Transport: rt, Timeout: timeout, CheckRedirect: noRedirects}
}

// zstdLevel is the level the client compresses with.
const zstdLevel = zstd.SpeedFastest

var aeadSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// LoadCertPool reads the PEM certificates in caFile into a pool. An empty
// name returns nil, which means the system roots.
func LoadCertPool(caFile string) (*x509.CertPool, error) {
	if caFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("load CA certificates: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("load CA certificates: no PEM certificate found in %s", caFile)
	}
	return pool, nil
}

// Credentials are a gateway's identity, as received at enrolment.
type Credentials struct {
	GatewayID fleet.GatewayID
	Key       ed25519.PrivateKey
}

// Enrol registers this gateway's public key with the cloud, using a one-time
// enrolment token.
func (c *Client) Enrol(ctx context.Context, token, name string, pub ed25519.PublicKey) (EnrolResponse, error) {
	body, err := json.Marshal(EnrolRequest{Token: token, Name: name, PublicKey: pub})
	if err != nil {
		return EnrolResponse{}, fmt.Errorf("enrol: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint("/v1/enrol"), bytes.NewReader(body))
	if err != nil {
		return EnrolResponse{}, fmt.Errorf("enrol: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	var resp EnrolResponse
	if err := c.do(req, &resp); err != nil {
		return EnrolResponse{}, fmt.Errorf("enrol: %w", err)
	}
	return resp, nil
}

// Upload sends one batch, compressed and signed with the gateway's key, and
// returns the cloud's acknowledgement. Retryable tells whether a failed
// upload may be tried again as it is.
func (c *Client) Upload(ctx context.Context, cred Credentials, b Batch) (Ack, error) {
	useZstd := c.zstd != nil && !c.gzipOnly.Load()
	req, err := c.newUploadRequest(ctx, cred, b, useZstd)
	if err != nil {
		return Ack{}, fmt.Errorf("upload: %w", err)
	}
	var ack Ack
	err = c.do(req, &ack)
	if se, ok := errors.AsType[*StatusError](err); ok && useZstd && se.Code == http.StatusUnsupportedMediaType {
		// A cloud that predates zstd: fall back to gzip for good.
		c.gzipOnly.Store(true)
		if req, err = c.newUploadRequest(ctx, cred, b, false); err != nil {
			return Ack{}, fmt.Errorf("upload: %w", err)
		}
		err = c.do(req, &ack)
	}
	if err != nil {
		return Ack{}, fmt.Errorf("upload: %w", err)
	}
	return ack, nil
}

// compress returns raw compressed with zstd or gzip, and the
// Content-Encoding that names it.
func (c *Client) compress(raw []byte, useZstd bool) ([]byte, string, error) {
	if useZstd {
		return c.zstd.EncodeAll(raw, make([]byte, 0, len(raw)/4)), CompressionZstd, nil
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		return nil, "", err
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), CompressionGzip, nil
}

func (c *Client) newUploadRequest(ctx context.Context, cred Credentials, b Batch, useZstd bool) (*http.Request, error) {
	if len(cred.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("credentials: invalid private key")
	}
	if cred.GatewayID == "" {
		return nil, errors.New("credentials: empty gateway ID")
	}
	raw, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("encode batch: %w", err)
	}
	body, encoding, err := c.compress(raw, useZstd)
	if err != nil {
		return nil, fmt.Errorf("compress batch: %w", err)
	}
	ts := strconv.FormatInt(c.clock.Now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint("/v1/batches"), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", encoding)
	req.Header.Set(HeaderGateway, string(cred.GatewayID))
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, sign(cred.Key, string(cred.GatewayID), ts, body))
	return req, nil
}

func (c *Client) endpoint(path string) string {
	u := *c.base
	u.Path += path
	return u.String()
}

// do sends req and decodes a 200 answer into out; any other answer becomes
// a *StatusError.
func (c *Client) do(req *http.Request, out any) error {
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("read answer: %w", &transportError{err})
	}
	if len(body) > maxResponseBytes {
		return &StatusError{Code: resp.StatusCode, Message: fmt.Sprintf("answer exceeds %d bytes", maxResponseBytes)}
	}
	if resp.StatusCode != http.StatusOK {
		se := &StatusError{Code: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"), c.clock.Now())}
		var eb ErrorBody
		if json.Unmarshal(body, &eb) == nil && eb.Error != "" {
			se.Message, se.Refused = eb.Error, eb.Refused
		} else {
			se.Message = http.StatusText(resp.StatusCode)
		}
		return se
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}

// retryAfter parses a Retry-After header: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// StatusError is a non-200 answer from the cloud.
type StatusError struct {
	Code    int
	Message string
	// RetryAfter is how long the cloud asked the gateway to wait, 0 if it
	// did not say.
	RetryAfter time.Duration
	// Refused lists the records a 400 refuses when it refuses only some
	// (ErrorBody.Refused); empty when it refuses the whole batch.
	Refused []uint64
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("cloud answered %d %s: %s", e.Code, http.StatusText(e.Code), e.Message)
}

// transportError marks a failure to read an answer off the network.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// Retryable reports whether a failed Enrol or Upload may succeed if tried
// again unchanged: network and TLS failures, 5xx, 408 and 429 answers are;
// other answers (400, 401, 403, 413: the request itself is wrong) and
// cancellation by the caller are not. A 413 means the batch must be split.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if se, ok := errors.AsType[*StatusError](err); ok {
		return se.Code >= 500 || se.Code == http.StatusTooManyRequests || se.Code == http.StatusRequestTimeout
	}
	if _, ok := errors.AsType[*url.Error](err); ok {
		return true
	}
	_, ok := errors.AsType[*transportError](err)
	return ok
}

// CheckIn asks the cloud for the diagnostic requests waiting for the
// gateway's site: for a gateway that has uploaded nothing for a while, as
// the answer to every upload carries them too.
func (c *Client) CheckIn(ctx context.Context, cred Credentials) ([]fleet.DiagnosticRequest, error) {
	var p Pending
	if err := c.postSigned(ctx, cred, PathDiagnosticsPending, struct{}{}, &p); err != nil {
		return nil, fmt.Errorf("check in: %w", err)
	}
	return p.Diagnostics, nil
}

// ReportDiagnostic tells the cloud where a diagnostic request stands at
// the site, and returns the cloud's view of it.
func (c *Client) ReportDiagnostic(ctx context.Context, cred Credentials, r fleet.DiagnosticReport) (DiagnosticAnswer, error) {
	var a DiagnosticAnswer
	if err := c.postSigned(ctx, cred, PathDiagnosticsReport, r, &a); err != nil {
		return DiagnosticAnswer{}, fmt.Errorf("report diagnostic %s: %w", r.ID, err)
	}
	return a, nil
}

// PutDiagnosticChunk uploads one chunk of a diagnostic's result; sending a
// chunk again is harmless.
func (c *Client) PutDiagnosticChunk(ctx context.Context, cred Credentials, ch fleet.DiagnosticChunkData) (DiagnosticAnswer, error) {
	var a DiagnosticAnswer
	if err := c.postSigned(ctx, cred, PathDiagnosticsChunk, ch, &a); err != nil {
		return DiagnosticAnswer{}, fmt.Errorf("upload chunk %d of diagnostic %s: %w", ch.Index, ch.ID, err)
	}
	return a, nil
}

// postSigned sends v as a signed, uncompressed JSON body to path.
func (c *Client) postSigned(ctx context.Context, cred Credentials, path string, v, out any) error {
	if len(cred.Key) != ed25519.PrivateKeySize || cred.GatewayID == "" {
		return errors.New("credentials: invalid")
	}
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(c.clock.Now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint(path), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderGateway, string(cred.GatewayID))
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, sign(cred.Key, string(cred.GatewayID), ts, body))
	return c.do(req, out)
}
