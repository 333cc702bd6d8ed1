package site

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/update"
)

// The node reads its own mirror in-process: statuses, headers and bodies
// pass as over a connection.
func TestHandlerTransport(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/tuf/metadata/timestamp.json":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"signed":{}}`)
		default:
			http.Error(w, "not found", http.StatusNotFound)
		}
	})
	c := &http.Client{Transport: handlerTransport{h}}
	for _, tc := range []struct {
		path, body, ctype string
		status            int
	}{
		{"/tuf/metadata/timestamp.json", `{"signed":{}}`, "application/json", http.StatusOK},
		{"/tuf/metadata/9.root.json", "not found\n", "text/plain; charset=utf-8", http.StatusNotFound},
	} {
		resp, err := c.Get("http://mirror.invalid" + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || string(b) != tc.body || resp.Header.Get("Content-Type") != tc.ctype || resp.ContentLength != int64(len(b)) {
			t.Errorf("GET %s = %d %q %q (length %d)", tc.path, resp.StatusCode, b, resp.Header.Get("Content-Type"), resp.ContentLength)
		}
	}
}

// Without a configured root the node trusts the first root its mirror
// fetched, pinned once: a root the mirror holds later does not replace it.
func TestSelfUpdateRootPinnedOnFirstUse(t *testing.T) {
	data := t.TempDir()
	d := &mirrorDownloader{n: &Node{opts: Options{DataDir: data}}}
	if _, err := d.pinnedRoot(); err == nil || !strings.Contains(err.Error(), "no trusted root yet") {
		t.Fatalf("before the mirror synced: %v, want no trusted root yet", err)
	}
	mirrored := filepath.Join(data, "updates", update.MetadataDir, "1.root.json")
	if err := os.MkdirAll(filepath.Dir(mirrored), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mirrored, []byte("first root"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := d.pinnedRoot()
	if err != nil || string(got) != "first root" {
		t.Fatalf("pinned %q, %v; want the mirror's first root", got, err)
	}
	if err := os.WriteFile(mirrored, []byte("another root"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := d.pinnedRoot(); err != nil || string(got) != "first root" {
		t.Errorf("after the mirror's root changed: %q, %v; want the pinned first root", got, err)
	}
}
