package commandcenter

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
)

// The connectivity self-test follows the whitepaper's checklist (seed
// §4.7, R-ARCH-9): the cloud reachable on its port, the proxy in effect,
// the cloud's certificate, the clock, every printer and its pin, the local
// UI port and the host's sleep settings (R-ARCH-8). It only looks: it
// changes no setting and sends the cloud nothing but one HEAD request.

// CheckStatus is the outcome of one self-test check.
type CheckStatus uint8

// The outcomes, from good to bad.
const (
	CheckOK CheckStatus = iota
	// CheckWarning: works now, but needs attention (or could not be checked).
	CheckWarning
	// CheckFailed: the Command Center cannot do its job until this is fixed.
	CheckFailed
)

var checkStatusNames = [...]string{"ok", "warning", "failed"}

func (s CheckStatus) String() string {
	if int(s) < len(checkStatusNames) {
		return checkStatusNames[s]
	}
	return fmt.Sprintf("CheckStatus(%d)", uint8(s))
}

// MarshalText encodes the status by name.
func (s CheckStatus) MarshalText() ([]byte, error) {
	if int(s) >= len(checkStatusNames) {
		return nil, fmt.Errorf("marshal check status: invalid status %d", uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText decodes a status name.
func (s *CheckStatus) UnmarshalText(b []byte) error {
	for i, n := range checkStatusNames {
		if string(b) == n {
			*s = CheckStatus(i)
			return nil
		}
	}
	return fmt.Errorf("unmarshal check status: unknown status %q", b)
}

// Check is one line of a self-test report.
type Check struct {
	Name    string      `json:"name"`
	Status  CheckStatus `json:"status"`
	Message string      `json:"message"`
}

// Report is the outcome of a self-test: one check per line, in a stable
// order, and the worst of their statuses.
type Report struct {
	At     time.Time   `json:"at"`
	Status CheckStatus `json:"status"`
	Checks []Check     `json:"checks"`
}

// Failed reports whether any check failed.
func (r Report) Failed() bool { return r.Status == CheckFailed }

// WriteText writes the report for a terminal, one check per line:
//
//	ok       cloud reachable    cloud.example:443 accepts connections (directly)
func (r Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range r.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Status, c.Name, oneLine(c.Message))
	}
	fmt.Fprintf(tw, "%s\t%s\t%d checks at %s\n", r.Status, "overall", len(r.Checks), r.At.Format(time.RFC3339))
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write self-test report: %w", err)
	}
	return nil
}

// oneLine keeps a message on its line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// SelfTestPrinter is a printer the self-test probes.
type SelfTestPrinter struct {
	Name    string                // for the report; "" → Address
	Address string                // host:port of its device API
	Pin     deviceapi.Fingerprint // the pinned certificate
}

// CheckTargets returns the printers of ps as the self-test probes them:
// the active ones.
func CheckTargets(ps []Printer) []SelfTestPrinter {
	ts := make([]SelfTestPrinter, 0, len(ps))
	for _, p := range ps {
		if p.Retired() {
			continue // not polled: its reachability is nobody's concern
		}
		t := SelfTestPrinter{Name: p.Address, Address: p.Address, Pin: p.Fingerprint}
		if p.Identity != nil && p.Identity.Name != "" {
			t.Name = p.Identity.Name
		}
		ts = append(ts, t)
	}
	return ts
}

