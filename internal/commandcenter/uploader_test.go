package commandcenter

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"
)

// fakeCloud keeps what it accepted, deduplicated by seq as the real cloud
// is, and acknowledges through the last record of the batch, as the real
// cloud does.
type fakeCloud struct {
	mu       sync.Mutex
	failures int                     // fail this many uploads before accepting
	err      error                   // the failure
	accepted []fleet.Record          // in order of first arrival
	bySeq    map[uint64]fleet.Record // accepted, by seq
	resent   []uint64                // seqs that arrived again
	uploads  int
	batches  []uplink.Batch // accepted batches, in order
	// clk, when set, stamps arrivals.
	clk     clock.Clock
	arrived map[uint64]time.Time
	// down, while set, fails every upload with err.
	down bool
	// refuse, when set, may refuse a batch with an error.
	refuse func(uplink.Batch) error
	// ackOverride, when set, replaces the computed ack.
	ackOverride func(through uint64) uint64
	// afterAccept runs after a batch is durable, before the answer.
	afterAccept func()
}

func (c *fakeCloud) Upload(ctx context.Context, b uplink.Batch) (uplink.Ack, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.uploads++
	if c.down {
		return uplink.Ack{}, c.err
	}
	if c.failures > 0 {
		c.failures--
		return uplink.Ack{}, c.err
	}
	if c.refuse != nil {
		if err := c.refuse(b); err != nil {
			return uplink.Ack{}, err
		}
	}
	if c.bySeq == nil {
		c.bySeq, c.arrived = map[uint64]fleet.Record{}, map[uint64]time.Time{}
	}
	for i, r := range b.Records {
		if i > 0 && r.Seq <= b.Records[i-1].Seq {
			return uplink.Ack{}, &uplink.StatusError{Code: 400, Message: "seq not increasing"}
		}
		if prev, ok := c.bySeq[r.Seq]; ok {
			if !cmp.Equal(prev, r) {
				return uplink.Ack{}, fmt.Errorf("seq %d resent with different content", r.Seq)
			}
			c.resent = append(c.resent, r.Seq)
			continue
		}
		c.bySeq[r.Seq] = r
		c.accepted = append(c.accepted, r)
		if c.clk != nil {
			c.arrived[r.Seq] = c.clk.Now()
		}
	}
	c.batches = append(c.batches, b)
	through := b.Records[len(b.Records)-1].Seq
	if c.ackOverride != nil {
		through = c.ackOverride(through)
	}
	if c.afterAccept != nil {
		c.afterAccept()
	}
	return uplink.Ack{Through: through}, nil
}

func (c *fakeCloud) snapshot() (accepted []uint64, resent []uint64, uploads int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return seqs(c.accepted), append([]uint64(nil), c.resent...), c.uploads
}

func appendN(t *testing.T, st *Store, n int) {
	t.Helper()
	var recs []fleet.Record
	for i := range n {
		recs = append(recs, gapRec(uint64(i+1)))
	}
	if err := st.Outbox().Append(t.Context(), recs...); err != nil {
		t.Fatal(err)
	}
}

func upTo(n int) []uint64 {
	var s []uint64
	for i := 1; i <= n; i++ {
		s = append(s, uint64(i))
	}
	return s
}

