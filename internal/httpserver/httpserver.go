// Package httpserver gives every listener of the program the same HTTP
// server: header, read and idle timeouts, a header size limit, errors to
// the structured log, and a graceful shutdown when its context ends.
package httpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// New returns an HTTP server for h with the limits every listener has.
func New(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		// No WriteTimeout: Server-Sent Events streams are long-lived; the
		// handlers bound their own work.
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// Run runs srv (start is its Serve or ServeTLS) until ctx is done, then
// shuts it down: it stops accepting, lets requests in flight finish for a
// few seconds, and then closes whatever is still open (a browser's live
// stream, say). name labels its errors and log lines.
func Run(ctx context.Context, logger *slog.Logger, name string, srv *http.Server, start func() error) error {
	errc := make(chan error, 1)
	go func() { errc <- start() }()
	select {
	case err := <-errc:
		return fmt.Errorf("%s: %w", name, err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		logger.Warn("closing connections that did not finish after shutdown", "server", name, "err", err)
		srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// ClientGone reports whether r's client went away before it was answered
// (or the server closed the connection at shutdown): r's context has ended,
// so an error of a handler then is the client's doing, not the server's
// failure, and there is no one left to answer. Handlers log it at Debug
// level, not as an error.
func ClientGone(r *http.Request) bool {
	return r.Context().Err() != nil
}