// SelfTestConfig says what the self-test checks and how. Only CloudURL is
// required; the zero value of every other field works.
type SelfTestConfig struct {
	// CloudURL is the cloud's base URL (https://…).
	CloudURL string
	// RootCAs verify the cloud's certificate; nil → the system roots.
	RootCAs *x509.CertPool
	// Proxy picks the proxy for the cloud URL; nil →
	// http.ProxyFromEnvironment (R-ARCH-5), as the uplink client does.
	Proxy func(*http.Request) (*url.URL, error)
	// Printers are probed and their pins compared.
	Printers []SelfTestPrinter
	// LocalUI is the address the running local UI listens on. "" → check
	// instead that a port in LocalPorts on LocalHost is free to take.
	LocalUI    string
	LocalHost  string // "" → 127.0.0.1
	LocalPorts [2]int // first and last; zero → 8080, 8090 (R-ARCH-6)
	// AnyLocalPort checks instead that the system gives the local UI a
	// port, for a Command Center run with -ui-ports 0.
	AnyLocalPort bool
	// Uplink, when set, adds a check of the latest successful upload:
	// a warning when it is older than StaleAfter (R-ARCH-8).
	Uplink     *UplinkState
	StaleAfter time.Duration // 0 → DefaultStaleAfter

	// Dial opens TCP connections to the cloud, the proxy and the local UI;
	// nil → a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Probe reads a printer's certificate fingerprint; nil → deviceapi.Probe.
	Probe func(ctx context.Context, addr string) (deviceapi.Fingerprint, error)
	// Reader, if set, reads a printer that presents its pinned certificate
	// as the poller does (with this Command Center's client certificate),
	// to check that the printer has paired this Command Center; nil → not
	// checked.
	Reader Dialer
	// SleepState answers what `systemctl is-enabled unit` answers ("masked",
	// "static", …); nil → run systemctl, if there is one. It must not
	// change anything.
	SleepState func(ctx context.Context, unit string) (string, error)
	// KeepAwake, when set, says whether the running Command Center keeps
	// the host awake (nil) or why it cannot (package keepawake); nil →
	// the host's sleep settings alone decide.
	KeepAwake func() error
	Clock     clock.Clock   // nil → the real clock
	Timeout   time.Duration // per check; 0 → 10 s
}

// DefaultStaleAfter is how long without a successful upload the Command
// Center accepts before it warns (R-ARCH-8): three bulk intervals.
const DefaultStaleAfter = 15 * time.Minute

// Clock skew limits: the cloud refuses signed uploads more than its skew
// window (5 min) away from its clock.
const (
	skewWarn = time.Minute
	skewFail = 5 * time.Minute
)

// certWarnBefore is how long before its expiry the cloud's certificate is
// flagged.
const certWarnBefore = 30 * 24 * time.Hour

// probeParallel bounds the printers probed at once.
const probeParallel = 8

