package deviceapi

import (
	"crypto/tls"
	"log/slog"
	"net/http"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/httpserver"
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
	cfg := httpserver.TLS(cert)
	// Asked, not required, and not verified against any CA: a client
	// without a paired certificate may still read what pairing needs
	// (the identity), and the handler decides by the certificate's
	// fingerprint (NewHandler). crypto/tls still checks that the client
	// holds the certificate's key.
	cfg.ClientAuth = tls.RequestClientCert
	return cfg
}