func TestUploaderRetriesUntilSuccess(t *testing.T) {
	st, _ := openStore(t)
	appendN(t, st, 5)
	cloud := &fakeCloud{failures: 3, err: errors.New("503 service unavailable")}
	clk := clock.NewManual(t0)
	u := NewUploader(st, cloud, UploaderOptions{Clock: clk})
	ctx := t.Context()

	for i := range 3 {
		sent, err := u.UploadOnce(ctx)
		if err == nil || !strings.Contains(err.Error(), "503") || sent != 0 {
			t.Fatalf("attempt %d: UploadOnce() = %d, %v; want the cloud's error", i+1, sent, err)
		}
		if n, _ := st.Outbox().PendingCount(ctx); n != 5 {
			t.Fatalf("attempt %d: %d records pending, want all 5 kept", i+1, n)
		}
	}
	us, err := st.UplinkState(ctx)
	if err != nil || !strings.Contains(us.LastError, "503") || !us.LastErrorAt.Equal(t0) {
		t.Errorf("UplinkState() = %+v, %v; want the failure recorded", us, err)
	}

	clk.Advance(time.Minute)
	sent, err := u.UploadOnce(ctx)
	if err != nil || sent != 5 {
		t.Fatalf("UploadOnce() = %d, %v; want 5, nil", sent, err)
	}
	accepted, resent, _ := cloud.snapshot()
	if diff := cmp.Diff(upTo(5), accepted); diff != "" {
		t.Errorf("cloud received (-want +got):\n%s", diff)
	}
	if len(resent) != 0 {
		t.Errorf("resent %v, want none", resent)
	}
	if n, _ := st.Outbox().PendingCount(ctx); n != 0 {
		t.Errorf("%d records pending after success, want 0", n)
	}
	if us, _ := st.UplinkState(ctx); us.LastError != "" || !us.LastSuccess.Equal(t0.Add(time.Minute)) {
		t.Errorf("UplinkState() = %+v, want success at %v and no error", us, t0.Add(time.Minute))
	}
	if sent, err := u.UploadOnce(ctx); sent != 0 || err != nil {
		t.Errorf("UploadOnce() with an empty outbox = %d, %v; want 0, nil", sent, err)
	}
}

func TestUploaderSurvivesCrashBetweenUploadAndAck(t *testing.T) {
	st, path := openStore(t)
	appendN(t, st, 4)
	cloud := &fakeCloud{}
	// The gateway dies after the cloud made the batch durable but before
	// the gateway stored the ack.
	cloud.afterAccept = func() { st.Close() }
	u := NewUploader(st, cloud, UploaderOptions{BatchSize: 3})
	if _, err := u.UploadOnce(t.Context()); err == nil {
		t.Fatal("UploadOnce() succeeded although the store closed before the ack")
	}

	st2, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	cloud.mu.Lock()
	cloud.afterAccept = nil
	cloud.mu.Unlock()
	appendN(t, st2, 2) // collection went on after the restart: seqs 5, 6
	u2 := NewUploader(st2, cloud, UploaderOptions{BatchSize: 3})
	for range 3 {
		if _, err := u2.UploadOnce(t.Context()); err != nil {
			t.Fatalf("UploadOnce() after restart: %v", err)
		}
	}
	accepted, resent, _ := cloud.snapshot()
	if diff := cmp.Diff(upTo(6), accepted); diff != "" {
		t.Errorf("cloud received, first arrivals (-want +got):\n%s", diff)
	}
	// The only duplicates are the exact resends of the unacknowledged batch
	// (the fake cloud refuses a resend with different content).
	if diff := cmp.Diff([]uint64{1, 2, 3}, resent); diff != "" {
		t.Errorf("resent (-want +got):\n%s", diff)
	}
	if n, _ := st2.Outbox().PendingCount(t.Context()); n != 0 {
		t.Errorf("%d records pending, want 0", n)
	}
}

func TestUploaderAcks(t *testing.T) {
	tests := []struct {
		name        string
		ack         func(through uint64) uint64
		wantSent    int
		wantErr     string
		wantPending int
	}{
		{"partial ack", func(uint64) uint64 { return 2 }, 2, "", 3},
		{"ack of nothing", func(uint64) uint64 { return 0 }, 0, "acknowledged none", 5},
		{"ack beyond what was sent", func(uint64) uint64 { return 99 }, 5, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, _ := openStore(t)
			appendN(t, st, 5)
			u := NewUploader(st, &fakeCloud{ackOverride: tt.ack}, UploaderOptions{})
			sent, err := u.UploadOnce(t.Context())
			if sent != tt.wantSent || (err == nil) != (tt.wantErr == "") || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("UploadOnce() = %d, %v; want %d, error %q", sent, err, tt.wantSent, tt.wantErr)
			}
			if n, _ := st.Outbox().PendingCount(t.Context()); n != tt.wantPending {
				t.Errorf("%d records pending, want %d", n, tt.wantPending)
			}
		})
	}
}

