package fleet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// strictEnvelope decodes data with encoding/json alone, as DecodeEnvelope
// does when its shortcut does not take data.
func strictEnvelope(data []byte) (Envelope, error) {
	var env Envelope
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(&env)
	if err == nil && dec.More() {
		err = errTrailing
	}
	return env, err
}

var errTrailing = errors.New("trailing data")

var fastT0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// fastEnvelopes are envelopes in json.Marshal's form that the shortcut
// must take.
func fastEnvelopes() map[string]Envelope {
	layer := func(seq uint64, at time.Time) Record {
		return Record{Seq: seq, Kind: KindLayer, PrinterID: "printer-0001", Time: at, Layer: &Layer{
			Seq: seq, JobID: "j7Qx2", Index: int(seq), SizeMM2: 41234.5, DurationSec: 8.7, Start: at, End: at.Add(8700 * time.Millisecond)}}
	}
	status := Record{Seq: 2, Kind: KindStatus, PrinterID: "printer-0001", Time: fastT0, Status: &Status{
		PrinterID: "printer-0001", State: StatePrinting, Activity: "Schicht 812 – kühlt ab", JobID: "j7Qx2",
		Progress: 0.5, ETCSeconds: -3, PendingJobs: math.MaxInt, Time: fastT0}}
	noJob := status
	noJob.Seq, noJob.Status = 3, &Status{PrinterID: "printer-0002", State: StateIdle, Time: fastT0}
	event := Record{Seq: 4, Kind: KindEvent, PrinterID: "printer-0001", Time: fastT0, Event: &Event{
		Seq: 3, Code: "E-1", Description: "Lampe ausgefallen", Severity: SeverityCritical, Time: fastT0, Details: "x{y}z"}}
	counters := Record{Seq: 5, Kind: KindCounters, PrinterID: "printer-0001", Time: fastT0, Counters: &Counters{
		TotalJobs: 12, CompletedJobs: 11, Layers: -1, Parts: math.MaxInt64, PrintVolumeCM3: 1e21, PrintTimeSec: 3.5,
		AgentsConsumedML: map[string]float64{"detailing": 1, "fusing": 12.5, "z_9": -0.25}, FilterStatusPercent: 7,
		LampUsageHours: 812, IntermediateTanks: 3, SystemErrors: 1, Time: fastT0.Add(time.Nanosecond)}}
	nilMap := counters
	nilMap.Seq, nilMap.Counters = 6, &Counters{Time: fastT0}
	emptyMap := counters
	emptyMap.Seq, emptyMap.Counters = 7, &Counters{AgentsConsumedML: map[string]float64{}, Time: fastT0}
	env := func(recs ...Record) Envelope {
		return Envelope{OrgID: "org_a", SiteID: "site_a", GatewayID: "gw_a", Records: recs}
	}
	return map[string]Envelope{
		"layers":      env(layer(1, fastT0), layer(2, fastT0.Add(120*time.Millisecond))),
		"mix":         env(layer(1, fastT0), status, noJob, event, counters, nilMap, emptyMap),
		"empty ids":   {Records: []Record{layer(1, fastT0)}},
		"unicode ids": {OrgID: "org_ä", SiteID: "site 🔥", GatewayID: "gw", Records: []Record{event}},
		"zero time":   env(layer(1, time.Time{})),
	}
}

