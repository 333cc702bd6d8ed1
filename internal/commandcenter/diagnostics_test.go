package commandcenter

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
)

var diagT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func diagRequest(t *testing.T, kind fleet.DiagnosticKind) fleet.DiagnosticRequest {
	t.Helper()
	id, err := fleet.NewDiagnosticID()
	if err != nil {
		t.Fatal(err)
	}
	return fleet.DiagnosticRequest{ID: id, PrinterID: "printer-0001", Kind: kind, MaxBytes: 1 << 20, Requester: "eve",
		Created: diagT0, Expires: diagT0.Add(fleet.DiagnosticTTL)}
}

// TestDecideDiagnostic: a request handed over twice is kept once; one that
// does not validate is kept as failed; approving twice (a second click, a
// replayed form) approves once, and deciding otherwise after is refused.
func TestDecideDiagnostic(t *testing.T) {
	st, _ := openStore(t)
	ctx := t.Context()
	ok := diagRequest(t, fleet.DiagnosticSnapshot)
	bad := diagRequest(t, fleet.DiagnosticLogs) // no logs, no window
	for range 2 {
		if _, err := st.ReceiveDiagnostics(ctx, []fleet.DiagnosticRequest{ok, bad, {ID: "forged"}}, DiagnosticsAsk, diagT0); err != nil {
			t.Fatal(err)
		}
	}
	list, err := st.Diagnostics(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("kept %d requests, %v; want 2", len(list), err)
	}
	if d, _ := st.Diagnostic(ctx, bad.ID); d.State != fleet.DiagFailed || d.Reason == "" {
		t.Errorf("invalid request: %s %q", d.State, d.Reason)
	}
	for range 2 {
		d, err := st.DecideDiagnostic(ctx, ok.ID, true, "local UI", "", diagT0)
		if err != nil || d.State != fleet.DiagApproved || d.DecidedBy != "local UI" {
			t.Fatalf("approve: %s by %q, %v", d.State, d.DecidedBy, err)
		}
	}
	if _, err := st.DecideDiagnostic(ctx, ok.ID, false, "local UI", "", diagT0); !errors.Is(err, ErrDecided) {
		t.Errorf("refuse after approval: %v, want ErrDecided", err)
	}
	if _, err := st.DecideDiagnostic(ctx, bad.ID, true, "local UI", "", diagT0); !errors.Is(err, ErrDecided) {
		t.Errorf("approve a failed request: %v, want ErrDecided", err)
	}
	if _, err := st.DecideDiagnostic(ctx, "dg_00000000000000000000000000000000", true, "local UI", "", diagT0); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("unknown request: %v, want ErrNotFound", err)
	}
	auto := diagRequest(t, fleet.DiagnosticSelfTest)
	if _, err := st.ReceiveDiagnostics(ctx, []fleet.DiagnosticRequest{auto}, DiagnosticsAuto, diagT0); err != nil {
		t.Fatal(err)
	}
	if d, _ := st.Diagnostic(ctx, auto.ID); d.State != fleet.DiagApproved || d.DecidedBy != "site policy" {
		t.Errorf("auto policy: %s by %q", d.State, d.DecidedBy)
	}
}

// fakeDiagCloud keeps the chunks a site uploads and fails on demand.
type fakeDiagCloud struct {
	mu       sync.Mutex
	chunks   map[int][]byte
	puts     map[int]int // uploads per index
	reports  []fleet.DiagnosticReport
	failFrom int // a chunk of this index or above fails (-1 never)
	state    fleet.DiagnosticState
}

func (c *fakeDiagCloud) CheckIn(context.Context) ([]fleet.DiagnosticRequest, error) { return nil, nil }

func (c *fakeDiagCloud) ReportDiagnostic(_ context.Context, r fleet.DiagnosticReport) (uplink.DiagnosticAnswer, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reports = append(c.reports, r)
	if c.state == "" || c.state.CanMove(r.State) {
		c.state = r.State
	}
	return uplink.DiagnosticAnswer{ID: r.ID, State: c.state}, nil
}