func (c SelfTestConfig) withDefaults() SelfTestConfig {
	if c.Proxy == nil {
		c.Proxy = http.ProxyFromEnvironment
	}
	if c.LocalHost == "" {
		c.LocalHost = "127.0.0.1"
	}
	if c.LocalPorts == [2]int{} {
		c.LocalPorts = [2]int{8080, 8090}
	}
	if c.StaleAfter <= 0 {
		c.StaleAfter = DefaultStaleAfter
	}
	if c.Dial == nil {
		d := &net.Dialer{}
		c.Dial = d.DialContext
	}
	if c.Probe == nil {
		c.Probe = deviceapi.Probe
	}
	if c.SleepState == nil {
		c.SleepState = systemctlIsEnabled
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	return c
}

// SelfTest runs the connectivity self-test. It never fails as a whole:
// what goes wrong is a failed check in the report.
func SelfTest(ctx context.Context, cfg SelfTestConfig) Report {
	cfg = cfg.withDefaults()
	r := Report{At: cfg.Clock.Now()}
	r.Checks = append(r.Checks, cloudChecks(ctx, cfg)...)
	r.Checks = append(r.Checks, printerChecks(ctx, cfg)...)
	r.Checks = append(r.Checks, localUICheck(ctx, cfg), sleepCheck(ctx, cfg))
	if cfg.Uplink != nil {
		r.Checks = append(r.Checks, uplinkCheck(*cfg.Uplink, cfg.Clock.Now(), cfg.StaleAfter))
	}
	for _, c := range r.Checks {
		r.Status = max(r.Status, c.Status)
	}
	return r
}

// The names of the cloud checks.
const (
	checkProxy     = "proxy"
	checkReach     = "cloud reachable"
	checkCert      = "cloud certificate"
	checkSkew      = "clock skew"
	checkLocalUI   = "local UI port"
	checkSleep     = "host sleep"
	checkUplink    = "last upload"
	checkPrinterAt = "printer "
	checkPrinters  = "printers"
)

func ok(name, format string, args ...any) Check {
	return Check{Name: name, Status: CheckOK, Message: fmt.Sprintf(format, args...)}
}

func warn(name, format string, args ...any) Check {
	return Check{Name: name, Status: CheckWarning, Message: fmt.Sprintf(format, args...)}
}

func fail(name, format string, args ...any) Check {
	return Check{Name: name, Status: CheckFailed, Message: fmt.Sprintf(format, args...)}
}

// cloudChecks checks, in order: the proxy, reaching the cloud, its
// certificate and the clock skew against its Date header. A check that
// cannot run because an earlier one failed says so as a warning.
func cloudChecks(ctx context.Context, cfg SelfTestConfig) []Check {
	u, err := url.Parse(cfg.CloudURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		msg := fmt.Sprintf("the cloud URL %q is not an https:// URL with a host; %s", cfg.CloudURL, adviceCloudURL)
		switch {
		case cfg.CloudURL == "":
			msg = "no cloud URL is configured; " + adviceCloudURL
		case err == nil && u.Scheme == "http":
			// Most likely a dashboard's address, which a demo serves on
			// plain HTTP: the uplink is always HTTPS.
			msg = fmt.Sprintf("the cloud URL %q is plain http://: the Command Center uploads over HTTPS only; %s", cfg.CloudURL, adviceCloudURL)
		}
		return []Check{
			fail(checkReach, "%s", msg),
			warn(checkProxy, "not checked: no valid cloud URL"),
			warn(checkCert, "not checked: no valid cloud URL"),
			warn(checkSkew, "not checked: no valid cloud URL"),
		}
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "443"
	}
	addr := net.JoinHostPort(host, port)
	portNote := ""
	if port != "443" {
		portNote = fmt.Sprintf("; note: port %s, not 443, must be open in the site's firewall", port)
	}

	proxy, err := cfg.Proxy(&http.Request{Method: http.MethodPost, URL: u, Header: http.Header{}})
	if err != nil {
		return []Check{
			fail(checkProxy, "the proxy setting of the environment is invalid: %v; %s", err, adviceProxyEnv),
			fail(checkReach, "not reached: no usable proxy setting"),
			warn(checkCert, "not checked: the cloud was not reached"),
			warn(checkSkew, "not checked: the cloud was not reached"),
		}
	}

	cctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	conn, err := dialCloud(cctx, cfg, addr, proxy)
	var checks []Check
	switch {
	case proxy == nil:
		checks = append(checks, ok(checkProxy, "none: the environment (HTTPS_PROXY, NO_PROXY) sets no proxy for %s, connecting directly", host))
		if err != nil {
			checks = append(checks, fail(checkReach, "cannot connect to %s: %v ("+adviceFirewall+")", addr, err, port))
		}
	case err != nil:
		var pe *proxyError
		if errors.As(err, &pe) && pe.refused {
			checks = append(checks, fail(checkProxy, "%s (from the environment) refused to open a tunnel to %s: %s", proxyName(proxy), addr, pe.Error()))
		} else {
			checks = append(checks, fail(checkProxy, "%s (from the environment) does not work: %v; %s", proxyName(proxy), err, adviceProxyEnv))
		}
		checks = append(checks, fail(checkReach, "not reached through the proxy %s", proxyName(proxy)))
	default:
		checks = append(checks, ok(checkProxy, "%s (from the environment): it opens a tunnel (CONNECT) to %s", proxyName(proxy), addr))
	}
	if err != nil {
		return append(checks,
			warn(checkCert, "not checked: the cloud was not reached"),
			warn(checkSkew, "not checked: the cloud was not reached"))
	}
	defer conn.Close()
	via := "directly"
	if proxy != nil {
		via = "through the proxy"
	}
	checks = append(checks, ok(checkReach, "%s accepts connections (%s)%s", addr, via, portNote))

	tc, cert := certCheck(cctx, cfg, conn, host)
	checks = append(checks, cert)
	if tc == nil {
		return append(checks, warn(checkSkew, "not checked: no verified connection to the cloud"))
	}
	return append(checks, skewCheck(cctx, cfg, tc, u))
}

// proxyName names a proxy without its credentials.
func proxyName(p *url.URL) string {
	return p.Redacted()
}

// proxyError is a proxy's refusal to tunnel, or a failure to talk to it.
type proxyError struct {
	refused bool // the proxy answered CONNECT with other than 2xx
	msg     string
}

func (e *proxyError) Error() string { return e.msg }

// dialCloud opens a TCP connection to addr, directly or through the proxy
// with CONNECT (authenticating with the proxy URL's user and password, as
// net/http does).
func dialCloud(ctx context.Context, cfg SelfTestConfig, addr string, proxy *url.URL) (net.Conn, error) {
	if proxy == nil {
		return cfg.Dial(ctx, "tcp", addr)
	}
	port := proxy.Port()
	switch proxy.Scheme {
	case "http":
		if port == "" {
			port = "80"
		}
	case "https":
		if port == "" {
			port = "443"
		}
	default:
		return nil, &proxyError{msg: fmt.Sprintf("proxy scheme %q is not supported by the self-test (use http:// or https://)", proxy.Scheme)}
	}
	conn, err := cfg.Dial(ctx, "tcp", net.JoinHostPort(proxy.Hostname(), port))
	if err != nil {
		return nil, &proxyError{msg: fmt.Sprintf("cannot connect to it: %v", err)}
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if proxy.Scheme == "https" {
		tc := tls.Client(conn, &tls.Config{ServerName: proxy.Hostname(), MinVersion: tls.VersionTLS12, Time: cfg.Clock.Now})
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, &proxyError{msg: fmt.Sprintf("TLS with the proxy: %v", err)}
		}
		conn = tc
	}
	req := &http.Request{
		Method: http.MethodConnect,
		URL:    &url.URL{Opaque: addr},
		Host:   addr,
		Header: http.Header{"User-Agent": {"fusionfleet-selftest"}},
	}
	if u := proxy.User; u != nil {
		pass, _ := u.Password()
		req.Header.Set("Proxy-Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+pass)))
	}
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, &proxyError{msg: fmt.Sprintf("send CONNECT: %v", err)}
	}
	br := bufio.NewReader(io.LimitReader(conn, 64<<10))
	res, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, &proxyError{msg: fmt.Sprintf("read its answer to CONNECT: %v", err)}
	}
	res.Body.Close()
	if res.ProtoMajor != 1 {
		conn.Close()
		return nil, &proxyError{msg: fmt.Sprintf("its answer to CONNECT is not HTTP/1.x but %q", res.Proto)}
	}
	if res.StatusCode/100 != 2 {
		conn.Close()
		msg := res.Status
		if res.StatusCode == http.StatusProxyAuthRequired {
			if proxy.User == nil {
				msg += ": " + adviceProxyAuth
			} else {
				msg += ": it refused the user and password in the proxy setting"
			}
		}
		return nil, &proxyError{refused: true, msg: msg}
	}
	if br.Buffered() > 0 {
		conn.Close()
		return nil, &proxyError{msg: "the proxy sent data after its answer to CONNECT"}
	}
	return conn, nil
}

