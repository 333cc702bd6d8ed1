package commandcenter

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/outbox/outboxtest"
	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	fpA = deviceapi.Fingerprint("AA:BB")
	fpB = deviceapi.Fingerprint("CC:DD")
)

func openStore(t testing.TB) (*Store, string) {
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
func gapRec(n uint64) fleet.Record { return outboxtest.Gap(n, t0) }

func seqs(recs []fleet.Record) []uint64 { return outboxtest.Seqs(recs) }

func pending(t *testing.T, st *Store) []fleet.Record {
	t.Helper()
	recs, err := st.Outbox().Pending(t.Context(), 10000)
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
	if err := st.MarkFailed(ctx, p.ID, CollectionCertificateChanged, "certificate changed: …", t0.Add(time.Hour)); err != nil {
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
		if err := st.MarkFailed(ctx, p.ID, CollectionUnreachable, msg, t0.Add(time.Duration(i+1)*time.Minute)); err != nil {
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
