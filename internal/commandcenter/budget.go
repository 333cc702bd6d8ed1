package commandcenter

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
)

// Budget is the uplink's bandwidth cap: a token bucket of bytes of TCP
// payload, both ways, TLS handshakes included. The uploader and the update
// mirror draw on one Budget, so that together they stay within the cap.
// Safe for concurrent use.
type Budget struct {
	clock clock.Clock
	mu    sync.Mutex
	b     tokenBucket
}

// NewBudget returns a cap of rateBytes per second with a bucket of
// burstBytes, on clk: rateBytes 0 → DefaultRateBytes, < 0 → no cap;
// burstBytes 0 → 64 KiB; clk nil → the real clock.
func NewBudget(rateBytes float64, burstBytes int, clk clock.Clock) *Budget {
	if rateBytes == 0 {
		rateBytes = DefaultRateBytes
	}
	if burstBytes <= 0 {
		burstBytes = 64 << 10
	}
	if clk == nil {
		clk = clock.Real{}
	}
	return &Budget{clock: clk, b: tokenBucket{rate: rateBytes, burst: float64(burstBytes)}}
}

func (b *Budget) burst() int { return int(b.b.burst) }

func (b *Budget) refill(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b.refill(now)
}

func (b *Budget) has(n float64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.has(n)
}

func (b *Budget) take(n float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b.take(n)
}

func (b *Budget) until(n float64, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.until(n, now)
}

// wait blocks until the bucket holds n tokens or ctx ends. It sleeps on
// real timers and reads the budget's clock after each: a manual clock must
// be advanced by its test, or the budget built on clock.Real under
// testing/synctest, else wait never returns.
func (b *Budget) wait(ctx context.Context, n float64) error {
	for {
		now := b.clock.Now()
		b.mu.Lock()
		b.b.refill(now)
		d := b.b.until(n, now)
		b.mu.Unlock()
		if d <= 0 {
			return nil
		}
		t := time.NewTimer(clock.Wall(b.clock, d))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Transport returns rt metered by the budget: a request waits until the
// bucket holds a connection's worth (a full TLS handshake), then takes it
// with the request's body; the answer's body is paced (see meteredBody),
// connOverheadFull allowing for the headers and TLS records. Each request
// is assumed to open its own connection, as the uplink's transport does.
func (b *Budget) Transport(rt http.RoundTripper) http.RoundTripper {
	return &meteredTransport{budget: b, rt: rt}
}

type meteredTransport struct {
	budget *Budget
	rt     http.RoundTripper
}

func (t *meteredTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.budget.wait(req.Context(), connOverheadFull); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	out := connOverheadFull + max(req.ContentLength, 0)
	t.budget.take(float64(out))
	resp, err := t.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	left := resp.ContentLength
	if left <= 0 {
		left = -1 // unknown, or a fake answer that did not say
	}
	resp.Body = &meteredBody{ReadCloser: resp.Body, budget: t.budget, ctx: req.Context(), left: left}
	return resp, nil
}

// meteredBody paces an answer's body to the budget while it is read: each
// Read first waits until the bucket holds the bytes it asks for, at most a
// quarter of the bucket at a time, then takes what it read. A download of
// many times the bucket (a firmware image for the update mirror) thus runs
// at the cap for its whole length, instead of at the link's speed with a
// debt left for the next request to pay; while the reader waits, TCP's
// receive window holds the sender back too. Concurrent bodies may each take a chunk
// on the same tokens, so the bucket goes at most a chunk per reader into
// debt. A body of known length waits for no more than its length: the
// read that meets its end is not held back.
type meteredBody struct {
	io.ReadCloser
	budget *Budget
	// ctx is the request's: it ends the waits of a body whose request was
	// cancelled, as it ends the body's reads on the connection.
	ctx context.Context
	// left is what the Content-Length announced and is still to come:
	// 0 once all of it is read, -1 when unknown.
	left int64
}

func (m *meteredBody) Read(p []byte) (int, error) {
	if len(p) == 0 || m.budget.b.rate < 0 {
		return m.count(m.ReadCloser.Read(p))
	}
	chunk := min(len(p), max(m.budget.burst()/4, 1))
	if m.left > 0 {
		chunk = int(min(int64(chunk), m.left))
	}
	// The read that meets the end of a body of known length does not wait
	// (a body longer than announced is paced again from the next read).
	if m.left != 0 {
		if err := m.budget.wait(m.ctx, float64(chunk)); err != nil {
			return 0, err
		}
	}
	return m.count(m.ReadCloser.Read(p[:chunk]))
}

// count takes the n bytes read from the budget and from what is left.
func (m *meteredBody) count(n int, err error) (int, error) {
	if n > 0 {
		m.budget.take(float64(n))
		if m.left >= 0 {
			m.left = max(m.left-int64(n), -1)
		}
	}
	return n, err
}