func TestDecodeEnvelopeFastAgrees(t *testing.T) {
	for name, env := range fastEnvelopes() {
		t.Run(name, func(t *testing.T) {
			data, err := json.Marshal(env)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := decodeEnvelopeFast(data)
			if !ok {
				t.Fatalf("decodeEnvelopeFast does not take %s", data)
			}
			want, err := strictEnvelope(data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("decodeEnvelopeFast:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestDecodeEnvelopeFastLeavesToJSON lists input the shortcut must leave
// to encoding/json: the form it does not know, and every way json.Marshal
// would not have written it.
func TestDecodeEnvelopeFastLeavesToJSON(t *testing.T) {
	const head = `{"org_id":"o","site_id":"s","gateway_id":"g","records":`
	const counters = `{"seq":1,"kind":"counters","printer_id":"p","time":"2025-03-01T12:00:00Z","counters":{"total_jobs":1,"completed_jobs":1,"layers":1,"parts":1,"print_volume_cm3":1,"print_time_seconds":1,"agents_consumed_ml":%s,"material_consumed_kg":1,"cooling_system_hours":1,"filter_status_percent":1,"lamp_usage_hours":1,"intermediate_tanks_used":1,"agent_system_hours":1,"service_station_uses":1,"carriage_cycles":1,"system_errors":1,"time":"2025-03-01T12:00:00Z"}}`
	withMap := func(m string) string { return head + "[" + fmt.Sprintf(counters, m) + "]}" }
	tests := map[string]string{
		"no records":        head + `[]}`,
		"null records":      head + `null}`,
		"identity record":   head + `[{"seq":1,"kind":"identity","printer_id":"p","time":"2025-03-01T12:00:00Z","identity":{}}]}`,
		"escaped org":       `{"org_id":"o\u0041","site_id":"s","gateway_id":"g","records":[]}`,
		"keys out of order": `{"site_id":"s","org_id":"o","gateway_id":"g","records":[]}`,
		"space":             `{"org_id": "o","site_id":"s","gateway_id":"g","records":[]}`,
		"trailing":          withMap("null") + " ",
		"unknown field":     head + "[]" + `,"x":1}`,
		"map keys unsorted": withMap(`{"b":1,"a":2}`),
		"map key repeated":  withMap(`{"a":1,"a":2}`),
		"map key upper":     withMap(`{"A":1}`),
		"map key escaped":   withMap(`{"\u0061":1}`),
		"map value null":    withMap(`{"a":null}`),
		"map not closed":    withMap(`{"a":1`),
		"map of strings":    withMap(`{"a":"1"}`),
		"count with frac":   strings.Replace(withMap("null"), `"total_jobs":1`, `"total_jobs":1.5`, 1),
		"too many map keys": withMap(manyKeys(maxMapKeys + 1)),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			if got, ok := decodeEnvelopeFast([]byte(data)); ok {
				t.Errorf("decodeEnvelopeFast takes %s as %+v, want it left to encoding/json", data, got)
			}
		})
	}
}

// manyKeys is a JSON object of n keys in increasing order.
func manyKeys(n int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"k%03d":1`, i)
	}
	return b.String() + "}"
}

// FuzzDecodeEnvelopeFast checks the shortcut against encoding/json: on
// arbitrary bytes, and on envelopes in json.Marshal's form with one byte
// replaced, inserted or deleted. Whatever decodeEnvelopeFast takes,
// encoding/json must accept into an identical envelope.
func FuzzDecodeEnvelopeFast(f *testing.F) {
	var canonical [][]byte
	for _, env := range fastEnvelopes() {
		data, err := json.Marshal(env)
		if err != nil {
			f.Fatal(err)
		}
		canonical = append(canonical, data)
	}
	for i, data := range canonical {
		f.Add(data, uint8(i), uint32(0), byte(0))
	}
	f.Add([]byte(`{"org_id":"o","site_id":"s","gateway_id":"g","records":[]}`), uint8(1), uint32(200), byte('}'))
	check := func(t *testing.T, data []byte) {
		t.Helper()
		got, ok := decodeEnvelopeFast(data)
		if !ok {
			return
		}
		want, err := strictEnvelope(data)
		if err != nil {
			t.Fatalf("decodeEnvelopeFast takes what encoding/json refuses (%v): %q", err, data)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeEnvelopeFast differs from encoding/json on %q:\n got %+v\nwant %+v", data, got, want)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, op uint8, pos uint32, c byte) {
		check(t, data)
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

// BenchmarkDecodeEnvelope compares DecodeEnvelope's shortcut with
// encoding/json on an envelope of 500 records of the production mix.
func BenchmarkDecodeEnvelope(b *testing.B) {
	mix := fastEnvelopes()["mix"]
	env := Envelope{OrgID: mix.OrgID, SiteID: mix.SiteID, GatewayID: mix.GatewayID}
	for i := range 500 {
		r := mix.Records[i%len(mix.Records)]
		r.Seq = uint64(i + 1)
		env.Records = append(env.Records, r)
	}
	data, err := json.Marshal(env)
	if err != nil {
		b.Fatal(err)
	}
	perRecord := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1000/float64(b.N*len(env.Records)), "µs/record")
	}
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := decodeEnvelopeFast(data); !ok {
				b.Fatal("decodeEnvelopeFast does not take the envelope")
			}
		}
		perRecord(b)
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := strictEnvelope(data); err != nil {
				b.Fatal(err)
			}
		}
		perRecord(b)
	})
}
