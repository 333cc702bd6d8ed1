package site

import (
	"context"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
	"github.com/google/go-cmp/cmp"
)

// tufServer is a cloud whose /tuf/ holds a timestamp that does not verify
// and nothing else; it notes, per request, whether TLS resumed a session, and counts the
// connections opened.
type tufServer struct {
	srv     *httptest.Server
	mu      sync.Mutex
	resumed []bool
	opened  int
}

func newTUFServer(t *testing.T) *tufServer {
	t.Helper()
	s := &tufServer{}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.resumed = append(s.resumed, r.TLS != nil && r.TLS.DidResume)
		s.mu.Unlock()
		if r.URL.Path != "/tuf/metadata/timestamp.json" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("{}")) // read to the end: a connection that could be kept alive
	}))
	s.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.mu.Lock()
			s.opened++
			s.mu.Unlock()
		}
	}
	s.srv.StartTLS()
	t.Cleanup(s.srv.Close)
	return s
}

func (s *tufServer) seen() (resumed []bool, opened int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]bool(nil), s.resumed...), s.opened
}

// newTestMirror builds the node's update mirror for s, as New does, with
// the store that holds its upload log.
func newTestMirror(t *testing.T, s *tufServer, budget *commandcenter.Budget) (interface {
	Sync(context.Context) (bool, error)
}, *commandcenter.Store) {
	t.Helper()
	st, err := commandcenter.Open(t.Context(), filepath.Join(t.TempDir(), "cc.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pool := x509.NewCertPool()
	pool.AddCert(s.srv.Certificate())
	uc, err := uplink.NewClient(s.srv.URL, uplink.ClientOptions{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	n := &Node{opts: Options{DataDir: t.TempDir(), CloudURL: s.srv.URL, RootCAs: pool}, log: discardLogger(), store: st}
	m, err := n.newUpdateMirror(uc, budget)
	if err != nil {
		t.Fatal(err)
	}
	return m, st
}

// The mirror's fetches follow the uplink's rules (R-ARCH-4): a connection
// per request, TLS sessions resumed.
func TestMirrorFetchesOneConnectionPerRequest(t *testing.T) {
	s := newTUFServer(t)
	m, st := newTestMirror(t, s, commandcenter.NewBudget(-1, 0, nil))
	for range 3 {
		if _, err := m.Sync(t.Context()); err == nil {
			t.Fatal("Sync of a broken repository succeeded")
		}
	}
	resumed, opened := s.seen()
	if opened != len(resumed) {
		t.Errorf("server saw %d connections for %d fetches, want one each", opened, len(resumed))
	}
	want := make([]bool, len(resumed))
	for i := 1; i < len(want); i++ {
		want[i] = true
	}
	if diff := cmp.Diff(want, resumed); len(resumed) < 3 || diff != "" {
		t.Errorf("TLS session resumed per fetch (-want +got):\n%s", diff)
	}
	// Each fetch is in the upload log, as the mirror's.
	es, err := st.Uploads(t.Context(), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != len(resumed) {
		t.Errorf("upload log holds %d entries for %d fetches", len(es), len(resumed))
	}
	for _, e := range es {
		if e.Kind != commandcenter.TransferMirror || !strings.HasPrefix(e.Path, "/tuf/") || e.WireBytes == 0 {
			t.Errorf("upload log entry %+v, want a mirror fetch under /tuf/ with its bytes", e)
		}
	}
}

// The mirror's fetches draw on the uplink's bandwidth budget: once it is
// spent, the next fetch waits for it.
func TestMirrorFetchesWithinTheBudget(t *testing.T) {
	s := newTUFServer(t)
	// One byte a second, a bucket of a little more than one handshake.
	m, _ := newTestMirror(t, s, commandcenter.NewBudget(1, 8000, nil))
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if _, err := m.Sync(ctx); err == nil {
		t.Fatal("Sync within a spent budget succeeded")
	}
	if got, _ := s.seen(); len(got) != 1 {
		t.Errorf("server saw %d fetches, want 1: the next waits for the budget", len(got))
	}
}
