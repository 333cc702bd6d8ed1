package commandcenter

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

func layerRec(pid fleet.PrinterID, i int, at time.Time) fleet.Record {
	return fleet.Record{Kind: fleet.KindLayer, PrinterID: pid, Time: at, Layer: &fleet.Layer{
		Seq: uint64(i), JobID: "j-7f3a9c1e2b4d6f80", Index: i, SizeMM2: 48213.75, DurationSec: 8.9,
		Start: at.Add(-9 * time.Second), End: at}}
}

func statusRec(pid fleet.PrinterID, at time.Time) fleet.Record {
	return fleet.Record{Kind: fleet.KindStatus, PrinterID: pid, Time: at, Status: &fleet.Status{
		PrinterID: pid, State: fleet.StatePrinting, Activity: "printing layer 812 of 4750",
		JobID: "j-7f3a9c1e2b4d6f80", Progress: 0.17, ETCSeconds: 40210, PendingJobs: 2, Time: at}}
}

func eventRec(pid fleet.PrinterID, sev fleet.Severity, at time.Time) fleet.Record {
	return fleet.Record{Kind: fleet.KindEvent, PrinterID: pid, Time: at, Event: &fleet.Event{
		Seq: 1, Code: "PH_TEMP_HIGH", Description: "printhead temperature above limit", Severity: sev,
		Time: at, Firmware: "5.8.1", Subsystem: "printheads", Details: "slot 3: 61.2 C"}}
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
