package uplink

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"
)

func gz(t testing.TB, raw []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zst compresses raw as one zstd frame that declares its size.
func zst(t testing.TB, raw []byte) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return enc.EncodeAll(raw, nil)
}

// zstStream compresses raw as a zstd stream that does not declare its
// size up front, written with opts.
func zstStream(t testing.TB, raw []byte, opts ...zstd.EOption) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signedRequest builds an upload of body (sent as is, with the given
// Content-Encoding) signed by cred at time at.
func signedRequest(cred Credentials, at time.Time, encoding string, body []byte) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/v1/batches", bytes.NewReader(body))
	ts := strconv.FormatInt(at.Unix(), 10)
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	req.Header.Set(HeaderGateway, string(cred.GatewayID))
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, sign(cred.Key, string(cred.GatewayID), ts, body))
	return req
}

type handlerEnv struct {
	gws      *fakeGateways
	printers *fakePrinters
	pub      *fakePublisher
	clk      *clock.Manual
	h        http.Handler
	cred     Credentials
}

func newHandlerEnv(t testing.TB, opts HandlerOptions) *handlerEnv {
	t.Helper()
	e := &handlerEnv{gws: newFakeGateways(), printers: &fakePrinters{}, pub: &fakePublisher{}, clk: clock.NewManual(t0)}
	opts.Clock = e.clk
	e.h = NewHandler(e.gws, e.printers, e.pub, opts)
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e.gws.add(gatewayWithKey("gw-a", pub))
	e.cred = Credentials{GatewayID: "gw-a", Key: key}
	return e
}

func (e *handlerEnv) serve(req *http.Request) (int, ErrorBody, *httptest.ResponseRecorder) {
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	var eb ErrorBody
	_ = json.Unmarshal(rec.Body.Bytes(), &eb)
	return rec.Code, eb, rec
}

