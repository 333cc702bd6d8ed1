package cloud

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/datadir"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// start opens a node on loopback ports the OS picks, with its data in a
// fresh directory unless opts names one, and runs it until the test ends.
func start(t *testing.T, opts Options) *Node {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	if opts.Hosts == nil {
		opts.Hosts = []string{"127.0.0.1"}
	}
	n, err := New(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	run(t, n)
	return n
}

// run runs n until the test ends, and fails the test if Run fails or
// does not return within 30 s of the end.
func run(t *testing.T, n *Node) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("the node did not stop within 30 s")
		}
	})
}

// client trusts the node's generated CA.
func client(n *Node) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: n.RootCAs()}}}
}

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestNewRefuses(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no data directory", Options{}, "no data directory"},
		{"certificate without key", Options{DataDir: t.TempDir(), TLSCertFile: "cert.pem"}, "go together"},
		{"operator certificate missing", Options{DataDir: t.TempDir(), TLSCertFile: "none.pem", TLSKeyFile: "none.key"}, "server certificate"},
		{"store unreachable", Options{DataDir: t.TempDir(), DB: "postgres://127.0.0.1:1/none?connect_timeout=2"}, "postgres"},
		{"short release token", Options{DataDir: t.TempDir(), ReleaseTokenFile: "/dev/null"}, "release token"},
		{"short metrics token", Options{DataDir: t.TempDir(), MetricsTokenFile: "/dev/null"}, "metrics token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := New(t.Context(), tt.opts)
			if err == nil {
				n.Close()
				t.Fatalf("New succeeded; want an error with %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: %v; want an error with %q", err, tt.want)
			}
		})
	}
}

// A node serves metrics, readiness and the REST API's document on both
// listeners, the uplink and the updates on HTTPS, and says where.
func TestNodeServes(t *testing.T) {
	n := start(t, Options{DashboardListen: "127.0.0.1:0"})
	if !strings.HasPrefix(n.URL(), "https://127.0.0.1:") || !strings.HasPrefix(n.DashboardURL(), "http://127.0.0.1:") ||
		!strings.HasSuffix(n.DashboardURL(), "/") || n.CAPath() == "" {
		t.Errorf("URL %q, dashboard %q, CA %q", n.URL(), n.DashboardURL(), n.CAPath())
	}
	c := client(n)
	for _, base := range []string{n.URL() + "/", n.DashboardURL()} {
		for path, want := range map[string]string{
			"readyz":           "ready",
			"metrics":          "fusionfleet_uplink_records_accepted_total",
			"api/openapi.json": `"openapi"`,
		} {
			if code, body := get(t, c, base+path); code != http.StatusOK || !strings.Contains(body, want) {
				t.Errorf("GET %s%s = %d %.200s; want %q", base, path, code, body, want)
			}
		}
	}
	for path, want := range map[string]int{
		n.URL() + "/tuf/metadata/timestamp.json": http.StatusNotFound, // no repository yet
		n.URL() + "/v1/batches":                  http.StatusMethodNotAllowed,
	} {
		if code, body := get(t, c, path); code != want {
			t.Errorf("GET %s = %d %.200s; want %d", path, code, body, want)
		}
	}
}

// With a metrics token, /metrics answers 401 on both listeners to
// requests without it or with another, and serves the metrics with it.
func TestMetricsToken(t *testing.T) {
	const token = "metrics-token-0123456789"
	file := filepath.Join(t.TempDir(), "metrics-token")
	if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n := start(t, Options{DashboardListen: "127.0.0.1:0", MetricsTokenFile: file})
	c := client(n)
	for _, base := range []string{n.URL() + "/", n.DashboardURL()} {
		for auth, want := range map[string]int{
			"":                           http.StatusUnauthorized,
			"Bearer wrong-token-0123456": http.StatusUnauthorized,
			"Basic " + token:             http.StatusUnauthorized,
			"Bearer " + token:            http.StatusOK,
		} {
			req, err := http.NewRequestWithContext(t.Context(), "GET", base+"metrics", nil)
			if err != nil {
				t.Fatal(err)
			}
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			res, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != want {
				t.Errorf("GET %smetrics with %q = %d, want %d", base, auth, res.StatusCode, want)
			}
			if got := strings.Contains(string(b), "fusionfleet_uplink_records_accepted_total"); got != (want == http.StatusOK) {
				t.Errorf("GET %smetrics with %q shows the metrics: %v", base, auth, got)
			}
		}
	}
}

