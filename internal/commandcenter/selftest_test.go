package commandcenter

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/google/go-cmp/cmp"
)

// testCert returns a self-signed certificate for cloud.test and 127.0.0.1
// valid until notAfter, and a pool trusting it.
func testCert(t *testing.T, notAfter time.Time) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Test Cloud CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              notAfter,
		DNSNames:              []string{"cloud.test"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// testCloud starts a TLS server on loopback with cert; h nil answers 404.
func testCloud(t *testing.T, cert tls.Certificate, h http.Handler) *httptest.Server {
	t.Helper()
	if h == nil {
		h = http.NotFoundHandler()
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // probes hang up after the handshake
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// testPrinter starts a TLS server on loopback with httptest's certificate,
// as a printer's device API, and returns its address and fingerprint.
func testPrinter(t *testing.T) (string, deviceapi.Fingerprint) {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), deviceapi.FingerprintOf(srv.Certificate().Raw)
}

// redirectDial dials every address as to (loopback), so tests can use the
// host name cloud.test on port 443.
func redirectDial(to string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, to)
	}
}

// testProxy is an HTTP CONNECT proxy on loopback that may demand a user
// and password.
type testProxy struct {
	URL      *url.URL
	mu       sync.Mutex
	connects []string
}

func newTestProxy(t *testing.T, user, pass string) *testProxy {
	t.Helper()
	p := &testProxy{}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		if user != "" && r.Header.Get("Proxy-Authorization") != want {
			w.Header().Set("Proxy-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusProxyAuthRequired)
			return
		}
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil || net.ParseIP(host) == nil || !net.ParseIP(host).IsLoopback() {
			http.Error(w, "loopback only", http.StatusForbidden)
			return
		}
		target, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		p.mu.Lock()
		p.connects = append(p.connects, r.Host)
		p.mu.Unlock()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			target.Close()
			return
		}
		io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n")
		go func() { io.Copy(target, conn); target.Close() }()
		io.Copy(conn, target)
		conn.Close()
	}))
	t.Cleanup(srv.Close)
	p.URL, _ = url.Parse(srv.URL)
	return p
}

func (p *testProxy) tunnels() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.connects...)
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// allMasked answers every sleep target as masked.
func allMasked(context.Context, string) (string, error) { return "masked", nil }

// baseConfig is a self-test of a healthy site without printers: a cloud at
// cloud.test:443 with a certificate valid for a year.
func baseConfig(t *testing.T, h http.Handler) (SelfTestConfig, *httptest.Server) {
	t.Helper()
	cert, pool := testCert(t, time.Now().Add(365*24*time.Hour))
	srv := testCloud(t, cert, h)
	ui, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ui.Close() })
	return SelfTestConfig{
		CloudURL:   "https://cloud.test",
		RootCAs:    pool,
		Proxy:      func(*http.Request) (*url.URL, error) { return nil, nil },
		Dial:       redirectDial(srv.Listener.Addr().String()),
		LocalUI:    ui.Addr().String(),
		SleepState: allMasked,
		Timeout:    5 * time.Second,
	}, srv
}

// check returns the report's check named name.
func check(t *testing.T, r Report, name string) Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("report has no check %q: %+v", name, r.Checks)
	return Check{}
}

// wantCheck asserts the status of a check and words in its message.
func wantCheck(t *testing.T, r Report, name string, status CheckStatus, words ...string) {
	t.Helper()
	c := check(t, r, name)
	if c.Status != status {
		t.Errorf("%s: status %s (%q), want %s", name, c.Status, c.Message, status)
	}
	for _, w := range words {
		if !strings.Contains(c.Message, w) {
			t.Errorf("%s: message %q lacks %q", name, c.Message, w)
		}
	}
}

func names(r Report) []string {
	var ns []string
	for _, c := range r.Checks {
		ns = append(ns, c.Name)
	}
	return ns
}