func TestBatchRefusals(t *testing.T) {
	good := mustJSON(t, batchOf(1, 2))
	three := mustJSON(t, batchOf(1, 2, 3))
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	tests := []struct {
		name     string
		opts     HandlerOptions
		req      func(e *handlerEnv) *http.Request
		wantCode int
		wantMsg  string
	}{
		{"missing headers", HandlerOptions{}, func(e *handlerEnv) *http.Request {
			return httptest.NewRequest(http.MethodPost, "/v1/batches", bytes.NewReader(good))
		}, 401, "missing signature headers"},
		{"unknown gateway", HandlerOptions{}, func(e *handlerEnv) *http.Request {
			return signedRequest(Credentials{GatewayID: "gw-nobody", Key: e.cred.Key}, t0, "", good)
		}, 401, "unknown gateway"},
		{"revoked gateway", HandlerOptions{}, func(e *handlerEnv) *http.Request {
			gw := gatewayWithKey("gw-a", e.cred.Key.Public().(ed25519.PublicKey))
			gw.Revoked = true
			e.gws.add(gw)
			return signedRequest(e.cred, t0, "", good)
		}, 403, "revoked"},
		{"signed by another key", HandlerOptions{}, func(e *handlerEnv) *http.Request {
			return signedRequest(Credentials{GatewayID: "gw-a", Key: otherKey}, t0, "", good)
		}, 401, "bad signature"},
		{"tampered body", HandlerOptions{}, func(e *handlerEnv) *http.Request {
			req := signedRequest(e.cred, t0, "", good)
			tampered := bytes.Replace(good, []byte(`"seq":2`), []byte(`"seq":9`), 1)
			req.Body = io.NopCloser(bytes.NewReader(tampered))
			return req
		}, 401, "bad signature"},
		{"tampered timestamp", HandlerOptions{}, func(e *handlerEnv) *http.Request {
			req := signedRequest(e.cred, t0, "", good)
			req.Header.Set(HeaderTimestamp, strconv.FormatInt(t0.Unix()+1, 10))
			return req
		}, 401, "bad signature"},
		{"signature not base64", HandlerOptions{}, func(e *handlerEnv) *http.Request {
			req := signedRequest(e.cred, t0, "", good)
			req.Header.Set(HeaderSignature, "!!!")
			return req
		}, 401, "bad signature"},
		{"bad timestamp", HandlerOptions{}, func(e *handlerEnv) *http.Request {
			req := signedRequest(e.cred, t0, "", good)
			req.Header.Set(HeaderTimestamp, "yesterday")
			return req
		}, 401, "bad timestamp"},
		{"clock skew behind", HandlerOptions{}, func(e *handlerEnv) *http.Request {
			return signedRequest(e.cred, t0.Add(-5*time.Minute-time.Second), "", good)
		}, 401, "clock skew"},
		{"clock skew ahead", HandlerOptions{}, func(e *handlerEnv) *http.Request {
			return signedRequest(e.cred, t0.Add(5*time.Minute+time.Second), "", good)
		}, 401, "clock skew"},
		{"body too large", HandlerOptions{MaxBodyBytes: 100}, func(e *handlerEnv) *http.Request {
			return signedRequest(e.cred, t0, "", good)
		}, 413, "body exceeds 100 bytes"},
		{"gzip bomb", HandlerOptions{MaxDecodedBytes: 1 << 20}, func(e *handlerEnv) *http.Request {
			return signedRequest(e.cred, t0, "gzip", gz(t, make([]byte, 8<<20)))
		}, 413, "decompressed body exceeds"},
		{"zstd bomb", HandlerOptions{MaxDecodedBytes: 1 << 20}, func(e *handlerEnv) *http.Request {
			return signedRequest(e.cred, t0, "zstd", zst(t, make([]byte, 8<<20)))
		}, 413, "decompressed body exceeds"},
		{"zstd bomb without a declared size", HandlerOptions{MaxDecodedBytes: 1 << 20}, func(e *handlerEnv) *http.Request {
			return signedRequest(e.cred, t0, "zstd", zstStream(t, make([]byte, 8<<20)))
		}, 413, "decompressed body exceeds"},
		{"zstd just over the limit", HandlerOptions{MaxDecodedBytes: 1000}, func(e *handlerEnv) *http.Request {
			return signedRequest(e.cred, t0, "zstd", zst(t, make([]byte, 1001)))
		}, 413, "decompressed body exceeds 1000 bytes"},
		{"uncompressed over the decoded limit", HandlerOptions{MaxDecodedBytes: 10}, func(e *handlerEnv) *http.Request {
			return signedRequest(e.cred, t0, "", good)
		}, 413, "decompressed body exceeds 10 bytes"},
		{"broken zstd", HandlerOptions{}, func(e *handlerEnv) *http.Request {
			return signedRequest(e.cred, t0, "zstd", good)
		}, 400, "bad zstd"},
		{"truncated zstd", HandlerOptions{}, func(e *handlerEnv) *http.Request {
			z := zst(t, good)
			return signedRequest(e.cred, t0, "zstd", z[:len(z)-6])
		}, 400, "bad zstd"},
		{"broken gzip", HandlerOptions{}, func(e *handlerEnv) *http.Request {
			return signedRequest(e.cred, t0, "gzip", good)
		}, 400, "bad gzip"},
		{"truncated gzip", HandlerOptions{}, func(e *handlerEnv) *http.Request {
			z := gz(t, good)
			return signedRequest(e.cred, t0, "gzip", z[:len(z)-6])
		}, 400, "bad gzip"},
		{"unknown encoding", HandlerOptions{}, func(e *handlerEnv) *http.Request {
			return signedRequest(e.cred, t0, "br", good)
		}, 415, "unsupported content encoding"},
		{"too many records", HandlerOptions{MaxRecords: 2}, func(e *handlerEnv) *http.Request {
			return signedRequest(e.cred, t0, "gzip", gz(t, mustJSON(t, batchOf(1, 2, 3))))
		}, 413, "3 records, at most 2"},
		{"batch above the rate limit's burst", HandlerOptions{Burst: 2}, func(e *handlerEnv) *http.Request {
			return signedRequest(e.cred, t0, "zstd", zst(t, mustJSON(t, batchOf(1, 2, 3))))
		}, 413, "more than the 2 a gateway may send at once"},
		// The batch fits the stream, its envelope (the gateway's identity too) does not.
		{"too large for the stream", HandlerOptions{MaxMessageBytes: int64(len(three))}, func(e *handlerEnv) *http.Request {
			return signedRequest(e.cred, t0, "gzip", gz(t, three))
		}, 413, "too large for the cloud's stream"},
		{"decompressed above the stream's limit", HandlerOptions{MaxMessageBytes: int64(len(three)) - 1, MaxDecodedBytes: 1 << 20}, func(e *handlerEnv) *http.Request {
			return signedRequest(e.cred, t0, "gzip", gz(t, three))
		}, 413, fmt.Sprintf("decompressed body exceeds %d bytes, the most the cloud's stream takes", len(three)-1)},
		{"batch above the byte budget's burst", HandlerOptions{ByteBurst: 100}, func(e *handlerEnv) *http.Request {
			return signedRequest(e.cred, t0, "zstd", zst(t, good))
		}, 413, fmt.Sprintf("batch has %d bytes, more than the 100 a gateway may send at once", len(good))},
		{"empty batch", HandlerOptions{}, func(e *handlerEnv) *http.Request {
			return signedRequest(e.cred, t0, "", []byte(`{"records":[]}`))
		}, 400, "empty batch"},
		{"not json", HandlerOptions{}, func(e *handlerEnv) *http.Request {
			return signedRequest(e.cred, t0, "", []byte(`records`))
		}, 400, "bad batch"},
		{"trailing data", HandlerOptions{}, func(e *handlerEnv) *http.Request {
			return signedRequest(e.cred, t0, "", append(append([]byte(nil), good...), "{}"...))
		}, 400, "trailing data"},
		// R-PRIV-2: a field the schema does not name is refused, however deep.
		{"unknown top-level field", HandlerOptions{}, func(e *handlerEnv) *http.Request {
			return signedRequest(e.cred, t0, "", []byte(`{"records":[],"job_name":"bracket v2"}`))
		}, 400, `batch: field "job_name" is not allowed on the uplink (R-PRIV-2)`},
		{"unknown nested field", HandlerOptions{}, func(e *handlerEnv) *http.Request {
			body := bytes.Replace(good, []byte(`"activity":`), []byte(`"user_name":"alice","activity":`), 1)
			return signedRequest(e.cred, t0, "gzip", gz(t, body))
		}, 400, `record 0: field "status.user_name" is not allowed on the uplink (R-PRIV-2)`},
		{"invalid record", HandlerOptions{}, func(e *handlerEnv) *http.Request {
			b := batchOf(1, 2, 3)
			b.Records[1].PrinterID = "x"
			return signedRequest(e.cred, t0, "gzip", gz(t, mustJSON(t, b)))
		}, 400, "record 1 (seq 2)"},
		{"seq not increasing", HandlerOptions{}, func(e *handlerEnv) *http.Request {
			return signedRequest(e.cred, t0, "gzip", gz(t, mustJSON(t, batchOf(1, 3, 3))))
		}, 400, "record 2 (seq 3): seq not above"},
		// A time nanoseconds cannot hold is refused, never overflowed.
		{"year 9999", HandlerOptions{}, func(e *handlerEnv) *http.Request {
			return signedRequest(e.cred, t0, "zstd", zst(t, mustJSON(t, batchAt(time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)))))
		}, 400, "record 1 (seq 2): record 2: time 9999-01-01T00:00:00Z is outside the years 1970 to 2261"},
		// A wrong clock would freeze the printer's status: records from
		// further ahead than MaxAhead are refused with the reason.
		{"status from the year 2200", HandlerOptions{}, func(e *handlerEnv) *http.Request {
			return signedRequest(e.cred, t0, "", mustJSON(t, batchAt(time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC))))
		}, 400, "record 1 (seq 2): time 2200-01-01T00:00:00Z is"},
		{"just beyond the default tolerance", HandlerOptions{}, func(e *handlerEnv) *http.Request {
			return signedRequest(e.cred, t0, "gzip", gz(t, mustJSON(t, batchAt(t0.Add(24*time.Hour+time.Second)))))
		}, 400, "24h0m1s ahead of the cloud's time 2025-03-01T12:00:00Z (at most 24h0m0s allowed)"},
		{"status time beyond a set tolerance", HandlerOptions{MaxAhead: time.Hour}, func(e *handlerEnv) *http.Request {
			b := batchOf(1, 2)
			b.Records[1].Status.Time = t0.Add(time.Hour + time.Minute)
			return signedRequest(e.cred, t0, "gzip", gz(t, mustJSON(t, b)))
		}, 400, "1h1m0s ahead of the cloud's time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newHandlerEnv(t, tt.opts)
			code, eb, _ := e.serve(tt.req(e))
			if code != tt.wantCode || !strings.Contains(eb.Error, tt.wantMsg) {
				t.Errorf("got %d %q, want %d containing %q", code, eb.Error, tt.wantCode, tt.wantMsg)
			}
			if n := len(e.pub.published()); n != 0 {
				t.Errorf("published %d messages for a refused batch", n)
			}
		})
	}
}

