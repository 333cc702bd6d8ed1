package cloud

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/notify"
)

// newDispatcher builds the notification dispatcher of o.
func newDispatcher(o NotifyOptions, st notify.Store, c clock.Clock, logger *slog.Logger) (*notify.Dispatcher, error) {
	opts := notify.Options{
		Clock:                c,
		WireClock:            clock.Real{}, // receivers check it against theirs, whatever c is
		Logger:               logger,
		SMTP:                 o.SMTP,
		AllowPrivateWebhooks: o.AllowPrivateWebhooks,
		DashboardURL:         o.DashboardURL,
	}
	if o.SMTPCAFile != "" {
		pem, err := os.ReadFile(o.SMTPCAFile)
		if err != nil {
			return nil, fmt.Errorf("notify: smtp ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("notify: smtp ca %s: no certificates", o.SMTPCAFile)
		}
		opts.SMTP.TLSConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	d, err := notify.New(st, opts)
	if err != nil {
		return nil, err
	}
	if !d.EmailEnabled() {
		logger.Info("no SMTP server (-smtp): alert e-mails are off, webhooks only", "component", "notify")
	}
	return d, nil
}
