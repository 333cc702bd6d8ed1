package uplink

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzBatchDecode feeds arbitrary, correctly signed bodies (plain, or as
// gzip or zstd streams) to the batch handler. It must never panic, answer
// only 200, 400 or 413 with a clear error, and
// publish exactly when it answers 200 — and then only valid records in
// rising Seq order.
func FuzzBatchDecode(f *testing.F) {
	good := mustJSON(f, batchOf(1, 2, 5))
	gap := []byte(`{"records":[{"seq":3,"kind":"gap","printer_id":"printer-0001","time":"2025-03-01T12:00:00Z","gap":{"feed":"events","reason":"restart"}}]}`)
	seeds := [][]byte{
		good, gap,
		[]byte(`{"records":[]}`),
		[]byte(`{"records":null}`),
		[]byte(`{"records":[{"seq":1}]}`),
		[]byte(`{"records":[{"seq":1,"kind":"status","printer_id":"printer-0001","time":"2025-03-01T12:00:00Z","status":{"state":"bogus"}}]}`),
		[]byte(`{"records":[],"job_name":"x"}`),
		[]byte(`[]`), []byte(`null`), []byte(``), []byte(`{"records":[{}]}{}`),
	}
	for _, s := range seeds {
		f.Add(s, uint8(0))
		f.Add(gz(f, s), uint8(1))
		f.Add(zst(f, s), uint8(2))
		f.Add(zstStream(f, s), uint8(2))
	}
	f.Add(zst(f, make([]byte, 2<<20)), uint8(2)) // a bomb
	f.Add(gz(f, make([]byte, 2<<20)), uint8(1))
	e := newHandlerEnv(f, HandlerOptions{MaxRecords: 50, MaxDecodedBytes: 1 << 20})
	f.Fuzz(func(t *testing.T, body []byte, compression uint8) {
		pub := &fakePublisher{}
		h := NewHandler(e.gws, &fakePrinters{}, pub, HandlerOptions{Clock: e.clk, MaxRecords: 50, MaxDecodedBytes: 1 << 20, RecordsPerSecond: -1})
		// The body is what goes on the wire: arbitrary compressed streams too.
		encoding := []string{"", "gzip", "zstd"}[compression%3]
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, signedRequest(e.cred, t0, encoding, body))
		msgs := pub.published()
		switch rec.Code {
		case http.StatusOK:
			if len(msgs) != 1 {
				t.Fatalf("200 with %d messages published", len(msgs))
			}
			recs := msgs[0].env.Records
			if len(recs) == 0 {
				t.Fatal("published an empty batch")
			}
			for i, r := range recs {
				if err := r.Validate(); err != nil {
					t.Fatalf("published invalid record %d: %v", i, err)
				}
				if i > 0 && r.Seq <= recs[i-1].Seq {
					t.Fatalf("published seq %d after %d", r.Seq, recs[i-1].Seq)
				}
			}
			var ack Ack
			if err := json.Unmarshal(rec.Body.Bytes(), &ack); err != nil || ack.Through != recs[len(recs)-1].Seq {
				t.Fatalf("ack %s (%v), want through %d", rec.Body.Bytes(), err, recs[len(recs)-1].Seq)
			}
			if want := fmt.Sprintf("gw-a:%d-%d", recs[0].Seq, recs[len(recs)-1].Seq); msgs[0].msgID != want {
				t.Fatalf("msgID %q, want %q", msgs[0].msgID, want)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if len(msgs) != 0 {
				t.Fatalf("%d with %d messages published", rec.Code, len(msgs))
			}
			var eb ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Error == "" {
				t.Fatalf("%d without a clear error: %q", rec.Code, rec.Body.Bytes())
			}
		default:
			t.Fatalf("unexpected status %d: %s", rec.Code, rec.Body.Bytes())
		}
	})
}
