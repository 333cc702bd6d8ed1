package deviceapi

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLoadOrCreateCertificate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	now := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	first, err := LoadOrCreateCertificate(dir, []string{"printer-1.lan", "192.0.2.10"}, now)
	if err != nil {
		t.Fatalf("first start: %v", err)
	}
	leaf, err := x509.ParseCertificate(first.Certificate[0])
	if err != nil {
		t.Fatalf("parse generated certificate: %v", err)
	}

	t.Run("key", func(t *testing.T) {
		pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
		if !ok || pub.Curve != elliptic.P256() {
			t.Errorf("public key: got %T, want ECDSA P-256", leaf.PublicKey)
		}
	})
	t.Run("names", func(t *testing.T) {
		if diff := cmp.Diff([]string{"printer-1.lan", "localhost"}, leaf.DNSNames); diff != "" {
			t.Errorf("DNS SANs (-want +got):\n%s", diff)
		}
		var ips []string
		for _, ip := range leaf.IPAddresses {
			ips = append(ips, ip.String())
		}
		if diff := cmp.Diff([]string{"192.0.2.10", "127.0.0.1", "::1"}, ips); diff != "" {
			t.Errorf("IP SANs (-want +got):\n%s", diff)
		}
		if err := leaf.VerifyHostname("127.0.0.1"); err != nil {
			t.Errorf("verify 127.0.0.1: %v", err)
		}
	})
	t.Run("validity", func(t *testing.T) {
		if leaf.NotBefore.After(now) {
			t.Errorf("not before %v is after now %v", leaf.NotBefore, now)
		}
		if got, want := leaf.NotAfter, now.AddDate(10, 0, 0); got.Before(want.AddDate(0, 0, -5)) || got.After(want) {
			t.Errorf("not after: got %v, want about %v", got, want)
		}
	})
	t.Run("modes", func(t *testing.T) {
		for _, c := range []struct {
			path string
			want os.FileMode
		}{
			{dir, 0o700},
			{filepath.Join(dir, KeyFile), 0o600},
		} {
			fi, err := os.Stat(c.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != c.want {
				t.Errorf("%s: mode %o, want %o", filepath.Base(c.path), got, c.want)
			}
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 2 {
			t.Errorf("dir holds %d entries, want 2 (no temporary files left)", len(entries))
		}
	})
	t.Run("second start loads the same certificate", func(t *testing.T) {
		second, err := LoadOrCreateCertificate(dir, []string{"other-name"}, now.Add(48*time.Hour))
		if err != nil {
			t.Fatalf("second start: %v", err)
		}
		if !bytes.Equal(first.Certificate[0], second.Certificate[0]) {
			t.Errorf("second start returned a different certificate")
		}
		if got, want := FingerprintOf(second.Certificate[0]), FingerprintOf(first.Certificate[0]); got != want {
			t.Errorf("fingerprint: got %s, want %s", got, want)
		}
	})
}

func TestLoadOrCreateCertificateRefusesBrokenFiles(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string)
		wantErr string
	}{
		{"corrupt certificate", func(t *testing.T, dir string) {
			mustCreate(t, dir)
			writeFile(t, filepath.Join(dir, CertFile), "not a certificate")
		}, "load printer certificate"},
		{"corrupt key", func(t *testing.T, dir string) {
			mustCreate(t, dir)
			writeFile(t, filepath.Join(dir, KeyFile), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
		}, "load printer certificate"},
		{"key without certificate", func(t *testing.T, dir string) {
			mustCreate(t, dir)
			os.Remove(filepath.Join(dir, CertFile))
		}, "found printer.key without printer.crt"},
		{"certificate without key", func(t *testing.T, dir string) {
			mustCreate(t, dir)
			os.Remove(filepath.Join(dir, KeyFile))
		}, "found printer.crt without printer.key"},
		{"dir is a file", func(t *testing.T, dir string) {
			writeFile(t, dir, "x")
		}, "printer certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "tls")
			tt.setup(t, dir)
			before := snapshot(t, dir)
			_, err := LoadOrCreateCertificate(dir, nil, now)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
			if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
				t.Errorf("files changed on error (-before +after):\n%s", diff)
			}
		})
	}
}

func mustCreate(t *testing.T, dir string) {
	t.Helper()
	if _, err := LoadOrCreateCertificate(dir, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// snapshot maps the names in dir to their contents.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = string(b)
	}
	return m
}

func TestFingerprint(t *testing.T) {
	der := []byte("certificate bytes")
	sum := sha256.Sum256(der)
	got := FingerprintOf(der)
	parts := strings.Split(string(got), ":")
	if len(parts) != 32 {
		t.Fatalf("fingerprint %s: %d pairs, want 32", got, len(parts))
	}
	for i, p := range parts {
		if p != hexByte(sum[i]) {
			t.Fatalf("pair %d: got %q, want %s", i, p, hexByte(sum[i]))
		}
	}

	tests := []struct {
		name, in string
		wantErr  bool
	}{
		{"canonical", string(got), false},
		{"lower case", strings.ToLower(string(got)), false},
		{"no colons", strings.ReplaceAll(string(got), ":", ""), false},
		{"spaces", " " + strings.ReplaceAll(string(got), ":", " ") + " ", false},
		{"too short", string(got)[:10], true},
		{"not hex", strings.Repeat("ZZ:", 31) + "ZZ", true},
		{"empty", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fp, err := ParseFingerprint(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Errorf("ParseFingerprint(%q) = %s, want error", tt.in, fp)
				}
				return
			}
			if err != nil || fp != got {
				t.Errorf("ParseFingerprint(%q) = %s, %v; want %s", tt.in, fp, err, got)
			}
		})
	}
}

func hexByte(b byte) string {
	const digits = "0123456789ABCDEF"
	return string([]byte{digits[b>>4], digits[b&15]})
}
