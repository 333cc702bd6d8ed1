package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
)

// Diagnostics keeps remote diagnostic requests, their state as the sites
// report it and their results in chunks.
type Diagnostics interface {
	CreateDiagnostic(ctx context.Context, d fleet.Diagnostic) (fleet.Diagnostic, error)
	Diagnostic(ctx context.Context, org fleet.OrgID, id fleet.DiagnosticID) (fleet.Diagnostic, error)
	Diagnostics(ctx context.Context, org fleet.OrgID, p fleet.PrinterID) ([]fleet.Diagnostic, error)
	PendingDiagnostics(ctx context.Context, gw fleet.Gateway, now time.Time) ([]fleet.DiagnosticRequest, error)
	CancelDiagnostic(ctx context.Context, org fleet.OrgID, id fleet.DiagnosticID, now time.Time) (fleet.Diagnostic, error)
	ReportDiagnostic(ctx context.Context, gw fleet.Gateway, r fleet.DiagnosticReport, now time.Time) (fleet.Diagnostic, error)
	PutDiagnosticChunk(ctx context.Context, gw fleet.Gateway, c fleet.DiagnosticChunkData, now time.Time) (fleet.Diagnostic, error)
	DiagnosticResult(ctx context.Context, org fleet.OrgID, id fleet.DiagnosticID, w io.Writer) error
}

// DiagnosticStore is what RunDiagnostics drives: diagnostics, with
// organisations and ingest to make printers.
type DiagnosticStore interface {
	Diagnostics
	Orgs
	Ingest
	io.Closer
}

// RunDiagnostics runs the diagnostics contract against stores made by
// open: a request travels requested → delivered → approved → running →
// uploading → done with its result in chunks; it is seen only by its
// organisation and its site's gateway; replays change nothing; chunks may
// arrive twice and out of order but never differ; done needs every chunk;
// requests expire and may be cancelled only before the site acts.
func RunDiagnostics(t *testing.T, open func(t *testing.T) DiagnosticStore) {
	runTests(t, open, []storeTest[DiagnosticStore]{
		{"Lifecycle", testDiagnosticLifecycle},
		{"Isolation", testDiagnosticIsolation},
		{"BadChunks", testDiagnosticBadChunks},
		{"ChunksUnderRace", testDiagnosticChunkRace},
		{"ExpireAndCancel", testDiagnosticExpireCancel},
		{"Refused", testDiagnosticRefused},
	})
}

// diagPrinter makes an organisation with a site, a printer reported by a
// gateway of the site, and returns them with that gateway.
func diagPrinter(t *testing.T, db DiagnosticStore, name string) (fleet.OrgID, fleet.PrinterID, fleet.Gateway) {
	t.Helper()
	org, site := tenant(t, db, name)
	p := fleet.PrinterID("printer-" + name)
	apply(t, db, Env(org, site, "gw_"+fleet.GatewayID(name), StatusRecord(1, p, fleet.StateIdle, T0)), 1)
	return org, p, fleet.Gateway{ID: "gw_" + fleet.GatewayID(name), OrgID: org, SiteID: site}
}

// newDiagnostic returns a valid logs request for printer p of org.
func newDiagnostic(t *testing.T, org fleet.OrgID, p fleet.PrinterID) fleet.Diagnostic {
	t.Helper()
	id, err := fleet.NewDiagnosticID()
	if err != nil {
		t.Fatal(err)
	}
	return fleet.Diagnostic{
		DiagnosticRequest: fleet.DiagnosticRequest{ID: id, Kind: fleet.DiagnosticLogs, Logs: []fleet.LogKind{fleet.LogSession, fleet.LogSensors},
			From: T0.Add(-time.Hour), To: T0, MaxBytes: 1 << 20, Requester: "Eve Engineer (Service Co)", Grant: "grant-1",
			Created: T0, Expires: T0.Add(fleet.DiagnosticTTL)},
		Org: org, Printer: p, RequestedBy: "user-eve", RequesterOrg: "org-service",
	}
}

