package commandcenter

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
)

// bodyTransport answers every request with 200 and a body of n bytes.
type bodyTransport struct{ n int }

func (t bodyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(bytes.NewReader(make([]byte, t.n))), Request: req}, nil
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
// bytes it read, and waits for them when the budget is spent.
func TestBudgetTransportWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewBudget(1000, 8192, nil)
		c := &http.Client{Transport: b.Transport(bodyTransport{n: 10000})}
		start := time.Now()
		fetch(t, c)
		if got := time.Since(start); got != 0 {
			t.Errorf("first fetch waited %v, want 0 (a full bucket)", got)
		}
		// 8192 - 7168 - 10000 tokens left; the next fetch needs 7168.
		fetch(t, c)
		if got, want := time.Since(start), 16144*time.Millisecond; got < want || got > want+10*time.Millisecond {
			t.Errorf("second fetch after %v, want %v", got, want)
		}
	})
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
			st, _ := openStore(t)
			appendN(t, st, 5)
			clk := clock.NewManual(t0)
			budget := NewBudget(1000, 0, clk)
			cloud := &fakeCloud{}
			u := NewUploader(st, cloud, UploaderOptions{Clock: clk, Budget: budget})
			clk.Advance(time.Minute) // the records are due
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
	}
}