func TestSelfTestHealthy(t *testing.T) {
	cfg, _ := baseConfig(t, nil)
	addr, pin := testPrinter(t)
	cfg.Printers = []SelfTestPrinter{{Name: "3DP-1", Address: addr, Pin: pin}}
	cfg.Uplink = &UplinkState{LastSuccess: time.Now().Add(-time.Minute)}

	r := SelfTest(t.Context(), cfg)
	want := []string{checkProxy, checkReach, checkCert, checkSkew, "printer 3DP-1", checkLocalUI, checkSleep, checkUplink}
	if diff := cmp.Diff(want, names(r)); diff != "" {
		t.Errorf("checks (-want +got):\n%s", diff)
	}
	for _, c := range r.Checks {
		if c.Status != CheckOK {
			t.Errorf("%s = %s: %s", c.Name, c.Status, c.Message)
		}
	}
	if r.Status != CheckOK || r.Failed() {
		t.Errorf("report status %s, want ok", r.Status)
	}
	wantCheck(t, r, checkProxy, CheckOK, "none", "directly")
	wantCheck(t, r, checkReach, CheckOK, "cloud.test:443 accepts connections (directly)")
	wantCheck(t, r, checkCert, CheckOK, "valid for cloud.test", "Test Cloud CA")
	wantCheck(t, r, checkSkew, CheckOK, "within")
	wantCheck(t, r, "printer 3DP-1", CheckOK, addr, "pinned certificate")
	wantCheck(t, r, checkLocalUI, CheckOK, "this computer only")
	if strings.Contains(check(t, r, checkReach).Message, "not 443") {
		t.Error("port 443 flagged as unusual")
	}
}

