package deviceapi

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// privateNames are the private strings the walk's printer knows: the
// current job's and the jobs' names, users, computers and parts, and a user
// name in a log line and an event.
var privateNames = []string{"Gearbox housing batch 7", "mkeller", "CAD-WS-07", "housing left", "housing-right.3mf"}

// rawGet fetches target from the printer at addr over TLS, presenting cert
// (none when nil), and returns the status and body.
func rawGet(t *testing.T, addr string, cert *tls.Certificate, target string) (int, string) {
	t.Helper()
	cfg := &tls.Config{InsecureSkipVerify: true} // the printer's pin is not what this test is about
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get("https://" + addr + target)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	return resp.StatusCode, string(b)
}

// TestEveryRouteGuardsPrivateFields walks the device API's own route
// table, so that a route added later is walked too: a paired collector
// gets every route with the private fields; a client without a
// certificate, or with a certificate the printer has not paired, gets 401
// from every route but the public ones, and no private name from any.
func TestEveryRouteGuardsPrivateFields(t *testing.T) {
	dev := newFakeDevice()
	dev.logs[fleet.LogSession] = append(dev.logs[fleet.LogSession],
		fleet.LogLine{Seq: 6, Log: fleet.LogSession, Time: testTime, Text: "session opened by mkeller"})
	dev.events = append(dev.events, fleet.Event{Seq: 6, Code: "JOB_QUEUED", Description: "job queued by mkeller",
		Severity: fleet.SeverityInfo, Time: testTime, Firmware: "2.9.1", Subsystem: "job-manager"})
	paired := testCollectorCert()
	other := newClientCert(t)
	addr, _ := startServer(t, NewHandler(dev, pairedWith(t, paired), testLogger(t)))

	seen := map[string]bool{}
	for _, rt := range routeTable(nil) {
		target := strings.ReplaceAll(rt.path, "{log}", string(fleet.LogSession))
		t.Run(target, func(t *testing.T) {
			code, body := rawGet(t, addr, &paired, target)
			if code != http.StatusOK {
				t.Fatalf("paired collector: %d %s, want 200", code, body)
			}
			for _, name := range privateNames {
				seen[name] = seen[name] || strings.Contains(body, name)
			}
			for _, c := range []struct {
				who  string
				cert *tls.Certificate
				want string // in the 401's message
			}{
				{"no certificate", nil, "presented no certificate"},
				{"unpaired certificate", &other, string(FingerprintOf(other.Certificate[0]))},
			} {
				code, body := rawGet(t, addr, c.cert, target)
				if i := slices.IndexFunc(privateNames, func(n string) bool { return strings.Contains(body, n) }); i >= 0 {
					t.Errorf("%s: the answer (%d) holds the private %q", c.who, code, privateNames[i])
				}
				switch {
				case rt.public && code != http.StatusOK:
					t.Errorf("%s: %d %s, want 200 (a public route)", c.who, code, body)
				case !rt.public && (code != http.StatusUnauthorized || !strings.Contains(body, "not paired") || !strings.Contains(body, c.want)):
					t.Errorf("%s: %d %s, want 401 saying not paired and %q", c.who, code, body, c.want)
				}
			}
		})
	}
	for _, name := range privateNames {
		if !seen[name] {
			t.Errorf("no route served %q to the paired collector: the walk proves nothing about it", name)
		}
	}
}

