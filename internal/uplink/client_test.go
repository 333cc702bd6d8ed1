package uplink

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/wait"
	"github.com/google/go-cmp/cmp"
)

// tlsEnv is a cloud uplink handler behind real TLS and a client for it.
type tlsEnv struct {
	gws    *fakeGateways
	pub    *fakePublisher
	clk    *clock.Manual
	srv    *httptest.Server
	client *Client
	// opened and closed count the server's connections.
	opened, closed atomic.Int32
	mu             sync.Mutex
	resumed        []bool // per request: did TLS resume a session
}

func newTLSEnv(t *testing.T, proxy func(*http.Request) (*url.URL, error)) *tlsEnv {
	t.Helper()
	e := &tlsEnv{gws: newFakeGateways(), pub: &fakePublisher{}, clk: clock.NewManual(t0)}
	h := NewHandler(e.gws, &fakePrinters{}, e.pub, HandlerOptions{Clock: e.clk})
	e.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.resumed = append(e.resumed, r.TLS != nil && r.TLS.DidResume)
		e.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	e.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			e.opened.Add(1)
		case http.StateClosed, http.StateHijacked:
			e.closed.Add(1)
		}
	}
	e.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	e.srv.StartTLS()
	t.Cleanup(e.srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(e.srv.Certificate())
	c, err := NewClient(e.srv.URL, ClientOptions{RootCAs: pool, Clock: e.clk, Proxy: proxy, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e.client = c
	return e
}

func TestEnrolAndUploadOverTLS(t *testing.T) {
	e := newTLSEnv(t, nil)
	e.gws.addToken("tok-123")
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	got, err := e.client.Enrol(ctx, "tok-123", "Plant 7 Command Center", pub)
	if err != nil {
		t.Fatalf("Enrol: %v", err)
	}
	want := EnrolResponse{GatewayID: "gw-1", OrgID: "org-1", SiteID: "site-1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Enrol (-want +got):\n%s", diff)
	}

	// The token is single-use.
	_, err = e.client.Enrol(ctx, "tok-123", "again", pub)
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusUnauthorized || !strings.Contains(se.Message, "token") {
		t.Errorf("second Enrol = %v, want 401 naming the token", err)
	}
	if Retryable(err) {
		t.Errorf("Retryable(invalid token) = true")
	}

	cred := Credentials{GatewayID: got.GatewayID, Key: key}
	ack, err := e.client.Upload(ctx, cred, batchOf(1, 2, 3))
	if err != nil {
		t.Fatalf("Upload: %v", err)
	}
	if diff := cmp.Diff(Ack{Through: 3}, ack); diff != "" {
		t.Errorf("Ack (-want +got):\n%s", diff)
	}
	msgs := e.pub.published()
	if len(msgs) != 1 {
		t.Fatalf("published %d messages, want 1", len(msgs))
	}
	wantEnv := fleet.Envelope{OrgID: "org-1", SiteID: "site-1", GatewayID: "gw-1", Records: batchOf(1, 2, 3).Records}
	if diff := cmp.Diff(wantEnv, msgs[0].env); diff != "" {
		t.Errorf("envelope (-want +got):\n%s", diff)
	}
	if got, want := msgs[0].msgID, "gw-1:1-3"; got != want {
		t.Errorf("msgID = %q, want %q", got, want)
	}
}

// R-ARCH-4: one connection per payload, closed right after; TLS resumed.
func TestUploadOneConnectionPerPayload(t *testing.T) {
	e := newTLSEnv(t, nil)
	cred := newGateway(t, e.gws, "gw-a")
	for i := range 2 {
		if _, err := e.client.Upload(t.Context(), cred, batchOf(uint64(i+1))); err != nil {
			t.Fatalf("Upload %d: %v", i, err)
		}
	}
	if got := e.opened.Load(); got != 2 {
		t.Errorf("server saw %d connections, want 2", got)
	}
	// The server learns of a close over the real connection, in its time.
	err := wait.Until(10*time.Second, 10*time.Millisecond, func() error {
		if got := e.closed.Load(); got < 2 {
			return fmt.Errorf("%d connections closed", got)
		}
		return nil
	})
	if got := e.closed.Load(); err != nil || got != 2 {
		t.Errorf("%d connections closed, want 2 (%v)", got, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if diff := cmp.Diff([]bool{false, true}, e.resumed); diff != "" {
		t.Errorf("TLS session resumed per request (-want +got):\n%s", diff)
	}
}

func TestNewClientRefusesPlainHTTP(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:8443", "ftp://cloud.example", "https://", "https://u:p@cloud.example", "::"} {
		t.Run(u, func(t *testing.T) {
			if _, err := NewClient(u, ClientOptions{}); err == nil {
				t.Errorf("NewClient(%q) = nil error, want refusal", u)
			}
		})
	}
	_, err := NewClient("http://cloud.example", ClientOptions{})
	if err == nil || !strings.Contains(err.Error(), "https") {
		t.Errorf("NewClient(http://) error = %v, want one naming https", err)
	}
}

// R-SEC-1: the certificate chain and host name are verified.
func TestUploadVerifiesServer(t *testing.T) {
	e := newTLSEnv(t, nil)
	cred := newGateway(t, e.gws, "gw-a")
	wrongPool := x509.NewCertPool()
	wrongPool.AddCert(selfSignedCA(t))
	rightPool := x509.NewCertPool()
	rightPool.AddCert(e.srv.Certificate())
	_, port, _ := net.SplitHostPort(e.srv.Listener.Addr().String())

	tests := []struct {
		name string
		url  string
		pool *x509.CertPool
		is   func(error) bool
	}{
		{"wrong CA", e.srv.URL, wrongPool, func(err error) bool {
			_, ok := errors.AsType[*tls.CertificateVerificationError](err)
			return ok
		}},
		{"wrong host name", "https://localhost:" + port, rightPool, func(err error) bool {
			_, ok := errors.AsType[x509.HostnameError](err)
			return ok
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(tt.url, ClientOptions{RootCAs: tt.pool, Clock: e.clk})
			if err != nil {
				t.Fatal(err)
			}
			before := len(e.pub.published())
			_, err = c.Upload(t.Context(), cred, batchOf(1))
			if err == nil || !tt.is(err) {
				t.Fatalf("Upload = %v, want a verification error", err)
			}
			if len(e.pub.published()) != before {
				t.Errorf("batch published despite failed verification")
			}
		})
	}
}

// selfSignedCA returns a fresh CA certificate for 127.0.0.1 that signed
// nothing the test servers use.
func selfSignedCA(t *testing.T) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "other CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// connectProxy is a minimal HTTPS (CONNECT) proxy on loopback that demands
// Basic credentials.
type connectProxy struct {
	ln        net.Listener
	user      string
	pass      string
	connects  atomic.Int32
	refused   atomic.Int32
	wg        sync.WaitGroup
	closeOnce sync.Once
}

func newConnectProxy(t *testing.T, user, pass string) *connectProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &connectProxy{ln: ln, user: user, pass: pass}
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		ln.Close()
		p.wg.Wait()
	})
	return p
}