func TestSelfTestCloud(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, cfg *SelfTestConfig, srv *httptest.Server)
		want  map[string]CheckStatus
		words map[string][]string
	}{
		{
			name: "no cloud URL",
			setup: func(t *testing.T, cfg *SelfTestConfig, _ *httptest.Server) {
				cfg.CloudURL = ""
			},
			want:  map[string]CheckStatus{checkReach: CheckFailed, checkCert: CheckWarning, checkSkew: CheckWarning, checkProxy: CheckWarning},
			words: map[string][]string{checkReach: {"no cloud URL"}},
		},
		{
			name: "plain http",
			setup: func(t *testing.T, cfg *SelfTestConfig, _ *httptest.Server) {
				cfg.CloudURL = "http://cloud.test"
			},
			want:  map[string]CheckStatus{checkReach: CheckFailed},
			words: map[string][]string{checkReach: {"plain http://", "https:// uplink URL", "not the dashboard"}},
		},
		{
			name: "no scheme",
			setup: func(t *testing.T, cfg *SelfTestConfig, _ *httptest.Server) {
				cfg.CloudURL = "cloud.test:443"
			},
			want:  map[string]CheckStatus{checkReach: CheckFailed},
			words: map[string][]string{checkReach: {"not an https:// URL"}},
		},
		{
			name: "unreachable",
			setup: func(t *testing.T, cfg *SelfTestConfig, _ *httptest.Server) {
				cfg.Dial = redirectDial(closedAddr(t))
			},
			want:  map[string]CheckStatus{checkProxy: CheckOK, checkReach: CheckFailed, checkCert: CheckWarning, checkSkew: CheckWarning},
			words: map[string][]string{checkReach: {"cannot connect to cloud.test:443", "firewall"}, checkCert: {"not checked"}},
		},
		{
			name: "other port",
			setup: func(t *testing.T, cfg *SelfTestConfig, srv *httptest.Server) {
				cfg.CloudURL = srv.URL
				cfg.Dial = nil
			},
			want:  map[string]CheckStatus{checkReach: CheckOK, checkCert: CheckOK},
			words: map[string][]string{checkReach: {"not 443"}, checkCert: {"valid for 127.0.0.1"}},
		},
		{
			name: "untrusted certificate",
			setup: func(t *testing.T, cfg *SelfTestConfig, _ *httptest.Server) {
				cfg.RootCAs = x509.NewCertPool()
			},
			want:  map[string]CheckStatus{checkReach: CheckOK, checkCert: CheckFailed, checkSkew: CheckWarning},
			words: map[string][]string{checkCert: {"not signed by a trusted authority"}, checkSkew: {"not checked"}},
		},
		{
			name: "certificate for another host",
			setup: func(t *testing.T, cfg *SelfTestConfig, _ *httptest.Server) {
				cfg.CloudURL = "https://elsewhere.test"
			},
			want:  map[string]CheckStatus{checkCert: CheckFailed},
			words: map[string][]string{checkCert: {"not for this host"}},
		},
		{
			name: "clock far ahead",
			setup: func(t *testing.T, cfg *SelfTestConfig, _ *httptest.Server) {
				cfg.Clock = clock.NewManual(time.Now().Add(7 * time.Minute))
			},
			want:  map[string]CheckStatus{checkCert: CheckOK, checkSkew: CheckFailed},
			words: map[string][]string{checkSkew: {"ahead of", "NTP"}},
		},
		{
			name: "clock a little behind",
			setup: func(t *testing.T, cfg *SelfTestConfig, _ *httptest.Server) {
				cfg.Clock = clock.NewManual(time.Now().Add(-2 * time.Minute))
			},
			want:  map[string]CheckStatus{checkSkew: CheckWarning},
			words: map[string][]string{checkSkew: {"behind"}},
		},
		{
			name: "clock expires the certificate",
			setup: func(t *testing.T, cfg *SelfTestConfig, _ *httptest.Server) {
				cfg.Clock = clock.NewManual(time.Now().Add(2 * 365 * 24 * time.Hour))
			},
			want:  map[string]CheckStatus{checkCert: CheckFailed},
			words: map[string][]string{checkCert: {"clock"}},
		},
		{
			name: "proxy setting invalid",
			setup: func(t *testing.T, cfg *SelfTestConfig, _ *httptest.Server) {
				cfg.Proxy = func(*http.Request) (*url.URL, error) { return nil, errors.New("invalid proxy address") }
			},
			want:  map[string]CheckStatus{checkProxy: CheckFailed, checkReach: CheckFailed, checkCert: CheckWarning},
			words: map[string][]string{checkProxy: {"invalid proxy address"}},
		},
		{
			name: "socks proxy",
			setup: func(t *testing.T, cfg *SelfTestConfig, _ *httptest.Server) {
				cfg.Proxy = func(*http.Request) (*url.URL, error) { return url.Parse("socks5://127.0.0.1:1080") }
			},
			want:  map[string]CheckStatus{checkProxy: CheckFailed, checkReach: CheckFailed},
			words: map[string][]string{checkProxy: {"not supported"}},
		},
		{
			name: "proxy down",
			setup: func(t *testing.T, cfg *SelfTestConfig, _ *httptest.Server) {
				cfg.Dial = nil
				p := &url.URL{Scheme: "http", Host: closedAddr(t)}
				cfg.Proxy = func(*http.Request) (*url.URL, error) { return p, nil }
			},
			want:  map[string]CheckStatus{checkProxy: CheckFailed, checkReach: CheckFailed, checkSkew: CheckWarning},
			words: map[string][]string{checkProxy: {"cannot connect to it"}, checkReach: {"through the proxy"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, srv := baseConfig(t, nil)
			tt.setup(t, &cfg, srv)
			r := SelfTest(t.Context(), cfg)
			for name, status := range tt.want {
				wantCheck(t, r, name, status, tt.words[name]...)
			}
			// No printers are paired: a warning at least.
			if want := max(tt.want[checkReach], tt.want[checkCert], tt.want[checkSkew], tt.want[checkProxy], CheckWarning); r.Status != want {
				t.Errorf("report status %s, want %s", r.Status, want)
			}
		})
	}
}

func TestSelfTestCertificateExpiresSoon(t *testing.T) {
	cfg, _ := baseConfig(t, nil)
	cert, pool := testCert(t, time.Now().Add(10*24*time.Hour))
	srv := testCloud(t, cert, nil)
	cfg.RootCAs, cfg.Dial = pool, redirectDial(srv.Listener.Addr().String())
	r := SelfTest(t.Context(), cfg)
	wantCheck(t, r, checkCert, CheckWarning, "expires in 9 days", "renew")
	if r.Status != CheckWarning {
		t.Errorf("report status %s, want warning", r.Status)
	}
}