// certCheck performs the TLS handshake with the cloud over conn and checks
// its certificate. It returns the verified connection, or nil.
func certCheck(ctx context.Context, cfg SelfTestConfig, conn net.Conn, host string) (*tls.Conn, Check) {
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	tc := tls.Client(conn, &tls.Config{
		ServerName: host,
		RootCAs:    cfg.RootCAs,
		MinVersion: tls.VersionTLS12,
		Time:       cfg.Clock.Now,
	})
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fail(checkCert, "%s", certFailure(err))
	}
	cs := tc.ConnectionState()
	if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return nil, fail(checkCert, "the cloud's certificate was not verified")
	}
	chain := cs.VerifiedChains[0]
	leaf := chain[0]
	expiry := leaf.NotAfter
	for _, c := range chain[1:] {
		if c.NotAfter.Before(expiry) {
			expiry = c.NotAfter
		}
	}
	now := cfg.Clock.Now()
	issuer := leaf.Issuer.CommonName
	if issuer == "" {
		issuer = leaf.Issuer.String()
	}
	days := int(expiry.Sub(now).Hours() / 24)
	if expiry.Sub(now) < certWarnBefore {
		return tc, warn(checkCert, "valid for %s, but its chain expires in %d days (%s): "+adviceRenew, host, days, expiry.UTC().Format(time.DateOnly))
	}
	return tc, ok(checkCert, "valid for %s, issued by %s, %s, expires %s (in %d days)", host, issuer,
		tls.VersionName(cs.Version), expiry.UTC().Format(time.DateOnly), days)
}

// certFailure explains a failed TLS handshake with the cloud.
func certFailure(err error) string {
	var (
		unknown  x509.UnknownAuthorityError
		hostErr  x509.HostnameError
		invalid  x509.CertificateInvalidError
		verifyEr *tls.CertificateVerificationError
	)
	switch {
	case errors.As(err, &unknown):
		return "not signed by a trusted authority (" + adviceInspecting + "): " + err.Error()
	case errors.As(err, &hostErr):
		return "the certificate is not for this host (" + adviceCertHost + "): " + err.Error()
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return "expired or not yet valid (" + adviceClockCert + "): " + err.Error()
	case errors.As(err, &verifyEr):
		return "not valid: " + err.Error()
	}
	return "TLS handshake failed: " + err.Error()
}

