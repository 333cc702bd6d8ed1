package updaterepo

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// serviceOf serves the cloud repository of p under /tuf/ with opts.
func serviceOf(t *testing.T, p *publishPair, opts ServiceOptions) (*Service, *httptest.Server) {
	t.Helper()
	opts.Clock = p.clk
	s, err := NewService(p.cloud.Dir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(s.Handler())
	t.Cleanup(srv.Close)
	return s, srv
}

// do sends one request and returns the status and body.
func do(t *testing.T, srv *httptest.Server, method, path, token string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// woken reports whether the service announced a change, and takes it.
func woken(s *Service) bool {
	select {
	case <-s.Changed():
		return true
	default:
		return false
	}
}

func TestServiceWithoutRepository(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tuf")
	var logs strings.Builder
	s, err := NewService(dir, ServiceOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(s.Handler())
	defer srv.Close()
	for _, path := range []string{"/tuf/metadata/timestamp.json", "/tuf/rollout.json", "/tuf/targets/x"} {
		if code, _ := do(t, srv, http.MethodGet, path, "", nil); code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, code)
		}
	}
	if !strings.Contains(logs.String(), "fusionfleet release export") {
		t.Errorf("log %q does not say how to create a repository", logs.String())
	}
	if rels, err := s.Releases(t.Context()); err != nil || rels != nil {
		t.Errorf("Releases = %v, %v; want none", rels, err)
	}
	if woken(s) {
		t.Error("woken without a repository")
	}
	// A repository that appears later is served without a restart, and
	// wakes whoever waits for releases.
	rel, err := InitRepo(t.TempDir(), RepoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := rel.ExportOnline(dir); err != nil {
		t.Fatal(err)
	}
	if code, body := do(t, srv, http.MethodGet, "/tuf/metadata/timestamp.json", "", nil); code != http.StatusOK {
		t.Errorf("after export: GET timestamp.json = %d %s, want 200", code, body)
	}
	if !woken(s) {
		t.Error("a repository appeared, and nobody was woken")
	}
}

func TestServicePublish(t *testing.T) {
	const token = "s3cret-release-token-0123456789"
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		opts     ServiceOptions
		token    string
		wantCode int
	}{
		{"publishing disabled", ServiceOptions{}, token, http.StatusNotFound},
		{"no token", ServiceOptions{TokenFile: tokenFile}, "", http.StatusUnauthorized},
		{"wrong token", ServiceOptions{TokenFile: tokenFile}, token + "x", http.StatusUnauthorized},
		{"oversized", ServiceOptions{TokenFile: tokenFile, Publish: PublishOptions{MaxTargetSize: 1 << 10}}, token, http.StatusRequestEntityTooLarge},
		{"accepted", ServiceOptions{TokenFile: tokenFile}, token, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPublishPair(t)
			fw := p.add(t, firmware("4.3.0", model4200))
			s, srv := serviceOf(t, p, tt.opts)
			woken(s) // opening the repository at start
			before := tree(t, p.cloud.Dir())
			code, body := do(t, srv, http.MethodPost, "/tuf/publish", tt.token, p.archive(t))
			if code != tt.wantCode {
				t.Fatalf("publish = %d %s, want %d", code, body, tt.wantCode)
			}
			if code != http.StatusOK {
				if diff := cmp.Diff(before, tree(t, p.cloud.Dir())); diff != "" {
					t.Errorf("refused publish changed the repository (-before +after):\n%s", diff)
				}
				if woken(s) {
					t.Error("a refused publish woke the update alerts")
				}
				return
			}
			var ans PublishAnswer
			if err := json.Unmarshal([]byte(body), &ans); err != nil {
				t.Fatal(err)
			}
			want := PublishAnswer{Changed: true, RootVersion: 1, TargetsVersion: 2, NewTargets: []string{fw.Name}}
			if diff := cmp.Diff(want, ans); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
			if !woken(s) {
				t.Error("a publish that changed the repository woke nobody")
			}
			// The same upload again changes nothing and wakes nobody.
			if code, body := do(t, srv, http.MethodPost, "/tuf/publish", tt.token, p.archive(t)); code != http.StatusOK || !strings.Contains(body, `"changed":false`) {
				t.Errorf("repeat publish = %d %s", code, body)
			}
			if woken(s) {
				t.Error("a publish that changed nothing woke the update alerts")
			}
		})
	}
}

func TestServiceShortToken(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewService(t.TempDir(), ServiceOptions{TokenFile: tokenFile}); err == nil || !strings.Contains(err.Error(), "at least 16") {
		t.Errorf("NewService with a short token: %v", err)
	}
}

