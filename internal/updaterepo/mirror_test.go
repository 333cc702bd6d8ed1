package updaterepo

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/update"
)

// mirrorFixture is a real repository served over TLS and a mirror of it.
type mirrorFixture struct {
	repo   *Repo
	src    *httptest.Server
	mirror *update.Mirror
	dir    string
}

func newMirrorFixture(t *testing.T, opts update.MirrorOptions, src http.Handler) *mirrorFixture {
	t.Helper()
	repo, err := InitRepo(t.TempDir(), RepoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if src == nil {
		src = update.NewHandler(repo.Dir(), update.HandlerOptions{})
	}
	ts := httptest.NewTLSServer(src)
	t.Cleanup(ts.Close)
	dir := t.TempDir()
	m, err := update.NewMirror(dir, ts.URL+"/tuf", ts.Client(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return &mirrorFixture{repo: repo, src: ts, mirror: m, dir: dir}
}

func (f *mirrorFixture) add(t *testing.T, version string, models []string, body string) TargetInfo {
	t.Helper()
	rel := update.Release{Kind: update.KindFirmware, Version: version, Models: models}
	info, err := f.repo.AddTarget(t.Context(), TargetName(rel, "fw.bin"), rel, strings.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func names(ts []update.MirroredTarget) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	slices.Sort(out)
	return out
}

func TestMirrorCopiesWhatFitsTheSite(t *testing.T) {
	f := newMirrorFixture(t, update.MirrorOptions{Models: func(context.Context) []string { return []string{"4200"} }}, nil)
	fits := f.add(t, "2.1.0", []string{"4200", "5200"}, "firmware for both")
	other := f.add(t, "3.0.0", []string{"5200"}, "firmware for the other model")

	changed, err := f.mirror.Sync(t.Context())
	if err != nil || !changed {
		t.Fatalf("Sync = %v, %v; want true, nil", changed, err)
	}
	if got := names(f.mirror.Targets()); !slices.Equal(got, []string{fits.Name}) {
		t.Errorf("mirrored %v, want only %s", got, fits.Name)
	}
	if _, err := os.Stat(filepath.Join(f.dir, update.TargetsDir, other.SHA256+"."+other.Name)); err == nil {
		t.Errorf("target for another model was downloaded")
	}
	// The copy serves the same metadata as the source.
	mirror := httptest.NewServer(f.mirror.Handler())
	defer mirror.Close()
	for _, file := range []string{"metadata/timestamp.json", "metadata/1.root.json", "targets/" + fits.SHA256 + "." + fits.Name} {
		want := get(t, f.src.Client(), f.src.URL+"/tuf/"+file)
		if got := get(t, mirror.Client(), mirror.URL+"/tuf/"+file); !bytes.Equal(got, want) {
			t.Errorf("%s differs from the source", file)
		}
	}
	if changed, err := f.mirror.Sync(t.Context()); err != nil || changed {
		t.Errorf("second Sync = %v, %v; want false, nil", changed, err)
	}
	// A restarted mirror lists what it holds.
	again, err := update.NewMirror(f.dir, f.src.URL+"/tuf", f.src.Client(), update.MirrorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(again.Targets()); !slices.Equal(got, []string{fits.Name}) {
		t.Errorf("after restart %v", got)
	}
}

func TestMirrorFollowsRootRotation(t *testing.T) {
	f := newMirrorFixture(t, update.MirrorOptions{}, nil)
	f.add(t, "1.0.0", []string{"4200"}, "v1")
	if _, err := f.mirror.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := f.repo.RotateRoot(3, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := f.mirror.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"1.root.json", "2.root.json"} {
		if _, err := os.Stat(filepath.Join(f.dir, update.MetadataDir, n)); err != nil {
			t.Errorf("%s not mirrored: %v", n, err)
		}
	}
}

func TestMirrorKeepsLastGoodStateOnBadSource(t *testing.T) {
	var tamper, endless bool
	var repoDir string
	inner := func() http.Handler { return update.NewHandler(repoDir, update.HandlerOptions{}) }
	f := newMirrorFixture(t, update.MirrorOptions{MaxMetadataSize: 1 << 20}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case tamper && strings.HasPrefix(r.URL.Path, "/tuf/targets/"):
			w.Write([]byte("evil bytes of the same length!"[:len("v2 firmware")]))
		case endless && r.URL.Path == "/tuf/metadata/timestamp.json":
			chunk := bytes.Repeat([]byte(" "), 64<<10)
			for range 64 {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		default:
			inner().ServeHTTP(w, r)
		}
	}))
	repoDir = f.repo.Dir()
	first := f.add(t, "1.0.0", []string{"4200"}, "v1 firmware")
	if _, err := f.mirror.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(f.dir, update.MetadataDir, "timestamp.json"))
	if err != nil {
		t.Fatal(err)
	}

	f.add(t, "2.0.0", []string{"4200"}, "v2 firmware")
	tamper = true
	if _, err := f.mirror.Sync(t.Context()); !errors.Is(err, update.ErrTamperedTarget) {
		t.Errorf("tampered target: Sync = %v, want update.ErrTamperedTarget", err)
	}
	tamper, endless = false, true
	if _, err := f.mirror.Sync(t.Context()); !errors.Is(err, update.ErrTooLarge) {
		t.Errorf("endless timestamp: Sync = %v, want update.ErrTooLarge", err)
	}
	now, _ := os.ReadFile(filepath.Join(f.dir, update.MetadataDir, "timestamp.json"))
	if !bytes.Equal(now, good) {
		t.Error("a failed sync replaced timestamp.json")
	}
	if got := names(f.mirror.Targets()); !slices.Equal(got, []string{first.Name}) {
		t.Errorf("after failed syncs the mirror lists %v", got)
	}
	endless = false
	if _, err := f.mirror.Sync(t.Context()); err != nil {
		t.Fatalf("recovered source: %v", err)
	}
	if got := len(f.mirror.Targets()); got != 2 {
		t.Errorf("after recovery %d targets, want 2", got)
	}
}

func get(t *testing.T, c *http.Client, url string) []byte {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return b.Bytes()
}

func TestMirrorReadsRolloutState(t *testing.T) {
	var rollout []byte // nil: 404
	var repoDir string
	f := newMirrorFixture(t, update.MirrorOptions{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/tuf/rollout.json" {
			if rollout == nil {
				http.NotFound(w, r)
				return
			}
			w.Write(rollout)
			return
		}
		update.NewHandler(repoDir, update.HandlerOptions{}).ServeHTTP(w, r)
	}))
	repoDir = f.repo.Dir()
	f.add(t, "1.0.0", []string{"4200"}, "v1")
	sync := func() {
		t.Helper()
		if _, err := f.mirror.Sync(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	sync()
	if got := f.mirror.Halted(); len(got) != 0 {
		t.Errorf("no rollout state: halted %v", got)
	}
	rollout = []byte(`{"halted":["firmware-1.0.0-fw.bin"]}`)
	sync()
	if got := f.mirror.Halted(); !slices.Equal(got, []string{"firmware-1.0.0-fw.bin"}) {
		t.Errorf("halted %v", got)
	}
	rollout = []byte(`not json`)
	sync()
	if got := f.mirror.Halted(); len(got) != 1 {
		t.Errorf("a bad rollout state replaced the last good one: %v", got)
	}
	again, err := update.NewMirror(f.dir, f.src.URL+"/tuf", f.src.Client(), update.MirrorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := again.Halted(); len(got) != 1 {
		t.Errorf("after restart halted %v", got)
	}
}
