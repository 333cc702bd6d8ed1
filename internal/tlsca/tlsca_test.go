package tlsca

import (
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func TestLoadOrCreateKeepsCA(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadOrCreate(dir, []string{"127.0.0.1", "localhost"}, now)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreate(dir, []string{"127.0.0.1", "localhost"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if string(a.Server.Leaf.Raw) != string(b.Server.Leaf.Raw) {
		t.Error("second load issued a new server certificate although the old one covers the hosts")
	}
	// A new host forces a new server certificate from the same CA.
	c, err := LoadOrCreate(dir, []string{"127.0.0.1", "cloud.example"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if string(c.Server.Leaf.Raw) == string(a.Server.Leaf.Raw) {
		t.Error("server certificate not reissued for a new host")
	}
	if string(c.Server.Certificate[1]) != string(a.Server.Certificate[1]) {
		t.Error("CA changed between loads")
	}
	// Close to expiry → reissued.
	d, err := LoadOrCreate(dir, []string{"127.0.0.1", "cloud.example"}, now.AddDate(0, 11, 15))
	if err != nil {
		t.Fatal(err)
	}
	if string(d.Server.Leaf.Raw) == string(c.Server.Leaf.Raw) {
		t.Error("server certificate not reissued 15 days before expiry")
	}
}

func TestVerifiedHandshake(t *testing.T) {
	a, err := LoadOrCreate(t.TempDir(), []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{a.Server}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), ReadHeaderTimeout: time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: a.Pool}}}
	resp, err := client.Get("https://" + ln.Addr().String())
	if err != nil {
		t.Fatalf("verified GET: %v", err)
	}
	resp.Body.Close()

	// Without the CA the handshake must fail.
	_, err = (&http.Client{}).Get("https://" + ln.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("GET without CA: got %v, want a certificate error", err)
	}
	// A name the certificate does not cover must fail too.
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	_, err = client.Get("https://localhost:" + port)
	if err == nil {
		t.Error("GET by a host name outside the certificate succeeded")
	}
}

func TestCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreate(dir, []string{"localhost"}, now); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, CAFile), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadOrCreate(dir, []string{"localhost"}, now)
	if err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("corrupt CA: got %v, want a clear error", err)
	}
	if _, err := LoadOrCreate(t.TempDir(), nil, now); err == nil {
		t.Error("no hosts: want error")
	}
}
