package commandcenter

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
)

// bodyTransport answers every request with 200 and a body of n bytes,
// announcing its length unless unknownLength.
type bodyTransport struct {
	n             int
	unknownLength bool
}

func (t bodyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp := &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(bytes.NewReader(make([]byte, t.n))), ContentLength: int64(t.n), Request: req}
	if t.unknownLength {
		resp.ContentLength = -1
	}
	return resp, nil
}

func fetch(t *testing.T, c *http.Client) {
	t.Helper()
	resp, err := c.Get("https://cloud.example/tuf/timestamp.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatal(err)
	}
}

// A fetch through the budget's transport takes a full handshake and the
// bytes it reads, and is paced to the rate while it reads: a fetch larger
// than the bucket takes exactly as long as the rate requires for what the
// bucket does not hold. A body of unknown length waits for one more chunk
// (a quarter of the bucket) to read its end.
func TestBudgetTransportWaits(t *testing.T) {
	tests := []struct {
		name          string
		unknownLength bool
		first         time.Duration
	}{
		// 7168 + 10000 bytes, 8192 in the bucket: 8976 at 1000 B/s.
		{"known length", false, 8976 * time.Millisecond},
		// Chunks of 2048: the last one (1808 bytes) leaves 240 tokens, and
		// the read of the end waits until the bucket holds 2048 again.
		{"unknown length", true, (8976 + 2048) * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := NewBudget(1000, 8192, nil)
				c := &http.Client{Transport: b.Transport(bodyTransport{n: 10000, unknownLength: tt.unknownLength})}
				start := time.Now()
				fetch(t, c)
				if got := time.Since(start); got != tt.first {
					t.Errorf("first fetch took %v, want %v", got, tt.first)
				}
				// The next fetch waits for a handshake (7168) and is paced
				// for its 10000 bytes: 17168 at 1000 B/s. Of unknown length,
				// it starts with the chunk the first waited for at its end
				// and waits for one again at its own.
				start = time.Now()
				fetch(t, c)
				if got, want := time.Since(start), 17168*time.Millisecond; got != want {
					t.Errorf("second fetch took %v, want %v", got, want)
				}
			})
		})
	}
}

// tokens returns what the bucket holds now.
func (b *Budget) tokens() float64 {
	b.refill(b.clock.Now())
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.tokens
}

// A download of many buckets runs at the cap for its whole length (issue
// 19): 1 MB at 100 kB/s takes the time the rate requires for what the
// 64 KiB bucket did not hold, and its reads never take the bucket into
// debt.
func TestBudgetPacesADownload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const size, rate = 1_000_000, 100_000
		b := NewBudget(rate, 0, nil)
		c := &http.Client{Transport: b.Transport(bodyTransport{n: size})}
		start := time.Now()
		resp, err := c.Get("https://cloud.example/firmware.bin")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got int
		low := b.tokens()
		buf := make([]byte, 256<<10)
		for {
			n, err := resp.Body.Read(buf)
			if n > b.burst()/4 {
				t.Fatalf("read %d bytes at once, want at most a quarter of the bucket (%d)", n, b.burst()/4)
			}
			got += n
			low = min(low, b.tokens())
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if got != size {
			t.Errorf("read %d bytes, want %d", got, size)
		}
		want := time.Duration(float64(connOverheadFull+size-64<<10) / rate * float64(time.Second))
		if d := time.Since(start); d != want {
			t.Errorf("1 MB at 100 kB/s took %v, want %v", d, want)
		}
		if low < 0 {
			t.Errorf("the bucket went down to %.0f tokens, want never in debt", low)
		}
	})
}

// A paced read ends with the error of the request's context when it ends
// while the read waits for the budget.
func TestBudgetPacedReadEndsWithItsContext(t *testing.T) {
	tests := []struct {
		name string
		ctx  func(context.Context) (context.Context, context.CancelFunc)
		stop bool // cancel the context while the read waits
		want error
	}{
		{"cancelled", context.WithCancel, true, context.Canceled},
		{"deadline", func(ctx context.Context) (context.Context, context.CancelFunc) {
			return context.WithTimeout(ctx, time.Second)
		}, false, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := NewBudget(1000, 8192, nil)
				ctx, cancel := tt.ctx(t.Context())
				defer cancel()
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://cloud.example/firmware.bin", nil)
				if err != nil {
					t.Fatal(err)
				}
				resp, err := (&http.Client{Transport: b.Transport(bodyTransport{n: 100_000})}).Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if tt.stop {
					time.AfterFunc(time.Second, cancel)
				}
				// The bucket holds 1024 after the handshake; the 2048 asked
				// for are there after 1.024 s, the next 2048 after 3.072 s.
				start := time.Now()
				var read int
				buf := make([]byte, 2048)
				for {
					n, err := resp.Body.Read(buf)
					read += n
					if err != nil {
						if !errors.Is(err, tt.want) {
							t.Errorf("read ended with %v, want %v", err, tt.want)
						}
						break
					}
				}
				if got := time.Since(start); got != time.Second {
					t.Errorf("read ended after %v, want 1s (when the context ended)", got)
				}
				if read != 0 {
					t.Errorf("read %d bytes before the context ended, want 0", read)
				}
			})
		})
	}
}

// The uploader and the update mirror share one bandwidth cap: after a
// large fetch, the uploader waits for the cap instead of uploading.
func TestUploaderSharesBudgetWithFetches(t *testing.T) {
	tests := []struct {
		name        string
		fetch       int // bytes fetched before the step; 0: none
		wantUploads int
	}{
		{"no fetch", 0, 1},
		{"a 100 KB fetch", 100_000, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The fetch is paced on the budget's clock: the bubble's.
			synctest.Test(t, func(t *testing.T) {
				st, _ := openStore(t)
				appendN(t, st, 5)
				budget := NewBudget(1000, 0, clock.Real{})
				cloud := &fakeCloud{}
				u := NewUploader(st, cloud, UploaderOptions{Clock: clock.Real{}, Budget: budget})
				time.Sleep(time.Until(t0.Add(time.Minute))) // the records (of t0) are due
				if tt.fetch > 0 {
					fetch(t, &http.Client{Transport: budget.Transport(bodyTransport{n: tt.fetch})})
				}
				wait, err := u.Step(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				if _, _, got := cloud.snapshot(); got != tt.wantUploads {
					t.Errorf("%d uploads, want %d", got, tt.wantUploads)
				}
				if tt.wantUploads == 0 && wait <= 0 {
					t.Errorf("Step waits %v, want the time the cap needs", wait)
				}
			})
		})
	}
}
