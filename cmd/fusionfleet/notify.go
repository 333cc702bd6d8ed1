package main

import (
	"flag"
	"fmt"
	"strconv"

	"github.com/fusionfleet/fusionfleet/internal/cloud"
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
			"let webhooks reach loopback, private, link-local and other special-purpose addresses (closed on-premises networks only)"),
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

// options maps the flags to a node's notification options.
func (f *notifyFlags) options() (cloud.NotifyOptions, error) {
	if *f.smtp == "" && (*f.from != "" || *f.passwordFile != "") {
		return cloud.NotifyOptions{}, fmt.Errorf("notify: -smtp-from and -smtp-password-file need -smtp")
	}
	return cloud.NotifyOptions{
		SMTP: notify.SMTPOptions{
			Addr: *f.smtp, From: *f.from, Username: *f.user, PasswordFile: *f.passwordFile, StartTLS: *f.startTLS,
		},
		SMTPCAFile:           *f.ca,
		AllowPrivateWebhooks: *f.allowPrivate,
		DashboardURL:         *f.link,
	}, nil
}
