package e2e

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The TLS of the cloud's and a printer's listeners as a real scanner sees
// it (Debian's sslscan): TLS 1.2 and 1.3 only, AEAD suites only, no weak
// certificate. The verdict is judged here from sslscan's XML report.

// sslscanReport is the part of sslscan's --xml report the verdict reads.
type sslscanReport struct {
	Tests []sslscanTest `xml:"ssltest"`
	Error string        `xml:"error"`
}

type sslscanTest struct {
	Host      string `xml:"host,attr"`
	Port      string `xml:"port,attr"`
	Protocols []struct {
		Type    string `xml:"type,attr"`
		Version string `xml:"version,attr"`
		Enabled string `xml:"enabled,attr"`
	} `xml:"protocol"`
	Ciphers []struct {
		Status  string `xml:"status,attr"`
		Version string `xml:"sslversion,attr"`
		Name    string `xml:"cipher,attr"`
	} `xml:"cipher"`
	Renegotiation []struct {
		Supported string `xml:"supported,attr"`
		Secure    string `xml:"secure,attr"`
	} `xml:"renegotiation"`
	Compression []struct {
		Supported string `xml:"supported,attr"`
	} `xml:"compression"`
	Heartbleed []struct {
		Version    string `xml:"sslversion,attr"`
		Vulnerable string `xml:"vulnerable,attr"`
	} `xml:"heartbleed"`
	Certificates []struct {
		Signature string `xml:"signature-algorithm"`
		Key       struct {
			Error string `xml:"error,attr"`
			Type  string `xml:"type,attr"`
			Bits  int    `xml:"bits,attr"`
		} `xml:"pk"`
		Expired string `xml:"expired"`
	} `xml:"certificates>certificate"`
}

// aead reports whether a suite sslscan accepted is an AEAD suite: every
// TLS 1.3 suite is; in TLS 1.2 those with AES-GCM or ChaCha20-Poly1305.
func aead(version, name string) bool {
	if version == "TLSv1.3" {
		return true
	}
	return version == "TLSv1.2" && (strings.Contains(name, "-GCM-") || strings.HasSuffix(name, "-CHACHA20-POLY1305"))
}

// judgeTLS returns what is wrong with a listener by sslscan's report: a
// protocol older than TLS 1.2, a suite without AEAD, a weak or expired
// certificate, or a scan that found nothing to judge.
func judgeTLS(report []byte) []string {
	var r sslscanReport
	if err := xml.Unmarshal(report, &r); err != nil {
		return []string{fmt.Sprintf("sslscan's report does not parse: %v", err)}
	}
	if r.Error != "" {
		return []string{"sslscan: " + strings.TrimSpace(r.Error)}
	}
	if len(r.Tests) != 1 {
		return []string{fmt.Sprintf("sslscan reported %d scans, want 1", len(r.Tests))}
	}
	s := r.Tests[0]
	var bad []string
	modern := 0
	for _, p := range s.Protocols {
		name := p.Type + " " + p.Version
		switch {
		case p.Enabled != "1":
		case name == "tls 1.2" || name == "tls 1.3":
			modern++
		default:
			bad = append(bad, fmt.Sprintf("%s is enabled", strings.ToUpper(p.Type)+" "+p.Version))
		}
	}
	if len(s.Protocols) == 0 || modern == 0 {
		bad = append(bad, "no TLS 1.2 or 1.3 found: the scan saw no handshake")
	}
	if len(s.Ciphers) == 0 {
		bad = append(bad, "no cipher suite accepted: the scan saw no handshake")
	}
	for _, c := range s.Ciphers {
		if !aead(c.Version, c.Name) {
			bad = append(bad, fmt.Sprintf("%s suite %s (%s) is not an AEAD suite", c.Version, c.Name, c.Status))
		}
	}
	for _, r := range s.Renegotiation {
		if r.Supported == "1" && r.Secure != "1" {
			bad = append(bad, "insecure renegotiation is supported")
		}
	}
	for _, c := range s.Compression {
		if c.Supported == "1" {
			bad = append(bad, "TLS compression is supported (CRIME)")
		}
	}
	for _, h := range s.Heartbleed {
		if h.Vulnerable == "1" {
			bad = append(bad, h.Version+" is vulnerable to Heartbleed")
		}
	}
	if len(s.Certificates) == 0 {
		bad = append(bad, "sslscan saw no certificate")
	}
	for _, c := range s.Certificates {
		sig := strings.ToLower(c.Signature)
		if strings.Contains(sig, "md5") || strings.Contains(sig, "sha1") || sig == "" {
			bad = append(bad, fmt.Sprintf("certificate signature %q is weak", c.Signature))
		}
		switch k := c.Key; {
		case k.Error != "false":
			bad = append(bad, fmt.Sprintf("certificate key: sslscan reports an error (%q)", k.Error))
		case k.Type == "RSA" && k.Bits < 2048, k.Type == "EC" && k.Bits < 128: // sslscan gives EC keys' strength
			bad = append(bad, fmt.Sprintf("certificate key %s of %d bits is weak", k.Type, k.Bits))
		case k.Type != "RSA" && k.Type != "EC":
			bad = append(bad, fmt.Sprintf("certificate key of type %q", k.Type))
		}
		if c.Expired != "false" {
			bad = append(bad, "the certificate has expired")
		}
	}
	return bad
}

