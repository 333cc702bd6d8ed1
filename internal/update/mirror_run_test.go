package update

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// notFound is a source with no repository: a cloud before its first
// release.
type notFound struct{}

func (notFound) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusNotFound, Status: "404 Not Found", Body: http.NoBody, Request: r}, nil
}

// records keeps the level and message of every log line.
type records struct {
	mu    sync.Mutex
	lines []string
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, rec.Level.String()+" "+rec.Message)
	return nil
}
func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

// A site of a cloud that has published no release yet warned at every
// sync, every five minutes for as long as it ran (the soak found 8,640
// such warnings a month): nothing published is said once, at info level.
func TestMirrorNothingPublishedIsNoWarning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logs := &records{}
		m, err := NewMirror(t.TempDir(), "https://cloud.invalid/tuf", &http.Client{Transport: notFound{}},
			MirrorOptions{Logger: slog.New(logs), Interval: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- m.Run(ctx) }()
		time.Sleep(10*time.Minute + time.Second) // eleven syncs
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		want := []string{"INFO no updates published yet; looking again every interval"}
		if got := strings.Join(logs.lines, "\n"); got != strings.Join(want, "\n") {
			t.Errorf("logged:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
		}
	})
}

// Sync tells nothing published from a repository that vanished: a mirror
// that holds a copy still fails, and Run warns.
func TestMirrorSyncNotFound(t *testing.T) {
	for _, tc := range []struct {
		name    string
		holds   bool
		nothing bool
	}{
		{"empty mirror", false, true},
		{"mirror with a copy", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewMirror(t.TempDir(), "https://cloud.invalid/tuf", &http.Client{Transport: notFound{}}, MirrorOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if tc.holds {
				m.loaded = []byte(`{}`)
			}
			_, err = m.Sync(t.Context())
			if err == nil {
				t.Fatal("Sync of a source without a repository: no error")
			}
			if got := errors.Is(err, ErrNothingPublished); got != tc.nothing {
				t.Errorf("Sync: %v; ErrNothingPublished %v, want %v", err, got, tc.nothing)
			}
		})
	}
}
