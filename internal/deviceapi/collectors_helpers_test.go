package deviceapi

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"sync"
	"testing"
	"time"
)

// testCollectorCert is the client certificate the tests' Command Center
// presents, made once per test binary.
var testCollectorCert = sync.OnceValue(func() tls.Certificate {
	certPEM, keyPEM, err := generateCertificate(nil, x509.ExtKeyUsageClientAuth, time.Now())
	if err != nil {
		panic(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		panic(err)
	}
	cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		panic(err)
	}
	return cert
})

// collectorOpts adds the tests' collector certificate to opts.
func collectorOpts(opts ClientOptions) ClientOptions {
	cert := testCollectorCert()
	opts.Certificate = &cert
	return opts
}

// pairedWith returns a list of collectors, kept in a temporary directory,
// with the given certificates paired.
func pairedWith(t testing.TB, certs ...tls.Certificate) *Collectors {
	t.Helper()
	c, err := OpenCollectors(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, cert := range certs {
		if err := c.Pair(FingerprintOf(cert.Certificate[0])); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// testHandler is NewHandler for dev with the tests' collector paired.
func testHandler(t testing.TB, dev Device) http.Handler {
	t.Helper()
	return NewHandler(dev, pairedWith(t, testCollectorCert()), testLogger(t))
}

// asCollector serves requests as if they came over TLS from the tests'
// paired collector, for tests of the handler without a network.
func asCollector(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{testCollectorCert().Leaf}}
		h.ServeHTTP(w, r)
	})
}
