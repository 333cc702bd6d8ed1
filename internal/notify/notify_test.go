package notify_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/notify"
	"github.com/fusionfleet/fusionfleet/internal/store"
	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)

// env is a store with one organisation and site, and a manual clock.
type env struct {
	st    *store.DB
	org   fleet.OrgID
	site  fleet.SiteID
	clock *clock.Manual
}

func newEnv(t testing.TB) *env {
	t.Helper()
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "cloud.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	org, err := st.CreateOrg(t.Context(), "Acme")
	if err != nil {
		t.Fatal(err)
	}
	site, err := st.CreateSite(t.Context(), org, "Augsburg")
	if err != nil {
		t.Fatal(err)
	}
	return &env{st: st, org: org, site: site, clock: clock.NewManual(t0)}
}

// user adds a user with notification preferences.
func (e *env) user(t testing.TB, name string, minSev fleet.Severity, lang string) fleet.UserID {
	t.Helper()
	id, err := e.st.CreateMember(t.Context(), e.org, name, "h", fleet.RoleViewer, access.AllSites())
	if err != nil {
		t.Fatal(err)
	}
	p := fleet.NotifyPrefs{UserID: id, OrgID: e.org, Enabled: true, Email: name + "@example.com", MinSeverity: minSev, Lang: lang}
	if err := e.st.SetNotifyPrefs(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	return id
}

// webhook adds a webhook channel to url and returns its secret.
func (e *env) webhook(t testing.TB, url string) string {
	t.Helper()
	secret, err := notify.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	c := fleet.NotifyChannel{OrgID: e.org, Kind: fleet.ChannelWebhook, Name: "ops", Target: url, Secret: secret,
		MinSeverity: fleet.SeverityWarning, Created: t0}
	if _, err := e.st.CreateNotifyChannel(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	return secret
}

func (e *env) dispatcher(t testing.TB, o notify.Options) *notify.Dispatcher {
	t.Helper()
	o.Clock = e.clock
	if o.Rand == nil {
		o.Rand = func() float64 { return 0 }
	}
	d, err := notify.New(e.st, o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (e *env) alert(rev int) fleet.Alert {
	return fleet.Alert{ID: "alr_1", OrgID: e.org, SiteID: e.site, PrinterID: "printer-0001", PrinterName: "3DP 1",
		Rule: "offline", Severity: fleet.SeverityError, Title: "Printer offline", Detail: "No status for 10 minutes.",
		Opened: t0, Updated: t0.Add(time.Duration(rev-1) * time.Minute), Revision: rev}
}

func (e *env) log(t testing.TB) []fleet.DeliveryAttempt {
	t.Helper()
	l, err := e.st.DeliveryLog(t.Context(), e.org, 100)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// sendDue runs one pass and checks how many deliveries it attempted.
func sendDue(t *testing.T, d *notify.Dispatcher, want int) {
	t.Helper()
	n, err := d.SendDue(t.Context())
	if err != nil || n != want {
		t.Fatalf("SendDue = %d, %v; want %d", n, err, want)
	}
}

// --- SMTP ---

type mailMsg struct {
	from, to   string
	user, pass string
	tls        bool
	data       []byte
}

type smtpBackend struct {
	mu   sync.Mutex
	msgs []mailMsg
	// rejectRcpt makes RCPT TO fail with 550.
	rejectRcpt bool
}

func (b *smtpBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &smtpSession{b: b, c: c}, nil
}

type smtpSession struct {
	b   *smtpBackend
	c   *smtp.Conn
	msg mailMsg
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if pass != "hunter2" {
			return errors.New("bad password")
		}
		s.msg.user, s.msg.pass = user, pass
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	s.msg.from = from
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.b.rejectRcpt {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
	}
	s.msg.to = to
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.data = b
	_, s.msg.tls = s.c.TLSConnectionState()
	s.b.mu.Lock()
	s.b.msgs = append(s.b.msgs, s.msg)
	s.b.mu.Unlock()
	return nil
}

func (s *smtpSession) Reset()        {}
func (s *smtpSession) Logout() error { return nil }

func (b *smtpBackend) received() []mailMsg {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]mailMsg(nil), b.msgs...)
}

// tlsPair returns a server certificate for 127.0.0.1 and a pool that
// trusts it (httptest's).
func tlsPair(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return srv.TLS.Certificates[0], pool
}

// startSMTP runs a real SMTP server with STARTTLS and AUTH PLAIN on a
// loopback port.
func startSMTP(t *testing.T, be *smtpBackend) (string, *x509.CertPool) {
	t.Helper()
	cert, pool := tlsPair(t)
	s := smtp.NewServer(be)
	s.Domain = "mail.test"
	s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	s.ErrorLog = nopLogger{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); s.Serve(l) }()
	t.Cleanup(func() { s.Close(); <-done })
	return l.Addr().String(), pool
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
func (nopLogger) Println(...any)        {}

func passwordFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "smtp-password")
	if err := os.WriteFile(p, []byte("hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEmail(t *testing.T) {
	tests := []struct {
		name, lang  string
		rev         int
		resolved    bool
		wantSubject string
		wantBody    []string
	}{
		{"opened in English", "en", 1, false, "[FusionFleet] Error on 3DP 1: Printer offline",
			[]string{"Printer offline", "No status for 10 minutes.", "Printer: 3DP 1 (printer-0001)", "Severity: Error",
				"Active since 30 Nov 2026, 08:00 UTC.", "https://fleet.example.com/", "Alert alr_1, revision 1."}},
		{"opened in German", "de", 1, false, "[FusionFleet] Fehler an 3DP 1: Printer offline",
			[]string{"Drucker: 3DP 1 (printer-0001)", "Schweregrad: Fehler", "Aktiv seit 30 Nov 2026, 08:00 UTC.", "Alarm alr_1, Revision 1."}},
		{"resolved", "en", 3, true, "[FusionFleet] Resolved on 3DP 1: Printer offline",
			[]string{"Resolved at 30 Nov 2026, 09:00 UTC.", "Alert alr_1, revision 3."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.user(t, "ada", fleet.SeverityWarning, tt.lang)
			be := &smtpBackend{}
			addr, pool := startSMTP(t, be)
			d := e.dispatcher(t, notify.Options{DashboardURL: "https://fleet.example.com/", SMTP: notify.SMTPOptions{
				Addr: addr, From: "alerts@fleet.example.com", StartTLS: true, TLSConfig: &tls.Config{RootCAs: pool},
				Username: "mailer", PasswordFile: passwordFile(t)}})
			a := e.alert(tt.rev)
			if tt.resolved {
				a.Resolved = t0.Add(time.Hour)
				a.Updated = a.Resolved
			}
			if err := d.Notify(t.Context(), a); err != nil {
				t.Fatal(err)
			}
			sendDue(t, d, 1)
			msgs := be.received()
			if len(msgs) != 1 {
				t.Fatalf("server received %d messages, want 1", len(msgs))
			}
			m := msgs[0]
			if got, want := [5]any{m.from, m.to, m.user, m.pass, m.tls}, [5]any{"alerts@fleet.example.com", "ada@example.com", "mailer", "hunter2", true}; got != want {
				t.Errorf("envelope, auth, tls = %v, want %v", got, want)
			}
			msg, err := mail.ReadMessage(strings.NewReader(string(m.data)))
			if err != nil {
				t.Fatal(err)
			}
			subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
			if err != nil {
				t.Fatal(err)
			}
			gotHeaders := map[string]string{
				"Subject": subject, "From": msg.Header.Get("From"), "To": msg.Header.Get("To"), "Date": msg.Header.Get("Date"),
				"Content-Type": msg.Header.Get("Content-Type"), "MIME-Version": msg.Header.Get("MIME-Version"),
				"Auto-Submitted": msg.Header.Get("Auto-Submitted"),
			}
			wantHeaders := map[string]string{
				"Subject": tt.wantSubject, "From": `"FusionFleet" <alerts@fleet.example.com>`, "To": "<ada@example.com>",
				"Date": "Mon, 30 Nov 2026 08:00:00 +0000", "Content-Type": "text/plain; charset=utf-8", "MIME-Version": "1.0",
				"Auto-Submitted": "auto-generated",
			}
			if diff := cmp.Diff(wantHeaders, gotHeaders); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
			if id := msg.Header.Get("Message-ID"); !strings.HasPrefix(id, "<dlv_") || !strings.HasSuffix(id, "@fleet.example.com>") {
				t.Errorf("Message-ID = %q", id)
			}
			body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.wantBody {
				if !strings.Contains(string(body), w) {
					t.Errorf("body lacks %q:\n%s", w, body)
				}
			}
			if l := e.log(t); len(l) != 1 || l[0].Status != fleet.DeliverySent || l[0].Target != "ada@example.com" {
				t.Errorf("log = %+v, want one sent e-mail", l)
			}
		})
	}
}

func TestEmailFailures(t *testing.T) {
	t.Run("rejected mailbox fails at once", func(t *testing.T) {
		e := newEnv(t)
		e.user(t, "ada", fleet.SeverityWarning, "")
		addr, pool := startSMTP(t, &smtpBackend{rejectRcpt: true})
		d := e.dispatcher(t, notify.Options{SMTP: notify.SMTPOptions{Addr: addr, From: "alerts@example.com", StartTLS: true,
			TLSConfig: &tls.Config{RootCAs: pool}}})
		if err := d.Notify(t.Context(), e.alert(1)); err != nil {
			t.Fatal(err)
		}
		sendDue(t, d, 1)
		if l := e.log(t); len(l) != 1 || l[0].Status != fleet.DeliveryFailed || !strings.Contains(l[0].Error, "550") {
			t.Errorf("log = %+v, want one failure with 550", l)
		}
	})
	t.Run("server down is retried", func(t *testing.T) {
		e := newEnv(t)
		e.user(t, "ada", fleet.SeverityWarning, "")
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		d := e.dispatcher(t, notify.Options{SMTP: notify.SMTPOptions{Addr: addr, From: "alerts@example.com"}})
		if err := d.Notify(t.Context(), e.alert(1)); err != nil {
			t.Fatal(err)
		}
		sendDue(t, d, 1)
		if l := e.log(t); len(l) != 1 || l[0].Status != fleet.DeliveryPending {
			t.Errorf("log = %+v, want one failure to retry", l)
		}
	})
	t.Run("no e-mail without a server", func(t *testing.T) {
		e := newEnv(t)
		e.user(t, "ada", fleet.SeverityWarning, "")
		d := e.dispatcher(t, notify.Options{})
		if err := d.Notify(t.Context(), e.alert(1)); err != nil {
			t.Fatal(err)
		}
		sendDue(t, d, 0)
	})
}

// --- webhooks ---

// hookServer is a webhook receiver over TLS that verifies signatures and
// answers with the statuses in answers, then 200.
type hookServer struct {
	srv    *httptest.Server
	secret string
	clock  clock.Clock

	mu       sync.Mutex
	answers  []int
	payloads []notify.Payload
	verified []error

	// arrived has a value for each request received, up to its capacity.
	arrived chan struct{}
}

func newHookServer(t testing.TB, c clock.Clock, answers ...int) *hookServer {
	t.Helper()
	h := &hookServer{clock: c, answers: answers, arrived: make(chan struct{}, 100)}
	h.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		h.verified = append(h.verified, notify.Verify(h.secret, r.Header, body, h.clock.Now(), 5*time.Minute))
		var p notify.Payload
		if err := json.Unmarshal(body, &p); err != nil {
			h.verified[len(h.verified)-1] = err
		}
		if r.Header.Get(notify.HeaderDelivery) != string(p.ID) {
			h.verified[len(h.verified)-1] = errors.New("delivery header differs from payload id")
		}
		h.payloads = append(h.payloads, p)
		select {
		case h.arrived <- struct{}{}:
		default:
		}
		status := http.StatusOK
		if len(h.answers) > 0 {
			status, h.answers = h.answers[0], h.answers[1:]
		}
		w.WriteHeader(status)
		w.Write([]byte(strings.Repeat("x", 1<<17))) // more than the dispatcher reads
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookServer) tls() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(h.srv.Certificate())
	return &tls.Config{RootCAs: pool}
}

func (h *hookServer) got() ([]notify.Payload, []error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]notify.Payload(nil), h.payloads...), append([]error(nil), h.verified...)
}

