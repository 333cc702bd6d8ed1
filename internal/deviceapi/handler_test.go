package deviceapi

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// fakeDevice serves fixed data and records the paging it was asked for.
type fakeDevice struct {
	id        Identity
	st        Status
	events    []fleet.Event
	gotAfter  uint64
	gotLimit  int
	eventsHit int
}

func (f *fakeDevice) Identity() Identity { return f.id }
func (f *fakeDevice) Status() Status     { return f.st }
func (f *fakeDevice) Events(after uint64, limit int) EventPage {
	f.gotAfter, f.gotLimit = after, limit
	f.eventsHit++
	p := EventPage{Instance: f.id.Instance, Events: []fleet.Event{}, Next: after, First: 1}
	for _, e := range f.events {
		if e.Seq > after && len(p.Events) < limit {
			p.Events = append(p.Events, e)
			p.Next = e.Seq
		}
	}
	return p
}

var testTime = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

func newFakeDevice() *fakeDevice {
	f := &fakeDevice{
		id: Identity{
			Identity: fleet.Identity{
				PrinterID: "3f2c9a1e-7b44-4c1a-9d0e-5a6b7c8d9e0f", Name: "3DP 1", Model: "FF-4200",
				ModelNumber: "FF4200-A", SerialNumber: "FF42ABCD1234", Firmware: "2.9.1",
				Size: "380x284x380 mm", DiskBytes: 1 << 40, MemoryBytes: 128 << 30, Date: testTime, UptimeSec: 3600,
			},
			Instance: "INST1",
		},
		st: Status{
			State: fleet.StatePrinting, Activity: "printing layer 13 of 400",
			Job:        &Job{ID: "J8K2M4P6Q1R3", Name: "Gearbox housing batch 7", User: "mkeller", Host: "CAD-WS-07", Progress: 0.03, LayersDone: 12, LayersTotal: 400},
			ETCSeconds: 3300, PendingJobs: 2, Time: testTime,
		},
	}
	for i := uint64(1); i <= 5; i++ {
		f.events = append(f.events, fleet.Event{Seq: i, Code: "JOB_QUEUED", Description: "job queued", Severity: fleet.SeverityInfo, Time: testTime, Firmware: "2.9.1", Subsystem: "job-manager"})
	}
	return f
}

func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}

func TestHandler(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		target    string
		wantCode  int
		wantAfter uint64
		wantLimit int    // checked when the events route is hit
		wantErr   string // substring of the JSON error, "" for success
	}{
		{name: "identity", method: "GET", target: "/v1/identity", wantCode: 200},
		{name: "status", method: "GET", target: "/v1/status", wantCode: 200},
		{name: "events default limit", method: "GET", target: "/v1/events", wantCode: 200, wantLimit: DefaultEventLimit},
		{name: "events after and limit", method: "GET", target: "/v1/events?after=2&limit=2", wantCode: 200, wantAfter: 2, wantLimit: 2},
		{name: "events limit capped", method: "GET", target: "/v1/events?limit=5000", wantCode: 200, wantLimit: MaxEventLimit},
		{name: "events non-numeric after", method: "GET", target: "/v1/events?after=abc", wantCode: 400, wantErr: "after"},
		{name: "events negative after", method: "GET", target: "/v1/events?after=-1", wantCode: 400, wantErr: "after"},
		{name: "events negative limit", method: "GET", target: "/v1/events?limit=-3", wantCode: 400, wantErr: "limit"},
		{name: "events zero limit", method: "GET", target: "/v1/events?limit=0", wantCode: 400, wantErr: "limit"},
		{name: "events non-numeric limit", method: "GET", target: "/v1/events?limit=ten", wantCode: 400, wantErr: "limit"},
		{name: "unknown route", method: "GET", target: "/v1/nothing", wantCode: 404, wantErr: "no route"},
		{name: "root", method: "GET", target: "/", wantCode: 404, wantErr: "no route"},
		{name: "post status", method: "POST", target: "/v1/status", wantCode: 405, wantErr: "not allowed"},
		{name: "delete events", method: "DELETE", target: "/v1/events", wantCode: 405, wantErr: "not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dev := newFakeDevice()
			h := NewHandler(dev, testLogger(t))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.target, nil))

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
				if dev.eventsHit != 0 {
					t.Errorf("device read on a failed request")
				}
				if tt.wantCode == 405 && rec.Header().Get("Allow") == "" {
					t.Errorf("405 without Allow header")
				}
				return
			}
			var got, want any
			switch {
			case strings.HasPrefix(tt.target, "/v1/identity"):
				got, want = decodeAs[Identity](t, rec.Body.Bytes()), dev.id
			case strings.HasPrefix(tt.target, "/v1/status"):
				got, want = decodeAs[Status](t, rec.Body.Bytes()), dev.st
			default:
				got, want = decodeAs[EventPage](t, rec.Body.Bytes()), dev.Events(tt.wantAfter, tt.wantLimit)
				if dev.gotAfter != tt.wantAfter || dev.gotLimit != tt.wantLimit {
					t.Errorf("device asked after=%d limit=%d, want after=%d limit=%d", dev.gotAfter, dev.gotLimit, tt.wantAfter, tt.wantLimit)
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
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

func TestLimitBody(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		wantErr bool
	}{
		{"at limit", maxRequestBody, false},
		{"over limit", maxRequestBody + 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got error
			h := limitBody(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, got = io.ReadAll(r.Body)
			}))
			req := httptest.NewRequest("POST", "/v1/status", strings.NewReader(strings.Repeat("x", tt.size)))
			h.ServeHTTP(httptest.NewRecorder(), req)
			var mbe *http.MaxBytesError
			if gotErr := errors.As(got, &mbe); gotErr != tt.wantErr {
				t.Errorf("read %d bytes: got error %v, want MaxBytesError %v", tt.size, got, tt.wantErr)
			}
		})
	}
}
