package uplink

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// discardPublisher takes every message and keeps nothing.
type discardPublisher struct{}

func (discardPublisher) Publish(context.Context, string, []byte) error { return nil }

// BenchmarkHandlerBatch is the handler's CPU for one zstd batch of 500
// typical records: authenticate, decompress, decode, validate, build the
// envelope and answer (the stream's part is left out).
func BenchmarkHandlerBatch(b *testing.B) {
	e := newHandlerEnv(b, HandlerOptions{})
	h := NewHandler(e.gws, &fakePrinters{}, discardPublisher{}, HandlerOptions{Clock: e.clk, RecordsPerSecond: -1, BytesPerSecond: -1})
	body := zst(b, mustJSON(b, typicalBatch(500)))
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, signedRequest(e.cred, t0, "zstd", body))
		if rec.Code != http.StatusOK {
			b.Fatalf("got %d: %s", rec.Code, rec.Body.Bytes())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1000/float64(b.N*500), "µs/record")
}