// R-SEC-2: the cloud speaks TLS 1.3, or 1.2 with AEAD suites only.
func TestTLS(t *testing.T) {
	n := start(t, Options{})
	addr := strings.TrimPrefix(n.URL(), "https://")
	tests := []struct {
		name string
		cfg  *tls.Config
		ok   bool
	}{
		{"TLS 1.3", &tls.Config{MinVersion: tls.VersionTLS13}, true},
		{"TLS 1.2 AEAD", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}, true},
		{"TLS 1.2 CBC", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}, false},
		{"TLS 1.1", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.RootCAs = n.RootCAs()
			cfg.ServerName = "127.0.0.1"
			conn, err := tls.Dial("tcp", addr, cfg)
			if err == nil {
				conn.Close()
			}
			if (err == nil) != tt.ok {
				t.Errorf("handshake: %v, want success %v", err, tt.ok)
			}
		})
	}
}

// The first start creates an organisation, its admin and an enrolment
// token; later starts on the same data create nothing.
func TestBootstrap(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	n, err := New(ctx, Options{DataDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	first, err := n.Bootstrap(ctx, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	if first == nil || first.User != "admin" || len(first.Password) < 12 || first.EnrolmentToken == "" || first.Site != "Site 1" {
		t.Fatalf("first start: %+v", first)
	}
	u, _, err := n.store.UserByName(ctx, "admin")
	if err != nil || u.Role != fleet.RoleAdmin {
		t.Errorf("admin: %+v, %v", u, err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	n, err = New(ctx, Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if again, err := n.Bootstrap(ctx, "Acme"); again != nil || err != nil {
		t.Errorf("second start: %+v, %v; want nothing created", again, err)
	}
}

// Issue 13: a second node on a data directory in use refuses before it
// touches the store, the stream or a port; once the first closes, the
// directory is free again.
func TestDataDirectoryHeldOnce(t *testing.T) {
	dir := t.TempDir()
	first, err := New(t.Context(), Options{DataDir: dir, Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(t.Context(), Options{DataDir: dir, Hosts: []string{"127.0.0.1"}}); !errors.Is(err, datadir.ErrInUse) {
		t.Fatalf("second node on one data directory: %v, want datadir.ErrInUse", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := New(t.Context(), Options{DataDir: dir, Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatalf("after the first closed: %v", err)
	}
	again.Close()
}

// Issue 14: profiles only on their own loopback listener (-debug-listen),
// never on the public ones, and a public address is refused.
func TestDebugListener(t *testing.T) {
	if _, err := New(t.Context(), Options{DataDir: t.TempDir(), DebugListen: "0.0.0.0:0"}); err == nil ||
		!strings.Contains(err.Error(), "-debug-listen") {
		t.Errorf("DebugListen 0.0.0.0:0: %v, want a refusal naming -debug-listen", err)
	}
	n := start(t, Options{DashboardListen: "127.0.0.1:0", DebugListen: "127.0.0.1:0"})
	c := client(n)
	if code, body := get(t, c, "http://"+n.DebugAddr().String()+"/debug/pprof/"); code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("debug listener: %d %.200s", code, body)
	}
	for _, base := range []string{n.URL() + "/", n.DashboardURL()} {
		// (The dashboard answers an unknown page with its login page.)
		if code, body := get(t, c, base+"debug/pprof/"); strings.Contains(body, "goroutine") {
			t.Errorf("GET %sdebug/pprof/ = %d with profiles on a public listener", base, code)
		}
	}
	if off := start(t, Options{}); off.DebugAddr() != nil {
		t.Errorf("without DebugListen the node has a debug listener at %v", off.DebugAddr())
	}
}

// Sessions and login challenges expire on real time even when the fleet's
// clock runs ahead (the demo): pruning them on the fleet's clock would log
// everybody out. The node prunes them on WallClock.
func TestLoginsPrunedOnTheWallClock(t *testing.T) {
	wall := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	n, err := New(t.Context(), Options{DataDir: t.TempDir(), Hosts: []string{"127.0.0.1"},
		Clock: clock.NewManual(wall.AddDate(1, 0, 0)), WallClock: clock.NewManual(wall)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	org, err := n.store.CreateOrg(ctx, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	uid, err := n.store.CreateUser(ctx, org, "ann", "h", fleet.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	for hash, expires := range map[string]time.Time{"expired": wall.Add(-time.Minute), "live": wall.Add(time.Hour)} {
		if err := n.store.CreateSession(ctx, hash, uid, expires); err != nil {
			t.Fatal(err)
		}
	}
	run(t, n)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := n.store.SessionUser(ctx, "expired", wall.Add(-time.Hour)); errors.Is(err, fleet.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the expired session was not pruned")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := n.store.SessionUser(ctx, "live", wall); err != nil {
		t.Errorf("the live session was pruned on the fleet's clock: %v", err)
	}
}