func TestSelfTestNoDateHeader(t *testing.T) {
	cfg, _ := baseConfig(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Date"] = nil
		w.WriteHeader(http.StatusNoContent)
	}))
	wantCheck(t, SelfTest(t.Context(), cfg), checkSkew, CheckWarning, "no Date header")
}

func TestSelfTestThroughProxy(t *testing.T) {
	cert, pool := testCert(t, time.Now().Add(365*24*time.Hour))
	srv := testCloud(t, cert, nil)
	tests := []struct {
		name           string
		user, pass     string // the proxy's
		setUser        *url.Userinfo
		proxy, reach   CheckStatus
		proxyWords     []string
		wantTunnelled  bool
		forbiddenWords []string
	}{
		{name: "open proxy", proxy: CheckOK, reach: CheckOK, proxyWords: []string{"opens a tunnel"}, wantTunnelled: true},
		{name: "authenticating proxy", user: "site", pass: "s3cret", setUser: url.UserPassword("site", "s3cret"),
			proxy: CheckOK, reach: CheckOK, wantTunnelled: true, forbiddenWords: []string{"s3cret"}},
		{name: "credentials missing", user: "site", pass: "s3cret", proxy: CheckFailed, reach: CheckFailed,
			proxyWords: []string{"407", "user and password"}},
		{name: "credentials wrong", user: "site", pass: "s3cret", setUser: url.UserPassword("site", "wrong-pass"),
			proxy: CheckFailed, reach: CheckFailed, proxyWords: []string{"407", "refused the user"}, forbiddenWords: []string{"wrong-pass"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestProxy(t, tt.user, tt.pass)
			pu := *p.URL
			pu.User = tt.setUser
			r := SelfTest(t.Context(), SelfTestConfig{
				CloudURL: srv.URL, RootCAs: pool, SleepState: allMasked, Timeout: 5 * time.Second,
				Proxy: func(req *http.Request) (*url.URL, error) { return &pu, nil },
			})
			wantCheck(t, r, checkProxy, tt.proxy, append(tt.proxyWords, p.URL.Host)...)
			wantCheck(t, r, checkReach, tt.reach)
			if tt.reach == CheckOK {
				wantCheck(t, r, checkReach, CheckOK, "through the proxy")
				wantCheck(t, r, checkCert, CheckOK)
				wantCheck(t, r, checkSkew, CheckOK)
			}
			if got := len(p.tunnels()) > 0; got != tt.wantTunnelled {
				t.Errorf("tunnels %v, want tunnelled %v", p.tunnels(), tt.wantTunnelled)
			}
			b, _ := json.Marshal(r)
			for _, w := range tt.forbiddenWords {
				if bytes.Contains(b, []byte(w)) {
					t.Errorf("report shows the proxy password: %s", b)
				}
			}
		})
	}
}

func TestSelfTestPrinters(t *testing.T) {
	addr, pin := testPrinter(t)
	down := closedAddr(t)

	cfg, _ := baseConfig(t, nil)
	cfg.Printers = []SelfTestPrinter{
		{Name: "good", Address: addr, Pin: pin},
		{Name: "moved", Address: addr, Pin: "AA:BB"},
		{Address: down, Pin: pin},
	}
	r := SelfTest(t.Context(), cfg)
	wantCheck(t, r, "printer good", CheckOK)
	wantCheck(t, r, "printer moved", CheckFailed, "not the pinned AA:BB", string(pin))
	wantCheck(t, r, "printer "+down, CheckFailed, "unreachable")
	if !r.Failed() {
		t.Error("a printer failed, the report did not")
	}

	cfg.Printers = nil
	wantCheck(t, SelfTest(t.Context(), cfg), "printers", CheckWarning, "no printers are paired", "-printer host:port")
}