// skewCheck asks the cloud for its time (the Date header of a HEAD
// request on the verified connection) and compares it with the clock.
func skewCheck(ctx context.Context, cfg SelfTestConfig, tc *tls.Conn, u *url.URL) Check {
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, "https://"+u.Host+path, nil)
	if err != nil {
		return warn(checkSkew, "not checked: %v", err)
	}
	req.Close = true
	req.Header.Set("User-Agent", "fusionfleet-selftest")
	before := cfg.Clock.Now()
	if err := req.Write(tc); err != nil {
		return warn(checkSkew, "not checked: sending a request failed: %v", err)
	}
	res, err := http.ReadResponse(bufio.NewReader(io.LimitReader(tc, 64<<10)), req)
	if err != nil {
		return warn(checkSkew, "not checked: the cloud's answer was unreadable: %v", err)
	}
	res.Body.Close()
	after := cfg.Clock.Now()
	return judgeSkew(res.Header.Get("Date"), before.Add(after.Sub(before)/2))
}

// judgeSkew compares the cloud's Date header with the local time at which
// the cloud answered.
func judgeSkew(date string, local time.Time) Check {
	if date == "" {
		return warn(checkSkew, "not checked: the cloud's answer has no Date header")
	}
	cloudTime, err := http.ParseTime(date)
	if err != nil {
		return warn(checkSkew, "not checked: the cloud's Date header %q is not a date", date)
	}
	// Date has whole seconds: the skew is known to a second.
	skew := local.Sub(cloudTime).Truncate(time.Second)
	way := "ahead of"
	if skew < 0 {
		way = "behind"
	}
	switch d := skew.Abs(); {
	case d > skewFail:
		return fail(checkSkew, "this computer's clock is %s %s the cloud's: the cloud refuses uploads more than %s off; "+adviceClockFail, d, way, skewFail)
	case d > skewWarn:
		return warn(checkSkew, "this computer's clock is %s %s the cloud's; beyond %s the cloud refuses uploads: "+adviceClockWarn, d, way, skewFail)
	}
	return ok(checkSkew, "within %s of the cloud's clock", max(skew.Abs(), time.Second))
}

// printerChecks probes every printer, a few at a time, and compares the
// certificate it presents with its pin (R-SEC-9).
func printerChecks(ctx context.Context, cfg SelfTestConfig) []Check {
	if len(cfg.Printers) == 0 {
		return []Check{warn(checkPrinters, "no printers are paired yet: %s", adviceNoPrinters)}
	}
	checks := make([]Check, len(cfg.Printers))
	var g errgroup.Group
	g.SetLimit(probeParallel)
	for i, p := range cfg.Printers {
		g.Go(func() error {
			checks[i] = printerCheck(ctx, cfg, p)
			return nil
		})
	}
	g.Wait()
	return checks
}

