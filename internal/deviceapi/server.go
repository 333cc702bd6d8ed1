package deviceapi

import (
	"crypto/tls"
	"log/slog"
	"net/http"
	"time"
)

// Server limits. The device API answers small JSON documents to a handful of
// Command Centers on the LAN.
const (
	serverReadHeaderTimeout = 5 * time.Second
	serverReadTimeout       = 10 * time.Second
	serverWriteTimeout      = 30 * time.Second
	serverIdleTimeout       = 2 * time.Minute
	serverMaxHeaderBytes    = 16 << 10
)

// NewServer returns the printer's HTTPS server for h, presenting cert and
// asking every client for its certificate (see NewHandler). The
// caller serves with srv.ServeTLS(ln, "", "") and stops with Shutdown.
func NewServer(h http.Handler, cert tls.Certificate, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		TLSConfig:         tlsConfig(cert),
		ReadHeaderTimeout: serverReadHeaderTimeout,
		ReadTimeout:       serverReadTimeout,
		WriteTimeout:      serverWriteTimeout,
		IdleTimeout:       serverIdleTimeout,
		MaxHeaderBytes:    serverMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.With("component", "deviceapi").Handler(), slog.LevelWarn),
	}
}

func tlsConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		// Asked, not required, and not verified against any CA: a client
		// without a paired certificate may still read what pairing needs
		// (the identity), and the handler decides by the certificate's
		// fingerprint (NewHandler). crypto/tls still checks that the client
		// holds the certificate's key.
		ClientAuth: tls.RequestClientCert,
		// TLS 1.2 only with forward-secret AEAD suites (R-SEC-2); TLS 1.3
		// suites are all AEAD and not configurable.
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
	}
}