// A halted target shows in /tuf/rollout.json and in the release list.
func TestServiceRolloutHalts(t *testing.T) {
	p := newPublishPair(t)
	p.add(t, firmware("4.3.0", model4200))
	if _, err := p.cloud.Publish(t.Context(), bytes.NewReader(p.archive(t)), PublishOptions{}); err != nil {
		t.Fatal(err)
	}
	s, srv := serviceOf(t, p, ServiceOptions{})
	const target = "firmware-4.3.0-image.bin"
	if code, body := do(t, srv, http.MethodGet, "/tuf/rollout.json", "", nil); code != http.StatusOK || body != `{"halted":[]}`+"\n" {
		t.Errorf("rollout.json at start = %d %q", code, body)
	}
	if err := p.cloud.Halt(target, "field reports"); err != nil {
		t.Fatal(err)
	}
	if code, body := do(t, srv, http.MethodGet, "/tuf/rollout.json", "", nil); code != http.StatusOK || body != `{"halted":["`+target+`"]}`+"\n" {
		t.Errorf("rollout.json after halt = %d %q", code, body)
	}
	rels, err := s.Releases(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rels {
		got = append(got, r.Target+" "+r.DisplayName()+" "+r.HaltReason)
	}
	if diff := cmp.Diff([]string{target + " 4.3.0 field reports"}, got); diff != "" {
		t.Errorf("releases (-want +got):\n%s", diff)
	}
}

func timestampVersion(t *testing.T, repo *Repo) int64 {
	t.Helper()
	st, err := repo.Status()
	if err != nil {
		t.Fatal(err)
	}
	return st.TimestampVersion
}

func TestServiceResign(t *testing.T) {
	p := newPublishPair(t)
	s, _ := serviceOf(t, p, ServiceOptions{})
	repo, err := s.open()
	if err != nil {
		t.Fatal(err)
	}
	version := func() int64 { return timestampVersion(t, repo) }
	v0 := version()
	// At start, a timestamp valid for another day is left alone.
	if err := s.resign(repo, true); err != nil {
		t.Fatal(err)
	}
	if got := version(); got != v0 {
		t.Errorf("fresh timestamp re-signed at start: version %d, want %d", got, v0)
	}
	// One expiring within 12 hours is re-signed at once, and the new one
	// is valid for a day from now.
	p.clk.Advance(13 * time.Hour)
	if err := s.resign(repo, true); err != nil {
		t.Fatal(err)
	}
	st, err := repo.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.TimestampVersion != v0+1 || st.TimestampExpires.Before(p.clk.Now().Add(23*time.Hour)) {
		t.Errorf("after re-sign: version %d expires %v; want %d, a day after %v", st.TimestampVersion, st.TimestampExpires, v0+1, p.clk.Now())
	}
	// On schedule it re-signs regardless.
	if err := s.resign(repo, false); err != nil {
		t.Fatal(err)
	}
	if got := version(); got != v0+2 {
		t.Errorf("scheduled re-sign: version %d, want %d", got, v0+2)
	}
}

// Run looks every minute for a repository until one appears, then
// re-signs every six hours; the bubble's clock makes the hours instant.
func TestServiceRunResignsOnSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "tuf")
		s, err := NewService(dir, ServiceOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx, nil) }()
		synctest.Wait()

		rel, err := InitRepo(t.TempDir(), RepoOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := rel.ExportOnline(dir); err != nil {
			t.Fatal(err)
		}
		time.Sleep(lookAgainEvery)
		synctest.Wait()
		repo, err := s.open()
		if err != nil {
			t.Fatal(err)
		}
		version := func() int64 { return timestampVersion(t, repo) }
		v0 := version() // fresh: not re-signed when found
		for i := range int64(3) {
			time.Sleep(resignEvery)
			synctest.Wait()
			if got, want := version(), v0+i+1; got != want {
				t.Errorf("after %v: timestamp version %d, want %d", time.Duration(i+1)*resignEvery, got, want)
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// Issue 13: the release tool run on the cloud's own repository directory
// (as in the demo) publishes behind the service's back. The service lists
// the new release at once, wakes Changed for the update alerts, and its
// next re-signing keeps the release instead of signing a timestamp over
// the snapshot it started with.
func TestServiceFollowsAnotherProcess(t *testing.T) {
	f := newFixture(t)
	s, err := NewService(f.repo.Dir(), ServiceOptions{Clock: f.clk})
	if err != nil {
		t.Fatal(err)
	}
	if rels, err := s.Releases(t.Context()); err != nil || len(rels) != 0 {
		t.Fatalf("releases before any: %v, %v", rels, err)
	}
	woken(s) // opening the repository announced it

	ti := f.release(firmware("4.3.0", model4200)) // another Repo on the directory: the release tool
	rels, err := s.Releases(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(rels) != 1 || rels[0].Target != ti.Name {
		t.Fatalf("releases after the release tool published %s: %+v", ti.Name, rels)
	}
	if !woken(s) {
		t.Error("the service did not announce the changed repository")
	}

	repo, err := s.Repo()
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Resign(); err != nil {
		t.Fatal(err)
	}
	again, err := OpenRepo(f.repo.Dir(), RepoOptions{Clock: f.clk})
	if err != nil {
		t.Fatal(err)
	}
	st, err := again.Status()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Targets) != 1 || st.Targets[0].Name != ti.Name {
		t.Errorf("after the service re-signed, the repository offers %+v, want %s", st.Targets, ti.Name)
	}
	// And the release tool's Repo, in turn, follows the service's re-signing.
	if err := f.repo.Resign(); err != nil {
		t.Fatalf("release tool re-signs after the service did: %v", err)
	}
}

// Run finds another process's release within watchEvery, without a page
// asking for the releases.
func TestServiceRunWatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tool, err := InitRepo(t.TempDir(), RepoOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewService(tool.Dir(), ServiceOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx, nil) }()
		synctest.Wait()
		woken(s)
		content := []byte("firmware 4.3.0")
		rel := firmware("4.3.0", model4200)
		if _, err := tool.AddTarget(ctx, TargetName(rel, "image.bin"), rel, bytes.NewReader(content), int64(len(content))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(watchEvery + time.Second)
		synctest.Wait()
		if !woken(s) {
			t.Error("Run did not notice the release within watchEvery")
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}
