package deviceapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fuzzDecoder checks a client decoder on arbitrary bytes: it never panics,
// every refusal says why, and whatever it accepts re-encodes to JSON that
// decodes to the same value.
func fuzzDecoder[T any](f *testing.F, decode func([]byte) (T, error), seeds ...[]byte) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Add([]byte(``))
	f.Add([]byte(`null`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"unknown":1}`))
	f.Add([]byte(`{"time":"not a time"}`))
	f.Add([]byte(`{"instance":"I","items":null,"next":0,"first":0}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := decode(b)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("error without a message")
			}
			return
		}
		again, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("accepted %q but cannot re-encode it: %v", b, err)
		}
		v2, err := decode(again)
		if err != nil {
			t.Fatalf("re-encoded %q refused: %v", again, err)
		}
		if diff := cmp.Diff(v, v2); diff != "" {
			t.Fatalf("round trip changed the value (-first +second):\n%s", diff)
		}
	})
}

func mustJSON(f *testing.F, v any) []byte {
	f.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

func FuzzDecodeStatus(f *testing.F) {
	dev := newFakeDevice()
	idle := Status{State: 1, Activity: "idle", Time: testTime}
	fuzzDecoder(f, decodeStatus, mustJSON(f, dev.st), mustJSON(f, idle),
		[]byte(`{"state":"printing","job":{"id":"A","progress":1.5},"time":"2026-03-02T09:30:00Z"}`),
		[]byte(`{"state":"cooling","etc_seconds":-1,"time":"2026-03-02T09:30:00+02:00"}`))
}

func FuzzDecodeEventPage(f *testing.F) {
	dev := newFakeDevice()
	fuzzDecoder(f, decodeEventPage, mustJSON(f, dev.Events(0, 100)), mustJSON(f, dev.Events(5, 100)),
		[]byte(`{"instance":"I","items":[{"seq":2,"code":"X","severity":"warning","time":"2026-03-02T09:30:00Z"}],"next":2,"first":3}`),
		[]byte(`{"instance":"I","items":[{"seq":2,"code":"X","severity":"loud","time":"2026-03-02T09:30:00Z"}],"next":2,"first":1}`))
}

func FuzzDecodeIdentity(f *testing.F) {
	dev := newFakeDevice()
	fuzzDecoder(f, decodeIdentity, mustJSON(f, dev.id),
		[]byte(`{"printer_id":"bad id!","model":"m","serial_number":"s","instance":"i"}`))
}

func FuzzDecodeJobPage(f *testing.F) {
	dev := newFakeDevice()
	fuzzDecoder(f, decodeJobPage, mustJSON(f, dev.Jobs(0, 10)), mustJSON(f, dev.Jobs(2, 10)),
		[]byte(`{"instance":"I","items":[{"seq":1,"id":"J","created_at":"2026-03-02T09:30:00Z","status":"queued","warnings":[{"id":"W"}]}],"next":1,"first":1}`),
		[]byte(`{"instance":"I","items":[{"seq":1,"id":"J","created_at":"2026-03-02T09:30:00Z","status":"queued","parts":[{"id":"P","job_id":"K","outcome":"pass"}]}],"next":1,"first":1}`))
}

func FuzzDecodeLayerPage(f *testing.F) {
	dev := newFakeDevice()
	fuzzDecoder(f, decodeLayerPage, mustJSON(f, dev.Layers(0, 10)),
		[]byte(`{"instance":"I","items":[{"seq":1,"job_id":"J","index":0,"start":"2026-03-02T09:30:00Z","end":"2026-03-02T09:30:00Z"}],"next":1,"first":1}`))
}

func FuzzDecodeLogPage(f *testing.F) {
	dev := newFakeDevice()
	fuzzDecoder(f, decodeLogPage, mustJSON(f, dev.Logs("session", 0, 10)),
		[]byte(`{"instance":"I","items":[{"seq":1,"log":"diary","time":"2026-03-02T09:30:00Z","text":"x"}],"next":1,"first":1}`),
		[]byte(`{"instance":"I","items":[{"seq":1,"log":"session","time":"2026-03-02T09:30:00Z"},{"seq":2,"log":"memory","time":"2026-03-02T09:30:00Z"}],"next":2,"first":1}`))
}

func FuzzDecodeCounters(f *testing.F) {
	dev := newFakeDevice()
	fuzzDecoder(f, decodeCounters, mustJSON(f, dev.counters),
		[]byte(`{"total_jobs":1,"completed_jobs":2,"agents_consumed_ml":{"":-1},"time":"2026-03-02T09:30:00Z"}`))
}

func FuzzDecodeConsumables(f *testing.F) {
	dev := newFakeDevice()
	fuzzDecoder(f, decodeConsumables, mustJSON(f, dev.consumables),
		[]byte(`{"cleaning_roll":{"usage_percent":101},"build_units":{"installed":null},"time":"2026-03-02T09:30:00Z"}`))
}

func FuzzDecodeSelfTest(f *testing.F) {
	dev := newFakeDevice()
	fuzzDecoder(f, decodeSelfTest, mustJSON(f, dev.SelfTest()),
		[]byte(`{"time":"2026-03-02T09:30:00Z","passed":true,"checks":[{"subsystem":"lamp","component":"lamp-1","result":"fail","value":3}]}`),
		[]byte(`{"time":"2026-03-02T09:30:00Z","passed":false,"checks":[{"result":"maybe"}]}`))
}

// FuzzDecodeOpenAPI: whatever the client accepts as an OpenAPI document is
// one JSON object naming a version, returned byte for byte.
func FuzzDecodeOpenAPI(f *testing.F) {
	f.Add([]byte(openAPIDocument(routeTable(nil))))
	f.Add([]byte(`{"openapi":""}`))
	f.Add([]byte(`{"openapi":3}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeOpenAPI(b)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("error without a message")
			}
			return
		}
		var top map[string]any
		if json.Unmarshal(got, &top) != nil || top["openapi"] == "" || string(got) != string(b) {
			t.Fatalf("accepted %q", b)
		}
	})
}

// FuzzParseQuery: the feed parameters parse or are refused with a reason;
// what parses is within the feed's limits and survives re-encoding.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "after=1", "after=1&limit=5", "limit=0", "limit=99999999999999999999",
		"after=-1", "after=%zz", "after=1&after=2", "x=1", "after=", "limit=+5", "after=18446744073709551615"} {
		f.Add(s)
	}
	feed := &limits{DefaultJobLimit, MaxJobLimit}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := parseQuery(raw, feed)
		if err != nil {
			if _, ok := err.(*requestError); !ok || err.Error() == "" {
				t.Fatalf("parseQuery(%q): error %#v, want a *requestError with a message", raw, err)
			}
			return
		}
		if c.limit < 1 || c.limit > feed.max {
			t.Fatalf("parseQuery(%q): limit %d outside 1..%d", raw, c.limit, feed.max)
		}
		again := "after=" + strconv.FormatUint(c.after, 10) + "&limit=" + strconv.Itoa(c.limit)
		if c2, err := parseQuery(again, feed); err != nil || c2 != c {
			t.Fatalf("re-encoded %q parses to %+v, %v; want %+v", again, c2, err, c)
		}
		if _, err := parseQuery(raw, nil); raw != "" && err == nil {
			if q, _ := url.ParseQuery(raw); len(q) > 0 {
				t.Fatalf("snapshot accepted parameters %q", raw)
			}
		}
	})
}

// FuzzHandler sends arbitrary requests to the handler: it never panics,
// never answers 5xx, and always answers JSON, with a reason on errors.
func FuzzHandler(f *testing.F) {
	for _, s := range []string{"/v1/status", "/v1/events?after=3&limit=2", "/v1/jobs?limit=51", "/v1/logs/session?after=x",
		"/v1/logs/%2e%2e", "/v1/logs/", "//v1/identity", "/v1/layers?after=1;limit=2", "/openapi.json?x", "/v1/counters/../consumables",
		"/%00", "/v1/logs/session%2Fx", "*"} {
		f.Add("GET", s, "")
	}
	f.Add("POST", "/v1/events", "{}")
	f.Add("PATCH", "/v1/logs/memory", strings.Repeat("x", 2000))
	dev := newFakeDevice()
	h := asCollector(testHandler(f, dev))
	f.Fuzz(func(t *testing.T, method, target, body string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || method == "" || strings.ContainsAny(method, " \t\r\n") {
			return // net/http refuses such requests before any handler
		}
		req := &http.Request{
			Method: method, URL: u, RequestURI: target, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{}, Host: "printer.local",
			Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)),
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 || rec.Code < 200 {
			t.Fatalf("%s %q: status %d %s", method, target, rec.Code, rec.Body)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("%s %q: content type %q", method, target, ct)
		}
		if rec.Code >= 400 {
			var e errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Fatalf("%s %q: %d with body %q, want a JSON error", method, target, rec.Code, rec.Body)
			}
		} else if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %q: invalid JSON %q", method, target, rec.Body)
		}
	})
}