func TestUploaderCorruptOutbox(t *testing.T) {
	st, _ := openStore(t)
	appendN(t, st, 1)
	if _, err := st.db.Exec(`UPDATE outbox SET record = 'garbage'`); err != nil {
		t.Fatal(err)
	}
	cloud := &fakeCloud{}
	u := NewUploader(st, cloud, UploaderOptions{})
	if _, err := u.UploadOnce(t.Context()); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("UploadOnce() error = %v, want the corruption reported", err)
	}
	if _, _, n := cloud.snapshot(); n != 0 {
		t.Errorf("%d uploads of a corrupt outbox, want 0", n)
	}
	if us, _ := st.UplinkState(t.Context()); !strings.Contains(us.LastError, "corrupt") {
		t.Errorf("UplinkState().LastError = %q, want the corruption shown", us.LastError)
	}
}

// failingAcks is an outbox whose acknowledgements fail: the disk went
// away between reading a batch and deleting it.
type failingAcks struct{ Queue }

func (failingAcks) AckSeqs(context.Context, []uint64) error { return errors.New("disk I/O error") }

// An ack the outbox cannot store fails the upload and keeps the records:
// the next upload sends them again, which the cloud deduplicates.
func TestUploaderAckNotStored(t *testing.T) {
	st, _ := openStore(t)
	appendN(t, st, 2)
	cloud := &fakeCloud{}
	u := NewUploader(st, cloud, UploaderOptions{Queue: failingAcks{st.Outbox()}})
	if _, err := u.UploadOnce(t.Context()); err == nil || !strings.Contains(err.Error(), "disk I/O error") {
		t.Fatalf("UploadOnce() = %v, want the failed ack reported", err)
	}
	if n, err := st.Outbox().PendingCount(t.Context()); err != nil || n != 2 {
		t.Errorf("PendingCount() = %d, %v; want both records kept", n, err)
	}
	if _, err := NewUploader(st, cloud, UploaderOptions{}).UploadOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if accepted, resent, _ := cloud.snapshot(); len(accepted) != 2 || len(resent) != 2 {
		t.Errorf("cloud accepted %v, resent %v; want both records sent twice", accepted, resent)
	}
	if n, _ := st.Outbox().PendingCount(t.Context()); n != 0 {
		t.Errorf("PendingCount() after a stored ack = %d, want 0", n)
	}
}

func TestUploadBackoff(t *testing.T) {
	const base, maxWait = 5 * time.Second, 5 * time.Minute
	tests := []struct {
		n        int
		r        float64
		want     time.Duration
		wantNote string
	}{
		{1, 0.999999, 2500 * time.Millisecond, "half the base at the high end of the jitter"},
		{1, 0, 5 * time.Second, "the base at the low end"},
		{3, 0.999999, 10 * time.Second, "doubles per failure"},
		{20, 0.999999, 150 * time.Second, "capped"},
		{20, 0, maxWait, "capped at the low end"},
	}
	st, _ := openStore(t)
	for _, tt := range tests {
		t.Run(tt.wantNote, func(t *testing.T) {
			u := NewUploader(st, nil, UploaderOptions{Interval: base, MaxBackoff: maxWait, Rand: func() float64 { return tt.r }})
			got := u.backoff.Delay(tt.n)
			if got.Round(time.Millisecond) != tt.want {
				t.Errorf("backoff after %d failures (r=%v) = %v, want %v", tt.n, tt.r, got, tt.want)
			}
		})
	}
}

// elapse lets d of a synctest bubble's fake time pass, then waits until
// every goroutine of the bubble is blocked again: a simulated minute takes
// no real time.
func elapse(d time.Duration) {
	<-time.After(d)
	synctest.Wait()
}

// afterT0 moves a bubble's fake time, which starts in 2000, to an hour
// after t0, so that the tests' records are in the past.
func afterT0() { elapse(time.Until(t0.Add(time.Hour))) }

func TestUploaderRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		afterT0()
		st, _ := openStore(t)
		appendN(t, st, 7)
		cloud := &fakeCloud{failures: 1, err: errors.New("connection reset")}
		// Interval is long: only full batches and retries may follow at once.
		u := NewUploader(st, cloud, UploaderOptions{Interval: time.Hour, BatchSize: 3, MaxBackoff: 20 * time.Millisecond})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- u.Run(ctx) }()
		// The retry comes within MaxBackoff, the three batches at once after it.
		elapse(time.Minute)
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v, want nil after cancel", err)
		}
		accepted, resent, uploads := cloud.snapshot()
		if diff := cmp.Diff(upTo(7), accepted); diff != "" {
			t.Errorf("cloud received (-want +got):\n%s", diff)
		}
		if len(resent) != 0 || uploads != 4 {
			t.Errorf("resent %v in %d uploads, want none in 4 (1 failure + 3 batches)", resent, uploads)
		}
	})
}

func TestUploaderRunWaitsLongAfterPermanentError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		afterT0()
		st, _ := openStore(t)
		appendN(t, st, 1)
		cloud := &fakeCloud{failures: 1, err: errors.New("403 gateway revoked")}
		u := NewUploader(st, cloud, UploaderOptions{
			Interval: time.Millisecond, MaxBackoff: time.Hour,
			Retryable: func(err error) bool { return !strings.Contains(err.Error(), "revoked") },
		})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- u.Run(ctx) }()
		elapse(59 * time.Minute)
		if _, _, uploads := cloud.snapshot(); uploads != 1 {
			t.Errorf("%d uploads within 59 min after a permanent error, want 1 (next try after MaxBackoff)", uploads)
		}
		// The retry comes at MaxBackoff sharp; after it the uploader looks
		// for records every millisecond, so little time passes.
		elapse(time.Minute + 10*time.Millisecond)
		if accepted, _, uploads := cloud.snapshot(); uploads != 2 || len(accepted) != 1 {
			t.Errorf("%d uploads, %d records accepted after MaxBackoff, want the retry to deliver the record", uploads, len(accepted))
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v, want nil", err)
		}
	})
}

func TestBatchRecordsAreValidJSON(t *testing.T) {
	// What the uploader hands to the cloud encodes and decodes unchanged.
	st, _ := openStore(t)
	appendN(t, st, 2)
	recs := pending(t, st)
	b, err := json.Marshal(uplink.Batch{Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	var got uplink.Batch
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(recs, got.Records); diff != "" {
		t.Errorf("batch round trip (-want +got):\n%s", diff)
	}
}

func newTestEncoder(tb testing.TB) func([]byte) []byte {
	tb.Helper()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		tb.Fatal(err)
	}
	return func(b []byte) []byte { return enc.EncodeAll(b, nil) }
}

// counting wraps a listener and counts the bytes of every connection both
// ways: the TCP payload.
type countingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []*countingConn
}

type countingConn struct {
	net.Conn
	n atomic.Int64
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.n.Add(int64(n))
	return n, err
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	cc := &countingConn{Conn: c}
	l.mu.Lock()
	l.conns = append(l.conns, cc)
	l.mu.Unlock()
	return cc, nil
}

