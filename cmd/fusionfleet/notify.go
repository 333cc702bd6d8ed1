package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/notify"
)

// notifyFlags are a cloud node's notification settings: the SMTP server
// e-mails go through, and whether webhooks may reach private addresses.
// Secrets come from files, never from flag values.
type notifyFlags struct {
	smtp, from, user, passwordFile, ca *string
	startTLS, allowPrivate             *bool
	link                               *string
}

// addNotifyFlags registers the notification flags on fs; each falls back
// to an environment variable.
func addNotifyFlags(fs *flag.FlagSet, e env) *notifyFlags {
	return &notifyFlags{
		smtp: fs.String("smtp", envDefault(e, "FUSIONFLEET_SMTP", ""),
			"SMTP server `host:port` for alert e-mails (default: no e-mails)"),
		from: fs.String("smtp-from", envDefault(e, "FUSIONFLEET_SMTP_FROM", ""),
			"sender `address` of alert e-mails (needed with -smtp)"),
		user: fs.String("smtp-user", envDefault(e, "FUSIONFLEET_SMTP_USER", ""),
			"SMTP user `name` (default: the sender address); used with -smtp-password-file"),
		passwordFile: fs.String("smtp-password-file", envDefault(e, "FUSIONFLEET_SMTP_PASSWORD_FILE", ""),
			"`file` whose first line is the SMTP password (AUTH PLAIN, only over STARTTLS or to localhost)"),
		startTLS: fs.Bool("smtp-starttls", envBool(e, "FUSIONFLEET_SMTP_STARTTLS"),
			"upgrade SMTP connections with STARTTLS and refuse servers without it"),
		ca: fs.String("smtp-ca", envDefault(e, "FUSIONFLEET_SMTP_CA", ""),
			"PEM `file` of CAs the SMTP server's certificate is checked against (default: the system's)"),
		allowPrivate: fs.Bool("webhook-allow-private", envBool(e, "FUSIONFLEET_WEBHOOK_ALLOW_PRIVATE"),
			"let webhooks reach loopback, private and link-local addresses (closed on-premises networks only)"),
		link: fs.String("notify-link", envDefault(e, "FUSIONFLEET_NOTIFY_LINK", ""),
			"dashboard `URL` linked from alert e-mails (default: none)"),
	}
}

// envBool reads a boolean environment variable; unset or unparsable is
// false.
func envBool(e env, key string) bool {
	b, _ := strconv.ParseBool(e.getenv(key))
	return b
}

// newDispatcher builds the notification dispatcher from the flags; nil
// flags (a node started without them, as in tests) mean webhooks only.
func (f *notifyFlags) newDispatcher(st notify.Store, c clock.Clock, logger *slog.Logger) (*notify.Dispatcher, error) {
	if f == nil {
		return notify.New(st, notify.Options{Clock: c, Logger: logger})
	}
	o := notify.Options{
		Clock:  c,
		Logger: logger,
		SMTP: notify.SMTPOptions{
			Addr: *f.smtp, From: *f.from, Username: *f.user, PasswordFile: *f.passwordFile, StartTLS: *f.startTLS,
		},
		AllowPrivateWebhooks: *f.allowPrivate,
		DashboardURL:         *f.link,
	}
	if *f.ca != "" {
		pem, err := os.ReadFile(*f.ca)
		if err != nil {
			return nil, fmt.Errorf("notify: smtp ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("notify: smtp ca %s: no certificates", *f.ca)
		}
		o.SMTP.TLSConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if *f.smtp == "" && (*f.from != "" || *f.passwordFile != "") {
		return nil, fmt.Errorf("notify: -smtp-from and -smtp-password-file need -smtp")
	}
	d, err := notify.New(st, o)
	if err != nil {
		return nil, err
	}
	if !d.EmailEnabled() {
		logger.Info("no SMTP server (-smtp): alert e-mails are off, webhooks only", "component", "notify")
	}
	return d, nil
}