// With a Reader, the self-test also checks that each printer has paired
// this Command Center, and says which fingerprint to confirm at the
// printer when not.
func TestSelfTestPrinterPairing(t *testing.T) {
	dev := newFakeDevice("printer-000a")
	paired := startPrinter(t, deviceHandler(t, served{dev}), nil)
	unpaired := startPrinter(t, deviceapi.NewHandler(served{dev}, pairedCollectors(t), slog.New(slog.DiscardHandler)), nil)
	broken := startPrinter(t, misbehave(deviceHandler(t, served{dev}), "/v1/status", answer(`{`)), nil)

	cfg, _ := baseConfig(t, nil)
	cfg.Reader = realDialer(2*time.Second, 0)
	cfg.Printers = []SelfTestPrinter{
		{Name: "paired", Address: paired.addr(), Pin: paired.pin},
		{Name: "unpaired", Address: unpaired.addr(), Pin: unpaired.pin},
		{Name: "broken", Address: broken.addr(), Pin: broken.pin},
	}
	r := SelfTest(t.Context(), cfg)
	wantCheck(t, r, "printer paired", CheckOK, "has paired this Command Center")
	wantCheck(t, r, "printer unpaired", CheckFailed, "has not paired this Command Center",
		"confirm this Command Center's fingerprint "+string(deviceapi.FingerprintOf(testCC().Certificate[0]))+" at the printer")
	wantCheck(t, r, "printer broken", CheckWarning, "reading its status failed")

	cfg.Reader = func(addr string, pin deviceapi.Fingerprint) Device {
		return deviceapi.NewClient(addr, pin, deviceapi.ClientOptions{}) // no client certificate
	}
	wantCheck(t, SelfTest(t.Context(), cfg), "printer paired", CheckFailed, "this one has no client certificate")
}

func TestCheckTargets(t *testing.T) {
	ps := []Printer{
		{Address: "a:8443", Fingerprint: "AA", Identity: &deviceapi.Identity{}},
		{Address: "b:8443", Fingerprint: "BB"},
	}
	ps[0].Identity.Name = "3DP-A"
	want := []SelfTestPrinter{{Name: "3DP-A", Address: "a:8443", Pin: "AA"}, {Name: "b:8443", Address: "b:8443", Pin: "BB"}}
	if diff := cmp.Diff(want, CheckTargets(ps)); diff != "" {
		t.Errorf("CheckTargets (-want +got):\n%s", diff)
	}
}

func TestSelfTestLocalUI(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port
	free := closedAddr(t)
	_, fp, _ := net.SplitHostPort(free)
	freePort, _ := strconv.Atoi(fp)

	tests := []struct {
		name   string
		set    func(*SelfTestConfig)
		status CheckStatus
		words  []string
	}{
		{"running", func(c *SelfTestConfig) { c.LocalUI = taken.Addr().String() }, CheckOK, []string{"answers", "this computer only"}},
		{"not running", func(c *SelfTestConfig) { c.LocalUI = free }, CheckFailed, []string{"does not answer"}},
		{"on the LAN", func(c *SelfTestConfig) {
			c.LocalUI = "0.0.0.0:8080" // every interface; Dial goes to loopback
			c.Dial = redirectDial(taken.Addr().String())
		}, CheckOK, []string{"other computers", "HTTPS", "password"}},
		{"port free", func(c *SelfTestConfig) { c.LocalUI, c.LocalPorts = "", [2]int{freePort, freePort} }, CheckOK,
			[]string{"port " + fp + " on 127.0.0.1 is free"}},
		{"ports taken", func(c *SelfTestConfig) { c.LocalUI, c.LocalPorts = "", [2]int{takenPort, takenPort} }, CheckFailed,
			[]string{"cannot take a port"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := SelfTestConfig{Timeout: 2 * time.Second}.withDefaults()
			tt.set(&cfg)
			c := localUICheck(t.Context(), cfg)
			if c.Status != tt.status {
				t.Errorf("status %s (%q), want %s", c.Status, c.Message, tt.status)
			}
			for _, w := range tt.words {
				if !strings.Contains(c.Message, w) {
					t.Errorf("message %q lacks %q", c.Message, w)
				}
			}
		})
	}
}

