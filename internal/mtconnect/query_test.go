package mtconnect

import (
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// errorOf decodes an MTConnectError document's first error code.
func errorOf(t *testing.T, doc []byte) ErrorCode {
	t.Helper()
	var d struct {
		Errors []struct {
			Code string `xml:"errorCode,attr"`
		} `xml:"Errors>Error"`
	}
	if err := xml.Unmarshal(doc, &d); err != nil || len(d.Errors) == 0 {
		t.Fatalf("not an MTConnectError document (%v):\n%s", err, doc)
	}
	return ErrorCode(d.Errors[0].Code)
}

// Every malformed or impossible request gets the standard's error
// document with its code and an HTTP status to match.
func TestErrors(t *testing.T) {
	_, a, _ := scene(t, Options{BufferSize: 50})
	h := a.Handler()
	_, _, next := a.buf.current()
	if next <= 51 {
		t.Fatalf("the scene should wrap a buffer of 50: next sequence %d", next)
	}
	first, _, _ := a.buf.sequences()
	for _, tc := range []struct {
		method, path string
		code         ErrorCode
		status       int
	}{
		{"GET", "/current?at=abc", InvalidRequest, 400},
		{"GET", "/current?at=-1", InvalidRequest, 400},
		{"GET", "/current?at=0", InvalidRequest, 400},
		{"GET", "/current?at=1", OutOfRange, 400}, // left the buffer
		{"GET", "/current?at=99999", OutOfRange, 400},
		{"GET", "/current?at=60&interval=100", InvalidRequest, 400},
		{"GET", "/current?from=3", InvalidRequest, 400},
		{"GET", "/current?heartbeat=100", InvalidRequest, 400},
		{"GET", "/sample?from=1", OutOfRange, 400},
		{"GET", "/sample?from=99999", OutOfRange, 400},
		{"GET", "/sample?from=x", InvalidRequest, 400},
		{"GET", "/sample?count=0", InvalidRequest, 400},
		{"GET", "/sample?count=ten", InvalidRequest, 400},
		{"GET", "/sample?count=51", OutOfRange, 400},
		{"GET", "/sample?count=-51", OutOfRange, 400},
		{"GET", "/sample?from=70&to=60", InvalidRequest, 400},
		{"GET", "/sample?to=80&interval=10", InvalidRequest, 400},
		{"GET", "/sample?interval=-5", InvalidRequest, 400},
		{"GET", "/sample?interval=99999999999", InvalidRequest, 400},
		{"GET", "/sample?interval=10&heartbeat=0", InvalidRequest, 400},
		{"GET", "/sample?count=5&count=6", InvalidRequest, 400},
		{"GET", "/sample?bogus=1", InvalidRequest, 400},
		{"GET", "/sample?%zz", InvalidRequest, 400},
		{"GET", "/sample?path=//Device", Unsupported, 405},
		{"GET", "/sample?deviceType=Robot", InvalidRequest, 400},
		{"GET", "/probe?at=3", InvalidRequest, 400},
		{"GET", "/nosuch/probe", NoDevice, 404},
		{"GET", "/nosuch/current", NoDevice, 404},
		{"GET", "/assets?device=nosuch", NoDevice, 404},
		{"GET", "/Agent/probe", NoDevice, 404},
		{"GET", "/asset/bu-nosuch", AssetNotFound, 404},
		{"GET", "/assets/bu-BU-7;bu-nosuch", AssetNotFound, 404},
		{"GET", "/assets?removed=maybe", InvalidRequest, 400},
		{"GET", "/assets?count=-1", InvalidRequest, 400},
		{"GET", "/a/b/c", InvalidURI, 404},
		{"GET", "/currentx", InvalidURI, 404},
		{"POST", "/current", Unsupported, 405},
		{"PUT", "/asset/bu-BU-7", Unsupported, 405},
		{"GET", "/current?" + strings.Repeat("a", maxQuery+1), InvalidRequest, 400},
	} {
		t.Run(tc.method+" "+tc.path[:min(len(tc.path), 40)], func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.status {
				t.Errorf("status %d, want %d", rec.Code, tc.status)
			}
			if got := errorOf(t, rec.Body.Bytes()); got != tc.code {
				t.Errorf("error %s, want %s: %s", got, tc.code, rec.Body)
			}
		})
	}
	// The same requests within range are answered.
	for _, path := range []string{"/current?at=" + u64(first), "/sample?from=" + u64(first) + "&count=50",
		"/sample?count=-50", "/3DP 1/probe", "/printer-uuid-0002/current", "/assets/bu-BU-7", "/assets?device=3DP 1",
		"/probe?deviceType=Device", "/"} {
		if status, doc := get(t, h, strings.ReplaceAll(path, " ", "%20")); status != http.StatusOK {
			t.Errorf("GET %s: status %d\n%s", path, status, doc)
		}
	}
}

