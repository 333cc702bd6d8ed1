package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The air-gap commands' failures, before anything is written. The whole
// exchange runs in e2e (TestAirgapInBrowser) and internal/site
// (TestAirgappedSite).
func TestAirgapCommands(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.txt")
	if err := os.WriteFile(junk, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"export without -out", []string{"commandcenter", "export", "-data", dir}, 2, "-out FILE is required"},
		{"export of no Command Center", []string{"commandcenter", "export", "-data", filepath.Join(dir, "none"), "-out", filepath.Join(dir, "b")}, 1, "no Command Center"},
		{"export with a bad key file", []string{"commandcenter", "export", "-data", dir, "-out", filepath.Join(dir, "b"), "-cloud-key", junk}, 1, "not a key file"},
		{"import without a file", []string{"commandcenter", "import", "-data", dir}, 2, "name the FILE"},
		{"import of no Command Center", []string{"commandcenter", "import", "-data", filepath.Join(dir, "none"), junk}, 1, "no Command Center"},
		{"import of a missing file", []string{"commandcenter", "import", "-data", dir, filepath.Join(dir, "missing")}, 1, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runArgs(t, tt.args...)
			if code != tt.wantCode || !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("exit %d, stderr %q; want %d with %q", code, stderr, tt.wantCode, tt.wantStderr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "b")); err == nil {
		t.Error("a failed export left a bundle file")
	}
}
