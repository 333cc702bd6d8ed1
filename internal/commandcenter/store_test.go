package commandcenter

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	fpA = deviceapi.Fingerprint("AA:BB")
	fpB = deviceapi.Fingerprint("CC:DD")
)

func openStore(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cc.db")
	st, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st, path
}

// gapRec is a minimal valid record for outbox tests.
func gapRec(n uint64) fleet.Record {
	return fleet.Record{Kind: fleet.KindGap, PrinterID: "printer-0001", Time: t0,
		Gap: &fleet.Gap{Feed: "events", Reason: "test", FromSeq: n, ToSeq: n}}
}

func seqs(recs []fleet.Record) []uint64 {
	var s []uint64
	for _, r := range recs {
		s = append(s, r.Seq)
	}
	return s
}

func pending(t *testing.T, st *Store) []fleet.Record {
	t.Helper()
	recs, err := st.Pending(t.Context(), 10000)
	if err != nil {
		t.Fatalf("Pending: %v", err)
	}
	return recs
}

func TestOpenCreatesPrivateFile(t *testing.T) {
	_, path := openStore(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got&0o077 != 0 {
		t.Errorf("database file mode = %v, want no group or other access", got)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
		want string
	}{
		{"empty path", "", "want a file path"},
		{"query in path", filepath.Join(dir, "x.db?mode=ro"), "without '?'"},
		{"missing directory", filepath.Join(dir, "no", "such", "x.db"), "open store"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(t.Context(), tt.path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open(%q) error = %v, want it to mention %q", tt.path, err, tt.want)
			}
		})
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	st, path := openStore(t)
	if _, err := st.db.Exec(`INSERT INTO schema_migrations (version) VALUES (999)`); err != nil {
		t.Fatal(err)
	}
	st.Close()
	_, err := Open(t.Context(), path)
	if err == nil || !strings.Contains(err.Error(), "newer than this program") {
		t.Errorf("Open of a newer database: error = %v, want one about a newer schema", err)
	}
}

func TestReopenKeepsSchemaAndData(t *testing.T) {
	st, path := openStore(t)
	if _, err := st.AddPrinter(t.Context(), "printer-a:8443", fpA, t0); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st2, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer st2.Close()
	ps, err := st2.Printers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Address != "printer-a:8443" {
		t.Errorf("printers after reopen = %+v, want the one added", ps)
	}
}

func TestAddPrinter(t *testing.T) {
	st, _ := openStore(t)
	ctx := t.Context()
	p, err := st.AddPrinter(ctx, "printer-a:8443", fpA, t0)
	if err != nil {
		t.Fatalf("AddPrinter: %v", err)
	}
	want := Printer{ID: p.ID, Address: "printer-a:8443", Fingerprint: fpA, PinnedAt: t0, AddedAt: t0,
		State: CollectionNew, StateSince: t0}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("AddPrinter() mismatch (-want +got):\n%s", diff)
	}

	t.Run("duplicate address", func(t *testing.T) {
		_, err := st.AddPrinter(ctx, "printer-a:8443", fpB, t0)
		if !errors.Is(err, fleet.ErrConflict) {
			t.Errorf("AddPrinter(duplicate) error = %v, want fleet.ErrConflict", err)
		}
	})
	t.Run("empty fingerprint", func(t *testing.T) {
		if _, err := st.AddPrinter(ctx, "printer-b:8443", "", t0); err == nil {
			t.Error("AddPrinter without fingerprint succeeded")
		}
	})
	t.Run("list", func(t *testing.T) {
		if _, err := st.AddPrinter(ctx, "printer-c:8443", fpB, t0); err != nil {
			t.Fatal(err)
		}
		ps, err := st.Printers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range ps {
			got = append(got, p.Address)
		}
		if diff := cmp.Diff([]string{"printer-a:8443", "printer-c:8443"}, got); diff != "" {
			t.Errorf("Printers() addresses mismatch (-want +got):\n%s", diff)
		}
	})
}