// batchAt returns a batch of two status records, the second at time at.
func batchAt(at time.Time) Batch {
	b := batchOf(1, 2)
	b.Records[1].Time, b.Records[1].Status.Time = at, at
	return b
}

// TestBatchWithinMaxAhead accepts records as far ahead of the cloud's
// clock as allowed, and records of the past.
func TestBatchWithinMaxAhead(t *testing.T) {
	tests := []struct {
		at   time.Time
		opts HandlerOptions
	}{
		{t0.Add(24 * time.Hour), HandlerOptions{}},
		{t0.AddDate(-1, 0, 0), HandlerOptions{}},
		{t0.AddDate(5, 0, 0), HandlerOptions{MaxAhead: -1}}, // no bound
	}
	for _, tt := range tests {
		e := newHandlerEnv(t, tt.opts)
		code, eb, _ := e.serve(signedRequest(e.cred, t0, "", mustJSON(t, batchAt(tt.at))))
		if code != http.StatusOK {
			t.Errorf("record at %s, MaxAhead %v: got %d %q, want 200", tt.at, tt.opts.MaxAhead, code, eb.Error)
		}
	}
}

func TestBatchAccepted(t *testing.T) {
	tests := []struct {
		name     string
		encoding string
		body     func(t *testing.T) []byte
		at       time.Duration // signing time relative to the cloud's clock
	}{
		{"gzip", "gzip", func(t *testing.T) []byte { return gz(t, mustJSON(t, batchOf(4, 5, 9))) }, 0},
		{"zstd", "zstd", func(t *testing.T) []byte { return zst(t, mustJSON(t, batchOf(4, 5, 9))) }, 0},
		{"zstd stream", "Zstd", func(t *testing.T) []byte { return zstStream(t, mustJSON(t, batchOf(4, 5, 9))) }, 0},
		{"uncompressed", "", func(t *testing.T) []byte { return mustJSON(t, batchOf(4, 5, 9)) }, 0},
		{"skew at the limit", "GZIP", func(t *testing.T) []byte { return gz(t, mustJSON(t, batchOf(4, 5, 9))) }, -5 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newHandlerEnv(t, HandlerOptions{})
			code, eb, rec := e.serve(signedRequest(e.cred, t0.Add(tt.at), tt.encoding, tt.body(t)))
			if code != http.StatusOK {
				t.Fatalf("got %d %q, want 200", code, eb.Error)
			}
			var ack Ack
			if err := json.Unmarshal(rec.Body.Bytes(), &ack); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(Ack{Through: 9}, ack); diff != "" {
				t.Errorf("ack (-want +got):\n%s", diff)
			}
			want := []published{{msgID: "gw-a:4-9", env: fleet.Envelope{OrgID: "org-1", SiteID: "site-1", GatewayID: "gw-a", Records: batchOf(4, 5, 9).Records}}}
			if diff := cmp.Diff(want, e.pub.published(), cmp.AllowUnexported(published{})); diff != "" {
				t.Errorf("published (-want +got):\n%s", diff)
			}
		})
	}
}

