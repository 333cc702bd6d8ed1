package uplink

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
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

// fakeDesk is an in-memory Diagnostics that keeps one site's requests and
// applies the state rules of fleet.DiagnosticState.
type fakeDesk struct {
	mu      sync.Mutex
	site    fleet.SiteID
	reqs    map[fleet.DiagnosticID]*fleet.Diagnostic
	chunks  map[fleet.DiagnosticID]map[int][]byte
	failErr error
}

func newFakeDesk(site fleet.SiteID) *fakeDesk {
	return &fakeDesk{site: site, reqs: map[fleet.DiagnosticID]*fleet.Diagnostic{}, chunks: map[fleet.DiagnosticID]map[int][]byte{}}
}

const testDiagID = fleet.DiagnosticID("dg_0123456789abcdef0123456789abcdef")

func (f *fakeDesk) add(state fleet.DiagnosticState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs[testDiagID] = &fleet.Diagnostic{DiagnosticRequest: fleet.DiagnosticRequest{ID: testDiagID, PrinterID: "printer-0001",
		Kind: fleet.DiagnosticSnapshot, MaxBytes: 1 << 20, Created: t0, Expires: t0.Add(fleet.DiagnosticTTL)}, Site: f.site, State: state}
}

func (f *fakeDesk) get(gw fleet.Gateway, id fleet.DiagnosticID) (*fleet.Diagnostic, error) {
	d := f.reqs[id]
	if d == nil || gw.SiteID != d.Site {
		return nil, fleet.ErrNotFound
	}
	return d, nil
}

func (f *fakeDesk) PendingDiagnostics(_ context.Context, gw fleet.Gateway, _ time.Time) ([]fleet.DiagnosticRequest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failErr != nil {
		return nil, f.failErr
	}
	var out []fleet.DiagnosticRequest
	for _, d := range f.reqs {
		if d.Site == gw.SiteID && d.State == fleet.DiagRequested {
			out = append(out, d.DiagnosticRequest)
		}
	}
	return out, nil
}

func (f *fakeDesk) ReportDiagnostic(_ context.Context, gw fleet.Gateway, r fleet.DiagnosticReport, _ time.Time) (fleet.Diagnostic, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, err := f.get(gw, r.ID)
	if err != nil {
		return fleet.Diagnostic{}, err
	}
	if r.State == fleet.DiagDone && len(f.chunks[r.ID]) != r.Chunks {
		return fleet.Diagnostic{}, fmt.Errorf("chunks missing: %w", fleet.ErrConflict)
	}
	if d.State.CanMove(r.State) {
		d.State, d.Reason = r.State, r.Reason
	}
	return *d, nil
}

func (f *fakeDesk) PutDiagnosticChunk(_ context.Context, gw fleet.Gateway, c fleet.DiagnosticChunkData, _ time.Time) (fleet.Diagnostic, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, err := f.get(gw, c.ID)
	if err != nil {
		return fleet.Diagnostic{}, err
	}
	if f.chunks[c.ID] == nil {
		f.chunks[c.ID] = map[int][]byte{}
	}
	if old, ok := f.chunks[c.ID][c.Index]; ok && !bytes.Equal(old, c.Data) {
		return fleet.Diagnostic{}, fleet.ErrConflict
	}
	f.chunks[c.ID][c.Index] = c.Data
	d.Chunks, d.State, d.Received = c.Chunks, fleet.DiagUploading, len(f.chunks[c.ID])
	return *d, nil
}

func signedTo(path string, cred Credentials, at time.Time, body []byte) *http.Request {
	req := signedRequest(cred, at, "", body)
	req.URL.Path = path
	return req
}

// TestAckCarriesPendingDiagnostics: the answer to an upload hands the
// site its waiting requests; a cloud without any leaves the field out, so
// the Ack is the one an older gateway knows.
func TestAckCarriesPendingDiagnostics(t *testing.T) {
	desk := newFakeDesk("site-1")
	e := newHandlerEnv(t, HandlerOptions{Diagnostics: desk})
	code, _, rec := e.serve(signedRequest(e.cred, t0, "", mustJSON(t, batchOf(1))))
	if code != http.StatusOK || strings.Contains(rec.Body.String(), "diagnostics") {
		t.Fatalf("no request waiting: %d %s", code, rec.Body)
	}
	desk.add(fleet.DiagRequested)
	code, _, rec = e.serve(signedRequest(e.cred, t0, "", mustJSON(t, batchOf(2))))
	var ack Ack
	if err := json.Unmarshal(rec.Body.Bytes(), &ack); code != http.StatusOK || err != nil {
		t.Fatalf("%d %v", code, err)
	}
	if len(ack.Diagnostics) != 1 || ack.Diagnostics[0].ID != testDiagID || ack.Through != 2 {
		t.Errorf("ack = %+v", ack)
	}
	// The desk failing does not fail the durable batch.
	desk.failErr = fmt.Errorf("database down")
	if code, _, rec := e.serve(signedRequest(e.cred, t0, "", mustJSON(t, batchOf(3)))); code != http.StatusOK || strings.Contains(rec.Body.String(), "diagnostics") {
		t.Errorf("desk failing: %d %s", code, rec.Body)
	}
}