// A request with a body is refused: the agent is read-only.
func TestErrorBody(t *testing.T) {
	_, a, _ := scene(t, Options{})
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/current", strings.NewReader("x")))
	if got := errorOf(t, rec.Body.Bytes()); got != InvalidRequest || rec.Code != 400 {
		t.Errorf("GET with a body: %d %s, want 400 INVALID_REQUEST", rec.Code, got)
	}
}

func TestParseQuery(t *testing.T) {
	for _, tc := range []struct {
		op, raw string
		want    request
	}{
		{"sample", "", request{op: "sample", heartbeat: defaultHeartbeat}},
		{"sample", "from=5&to=9&count=-3", request{op: "sample", from: 5, to: 9, count: -3, heartbeat: defaultHeartbeat}},
		{"sample", "interval=0&heartbeat=500", request{op: "sample", stream: true, heartbeat: 500 * time.Millisecond}},
		{"current", "at=7&deviceType=Device", request{op: "current", at: 7, deviceType: "Device", heartbeat: defaultHeartbeat}},
		{"assets", "type=RawMaterial&removed=true&count=3&device=d",
			request{op: "assets", typ: "RawMaterial", removed: true, count: 3, device: "d", heartbeat: defaultHeartbeat}},
	} {
		got, e := parseQuery(tc.op, tc.raw)
		if e != nil {
			t.Errorf("parseQuery(%s, %q): %v", tc.op, tc.raw, e)
			continue
		}
		if d := cmp.Diff(tc.want, got, cmp.AllowUnexported(request{})); d != "" {
			t.Errorf("parseQuery(%s, %q) (-want +got):\n%s", tc.op, tc.raw, d)
		}
	}
}

// The query parser reads any client's bytes: it never panics, and what it
// accepts keeps within the parameters' bounds.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "at=5", "from=1&count=100", "count=-10&to=50", "interval=1000&heartbeat=10000",
		"path=//Device", "%zz", "from=18446744073709551615", "count=9223372036854775807", "removed=true&type=RawMaterial",
		"deviceType=Agent", "interval=3600001", "a=1&a=2", ";", "from=1;to=2"} {
		for _, op := range []string{"probe", "current", "sample", "assets", "asset"} {
			f.Add(op, s)
		}
	}
	f.Fuzz(func(t *testing.T, op, raw string) {
		r, e := parseQuery(op, raw)
		if e != nil {
			if e.Code.status() < 400 {
				t.Fatalf("error %v with status %d", e, e.Code.status())
			}
			return
		}
		if r.interval < 0 || r.interval > maxInterval || r.heartbeat <= 0 || r.heartbeat > maxHeartbeat {
			t.Fatalf("accepted %q with interval %v, heartbeat %v", raw, r.interval, r.heartbeat)
		}
		if r.to != 0 && r.from != 0 && r.to <= r.from {
			t.Fatalf("accepted %q with to %d <= from %d", raw, r.to, r.from)
		}
		if r.stream && (r.at != 0 || r.to != 0) {
			t.Fatalf("accepted %q: a stream with at or to", raw)
		}
	})
}