// hookEnv is an environment with one webhook channel to a receiver.
func hookEnv(t *testing.T, o notify.Options, answers ...int) (*env, *hookServer, *notify.Dispatcher) {
	t.Helper()
	e := newEnv(t)
	h := newHookServer(t, e.clock, answers...)
	h.secret = e.webhook(t, h.srv.URL+"/hooks/fusionfleet")
	o.WebhookTLS, o.AllowPrivateWebhooks = h.tls(), true
	return e, h, e.dispatcher(t, o)
}

// The signature's timestamp is the wire clock's, which receivers check
// against their own: a dispatcher whose Clock runs elsewhere (the demo's)
// still signs with a time they accept.
func TestWebhookSignsWithWireClock(t *testing.T) {
	wire := clock.NewManual(t0.Add(24 * time.Hour))
	e, h, d := hookEnv(t, notify.Options{WireClock: wire})
	h.clock = wire // the receiver lives on the wire's time
	if err := d.Notify(t.Context(), e.alert(1)); err != nil {
		t.Fatal(err)
	}
	sendDue(t, d, 1)
	ps, verr := h.got()
	if len(ps) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(ps))
	}
	if verr[0] != nil {
		t.Errorf("Verify on the wire clock's time: %v", verr[0])
	}
}

func TestWebhook(t *testing.T) {
	e, h, d := hookEnv(t, notify.Options{})
	a := e.alert(1)
	a.AckedBy = "usr_someone"
	if err := d.Notify(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	sendDue(t, d, 1)
	ps, verr := h.got()
	if len(ps) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(ps))
	}
	if verr[0] != nil {
		t.Errorf("Verify: %v", verr[0])
	}
	want := notify.Payload{ID: ps[0].ID, Event: "opened", OrgID: e.org, Alert: notify.AlertBody{
		ID: "alr_1", Revision: 1, Rule: "offline", Severity: fleet.SeverityError, Title: "Printer offline",
		Detail: "No status for 10 minutes.", SiteID: e.site, PrinterID: "printer-0001", PrinterName: "3DP 1",
		Opened: t0, Updated: t0, Acknowledged: true}}
	if diff := cmp.Diff(want, ps[0]); diff != "" {
		t.Errorf("payload (-want +got):\n%s", diff)
	}
	if l := e.log(t); len(l) != 1 || l[0].Status != fleet.DeliverySent || l[0].Kind != fleet.ChannelWebhook {
		t.Errorf("log = %+v, want one sent webhook", l)
	}
}

