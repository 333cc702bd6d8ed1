package uplink

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
)

// sameRecords compares decoded records exactly: times by instant and by
// location, which cmp's use of Time.Equal alone would not.
var sameRecords = cmp.Comparer(func(a, b time.Time) bool {
	return a.Equal(b) && a.Location() == b.Location() && a.String() == b.String()
})

// strictRecords decodes raw the way the handler's strict path does.
func strictRecords(raw []byte) ([]fleet.Record, error) {
	var b Batch
	err := decodeStrict(bytes.NewReader(raw), &b)
	return b.Records, err
}

// layerRecord is a layer record as the gateways send them.
func layerRecord(seq uint64, at time.Time) fleet.Record {
	return fleet.Record{Seq: seq, Kind: fleet.KindLayer, PrinterID: "printer-0001", Time: at, Layer: &fleet.Layer{
		Seq: seq, JobID: "j7Qx2", Index: int(seq), SizeMM2: 41234.5, DurationSec: 8.7, Start: at, End: at.Add(8700 * time.Millisecond)}}
}

// fastBatches are batches in json.Marshal's form that decodeFast must take.
func fastBatches() map[string]Batch {
	odd := time.Date(2024, 2, 29, 23, 59, 59, 120000000, time.UTC) // a fraction with trailing zeros trimmed
	withJob := statusRecord(7)
	withJob.Status.JobID = "j7Qx2"
	withJob.Status.ETCSeconds, withJob.Status.PendingJobs = -3, math.MaxInt
	extreme := layerRecord(math.MaxUint64, time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC))
	extreme.Layer.Index = math.MinInt
	extreme.Layer.SizeMM2, extreme.Layer.DurationSec = 1e21, -1e-7
	extreme.Layer.Start, extreme.Layer.End = time.Time{}, extreme.Time
	zero := layerRecord(0, time.Time{})
	zero.PrinterID, zero.Layer.JobID = "", ""
	zero.Layer.SizeMM2 = math.Copysign(0, -1)
	unicode := statusRecord(9)
	unicode.Status.Activity = "Schicht 812 von 4750 – kühlt ab, 🔥"
	event := fleet.Record{Seq: 11, Kind: fleet.KindEvent, PrinterID: "printer-0001", Time: t0, Event: &fleet.Event{
		Seq: 3, Code: "E-1", Description: "Lampe ausgefallen", Severity: fleet.SeverityCritical, Time: odd, Details: "x{y}z"}}
	other := layerRecord(4, time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC))
	other.PrinterID = "printer-0002" // differs from its layer's printer: only Validate cares
	return map[string]Batch{
		"typical":      typicalBatch(120),
		"event":        {Records: []fleet.Record{event}},
		"one layer":    {Records: []fleet.Record{layerRecord(1, t0)}},
		"one status":   batchOf(1),
		"nanoseconds":  {Records: []fleet.Record{layerRecord(2, odd), layerRecord(3, odd.Add(time.Nanosecond))}},
		"job id":       {Records: []fleet.Record{withJob}},
		"extremes":     {Records: []fleet.Record{extreme}},
		"zero values":  {Records: []fleet.Record{zero}},
		"unicode":      {Records: []fleet.Record{unicode}},
		"mixed":        {Records: []fleet.Record{other, statusRecord(5), layerRecord(6, t0), statusRecord(2)}},
		"out of order": {Records: []fleet.Record{layerRecord(9, t0), layerRecord(9, t0)}},
	}
}

func TestDecodeFastCanonical(t *testing.T) {
	for name, b := range fastBatches() {
		t.Run(name, func(t *testing.T) {
			raw := mustJSON(t, b)
			want, err := strictRecords(raw)
			if err != nil {
				t.Fatalf("strict decoding refuses %s: %v", raw, err)
			}
			got, ok := decodeFast(raw)
			if !ok {
				t.Fatalf("decodeFast does not take %s", raw)
			}
			if diff := cmp.Diff(want, got, sameRecords); diff != "" {
				t.Errorf("decodeFast differs from strict decoding (-strict +fast):\n%s", diff)
			}
		})
	}
}