// TestWireOverhead measures what an upload costs on the wire beyond its
// body, with the real uplink client over real TLS, and checks the
// constants the bandwidth cap counts with cover it.
func TestWireOverhead(t *testing.T) {
	var mu sync.Mutex
	var bodies []int
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, len(b))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, `{"through":1}`+"\n")
	}))
	l := &countingListener{Listener: srv.Listener}
	srv.Listener = l
	srv.StartTLS()
	pool := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	c, err := uplink.NewClient(srv.URL, uplink.ClientOptions{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	cred := uplink.Credentials{GatewayID: "gw-0123456789abcdef", Key: key}
	rec := statusRec("printer-0001", t0)
	rec.Seq = 1
	for range 3 {
		if _, err := c.Upload(t.Context(), cred, uplink.Batch{Records: []fleet.Record{rec}}); err != nil {
			t.Fatal(err)
		}
	}
	srv.Close() // waits for the connections to end
	if len(l.conns) != 3 {
		t.Fatalf("%d connections for 3 uploads, want one each", len(l.conns))
	}
	for i, cc := range l.conns {
		overhead := int(cc.n.Load()) - bodies[i]
		want, what := connOverheadResumed, "resumed"
		if i == 0 {
			want, what = connOverheadFull, "full handshake"
		}
		t.Logf("connection %d (%s): %d bytes, body %d, overhead %d; counted as %d", i+1, what, cc.n.Load(), bodies[i], overhead, want)
		if overhead+tlsRecordOverhead > want {
			t.Errorf("connection %d (%s): overhead %d bytes exceeds the constant %d", i+1, what, overhead, want)
		}
		if float64(want) > 1.6*float64(overhead) {
			t.Errorf("connection %d (%s): constant %d is far above the measured %d: measure again", i+1, what, want, overhead)
		}
	}
}

func TestPriorityBatchAcksOnlyWhatItCarried(t *testing.T) {
	st, _ := openStore(t)
	ctx := t.Context()
	clk := clock.NewManual(t0)
	cloud := &fakeCloud{clk: clk}
	u := NewUploader(st, cloud, UploaderOptions{Clock: clk})
	step := func() {
		t.Helper()
		if _, err := u.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Outbox().Append(ctx, layerRec("printer-0001", 1, t0)); err != nil {
		t.Fatal(err)
	}
	step() // bulk: [1]; the next bulk is due in 5 minutes
	if err := st.Outbox().Append(ctx, layerRec("printer-0001", 2, t0), layerRec("printer-0001", 3, t0), statusRec("printer-0001", t0)); err != nil {
		t.Fatal(err)
	}
	step() // nothing due: the status waits for company
	clk.Advance(10 * time.Second)
	step() // priority: [4], acknowledged through 4
	if diff := cmp.Diff([]uint64{2, 3}, seqs(pending(t, st))); diff != "" {
		t.Fatalf("pending after the priority batch (-want +got):\n%s", diff)
	}
	clk.Advance(5 * time.Minute)
	step() // bulk: [2 3]
	accepted, resent, _ := cloud.snapshot()
	if diff := cmp.Diff([]uint64{1, 4, 2, 3}, accepted); diff != "" || len(resent) != 0 {
		t.Errorf("cloud received (-want +got):\n%s, resent %v", diff, resent)
	}
	// An alert does not wait.
	if err := st.Outbox().Append(ctx, eventRec("printer-0001", fleet.SeverityCritical, clk.Now())); err != nil {
		t.Fatal(err)
	}
	step()
	if accepted, _, _ := cloud.snapshot(); len(accepted) != 5 {
		t.Errorf("alert not sent at once: cloud has %v", accepted)
	}
}

func TestQuarantine(t *testing.T) {
	st, _ := openStore(t)
	ctx := t.Context()
	appendN(t, st, 6)
	cloud := &fakeCloud{refuse: func(b uplink.Batch) error {
		for _, r := range b.Records {
			if r.Seq == 3 {
				return &uplink.StatusError{Code: 400, Message: "record 0 (seq 3): invalid"}
			}
		}
		return nil
	}}
	clk := clock.NewManual(t0.Add(time.Hour)) // the records are old: bulk
	u := NewUploader(st, cloud, UploaderOptions{Clock: clk, BatchSize: 2, Retryable: uplink.Retryable})
	for range 4 {
		if _, err := u.Step(ctx); err != nil && !errors.Is(err, errQuarantined) {
			t.Fatal(err)
		}
	}
	accepted, _, _ := cloud.snapshot()
	if diff := cmp.Diff([]uint64{1, 2, 5, 6}, accepted); diff != "" {
		t.Errorf("cloud received (-want +got):\n%s", diff)
	}
	qs, err := st.Outbox().Quarantined(ctx)
	if err != nil || len(qs) != 1 || qs[0].FirstSeq != 3 || qs[0].LastSeq != 4 || qs[0].Held != 2 ||
		!strings.Contains(qs[0].Reason, "400") {
		t.Fatalf("Quarantined() = %+v, %v; want records 3–4 with the cloud's reason", qs, err)
	}
	if n, _ := st.Outbox().PendingCount(ctx); n != 0 {
		t.Errorf("%d records pending, want none: the quarantined batch is not retried", n)
	}
	ups, err := st.Uploads(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []UploadOutcome
	for _, e := range ups {
		outcomes = append(outcomes, e.Outcome)
		if e.Kind != TransferData || e.Path != "" {
			t.Errorf("upload %d: kind %q, path %q; want a data transfer", e.ID, e.Kind, e.Path)
		}
	}
	want := []UploadOutcome{UploadAcknowledged, UploadQuarantined, UploadAcknowledged}
	if diff := cmp.Diff(want, outcomes); diff != "" {
		t.Errorf("upload log, newest first (-want +got):\n%s", diff)
	}
	// Released once the cloud takes it, it flows again.
	cloud.mu.Lock()
	cloud.refuse = nil
	cloud.mu.Unlock()
	if err := st.Outbox().ReleaseQuarantine(ctx, qs[0].ID, clk.Now()); err != nil {
		t.Fatal(err)
	}
	clk.Advance(10 * time.Minute)
	if _, err := u.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if accepted, _, _ := cloud.snapshot(); len(accepted) != 6 {
		t.Errorf("after release the cloud has %v, want all 6", accepted)
	}
}

func TestTooLargeBatchIsSplit(t *testing.T) {
	st, _ := openStore(t)
	ctx := t.Context()
	appendN(t, st, 5)
	cloud := &fakeCloud{refuse: func(b uplink.Batch) error {
		if len(b.Records) > 1 || b.Records[0].Seq == 5 {
			return &uplink.StatusError{Code: 413, Message: "too large"}
		}
		return nil
	}}
	clk := clock.NewManual(t0.Add(time.Hour))
	u := NewUploader(st, cloud, UploaderOptions{Clock: clk, BatchSize: 4})
	for range 20 {
		if _, err := u.Step(ctx); err != nil && !errors.Is(err, errQuarantined) && !strings.Contains(err.Error(), "413") {
			t.Fatal(err)
		}
	}
	accepted, _, _ := cloud.snapshot()
	if diff := cmp.Diff([]uint64{1, 2, 3, 4}, accepted); diff != "" {
		t.Errorf("cloud received (-want +got):\n%s", diff)
	}
	// A single record too large for the cloud cannot be split: quarantined.
	if qs, _ := st.Outbox().Quarantined(ctx); len(qs) != 1 || qs[0].FirstSeq != 5 {
		t.Errorf("Quarantined() = %+v, want record 5", qs)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	st, _ := openStore(t)
	appendN(t, st, 1)
	cloud := &fakeCloud{failures: 1, err: &uplink.StatusError{Code: 429, RetryAfter: 90 * time.Second}}
	clk := clock.NewManual(t0.Add(time.Hour)) // an old record: bulk, due at once
	u := NewUploader(st, cloud, UploaderOptions{Clock: clk, Retryable: uplink.Retryable})
	wait, err := u.Step(t.Context())
	if err == nil || wait != 90*time.Second {
		t.Errorf("Step() after 429 = %v, %v; want to wait the 90 s asked for", wait, err)
	}
	clk.Advance(time.Minute)
	if wait, err := u.Step(t.Context()); err != nil || wait != 30*time.Second {
		t.Errorf("Step() a minute later = %v, %v; want 30 s more and no upload", wait, err)
	}
}

func TestUploadLogShowsWhatWasSent(t *testing.T) {
	st, _ := openStore(t)
	ctx := t.Context()
	clk := clock.NewManual(t0)
	if err := st.Outbox().Append(ctx, statusRec("printer-0001", t0), eventRec("printer-0001", fleet.SeverityError, t0), gapRec(1)); err != nil {
		t.Fatal(err)
	}
	cloud := &fakeCloud{}
	u := NewUploader(st, cloud, UploaderOptions{Clock: clk})
	if n, err := u.UploadOnce(ctx); err != nil || n != 3 {
		t.Fatalf("UploadOnce() = %d, %v", n, err)
	}
	ups, err := st.Uploads(ctx, 10)
	if err != nil || len(ups) != 1 {
		t.Fatalf("Uploads() = %v, %v", ups, err)
	}
	e := ups[0]
	wantKinds := map[fleet.Kind]int{fleet.KindStatus: 1, fleet.KindEvent: 1, fleet.KindGap: 1}
	if diff := cmp.Diff(wantKinds, e.Kinds); diff != "" || !e.Priority || e.Outcome != UploadAcknowledged ||
		!e.HasPayload || e.BodyBytes <= 0 || e.WireBytes < connOverheadFull+e.BodyBytes || !e.At.Equal(t0) {
		t.Errorf("upload entry %+v, kinds (-want +got):\n%s", e, diff)
	}
	d, err := st.Upload(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	cloud.mu.Lock()
	sent := cloud.batches[0]
	cloud.mu.Unlock()
	if diff := cmp.Diff(sent, d.Batch); diff != "" {
		t.Errorf("logged payload differs from what the cloud received (-want +got):\n%s", diff)
	}
	wantRaw, _ := json.Marshal(sent)
	if string(d.Payload) != string(wantRaw) {
		t.Errorf("logged payload JSON differs from the JSON sent")
	}
	if _, err := st.Upload(ctx, 999); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("Upload(999): %v, want ErrNotFound", err)
	}
	if _, err := st.db.ExecContext(ctx, `UPDATE uploads SET payload = x'00'`); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Upload(ctx, e.ID); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("Upload with a corrupt payload: %v", err)
	}
	if _, err := st.db.ExecContext(ctx, `UPDATE uploads SET kinds = 'x'`); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Uploads(ctx, 10); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("Uploads with a corrupt entry: %v", err)
	}
	// The log keeps its newest entries only.
	u2 := NewUploader(st, cloud, UploaderOptions{Clock: clk, UploadLog: 2})
	for range 3 {
		appendN(t, st, 1)
		if _, err := u2.UploadOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := st.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM uploads`).Scan(&n); err != nil || n != 2 {
		t.Errorf("upload log holds %d entries, %v; want 2", n, err)
	}
}

// A status record that carries a change of its printer's state goes within
// ChangeDelay, taking the routine status waiting with it; routine status
// alone waits up to PriorityDelay for company.
func TestStateChangeGoesSooner(t *testing.T) {
	type appended struct {
		at     time.Duration // after t0
		pid    fleet.PrinterID
		change bool
	}
	tests := []struct {
		name     string
		appends  []appended
		opts     UploaderOptions
		notUntil time.Duration // nothing is sent before
		sent     int           // records in the one upload at notUntil
	}{
		{"routine status waits for company", []appended{{0, "printer-0001", false}}, UploaderOptions{}, 10 * time.Second, 1},
		{"a change goes after the change delay", []appended{{0, "printer-0001", true}}, UploaderOptions{}, 2 * time.Second, 1},
		{"a change takes the routine status along", []appended{{0, "printer-0001", false}, {3 * time.Second, "printer-0002", true}},
			UploaderOptions{}, 5 * time.Second, 2},
		{"changes of several printers share an upload", []appended{{0, "printer-0001", true}, {time.Second, "printer-0002", true}},
			UploaderOptions{}, 2 * time.Second, 2},
		{"the change delay is the option's", []appended{{0, "printer-0001", true}}, UploaderOptions{ChangeDelay: 4 * time.Second}, 4 * time.Second, 1},
		{"never later than the priority delay", []appended{{0, "printer-0001", true}},
			UploaderOptions{PriorityDelay: 3 * time.Second, ChangeDelay: 8 * time.Second}, 3 * time.Second, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, _ := openStore(t)
			ctx := t.Context()
			clk := clock.NewManual(t0)
			cloud := &fakeCloud{clk: clk}
			tt.opts.Clock = clk
			u := NewUploader(st, cloud, tt.opts)
			// Advance the clock to t0+at in steps of 100 ms, stepping the
			// uploader at each, appending what is due.
			next := 0
			runTo := func(at time.Duration) {
				t.Helper()
				for clk.Now().Sub(t0) <= at {
					for next < len(tt.appends) && tt.appends[next].at <= clk.Now().Sub(t0) {
						a := tt.appends[next]
						rec := statusRec(a.pid, t0.Add(a.at))
						if err := st.inTx(ctx, func(tx *sql.Tx) error { return st.ob.AppendTx(ctx, tx, []fleet.Record{rec}, a.change) }); err != nil {
							t.Fatal(err)
						}
						next++
					}
					if _, err := u.Step(ctx); err != nil {
						t.Fatal(err)
					}
					if clk.Now().Sub(t0) == at {
						return
					}
					clk.Advance(100 * time.Millisecond)
				}
			}
			runTo(tt.notUntil - 100*time.Millisecond)
			if _, _, uploads := cloud.snapshot(); uploads != 0 {
				t.Fatalf("%d uploads before %v, want none", uploads, tt.notUntil)
			}
			runTo(tt.notUntil)
			accepted, _, uploads := cloud.snapshot()
			if uploads != 1 || len(accepted) != tt.sent {
				t.Errorf("at %v: %d uploads carrying %d records, want 1 carrying %d", tt.notUntil, uploads, len(accepted), tt.sent)
			}
		})
	}
}

// A clock set back (by hand, or by a time service after a jump ahead)
// moves the upload schedule back with it: a retry due in seconds is due
// in seconds still, and the rate cap refills from the new time. Before,
// uploads waited for the clock to catch up: two days for a clock set back
// by two days (found by site's TestClockJumps).
func TestUploaderFollowsClockBack(t *testing.T) {
	st, _ := openStore(t)
	appendN(t, st, 5)
	cloud := &fakeCloud{failures: 1, err: errors.New("503 service unavailable")}
	clk := clock.NewManual(t0.Add(48 * time.Hour))
	u := NewUploader(st, cloud, UploaderOptions{Clock: clk, Interval: time.Second, MaxBackoff: time.Minute})
	ctx := t.Context()
	if _, err := u.UploadOnce(ctx); err == nil {
		t.Fatal("the first upload succeeded; want the cloud's 503")
	}
	clk.Set(t0) // two days back
	wait, err := u.Step(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if wait > time.Minute {
		t.Fatalf("after the clock went back two days, the next step waits %v; want at most the backoff", wait)
	}
	for range 100 {
		clk.Advance(time.Second)
		if _, err := u.Step(ctx); err != nil {
			t.Fatal(err)
		}
		if n, _ := st.Outbox().PendingCount(ctx); n == 0 {
			break
		}
	}
	if n, _ := st.Outbox().PendingCount(ctx); n != 0 {
		t.Errorf("%d records pending 100 s after the clock went back, want 0", n)
	}
}

// The rate cap's bucket refills from a clock that went back instead of
// waiting for it to catch up.
func TestTokenBucketClockBack(t *testing.T) {
	b := tokenBucket{rate: 100, burst: 1000}
	b.refill(t0.Add(time.Hour))
	b.take(1000)
	b.refill(t0) // an hour back
	b.refill(t0.Add(5 * time.Second))
	if !b.has(500) {
		t.Errorf("5 s after the clock went back, the bucket holds %v tokens; want 500", b.tokens)
	}
}

// stoppingCloud ends the uploader's context while an upload is in flight,
// as the node's stop does, and fails the upload.
type stoppingCloud struct{ cancel context.CancelFunc }

func (c stoppingCloud) Upload(ctx context.Context, _ uplink.Batch) (uplink.Ack, error) {
	c.cancel()
	return uplink.Ack{}, ctx.Err()
}

// The soak's log audit found two warnings at every stop: the upload the
// stop cut short could not be logged, nor its outcome recorded, since the
// store refuses a write under an ended context. Neither is a failure.
func TestUploaderStopIsNoWarning(t *testing.T) {
	st, _ := openStore(t)
	appendN(t, st, 5)
	var logs bytes.Buffer
	ctx, cancel := context.WithCancel(t.Context())
	u := NewUploader(st, stoppingCloud{cancel}, UploaderOptions{Clock: clock.NewManual(t0),
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if _, err := u.UploadOnce(ctx); err == nil {
		t.Fatal("UploadOnce cut short by the stop: no error")
	}
	if logs.Len() > 0 {
		t.Errorf("warnings at the stop:\n%s", logs.String())
	}
	if n, _ := st.Outbox().PendingCount(t.Context()); n != 5 {
		t.Errorf("%d records pending, want all 5 kept for the next start", n)
	}
}