func TestNoStorm(t *testing.T) {
	e, h, d := hookEnv(t, notify.Options{})
	// A second node sharing the store.
	d2 := e.dispatcher(t, notify.Options{WebhookTLS: h.tls(), AllowPrivateWebhooks: true})
	steps := []struct {
		name   string
		notify func() error
		want   []string // events received so far
	}{
		{"opened", func() error { return d.Notify(t.Context(), e.alert(1)) }, []string{"opened"}},
		{"same revision again, other node", func() error { return d2.Notify(t.Context(), e.alert(1)) }, []string{"opened"}},
		{"same revision replayed", func() error { return d.Notify(t.Context(), e.alert(1)) }, []string{"opened"}},
		{"changed", func() error { return d.Notify(t.Context(), e.alert(2)) }, []string{"opened", "updated"}},
		{"changed again, both nodes", func() error {
			return errors.Join(d.Notify(t.Context(), e.alert(3)), d2.Notify(t.Context(), e.alert(3)))
		}, []string{"opened", "updated", "updated"}},
		{"resolved", func() error {
			a := e.alert(4)
			a.Resolved = a.Updated
			return d2.Notify(t.Context(), a)
		}, []string{"opened", "updated", "updated", "resolved"}},
	}
	for _, s := range steps {
		if err := s.notify(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		d.SendDue(t.Context())
		d2.SendDue(t.Context())
		ps, _ := h.got()
		var got []string
		for _, p := range ps {
			got = append(got, p.Event)
		}
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Errorf("%s: events (-want +got):\n%s", s.name, diff)
		}
	}
}