// TestDecodeFastLeavesToStrict lists input that decodeFast must not take,
// whether the strict decoder accepts it or not.
func TestDecodeFastLeavesToStrict(t *testing.T) {
	layer := string(mustJSON(t, layerRecord(1, t0)))
	status := string(mustJSON(t, statusRecord(2)))
	event := string(mustJSON(t, typicalBatch(26).Records[25]))
	gap := `{"seq":3,"kind":"gap","printer_id":"printer-0001","time":"2025-03-01T12:00:00Z","gap":{"feed":"events","reason":"restart"}}`
	batch := func(recs ...string) []byte {
		s := `{"records":[`
		for i, r := range recs {
			if i > 0 {
				s += ","
			}
			s += r
		}
		return []byte(s + `]}`)
	}
	// edit replaces the first old in s by new.
	edit := func(s, old, new string) string {
		i := bytes.Index([]byte(s), []byte(old))
		if i < 0 {
			t.Fatalf("%q not in %s", old, s)
		}
		return s[:i] + new + s[i+len(old):]
	}
	for _, tc := range []struct {
		name string
		raw  []byte
	}{
		{"empty", []byte(``)},
		{"no records", batch()},
		{"null records", []byte(`{"records":null}`)},
		{"other kind", batch(layer, gap)},
		{"whitespace", []byte(`{"records": [` + layer + `]}`)},
		{"trailing newline", append(batch(layer), '\n')},
		{"trailing value", append(batch(layer), `{}`...)},
		{"unknown key", batch(edit(layer, `"index":1,`, `"index":1,"job_name":"x",`))},
		{"unknown top-level key", []byte(`{"records":[` + layer + `],"x":1}`)},
		{"duplicate key", batch(edit(layer, `"index":1,`, `"index":1,"index":2,`))},
		{"keys reordered", batch(edit(layer, `"seq":1,"kind":"layer"`, `"kind":"layer","seq":1`))},
		{"upper-case key", batch(edit(layer, `"index"`, `"Index"`))},
		{"missing key", batch(edit(layer, `"index":1,`, ``))},
		{"null payload", batch(edit(layer, `"layer":{`, `"layer":null,"x":{`))},
		{"kind and payload differ", batch(edit(layer, `"kind":"layer"`, `"kind":"status"`))},
		{"escaped string", batch(edit(layer, `"j7Qx2"`, `"j7\u0051x2"`))},
		{"escaped quote", batch(edit(status, `"printing layer 3"`, `"printing \"3\""`))},
		{"control character", batch(edit(status, `"printing layer 3"`, "\"printing\tlayer 3\""))},
		{"invalid UTF-8", batch(edit(status, `"printing layer 3"`, "\"printing \xff\""))},
		{"time with offset", batch(edit(layer, `"time":"2025-03-01T12:00:00Z"`, `"time":"2025-03-01T13:00:00+01:00"`))},
		{"time lower-case z", batch(edit(layer, `"time":"2025-03-01T12:00:00Z"`, `"time":"2025-03-01T12:00:00z"`))},
		{"time ten fraction digits", batch(edit(layer, `"time":"2025-03-01T12:00:00Z"`, `"time":"2025-03-01T12:00:00.0000000001Z"`))},
		{"time empty fraction", batch(edit(layer, `"time":"2025-03-01T12:00:00Z"`, `"time":"2025-03-01T12:00:00.Z"`))},
		{"time February 30", batch(edit(layer, `"time":"2025-03-01T12:00:00Z"`, `"time":"2025-02-30T12:00:00Z"`))},
		{"time leap second", batch(edit(layer, `"time":"2025-03-01T12:00:00Z"`, `"time":"2025-03-01T12:00:60Z"`))},
		{"time null", batch(edit(layer, `"time":"2025-03-01T12:00:00Z"`, `"time":null`))},
		{"seq negative", batch(edit(layer, `"seq":1,"kind"`, `"seq":-1,"kind"`))},
		{"seq leading zero", batch(edit(layer, `"seq":1,"kind"`, `"seq":01,"kind"`))},
		{"seq overflow", batch(edit(layer, `"seq":1,"kind"`, `"seq":18446744073709551616,"kind"`))},
		{"seq as float", batch(edit(layer, `"seq":1,"kind"`, `"seq":1.0,"kind"`))},
		{"seq as string", batch(edit(layer, `"seq":1,"kind"`, `"seq":"1","kind"`))},
		{"index overflow", batch(edit(layer, `"index":1,`, `"index":9223372036854775808,`))},
		{"float out of range", batch(edit(layer, `"size_mm2":41234.5`, `"size_mm2":1e999`))},
		{"float hexadecimal", batch(edit(layer, `"size_mm2":41234.5`, `"size_mm2":0x1p3`))},
		{"float leading dot", batch(edit(layer, `"size_mm2":41234.5`, `"size_mm2":.5`))},
		{"float plus sign", batch(edit(layer, `"size_mm2":41234.5`, `"size_mm2":+5`))},
		{"float infinity", batch(edit(layer, `"size_mm2":41234.5`, `"size_mm2":Inf`))},
		{"unknown severity", batch(edit(event, `"warning"`, `"unknown"`))},
		{"event without details", batch(edit(event, `,"details":""`, ``))},
		{"unknown state", batch(edit(status, `"printing"`, `"unknown"`))},
		{"state upper case", batch(edit(status, `"printing"`, `"PRINTING"`))},
		{"truncated", batch(layer)[:len(layer)]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, ok := decodeFast(tc.raw); ok {
				t.Errorf("decodeFast takes %s as %+v, want it left to the strict decoder", tc.raw, got)
			}
		})
	}
}