func TestSelfTestSleep(t *testing.T) {
	tests := []struct {
		name   string
		states map[string]string
		err    error
		status CheckStatus
		words  []string
	}{
		{"all masked", map[string]string{"sleep.target": "masked", "suspend.target": "masked", "hibernate.target": "masked-runtime",
			"hybrid-sleep.target": "not-found"}, nil, CheckOK, []string{"masked"}},
		{"suspend allowed", map[string]string{"sleep.target": "static", "suspend.target": "static", "hibernate.target": "masked",
			"hybrid-sleep.target": "masked"}, nil, CheckWarning, []string{"sleep.target is static", "suspend.target is static", "systemctl mask"}},
		{"unknown", nil, errSleepUnknown, CheckWarning, []string{"unknown", "never sleeps"}},
		{"kept awake", nil, errSleepUnknown, CheckOK, []string{"keeps this computer awake"}},
		{"cannot keep awake", map[string]string{"sleep.target": "static"}, nil, CheckWarning,
			[]string{"cannot keep this computer awake (keep-awake: no bus)", "sleep.target is static", "systemctl mask"}},
		{"cannot keep awake, masked", map[string]string{"sleep.target": "masked", "suspend.target": "masked", "hibernate.target": "masked",
			"hybrid-sleep.target": "masked"}, nil, CheckOK, []string{"masked"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := SelfTestConfig{SleepState: func(_ context.Context, unit string) (string, error) {
				if tt.err != nil {
					return "", tt.err
				}
				return tt.states[unit], nil
			}}.withDefaults()
			switch tt.name {
			case "kept awake":
				cfg.KeepAwake = func() error { return nil }
			case "cannot keep awake", "cannot keep awake, masked":
				cfg.KeepAwake = func() error { return errors.New("keep-awake: no bus") }
			}
			c := sleepCheck(t.Context(), cfg)
			if c.Status != tt.status {
				t.Errorf("status %s (%q), want %s", c.Status, c.Message, tt.status)
			}
			for _, w := range tt.words {
				if !strings.Contains(c.Message, w) {
					t.Errorf("message %q lacks %q", c.Message, w)
				}
			}
		})
	}
}

func TestSystemctlIsEnabledOnlyReads(t *testing.T) {
	// Whatever the host, the default either answers a state or says it
	// cannot tell; it never fails the test run or changes anything.
	state, err := systemctlIsEnabled(t.Context(), "sleep.target")
	if err != nil && !errors.Is(err, errSleepUnknown) {
		t.Errorf("systemctlIsEnabled error %v, want errSleepUnknown", err)
	}
	if err == nil && state == "" {
		t.Error("systemctlIsEnabled answered no state and no error")
	}
}

func TestUplinkCheck(t *testing.T) {
	now := t0
	tests := []struct {
		name   string
		u      UplinkState
		status CheckStatus
		words  []string
	}{
		{"recent", UplinkState{LastSuccess: now.Add(-time.Minute)}, CheckOK, []string{"acknowledged an upload at"}},
		{"never", UplinkState{LastError: "dial tcp: refused"}, CheckWarning, []string{"not acknowledged an upload yet", "dial tcp: refused"}},
		{"stale", UplinkState{LastSuccess: now.Add(-2 * time.Hour), LastError: "503"}, CheckWarning, []string{"not been reached for 2 h 00 min", "503"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := uplinkCheck(tt.u, now, DefaultStaleAfter)
			if c.Status != tt.status {
				t.Errorf("status %s (%q), want %s", c.Status, c.Message, tt.status)
			}
			for _, w := range tt.words {
				if !strings.Contains(c.Message, w) {
					t.Errorf("message %q lacks %q", c.Message, w)
				}
			}
		})
	}
}

func TestReportText(t *testing.T) {
	r := Report{At: t0, Status: CheckFailed, Checks: []Check{
		{Name: "proxy", Status: CheckOK, Message: "none"},
		{Name: "cloud reachable", Status: CheckFailed, Message: "cannot\nconnect"},
	}}
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := "ok      proxy            none\n" +
		"failed  cloud reachable  cannot connect\n" +
		"failed  overall          2 checks at 2025-03-01T12:00:00Z\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteText (-want +got):\n%s", diff)
	}
}

