package uplink

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
)

// recordOf returns a valid record of every kind that crosses the uplink.
func recordOf(kind fleet.Kind, seq uint64) fleet.Record {
	r := fleet.Record{Seq: seq, Kind: kind, PrinterID: "printer-0001", Time: t0}
	box := fleet.Box{Max: fleet.Vec3{X: 10, Y: 10, Z: 10}}
	switch kind {
	case fleet.KindStatus:
		r = statusRecord(seq)
	case fleet.KindIdentity:
		r.Identity = &fleet.Identity{PrinterID: "printer-0001", Name: "Printer 1", Model: "PBF 5200", SerialNumber: "SN1", Firmware: "1.2.3", Date: t0}
	case fleet.KindEvent:
		r.Event = &fleet.Event{Seq: seq, Code: "E-100", Description: "lamp weak", Severity: fleet.SeverityWarning, Time: t0, Subsystem: "lamps"}
	case fleet.KindGap:
		r.Gap = &fleet.Gap{Feed: "events", Reason: "restart"}
	case fleet.KindJob:
		r.Job = &fleet.Job{ID: "j7Qx2", CreatedAt: t0, Status: fleet.JobPrinting, LayerCount: 100, LayersDone: 10, Density: 0.1, BoundingBox: box, Material: "PA12"}
	case fleet.KindPart:
		r.Part = &fleet.Part{ID: "p9Za1", JobID: "j7Qx2", CreatedAt: t0, BoundingBox: box, VolumeCM3: 12, Outcome: fleet.PartPending}
	case fleet.KindLayer:
		r.Layer = &fleet.Layer{Seq: seq, JobID: "j7Qx2", Index: int(seq), SizeMM2: 5120.5, DurationSec: 9.1, Start: t0, End: t0.Add(9 * time.Second)}
	case fleet.KindCounters:
		r.Counters = &fleet.Counters{TotalJobs: 12, Layers: 40000, AgentsConsumedML: map[string]float64{"fusing": 1200}, Time: t0}
	case fleet.KindConsumables:
		r.Consumables = &fleet.Consumables{CleaningRoll: fleet.CleaningRoll{PartNumber: "R1", Status: "ok", UsagePercent: 40}, Time: t0}
	case fleet.KindLog:
		r.Log = &fleet.LogLine{Seq: seq, Log: fleet.LogSession, Time: t0, Text: "door closed"}
	}
	return r
}

var allKinds = []fleet.Kind{fleet.KindIdentity, fleet.KindStatus, fleet.KindEvent, fleet.KindGap, fleet.KindJob,
	fleet.KindPart, fleet.KindLayer, fleet.KindCounters, fleet.KindConsumables, fleet.KindLog}