func (p *connectProxy) url(user, pass string) *url.URL {
	return &url.URL{Scheme: "http", Host: p.ln.Addr().String(), User: url.UserPassword(user, pass)}
}

func (p *connectProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Go(func() { p.handle(c) })
	}
}

func (p *connectProxy) handle(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(p.user+":"+p.pass))
	if req.Method != http.MethodConnect || req.Header.Get("Proxy-Authorization") != want {
		p.refused.Add(1)
		io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\nContent-Length: 0\r\n\r\n")
		return
	}
	host, _, err := net.SplitHostPort(req.Host)
	if err != nil || host != "127.0.0.1" { // this test proxy reaches loopback only
		io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
		return
	}
	up, err := net.DialTimeout("tcp", req.Host, 5*time.Second)
	if err != nil {
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return
	}
	defer up.Close()
	p.connects.Add(1)
	io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	done := make(chan struct{})
	go func() {
		io.Copy(up, br)
		up.(*net.TCPConn).CloseWrite()
		close(done)
	}()
	io.Copy(c, up)
	<-done
}

// R-ARCH-5: uploads go through an authenticating CONNECT proxy.
func TestUploadThroughProxy(t *testing.T) {
	proxy := newConnectProxy(t, "site", "s3cret")
	t.Run("good credentials", func(t *testing.T) {
		e := newTLSEnv(t, http.ProxyURL(proxy.url("site", "s3cret")))
		cred := newGateway(t, e.gws, "gw-a")
		before := proxy.connects.Load()
		ack, err := e.client.Upload(t.Context(), cred, batchOf(7))
		if err != nil {
			t.Fatalf("Upload via proxy: %v", err)
		}
		if ack.Through != 7 {
			t.Errorf("Through = %d, want 7", ack.Through)
		}
		if got := proxy.connects.Load() - before; got != 1 {
			t.Errorf("proxy tunnelled %d connections, want 1", got)
		}
	})
	t.Run("wrong credentials", func(t *testing.T) {
		e := newTLSEnv(t, http.ProxyURL(proxy.url("site", "wrong")))
		cred := newGateway(t, e.gws, "gw-a")
		before := proxy.refused.Load()
		_, err := e.client.Upload(t.Context(), cred, batchOf(7))
		if err == nil {
			t.Fatal("Upload with wrong proxy credentials succeeded")
		}
		if !Retryable(err) {
			t.Errorf("Retryable(%v) = false, want true (a network failure)", err)
		}
		if got := proxy.refused.Load() - before; got != 1 {
			t.Errorf("proxy refused %d requests, want 1", got)
		}
		if len(e.pub.published()) != 0 {
			t.Error("batch published despite refused proxy")
		}
	})
}

