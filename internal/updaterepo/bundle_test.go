package updaterepo

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/update"
)

// updateBundle writes a bundle of f's repository.
func updateBundle(t testing.TB, f *fixture) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := update.WriteBundle(t.Context(), &buf, update.NewHandler(f.repo.Dir(), update.HandlerOptions{}), nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestUpdateBundleImportedAndInstalled(t *testing.T) {
	f := newFixture(t)
	fw := f.release(firmware("4.3.0", model4200))
	bundle := updateBundle(t, f)
	dir := t.TempDir()
	// The running Command Center's mirror of the same directory, whose
	// cloud is out of reach.
	running, err := update.NewMirror(dir, "https://127.0.0.1:1/tuf", &http.Client{}, update.MirrorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := update.ImportBundle(t.Context(), bytes.NewReader(bundle), int64(len(bundle)), dir, f.root, f.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != fw.Name || got[0].SHA256 != fw.SHA256 {
		t.Fatalf("imported targets %+v, want %s", got, fw.Name)
	}
	if !running.Reload() || len(running.Targets()) != 1 || running.Reload() {
		t.Errorf("the running mirror after the import: targets %+v; want it reloaded once, with the imported target", running.Targets())
	}
	// The Command Center offers it: a printer verifies and installs it
	// from the mirror the bundle filled.
	srv := httptest.NewTLSServer(update.NewHandler(dir, update.HandlerOptions{}))
	t.Cleanup(srv.Close)
	c, err := update.NewClient(f.state, f.root, srv.URL, model4200, update.Options{Clock: f.clk, HTTPClient: srv.Client(),
		Factory: map[update.Kind]update.Slot{update.KindFirmware: {Version: "4.2.9"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Update(t.Context(), update.KindFirmware, func(context.Context, update.Installed) error { return nil }); err != nil {
		t.Fatalf("install from the imported mirror: %v", err)
	}
	if v := installedVersion(t, c, update.KindFirmware); v != "4.3.0" {
		t.Errorf("installed %s, want 4.3.0", v)
	}
	// The first root the mirror now holds anchors the next import.
	root, err := update.TrustedRoot(dir)
	if err != nil || !bytes.Equal(root, f.root) {
		t.Errorf("trusted root of the mirror: %v", err)
	}
}

// rezip returns bundle with each file's content passed through edit.
func rezip(t *testing.T, bundle []byte, edit func(name string, b []byte) []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(bundle), int64(len(bundle)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if b = edit(zf.Name, b); b == nil {
			continue
		}
		w, err := zw.Create(zf.Name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestUpdateBundleRefusals(t *testing.T) {
	f := newFixture(t)
	fw := f.release(firmware("4.3.0", model4200))
	bundle := updateBundle(t, f)
	other := newFixture(t)
	tests := []struct {
		name   string
		bundle []byte
		root   []byte
		now    time.Time
		want   error  // errors.Is, when set
		text   string // in the error
	}{
		{name: "another repository's root", bundle: bundle, root: other.root, want: update.ErrBundleUntrusted},
		{name: "expired", bundle: bundle, root: f.root, now: f.clk.Now().Add(5 * 365 * 24 * time.Hour), want: update.ErrBundleUntrusted},
		{name: "targets metadata altered", root: f.root, want: update.ErrBundleUntrusted, bundle: rezip(t, bundle, func(name string, b []byte) []byte {
			if strings.HasSuffix(name, ".targets.json") {
				return bytes.Replace(b, []byte("4.3.0"), []byte("4.3.1"), 1)
			}
			return b
		})},
		{name: "target altered", root: f.root, want: update.ErrTamperedTarget, bundle: rezip(t, bundle, func(name string, b []byte) []byte {
			if strings.HasSuffix(name, fw.Name) {
				b = append([]byte(nil), b...)
				b[0] ^= 1
			}
			return b
		})},
		{name: "no metadata", root: f.root, text: "not an update bundle", bundle: rezip(t, bundle, func(name string, b []byte) []byte {
			if strings.Contains(name, "metadata/") {
				return nil
			}
			return b
		})},
		{name: "truncated", root: f.root, text: "not an update bundle", bundle: bundle[:len(bundle)/2]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			now := tt.now
			if now.IsZero() {
				now = f.clk.Now()
			}
			_, err := update.ImportBundle(t.Context(), bytes.NewReader(tt.bundle), int64(len(tt.bundle)), dir, tt.root, now)
			if err == nil || tt.want != nil && !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("import: %v, want %v %q", err, tt.want, tt.text)
			}
			if _, err := os.Stat(filepath.Join(dir, update.MetadataDir, "timestamp.json")); err == nil {
				t.Error("a refused bundle left a timestamp in the mirror: the printers would be offered it")
			}
		})
	}
}

func FuzzImportUpdateBundle(f *testing.F) {
	fx := newFixture(f)
	fx.release(firmware("4.3.0", model4200))
	bundle := updateBundle(f, fx)
	f.Add(bundle)
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	now := fx.clk.Now()
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		targets, err := update.ImportBundle(t.Context(), bytes.NewReader(b), int64(len(b)), dir, fx.root, now)
		if err != nil {
			return
		}
		// Whatever imports verified: it is the repository's own.
		for _, tg := range targets {
			if tg.Release.Version != "4.3.0" {
				t.Fatalf("imported %+v", tg)
			}
		}
	})
}

func TestUpdateBundleWithoutRepository(t *testing.T) {
	_, err := update.NewBundle(t.Context(), update.NewHandler(t.TempDir(), update.HandlerOptions{}), nil)
	if !errors.Is(err, update.ErrNoRepository) {
		t.Fatalf("bundle of an empty directory: %v, want ErrNoRepository", err)
	}
}