func TestSeverityAndRecipients(t *testing.T) {
	e, h, d := hookEnv(t, notify.Options{})
	addr, pool := startSMTP(t, &smtpBackend{})
	d = e.dispatcher(t, notify.Options{WebhookTLS: h.tls(), AllowPrivateWebhooks: true,
		SMTP: notify.SMTPOptions{Addr: addr, From: "alerts@example.com", StartTLS: true, TLSConfig: &tls.Config{RootCAs: pool}}})
	e.user(t, "ada", fleet.SeverityCritical, "")
	e.user(t, "bob", fleet.SeverityInfo, "")
	tests := []struct {
		sev  fleet.Severity
		want []string
	}{
		{fleet.SeverityInfo, []string{"bob@example.com"}},
		{fleet.SeverityError, []string{"bob@example.com", h.srv.URL + "/hooks/fusionfleet"}},
		{fleet.SeverityCritical, []string{"ada@example.com", "bob@example.com", h.srv.URL + "/hooks/fusionfleet"}},
	}
	for _, tt := range tests {
		t.Run(tt.sev.String(), func(t *testing.T) {
			a := e.alert(1)
			a.ID, a.Severity = fleet.AlertID("alr_"+tt.sev.String()), tt.sev
			if err := d.Notify(t.Context(), a); err != nil {
				t.Fatal(err)
			}
			ds, err := e.st.Deliveries(t.Context(), e.org, 100)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, dl := range ds {
				if dl.Alert.ID == a.ID {
					got = append(got, dl.Recipient.Target)
				}
			}
			if diff := cmp.Diff(tt.want, got, cmpSorted); diff != "" {
				t.Errorf("recipients (-want +got):\n%s", diff)
			}
		})
	}
}