func TestDiagnosticEndpoints(t *testing.T) {
	chunk := func(idx, n int, data []byte) []byte {
		return mustJSON(t, fleet.DiagnosticChunkData{ID: testDiagID, Index: idx, Chunks: n, Data: data})
	}
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	tests := []struct {
		name     string
		state    fleet.DiagnosticState // of the stored request; "" none
		nilDesk  bool
		req      func(e *handlerEnv) *http.Request
		wantCode int
		want     string // in the body
	}{
		{"check-in", fleet.DiagRequested, false, func(e *handlerEnv) *http.Request {
			return signedTo(PathDiagnosticsPending, e.cred, t0, []byte(`{}`))
		}, 200, string(testDiagID)},
		{"check-in with a body", fleet.DiagRequested, false, func(e *handlerEnv) *http.Request {
			return signedTo(PathDiagnosticsPending, e.cred, t0, []byte(`{"x":1}`))
		}, 400, "bad check-in"},
		{"report delivered", fleet.DiagRequested, false, func(e *handlerEnv) *http.Request {
			return signedTo(PathDiagnosticsReport, e.cred, t0, []byte(`{"id":"`+string(testDiagID)+`","state":"delivered"}`))
		}, 200, `"state":"delivered"`},
		{"replayed approval", fleet.DiagApproved, false, func(e *handlerEnv) *http.Request {
			return signedTo(PathDiagnosticsReport, e.cred, t0, []byte(`{"id":"`+string(testDiagID)+`","state":"approved"}`))
		}, 200, `"state":"approved"`},
		{"approval crossed a cancellation", fleet.DiagCancelled, false, func(e *handlerEnv) *http.Request {
			return signedTo(PathDiagnosticsReport, e.cred, t0, []byte(`{"id":"`+string(testDiagID)+`","state":"approved"}`))
		}, 200, `"state":"cancelled"`},
		{"forged id", fleet.DiagRequested, false, func(e *handlerEnv) *http.Request {
			return signedTo(PathDiagnosticsReport, e.cred, t0, []byte(`{"id":"dg_ffffffffffffffffffffffffffffffff","state":"delivered"}`))
		}, 404, "no such diagnostic"},
		{"malformed id", fleet.DiagRequested, false, func(e *handlerEnv) *http.Request {
			return signedTo(PathDiagnosticsReport, e.cred, t0, []byte(`{"id":"../x","state":"delivered"}`))
		}, 400, "malformed"},
		{"site may not cancel", fleet.DiagRequested, false, func(e *handlerEnv) *http.Request {
			return signedTo(PathDiagnosticsReport, e.cred, t0, []byte(`{"id":"`+string(testDiagID)+`","state":"cancelled"}`))
		}, 400, "state"},
		{"unknown field", fleet.DiagRequested, false, func(e *handlerEnv) *http.Request {
			return signedTo(PathDiagnosticsReport, e.cred, t0, []byte(`{"id":"`+string(testDiagID)+`","state":"delivered","job_name":"x"}`))
		}, 400, "unknown field"},
		{"done with chunks missing", fleet.DiagUploading, false, func(e *handlerEnv) *http.Request {
			return signedTo(PathDiagnosticsReport, e.cred, t0, []byte(`{"id":"`+string(testDiagID)+`","state":"done","chunks":2,"size":3,"sha256":"`+strings.Repeat("0", 64)+`"}`))
		}, 409, "chunks missing"},
		{"chunk", fleet.DiagApproved, false, func(e *handlerEnv) *http.Request {
			return signedTo(PathDiagnosticsChunk, e.cred, t0, chunk(1, 2, []byte("hello")))
		}, 200, `"chunks_received":1`},
		{"chunk out of range", fleet.DiagApproved, false, func(e *handlerEnv) *http.Request {
			return signedTo(PathDiagnosticsChunk, e.cred, t0, chunk(2, 2, []byte("hello")))
		}, 400, "out of range"},
		{"oversized chunk", fleet.DiagApproved, false, func(e *handlerEnv) *http.Request {
			return signedTo(PathDiagnosticsChunk, e.cred, t0, chunk(0, 1, make([]byte, fleet.DiagnosticChunk+1)))
		}, 413, "at most"},
		{"body beyond the limit", fleet.DiagApproved, false, func(e *handlerEnv) *http.Request {
			return signedTo(PathDiagnosticsChunk, e.cred, t0, chunk(0, 1, make([]byte, 2*fleet.DiagnosticChunk)))
		}, 413, "exceeds"},
		{"bad signature", fleet.DiagRequested, false, func(e *handlerEnv) *http.Request {
			return signedTo(PathDiagnosticsPending, Credentials{GatewayID: e.cred.GatewayID, Key: otherKey}, t0, []byte(`{}`))
		}, 401, "bad signature"},
		{"no desk", "", true, func(e *handlerEnv) *http.Request {
			return signedTo(PathDiagnosticsPending, e.cred, t0, []byte(`{}`))
		}, 404, "no diagnostics"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			desk := newFakeDesk("site-1")
			if tt.state != "" {
				desk.add(tt.state)
			}
			opts := HandlerOptions{}
			if !tt.nilDesk {
				opts.Diagnostics = desk
			}
			e := newHandlerEnv(t, opts)
			code, _, rec := e.serve(tt.req(e))
			if code != tt.wantCode || !strings.Contains(rec.Body.String(), tt.want) {
				t.Errorf("got %d %s, want %d with %q", code, rec.Body, tt.wantCode, tt.want)
			}
		})
	}
}

