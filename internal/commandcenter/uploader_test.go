package commandcenter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
	"github.com/google/go-cmp/cmp"
)

// fakeCloud keeps what it accepted, deduplicated by seq as the real cloud
// is, and acknowledges the highest seq it holds without a hole.
type fakeCloud struct {
	mu       sync.Mutex
	failures int                     // fail this many uploads before accepting
	err      error                   // the failure
	accepted []fleet.Record          // in order of first arrival
	bySeq    map[uint64]fleet.Record // accepted, by seq
	resent   []uint64                // seqs that arrived again
	uploads  int
	// ackOverride, when set, replaces the computed ack.
	ackOverride func(through uint64) uint64
	// afterAccept runs after a batch is durable, before the answer.
	afterAccept func()
}

func (c *fakeCloud) Upload(ctx context.Context, b uplink.Batch) (uplink.Ack, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.uploads++
	if c.failures > 0 {
		c.failures--
		return uplink.Ack{}, c.err
	}
	if c.bySeq == nil {
		c.bySeq = map[uint64]fleet.Record{}
	}
	for _, r := range b.Records {
		if prev, ok := c.bySeq[r.Seq]; ok {
			if !cmp.Equal(prev, r) {
				return uplink.Ack{}, fmt.Errorf("seq %d resent with different content", r.Seq)
			}
			c.resent = append(c.resent, r.Seq)
			continue
		}
		c.bySeq[r.Seq] = r
		c.accepted = append(c.accepted, r)
	}
	var through uint64
	for c.bySeq[through+1].Seq == through+1 && through+1 <= uint64(len(c.bySeq)) {
		through++
	}
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
	if err := st.Append(t.Context(), recs...); err != nil {
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
		if n, _ := st.PendingCount(ctx); n != 5 {
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
	if n, _ := st.PendingCount(ctx); n != 0 {
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
	if n, _ := st2.PendingCount(t.Context()); n != 0 {
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
			if n, _ := st.PendingCount(t.Context()); n != tt.wantPending {
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

func TestUploadBackoff(t *testing.T) {
	const base, maxWait = 5 * time.Second, 5 * time.Minute
	tests := []struct {
		n        int
		r        float64
		want     time.Duration
		wantNote string
	}{
		{1, 0, 2500 * time.Millisecond, "half the base at the low end of the jitter"},
		{1, 0.999999, 5 * time.Second, "the base at the high end"},
		{3, 0, 10 * time.Second, "doubles per failure"},
		{20, 0, 150 * time.Second, "capped"},
		{20, 0.999999, maxWait, "capped at the high end"},
	}
	for _, tt := range tests {
		t.Run(tt.wantNote, func(t *testing.T) {
			got := uploadBackoff(base, maxWait, tt.n, tt.r)
			if got.Round(time.Millisecond) != tt.want {
				t.Errorf("uploadBackoff(n=%d, r=%v) = %v, want %v", tt.n, tt.r, got, tt.want)
			}
		})
	}
}

func TestUploaderRun(t *testing.T) {
	st, _ := openStore(t)
	appendN(t, st, 7)
	cloud := &fakeCloud{failures: 1, err: errors.New("connection reset")}
	// Interval is long: only full batches and retries may follow at once.
	u := NewUploader(st, cloud, UploaderOptions{Interval: time.Hour, BatchSize: 3, MaxBackoff: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- u.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		accepted, _, _ := cloud.snapshot()
		if len(accepted) == 7 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out; cloud has %v", accepted)
		}
		time.Sleep(5 * time.Millisecond)
	}
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
}

func TestUploaderRunWaitsLongAfterPermanentError(t *testing.T) {
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
	time.Sleep(200 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run() = %v, want nil", err)
	}
	if _, _, uploads := cloud.snapshot(); uploads != 1 {
		t.Errorf("%d uploads within 200ms after a permanent error, want 1 (next try after MaxBackoff)", uploads)
	}
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