func TestEveryKindAccepted(t *testing.T) {
	var b Batch
	for i, k := range allKinds {
		b.Records = append(b.Records, recordOf(k, uint64(i+1)))
	}
	for _, enc := range []string{"", "gzip", "zstd"} {
		t.Run("encoding "+enc, func(t *testing.T) {
			e := newHandlerEnv(t, HandlerOptions{})
			body := mustJSON(t, b)
			switch enc {
			case "gzip":
				body = gz(t, body)
			case "zstd":
				body = zst(t, body)
			}
			if code, eb, _ := e.serve(signedRequest(e.cred, t0, enc, body)); code != http.StatusOK {
				t.Fatalf("got %d %q, want 200", code, eb.Error)
			}
			msgs := e.pub.published()
			if len(msgs) != 1 {
				t.Fatalf("published %d messages, want 1", len(msgs))
			}
			if diff := cmp.Diff(b.Records, msgs[0].env.Records); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
}

// R-PRIV-2: every private field the device API knows of a job or part is
// refused wherever a gateway might smuggle it, and the refusal names the
// record and the field.
func TestPrivateFieldsRefused(t *testing.T) {
	// The device API's private fields: job name, user and host, part name
	// and geometry reference, as they sit in its wire types and as a
	// careless gateway might flatten them.
	private := []string{"private", "name", "user", "host", "geometry_ref", "job_name", "user_name", "host_name", "part_name"}
	places := []struct {
		kind fleet.Kind
		obj  string // the JSON key of the object the field is put into; "" → the record
	}{
		{fleet.KindJob, "job"}, {fleet.KindPart, "part"}, {fleet.KindStatus, "status"},
		{fleet.KindLayer, "layer"}, {fleet.KindEvent, ""},
	}
	for _, pl := range places {
		for _, field := range private {
			if pl.kind == fleet.KindIdentity && field == "name" {
				continue // the printer's own name is allowed (R-DATA-1)
			}
			t.Run(fmt.Sprintf("%s %s", pl.kind, field), func(t *testing.T) {
				e := newHandlerEnv(t, HandlerOptions{})
				recs := []fleet.Record{recordOf(fleet.KindStatus, 1), recordOf(fleet.KindStatus, 2), recordOf(fleet.KindStatus, 3), recordOf(pl.kind, 4)}
				var raw []map[string]any
				if err := json.Unmarshal(mustJSON(t, recs), &raw); err != nil {
					t.Fatal(err)
				}
				target := raw[3]
				path := field
				if pl.obj != "" {
					target = raw[3][pl.obj].(map[string]any)
					path = pl.obj + "." + field
				}
				target[field] = map[string]any{"name": "bracket v2 for ACME", "user": "alice", "host": "CAD-07"}
				if field != "private" {
					target[field] = "bracket v2 for ACME"
				}
				body := mustJSON(t, map[string]any{"records": raw})
				code, eb, _ := e.serve(signedRequest(e.cred, t0, "zstd", zst(t, body)))
				want := fmt.Sprintf("record 3: field %q is not allowed on the uplink (R-PRIV-2)", path)
				if code != http.StatusBadRequest || eb.Error != want {
					t.Errorf("got %d %q, want 400 %q", code, eb.Error, want)
				}
				if n := len(e.pub.published()); n != 0 {
					t.Errorf("published %d messages", n)
				}
			})
		}
	}
}

func TestNotAllowedPlacesFields(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"deep in a slice", `{"records":[{"seq":1,"job":{"warnings":[{"id":"w"},{"id":"w","user":"x"}]}}]}`,
			`record 0: field "job.warnings[1].user" is not allowed on the uplink (R-PRIV-2)`},
		{"inside a map value", `{"records":[{"seq":1,"counters":{"agents_consumed_ml":{"fusing":1}}},{"seq":2,"counters":{"Layers":1,"x":2}}]}`,
			`record 1: field "counters.x" is not allowed on the uplink (R-PRIV-2)`},
		{"case-insensitive match is allowed", `{"Records":[{"SEQ":1,"Layer":{"Job_ID":"j"}}],"name":"x"}`,
			`batch: field "name" is not allowed on the uplink (R-PRIV-2)`},
		{"time values are leaves", `{"records":[{"time":"2025-03-01T12:00:00Z","status":{"state":"idle"}}]}`, ""},
		{"not JSON", `{`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := notAllowed([]byte(tt.raw)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	e := newHandlerEnv(t, HandlerOptions{RecordsPerSecond: 10, Burst: 20})
	other := newGateway(t, e.gws, "gw-b")
	seq := uint64(0)
	upload := func(cred Credentials, n int) (int, ErrorBody, *httptest.ResponseRecorder) {
		b := Batch{}
		for range n {
			seq++
			b.Records = append(b.Records, recordOf(fleet.KindLayer, seq))
		}
		return e.serve(signedRequest(cred, e.clk.Now(), "zstd", zst(t, mustJSON(t, b))))
	}
	steps := []struct {
		name      string
		cred      Credentials
		n         int
		advance   time.Duration
		wantCode  int
		wantRetry string
	}{
		{"burst, first half", e.cred, 10, 0, 200, ""},
		{"burst, second half", e.cred, 10, 0, 200, ""},
		{"bucket empty: refused before decoding", e.cred, 1, 0, 429, "1"},
		{"another gateway has its own bucket", other, 20, 0, 200, ""},
		{"half a second refills 5", e.cred, 5, 500 * time.Millisecond, 200, ""},
		{"one token is not enough for 15: wait 1.4 s", e.cred, 15, 100 * time.Millisecond, 429, "2"},
		{"refilled", e.cred, 15, 2 * time.Second, 200, ""},
	}
	for _, st := range steps {
		e.clk.Advance(st.advance)
		code, eb, rec := upload(st.cred, st.n)
		if code != st.wantCode || rec.Header().Get("Retry-After") != st.wantRetry {
			t.Fatalf("%s: got %d %q Retry-After %q, want %d Retry-After %q", st.name, code, eb.Error, rec.Header().Get("Retry-After"), st.wantCode, st.wantRetry)
		}
		if code == http.StatusTooManyRequests && !strings.Contains(eb.Error, "rate limit") {
			t.Errorf("%s: error %q does not name the rate limit", st.name, eb.Error)
		}
	}
	// What the client makes of it: retryable, after the given delay.
	_, _, rec := upload(e.cred, 15) // 5 tokens left, 10 missing
	se := &StatusError{Code: rec.Code, RetryAfter: retryAfter(rec.Header().Get("Retry-After"), t0)}
	if se.Code != http.StatusTooManyRequests || !Retryable(se) || se.RetryAfter != time.Second {
		t.Errorf("answer %d: retryable %v after %s, want 429 retryable after 1s", se.Code, Retryable(se), se.RetryAfter)
	}
}

func TestRateLimitOff(t *testing.T) {
	e := newHandlerEnv(t, HandlerOptions{RecordsPerSecond: -1, Burst: 1, BytesPerSecond: -1, ByteBurst: 1})
	for i := range 5 {
		body := gz(t, mustJSON(t, batchOf(uint64(3*i+1), uint64(3*i+2), uint64(3*i+3))))
		if code, eb, _ := e.serve(signedRequest(e.cred, t0, "gzip", body)); code != 200 {
			t.Fatalf("upload %d: %d %q", i, code, eb.Error)
		}
	}
}

// Buckets of idle gateways are dropped once the register grows; a dropped
// bucket is as full as a new one, so nothing changes for its gateway.
func TestLimitersPrune(t *testing.T) {
	clk := clock.NewManual(t0)
	l := newLimiters(1, 10)
	l.pruneAt, l.pruneBase = 4, 4
	for i := range 4 {
		id := fleet.GatewayID(fmt.Sprintf("gw-%d", i))
		if wait, ok := l.take(id, 10, clk.Now()); wait != 0 || !ok {
			t.Fatalf("take %s: wait %s ok %v", id, wait, ok)
		}
	}
	clk.Advance(10 * time.Second) // gw-0..3 full again
	l.take("gw-busy", 10, clk.Now())
	l.take("gw-new", 1, clk.Now()) // triggers the prune
	l.mu.Lock()
	got := len(l.m)
	l.mu.Unlock()
	if got != 2 { // gw-busy (empty) and gw-new
		t.Errorf("%d buckets after prune, want 2", got)
	}
	if wait := l.ready("gw-busy", 1, clk.Now()); wait != time.Second {
		t.Errorf("busy gateway: ready in %s, want 1s", wait)
	}
	if wait, ok := l.take("gw-0", 11, clk.Now()); ok || wait != 0 {
		t.Errorf("take beyond burst: wait %s ok %v, want refused", wait, ok)
	}
}

// fakeCounter is a Counter that remembers its total.
type fakeCounter struct {
	mu sync.Mutex
	v  float64
}

func (c *fakeCounter) Add(v float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.v += v
}

func (c *fakeCounter) value() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.v
}

// fakeVec is a labelled family of fakeCounters.
type fakeVec struct {
	mu sync.Mutex
	m  map[string]*fakeCounter
}

func (v *fakeVec) with(labels ...string) Counter {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = map[string]*fakeCounter{}
	}
	k := strings.Join(labels, " ")
	if v.m[k] == nil {
		v.m[k] = &fakeCounter{}
	}
	return v.m[k]
}

func (v *fakeVec) values() map[string]float64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := map[string]float64{}
	for k, c := range v.m {
		out[k] = c.value()
	}
	return out
}

func TestMetrics(t *testing.T) {
	var requests, rejected fakeVec
	var accepted, bytesIn, decoded fakeCounter
	m := Metrics{
		Requests:        func(route, code string) Counter { return requests.with(route, code) },
		RecordsAccepted: &accepted,
		Rejected:        func(reason string) Counter { return rejected.with(reason) },
		BytesIn:         &bytesIn,
		DecodedBytes:    &decoded,
	}
	e := newHandlerEnv(t, HandlerOptions{Metrics: m, RecordsPerSecond: 1, Burst: 3})
	raw := mustJSON(t, batchOf(1, 2, 3))
	rawPrivate := bytes.Replace(raw, []byte(`"activity":`), []byte(`"job_name":"x","activity":`), 1)
	good, private := zst(t, raw), zst(t, rawPrivate)
	steps := []struct {
		before func()
		req    func() *http.Request
	}{
		{nil, func() *http.Request { return signedRequest(e.cred, e.clk.Now(), "zstd", good) }},                                          // 200, takes the burst
		{nil, func() *http.Request { return signedRequest(e.cred, e.clk.Now(), "zstd", good) }},                                          // 429
		{func() { e.clk.Advance(3 * time.Second) }, func() *http.Request { return signedRequest(e.cred, e.clk.Now(), "zstd", private) }}, // 400
		{nil, func() *http.Request { return signedRequest(e.cred, e.clk.Now(), "br", good) }},                                            // 415
		{nil, func() *http.Request { return httptest.NewRequest(http.MethodPost, "/v1/batches", nil) }},                                  // 401
		{nil, func() *http.Request { return httptest.NewRequest(http.MethodGet, "/v1/enrol", nil) }},                                     // 405
		{nil, func() *http.Request { return httptest.NewRequest(http.MethodGet, "/metrics", nil) }},                                      // 404
		{func() { e.pub.err = errStreamDown }, func() *http.Request { return signedRequest(e.cred, e.clk.Now(), "zstd", good) }},         // 503
	}
	for _, st := range steps {
		if st.before != nil {
			st.before()
		}
		e.h.ServeHTTP(httptest.NewRecorder(), st.req())
	}
	wantRequests := map[string]float64{
		"/v1/batches 200": 1, "/v1/batches 429": 1, "/v1/batches 400": 1, "/v1/batches 415": 1,
		"/v1/batches 401": 1, "/v1/enrol 405": 1, "other 404": 1, "/v1/batches 503": 1,
	}
	if diff := cmp.Diff(wantRequests, requests.values()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	wantRejected := map[string]float64{
		ReasonRateLimited: 1, ReasonPrivateField: 1, ReasonEncoding: 1, ReasonUnauthenticated: 1, ReasonUnavailable: 1,
	}
	if diff := cmp.Diff(wantRejected, rejected.values()); diff != "" {
		t.Errorf("rejected (-want +got):\n%s", diff)
	}
	if got := accepted.value(); got != 3 {
		t.Errorf("records accepted = %v, want 3", got)
	}
	// In: the bodies of the five authenticated uploads. Decoded: the three
	// that were decompressed (not the rate-limited one, not the br one).
	if got, want := bytesIn.value(), float64(4*len(good)+len(private)); got != want {
		t.Errorf("bytes in = %v, want %v", got, want)
	}
	if got, want := decoded.value(), float64(2*len(raw)+len(rawPrivate)); got != want {
		t.Errorf("decoded bytes = %v, want %v", got, want)
	}
}
