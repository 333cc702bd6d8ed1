package uplink

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// A compression bomb is refused with 413 once it decompresses beyond what
// the stream takes, having cost the cloud no more than that: the bytes
// decompressed are counted, of refused bodies too.
func TestBombRefusedAtTheStreamsLimit(t *testing.T) {
	const stream = 1 << 20 // the stream's largest message
	bomb := make([]byte, 4*stream)
	tests := []struct {
		name     string
		opts     HandlerOptions
		encoding string
		body     []byte
		limit    int64
		// exact: decompression stops one byte past the limit; otherwise
		// the frame declares a size or window beyond it and is refused
		// before a byte is decompressed.
		exact bool
	}{
		{"gzip", HandlerOptions{MaxMessageBytes: stream}, "gzip", gz(t, bomb), stream, true},
		{"zstd, size declared", HandlerOptions{MaxMessageBytes: stream}, "zstd", zst(t, bomb), stream, false},
		{"zstd, large window", HandlerOptions{MaxMessageBytes: stream}, "zstd", zstStream(t, bomb), stream, false},
		{"zstd, small window", HandlerOptions{MaxMessageBytes: stream}, "zstd", zstStream(t, bomb, zstd.WithWindowSize(stream/4)), stream, true},
		// A larger decoded limit does not lift the stream's.
		{"gzip, decoded limit above the stream's", HandlerOptions{MaxMessageBytes: stream, MaxDecodedBytes: 32 << 20}, "gzip", gz(t, bomb), stream, true},
		{"zstd, decoded limit above the stream's", HandlerOptions{MaxMessageBytes: stream, MaxDecodedBytes: 32 << 20}, "zstd", zstStream(t, bomb, zstd.WithWindowSize(stream/4)), stream, true},
		// The defaults: the embedded stream's 8 MiB.
		{"gzip, defaults", HandlerOptions{}, "gzip", gz(t, make([]byte, 16<<20)), 8 << 20, true},
		{"zstd, defaults", HandlerOptions{}, "zstd", zstStream(t, make([]byte, 16<<20), zstd.WithWindowSize(1<<20)), 8 << 20, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			decoded := &fakeCounter{}
			tt.opts.Metrics = Metrics{DecodedBytes: decoded}
			e := newHandlerEnv(t, tt.opts)
			code, eb, _ := e.serve(signedRequest(e.cred, t0, tt.encoding, tt.body))
			msg := fmt.Sprintf("decompressed body exceeds %d bytes, the most the cloud's stream takes: send smaller batches", tt.limit)
			if code != http.StatusRequestEntityTooLarge || eb.Error != msg {
				t.Errorf("got %d %q, want 413 %q", code, eb.Error, msg)
			}
			want := int64(0)
			if tt.exact {
				want = tt.limit + 1
			}
			if got := int64(decoded.value()); got != want {
				t.Errorf("decompressed %d bytes, want %d", got, want)
			}
			if n := len(e.pub.published()); n != 0 {
				t.Errorf("published %d messages for a refused batch", n)
			}
		})
	}
}

// holdingPublisher holds the first n publications of msgIDs with prefix
// until release is closed, telling held of each; the others pass at once.
type holdingPublisher struct {
	prefix  string
	held    chan struct{}
	release chan struct{}

	mu sync.Mutex
	n  int
}

func (p *holdingPublisher) Publish(ctx context.Context, msgID string, _ []byte) error {
	if !strings.HasPrefix(msgID, p.prefix) {
		return nil
	}
	p.mu.Lock()
	hold := p.n > 0
	p.n--
	p.mu.Unlock()
	if !hold {
		return nil
	}
	p.held <- struct{}{}
	select {
	case <-p.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Uploads of one gateway beyond MaxInFlight are answered 429 with
// Retry-After, which the client retries; another gateway is unaffected.
func TestInFlightPerGateway(t *testing.T) {
	e := newHandlerEnv(t, HandlerOptions{})
	other := newGateway(t, e.gws, "gw-b")
	pub := &holdingPublisher{prefix: "gw-a:", held: make(chan struct{}), release: make(chan struct{}), n: 2}
	h := NewHandler(e.gws, &fakePrinters{}, pub, HandlerOptions{Clock: e.clk, MaxInFlight: 2})
	body := func(seq uint64) []byte { return zst(t, mustJSON(t, batchOf(seq))) }
	upload := func(cred Credentials, body []byte) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, signedRequest(cred, t0, "zstd", body))
		return rec
	}

	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range 2 {
		b := body(uint64(i + 1))
		wg.Go(func() { codes[i] = upload(e.cred, b).Code })
	}
	<-pub.held
	<-pub.held // both uploads of gw-a are in progress

	rec := upload(e.cred, body(3))
	se := &StatusError{Code: rec.Code, RetryAfter: retryAfter(rec.Header().Get("Retry-After"), t0)}
	if se.Code != http.StatusTooManyRequests || !Retryable(se) || se.RetryAfter != time.Second || !strings.Contains(rec.Body.String(), "2 uploads in progress") {
		t.Errorf("third upload of gw-a: %d %q, Retry-After %q: want 429, retryable after 1s", rec.Code, rec.Body.String(), rec.Header().Get("Retry-After"))
	}
	if rec := upload(other, body(1)); rec.Code != http.StatusOK {
		t.Errorf("upload of gw-b: %d %q, want 200", rec.Code, rec.Body.String())
	}

	close(pub.release)
	wg.Wait()
	if got := fmt.Sprint(codes); got != "[200 200]" {
		t.Errorf("held uploads answered %s, want [200 200]", got)
	}
	if rec := upload(e.cred, body(3)); rec.Code != http.StatusOK {
		t.Errorf("gw-a once its uploads are done: %d %q, want 200", rec.Code, rec.Body.String())
	}
}

