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

// wait blocks until the bucket holds n tokens or ctx ends.
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
		t := time.NewTimer(d)
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
// with the request's body; the answer's body takes its bytes as they are
// read (connOverheadFull allows for the headers and TLS records). Each
// request is assumed to open its own connection, as the uplink's
// transport does.
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
	resp.Body = &meteredBody{ReadCloser: resp.Body, budget: t.budget}
	return resp, nil
}

// meteredBody takes the bytes read from an answer's body from the budget.
type meteredBody struct {
	io.ReadCloser
	budget *Budget
}

func (m *meteredBody) Read(p []byte) (int, error) {
	n, err := m.ReadCloser.Read(p)
	if n > 0 {
		m.budget.take(float64(n))
	}
	return n, err
}
