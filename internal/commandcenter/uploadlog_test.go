package commandcenter

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/outbox/outboxtest"
)

func layerRec(pid fleet.PrinterID, i int, at time.Time) fleet.Record {
	return outboxtest.Layer(pid, i, at)
}

func statusRec(pid fleet.PrinterID, at time.Time) fleet.Record { return outboxtest.Status(pid, at) }

func eventRec(pid fleet.PrinterID, sev fleet.Severity, at time.Time) fleet.Record {
	return outboxtest.Event(pid, sev, at)
}

func TestUploadLogLimitsAndClosedStore(t *testing.T) {
	st, _ := openStore(t)
	ctx := context.Background()
	if _, err := st.Uploads(ctx, 0); err == nil {
		t.Error("Uploads(0) succeeded")
	}
	st.Close()
	if _, err := st.Bandwidth(ctx, t0); err == nil {
		t.Error("Bandwidth on a closed store succeeded")
	}
	if _, err := st.Upload(ctx, 1); err == nil {
		t.Error("Upload on a closed store succeeded")
	}
}

func FuzzDecodePayload(f *testing.F) {
	enc := newTestEncoder(f)
	f.Add(enc([]byte(`{"records":[{"seq":1,"kind":"gap","printer_id":"printer-0001","time":"2025-03-01T12:00:00Z","gap":{"feed":"events"}}]}`)))
	f.Add(enc([]byte(`{"records":`)))
	f.Add([]byte("not zstd"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		raw, batch, err := decodePayload(b)
		if err != nil {
			if !strings.Contains(err.Error(), "corrupt") {
				t.Errorf("error %q does not say the payload is corrupt", err)
			}
			return
		}
		// What decodes re-encodes to JSON that decodes the same.
		again, err := json.Marshal(batch)
		if err != nil {
			t.Fatalf("re-encode: %v (from %q)", err, raw)
		}
		var round struct{ Records []fleet.Record }
		if err := json.Unmarshal(again, &round); err != nil || len(round.Records) != len(batch.Records) {
			t.Fatalf("round trip: %v, %d records, want %d", err, len(round.Records), len(batch.Records))
		}
	})
}