func printerCheck(ctx context.Context, cfg SelfTestConfig, p SelfTestPrinter) Check {
	name := checkPrinterAt + p.Name
	if p.Name == "" {
		name = checkPrinterAt + p.Address
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	fp, err := cfg.Probe(ctx, p.Address)
	switch {
	case err != nil:
		return fail(name, "%s is unreachable: %v; %s", p.Address, err, adviceUnreachable)
	case fp != p.Pin:
		return fail(name, "%s presents the certificate %s, not the pinned %s: %s", p.Address, fp, p.Pin, advicePinChanged)
	case cfg.Reader == nil:
		return ok(name, "%s is reachable and presents its pinned certificate", p.Address)
	}
	dev := cfg.Reader(p.Address, p.Pin)
	defer closeIdle(dev)
	_, err = dev.Status(ctx)
	if npe, isNP := errors.AsType[*deviceapi.NotPairedError](err); isNP {
		if npe.Collector == "" {
			return fail(name, "%s presents its pinned certificate but serves its private fields only to paired Command Centers, and this one has no client certificate", p.Address)
		}
		return fail(name, "%s presents its pinned certificate but has not paired this Command Center: "+advicePairAt, p.Address, npe.Collector)
	}
	if err != nil {
		return warn(name, "%s presents its pinned certificate, but reading its status failed: %v", p.Address, err)
	}
	return ok(name, "%s is reachable, presents its pinned certificate and has paired this Command Center", p.Address)
}

// localUICheck checks that the local UI answers, or that it can take a port.
func localUICheck(ctx context.Context, cfg SelfTestConfig) Check {
	if cfg.LocalUI == "" {
		first, last := cfg.LocalPorts[0], cfg.LocalPorts[1]
		if cfg.AnyLocalPort {
			first, last = 0, 0
		}
		l, err := ListenLocal(cfg.LocalHost, first, last)
		if err != nil {
			return fail(checkLocalUI, "the local UI cannot take a port: %v; %s", err, adviceLocalPort)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		return ok(checkLocalUI, "port %d on %s is free for the local UI", port, cfg.LocalHost)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	conn, err := cfg.Dial(ctx, "tcp", cfg.LocalUI)
	if err != nil {
		return fail(checkLocalUI, "the local UI does not answer on %s: %v; %s", cfg.LocalUI, err, adviceLocalRunning)
	}
	conn.Close()
	host, _, _ := net.SplitHostPort(cfg.LocalUI)
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		// A Command Center starts off loopback only with host names and a
		// password, and then serves over HTTPS: reachable, but not open.
		return ok(checkLocalUI, "the local UI answers on %s, for other computers too: over HTTPS and with its password, as it shows job and user names", cfg.LocalUI)
	}
	return ok(checkLocalUI, "the local UI answers on %s (this computer only)", cfg.LocalUI)
}

// sleepTargets are the systemd targets that put a host to sleep.
func sleepTargets() []string {
	return []string{"sleep.target", "suspend.target", "hibernate.target", "hybrid-sleep.target"}
}

// errSleepUnknown: the host's sleep settings cannot be read.
var errSleepUnknown = errors.New("sleep settings unknown")

// sleepCheck checks that the host cannot sleep (R-ARCH-8): every systemd
// sleep target masked, or the running Command Center holding the host
// awake. It only reads.
func sleepCheck(ctx context.Context, cfg SelfTestConfig) Check {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	var cannot string
	if cfg.KeepAwake != nil {
		err := cfg.KeepAwake()
		if err == nil {
			return ok(checkSleep, "the Command Center keeps this computer awake while it runs")
		}
		cannot = fmt.Sprintf("the Command Center cannot keep this computer awake (%v); ", err)
	}
	var awake []string
	for _, unit := range sleepTargets() {
		state, err := cfg.SleepState(ctx, unit)
		if err != nil {
			return warn(checkSleep, "%sunknown: %v; make sure this computer never sleeps, or collection stops while it does", cannot, err)
		}
		switch state {
		case "masked", "masked-runtime", "not-found":
		default:
			awake = append(awake, unit+" is "+state)
		}
	}
	if len(awake) > 0 {
		return warn(checkSleep, "%sthis computer may sleep (%s), and collection stops while it does; "+adviceSleep+" %s",
			cannot, strings.Join(awake, ", "), strings.Join(sleepTargets(), " "))
	}
	return ok(checkSleep, "sleep, suspend and hibernation are masked")
}

// systemctlIsEnabled is the default SelfTestConfig.SleepState.
func systemctlIsEnabled(ctx context.Context, unit string) (string, error) {
	if runtime.GOOS != "linux" {
		return "", fmt.Errorf("%w on %s", errSleepUnknown, runtime.GOOS)
	}
	path, err := exec.LookPath("systemctl")
	if err != nil {
		return "", fmt.Errorf("%w: no systemctl", errSleepUnknown)
	}
	// is-enabled exits non-zero for masked and disabled units; the answer
	// is what it prints.
	out, err := exec.CommandContext(ctx, path, "is-enabled", unit).Output()
	state := strings.TrimSpace(string(out))
	if state == "" {
		return "", fmt.Errorf("%w: systemctl is-enabled %s: %v", errSleepUnknown, unit, err)
	}
	return state, nil
}

// uplinkCheck warns when the cloud has not acknowledged an upload for
// longer than staleAfter (R-ARCH-8).
func uplinkCheck(u UplinkState, now time.Time, staleAfter time.Duration) Check {
	why := ""
	if u.LastError != "" {
		why = "; last error: " + u.LastError
	}
	if u.LastSuccess.IsZero() {
		return warn(checkUplink, "the cloud has not acknowledged an upload yet%s; %s", why, adviceStale)
	}
	if age := now.Sub(u.LastSuccess); age > staleAfter {
		return warn(checkUplink, "the cloud has not been reached for %s (since %s)%s; %s", DurationWords(age), Stamp(u.LastSuccess), why, adviceStale)
	}
	return ok(checkUplink, "%s", "the cloud acknowledged an upload at "+Stamp(u.LastSuccess))
}