// TestDiagnosticClient drives the three calls through real TLS.
func TestDiagnosticClient(t *testing.T) {
	desk := newFakeDesk("site-1")
	desk.add(fleet.DiagRequested)
	gws := newFakeGateways()
	clk := clock.NewManual(t0)
	srv := httptest.NewTLSServer(NewHandler(gws, &fakePrinters{}, &fakePublisher{}, HandlerOptions{Clock: clk, Diagnostics: desk}))
	defer srv.Close()
	cred := newGateway(t, gws, "gw-a")
	c, err := NewClient(srv.URL, ClientOptions{RootCAs: poolOf(srv), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	pending, err := c.CheckIn(ctx, cred)
	if err != nil || len(pending) != 1 || pending[0].ID != testDiagID {
		t.Fatalf("CheckIn = %v, %v", pending, err)
	}
	for _, st := range []fleet.DiagnosticState{fleet.DiagDelivered, fleet.DiagApproved, fleet.DiagRunning} {
		a, err := c.ReportDiagnostic(ctx, cred, fleet.DiagnosticReport{ID: testDiagID, State: st})
		if err != nil || a.State != st {
			t.Fatalf("report %s: %+v, %v", st, a, err)
		}
	}
	a, err := c.PutDiagnosticChunk(ctx, cred, fleet.DiagnosticChunkData{ID: testDiagID, Index: 0, Chunks: 1, Data: []byte("result")})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(DiagnosticAnswer{ID: testDiagID, State: fleet.DiagUploading, Received: 1}, a); diff != "" {
		t.Errorf("chunk answer (-want +got):\n%s", diff)
	}
	_, err = c.PutDiagnosticChunk(ctx, cred, fleet.DiagnosticChunkData{ID: testDiagID, Index: 0, Chunks: 1, Data: []byte("other")})
	if se, ok := errors.AsType[*StatusError](err); !ok || se.Code != http.StatusConflict {
		t.Fatalf("conflicting chunk: %v, want a 409", err)
	}
	if Retryable(err) {
		t.Errorf("a conflicting chunk is retryable: %v", err)
	}
}

// FuzzDiagnosticDecode feeds arbitrary signed bodies to the diagnostics
// endpoints: never a panic, only 200, 400, 404, 409 or 413, and a 200
// only for a body that decodes to a valid report or chunk.
func FuzzDiagnosticDecode(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"id":"` + string(testDiagID) + `","state":"delivered"}`,
		`{"id":"` + string(testDiagID) + `","index":0,"chunks":1,"data":"aGVsbG8="}`,
		`{"id":"` + string(testDiagID) + `","index":-1,"chunks":1,"data":""}`,
		`{"id":"` + string(testDiagID) + `","state":"done","chunks":99999999,"size":-1}`,
		`null`, `[]`, ``, `{"id":1}`,
	} {
		for p := range uint8(3) {
			f.Add([]byte(s), p)
		}
	}
	e := newHandlerEnv(f, HandlerOptions{})
	paths := []string{PathDiagnosticsPending, PathDiagnosticsReport, PathDiagnosticsChunk}
	f.Fuzz(func(t *testing.T, body []byte, p uint8) {
		desk := newFakeDesk("site-1")
		desk.add(fleet.DiagApproved)
		h := NewHandler(e.gws, &fakePrinters{}, &fakePublisher{}, HandlerOptions{Clock: e.clk, Diagnostics: desk, RecordsPerSecond: -1, BytesPerSecond: -1})
		path := paths[int(p)%len(paths)]
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, signedTo(path, e.cred, t0, body))
		switch rec.Code {
		case http.StatusOK:
			switch path {
			case PathDiagnosticsReport:
				if _, err := DecodeDiagnosticReport(body); err != nil {
					t.Fatalf("200 for a report that does not decode: %v", err)
				}
			case PathDiagnosticsChunk:
				if _, err := DecodeDiagnosticChunk(body); err != nil {
					t.Fatalf("200 for a chunk that does not decode: %v", err)
				}
			}
		case http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge:
			var eb ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Error == "" {
				t.Fatalf("%d without a clear error: %s", rec.Code, rec.Body)
			}
		default:
			t.Fatalf("answered %d: %s", rec.Code, rec.Body)
		}
	})
}