// sslscanPath finds Debian's sslscan. Without it the test skips loudly,
// and fails under CI=true, where .ci/run installs it.
func sslscanPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("sslscan")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("sslscan not found: CI must install Debian's sslscan package")
		}
		t.Skip("SKIPPED: sslscan not found; install Debian's sslscan package to scan the listeners' TLS")
	}
	return path
}

// sslscan runs the scanner at path against addr and returns its XML report.
func sslscan(t *testing.T, path, addr string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, "--xml=-", "--no-colour", addr)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sslscan %s: %v\n%s", addr, err, stderr.String())
	}
	// The XML follows the text report on stdout.
	i := bytes.Index(out, []byte("<?xml"))
	if i < 0 {
		t.Fatalf("sslscan %s printed no XML report:\n%s", addr, out)
	}
	return out[i:]
}

// The cloud's and a printer's HTTPS listeners, scanned on loopback: TLS 1.2
// and 1.3 only, AEAD suites only, a sound certificate (R-SEC-2).
func TestTLSScan(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	scanner := sslscanPath(t)
	t.Parallel() // each runs its own processes on ports of their own
	s := startSite(t, 1)
	for _, l := range []struct{ name, addr string }{{"cloud", s.cloudAddr}, {"printer", s.printerAddrs[0]}} {
		t.Run(l.name, func(t *testing.T) {
			report := sslscan(t, scanner, l.addr)
			for _, p := range judgeTLS(report) {
				t.Errorf("%s %s: %s", l.name, l.addr, p)
			}
			if t.Failed() {
				t.Logf("sslscan's report:\n%s", report)
			}
		})
	}
}

