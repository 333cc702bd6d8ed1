package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// The webhook request headers.
const (
	HeaderTimestamp = "FusionFleet-Timestamp"
	HeaderSignature = "FusionFleet-Signature"
	HeaderDelivery  = "FusionFleet-Delivery"
)

// ErrSignature is the error of Verify for every request it refuses.
var ErrSignature = errors.New("invalid webhook signature")

// Payload is the JSON body of a webhook request.
type Payload struct {
	// ID identifies the delivery: a receiver that sees it twice (a retry
	// after a lost answer) can ignore the second.
	ID fleet.DeliveryID `json:"id"`
	// Event is "opened", "updated", "resolved" or "test".
	Event string      `json:"event"`
	OrgID fleet.OrgID `json:"org_id"`
	Alert AlertBody   `json:"alert"`
}

// AlertBody is an alert as a webhook tells it: no users, no private
// names.
type AlertBody struct {
	ID           fleet.AlertID   `json:"id"`
	Revision     int             `json:"revision"`
	Rule         fleet.RuleKey   `json:"rule"`
	Severity     fleet.Severity  `json:"severity"`
	Title        string          `json:"title"`
	Detail       string          `json:"detail"`
	SiteID       fleet.SiteID    `json:"site_id,omitempty"`
	PrinterID    fleet.PrinterID `json:"printer_id"`
	PrinterName  string          `json:"printer_name"`
	Opened       time.Time       `json:"opened"`
	Updated      time.Time       `json:"updated"`
	Resolved     time.Time       `json:"resolved,omitzero"`
	Acknowledged bool            `json:"acknowledged"`
}

// NewPayload is the webhook body of a delivery.
func NewPayload(dl fleet.Delivery) Payload {
	a := dl.Alert
	return Payload{ID: dl.ID, Event: event(a), OrgID: dl.OrgID, Alert: AlertBody{
		ID: a.ID, Revision: a.Revision, Rule: a.Rule, Severity: a.Severity, Title: a.Title, Detail: a.Detail,
		SiteID: a.SiteID, PrinterID: a.PrinterID, PrinterName: a.PrinterName,
		Opened: a.Opened, Updated: a.Updated, Resolved: a.Resolved, Acknowledged: a.AckedBy != "",
	}}
}

// NewSecret returns a new webhook secret: 32 random bytes, base64url
// (43 characters).
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("webhook secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Sign returns the signature header value of body sent at timestamp (Unix
// seconds): "v1=" and the hex HMAC-SHA256 of "timestamp.body" under secret.
func Sign(secret string, timestamp int64, body []byte) string {
	return "v1=" + hex.EncodeToString(mac(secret, strconv.FormatInt(timestamp, 10), body))
}

func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// maxSignatures bounds the signatures Verify looks at in one header.
const maxSignatures = 8

// Verify checks a webhook request as a receiver should: header holds its
// FusionFleet-Timestamp and FusionFleet-Signature, body is the raw body.
// The timestamp must be within tolerance of now (which limits replays) and
// one of the header's comma-separated "v1=<hex>" signatures must match;
// other schemes are ignored, so that new ones can be added. Every refusal
// wraps ErrSignature.
func Verify(secret string, header http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	ts := header.Get(HeaderTimestamp)
	if ts == "" || len(ts) > 12 || strings.TrimLeft(ts, "0123456789") != "" {
		return fmt.Errorf("%w: missing or malformed %s", ErrSignature, HeaderTimestamp)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: malformed %s", ErrSignature, HeaderTimestamp)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: timestamp %s outside the tolerance of %v", ErrSignature, ts, tolerance)
	}
	want := mac(secret, ts, body)
	seen := 0
	for part := range strings.SplitSeq(header.Get(HeaderSignature), ",") {
		scheme, sig, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || scheme != "v1" {
			continue
		}
		if seen++; seen > maxSignatures {
			break
		}
		got, err := hex.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	if seen == 0 {
		return fmt.Errorf("%w: no v1 signature in %s", ErrSignature, HeaderSignature)
	}
	return fmt.Errorf("%w: no signature matches", ErrSignature)
}

// CheckWebhookURL reports whether raw may name a webhook: an absolute
// https URL with a host, without user information or fragment. A host
// that is an IP address must be public (see checkPublic) unless
// allowPrivate; the error then wraps an *AddressError naming the range.
// The addresses a host name resolves to are checked when connecting.
func CheckWebhookURL(raw string, allowPrivate bool) error {
	if len(raw) > 2048 {
		return errors.New("webhook URL longer than 2048 bytes")
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("webhook URL: %w", err)
	case u.Scheme != "https":
		return errors.New("webhook URL must start with https://")
	case u.Hostname() == "":
		return errors.New("webhook URL has no host")
	case u.User != nil:
		return errors.New("webhook URL must not contain a user name or password")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return errors.New("webhook URL must not contain a fragment")
	}
	if addr, err := netip.ParseAddr(u.Hostname()); err == nil && !allowPrivate {
		if err := checkPublic(addr); err != nil {
			return fmt.Errorf("webhook URL: %w", err)
		}
	}
	return nil
}

// newWebhookClient returns the client for webhooks: its own timeouts, no
// proxy from the environment (it would hide the address connected to), no
// redirects, and unless allowed no connections to non-public addresses,
// checked on every address actually dialled (after DNS, so a name that
// resolves to an internal address is refused too).
func newWebhookClient(o Options) *http.Client {
	dialer := &net.Dialer{Timeout: o.WebhookTimeout, Resolver: o.WebhookResolver}
	if !o.AllowPrivateWebhooks {
		dialer.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("webhook address %s: %w", address, err)
			}
			if err := checkPublic(ap.Addr()); err != nil {
				return permanent(fmt.Errorf("webhook address refused: %w", err))
			}
			return nil
		}
	}
	return &http.Client{
		Timeout: o.WebhookTimeout,
		Transport: &http.Transport{
			DialContext:           dialer.DialContext,
			TLSClientConfig:       o.WebhookTLS.Clone(),
			TLSHandshakeTimeout:   o.WebhookTimeout,
			ResponseHeaderTimeout: o.WebhookTimeout,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       time.Minute,
			ForceAttemptHTTP2:     true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// sendWebhook posts one webhook delivery.
func (d *Dispatcher) sendWebhook(ctx context.Context, dl fleet.Delivery) error {
	if err := CheckWebhookURL(dl.Recipient.Target, d.opts.AllowPrivateWebhooks); err != nil {
		return permanent(err)
	}
	if dl.Secret == "" {
		return permanent(errors.New("the channel has no secret (deleted?)"))
	}
	body, err := json.Marshal(NewPayload(dl))
	if err != nil {
		return permanent(fmt.Errorf("webhook payload: %w", err))
	}
	ts := d.opts.WireClock.Now().Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, dl.Recipient.Target, bytes.NewReader(body))
	if err != nil {
		return permanent(fmt.Errorf("webhook request: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "FusionFleet-Webhook/1")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(dl.Secret, ts, body))
	req.Header.Set(HeaderDelivery, string(dl.ID))
	resp, err := d.client.Do(req)
	if err != nil {
		if pe := new(permanentError); errors.As(err, pe) {
			return *pe
		}
		return fmt.Errorf("webhook: %w", err)
	}
	defer resp.Body.Close()
	// Read (a bounded part of) the answer so the connection can be reused.
	io.Copy(io.Discard, io.LimitReader(resp.Body, d.opts.MaxResponseBytes))
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500:
		return fmt.Errorf("webhook answered %s", resp.Status)
	default:
		return permanent(fmt.Errorf("webhook answered %s", resp.Status))
	}
}