func TestRepin(t *testing.T) {
	st, _ := openStore(t)
	ctx := t.Context()
	p, err := st.AddPrinter(ctx, "printer-a:8443", fpA, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.markFailed(ctx, p.ID, CollectionCertificateChanged, "certificate changed: …", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	later := t0.Add(2 * time.Hour)
	if err := st.Repin(ctx, "printer-a:8443", fpB, later); err != nil {
		t.Fatalf("Repin: %v", err)
	}
	got, err := st.printer(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := Printer{ID: p.ID, Address: "printer-a:8443", Fingerprint: fpB, PinnedAt: later, AddedAt: t0,
		State: CollectionNew, StateSince: later}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after Repin (-want +got):\n%s", diff)
	}
	if err := st.Repin(ctx, "nowhere:8443", fpB, later); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("Repin(unknown) error = %v, want fleet.ErrNotFound", err)
	}
	if err := st.Repin(ctx, "printer-a:8443", "", later); err == nil {
		t.Error("Repin with empty fingerprint succeeded")
	}
}

func TestMarkFailedKeepsSinceWhileStateHolds(t *testing.T) {
	st, _ := openStore(t)
	ctx := t.Context()
	p, err := st.AddPrinter(ctx, "printer-a:8443", fpA, t0)
	if err != nil {
		t.Fatal(err)
	}
	for i, msg := range []string{"dial: refused", "dial: timeout"} {
		if err := st.markFailed(ctx, p.ID, CollectionUnreachable, msg, t0.Add(time.Duration(i+1)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.printer(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != CollectionUnreachable || !got.StateSince.Equal(t0.Add(time.Minute)) ||
		got.LastError != "dial: timeout" || !got.LastErrorAt.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("got state %q since %v, error %q at %v; want unreachable since the first failure with the latest error",
			got.State, got.StateSince, got.LastError, got.LastErrorAt)
	}
}

func TestAppendPendingAck(t *testing.T) {
	st, _ := openStore(t)
	ctx := t.Context()
	if err := st.Append(ctx, gapRec(1), gapRec(2), gapRec(3)); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if err := st.Append(ctx); err != nil {
		t.Fatalf("Append(nothing): %v", err)
	}
	got, err := st.Pending(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]uint64{1, 2}, seqs(got)); diff != "" {
		t.Errorf("Pending(2) seqs (-want +got):\n%s", diff)
	}
	want := gapRec(1)
	want.Seq = 1
	if diff := cmp.Diff(want, got[0]); diff != "" {
		t.Errorf("Pending()[0] (-want +got):\n%s", diff)
	}
	if err := st.Ack(ctx, 2); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	if diff := cmp.Diff([]uint64{3}, seqs(pending(t, st))); diff != "" {
		t.Errorf("Pending after Ack(2) (-want +got):\n%s", diff)
	}
	if n, err := st.PendingCount(ctx); err != nil || n != 1 {
		t.Errorf("PendingCount() = %d, %v; want 1", n, err)
	}

	t.Run("ack of a seq never assigned", func(t *testing.T) {
		err := st.Ack(ctx, 4)
		if err == nil || !strings.Contains(err.Error(), "never assigned") {
			t.Errorf("Ack(4) error = %v, want 'never assigned'", err)
		}
		if diff := cmp.Diff([]uint64{3}, seqs(pending(t, st))); diff != "" {
			t.Errorf("Pending after failed Ack (-want +got):\n%s", diff)
		}
	})
	t.Run("invalid limit", func(t *testing.T) {
		if _, err := st.Pending(ctx, 0); err == nil {
			t.Error("Pending(0) succeeded")
		}
	})
	t.Run("invalid record stores nothing", func(t *testing.T) {
		bad := gapRec(9)
		bad.Gap = nil
		if err := st.Append(ctx, gapRec(7), bad); err == nil {
			t.Fatal("Append of an invalid record succeeded")
		}
		if diff := cmp.Diff([]uint64{3}, seqs(pending(t, st))); diff != "" {
			t.Errorf("Pending after failed Append (-want +got):\n%s", diff)
		}
		// The failed append used no sequence numbers.
		if err := st.Append(ctx, gapRec(8)); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]uint64{3, 4}, seqs(pending(t, st))); diff != "" {
			t.Errorf("Pending after next Append (-want +got):\n%s", diff)
		}
	})
}

func TestSeqContinuesAfterAckAndReopen(t *testing.T) {
	st, path := openStore(t)
	ctx := t.Context()
	if err := st.Append(ctx, gapRec(1), gapRec(2)); err != nil {
		t.Fatal(err)
	}
	if err := st.Ack(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := st.Append(ctx, gapRec(3)); err != nil {
		t.Fatal(err)
	}
	if err := st.Ack(ctx, 3); err != nil {
		t.Fatal(err)
	}
	st.Close()

	st2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if err := st2.Append(ctx, gapRec(4)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]uint64{4}, seqs(pending(t, st2))); diff != "" {
		t.Errorf("seq after ack of everything and reopen (-want +got):\n%s", diff)
	}
}

func TestConcurrentAppendGivesUniqueGaplessSeqs(t *testing.T) {
	st, _ := openStore(t)
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				// Alternate single and double appends.
				recs := []fleet.Record{gapRec(uint64(w*1000 + i))}
				if i%2 == 1 {
					recs = append(recs, gapRec(uint64(w*1000+i+500)))
				}
				if err := st.Append(t.Context(), recs...); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Append: %v", err)
	}
	got := seqs(pending(t, st))
	wantN := workers * (each + each/2)
	if len(got) != wantN {
		t.Fatalf("got %d records, want %d", len(got), wantN)
	}
	for i, s := range got {
		if s != uint64(i+1) {
			t.Fatalf("seq at %d = %d, want %d (unique and gapless)", i, s, i+1)
		}
	}
}

