package main

import (
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/cloud"
	"github.com/fusionfleet/fusionfleet/internal/update"
	"github.com/fusionfleet/fusionfleet/internal/updaterepo"
	"github.com/fusionfleet/fusionfleet/internal/wait"
)

// cloudRepoFixture is a release repository made with the release tool, a
// cloud serving its export over TLS on loopback, and the files "release
// publish" needs.
type cloudRepoFixture struct {
	release, cloudDir string
	tokenFile, caFile string
	updates           *updaterepo.Service
	srv               *httptest.Server
	clk               *clock.Manual
	firmware, params  string // files to add as targets
}

func newCloudRepoFixture(t *testing.T, withToken bool, pub updaterepo.PublishOptions) *cloudRepoFixture {
	t.Helper()
	f := &cloudRepoFixture{
		release:  filepath.Join(t.TempDir(), "release"),
		cloudDir: filepath.Join(t.TempDir(), "tuf"),
		clk:      clock.NewManual(time.Now()),
		firmware: filepath.Join(t.TempDir(), "fw-4200.bin"),
		params:   filepath.Join(t.TempDir(), "pa12.json"),
	}
	writeFile(t, f.firmware, strings.Repeat("firmware", 1<<16))
	writeFile(t, f.params, `{"schema":"fusionfleet.parameter-set/1","name":"std-4200-2.2","model":"FF-4200","materials":{"PA12":{"refresh_ratio":0.25}}}`)
	f.releaseTool(t, "init", "-dir", f.release)
	f.releaseTool(t, "export", "-dir", f.release, "-to", f.cloudDir)
	tokenFile := ""
	if withToken {
		f.tokenFile = filepath.Join(t.TempDir(), "release-token")
		writeFile(t, f.tokenFile, "s3cret-release-token-0123456789\n")
		tokenFile = f.tokenFile
	}
	var err error
	if f.updates, err = updaterepo.NewService(f.cloudDir, updaterepo.ServiceOptions{TokenFile: tokenFile, Clock: f.clk, Publish: pub}); err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewTLSServer(f.updates.Handler())
	t.Cleanup(f.srv.Close)
	f.caFile = filepath.Join(t.TempDir(), "ca.pem")
	writeFile(t, f.caFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})))
	return f
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// releaseTool runs "fusionfleet release ARGS" and fails the test unless it
// succeeds.
func (f *cloudRepoFixture) releaseTool(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	code, stdout, stderr := runArgs(t, append([]string{"release"}, args...)...)
	if code != 0 {
		t.Fatalf("release %s: exit %d: %s", strings.Join(args, " "), code, stderr)
	}
	return stdout, stderr
}

func (f *cloudRepoFixture) publishArgs(dir, tokenFile string) []string {
	return []string{"release", "publish", "-dir", dir, "-to", f.srv.URL, "-token-file", tokenFile, "-ca-file", f.caFile}
}

func (f *cloudRepoFixture) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := f.srv.Client().Get(f.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// files maps every file under dir to its content, to prove that a
// refused publish changed nothing.
func files(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(path)
			out[strings.TrimPrefix(path, dir)] = string(b)
		}
		return err
	})
	return out
}

