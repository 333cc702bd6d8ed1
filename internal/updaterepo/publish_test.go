package updaterepo

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/update"
)

// publishPair is a release repository (all keys) and the cloud's copy of
// it (online keys only), as after "release export".
type publishPair struct {
	clk     *clock.Manual
	release *Repo
	cloud   *Repo
}

func newPublishPair(t *testing.T) *publishPair {
	t.Helper()
	clk := clock.NewManual(time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC))
	opts := RepoOptions{Clock: clk, TargetsKeys: 2, TargetsThreshold: 2}
	rel, err := InitRepo(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "cloud")
	if err := rel.ExportOnline(dst); err != nil {
		t.Fatal(err)
	}
	cloud, err := OpenRepo(dst, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dst, offlineKeyDir)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("export copied the offline keys (stat: %v)", err)
	}
	return &publishPair{clk: clk, release: rel, cloud: cloud}
}

// archive is the upload the release tool would send now.
func (p *publishPair) archive(t *testing.T) []byte {
	t.Helper()
	files, err := p.release.UploadFiles(func(file string) (bool, error) {
		_, err := os.Stat(filepath.Join(p.cloud.Dir(), update.TargetsDir, file))
		return err == nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteUpload(t.Context(), &b, files, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func (p *publishPair) add(t *testing.T, rel update.Release) TargetInfo {
	t.Helper()
	content := bytes.Repeat([]byte(string(rel.Kind)+" "+rel.Version+" "), 500)
	ti, err := p.release.AddTarget(t.Context(), TargetName(rel, "image.bin"), rel, bytes.NewReader(content), int64(len(content)))
	if err != nil {
		t.Fatal(err)
	}
	return ti
}

// tarOf builds an archive from names and contents, in order.
func tarOf(t testing.TB, files ...[2]string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f[0], Size: int64(len(f[1])), Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(f[1]))
	}
	tw.Close()
	return b.Bytes()
}

// tree returns every file under dir with its SHA-256, to prove that a
// refused publish changed nothing.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		out[rel] = sha256Hex(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPublishGood(t *testing.T) {
	p := newPublishPair(t)
	fw := p.add(t, firmware("4.3.0", model4200))
	params := p.add(t, update.Release{Kind: update.KindParameters, Version: "2.2", Name: "std-4200-2.2", Models: []string{model4200}})
	res, err := p.cloud.Publish(t.Context(), bytes.NewReader(p.archive(t)), PublishOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := PublishResult{Changed: true, RootVersion: 1, TargetsVersion: 3, NewTargets: []string{fw.Name, params.Name}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	st, err := p.cloud.Status()
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{st.Targets[0].Name, st.Targets[1].Name}; !cmp.Equal(got, []string{fw.Name, params.Name}) {
		t.Errorf("cloud targets = %v", got)
	}
	// The cloud's new state is what a printer pinned to the release
	// tool's first root accepts.
	root1, err := os.ReadFile(filepath.Join(p.release.Dir(), update.MetadataDir, "1.root.json"))
	if err != nil {
		t.Fatal(err)
	}
	m := newMirror(t, p.cloud.Dir())
	c, err := update.NewClient(t.TempDir(), root1, m.srv.URL, model4200, update.Options{Clock: p.clk, HTTPClient: m.srv.Client(),
		Factory: map[update.Kind]update.Slot{update.KindFirmware: {Version: "4.2.0"}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Check(t.Context(), update.KindFirmware)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != fw.Name {
		t.Errorf("printer sees %s, want %s", got.Name, fw.Name)
	}
	// The same upload again changes nothing.
	again, err := p.cloud.Publish(t.Context(), bytes.NewReader(p.archive(t)), PublishOptions{})
	if err != nil || again.Changed {
		t.Errorf("repeat publish = %+v, %v; want unchanged", again, err)
	}
}

func TestPublishRootRotation(t *testing.T) {
	p := newPublishPair(t)
	if err := p.release.RotateRoot(3, 2); err != nil {
		t.Fatal(err)
	}
	p.add(t, firmware("4.3.0", model4200))
	res, err := p.cloud.Publish(t.Context(), bytes.NewReader(p.archive(t)), PublishOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.RootVersion != 2 {
		t.Errorf("root version = %d, want 2", res.RootVersion)
	}
	reopened, err := OpenRepo(p.cloud.Dir(), RepoOptions{Clock: p.clk})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := reopened.Status(); st.RootVersion != 2 {
		t.Errorf("reopened root version = %d, want 2", st.RootVersion)
	}
}

func TestPublishRefused(t *testing.T) {
	tests := []struct {
		name string
		// upload prepares the release repository and returns the upload.
		upload func(t *testing.T, p *publishPair) []byte
		opts   PublishOptions
		want   error
	}{
		{"signed by an unknown key", func(t *testing.T, p *publishPair) []byte {
			p.add(t, firmware("4.3.0", model4200))
			foreign := foreignKey(t)
			return p.resignTargets(t, foreign)
		}, PublishOptions{}, update.ErrUnknownKey},
		{"too few signatures", func(t *testing.T, p *publishPair) []byte {
			p.add(t, firmware("4.3.0", model4200))
			keys, err := p.release.roleKeys(metadata.TARGETS)
			if err != nil {
				t.Fatal(err)
			}
			return p.resignTargets(t, keys[:1])
		}, PublishOptions{}, update.ErrThreshold},
		{"another repository", func(t *testing.T, p *publishPair) []byte {
			other, err := InitRepo(t.TempDir(), RepoOptions{Clock: p.clk})
			if err != nil {
				t.Fatal(err)
			}
			p.release = other
			p.add(t, firmware("4.3.0", model4200))
			return p.archive(t)
		}, PublishOptions{}, update.ErrRootRotation},
		{"rollback", func(t *testing.T, p *publishPair) []byte {
			p.add(t, firmware("4.3.0", model4200))
			old := p.archive(t)
			p.add(t, firmware("4.3.1", model4200))
			if _, err := p.cloud.Publish(t.Context(), bytes.NewReader(p.archive(t)), PublishOptions{}); err != nil {
				t.Fatal(err)
			}
			return old
		}, PublishOptions{}, update.ErrRollback},
		{"root rotation without the old keys", func(t *testing.T, p *publishPair) []byte {
			if err := p.release.rotateRoot(3, 2, false); err != nil {
				t.Fatal(err)
			}
			p.add(t, firmware("4.3.0", model4200))
			return p.archive(t)
		}, PublishOptions{}, update.ErrRootRotation},
		{"tampered image", func(t *testing.T, p *publishPair) []byte {
			ti := p.add(t, firmware("4.3.0", model4200))
			file := filepath.Join(p.release.Dir(), update.TargetsDir, ti.SHA256+"."+ti.Name)
			b, _ := os.ReadFile(file)
			b[0] ^= 1
			os.WriteFile(file, b, 0o644)
			return p.archive(t)
		}, PublishOptions{}, update.ErrTamperedTarget},
		{"oversized target", func(t *testing.T, p *publishPair) []byte {
			p.add(t, firmware("4.3.0", model4200))
			return p.archive(t)
		}, PublishOptions{MaxTargetSize: 100}, update.ErrTooLarge},
		{"oversized metadata", func(t *testing.T, p *publishPair) []byte {
			p.add(t, firmware("4.3.0", model4200))
			return p.archive(t)
		}, PublishOptions{MaxMetadataSize: 100}, update.ErrTooLarge},
		{"path outside the repository", func(t *testing.T, p *publishPair) []byte {
			return tarOf(t, [2]string{"targets/../../keys/online/x.key", "x"})
		}, PublishOptions{}, ErrBadUpload},
		{"unknown file", func(t *testing.T, p *publishPair) []byte {
			return tarOf(t, [2]string{"rollout.json", "{}"})
		}, PublishOptions{}, ErrBadUpload},
		{"target not in the metadata", func(t *testing.T, p *publishPair) []byte {
			p.add(t, firmware("4.3.0", model4200))
			extra := "extra"
			files := append(untar(t, p.archive(t)), [2]string{"targets/" + sha256Hex([]byte(extra)) + ".extra.bin", extra})
			return tarOf(t, files...)
		}, PublishOptions{}, ErrBadUpload},
		{"no targets metadata", func(t *testing.T, p *publishPair) []byte {
			return tarOf(t)
		}, PublishOptions{}, ErrBadUpload},
		{"expired targets", func(t *testing.T, p *publishPair) []byte {
			p.add(t, firmware("4.3.0", model4200))
			b := p.archive(t)
			p.clk.Advance(400 * 24 * time.Hour)
			return b
		}, PublishOptions{}, update.ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPublishPair(t)
			up := tt.upload(t, p)
			before := tree(t, p.cloud.Dir())
			stBefore, _ := p.cloud.Status()
			_, err := p.cloud.Publish(t.Context(), bytes.NewReader(up), tt.opts)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Publish = %v, want %v", err, tt.want)
			}
			if diff := cmp.Diff(before, tree(t, p.cloud.Dir())); diff != "" {
				t.Errorf("refused publish changed files (-before +after):\n%s", diff)
			}
			stAfter, _ := p.cloud.Status()
			if diff := cmp.Diff(stBefore, stAfter); diff != "" {
				t.Errorf("refused publish changed the repository state (-before +after):\n%s", diff)
			}
		})
	}
}

func foreignKey(t *testing.T) []*signingKey {
	t.Helper()
	k, err := generateKey(t.TempDir(), metadata.TARGETS)
	if err != nil {
		t.Fatal(err)
	}
	return []*signingKey{k}
}

// resignTargets replaces the signatures on the release repository's
// current targets metadata with those of keys and returns the upload.
func (p *publishPair) resignTargets(t *testing.T, keys []*signingKey) []byte {
	t.Helper()
	tg := p.release.targets
	tg.ClearSignatures()
	if err := signAll(tg, keys); err != nil {
		t.Fatal(err)
	}
	b, err := tg.ToBytes(false)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.release.writeFile(versionedName(tg.Signed.Version, metadata.TARGETS), b); err != nil {
		t.Fatal(err)
	}
	return p.archive(t)
}

// untar returns an archive's files in order.
func untar(t *testing.T, b []byte) [][2]string {
	t.Helper()
	var out [][2]string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		hdr, err := tr.Next()
		if err != nil {
			return out
		}
		var body bytes.Buffer
		body.ReadFrom(tr)
		out = append(out, [2]string{hdr.Name, body.String()})
	}
}

func TestPublishProgress(t *testing.T) {
	p := newPublishPair(t)
	p.add(t, firmware("4.3.0", model4200))
	files, err := p.release.UploadFiles(func(string) (bool, error) { return false, nil })
	if err != nil {
		t.Fatal(err)
	}
	var body, bar bytes.Buffer
	if err := WriteUpload(context.Background(), &body, files, &bar); err != nil {
		t.Fatal(err)
	}
	if got := bar.String(); !strings.Contains(got, "100%") || !strings.HasPrefix(got, "\rpublish [") {
		t.Errorf("progress = %q, want a bar reaching 100%%", got)
	}
}

// FuzzReadUpload feeds arbitrary bytes to the archive reader: it must
// refuse or accept without panicking, and never write outside its staging
// directory.
func FuzzReadUpload(f *testing.F) {
	sum := sha256.Sum256([]byte("x"))
	f.Add(tarOf(f, [2]string{"metadata/1.root.json", "{}"}, [2]string{"metadata/2.targets.json", "{}"}))
	f.Add(tarOf(f, [2]string{"targets/" + hex.EncodeToString(sum[:]) + ".a.bin", "x"}))
	f.Add(tarOf(f, [2]string{"../x", "x"}))
	f.Add([]byte("not a tar"))
	f.Fuzz(func(t *testing.T, b []byte) {
		parent := t.TempDir()
		stage := filepath.Join(parent, "stage")
		if err := os.Mkdir(stage, 0o700); err != nil {
			t.Fatal(err)
		}
		up, err := readUpload(bytes.NewReader(b), stage, PublishOptions{MaxMetadataSize: 1 << 16, MaxTargetSize: 1 << 16, MaxFiles: 16})
		if err == nil && len(up.targets) != 1 {
			t.Fatalf("accepted an upload with %d targets files", len(up.targets))
		}
		entries, _ := os.ReadDir(parent)
		if len(entries) != 1 {
			t.Fatalf("reader wrote outside its staging directory: %v", entries)
		}
	})
}