func createDiagnostic(t *testing.T, db Diagnostics, d fleet.Diagnostic) fleet.Diagnostic {
	t.Helper()
	got, err := db.CreateDiagnostic(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func report(t *testing.T, db Diagnostics, gw fleet.Gateway, r fleet.DiagnosticReport, want fleet.DiagnosticState) fleet.Diagnostic {
	t.Helper()
	got, err := db.ReportDiagnostic(t.Context(), gw, r, T0.Add(time.Minute))
	if err != nil {
		t.Fatalf("report %s: %v", r.State, err)
	}
	if got.State != want {
		t.Fatalf("report %s: state %s, want %s", r.State, got.State, want)
	}
	return got
}

// chunksOf splits b as a site does.
func chunksOf(id fleet.DiagnosticID, b []byte) []fleet.DiagnosticChunkData {
	var out []fleet.DiagnosticChunkData
	for i := 0; i < len(b); i += fleet.DiagnosticChunk {
		out = append(out, fleet.DiagnosticChunkData{ID: id, Index: len(out), Data: b[i:min(i+fleet.DiagnosticChunk, len(b))]})
	}
	for i := range out {
		out[i].Chunks = len(out)
	}
	return out
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func testDiagnosticLifecycle(t *testing.T, db DiagnosticStore) {
	ctx := t.Context()
	org, p, gw := diagPrinter(t, db, "acme")
	d := createDiagnostic(t, db, newDiagnostic(t, org, p))
	if d.Site != gw.SiteID || d.PrinterID != p || d.State != fleet.DiagRequested {
		t.Fatalf("created: site %s device %s state %s", d.Site, d.PrinterID, d.State)
	}
	pending, err := db.PendingDiagnostics(ctx, gw, T0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]fleet.DiagnosticRequest{d.DiagnosticRequest}, pending); diff != "" {
		t.Errorf("pending (-want +got):\n%s", diff)
	}
	report(t, db, gw, fleet.DiagnosticReport{ID: d.ID, State: fleet.DiagDelivered}, fleet.DiagDelivered)
	if pending, _ := db.PendingDiagnostics(ctx, gw, T0); len(pending) != 0 {
		t.Errorf("pending after delivery: %v", pending)
	}
	report(t, db, gw, fleet.DiagnosticReport{ID: d.ID, State: fleet.DiagApproved}, fleet.DiagApproved)
	// A replayed approval changes nothing.
	report(t, db, gw, fleet.DiagnosticReport{ID: d.ID, State: fleet.DiagApproved}, fleet.DiagApproved)
	report(t, db, gw, fleet.DiagnosticReport{ID: d.ID, State: fleet.DiagRunning}, fleet.DiagRunning)
	// A late delivered report cannot move it back.
	report(t, db, gw, fleet.DiagnosticReport{ID: d.ID, State: fleet.DiagDelivered}, fleet.DiagRunning)

	result := bytes.Repeat([]byte("line of a device log\n"), 5000) // 105,000 bytes: 4 chunks
	chunks := chunksOf(d.ID, result)
	// Out of order, one twice.
	for _, i := range []int{2, 0, 3, 0} {
		got, err := db.PutDiagnosticChunk(ctx, gw, chunks[i], T0.Add(2*time.Minute))
		if err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		if got.State != fleet.DiagUploading || got.Chunks != 4 {
			t.Errorf("after chunk %d: %s, %d chunks", i, got.State, got.Chunks)
		}
	}
	if got, _ := db.Diagnostic(ctx, org, d.ID); got.Received != 3 {
		t.Errorf("received %d chunks, want 3", got.Received)
	}
	// Done before every chunk is in is refused.
	doneRep := fleet.DiagnosticReport{ID: d.ID, State: fleet.DiagDone, Chunks: 4, Size: int64(len(result)), SHA256: digest(result)}
	if _, err := db.ReportDiagnostic(ctx, gw, doneRep, T0.Add(3*time.Minute)); !errors.Is(err, fleet.ErrConflict) {
		t.Errorf("done with a chunk missing: %v, want ErrConflict", err)
	}
	if err := db.DiagnosticResult(ctx, org, d.ID, io.Discard); !errors.Is(err, fleet.ErrConflict) {
		t.Errorf("result before done: %v, want ErrConflict", err)
	}
	if _, err := db.PutDiagnosticChunk(ctx, gw, chunks[1], T0.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	// A wrong digest is refused too.
	bad := doneRep
	bad.SHA256 = digest([]byte("other"))
	if _, err := db.ReportDiagnostic(ctx, gw, bad, T0.Add(3*time.Minute)); !errors.Is(err, fleet.ErrConflict) {
		t.Errorf("done with a wrong digest: %v, want ErrConflict", err)
	}
	got := report(t, db, gw, doneRep, fleet.DiagDone)
	if got.Size != int64(len(result)) || got.SHA256 != digest(result) || got.Received != 4 {
		t.Errorf("done: size %d sha %s received %d", got.Size, got.SHA256, got.Received)
	}
	// A chunk sent again after done changes nothing.
	if _, err := db.PutDiagnosticChunk(ctx, gw, chunks[3], T0.Add(4*time.Minute)); err != nil {
		t.Errorf("duplicate chunk after done: %v", err)
	}
	var buf bytes.Buffer
	if err := db.DiagnosticResult(ctx, org, d.ID, &buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), result) {
		t.Errorf("result: %d bytes, want the %d uploaded", buf.Len(), len(result))
	}
	// Failing is no longer possible once done.
	report(t, db, gw, fleet.DiagnosticReport{ID: d.ID, State: fleet.DiagFailed, Reason: "late"}, fleet.DiagDone)
	list, err := db.Diagnostics(ctx, org, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != d.ID || list[0].State != fleet.DiagDone {
		t.Errorf("Diagnostics = %+v", list)
	}
}

// testDiagnosticIsolation: another organisation or another site's
// gateway neither sees nor moves a request; an unknown printer or one of
// another organisation cannot be asked.
func testDiagnosticIsolation(t *testing.T, db DiagnosticStore) {
	ctx := t.Context()
	org, p, gw := diagPrinter(t, db, "acme")
	other, op, ogw := diagPrinter(t, db, "globex")
	d := createDiagnostic(t, db, newDiagnostic(t, org, p))
	if _, err := db.Diagnostic(ctx, other, d.ID); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("another org reads: %v", err)
	}
	if _, err := db.CancelDiagnostic(ctx, other, d.ID, T0); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("another org cancels: %v", err)
	}
	if pending, _ := db.PendingDiagnostics(ctx, ogw, T0); len(pending) != 0 {
		t.Errorf("another org's gateway gets %v", pending)
	}
	if _, err := db.ReportDiagnostic(ctx, ogw, fleet.DiagnosticReport{ID: d.ID, State: fleet.DiagApproved}, T0); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("another org's gateway reports: %v", err)
	}
	// Another site of the same organisation.
	site2, err := db.CreateSite(ctx, org, "second plant")
	if err != nil {
		t.Fatal(err)
	}
	gw2 := fleet.Gateway{ID: "gw_second", OrgID: org, SiteID: site2}
	if pending, _ := db.PendingDiagnostics(ctx, gw2, T0); len(pending) != 0 {
		t.Errorf("another site's gateway gets %v", pending)
	}
	if _, err := db.ReportDiagnostic(ctx, gw2, fleet.DiagnosticReport{ID: d.ID, State: fleet.DiagDelivered}, T0); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("another site's gateway reports: %v", err)
	}
	chunk := fleet.DiagnosticChunkData{ID: d.ID, Index: 0, Chunks: 1, Data: []byte("x")}
	if _, err := db.PutDiagnosticChunk(ctx, gw2, chunk, T0); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("another site's gateway uploads: %v", err)
	}
	// Printers of another organisation, or none.
	for _, pr := range []fleet.PrinterID{op, "printer-unknown"} {
		if _, err := db.CreateDiagnostic(ctx, newDiagnostic(t, org, pr)); !errors.Is(err, fleet.ErrNotFound) {
			t.Errorf("request for %s: %v, want ErrNotFound", pr, err)
		}
	}
	_ = gw
	forged := fleet.DiagnosticID("dg_" + "00000000000000000000000000000000")
	if _, err := db.ReportDiagnostic(ctx, gw, fleet.DiagnosticReport{ID: forged, State: fleet.DiagDelivered}, T0); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("unknown ID: %v, want ErrNotFound", err)
	}
	// An invalid request is not stored.
	bad := newDiagnostic(t, org, p)
	bad.To = bad.From.Add(fleet.MaxDiagnosticWindow + time.Hour)
	if _, err := db.CreateDiagnostic(ctx, bad); !errors.Is(err, fleet.ErrRejected) {
		t.Errorf("window too long: %v, want ErrRejected", err)
	}
	if list, _ := db.Diagnostics(ctx, org, p); len(list) != 1 {
		t.Errorf("%d requests stored, want 1", len(list))
	}
}

