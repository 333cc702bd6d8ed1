package httpserver

import "crypto/tls"

// TLS returns the server TLS configuration every HTTPS listener of the
// project uses (R-SEC-2): TLS 1.3 preferred, 1.2 at least, and with 1.2
// only forward-secret AEAD suites; TLS 1.3's suites are all AEAD and not
// configurable. The TLS scan in the e2e tests holds every listener to it.
func TLS(certs ...tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: certs,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
	}
}