// The verdict on sslscan's reports: a sound listener (sslscan 2.0.7 on
// the cloud, groups left out) passes; each weakness, edited into it, fails.
func TestJudgeTLS(t *testing.T) {
	sound, err := os.ReadFile("testdata/sslscan-sound.xml")
	if err != nil {
		t.Fatal(err)
	}
	const cbc = `<cipher status="accepted" sslversion="TLSv1.2" bits="128" cipher="ECDHE-ECDSA-AES128-SHA256" id="0xC023" strength="medium" />`
	tests := []struct {
		name     string
		old, new string // edit of the sound report
		want     []string
	}{
		{name: "sound"},
		{name: "TLS 1.0", old: `version="1.0" enabled="0"`, new: `version="1.0" enabled="1"`, want: []string{"TLS 1.0 is enabled"}},
		{name: "TLS 1.1", old: `version="1.1" enabled="0"`, new: `version="1.1" enabled="1"`, want: []string{"TLS 1.1 is enabled"}},
		{name: "SSLv3", old: `version="3" enabled="0"`, new: `version="3" enabled="1"`, want: []string{"SSL 3 is enabled"}},
		{name: "SSLv2", old: `version="2" enabled="0"`, new: `version="2" enabled="1"`, want: []string{"SSL 2 is enabled"}},
		{name: "CBC suite", old: ` <certificates>`, new: cbc + "\n <certificates>",
			want: []string{"TLSv1.2 suite ECDHE-ECDSA-AES128-SHA256 (accepted) is not an AEAD suite"}},
		{name: "TLS 1.0 suite", old: ` <certificates>`, new: `<cipher status="accepted" sslversion="TLSv1.0" cipher="ECDHE-RSA-AES128-GCM-SHA256" />` + "\n <certificates>",
			want: []string{"TLSv1.0 suite ECDHE-RSA-AES128-GCM-SHA256 (accepted) is not an AEAD suite"}},
		{name: "SHA-1 signature", old: "ecdsa-with-SHA256", new: "sha1WithRSAEncryption", want: []string{`certificate signature "sha1WithRSAEncryption" is weak`}},
		{name: "MD5 signature", old: "ecdsa-with-SHA256", new: "md5WithRSAEncryption", want: []string{`certificate signature "md5WithRSAEncryption" is weak`}},
		{name: "short RSA key", old: `type="EC" curve_name="prime256v1" bits="128"`, new: `type="RSA" bits="1024"`, want: []string{"certificate key RSA of 1024 bits is weak"}},
		{name: "key error", old: `pk error="false"`, new: `pk error="true"`, want: []string{`certificate key: sslscan reports an error ("true")`}},
		{name: "expired", old: "<expired>false", new: "<expired>true", want: []string{"the certificate has expired"}},
		{name: "insecure renegotiation", old: `<renegotiation supported="0" secure="0" />`, new: `<renegotiation supported="1" secure="0" />`,
			want: []string{"insecure renegotiation is supported"}},
		{name: "heartbleed", old: `"TLSv1.2" vulnerable="0"`, new: `"TLSv1.2" vulnerable="1"`, want: []string{"TLSv1.2 is vulnerable to Heartbleed"}},
		{name: "compression", old: ` <certificates>`, new: "<compression supported=\"1\" />\n <certificates>", want: []string{"TLS compression is supported (CRIME)"}},
		{name: "TLS 1.3 alone", old: `version="1.2" enabled="1"`, new: `version="1.2" enabled="0"`, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			report := string(sound)
			if tt.old != "" {
				if !strings.Contains(report, tt.old) {
					t.Fatalf("the sound report has no %q to edit", tt.old)
				}
				report = strings.Replace(report, tt.old, tt.new, 1)
			}
			if diff := cmp.Diff(tt.want, judgeTLS([]byte(report))); diff != "" {
				t.Errorf("judgeTLS (-want +got):\n%s", diff)
			}
		})
	}

	// What a scan that reached no TLS server looks like.
	for name, report := range map[string]string{
		"refused":   `<?xml version="1.0"?><document><ssltest host="127.0.0.1" port="1"><error>Could not open a connection</error></ssltest></document>`,
		"empty":     `<?xml version="1.0"?><document></document>`,
		"not xml":   `Could not resolve hostname`,
		"top error": `<?xml version="1.0"?><document><error>Could not open a connection to host</error></document>`,
	} {
		if got := judgeTLS([]byte(report)); len(got) == 0 {
			t.Errorf("%s: judgeTLS passes a scan that saw no TLS", name)
		}
	}
	var noSuites []string
	for _, l := range strings.Split(string(sound), "\n") {
		if !strings.Contains(l, "<cipher ") {
			noSuites = append(noSuites, l)
		}
	}
	want := []string{"no cipher suite accepted: the scan saw no handshake"}
	if diff := cmp.Diff(want, judgeTLS([]byte(strings.Join(noSuites, "\n")))); diff != "" {
		t.Errorf("judgeTLS of a report without suites (-want +got):\n%s", diff)
	}
}