// testDiagnosticBadChunks: chunks that differ, that declare another count,
// that exceed the request's size, or that come before approval are
// refused and leave nothing behind.
func testDiagnosticBadChunks(t *testing.T, db DiagnosticStore) {
	ctx := t.Context()
	org, p, gw := diagPrinter(t, db, "acme")
	req := newDiagnostic(t, org, p)
	req.MaxBytes = fleet.MinDiagnosticBytes
	d := createDiagnostic(t, db, req)
	chunk := fleet.DiagnosticChunkData{ID: d.ID, Index: 0, Chunks: 1, Data: []byte("a")}
	if _, err := db.PutDiagnosticChunk(ctx, gw, chunk, T0); !errors.Is(err, fleet.ErrConflict) {
		t.Errorf("chunk before approval: %v, want ErrConflict", err)
	}
	report(t, db, gw, fleet.DiagnosticReport{ID: d.ID, State: fleet.DiagDelivered}, fleet.DiagDelivered)
	report(t, db, gw, fleet.DiagnosticReport{ID: d.ID, State: fleet.DiagApproved}, fleet.DiagApproved)
	tooMany := fleet.DiagnosticChunkData{ID: d.ID, Index: 0, Chunks: 2, Data: []byte("a")}
	if _, err := db.PutDiagnosticChunk(ctx, gw, tooMany, T0); !errors.Is(err, fleet.ErrRejected) {
		t.Errorf("more chunks than max_bytes allows: %v, want ErrRejected", err)
	}
	oversized := fleet.DiagnosticChunkData{ID: d.ID, Index: 0, Chunks: 1, Data: make([]byte, fleet.DiagnosticChunk+1)}
	if _, err := db.PutDiagnosticChunk(ctx, gw, oversized, T0); !errors.Is(err, fleet.ErrRejected) {
		t.Errorf("oversized chunk: %v, want ErrRejected", err)
	}
	if _, err := db.PutDiagnosticChunk(ctx, gw, chunk, T0); err != nil {
		t.Fatal(err)
	}
	other := chunk
	other.Data = []byte("b")
	if _, err := db.PutDiagnosticChunk(ctx, gw, other, T0); !errors.Is(err, fleet.ErrConflict) {
		t.Errorf("chunk with other content: %v, want ErrConflict", err)
	}
	if _, err := db.ReportDiagnostic(ctx, gw, fleet.DiagnosticReport{ID: d.ID, State: fleet.DiagUploading, Chunks: 3}, T0); !errors.Is(err, fleet.ErrConflict) {
		t.Errorf("report of another chunk count: %v, want ErrConflict", err)
	}
	got := report(t, db, gw, fleet.DiagnosticReport{ID: d.ID, State: fleet.DiagDone, Chunks: 1, Size: 1, SHA256: digest([]byte("a"))}, fleet.DiagDone)
	var buf bytes.Buffer
	if err := db.DiagnosticResult(ctx, org, d.ID, &buf); err != nil || buf.String() != "a" || got.Received != 1 {
		t.Errorf("result %q, %v; received %d", buf.String(), err, got.Received)
	}
}