// A captured request replayed inside the skew window publishes the same
// msgID again (the stream stores it once); outside the window it is refused.
func TestReplay(t *testing.T) {
	e := newHandlerEnv(t, HandlerOptions{})
	body := gz(t, mustJSON(t, batchOf(1, 2)))
	captured := signedRequest(e.cred, t0, "gzip", body)
	replay := func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/v1/batches", bytes.NewReader(body))
		r.Header = captured.Header.Clone()
		return r
	}
	if code, eb, _ := e.serve(captured); code != 200 {
		t.Fatalf("original: %d %q", code, eb.Error)
	}
	e.clk.Advance(time.Minute)
	if code, eb, _ := e.serve(replay()); code != 200 {
		t.Fatalf("replay within window: %d %q", code, eb.Error)
	}
	msgs := e.pub.published()
	if len(msgs) != 2 || msgs[0].msgID != msgs[1].msgID {
		t.Errorf("replay within window published %v, want the same msgID twice", msgs)
	}
	e.clk.Advance(5 * time.Minute)
	code, eb, _ := e.serve(replay())
	if code != http.StatusUnauthorized || !strings.Contains(eb.Error, "clock skew") {
		t.Errorf("replay after window: %d %q, want 401 clock skew", code, eb.Error)
	}
	if n := len(e.pub.published()); n != 2 {
		t.Errorf("published %d messages, want 2", n)
	}
}

