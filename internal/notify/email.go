package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/i18n"
)

// maxPasswordFile bounds the password file.
const maxPasswordFile = 4 << 10

// readPassword reads an SMTP password file: its first line.
func readPassword(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("smtp password: %w", err)
	}
	if len(b) > maxPasswordFile {
		return "", fmt.Errorf("smtp password file %s: larger than %d bytes", path, maxPasswordFile)
	}
	pw, _, _ := strings.Cut(string(b), "\n")
	pw = strings.TrimSuffix(pw, "\r")
	if pw == "" {
		return "", fmt.Errorf("smtp password file %s: empty", path)
	}
	return pw, nil
}

// sendMail sends one e-mail delivery through the configured server.
func (d *Dispatcher) sendMail(ctx context.Context, dl fleet.Delivery) error {
	o := d.opts.SMTP
	if o.Addr == "" {
		return permanent(errors.New("e-mail is not configured"))
	}
	if err := fleet.ValidEmail(dl.Recipient.Target); err != nil {
		return permanent(err)
	}
	msg, err := d.message(dl)
	if err != nil {
		return permanent(err)
	}
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return permanent(fmt.Errorf("smtp server %q: %w", o.Addr, err))
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	// The deadline is of the network, in real time, whatever the clock.
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("smtp: %w", err)
	}
	defer c.Close()
	if err := c.Hello(o.HelloName); err != nil {
		return fmt.Errorf("smtp hello: %w", err)
	}
	if o.StartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return errors.New("smtp: the server does not offer STARTTLS")
		}
		cfg := o.TLSConfig.Clone()
		if cfg == nil {
			cfg = new(tls.Config)
		}
		if cfg.ServerName == "" {
			cfg.ServerName = host
		}
		if err := c.StartTLS(cfg); err != nil {
			return fmt.Errorf("smtp starttls: %w", err)
		}
	}
	if o.PasswordFile != "" {
		pw, err := readPassword(o.PasswordFile)
		if err != nil {
			return err
		}
		if err := c.Auth(smtp.PlainAuth("", o.Username, pw, host)); err != nil {
			return fmt.Errorf("smtp auth: %w", err)
		}
	}
	if err := c.Mail(o.From); err != nil {
		return fmt.Errorf("smtp mail from: %w", err)
	}
	if err := c.Rcpt(dl.Recipient.Target); err != nil {
		// A 5xx answer names a mailbox that will not take mail.
		var te *textproto.Error
		if errors.As(err, &te) && te.Code >= 500 {
			return permanent(fmt.Errorf("smtp rcpt to: %w", err))
		}
		return fmt.Errorf("smtp rcpt to: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	if err := c.Quit(); err != nil {
		// The message was accepted at the end of DATA; a failed QUIT does
		// not undo that.
		d.log.Debug("smtp quit", "err", err)
	}
	return nil
}

// event names what a revision of an alert tells: "opened", "updated",
// "resolved", or "test".
func event(a fleet.Alert) string {
	switch {
	case a.Rule == TestRule:
		return "test"
	case !a.Active():
		return "resolved"
	case a.Revision == 1:
		return "opened"
	}
	return "updated"
}

// severityWord is a severity for people.
func severityWord(l i18n.Lang, s fleet.Severity) string {
	switch s {
	case fleet.SeverityInfo:
		return l.T("Info")
	case fleet.SeverityWarning:
		return l.T("Warning")
	case fleet.SeverityError:
		return l.T("Error")
	case fleet.SeverityCritical:
		return l.T("Critical")
	}
	return s.String()
}

// mailTime formats a time in e-mails (UTC until users' zones are known
// here).
func mailTime(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 MST") }

// subjectAndBody are an e-mail's words, in the recipient's language.
func (d *Dispatcher) subjectAndBody(dl fleet.Delivery) (string, string) {
	lang, ok := i18n.Parse(dl.Recipient.Lang)
	if !ok {
		lang = i18n.English
	}
	a := dl.Alert
	sev := severityWord(lang, a.Severity)
	var subject, status string
	switch event(a) {
	case "test":
		subject = lang.T("Test notification from FusionFleet")
		status = lang.T("This is a test. No printer is affected.")
	case "resolved":
		subject = lang.T("Resolved on %s: %s", a.PrinterName, a.Title)
		status = lang.T("Resolved at %s.", mailTime(a.Resolved))
	case "opened":
		subject = lang.T("%s on %s: %s", sev, a.PrinterName, a.Title)
		status = lang.T("Active since %s.", mailTime(a.Opened))
	default:
		subject = lang.T("Updated, %s on %s: %s", sev, a.PrinterName, a.Title)
		status = lang.T("Active since %s, changed at %s.", mailTime(a.Opened), mailTime(a.Updated))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", a.Title)
	if a.Detail != "" {
		fmt.Fprintf(&b, "%s\n\n", a.Detail)
	}
	fmt.Fprintf(&b, "%s: %s (%s)\n", lang.T("Printer"), a.PrinterName, a.PrinterID)
	fmt.Fprintf(&b, "%s: %s\n", lang.T("Severity"), sev)
	fmt.Fprintf(&b, "%s\n\n", status)
	if d.opts.DashboardURL != "" {
		fmt.Fprintf(&b, "%s\n\n", d.opts.DashboardURL+"/")
	}
	fmt.Fprintf(&b, "-- \n%s\n", lang.T("You receive this e-mail because alert notifications are turned on for you or your team in FusionFleet. Change them under Account, Notifications."))
	fmt.Fprintf(&b, "%s\n", lang.T("Alert %s, revision %d.", a.ID, a.Revision))
	return "[FusionFleet] " + subject, b.String()
}

// message is the whole RFC 5322 message of an e-mail delivery.
func (d *Dispatcher) message(dl fleet.Delivery) ([]byte, error) {
	from := d.opts.SMTP.From
	_, domain, _ := strings.Cut(from, "@")
	subject, body := d.subjectAndBody(dl)
	var b bytes.Buffer
	h := func(k, v string) {
		// Values are built here from checked addresses and encoded words;
		// a line break would start a header of its own.
		v = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	h("Date", d.opts.WireClock.Now().Format(time.RFC1123Z))
	h("From", (&mail.Address{Name: "FusionFleet", Address: from}).String())
	h("To", (&mail.Address{Address: dl.Recipient.Target}).String())
	h("Subject", mime.QEncoding.Encode("utf-8", subject))
	h("Message-ID", "<"+string(dl.ID)+"@"+domain+">")
	// Every revision of one alert is one thread in the reader's mail.
	h("References", "<"+safeID(string(dl.Alert.ID))+"."+string(dl.OrgID)+"@"+domain+">")
	h("Auto-Submitted", "auto-generated")
	h("X-Auto-Response-Suppress", "All")
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(strings.ReplaceAll(body, "\n", "\r\n"))); err != nil {
		return nil, fmt.Errorf("message: %w", err)
	}
	if err := qp.Close(); err != nil {
		return nil, fmt.Errorf("message: %w", err)
	}
	return b.Bytes(), nil
}

// safeID keeps the characters of an ID that may stand in a message ID.
func safeID(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			return r
		}
		return -1
	}, s)
}
