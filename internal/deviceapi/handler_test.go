package deviceapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

func TestHandler(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		target    string
		header    http.Header
		body      string
		wantCode  int
		wantAfter uint64 // for a feed
		wantLimit int    // for a feed
		wantErr   string // substring of the JSON error, "" for success
	}{
		{name: "identity", method: "GET", target: "/v1/identity", wantCode: 200},
		{name: "status", method: "GET", target: "/v1/status", wantCode: 200},
		{name: "head status", method: "HEAD", target: "/v1/status", wantCode: 200},
		{name: "counters", method: "GET", target: "/v1/counters", wantCode: 200},
		{name: "consumables", method: "GET", target: "/v1/consumables", wantCode: 200},
		{name: "events default limit", method: "GET", target: "/v1/events", wantCode: 200, wantLimit: DefaultEventLimit},
		{name: "events after and limit", method: "GET", target: "/v1/events?after=2&limit=2", wantCode: 200, wantAfter: 2, wantLimit: 2},
		{name: "events max limit", method: "GET", target: "/v1/events?limit=1000", wantCode: 200, wantLimit: MaxEventLimit},
		{name: "jobs default limit", method: "GET", target: "/v1/jobs", wantCode: 200, wantLimit: DefaultJobLimit},
		{name: "jobs after", method: "GET", target: "/v1/jobs?after=1&limit=1", wantCode: 200, wantAfter: 1, wantLimit: 1},
		{name: "layers default limit", method: "GET", target: "/v1/layers?after=3", wantCode: 200, wantAfter: 3, wantLimit: DefaultLayerLimit},
		{name: "layers max limit", method: "GET", target: "/v1/layers?limit=5000", wantCode: 200, wantLimit: MaxLayerLimit},
		{name: "session log", method: "GET", target: "/v1/logs/session?after=1&limit=3", wantCode: 200, wantAfter: 1, wantLimit: 3},
		{name: "empty log", method: "GET", target: "/v1/logs/memory", wantCode: 200, wantLimit: DefaultLogLimit},
		{name: "openapi", method: "GET", target: "/openapi.json", wantCode: 200},
		{name: "small body ignored", method: "GET", target: "/v1/status", body: "hello", wantCode: 200},

		{name: "events non-numeric after", method: "GET", target: "/v1/events?after=abc", wantCode: 400, wantErr: `after "abc"`},
		{name: "events negative after", method: "GET", target: "/v1/events?after=-1", wantCode: 400, wantErr: "after"},
		{name: "events empty after", method: "GET", target: "/v1/events?after=", wantCode: 400, wantErr: "after"},
		{name: "events after overflows", method: "GET", target: "/v1/events?after=18446744073709551616", wantCode: 400, wantErr: "after"},
		{name: "events negative limit", method: "GET", target: "/v1/events?limit=-3", wantCode: 400, wantErr: "limit"},
		{name: "events zero limit", method: "GET", target: "/v1/events?limit=0", wantCode: 400, wantErr: "from 1 to 1000"},
		{name: "events limit over max", method: "GET", target: "/v1/events?limit=1001", wantCode: 400, wantErr: "from 1 to 1000"},
		{name: "jobs limit over max", method: "GET", target: "/v1/jobs?limit=51", wantCode: 400, wantErr: "from 1 to 50"},
		{name: "layers limit over max", method: "GET", target: "/v1/layers?limit=5001", wantCode: 400, wantErr: "from 1 to 5000"},
		{name: "logs limit over max", method: "GET", target: "/v1/logs/session?limit=2001", wantCode: 400, wantErr: "from 1 to 2000"},
		{name: "events non-numeric limit", method: "GET", target: "/v1/events?limit=ten", wantCode: 400, wantErr: "limit"},
		{name: "misspelt parameter", method: "GET", target: "/v1/jobs?afer=5", wantCode: 400, wantErr: `unknown query parameter "afer"`},
		{name: "repeated parameter", method: "GET", target: "/v1/layers?after=1&after=2", wantCode: 400, wantErr: "given 2 times"},
		{name: "malformed query", method: "GET", target: "/v1/events?after=%zz", wantCode: 400, wantErr: "malformed query"},
		{name: "parameter on a snapshot", method: "GET", target: "/v1/status?after=1", wantCode: 400, wantErr: "takes none"},
		{name: "unknown log", method: "GET", target: "/v1/logs/diary", wantCode: 404, wantErr: `unknown log "diary"; known logs: session, printhead`},
		{name: "logs without a log", method: "GET", target: "/v1/logs", wantCode: 404, wantErr: "known logs: session"},
		{name: "logs too deep", method: "GET", target: "/v1/logs/session/x", wantCode: 404, wantErr: "known logs"},
		{name: "unknown route", method: "GET", target: "/v1/nothing", wantCode: 404, wantErr: "no route"},
		{name: "root", method: "GET", target: "/", wantCode: 404, wantErr: "routes: /v1/identity"},
		{name: "trailing slash", method: "GET", target: "/v1/status/", wantCode: 404, wantErr: "no route"},
		{name: "double slash", method: "GET", target: "//v1/status", wantCode: 404, wantErr: "no route"},
		{name: "dot segment", method: "GET", target: "/v1/x/../status", wantCode: 404, wantErr: "no route"},
		{name: "post status", method: "POST", target: "/v1/status", wantCode: 405, wantErr: "not allowed"},
		{name: "delete events", method: "DELETE", target: "/v1/events", wantCode: 405, wantErr: "not allowed"},
		{name: "put log", method: "PUT", target: "/v1/logs/session", wantCode: 405, wantErr: "not allowed"},
		{name: "post openapi", method: "POST", target: "/openapi.json", wantCode: 405, wantErr: "not allowed"},
		{name: "long URL", method: "GET", target: "/v1/events?after=" + strings.Repeat("1", maxURLBytes), wantCode: 414, wantErr: "request URL"},
		{name: "big headers", method: "GET", target: "/v1/status", header: http.Header{"X-Junk": {strings.Repeat("j", maxHeaderBytes)}}, wantCode: 431, wantErr: "request headers"},
		{name: "big body", method: "GET", target: "/v1/status", body: strings.Repeat("b", maxRequestBody+1), wantCode: 413, wantErr: "routes take no body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dev := newFakeDevice()
			h := asCollector(testHandler(t, dev))
			req := httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body))
			for k, vs := range tt.header {
				req.Header[k] = vs
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			if rec.Code != tt.wantCode {
				t.Fatalf("code: got %d, want %d (body %s)", rec.Code, tt.wantCode, rec.Body)
			}
			if got := rec.Header().Get("Content-Type"); got != "application/json" {
				t.Errorf("content type: got %q, want application/json", got)
			}
			if tt.wantErr != "" {
				var e errorBody
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
					t.Fatalf("error body %q is not JSON: %v", rec.Body, err)
				}
				if !strings.Contains(e.Error, tt.wantErr) {
					t.Errorf("error: got %q, want it to contain %q", e.Error, tt.wantErr)
				}
				if dev.calls != 0 {
					t.Errorf("device read on a failed request")
				}
				if tt.wantCode == 405 && rec.Header().Get("Allow") != "GET, HEAD" {
					t.Errorf("405 with Allow %q, want GET, HEAD", rec.Header().Get("Allow"))
				}
				return
			}
			body := rec.Body.Bytes()
			var got, want any
			feed := ""
			switch path, _, _ := strings.Cut(tt.target, "?"); {
			case path == "/v1/identity":
				got, want = decodeAs[Identity](t, body), dev.id
			case path == "/v1/status":
				got, want = decodeAs[Status](t, body), dev.st
			case path == "/v1/counters":
				got, want = decodeAs[fleet.Counters](t, body), dev.counters
			case path == "/v1/consumables":
				got, want = decodeAs[fleet.Consumables](t, body), dev.consumables
			case path == "/openapi.json":
				got, want = json.Valid(body), true
			case path == "/v1/events":
				feed, got, want = "events", decodeAs[EventPage](t, body), dev.Events(tt.wantAfter, tt.wantLimit)
			case path == "/v1/jobs":
				feed, got, want = "jobs", decodeAs[JobPage](t, body), dev.Jobs(tt.wantAfter, tt.wantLimit)
			case path == "/v1/layers":
				feed, got, want = "layers", decodeAs[LayerPage](t, body), dev.Layers(tt.wantAfter, tt.wantLimit)
			case strings.HasPrefix(path, "/v1/logs/"):
				log := fleet.LogKind(strings.TrimPrefix(path, "/v1/logs/"))
				got = decodeAs[LogPage](t, body)
				if dev.gotLog != log {
					t.Errorf("device asked for log %q, want %q", dev.gotLog, log)
				}
				feed, want = "logs", dev.Logs(log, tt.wantAfter, tt.wantLimit)
			default:
				t.Fatalf("no check for %s", tt.target)
			}
			if feed != "" {
				// The device was asked once by the handler and once above.
				if dev.calls != 2 || dev.gotFeed != feed || dev.gotAfter != tt.wantAfter || dev.gotLimit != tt.wantLimit {
					t.Errorf("device asked %d times, last %s after=%d limit=%d; want %s after=%d limit=%d",
						dev.calls, dev.gotFeed, dev.gotAfter, dev.gotLimit, feed, tt.wantAfter, tt.wantLimit)
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
}

// An empty feed answers "items": [], never null, even when the device
// returns a nil slice.
func TestHandlerEmptyItems(t *testing.T) {
	dev := newFakeDevice()
	dev.events = nil
	rec := httptest.NewRecorder()
	asCollector(testHandler(t, dev)).ServeHTTP(rec, httptest.NewRequest("GET", "/v1/logs/memory", nil))
	if !strings.Contains(rec.Body.String(), `"items":[]`) {
		t.Errorf("empty log page %s, want items []", rec.Body)
	}
}

// A device answer that cannot be encoded is the printer's fault: 500 with
// a JSON error, logged.
func TestHandlerEncodeFailure(t *testing.T) {
	dev := newFakeDevice()
	dev.st.State = fleet.StateUnknown
	rec := httptest.NewRecorder()
	asCollector(testHandler(t, dev)).ServeHTTP(rec, httptest.NewRequest("GET", "/v1/status", nil))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), `"error":"internal error"`) {
		t.Errorf("got %d %s, want 500 internal error", rec.Code, rec.Body)
	}
}

// A chunked body of unknown length is cut off at the limit too.
func TestHandlerChunkedBody(t *testing.T) {
	req := httptest.NewRequest("GET", "/v1/status", strings.NewReader(strings.Repeat("c", maxRequestBody+1)))
	req.ContentLength = -1
	rec := httptest.NewRecorder()
	asCollector(testHandler(t, newFakeDevice())).ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("got %d %s, want 413", rec.Code, rec.Body)
	}
}

func decodeAs[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := decodeStrict(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}