func TestCheckStatusText(t *testing.T) {
	for _, s := range []CheckStatus{CheckOK, CheckWarning, CheckFailed} {
		b, err := s.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var got CheckStatus
		if err := got.UnmarshalText(b); err != nil || got != s {
			t.Errorf("round trip of %s = %s, %v", s, got, err)
		}
	}
	if _, err := CheckStatus(9).MarshalText(); err == nil {
		t.Error("MarshalText(9) succeeded")
	}
	var s CheckStatus
	if err := s.UnmarshalText([]byte("great")); err == nil {
		t.Error(`UnmarshalText("great") succeeded`)
	}
	if got := CheckStatus(9).String(); got != "CheckStatus(9)" {
		t.Errorf("String() = %q", got)
	}
}

func TestJudgeSkew(t *testing.T) {
	local := t0
	tests := []struct {
		name, date string
		status     CheckStatus
		words      string
	}{
		{"same", t0.Format(http.TimeFormat), CheckOK, "within 1s"},
		{"cloud 30 s ahead", t0.Add(30 * time.Second).Format(http.TimeFormat), CheckOK, "within 30s"},
		{"cloud 2 min ahead", t0.Add(2 * time.Minute).Format(http.TimeFormat), CheckWarning, "2m0s behind"},
		{"cloud 6 min behind", t0.Add(-6 * time.Minute).Format(http.TimeFormat), CheckFailed, "6m0s ahead of"},
		{"no date", "", CheckWarning, "no Date header"},
		{"garbage", "yesterday-ish", CheckWarning, "is not a date"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := judgeSkew(tt.date, local)
			if c.Status != tt.status || !strings.Contains(c.Message, tt.words) {
				t.Errorf("judgeSkew(%q) = %s %q, want %s with %q", tt.date, c.Status, c.Message, tt.status, tt.words)
			}
		})
	}
}

// FuzzJudgeSkew feeds the cloud's Date header: any header gives one valid
// check naming the clock; a parsable date is judged by its distance.
func FuzzJudgeSkew(f *testing.F) {
	f.Add(t0.Format(http.TimeFormat), int64(0))
	f.Add("Mon, 02 Jan 2006 15:04:05 GMT", int64(7*time.Minute))
	f.Add("Monday, 02-Jan-06 15:04:05 GMT", int64(-time.Hour))
	f.Add("", int64(0))
	f.Add("\x00\xff", int64(1))
	f.Fuzz(func(t *testing.T, date string, offset int64) {
		local := t0.Add(time.Duration(offset))
		c := judgeSkew(date, local)
		if c.Name != checkSkew || c.Status > CheckFailed || c.Message == "" {
			t.Fatalf("judgeSkew(%q) = %+v", date, c)
		}
		if ct, err := http.ParseTime(date); err == nil {
			d := local.Sub(ct).Abs()
			if d > skewFail+2*time.Second && c.Status != CheckFailed {
				t.Errorf("skew %s judged %s", d, c.Status)
			}
			if d < skewWarn-2*time.Second && c.Status != CheckOK {
				t.Errorf("skew %s judged %s", d, c.Status)
			}
		}
	})
}

// FuzzConnectAnswer feeds a proxy's answer to CONNECT: the tunnel opens
// only on a 2xx answer with nothing after it, and every refusal is a
// proxyError, never a panic.
func FuzzConnectAnswer(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n"))
	f.Add([]byte("HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello"))
	f.Add([]byte("garbage"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, answer []byte) {
		cfg := SelfTestConfig{Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			client, proxy := net.Pipe()
			go func() {
				if _, err := http.ReadRequest(bufio.NewReader(proxy)); err != nil {
					proxy.Close()
					return
				}
				proxy.Write(answer)
				proxy.Close()
			}()
			go func() { <-ctx.Done(); client.Close() }()
			return client, nil
		}}.withDefaults()
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		conn, err := dialCloud(ctx, cfg, "cloud.test:443", &url.URL{Scheme: "http", Host: "proxy.test:3128"})
		if err == nil {
			conn.Close()
			if !bytes.HasPrefix(answer, []byte("HTTP/1.")) {
				t.Fatalf("tunnel opened on %q", answer)
			}
			return
		}
		var pe *proxyError
		if !errors.As(err, &pe) || pe.Error() == "" {
			t.Fatalf("dialCloud error %v (%T), want a proxyError", err, err)
		}
	})
}