func TestCorruptOutboxRowGivesClearError(t *testing.T) {
	tests := []struct {
		name, record, want string
	}{
		{"not JSON", `{"seq":1,"kind":`, "outbox record 1 is corrupt"},
		{"wrong seq", `{"seq":7,"kind":"gap","printer_id":"printer-0001","time":"2025-03-01T12:00:00Z","gap":{"feed":"events"}}`, "carries seq 7"},
		{"invalid record", `{"seq":1,"kind":"gap","printer_id":"printer-0001","time":"2025-03-01T12:00:00Z"}`, "outbox record 1 is corrupt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, _ := openStore(t)
			if err := st.Append(t.Context(), gapRec(1)); err != nil {
				t.Fatal(err)
			}
			if _, err := st.db.Exec(`UPDATE outbox SET record = ? WHERE seq = 1`, tt.record); err != nil {
				t.Fatal(err)
			}
			_, err := st.Pending(t.Context(), 10)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Pending() error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(uint64(1), []byte(`{"seq":1,"kind":"gap","printer_id":"printer-0001","time":"2025-03-01T12:00:00Z","gap":{"feed":"events"}}`))
	f.Add(uint64(2), []byte(`{"seq":2,"kind":"status","printer_id":"printer-0001","time":"2025-03-01T12:00:00Z","status":{"printer_id":"printer-0001","state":"idle","time":"2025-03-01T12:00:00Z"}}`))
	f.Add(uint64(1), []byte(`{"seq":1}`))
	f.Add(uint64(0), []byte(`null`))
	f.Fuzz(func(t *testing.T, seq uint64, b []byte) {
		r, err := decodeRecord(seq, b)
		if err != nil {
			if !strings.Contains(err.Error(), "is corrupt") {
				t.Errorf("error %q does not say the row is corrupt", err)
			}
			return
		}
		if r.Seq != seq {
			t.Fatalf("decoded seq %d from row %d", r.Seq, seq)
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("decoded an invalid record: %v", err)
		}
	})
}

func TestCredentials(t *testing.T) {
	st, path := openStore(t)
	ctx := t.Context()
	if _, _, ok, err := st.Credentials(ctx); err != nil || ok {
		t.Fatalf("Credentials() before enrolment: ok=%v err=%v, want not ok", ok, err)
	}
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SaveCredentials(ctx, "gw-1", key); err != nil {
		t.Fatalf("SaveCredentials: %v", err)
	}
	st.Close()
	st2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	id, got, ok, err := st2.Credentials(ctx)
	if err != nil || !ok || id != "gw-1" || !got.Equal(key) {
		t.Errorf("Credentials() = %q, key equal %v, ok %v, err %v; want gw-1 and the saved key", id, got.Equal(key), ok, err)
	}

	t.Run("invalid input", func(t *testing.T) {
		if err := st2.SaveCredentials(ctx, "", key); err == nil {
			t.Error("SaveCredentials with empty ID succeeded")
		}
		if err := st2.SaveCredentials(ctx, "gw-1", key[:10]); err == nil {
			t.Error("SaveCredentials with short key succeeded")
		}
	})
	t.Run("corrupt", func(t *testing.T) {
		for _, v := range []string{"zz", "00", strings.Repeat("00", 64)} {
			if _, err := st2.db.Exec(`UPDATE meta SET value = ? WHERE key = 'gateway_key'`, v); err != nil {
				t.Fatal(err)
			}
			if _, _, ok, err := st2.Credentials(ctx); err == nil || ok {
				t.Errorf("Credentials() with key %q.. = ok %v, err %v; want an error", v[:2], ok, err)
			}
		}
	})
}

func TestUplinkState(t *testing.T) {
	st, _ := openStore(t)
	ctx := t.Context()
	got, err := st.UplinkState(ctx)
	if err != nil || got != (UplinkState{}) {
		t.Fatalf("UplinkState() initially = %+v, %v; want zero", got, err)
	}
	if err := st.recordUpload(ctx, t0, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.recordUpload(ctx, t0.Add(time.Minute), errors.New("cloud down")); err != nil {
		t.Fatal(err)
	}
	got, err = st.UplinkState(ctx)
	want := UplinkState{LastSuccess: t0, LastError: "cloud down", LastErrorAt: t0.Add(time.Minute)}
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("UplinkState() (-want +got):\n%s", diff)
	}
	if err := st.recordUpload(ctx, t0.Add(2*time.Minute), nil); err != nil {
		t.Fatal(err)
	}
	got, _ = st.UplinkState(ctx)
	if diff := cmp.Diff(UplinkState{LastSuccess: t0.Add(2 * time.Minute)}, got); diff != "" {
		t.Errorf("UplinkState() after recovery (-want +got):\n%s", diff)
	}
	if _, err := st.db.Exec(`UPDATE meta SET value = 'yesterday' WHERE key = 'uplink_last_success'`); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UplinkState(ctx); err == nil {
		t.Error("UplinkState() with a corrupt time succeeded")
	}
}

func TestCorruptPrinterRow(t *testing.T) {
	st, _ := openStore(t)
	p, err := st.AddPrinter(t.Context(), "printer-a:8443", fpA, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.db.Exec(`UPDATE printers SET status = '{' WHERE id = ?`, p.ID); err != nil {
		t.Fatal(err)
	}
	_, err = st.Printers(t.Context())
	if err == nil || !strings.Contains(err.Error(), "corrupt row") {
		t.Errorf("Printers() error = %v, want 'corrupt row'", err)
	}
}