// testDiagnosticChunkRace: the same chunks uploaded at once by two
// attempts (a retry overlapping the first) are stored once each.
func testDiagnosticChunkRace(t *testing.T, db DiagnosticStore) {
	ctx := t.Context()
	org, p, gw := diagPrinter(t, db, "acme")
	d := createDiagnostic(t, db, newDiagnostic(t, org, p))
	report(t, db, gw, fleet.DiagnosticReport{ID: d.ID, State: fleet.DiagDelivered}, fleet.DiagDelivered)
	report(t, db, gw, fleet.DiagnosticReport{ID: d.ID, State: fleet.DiagApproved}, fleet.DiagApproved)
	result := bytes.Repeat([]byte("0123456789abcdef"), 4*fleet.DiagnosticChunk/16)
	chunks := chunksOf(d.ID, result)
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(chunks))
	for range 2 {
		for _, c := range chunks {
			wg.Go(func() {
				if _, err := db.PutDiagnosticChunk(ctx, gw, c, T0); err != nil {
					errs <- err
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent chunk: %v", err)
	}
	got := report(t, db, gw, fleet.DiagnosticReport{ID: d.ID, State: fleet.DiagDone, Chunks: len(chunks), Size: int64(len(result)), SHA256: digest(result)}, fleet.DiagDone)
	if got.Received != len(chunks) {
		t.Errorf("received %d, want %d", got.Received, len(chunks))
	}
}

// testDiagnosticExpireCancel: a request not taken up in time expires; one
// delivered may still be cancelled, one approved not.
func testDiagnosticExpireCancel(t *testing.T, db DiagnosticStore) {
	ctx := t.Context()
	org, p, gw := diagPrinter(t, db, "acme")
	stale := createDiagnostic(t, db, newDiagnostic(t, org, p))
	if pending, _ := db.PendingDiagnostics(ctx, gw, stale.Expires.Add(time.Second)); len(pending) != 0 {
		t.Errorf("expired request handed out: %v", pending)
	}
	if got, _ := db.Diagnostic(ctx, org, stale.ID); got.State != fleet.DiagExpired || got.Reason == "" {
		t.Errorf("after expiry: %s %q", got.State, got.Reason)
	}
	report(t, db, gw, fleet.DiagnosticReport{ID: stale.ID, State: fleet.DiagDelivered}, fleet.DiagExpired)

	d := createDiagnostic(t, db, newDiagnostic(t, org, p))
	report(t, db, gw, fleet.DiagnosticReport{ID: d.ID, State: fleet.DiagDelivered}, fleet.DiagDelivered)
	if got, err := db.CancelDiagnostic(ctx, org, d.ID, T0); err != nil || got.State != fleet.DiagCancelled {
		t.Fatalf("cancel delivered: %s, %v", got.State, err)
	}
	// The site's approval crossed the cancellation: the answer says cancelled.
	report(t, db, gw, fleet.DiagnosticReport{ID: d.ID, State: fleet.DiagApproved}, fleet.DiagCancelled)

	// Delivered, but decided on after its expiry: it expires.
	late := createDiagnostic(t, db, newDiagnostic(t, org, p))
	report(t, db, gw, fleet.DiagnosticReport{ID: late.ID, State: fleet.DiagDelivered}, fleet.DiagDelivered)
	if got, err := db.ReportDiagnostic(ctx, gw, fleet.DiagnosticReport{ID: late.ID, State: fleet.DiagApproved}, late.Expires.Add(time.Minute)); err != nil || got.State != fleet.DiagExpired {
		t.Errorf("approved after expiry: %s, %v; want expired", got.State, err)
	}

	a := createDiagnostic(t, db, newDiagnostic(t, org, p))
	report(t, db, gw, fleet.DiagnosticReport{ID: a.ID, State: fleet.DiagDelivered}, fleet.DiagDelivered)
	report(t, db, gw, fleet.DiagnosticReport{ID: a.ID, State: fleet.DiagApproved}, fleet.DiagApproved)
	if _, err := db.CancelDiagnostic(ctx, org, a.ID, T0); !errors.Is(err, fleet.ErrConflict) {
		t.Errorf("cancel approved: %v, want ErrConflict", err)
	}
}

// testDiagnosticRefused: the site refuses, or the run fails with the
// reason; neither takes chunks after.
func testDiagnosticRefused(t *testing.T, db DiagnosticStore) {
	ctx := t.Context()
	org, p, gw := diagPrinter(t, db, "acme")
	d := createDiagnostic(t, db, newDiagnostic(t, org, p))
	// Refusing needs the request delivered first: a site reports both.
	report(t, db, gw, fleet.DiagnosticReport{ID: d.ID, State: fleet.DiagDelivered}, fleet.DiagDelivered)
	got := report(t, db, gw, fleet.DiagnosticReport{ID: d.ID, State: fleet.DiagRefused, Reason: "not during production"}, fleet.DiagRefused)
	if got.Reason != "not during production" {
		t.Errorf("reason %q", got.Reason)
	}
	f := createDiagnostic(t, db, newDiagnostic(t, org, p))
	report(t, db, gw, fleet.DiagnosticReport{ID: f.ID, State: fleet.DiagDelivered}, fleet.DiagDelivered)
	report(t, db, gw, fleet.DiagnosticReport{ID: f.ID, State: fleet.DiagApproved}, fleet.DiagApproved)
	report(t, db, gw, fleet.DiagnosticReport{ID: f.ID, State: fleet.DiagRunning}, fleet.DiagRunning)
	got = report(t, db, gw, fleet.DiagnosticReport{ID: f.ID, State: fleet.DiagFailed, Reason: "printer unreachable: connection refused"}, fleet.DiagFailed)
	if got.Reason != "printer unreachable: connection refused" {
		t.Errorf("reason %q", got.Reason)
	}
	if _, err := db.PutDiagnosticChunk(ctx, gw, fleet.DiagnosticChunkData{ID: f.ID, Chunks: 1, Data: []byte("x")}, T0); !errors.Is(err, fleet.ErrConflict) {
		t.Errorf("chunk after failure: %v, want ErrConflict", err)
	}
}
