package uplink

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
)

var envGateway = fleet.Gateway{ID: "gw-a", OrgID: "org-1", SiteID: "site-1"}

// What a client sends is spliced, and the envelope is byte for byte what
// re-encoding the decoded records gives.
func TestEncodeEnvelopeSplicesClientForm(t *testing.T) {
	every := Batch{}
	for i, k := range allKinds {
		every.Records = append(every.Records, recordOf(k, uint64(i+1)))
	}
	tests := []struct {
		name  string
		batch Batch
	}{
		{"one record", batchOf(7)},
		{"every kind", every},
		{"typical 500", typicalBatch(500)},
		{"strings with escapes", Batch{Records: []fleet.Record{{Seq: 1, Kind: fleet.KindLog, PrinterID: "printer-0001", Time: t0,
			Log: &fleet.LogLine{Seq: 1, Log: fleet.LogSession, Time: t0, Text: "a \"quoted\" <b> & \\ é \u2028 \x01 🙂"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := mustJSON(t, tt.batch)
			recs := decodeRecords(t, raw)
			if _, ok := canonicalRecords(raw, len(recs)); !ok {
				t.Fatalf("canonicalRecords refused json.Marshal's output %s", raw)
			}
			got, err := encodeEnvelope(envGateway, raw, recs, false)
			if err != nil {
				t.Fatal(err)
			}
			want := mustJSON(t, fleet.Envelope{OrgID: "org-1", SiteID: "site-1", GatewayID: "gw-a", Records: recs})
			if !bytes.Equal(got, want) {
				t.Errorf("spliced envelope differs from the re-encoded one:\ngot  %s\nwant %s", got, want)
			}
			// A batch the fast decoder takes is spliced without a scan,
			// to the same bytes.
			if _, ok := decodeFast(raw); ok {
				fast, err := encodeEnvelope(envGateway, raw, recs, true)
				if err != nil || !bytes.Equal(fast, want) {
					t.Errorf("fast-decoded batch spliced to %s, %v; want %s", fast, err, want)
				}
			}
		})
	}
}

// Invalid UTF-8 in a client's string reaches the cloud as the escape
// \ufffd; spliced, it stays so, and decodes to what re-encoding gives.
func TestEncodeEnvelopeInvalidUTF8(t *testing.T) {
	b := Batch{Records: []fleet.Record{{Seq: 1, Kind: fleet.KindLog, PrinterID: "printer-0001", Time: t0,
		Log: &fleet.LogLine{Seq: 1, Log: fleet.LogSession, Time: t0, Text: "bad \xff byte"}}}}
	raw := mustJSON(t, b)
	recs := decodeRecords(t, raw)
	got, err := encodeEnvelope(envGateway, raw, recs, false)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(got, []byte(`bad \ufffd byte`)) {
		t.Errorf("envelope %s: want the client's escape", got)
	}
	var env fleet.Envelope
	if err := json.Unmarshal(got, &env); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(recs, env.Records); diff != "" {
		t.Errorf("records (-decoded +published):\n%s", diff)
	}
}

// Any other form is re-encoded from the decoded records: what is published
// holds nothing the decoder did not turn into a validated record.
func TestEncodeEnvelopeReencodesOtherForms(t *testing.T) {
	rec := string(mustJSON(t, statusRecord(1)))
	counters := string(mustJSON(t, recordOf(fleet.KindCounters, 2)))
	tests := []struct {
		name, raw string
	}{
		{"whitespace between tokens", `{"records": [` + rec + `]}`},
		{"trailing newline", `{"records":[` + rec + "]}\n"},
		{"key in another case", `{"records":[` + strings.Replace(rec, `"seq":1`, `"SEQ":1`, 1) + `]}`},
		{"top-level key in another case", `{"Records":[` + rec + `]}`},
		{"duplicate key hides a value", `{"records":[` + strings.Replace(rec, `"printer_id":"printer-0001"`, `"printer_id":"secret part name","printer_id":"printer-0001"`, 1) + `]}`},
		{"duplicate records key", `{"records":[` + rec + `],"records":[` + rec + `]}`},
		{"escaped key", `{"records":[` + strings.Replace(rec, `"seq":1`, `"s\u0065q":1`, 1) + `]}`},
		{"surrogate escape", `{"records":[` + strings.Replace(rec, `"printing layer 3"`, `"printing \ud83d\ude42"`, 1) + `]}`},
		{"map key in upper case", `{"records":[` + strings.Replace(counters, `"fusing"`, `"Fusing"`, 1) + `]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := []byte(tt.raw)
			recs := decodeRecords(t, raw)
			if arr, ok := canonicalRecords(raw, len(recs)); ok {
				t.Fatalf("canonicalRecords accepted %s as %s", raw, arr)
			}
			got, err := encodeEnvelope(envGateway, raw, recs, false)
			if err != nil {
				t.Fatal(err)
			}
			want := mustJSON(t, fleet.Envelope{OrgID: "org-1", SiteID: "site-1", GatewayID: "gw-a", Records: recs})
			if !bytes.Equal(got, want) {
				t.Errorf("envelope:\ngot  %s\nwant %s", got, want)
			}
			if bytes.Contains(got, []byte("secret")) {
				t.Errorf("envelope carries the overwritten value: %s", got)
			}
		})
	}
}

// A wrong record count, or bytes that are not a batch at all, are never
// spliced (canonicalRecords is only called on decoded batches, but must
// not trust that).
func TestCanonicalRecordsRefusesMismatch(t *testing.T) {
	rec := string(mustJSON(t, statusRecord(1)))
	tests := []struct {
		name, raw string
		n         int
	}{
		{"count differs", `{"records":[` + rec + `]}`, 2},
		{"empty array", `{"records":[]}`, 1},
		{"truncated", `{"records":[`, 0},
		{"unterminated string", `{"records":["abc`, 1},
		{"unbalanced", `{"records":[]]}`, 0},
		{"trailing value", `{"records":[` + rec + `]}{}`, 1},
		{"second key", `{"records":[` + rec + `],"x":1}`, 1},
		{"stray byte", `{"records":[` + rec + `#]}`, 1},
		{"not a batch", `[1,2]`, 2},
		{"invalid UTF-8", "{\"records\":[\"\xff\"]}", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if arr, ok := canonicalRecords([]byte(tt.raw), tt.n); ok {
				t.Errorf("canonicalRecords(%q, %d) = %q, true; want false", tt.raw, tt.n, arr)
			}
		})
	}
	if arr, ok := canonicalRecords([]byte(`{"records":[`+rec+`]}`), 1); !ok || string(arr) != "["+rec+"]" {
		t.Errorf("canonicalRecords of one record = %q, %v", arr, ok)
	}
}

// Through the handler: a duplicate key's first value is never published.
func TestBatchDuplicateKeyNotPublished(t *testing.T) {
	e := newHandlerEnv(t, HandlerOptions{})
	rec := string(mustJSON(t, statusRecord(1)))
	body := `{"records":[` + strings.Replace(rec, `"activity":"printing layer 3"`, `"activity":"customer part X-17 for ACME","activity":"printing layer 3"`, 1) + `]}`
	if code, eb, _ := e.serve(signedRequest(e.cred, t0, "", []byte(body))); code != http.StatusOK {
		t.Fatalf("got %d %q, want 200", code, eb.Error)
	}
	data := e.pub.publishedData()
	if len(data) != 1 {
		t.Fatalf("published %d messages, want 1", len(data))
	}
	if bytes.Contains(data[0], []byte("ACME")) {
		t.Errorf("published the overwritten value: %s", data[0])
	}
	if diff := cmp.Diff(batchOf(1).Records, e.pub.published()[0].env.Records); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// FuzzCanonicalRecords checks canonicalRecords against a slow oracle built
// on encoding/json's tokenizer: whenever it splices a batch the strict
// decoder accepts, the batch is compact, every key is a lower-case
// [a-z0-9_] name unique in its object, and the spliced array decodes to
// the same records. It must never panic on any input.
func FuzzCanonicalRecords(f *testing.F) {
	for _, b := range []Batch{batchOf(1, 2), typicalBatch(30)} {
		f.Add(mustJSON(f, b))
	}
	rec := string(mustJSON(f, statusRecord(1)))
	f.Add([]byte(`{"records":[` + strings.Replace(rec, `"seq":1`, `"seq":1,"seq":1`, 1) + `]}`))
	f.Add([]byte(`{"records": [` + rec + `]}`))
	f.Add([]byte(`{"records":[` + rec + `],"Records":[]}`))
	f.Add([]byte(`{"records":["\u`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var b Batch
		strictErr := decodeStrict(bytes.NewReader(raw), &b)
		for _, n := range []int{len(b.Records), 1} {
			arr, ok := canonicalRecords(raw, n) // must not panic
			if !ok || strictErr != nil || n != len(b.Records) {
				continue
			}
			if err := oracleCanonical(raw); err != nil {
				t.Fatalf("spliced %q, but %v", raw, err)
			}
			var got []fleet.Record
			if err := json.Unmarshal(arr, &got); err != nil {
				t.Fatalf("spliced array %q does not decode: %v", arr, err)
			}
			if diff := cmp.Diff(b.Records, got); diff != "" {
				t.Fatalf("spliced array decodes differently (-strict +spliced):\n%s", diff)
			}
		}
	})
}

// oracleCanonical is canonicalRecords' contract, checked slowly.
func oracleCanonical(raw []byte) error {
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil || !bytes.Equal(compact.Bytes(), raw) {
		return fmt.Errorf("not compact JSON (%v)", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	type frame struct {
		keys map[string]bool // nil for an array
		n    int             // tokens read in this object: a key when even
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch tok {
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			continue
		}
		if top != nil && top.keys != nil && top.n%2 == 0 {
			s, _ := tok.(string)
			if top.keys[s] || !plainKey([]byte(s)) {
				return fmt.Errorf("key %q repeated or not plain", s)
			}
			top.keys[s] = true
			top.n++
			continue
		}
		if top != nil {
			top.n++
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{keys: map[string]bool{}})
		case json.Delim('['):
			stack = append(stack, &frame{})
		}
	}
}

func decodeRecords(t *testing.T, raw []byte) []fleet.Record {
	t.Helper()
	var b Batch
	if err := decodeStrict(bytes.NewReader(raw), &b); err != nil {
		t.Fatalf("decodeStrict(%s): %v", raw, err)
	}
	return b.Records
}

// BenchmarkEncodeEnvelope compares splicing a client's 500 records with
// re-encoding them, what the handler did before.
func BenchmarkEncodeEnvelope(b *testing.B) {
	raw := mustJSON(b, typicalBatch(500))
	var batch Batch
	if err := decodeStrict(bytes.NewReader(raw), &batch); err != nil {
		b.Fatal(err)
	}
	b.Run("splice", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			if _, err := encodeEnvelope(envGateway, raw, batch.Records, false); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("marshal", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			if _, err := json.Marshal(fleet.Envelope{OrgID: "org-1", SiteID: "site-1", GatewayID: "gw-a", Records: batch.Records}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			var got Batch
			if err := decodeStrict(bytes.NewReader(raw), &got); err != nil {
				b.Fatal(err)
			}
		}
	})
}
