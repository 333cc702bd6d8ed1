package deviceapi

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The files LoadOrCreateCertificate keeps in its directory.
const (
	CertFile = "printer.crt"
	KeyFile  = "printer.key"
)

// The files LoadOrCreateClientCertificate keeps in its directory.
const (
	ClientCertFile = "collector.crt"
	ClientKeyFile  = "collector.key"
)

// certValidity is how long a generated certificate is valid. Both ends
// check the pin, not the dates, so a long life only saves re-pairing.
const certValidity = 10 * 365 * 24 * time.Hour

// keyPair says which certificate loadOrCreate keeps: its files and, for
// messages, what it is and who must re-pair when it changes.
type keyPair struct {
	certFile, keyFile string
	what, repair      string
	usage             x509.ExtKeyUsage
}

var (
	printerPair = keyPair{CertFile, KeyFile, "printer certificate", "clients must then re-pair", x509.ExtKeyUsageServerAuth}
	clientPair  = keyPair{ClientCertFile, ClientKeyFile, "collector certificate", "every printer must then pair this Command Center again", x509.ExtKeyUsageClientAuth}
)

// LoadOrCreateCertificate returns the printer's TLS certificate, kept in dir.
// On first start it generates a self-signed ECDSA P-256 certificate, valid
// for ten years from now, for hosts plus localhost, 127.0.0.1 and ::1, and
// stores it as printer.crt and printer.key (key mode 0600, dir mode 0700).
// Later starts load the same files, whatever hosts says, so the pin a
// Command Center holds stays valid. Unreadable or half-present files are an
// error: they are never overwritten, because a new certificate means every
// client must re-pair.
func LoadOrCreateCertificate(dir string, hosts []string, now time.Time) (tls.Certificate, error) {
	return loadOrCreate(dir, printerPair, hosts, now)
}

// LoadOrCreateClientCertificate returns the Command Center's client
// certificate, kept in dir: the one a printer pins when the operator pairs
// this Command Center at the printer (see Collectors). Like
// LoadOrCreateCertificate it is generated on first start (collector.crt,
// collector.key with mode 0600) and the same on every later start, and
// never overwritten.
func LoadOrCreateClientCertificate(dir string, now time.Time) (tls.Certificate, error) {
	return loadOrCreate(dir, clientPair, nil, now)
}

func loadOrCreate(dir string, kp keyPair, hosts []string, now time.Time) (tls.Certificate, error) {
	certPath, keyPath := filepath.Join(dir, kp.certFile), filepath.Join(dir, kp.keyFile)
	certOK, err := exists(certPath)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %w", kp.what, err)
	}
	keyOK, err := exists(keyPath)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %w", kp.what, err)
	}
	switch {
	case certOK && keyOK:
		cert, err := tls.LoadX509KeyPair(certPath, keyPath)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("load %s from %s (remove %s and %s to generate a new one; %s): %w", kp.what, dir, kp.certFile, kp.keyFile, kp.repair, err)
		}
		return cert, nil
	case certOK != keyOK:
		have, miss := kp.certFile, kp.keyFile
		if keyOK {
			have, miss = kp.keyFile, kp.certFile
		}
		return tls.Certificate{}, fmt.Errorf("%s in %s: found %s without %s (remove it to generate a new certificate; %s)", kp.what, dir, have, miss, kp.repair)
	}

	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %w", kp.what, err)
	}
	certPEM, keyPEM, err := generateCertificate(hosts, kp.usage, now)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate %s: %w", kp.what, err)
	}
	// The key goes first: a crash in between leaves a key without a
	// certificate, which the next start reports instead of silently replacing.
	if err := writeNew(keyPath, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, fmt.Errorf("store %s key: %w", kp.what, err)
	}
	if err := writeNew(certPath, certPEM, 0o644); err != nil {
		return tls.Certificate{}, fmt.Errorf("store %s: %w", kp.what, err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("load generated %s: %w", kp.what, err)
	}
	return cert, nil
}

func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, err
	}
}

// writeNew writes a file that must not exist yet, through a temporary file
// so a crash never leaves a half-written one under the final name.
func writeNew(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// Link fails if path exists, unlike Rename: never overwrite.
	return os.Link(tmp.Name(), path)
}

func generateCertificate(hosts []string, usage x509.ExtKeyUsage, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	names := slices.Clone(hosts)
	if usage == x509.ExtKeyUsageServerAuth {
		names = append(names, "localhost", "127.0.0.1", "::1")
	}
	var dns []string
	var ips []net.IP
	for _, h := range names {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			if !slices.ContainsFunc(ips, ip.Equal) {
				ips = append(ips, ip)
			}
		} else if !slices.Contains(dns, h) {
			dns = append(dns, h)
		}
	}
	cn := "FusionFleet printer"
	if usage == x509.ExtKeyUsageClientAuth {
		cn = "FusionFleet Command Center"
	}
	if len(dns) > 0 {
		cn = dns[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		// A few minutes back, so a client whose clock lags a little does
		// not see a certificate from the future.
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{usage},
		BasicConstraintsValid: true,
		DNSNames:              dns,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	return certPEM, keyPEM, nil
}

// FingerprintOf returns the fingerprint of a certificate's DER bytes.
// The printer pins a Command Center's certificate the same way the
// Command Center pins the printer's.
func FingerprintOf(der []byte) Fingerprint {
	sum := sha256.Sum256(der)
	return formatFingerprint(sum[:])
}

// ParseFingerprint reads a fingerprint as an operator may type it: 64 hex
// digits in either case, with or without colons or spaces between the pairs.
func ParseFingerprint(s string) (Fingerprint, error) {
	clean := strings.NewReplacer(":", "", " ", "").Replace(strings.TrimSpace(s))
	b, err := hex.DecodeString(clean)
	if err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("fingerprint %q: want 32 hex pairs (SHA-256)", s)
	}
	return formatFingerprint(b), nil
}

func formatFingerprint(sum []byte) Fingerprint {
	parts := make([]string, len(sum))
	for i, c := range sum {
		parts[i] = fmt.Sprintf("%02X", c)
	}
	return Fingerprint(strings.Join(parts, ":"))
}
