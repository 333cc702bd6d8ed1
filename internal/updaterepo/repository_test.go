package updaterepo

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/update"
	"github.com/google/go-cmp/cmp"
)

func TestInitRepoKeepsKeysPrivate(t *testing.T) {
	dir := t.TempDir()
	if _, err := InitRepo(dir, RepoOptions{}); err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, sub := range []string{offlineKeyDir, onlineKeyDir} {
		st, err := os.Stat(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, want 0700", sub, st.Mode().Perm())
		}
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			info, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			if info.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %v, want 0600", e.Name(), info.Mode().Perm())
			}
			role, _, _ := strings.Cut(e.Name(), "-")
			count[sub+"/"+role]++
		}
	}
	want := map[string]int{"keys/offline/root": 3, "keys/offline/targets": 1, "keys/online/snapshot": 1, "keys/online/timestamp": 1}
	if d := cmp.Diff(want, count); d != "" {
		t.Errorf("key files (-want +got):\n%s", d)
	}
	if _, err := InitRepo(dir, RepoOptions{}); !errors.Is(err, ErrRepoExists) {
		t.Errorf("second init: got %v, want ErrRepoExists", err)
	}
}

func TestRepoReopenAndStatus(t *testing.T) {
	dir := t.TempDir()
	if _, err := InitRepo(dir, RepoOptions{}); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(t.TempDir(), "fw 4200.bin")
	if err := os.WriteFile(img, bytes.Repeat([]byte("x"), 3<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	r2, err := OpenRepo(dir, RepoOptions{Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	ti, err := r2.AddTargetFile(t.Context(), img, firmware("4.3.0", model4200))
	if err != nil {
		t.Fatal(err)
	}
	if ti.Name != "firmware-4.3.0-fw_4200.bin" || ti.Length != 3<<20 {
		t.Errorf("target %s of %d bytes", ti.Name, ti.Length)
	}
	if out := progress.String(); !strings.Contains(out, "100%") || !strings.Contains(out, "3.0 MiB/3.0 MiB") {
		t.Errorf("progress output %q lacks the finished bar", out)
	}
	st, err := r2.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.RootVersion != 1 || st.TargetsVersion != 2 || st.SnapshotVersion != 2 || st.TimestampVersion != 2 {
		t.Errorf("versions: root %d targets %d snapshot %d timestamp %d", st.RootVersion, st.TargetsVersion, st.SnapshotVersion, st.TimestampVersion)
	}
	if len(st.Targets) != 1 || st.Targets[0].Version != "4.3.0" || st.Targets[0].SHA256 != ti.SHA256 {
		t.Errorf("targets %+v", st.Targets)
	}
	if got := st.Roles[0]; got.Role != "root" || got.Threshold != 2 || got.Keys != 3 || got.KeysPresent != 3 || !got.Offline {
		t.Errorf("root role %+v", got)
	}
}

// TestCloudHoldsOnlyOnlineKeys: without the offline keys the cloud can
// keep the timestamp fresh but cannot publish a target or rotate root.
func TestCloudHoldsOnlyOnlineKeys(t *testing.T) {
	dir := t.TempDir()
	if _, err := InitRepo(dir, RepoOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, offlineKeyDir)); err != nil {
		t.Fatal(err)
	}
	r, err := OpenRepo(dir, RepoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Resign(); err != nil {
		t.Errorf("resign with online keys: %v", err)
	}
	if _, err := r.AddTarget(t.Context(), "x.bin", firmware("4.3.0", model4200), strings.NewReader("x"), 1); !errors.Is(err, ErrMissingKey) {
		t.Errorf("add target: got %v, want ErrMissingKey", err)
	}
	if err := r.RotateRoot(3, 2); !errors.Is(err, ErrMissingKey) {
		t.Errorf("rotate root: got %v, want ErrMissingKey", err)
	}
}

func TestHandler(t *testing.T) {
	f := newFixture(t)
	fw := f.release(firmware("4.3.0", model4200))
	small := httptest.NewTLSServer(update.NewHandler(f.repo.Dir(), update.HandlerOptions{MaxTargetSize: 100}))
	defer small.Close()
	tests := []struct {
		name   string
		srv    string
		method string
		path   string
		status int
		ctype  string
	}{
		{"timestamp", f.mirror.srv.URL, "GET", "/tuf/metadata/timestamp.json", 200, "application/json"},
		{"versioned root", f.mirror.srv.URL, "GET", "/tuf/metadata/1.root.json", 200, "application/json"},
		{"target", f.mirror.srv.URL, "GET", targetPath(fw), 200, "application/octet-stream"},
		{"missing", f.mirror.srv.URL, "GET", "/tuf/metadata/2.root.json", 404, ""},
		{"traversal", f.mirror.srv.URL, "GET", "/tuf/metadata/..%2F..%2Fkeys%2Fonline", 400, ""},
		{"hidden file", f.mirror.srv.URL, "GET", "/tuf/targets/.incoming-1", 400, ""},
		{"write", f.mirror.srv.URL, "PUT", "/tuf/metadata/timestamp.json", 405, ""},
		{"over the size limit", small.URL, "GET", targetPath(fw), 500, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tc.method, tc.srv+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := f.mirror.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			io.Copy(io.Discard, resp.Body)
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.ctype != "" && resp.Header.Get("Content-Type") != tc.ctype {
				t.Errorf("content type %q, want %q", resp.Header.Get("Content-Type"), tc.ctype)
			}
		})
	}
}