func TestUploadErrors(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(e *tlsEnv)
		wantCode  int
		wantRetry bool
		wantAfter time.Duration
		wantMsg   string
	}{
		{"publisher down", func(e *tlsEnv) { e.pub.err = errStreamDown }, 503, true, 5 * time.Second, "try again"},
		{"store down", func(e *tlsEnv) { e.gws.err = errStreamDown }, 503, true, 5 * time.Second, "try again"},
		{"revoked", func(e *tlsEnv) {
			gw, _ := e.gws.Gateway(context.Background(), "gw-a")
			gw.Revoked = true
			e.gws.add(gw)
		}, 403, false, 0, "revoked"},
		{"revoked by store error", func(e *tlsEnv) { e.gws.err = fleet.ErrRevoked }, 403, false, 0, "revoked"},
		{"clock skew", func(e *tlsEnv) { e.clk.Advance(-6 * time.Minute) }, 401, false, 0, "clock skew"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTLSEnv(t, nil)
			cred := newGateway(t, e.gws, "gw-a")
			tt.setup(e)
			// The client signs with a clock of its own here, so that skew
			// can be made between the two.
			c, err := NewClient(e.srv.URL, ClientOptions{RootCAs: poolOf(e.srv), Clock: clock.NewManual(t0)})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Upload(t.Context(), cred, batchOf(1))
			se, ok := errors.AsType[*StatusError](err)
			if !ok {
				t.Fatalf("Upload = %v, want a StatusError", err)
			}
			if se.Code != tt.wantCode || se.RetryAfter != tt.wantAfter || !strings.Contains(se.Message, tt.wantMsg) {
				t.Errorf("StatusError = %+v, want code %d, retry after %s, message containing %q", se, tt.wantCode, tt.wantAfter, tt.wantMsg)
			}
			if got := Retryable(err); got != tt.wantRetry {
				t.Errorf("Retryable = %v, want %v", got, tt.wantRetry)
			}
		})
	}
}

func poolOf(srv *httptest.Server) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(srv.Certificate())
	return p
}