func (c *fakeDiagCloud) PutDiagnosticChunk(_ context.Context, ch fleet.DiagnosticChunkData) (uplink.DiagnosticAnswer, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failFrom >= 0 && ch.Index >= c.failFrom {
		return uplink.DiagnosticAnswer{}, &uplink.StatusError{Code: http.StatusServiceUnavailable, Message: "outage"}
	}
	c.chunks[ch.Index] = bytes.Clone(ch.Data)
	c.puts[ch.Index]++
	return uplink.DiagnosticAnswer{ID: ch.ID, State: fleet.DiagUploading, Received: len(c.chunks)}, nil
}

// TestDiagnosticUploadResumes: an upload cut by an outage and a restart
// resumes with the first chunk the cloud did not acknowledge: every chunk
// arrives, none twice, and done carries the result's digest.
func TestDiagnosticUploadResumes(t *testing.T) {
	st, _ := openStore(t)
	ctx := t.Context()
	clk := clock.NewManual(diagT0)
	req := diagRequest(t, fleet.DiagnosticSnapshot)
	if _, err := st.ReceiveDiagnostics(ctx, []fleet.DiagnosticRequest{req}, DiagnosticsAuto, diagT0); err != nil {
		t.Fatal(err)
	}
	cloud := &fakeDiagCloud{chunks: map[int][]byte{}, puts: map[int]int{}, failFrom: 2}
	newRunner := func() *DiagnosticRunner {
		r := NewDiagnosticRunner(st, nil, cloud, DiagnosticsOptions{Clock: clk, CheckIn: time.Hour})
		if err := r.Receive(ctx, nil); err != nil { // heard from the cloud: no check-in
			t.Fatal(err)
		}
		return r
	}
	r := newRunner()
	// approved, reported; then running, reported.
	for range 3 {
		if err := r.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if d, _ := st.Diagnostic(ctx, req.ID); d.State != fleet.DiagRunning || d.Reported != fleet.DiagRunning {
		t.Fatalf("before the run: %s, reported %s", d.State, d.Reported)
	}
	// The run's result (the runner's collection needs a printer; its
	// storing is what a crash must not cut).
	result := bytes.Repeat([]byte(`{"counters":{"total_jobs":1}}`+"\n"), 4000) // 120,000 bytes: 4 chunks
	if err := st.saveDiagnosticResult(ctx, req.ID, result, diagT0); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_ = r.Step(ctx) // the outage fails chunk 2 on
	}
	if d, _ := st.Diagnostic(ctx, req.ID); d.State != fleet.DiagUploading || d.Sent != 2 || d.Chunks != 4 {
		t.Fatalf("during the outage: %s, %d of %d sent", d.State, d.Sent, d.Chunks)
	}
	// A restart, and the cloud is back.
	cloud.failFrom = -1
	r = newRunner()
	for range 4 {
		if err := r.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	d, _ := st.Diagnostic(ctx, req.ID)
	if d.State != fleet.DiagDone || d.Reported != fleet.DiagDone {
		t.Fatalf("after: %s, reported %s", d.State, d.Reported)
	}
	var got []byte
	for i := range 4 {
		got = append(got, cloud.chunks[i]...)
		if cloud.puts[i] != 1 {
			t.Errorf("chunk %d acknowledged %d times, want once", i, cloud.puts[i])
		}
	}
	if !bytes.Equal(got, result) {
		t.Errorf("the cloud holds %d bytes, want the %d of the result", len(got), len(result))
	}
	last := cloud.reports[len(cloud.reports)-1]
	sum := sha256.Sum256(result)
	if last.State != fleet.DiagDone || last.Size != int64(len(result)) || last.SHA256 != hex.EncodeToString(sum[:]) || last.Chunks != 4 {
		t.Errorf("done report %+v", last)
	}
}

// TestDiagnosticWithinBudget: results go only as the uplink's cap allows,
// leaving room for the priority lane.
func TestDiagnosticWithinBudget(t *testing.T) {
	st, _ := openStore(t)
	ctx := t.Context()
	clk := clock.NewManual(diagT0)
	req := diagRequest(t, fleet.DiagnosticSnapshot)
	if _, err := st.ReceiveDiagnostics(ctx, []fleet.DiagnosticRequest{req}, DiagnosticsAuto, diagT0); err != nil {
		t.Fatal(err)
	}
	cloud := &fakeDiagCloud{chunks: map[int][]byte{}, puts: map[int]int{}, failFrom: -1}
	budget := NewBudget(1250, 0, clk) // the default cap: 10 kbit/s, 64 KiB bucket
	r := NewDiagnosticRunner(st, nil, cloud, DiagnosticsOptions{Clock: clk, CheckIn: time.Hour, Budget: budget})
	_ = r.Receive(ctx, nil)
	for range 3 {
		_ = r.Step(ctx)
		clk.Advance(10 * time.Second)
	}
	if err := st.saveDiagnosticResult(ctx, req.ID, bytes.Repeat([]byte("x"), 3*fleet.DiagnosticChunk), diagT0); err != nil {
		t.Fatal(err)
	}
	sentAt := map[int]time.Time{}
	for range 600 {
		_ = r.Step(ctx)
		for i := range cloud.puts {
			if _, ok := sentAt[i]; !ok {
				sentAt[i] = clk.Now()
			}
		}
		if d, _ := st.Diagnostic(ctx, req.ID); d.State == fleet.DiagDone && d.Reported == fleet.DiagDone {
			break
		}
		clk.Advance(time.Second)
	}
	if len(sentAt) != 3 {
		t.Fatalf("%d of 3 chunks sent in 10 simulated minutes", len(sentAt))
	}
	// About 44 KiB each on the wire at 1250 B/s: tens of seconds apart.
	for i := 1; i < 3; i++ {
		if gap := sentAt[i].Sub(sentAt[i-1]); gap < 20*time.Second {
			t.Errorf("chunk %d went %s after chunk %d: the cap allows no such rate", i, gap, i-1)
		}
	}
}

// FuzzReceiveDiagnostics feeds arbitrary answers of the cloud to the
// Command Center as its uploader and check-in read them: whatever a
// request holds, it is kept at most once, and only a request that
// validates awaits a decision; anything else is kept as failed with the
// reason, or (without a well-formed ID) not at all.
func FuzzReceiveDiagnostics(f *testing.F) {
	f.Add([]byte(`{"through":3,"diagnostics":[{"id":"dg_0123456789abcdef0123456789abcdef","printer_id":"printer-0001","kind":"snapshot","max_bytes":65536,"requester":"eve","created":"2026-03-01T12:00:00Z","expires":"2026-03-02T12:00:00Z"}]}`))
	f.Add([]byte(`{"through":3,"diagnostics":[{"id":"dg_0123456789abcdef0123456789abcdef","printer_id":"p","kind":"logs","logs":["session","session"],"from":"2026-03-01T12:00:00Z","to":"2027-03-01T12:00:00Z","max_bytes":1}]}`))
	f.Add([]byte(`{"through":1,"diagnostics":[{"id":"../../x","kind":"shell"}]}`))
	f.Add([]byte(`{"through":1}`))
	st, _ := openStore(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		var ack uplink.Ack
		if json.Unmarshal(body, &ack) != nil {
			return
		}
		ctx := t.Context()
		n, err := st.ReceiveDiagnostics(ctx, ack.Diagnostics, DiagnosticsAsk, diagT0)
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		if again, err := st.ReceiveDiagnostics(ctx, ack.Diagnostics, DiagnosticsAsk, diagT0); err != nil || again != 0 {
			t.Fatalf("received again: %d new, %v", again, err)
		}
		_ = n
		for _, r := range ack.Diagnostics {
			d, err := st.Diagnostic(ctx, r.ID)
			if !r.ID.Valid() {
				if err == nil {
					t.Fatalf("kept a request with the malformed ID %q", r.ID)
				}
				continue
			}
			if err != nil {
				t.Fatalf("request %s not kept: %v", r.ID, err)
			}
			if d.State == fleet.DiagDelivered && d.DiagnosticRequest.Validate() != nil {
				t.Fatalf("an invalid request awaits a decision: %+v", d.DiagnosticRequest)
			}
			if d.State == fleet.DiagFailed && d.Reason == "" {
				t.Fatal("failed without a reason")
			}
		}
	})
}