// newClientCert makes a client certificate of another Command Center.
func newClientCert(t *testing.T) tls.Certificate {
	t.Helper()
	cert, err := LoadOrCreateClientCertificate(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// The client reports a 401 as ErrNotPaired, naming the fingerprint to
// pair at the printer; the public identity still answers; once paired at
// the printer, the same client reads everything without a restart.
func TestClientNotPaired(t *testing.T) {
	collectors := pairedWith(t)
	addr, pin := startServer(t, NewHandler(newFakeDevice(), collectors, testLogger(t)))
	cert := newClientCert(t)
	fp := FingerprintOf(cert.Certificate[0])
	c := NewClient(addr, pin, ClientOptions{Certificate: &cert})
	t.Cleanup(c.CloseIdleConnections)

	if _, err := c.Identity(t.Context()); err != nil {
		t.Fatalf("Identity, unpaired: %v, want it served", err)
	}
	_, err := c.Status(t.Context())
	var npe *NotPairedError
	if !errors.Is(err, ErrNotPaired) || !errors.As(err, &npe) || npe.Collector != fp {
		t.Fatalf("Status, unpaired: %v, want a NotPairedError for %s", err, fp)
	}
	if msg := err.Error(); !strings.Contains(msg, "confirm this Command Center's fingerprint "+string(fp)+" at the printer") || !strings.Contains(msg, addr) {
		t.Errorf("error %q: want the address and what to confirm at the printer", msg)
	}
	if _, err := NewClient(addr, pin, ClientOptions{}).Logs(t.Context(), fleet.LogSession, 0, 0); !errors.Is(err, ErrNotPaired) ||
		!strings.Contains(err.Error(), "presented no client certificate") {
		t.Errorf("Logs without a certificate: %v, want ErrNotPaired saying none was presented", err)
	}

	if err := collectors.Pair(fp); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Status(t.Context()); err != nil {
		t.Errorf("Status after pairing: %v", err)
	}
	if err := collectors.Unpair(fp); err != nil {
		t.Fatal(err)
	}
	// Unpairing takes effect on the next request, resumed sessions included.
	if _, err := c.Jobs(t.Context(), 0, 0); !errors.Is(err, ErrNotPaired) {
		t.Errorf("Jobs after unpairing: %v, want ErrNotPaired", err)
	}
}

// Pairing survives a restart of the printer: the list is kept in its data
// directory and read again.
func TestCollectorsPersist(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "printer")
	a, b := FingerprintOf(newClientCert(t).Certificate[0]), FingerprintOf(newClientCert(t).Certificate[0])
	c, err := OpenCollectors(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Paired(a) || len(c.List()) != 0 {
		t.Fatalf("a new printer pairs %v", c.List())
	}
	// As an operator may type it: lower case, spaces for colons.
	if err := c.Pair(Fingerprint(strings.ToLower(strings.ReplaceAll(string(a), ":", " ")))); err != nil {
		t.Fatal(err)
	}
	for _, fp := range []Fingerprint{b, a} {
		if err := c.Pair(fp); err != nil {
			t.Fatal(err)
		}
	}
	info, err := os.Stat(filepath.Join(dir, CollectorsFile))
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("collectors file mode %v, want 0600", perm)
	}

	again, err := OpenCollectors(dir) // the printer restarts
	if err != nil {
		t.Fatal(err)
	}
	if got := again.List(); !slices.Equal(got, []Fingerprint{a, b}) {
		t.Errorf("after a restart: paired %v, want [%s %s]", got, a, b)
	}
	if err := again.Unpair(a); err != nil {
		t.Fatal(err)
	}
	again, err = OpenCollectors(dir)
	if err != nil {
		t.Fatal(err)
	}
	if again.Paired(a) || !again.Paired(b) {
		t.Errorf("after unpairing %s and a restart: paired %v", a, again.List())
	}
	var none *Collectors
	if none.Paired(a) || none.List() != nil {
		t.Error("nil collectors pair a certificate")
	}
}

func TestCollectorsRefuse(t *testing.T) {
	dir := t.TempDir()
	c, err := OpenCollectors(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Pair("AB:CD"); err == nil || !strings.Contains(err.Error(), "32 hex pairs") {
		t.Errorf("Pair of a short fingerprint: %v, want refused", err)
	}
	fp := FingerprintOf(newClientCert(t).Certificate[0])
	if err := c.Unpair(fp); err == nil || !strings.Contains(err.Error(), "not paired") {
		t.Errorf("Unpair of one never paired: %v, want refused", err)
	}
	// A corrupt line is an error, never skipped: skipping would unpair.
	if err := os.WriteFile(filepath.Join(dir, CollectorsFile), []byte("# paired\n\n"+string(fp)+"\nnot a fingerprint\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenCollectors(dir); err == nil || !strings.Contains(err.Error(), "line 4") {
		t.Errorf("OpenCollectors of a corrupt file: %v, want the line named", err)
	}
	if err := os.WriteFile(filepath.Join(dir, CollectorsFile), []byte(string(fp)+"\n"), 0o000); err != nil {
		t.Fatal(err)
	}
	if os.Getuid() != 0 {
		if _, err := OpenCollectors(dir); err == nil {
			t.Error("OpenCollectors of an unreadable file: no error")
		}
	}
}

// The Command Center's client certificate is made once and reused: the
// same fingerprint after a restart, its key readable by the owner only,
// for client authentication.
func TestLoadOrCreateClientCertificate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cc")
	first, err := LoadOrCreateClientCertificate(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadOrCreateClientCertificate(dir, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := FingerprintOf(first.Certificate[0]), FingerprintOf(again.Certificate[0]); a != b {
		t.Errorf("fingerprint after a restart %s, want %s", b, a)
	}
	info, err := os.Stat(filepath.Join(dir, ClientKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode %v, want 0600", perm)
	}
	leaf, err := x509.ParseCertificate(first.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) || len(leaf.IPAddresses)+len(leaf.DNSNames) != 0 {
		t.Errorf("usage %v, names %v %v: want client authentication only, no host names", leaf.ExtKeyUsage, leaf.DNSNames, leaf.IPAddresses)
	}
	if err := os.Remove(filepath.Join(dir, ClientCertFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateClientCertificate(dir, time.Now()); err == nil || !strings.Contains(err.Error(), "pair this Command Center again") {
		t.Errorf("key without certificate: %v, want refused, saying what removing it means", err)
	}
}