var cmpSorted = cmp.Transformer("sort", func(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})

func TestRetryWithBackoff(t *testing.T) {
	const base = time.Minute
	e, h, d := hookEnv(t, notify.Options{BaseDelay: base}, http.StatusInternalServerError, http.StatusServiceUnavailable)
	if err := d.Notify(t.Context(), e.alert(1)); err != nil {
		t.Fatal(err)
	}
	sendDue(t, d, 1) // fails: 500
	sendDue(t, d, 0) // not due yet
	e.clock.Advance(base - time.Second)
	sendDue(t, d, 0)
	e.clock.Advance(time.Second)
	sendDue(t, d, 1) // fails: 503, next in 2·base
	e.clock.Advance(2*base - time.Second)
	sendDue(t, d, 0)
	e.clock.Advance(time.Second)
	sendDue(t, d, 1) // succeeds
	e.clock.Advance(time.Hour)
	sendDue(t, d, 0)
	ps, verr := h.got()
	if len(ps) != 3 {
		t.Fatalf("receiver got %d requests, want 3", len(ps))
	}
	for i, err := range verr {
		if err != nil {
			t.Errorf("request %d: %v", i+1, err)
		}
		if ps[i].ID != ps[0].ID {
			t.Errorf("request %d has delivery ID %s, want %s", i+1, ps[i].ID, ps[0].ID)
		}
	}
	var got []string
	for _, a := range e.log(t) {
		got = append(got, a.At.Sub(t0).String()+" #"+string(rune('0'+a.Attempt))+" "+a.Status.String()+" "+a.Error)
	}
	want := []string{
		"3m0s #3 sent ",
		"1m0s #2 pending webhook answered 503 Service Unavailable",
		"0s #1 pending webhook answered 500 Internal Server Error",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delivery log (-want +got):\n%s", diff)
	}
}

