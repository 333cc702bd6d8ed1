package updaterepo

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fusionfleet/fusionfleet/internal/update"
)

// publishToken is the release token the tests' services demand.
const publishToken = "s3cret-release-token-0123456789"

// publishService serves p's cloud repository with publishing enabled and
// returns a Publisher for it.
func publishService(t *testing.T, p *publishPair) *Publisher {
	t.Helper()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(publishToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, srv := serviceOf(t, p, ServiceOptions{TokenFile: tokenFile})
	return &Publisher{URL: srv.URL + "/", Token: publishToken, Client: srv.Client()}
}

// A release published through the cloud's endpoint lands in the cloud's
// repository; published again, it changes nothing and uploads no target
// file the cloud already holds.
func TestPublisher(t *testing.T) {
	p := newPublishPair(t)
	pub := publishService(t, p)
	var bar bytes.Buffer
	pub.Progress = &bar
	fw := p.add(t, firmware("4.3.0", model4200))

	ans, err := pub.Publish(t.Context(), p.release)
	if err != nil {
		t.Fatal(err)
	}
	want := PublishAnswer{Changed: true, RootVersion: 1, TargetsVersion: 2, NewTargets: []string{fw.Name}}
	if diff := cmp.Diff(want, ans); diff != "" {
		t.Errorf("answer (-want +got):\n%s", diff)
	}
	if got := bar.String(); !strings.Contains(got, "100%") {
		t.Errorf("progress = %q, want a bar reaching 100%%", got)
	}

	file := fw.SHA256 + "." + fw.Name
	for _, tt := range []struct {
		file string
		want bool
	}{{file, true}, {strings.Repeat("0", 64) + "." + fw.Name, false}} {
		if got, err := pub.Holds(t.Context(), tt.file); err != nil || got != tt.want {
			t.Errorf("Holds(%s) = %v, %v; want %v", tt.file, got, err, tt.want)
		}
	}
	files, err := p.release.UploadFiles(func(f string) (bool, error) { return pub.Holds(t.Context(), f) })
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasPrefix(f.Name, update.TargetsDir+"/") {
			t.Errorf("upload after publishing holds %s, which the cloud has", f.Name)
		}
	}
	again, err := pub.Publish(t.Context(), p.release)
	if err != nil || again.Changed {
		t.Errorf("repeat publish = %+v, %v; want unchanged", again, err)
	}
}

// The cloud's refusal reaches the caller with its status and reason, and
// the cloud's repository stays as it was.
func TestPublisherRefused(t *testing.T) {
	tests := []struct {
		name    string
		token   string
		wantErr string
	}{
		{"wrong token", publishToken + "x", "401 Unauthorized: wrong or missing release token"},
		{"no token", "", "401 Unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPublishPair(t)
			pub := publishService(t, p)
			pub.Token = tt.token
			p.add(t, firmware("4.3.0", model4200))
			before := tree(t, p.cloud.Dir())
			_, err := pub.Publish(t.Context(), p.release)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
			}
			if diff := cmp.Diff(before, tree(t, p.cloud.Dir())); diff != "" {
				t.Errorf("cloud repository changed (-before +after):\n%s", diff)
			}
		})
	}
}

// A cloud that answers a target query with neither 200 nor 404 stops the
// publish before anything is uploaded.
func TestPublisherHoldsFails(t *testing.T) {
	p := newPublishPair(t)
	var uploaded atomic.Bool
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			uploaded.Store(true)
		}
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	p.add(t, firmware("4.3.0", model4200))
	pub := &Publisher{URL: srv.URL, Token: publishToken, Client: srv.Client()}
	_, err := pub.Publish(t.Context(), p.release)
	if err == nil || !strings.Contains(err.Error(), "ask the cloud for") || !strings.Contains(err.Error(), "503") {
		t.Fatalf("got %v, want the failed query", err)
	}
	if uploaded.Load() {
		t.Error("uploaded after a failed query")
	}
}