func TestPublishFailure(t *testing.T) {
	e := newHandlerEnv(t, HandlerOptions{})
	e.pub.err = errStreamDown
	code, eb, rec := e.serve(signedRequest(e.cred, t0, "gzip", gz(t, mustJSON(t, batchOf(1)))))
	if code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "5" {
		t.Errorf("got %d Retry-After %q, want 503 with Retry-After 5", code, rec.Header().Get("Retry-After"))
	}
	if strings.Contains(eb.Error, errStreamDown.Error()) {
		t.Errorf("error %q leaks the internal cause", eb.Error)
	}
}

func TestEnrol(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	enrolBody := func(token, name string, key []byte) []byte {
		return mustJSON(t, EnrolRequest{Token: token, Name: name, PublicKey: key})
	}
	tests := []struct {
		name     string
		body     []byte
		wantCode int
		wantMsg  string
	}{
		{"ok", enrolBody("tok", "Hall 3", pub), 200, ""},
		{"unknown token", enrolBody("nope", "Hall 3", pub), 401, "token is invalid"},
		{"empty token", enrolBody("", "Hall 3", pub), 400, "missing enrolment token"},
		{"short key", enrolBody("tok", "Hall 3", pub[:16]), 400, "want 32 bytes"},
		{"empty name", enrolBody("tok", "", pub), 400, "name: want 1 to 100 characters"},
		{"long name", enrolBody("tok", strings.Repeat("ü", 101), pub), 400, "have 101"},
		{"control in name", enrolBody("tok", "a\nb", pub), 400, "control characters"},
		{"unknown field", []byte(`{"token":"tok","name":"x","public_key":null,"serial":"1"}`), 400, `unknown field "serial"`},
		{"not json", []byte(`tok`), 400, "bad enrolment request"},
		{"too large", append([]byte(`{"token":"`), bytes.Repeat([]byte("a"), maxEnrolBytes)...), 413, "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newHandlerEnv(t, HandlerOptions{})
			e.gws.addToken("tok")
			code, eb, rec := e.serve(httptest.NewRequest(http.MethodPost, "/v1/enrol", bytes.NewReader(tt.body)))
			if code != tt.wantCode || !strings.Contains(eb.Error, tt.wantMsg) {
				t.Fatalf("got %d %q, want %d containing %q", code, eb.Error, tt.wantCode, tt.wantMsg)
			}
			if code != 200 {
				return
			}
			var got EnrolResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(EnrolResponse{GatewayID: "gw-1", OrgID: "org-1", SiteID: "site-1"}, got); diff != "" {
				t.Errorf("enrol (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEnrolStoreFailure(t *testing.T) {
	var logs bytes.Buffer
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	h := NewHandler(failingGateways{}, &fakePrinters{}, &fakePublisher{}, HandlerOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/enrol", bytes.NewReader(mustJSON(t, EnrolRequest{Token: "secret-token", Name: "cc", PublicKey: pub}))))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("got %d, want 503", rec.Code)
	}
	if !strings.Contains(logs.String(), "database locked") {
		t.Errorf("log %q does not name the cause", logs.String())
	}
	if strings.Contains(logs.String(), "secret-token") || strings.Contains(rec.Body.String(), "database locked") {
		t.Errorf("token logged or cause leaked: log %q body %q", logs.String(), rec.Body.String())
	}
}

// failingGateways is a register whose database is broken.
type failingGateways struct{}

var errDatabaseLocked = errors.New("database locked")

func (failingGateways) Enrol(context.Context, string, string, []byte, time.Time) (fleet.Gateway, error) {
	return fleet.Gateway{}, errDatabaseLocked
}

func (failingGateways) Gateway(context.Context, fleet.GatewayID) (fleet.Gateway, error) {
	return fleet.Gateway{}, errDatabaseLocked
}

func gatewayWithKey(id fleet.GatewayID, pub ed25519.PublicKey) fleet.Gateway {
	return fleet.Gateway{ID: id, OrgID: "org-1", SiteID: "site-1", Name: string(id), PublicKey: pub}
}

func TestRoutes(t *testing.T) {
	e := newHandlerEnv(t, HandlerOptions{})
	tests := []struct {
		method, path string
		wantCode     int
	}{
		{http.MethodGet, "/v1/batches", 405},
		{http.MethodPut, "/v1/enrol", 405},
		{http.MethodPost, "/v1/other", 404},
		{http.MethodGet, "/", 404},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			code, eb, rec := e.serve(httptest.NewRequest(tt.method, tt.path, nil))
			if code != tt.wantCode || eb.Error == "" || rec.Header().Get("Content-Type") != "application/json" {
				t.Errorf("got %d %q (%s), want %d with a JSON error", code, eb.Error, rec.Header().Get("Content-Type"), tt.wantCode)
			}
		})
	}
}

func TestHandlerOptionsDefaults(t *testing.T) {
	got := HandlerOptions{}.withDefaults()
	if got.MaxBodyBytes != 4<<20 || got.MaxMessageBytes != 8<<20 || got.MaxDecodedBytes != 8<<20 || got.MaxRecords != 10000 || got.Skew != 5*time.Minute || got.Clock == nil || got.Logger == nil ||
		got.RecordsPerSecond != 1000 || got.Burst != 20000 || got.BytesPerSecond != 1<<20 || got.ByteBurst != 16<<20 || got.MaxInFlight != 2 || got.MaxDecoding != 4*runtime.GOMAXPROCS(0) {
		t.Errorf("defaults = %+v", got)
	}
	set := HandlerOptions{MaxBodyBytes: 1, MaxMessageBytes: 5, MaxDecodedBytes: 2, MaxRecords: 3, Skew: time.Second, RecordsPerSecond: -1, Burst: 7,
		BytesPerSecond: -1, ByteBurst: 9, MaxInFlight: 4}.withDefaults()
	if set.MaxBodyBytes != 1 || set.MaxMessageBytes != 5 || set.MaxDecodedBytes != 2 || set.MaxRecords != 3 || set.Skew != time.Second || set.RecordsPerSecond != -1 || set.Burst != 7 ||
		set.BytesPerSecond != -1 || set.ByteBurst != 9 || set.MaxInFlight != 4 {
		t.Errorf("set options changed: %+v", set)
	}
	// The decompressed size is bounded by what the stream takes, never more.
	if got := (HandlerOptions{MaxMessageBytes: 1 << 20, MaxDecodedBytes: 32 << 20}).withDefaults().MaxDecodedBytes; got != 1<<20 {
		t.Errorf("MaxDecodedBytes above MaxMessageBytes gives %d, want %d", got, 1<<20)
	}
}

// leavingGateways is a register whose caller goes away during the call.
type leavingGateways struct {
	failingGateways
	leave context.CancelFunc
}

func (g leavingGateways) Enrol(context.Context, string, string, []byte, time.Time) (fleet.Gateway, error) {
	g.leave()
	return fleet.Gateway{}, errors.New("interrupted (9)")
}

// A gateway that gives up a request (its timeout, or its shutdown) is no
// failure of the cloud: Debug level, not an error (issue 13).
func TestClientGoneIsNoError(t *testing.T) {
	var logs bytes.Buffer
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	h := NewHandler(leavingGateways{leave: cancel}, &fakePrinters{}, &fakePublisher{},
		HandlerOptions{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/v1/enrol", bytes.NewReader(mustJSON(t, EnrolRequest{Token: "tok", Name: "cc", PublicKey: pub})))
	h.ServeHTTP(httptest.NewRecorder(), req)
	if strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), `level=DEBUG msg="request ended by the client"`) {
		t.Errorf("client gone: want a Debug line and no error; log:\n%s", logs.String())
	}
}

// TestBatchPrinterOfAnotherSite: a gateway cannot upload records of a
// printer that belongs to another site of its organisation. The batch is
// refused before it is published, naming the refused records and the
// reason, so the gateway sets aside exactly those.
func TestBatchPrinterOfAnotherSite(t *testing.T) {
	e := newHandlerEnv(t, HandlerOptions{})
	e.printers.place("org-1", "printer-0002", "site-2") // another site of gw-a's org
	e.printers.place("org-1", "printer-0003", "site-1") // gw-a's site
	e.printers.place("org-2", "printer-0001", "site-9") // another org's printer of the same ID
	rec := func(seq uint64, p fleet.PrinterID) fleet.Record {
		r := statusRecord(seq)
		r.PrinterID, r.Status.PrinterID = p, p
		return r
	}
	mixed := Batch{Records: []fleet.Record{rec(1, "printer-0001"), rec(2, "printer-0002"), rec(3, "printer-0003"), rec(4, "printer-0002")}}
	code, eb, _ := e.serve(signedRequest(e.cred, t0, "", mustJSON(t, mixed)))
	want := ErrorBody{
		Error:   "record 1 (seq 2): printer printer-0002 belongs to site site-2; an administrator can move it (2 records of printers of other sites refused in all)",
		Refused: []uint64{2, 4},
	}
	if code != http.StatusBadRequest {
		t.Errorf("code = %d, want 400", code)
	}
	if diff := cmp.Diff(want, eb); diff != "" {
		t.Errorf("answer (-want +got):\n%s", diff)
	}
	if got := e.pub.published(); len(got) != 0 {
		t.Fatalf("published %d messages, want none", len(got))
	}
	// The rest of the batch, sent again, is accepted.
	rest := Batch{Records: []fleet.Record{rec(1, "printer-0001"), rec(3, "printer-0003")}}
	code, eb, _ = e.serve(signedRequest(e.cred, t0, "", mustJSON(t, rest)))
	if code != http.StatusOK {
		t.Fatalf("rest: code = %d (%s), want 200", code, eb.Error)
	}
	if got := e.pub.published(); len(got) != 1 || len(got[0].env.Records) != 2 {
		t.Errorf("published %+v, want the two records", got)
	}
	// Once the printer is moved to the gateway's site, its records pass.
	e.printers.place("org-1", "printer-0002", "site-1")
	code, eb, _ = e.serve(signedRequest(e.cred, t0, "", mustJSON(t, Batch{Records: []fleet.Record{rec(2, "printer-0002")}})))
	if code != http.StatusOK {
		t.Errorf("after the move: code = %d (%s), want 200", code, eb.Error)
	}
	// A failing lookup is the cloud's trouble, not the batch's: 503.
	e.printers.err = errors.New("database down")
	code, _, _ = e.serve(signedRequest(e.cred, t0, "", mustJSON(t, Batch{Records: []fleet.Record{rec(5, "printer-0001")}})))
	if code != http.StatusServiceUnavailable {
		t.Errorf("lookup failing: code = %d, want 503", code)
	}
	if got := e.pub.published(); len(got) != 2 {
		t.Errorf("published %d messages, want 2", len(got))
	}
}

// A batch with records dated too far ahead (a printer's clock that jumped
// forward) names them in the refusal, so that the gateway sets aside only
// them and sends the rest again. Before, the refusal named none, and the
// gateway set aside the whole batch, every printer's records in it with
// the one clock's.
func TestBatchRefusesOnlyRecordsAhead(t *testing.T) {
	e := newHandlerEnv(t, HandlerOptions{})
	b := batchOf(1, 2, 3, 4)
	for _, i := range []int{1, 3} {
		at := t0.Add(7 * 24 * time.Hour)
		b.Records[i].Time, b.Records[i].Status.Time = at, at
	}
	code, eb, _ := e.serve(signedRequest(e.cred, t0, "", mustJSON(t, b)))
	if code != http.StatusBadRequest {
		t.Errorf("code = %d, want 400", code)
	}
	if diff := cmp.Diff([]uint64{2, 4}, eb.Refused); diff != "" {
		t.Errorf("refused (-want +got):\n%s", diff)
	}
	for _, want := range []string{"record 1 (seq 2): time", "168h0m0s ahead", "(2 records dated too far ahead in all)"} {
		if !strings.Contains(eb.Error, want) {
			t.Errorf("error %q lacks %q", eb.Error, want)
		}
	}
	if got := e.pub.published(); len(got) != 0 {
		t.Fatalf("published %d messages, want none", len(got))
	}
	rest := Batch{Records: []fleet.Record{b.Records[0], b.Records[2]}}
	if code, eb, _ := e.serve(signedRequest(e.cred, t0, "", mustJSON(t, rest))); code != http.StatusOK {
		t.Errorf("rest: code = %d (%s), want 200", code, eb.Error)
	}
}