// FuzzFastDecode checks decodeFast against the strict decoder: on
// arbitrary bytes, and on batches in json.Marshal's form with one byte
// replaced, inserted or deleted. Whatever decodeFast takes, the strict
// decoder must accept into identical records; decodeFast must never take
// what the strict decoder refuses.
func FuzzFastDecode(f *testing.F) {
	var canonical [][]byte
	for _, b := range fastBatches() {
		canonical = append(canonical, mustJSON(f, b))
	}
	for i, raw := range canonical {
		f.Add(raw, uint8(i), uint32(0), byte(0))
	}
	f.Add(mustJSON(f, typicalBatch(60)), uint8(0), uint32(7), byte('"'))
	f.Add([]byte(`{"records":[{"seq":1,"kind":"layer","printer_id":"p","time":"2025-03-01T12:00:00Z","layer":null}]}`), uint8(1), uint32(90), byte('1'))
	check := func(t *testing.T, raw []byte) {
		t.Helper()
		got, ok := decodeFast(raw)
		if !ok {
			return
		}
		want, err := strictRecords(raw)
		if err != nil {
			t.Fatalf("decodeFast takes what strict decoding refuses (%v): %q", err, raw)
		}
		if diff := cmp.Diff(want, got, sameRecords); diff != "" {
			t.Fatalf("decodeFast differs from strict decoding of %q (-strict +fast):\n%s", raw, diff)
		}
		// What it takes, the envelope splices without scanning again:
		// canonicalRecords must agree.
		if arr, ok := canonicalRecords(raw, len(got)); !ok || !bytes.Equal(arr, recordsArray(raw)) {
			t.Fatalf("decodeFast takes %q, which canonicalRecords does not splice as-is (ok %v)", raw, ok)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte, op uint8, pos uint32, c byte) {
		check(t, raw)
		base := canonical[int(op)%len(canonical)]
		at := int(pos % uint32(len(base)))
		mutated := make([]byte, 0, len(base)+1)
		switch op / 64 % 3 {
		case 0: // replace
			mutated = append(append(append(mutated, base[:at]...), c), base[at+1:]...)
		case 1: // insert
			mutated = append(append(append(mutated, base[:at]...), c), base[at:]...)
		default: // delete
			mutated = append(append(mutated, base[:at]...), base[at+1:]...)
		}
		check(t, mutated)
	})
}

// BenchmarkDecodeBatch compares the two ways decodeBatch decodes a batch
// of 500 layer records as the gateways send them.
func BenchmarkDecodeBatch(b *testing.B) {
	var batch Batch
	for i := range 500 {
		batch.Records = append(batch.Records, layerRecord(uint64(i+1), t0.Add(time.Duration(i)*9*time.Second)))
	}
	raw := mustJSON(b, batch)
	perRecord := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1000/float64(b.N*len(batch.Records)), "µs/record")
	}
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			if _, ok := decodeFast(raw); !ok {
				b.Fatal("decodeFast does not take the batch")
			}
		}
		perRecord(b)
	})
	b.Run("strict", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			if _, err := strictRecords(raw); err != nil {
				b.Fatal(err)
			}
		}
		perRecord(b)
	})
}