// The rate limit counts bytes as well as records: a gateway sending few
// records of great size is held to the byte rate, with 429 and
// Retry-After, before its body is decompressed once the budget is spent.
func TestRateLimitBytes(t *testing.T) {
	raw := mustJSON(t, batchOf(1, 2)) // 2 records, well within the record budget
	size := len(raw)
	e := newHandlerEnv(t, HandlerOptions{BytesPerSecond: float64(size), ByteBurst: 2*size + size/2})
	other := newGateway(t, e.gws, "gw-b")
	steps := []struct {
		name      string
		cred      Credentials
		advance   time.Duration
		wantCode  int
		wantRetry string
	}{
		{"burst, first", e.cred, 0, 200, ""},
		{"burst, second", e.cred, 0, 200, ""},
		{"half a batch left: wait half a second", e.cred, 0, 429, "1"},
		{"another gateway has its own budget", other, 0, 200, ""},
		{"refilled", e.cred, time.Second, 200, ""},
	}
	for _, st := range steps {
		e.clk.Advance(st.advance)
		code, eb, rec := e.serve(signedRequest(st.cred, e.clk.Now(), "", raw))
		if code != st.wantCode || rec.Header().Get("Retry-After") != st.wantRetry {
			t.Fatalf("%s: got %d %q Retry-After %q, want %d Retry-After %q", st.name, code, eb.Error, rec.Header().Get("Retry-After"), st.wantCode, st.wantRetry)
		}
		if code == http.StatusTooManyRequests && !strings.Contains(eb.Error, "rate limit") {
			t.Errorf("%s: error %q does not name the rate limit", st.name, eb.Error)
		}
	}
	// A batch refused for want of bytes takes no records either: here the
	// record budget holds exactly one more batch, and the byte budget one
	// byte less than it.
	e = newHandlerEnv(t, HandlerOptions{RecordsPerSecond: 1e-6, Burst: 4, BytesPerSecond: float64(size), ByteBurst: size})
	sendAt := func(d time.Duration) int {
		e.clk.Advance(d)
		code, _, _ := e.serve(signedRequest(e.cred, e.clk.Now(), "zstd", zst(t, raw)))
		return code
	}
	almost := time.Duration(float64(size-1) / float64(size) * float64(time.Second))
	if got := []int{sendAt(0), sendAt(almost), sendAt(time.Second)}; fmt.Sprint(got) != "[200 429 200]" {
		t.Errorf("answers %v, want [200 429 200]", got)
	}
}

// A refused body counts against the byte budget as an accepted one does:
// decompressing and decoding it cost the cloud as much. So a gateway
// sending bombs or junk is soon answered 429 before its bodies are
// decompressed. (The budget lets a body in when it holds the body's
// compressed size, so the third one goes into debt.)
func TestRateLimitBytesOfRefusedBodies(t *testing.T) {
	const size = 64 << 10
	junk := zst(t, bytes.Repeat([]byte(" "), size)) // not a batch, once decompressed
	tests := []struct {
		name string
		opts HandlerOptions
		body []byte
		want string
	}{
		{"junk", HandlerOptions{BytesPerSecond: size, ByteBurst: 2*size + size/2}, junk, "[400 400 400 429]"},
		{"bombs", HandlerOptions{MaxMessageBytes: size, BytesPerSecond: size, ByteBurst: 2*size + size/2},
			zstStream(t, make([]byte, 100*size), zstd.WithWindowSize(size)), "[413 413 413 429]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newHandlerEnv(t, tt.opts)
			var got []int
			for range 4 {
				code, _, _ := e.serve(signedRequest(e.cred, t0, "zstd", tt.body))
				got = append(got, code)
			}
			if fmt.Sprint(got) != tt.want {
				t.Errorf("answers %v, want %s", got, tt.want)
			}
		})
	}
}

// All gateways together: beyond MaxDecoding uploads decompressed and
// decoded at once, a further one waits a moment for a turn and is then
// answered 429 with Retry-After; once a turn is free it goes through.
func TestDecodingBoundedAcrossGateways(t *testing.T) {
	e := newHandlerEnv(t, HandlerOptions{})
	b := newGateway(t, e.gws, "gw-b")
	c := newGateway(t, e.gws, "gw-c")
	pub := &holdingPublisher{prefix: "gw-", held: make(chan struct{}), release: make(chan struct{}), n: 2}
	h := NewHandler(e.gws, &fakePrinters{}, pub, HandlerOptions{Clock: e.clk, MaxDecoding: 2})
	body := zst(t, mustJSON(t, batchOf(1)))
	upload := func(cred Credentials) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, signedRequest(cred, t0, "zstd", body))
		return rec
	}
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i, cred := range []Credentials{e.cred, b} {
		wg.Go(func() { codes[i] = upload(cred).Code })
	}
	<-pub.held
	<-pub.held // two gateways hold both turns

	rec := upload(c)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" || !strings.Contains(rec.Body.String(), "decoding 2 uploads") {
		t.Errorf("third gateway while both turns are held: %d %q, Retry-After %q; want 429 naming the limit, Retry-After 1",
			rec.Code, rec.Body.String(), rec.Header().Get("Retry-After"))
	}
	close(pub.release)
	wg.Wait()
	if got := fmt.Sprint(codes); got != "[200 200]" {
		t.Errorf("held uploads answered %s, want [200 200]", got)
	}
	if rec := upload(c); rec.Code != http.StatusOK {
		t.Errorf("third gateway once the turns are free: %d %q, want 200", rec.Code, rec.Body.String())
	}
}