func TestGiveUp(t *testing.T) {
	t.Run("after the maximum age", func(t *testing.T) {
		answers := make([]int, 100)
		for i := range answers {
			answers[i] = http.StatusBadGateway
		}
		o := notify.Options{BaseDelay: time.Minute, MaxDelay: 4 * time.Minute, MaxAge: 10 * time.Minute}
		e, h, d := hookEnv(t, o, answers...)
		if err := d.Notify(t.Context(), e.alert(1)); err != nil {
			t.Fatal(err)
		}
		// Attempts at 0, 1, 3, 7 and 10 (the deadline) minutes.
		for range 20 {
			d.SendDue(t.Context())
			e.clock.Advance(time.Minute)
		}
		log := e.log(t)
		var at []time.Duration
		for i := len(log) - 1; i >= 0; i-- {
			at = append(at, log[i].At.Sub(t0))
		}
		if diff := cmp.Diff([]time.Duration{0, time.Minute, 3 * time.Minute, 7 * time.Minute, 10 * time.Minute}, at); diff != "" {
			t.Errorf("attempt times (-want +got):\n%s", diff)
		}
		if log[0].Status != fleet.DeliveryFailed {
			t.Errorf("last attempt: %s, want failed", log[0].Status)
		}
		if ps, _ := h.got(); len(ps) != 5 {
			t.Errorf("receiver got %d requests, want 5", len(ps))
		}
	})
	t.Run("on a permanent refusal", func(t *testing.T) {
		e, _, d := hookEnv(t, notify.Options{}, http.StatusGone)
		if err := d.Notify(t.Context(), e.alert(1)); err != nil {
			t.Fatal(err)
		}
		sendDue(t, d, 1)
		e.clock.Advance(24 * time.Hour)
		sendDue(t, d, 0)
		if l := e.log(t); len(l) != 1 || l[0].Status != fleet.DeliveryFailed || l[0].Error != "webhook answered 410 Gone" {
			t.Errorf("log = %+v, want one failure", l)
		}
	})
	t.Run("private address refused", func(t *testing.T) {
		e := newEnv(t)
		h := newHookServer(t, e.clock)
		h.secret = e.webhook(t, h.srv.URL)
		d := e.dispatcher(t, notify.Options{WebhookTLS: h.tls()})
		if err := d.Notify(t.Context(), e.alert(1)); err != nil {
			t.Fatal(err)
		}
		sendDue(t, d, 1)
		if l := e.log(t); len(l) != 1 || l[0].Status != fleet.DeliveryFailed || !strings.Contains(l[0].Error, "not a public address") {
			t.Errorf("log = %+v, want a refusal", l)
		}
		if ps, _ := h.got(); len(ps) != 0 {
			t.Errorf("receiver got %d requests, want none", len(ps))
		}
	})
}

func TestSendTest(t *testing.T) {
	e, h, d := hookEnv(t, notify.Options{})
	chans, err := e.st.NotifyChannels(t.Context(), e.org)
	if err != nil || len(chans) != 1 {
		t.Fatalf("channels = %v, %v", chans, err)
	}
	for range 2 {
		if err := d.SendTest(t.Context(), chans[0]); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Second)
	}
	sendDue(t, d, 2)
	ps, verr := h.got()
	if len(ps) != 2 || ps[0].Event != "test" || verr[0] != nil || ps[0].Alert.ID == ps[1].Alert.ID {
		t.Errorf("got %+v, %v; want two verified distinct tests", ps, verr)
	}
}

func TestRun(t *testing.T) {
	e, h, d := hookEnv(t, notify.Options{PollEvery: time.Hour})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	if err := d.Notify(t.Context(), e.alert(1)); err != nil {
		t.Fatal(err)
	}
	// Notify wakes Run at once, long before its hourly poll: the webhook
	// arrives; a hang fails through the test's timeout.
	<-h.arrived
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	if ps, _ := h.got(); len(ps) != 1 {
		t.Errorf("receiver got %d requests, want 1", len(ps))
	}
}

func TestNewRejects(t *testing.T) {
	st := newEnv(t).st
	tests := []struct {
		name string
		o    notify.Options
	}{
		{"no sender", notify.Options{SMTP: notify.SMTPOptions{Addr: "127.0.0.1:25"}}},
		{"sender with a name", notify.Options{SMTP: notify.SMTPOptions{Addr: "127.0.0.1:25", From: "Ada <a@example.com>"}}},
		{"missing password file", notify.Options{SMTP: notify.SMTPOptions{Addr: "127.0.0.1:25", From: "a@example.com",
			PasswordFile: filepath.Join(t.TempDir(), "none")}}},
		{"short lease", notify.Options{Lease: time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := notify.New(st, tt.o); err == nil {
				t.Error("New accepted the options")
			}
		})
	}
}