func TestReleasePublish(t *testing.T) {
	f := newCloudRepoFixture(t, true, updaterepo.PublishOptions{})
	f.releaseTool(t, "add-target", "-dir", f.release, "-kind", "firmware", "-version", "4.3.0", "-models", "FF-4200", f.firmware)
	f.releaseTool(t, "add-target", "-dir", f.release, "-kind", "parameters", "-version", "2.2", "-name", "std-4200-2.2",
		"-models", "FF-4200", f.params)

	code, stdout, stderr := runArgs(t, f.publishArgs(f.release, f.tokenFile)...)
	if code != 0 {
		t.Fatalf("publish: exit %d: %s", code, stderr)
	}
	if want := "published: root version 1, targets version 3, new targets: firmware-4.3.0-fw-4200.bin, parameters-2.2-pa12.json"; !strings.Contains(stdout, want) {
		t.Errorf("stdout %q lacks %q", stdout, want)
	}
	if !strings.Contains(stderr, "publish [") || !strings.Contains(stderr, "100%") {
		t.Errorf("stderr %q: want a progress bar reaching 100%%", stderr)
	}
	// A printer pinned to the release tool's root installs from the cloud.
	pinned, err := os.ReadFile(filepath.Join(f.release, "repository", "metadata", "1.root.json"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := update.NewClient(t.TempDir(), pinned, f.srv.URL, "FF-4200", update.Options{HTTPClient: f.srv.Client(),
		Factory: map[update.Kind]update.Slot{update.KindFirmware: {Version: "4.2.9"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Check(t.Context(), update.KindFirmware); err != nil || got.Version != "4.3.0" {
		t.Errorf("printer check = %+v, %v; want 4.3.0", got, err)
	}
	// Nothing new: the cloud says so, and only metadata travelled.
	code, stdout, stderr = runArgs(t, f.publishArgs(f.release, f.tokenFile)...)
	if code != 0 || !strings.Contains(stdout, "cloud already up to date") {
		t.Errorf("second publish: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	// The dashboard's release list.
	rels, err := f.updates.Releases(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rels {
		got = append(got, r.Target+" "+r.DisplayName())
	}
	if diff := cmp.Diff([]string{"firmware-4.3.0-fw-4200.bin 4.3.0", "parameters-2.2-pa12.json std-4200-2.2"}, got); diff != "" {
		t.Errorf("releases (-want +got):\n%s", diff)
	}
}

func TestReleasePublishRefused(t *testing.T) {
	tests := []struct {
		name      string
		withToken bool
		pub       updaterepo.PublishOptions
		// prepare returns the repository directory and token file to
		// publish with.
		prepare    func(t *testing.T, f *cloudRepoFixture) (dir, tokenFile string)
		wantStderr string
	}{
		{"wrong token", true, updaterepo.PublishOptions{}, func(t *testing.T, f *cloudRepoFixture) (string, string) {
			wrong := filepath.Join(t.TempDir(), "token")
			writeFile(t, wrong, "not-the-release-token-at-all")
			return f.release, wrong
		}, "401 Unauthorized"},
		{"publishing disabled", false, updaterepo.PublishOptions{}, func(t *testing.T, f *cloudRepoFixture) (string, string) {
			tok := filepath.Join(t.TempDir(), "token")
			writeFile(t, tok, "some-token-of-sufficient-length")
			return f.release, tok
		}, "404 Not Found"},
		{"signed by an unknown key", true, updaterepo.PublishOptions{}, func(t *testing.T, f *cloudRepoFixture) (string, string) {
			other := filepath.Join(t.TempDir(), "other")
			f.releaseTool(t, "init", "-dir", other)
			f.releaseTool(t, "add-target", "-dir", other, "-kind", "firmware", "-version", "9.9.9", "-models", "FF-4200", f.firmware)
			return other, f.tokenFile
		}, "422 Unprocessable Entity"},
		{"oversized", true, updaterepo.PublishOptions{MaxTargetSize: 1 << 10}, func(t *testing.T, f *cloudRepoFixture) (string, string) {
			return f.release, f.tokenFile
		}, "413 Request Entity Too Large"},
		{"rollback", true, updaterepo.PublishOptions{}, func(t *testing.T, f *cloudRepoFixture) (string, string) {
			// An old copy of the release repository, then a newer publish.
			old := filepath.Join(t.TempDir(), "old")
			copyDir(t, f.release, old)
			f.releaseTool(t, "add-target", "-dir", f.release, "-kind", "firmware", "-version", "4.3.1", "-models", "FF-4200", f.firmware)
			if code, _, stderr := runArgs(t, f.publishArgs(f.release, f.tokenFile)...); code != 0 {
				t.Fatalf("publish: %s", stderr)
			}
			return old, f.tokenFile
		}, "is older than the published version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newCloudRepoFixture(t, tt.withToken, tt.pub)
			f.releaseTool(t, "add-target", "-dir", f.release, "-kind", "firmware", "-version", "4.3.0", "-models", "FF-4200", f.firmware)
			dir, tok := tt.prepare(t, f)
			before := files(t, f.cloudDir)
			code, _, stderr := runArgs(t, f.publishArgs(dir, tok)...)
			if code != 1 || !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("publish: exit %d, stderr %q; want 1 and %q", code, stderr, tt.wantStderr)
			}
			if diff := cmp.Diff(before, files(t, f.cloudDir)); diff != "" {
				t.Errorf("refused publish changed the cloud's repository (-before +after):\n%s", diff)
			}
		})
	}
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCloudRolloutHalts(t *testing.T) {
	f := newCloudRepoFixture(t, true, updaterepo.PublishOptions{})
	f.releaseTool(t, "add-target", "-dir", f.release, "-kind", "firmware", "-version", "4.3.0", "-models", "FF-4200", f.firmware)
	if code, _, stderr := runArgs(t, f.publishArgs(f.release, f.tokenFile)...); code != 0 {
		t.Fatal(stderr)
	}
	const target = "firmware-4.3.0-fw-4200.bin"
	halted := func() []string {
		t.Helper()
		code, body := f.get(t, "/tuf/rollout.json")
		if code != http.StatusOK {
			t.Fatalf("rollout.json: %d %s", code, body)
		}
		var doc struct {
			Halted []string `json:"halted"`
		}
		if err := json.Unmarshal([]byte(body), &doc); err != nil {
			t.Fatal(err)
		}
		return doc.Halted
	}
	if got := halted(); len(got) != 0 {
		t.Errorf("halted at start = %v", got)
	}
	f.releaseTool(t, "halt", "-dir", f.cloudDir, target, "-reason", "field reports")
	if diff := cmp.Diff([]string{target}, halted()); diff != "" {
		t.Errorf("after halt (-want +got):\n%s", diff)
	}
	rels, err := f.updates.Releases(t.Context())
	if err != nil || len(rels) != 1 || !rels[0].Halted || rels[0].HaltReason != "field reports" {
		t.Errorf("releases after halt = %+v, %v", rels, err)
	}
	f.releaseTool(t, "unhalt", "-dir", f.cloudDir, target)
	if got := halted(); len(got) != 0 {
		t.Errorf("after unhalt = %v", got)
	}
	if code, _, stderr := runArgs(t, "release", "unhalt", "-dir", f.cloudDir, target); code != 1 || !strings.Contains(stderr, "not halted") {
		t.Errorf("second unhalt: exit %d, %q", code, stderr)
	}
}

// TestCloudServesUpdates starts a whole cloud node with an exported
// repository and a release token, publishes to it with the release tool
// through its HTTPS listener, and reads the result where Command Centers
// and API clients do.
func TestCloudServesUpdates(t *testing.T) {
	ctx := t.Context()
	release := filepath.Join(t.TempDir(), "release")
	tufDir := filepath.Join(t.TempDir(), "tuf")
	fw := filepath.Join(t.TempDir(), "fw.bin")
	writeFile(t, fw, "firmware image")
	tokenFile := filepath.Join(t.TempDir(), "token")
	writeFile(t, tokenFile, "a-release-token-for-the-test")
	for _, args := range [][]string{
		{"init", "-dir", release},
		{"export", "-dir", release, "-to", tufDir},
		{"add-target", "-dir", release, "-kind", "firmware", "-version", "4.3.0", "-models", "FF-4200", fw},
	} {
		if code, _, stderr := runArgs(t, append([]string{"release"}, args...)...); code != 0 {
			t.Fatalf("release %s: %s", args[0], stderr)
		}
	}
	node, err := cloud.New(ctx, cloud.Options{DataDir: t.TempDir(), Hosts: []string{"127.0.0.1"}, TUFDir: tufDir, ReleaseTokenFile: tokenFile})
	if err != nil {
		t.Fatal(err)
	}
	wait.Go(t, node.Run)
	code, stdout, stderr := runArgs(t, "release", "publish", "-dir", release, "-to", node.URL(), "-token-file", tokenFile, "-ca-file", node.CAPath())
	if code != 0 || !strings.Contains(stdout, "new targets: firmware-4.3.0-fw.bin") {
		t.Fatalf("publish: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: node.RootCAs()}}}
	defer client.CloseIdleConnections()
	for path, want := range map[string]string{
		"/tuf/rollout.json":            `{"halted":[]}`,
		"/tuf/metadata/1.root.json":    `"_type":"root"`,
		"/tuf/metadata/timestamp.json": `"_type":"timestamp"`,
	} {
		resp, err := client.Get(node.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), want) {
			t.Errorf("GET %s = %d %.200s; want %s", path, resp.StatusCode, b, want)
		}
	}
}