func TestUploadBadCredentials(t *testing.T) {
	c, err := NewClient("https://127.0.0.1:1", ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	for _, cred := range []Credentials{{GatewayID: "gw"}, {Key: key}} {
		if _, err := c.Upload(t.Context(), cred, batchOf(1)); err == nil || Retryable(err) {
			t.Errorf("Upload(%v) = %v, want a permanent error", cred.GatewayID, err)
		}
	}
}

func TestRetryable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{context.Canceled, false},
		{&url.Error{Op: "Post", URL: "https://x", Err: context.Canceled}, false},
		{&url.Error{Op: "Post", URL: "https://x", Err: errors.New("connection refused")}, true},
		{&transportError{io.ErrUnexpectedEOF}, true},
		{&StatusError{Code: 500}, true},
		{&StatusError{Code: 502}, true},
		{&StatusError{Code: 503}, true},
		{&StatusError{Code: 429}, true},
		{&StatusError{Code: 408}, true},
		{&StatusError{Code: 400}, false},
		{&StatusError{Code: 401}, false},
		{&StatusError{Code: 403}, false},
		{&StatusError{Code: 413}, false},
		{errors.New("encode batch: bad"), false},
	}
	for _, tt := range tests {
		name := "nil"
		if tt.err != nil {
			name = tt.err.Error()
		}
		t.Run(name, func(t *testing.T) {
			if got := Retryable(tt.err); got != tt.want {
				t.Errorf("Retryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{"-1", 0},
		{"soon", 0},
		{t0.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{t0.Add(-time.Hour).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := retryAfter(tt.in, t0); got != tt.want {
				t.Errorf("retryAfter(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

// Answers that are not 200 or too big become clear errors.
func TestClientAnswers(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		wantErr string
	}{
		{"redirect is not followed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://elsewhere.example/", http.StatusFound)
		}, "302"},
		{"plain-text error", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "boom", http.StatusBadGateway)
		}, "502 Bad Gateway: Bad Gateway"},
		{"huge answer", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(strings.Repeat("x", maxResponseBytes+10)))
		}, "exceeds"},
		{"garbage answer", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("{not json"))
		}, "decode answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewTLSServer(tt.handler)
			t.Cleanup(srv.Close)
			c, err := NewClient(srv.URL+"/", ClientOptions{RootCAs: poolOf(srv)})
			if err != nil {
				t.Fatal(err)
			}
			pub, _, _ := ed25519.GenerateKey(rand.Reader)
			_, err = c.Enrol(t.Context(), "tok", "cc", pub)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Enrol = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestLoadCertPool(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	good := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(good, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(empty, []byte("no certificates here\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	pool, err := LoadCertPool("")
	if pool != nil || err != nil {
		t.Errorf(`LoadCertPool("") = %v, %v; want nil, nil`, pool, err)
	}
	for _, name := range []string{empty, filepath.Join(dir, "missing.pem")} {
		if _, err := LoadCertPool(name); err == nil {
			t.Errorf("LoadCertPool(%s) = nil error", filepath.Base(name))
		}
	}
	pool, err = LoadCertPool(good)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(srv.URL, ClientOptions{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	_, err = c.Enrol(t.Context(), "tok", "cc", pub)
	if se, ok := errors.AsType[*StatusError](err); !ok || se.Code != http.StatusNotFound {
		t.Errorf("Enrol via loaded pool = %v, want a verified connection answered 404", err)
	}
}

// Other traffic to the cloud (the update mirror) sent through the client's
// Transport follows R-ARCH-4 too: a connection per request, resuming the
// TLS session the uploads opened.
func TestHTTPClientSharesTheUplinkTransport(t *testing.T) {
	e := newTLSEnv(t, nil)
	cred := newGateway(t, e.gws, "gw-a")
	if _, err := e.client.Upload(t.Context(), cred, batchOf(1)); err != nil {
		t.Fatalf("Upload: %v", err)
	}
	hc := e.client.HTTPClient(e.client.Transport(), time.Minute)
	for range 2 {
		resp, err := hc.Get(e.srv.URL + "/tuf/timestamp.json")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		resp.Body.Close()
	}
	if got := e.opened.Load(); got != 3 {
		t.Errorf("server saw %d connections, want 3", got)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if diff := cmp.Diff([]bool{false, true, true}, e.resumed); diff != "" {
		t.Errorf("TLS session resumed per request (-want +got):\n%s", diff)
	}
}
