package e2e

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/emersion/go-smtp"

	"github.com/fusionfleet/fusionfleet/internal/alert"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/notify"
	"github.com/fusionfleet/fusionfleet/internal/wait"
)

// browser starts headless Chromium for a test, or skips loudly when it is
// missing (and fails under CI=true, where .ci/run installs it).
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium not found: CI must install Debian's chromium package")
		}
		t.Skip("SKIPPED: chromium not found; install Debian's chromium package to run browser tests")
	}
	// The profile is removed by the cleanup below, not by t.TempDir: a
	// helper process of Chromium may still write to it for a moment after
	// the browser ended.
	profile, err := os.MkdirTemp("", "fusionfleet-chromium")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(profile), chromedp.WindowSize(1200, 900),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		if err := wait.Until(10*time.Second, 100*time.Millisecond, func() error { return os.RemoveAll(profile) }); err != nil {
			t.Logf("Chromium's profile stays behind: %v", err)
		}
	})
	// The first action starts the browser, which lives as long as the
	// context it ran on: start it here, so that callers may run actions
	// on contexts with deadlines.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// screenshot saves a full-page PNG under $FUSIONFLEET_ARTIFACTS (or the
// test's temporary directory) for a person to look at.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	file, err := saveScreenshot(ctx, artefactDir(t), name)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", file)
}

// artefactDir is where a test leaves files for people: $FUSIONFLEET_ARTIFACTS;
// the test's artifact directory under `go test -artifacts`; or else a
// temporary directory that is removed when the test passes and kept, its
// path logged, when it fails.
func artefactDir(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("FUSIONFLEET_ARTIFACTS"); dir != "" {
		return dir
	}
	if f := flag.Lookup("test.artifacts"); f != nil && f.Value.String() == "true" {
		return t.ArtifactDir()
	}
	dir, err := os.MkdirTemp("", "fusionfleet-"+strings.ReplaceAll(t.Name(), "/", "-")+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("screenshots kept in %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	return dir
}

// saveScreenshot writes a full-page PNG of the tab to dir/name.png.
func saveScreenshot(ctx context.Context, dir, name string) (string, error) {
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return "", fmt.Errorf("screenshot %s: %w", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("screenshot %s: %w", name, err)
	}
	file := filepath.Join(dir, name+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		return "", fmt.Errorf("screenshot %s: %w", name, err)
	}
	return file, nil
}

// cardStates reads each printer card's state from the live page.
func cardStates(t *testing.T, ctx context.Context) map[string]string {
	t.Helper()
	got, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`Object.fromEntries(
		[...document.querySelectorAll('[data-printer-id]')].map(c => [c.dataset.printerId, c.dataset.state]))`))
	if err != nil {
		t.Fatalf("read cards: %v", err)
	}
	return got
}

// A person's first visit, in a real browser: log in, see a card per
// printer, and watch states change without reloading the page.
func TestDashboardInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary and a browser")
	}
	t.Parallel() // each runs its own processes on ports of their own
	ctx := browser(t)
	demo := startDemo(t, buildBinary(t), t.TempDir(), "-speed", "7200", "-poll", "250ms")
	user, password, _ := strings.Cut(demo.lines["login"], " ")

	tctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	err := chromedp.Do(tctx,
		chromedp.Navigate(demo.lines["cloud"]),
		chromedp.WaitVisible("#name"),
		chromedp.SendKeys("#name", user),
		chromedp.SendKeys("#password", password),
		chromedp.Submit("#password"),
		chromedp.WaitVisible(`[data-live="on"]`),
	)
	if err != nil {
		t.Fatalf("log in: %v", err)
	}

	// Every printer gets a card, and each card changes state while the
	// page stays loaded: the changes arrive live.
	seen := map[string]map[string]bool{}
	err = wait.Until(60*time.Second, 100*time.Millisecond, func() error {
		for id, st := range cardStates(t, tctx) {
			if seen[id] == nil {
				seen[id] = map[string]bool{}
			}
			seen[id][st] = true
		}
		changed := 0
		for _, s := range seen {
			if len(s) >= 2 {
				changed++
			}
		}
		if len(seen) != 2 || changed != 2 {
			return fmt.Errorf("states per card %v; want 2 cards, each changing", seen)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("in the browser: %v", err)
	}
	screenshot(t, tctx, "my-3d-printers")
}

// logIn opens the demo's dashboard in the tab and logs in with the login
// it printed, unless the tab's session still holds. It returns the user
// name.
func (b *tab) logIn(demo *demoProcess) string {
	b.t.Helper()
	b.base = strings.TrimSuffix(demo.lines["cloud"], "/") + "/"
	user, password, _ := strings.Cut(demo.lines["login"], " ")
	b.open("/login")
	if read[bool](b, "the login form", `!!document.querySelector('#password')`) {
		b.fill("#name", user)
		b.fill("#password", password)
		b.load("log in", chromedp.Submit(chromedp.CSS("#password")))
	}
	b.open("/")
	b.waitFor("the printers page after logging in", `document.querySelector('#printers')`, 5*time.Second)
	return user
}

// tab drives one browser tab through the dashboard. Every wait has a
// deadline; one that runs out fails the test with a screenshot of what the
// browser showed then.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string // the dashboard's URL, ending in "/"
	dir  string // where screenshots go
}

// stepLimit bounds one browser action: a navigation, a click, a query.
const stepLimit = 20 * time.Second

// fail fails the test with a screenshot and the page's address.
func (b *tab) fail(format string, args ...any) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	where, _ := chromedp.Run(ctx, chromedp.Location())
	file, err := saveScreenshot(ctx, b.dir, "failed")
	if err != nil {
		file = err.Error()
	}
	b.t.Fatalf("%s\n(page %s; screenshot %s)", fmt.Sprintf(format, args...), where, file)
}

// do runs browser actions.
func (b *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepLimit)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](b *tab, js string) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, stepLimit)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](js))
}

// read evaluates js and fails the test if it cannot.
func read[T any](b *tab, what, js string) T {
	b.t.Helper()
	v, err := eval[T](b, js)
	if err != nil {
		b.fail("read %s: %v", what, err)
	}
	return v
}

// waitFor polls the page until the JavaScript expression js is true.
func (b *tab) waitFor(what, js string, limit time.Duration) {
	b.t.Helper()
	if err := wait.Until(limit, 100*time.Millisecond, func() error { return b.holds(js) }); err != nil {
		b.fail("waited for %s: %v", what, err)
	}
}

// holds tells whether the JavaScript expression js is true on the page.
func (b *tab) holds(js string) error {
	ok, err := eval[bool](b, "!!("+js+")")
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("not yet")
	}
	return nil
}

// load runs actions that load a page (a navigation, a click on a link or a
// form's button) and checks the page came with 200 OK.
func (b *tab) load(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepLimit)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, actions...)
	if err != nil {
		b.fail("%s: %v", what, err)
	}
	if resp.Status != 200 {
		b.fail("%s: HTTP %d %s, want 200", what, resp.Status, resp.StatusText)
	}
}

// open loads one of the dashboard's pages.
func (b *tab) open(path string) {
	b.t.Helper()
	b.load("open "+path, chromedp.Navigate(b.base+strings.TrimPrefix(path, "/")))
}

// openUntil loads a page again and again until js holds on it: for pages
// that show what the cloud received until they were loaded.
func (b *tab) openUntil(what, path, js string, limit time.Duration) {
	b.t.Helper()
	err := wait.Until(limit, time.Second, func() error {
		b.open(path)
		return b.holds(js)
	})
	if err != nil {
		b.fail("reloaded %s, still no %s: %v", path, what, err)
	}
}

// submit clicks a form's button and waits for the page the server answers
// with.
func (b *tab) submit(button string) {
	b.t.Helper()
	b.load("submit with "+button, chromedp.Click(chromedp.CSS(button)))
}

// fill types into a text field, replacing what it held.
func (b *tab) fill(field, text string) {
	b.t.Helper()
	b.do("fill "+field, chromedp.Clear(chromedp.CSS(field)), chromedp.SendKeys(chromedp.CSS(field), text))
}

// choose picks an option of a select by its value.
func (b *tab) choose(sel, value string) {
	b.t.Helper()
	b.do("choose "+value+" in "+sel, chromedp.SetValue(chromedp.CSS(sel), value))
	if got := read[string](b, sel, "document.querySelector("+jsString(sel)+").value"); got != value {
		b.fail("%s has no option %q (value is %q)", sel, value, got)
	}
}

// shot saves a screenshot of the whole page.
func (b *tab) shot(name string) {
	b.t.Helper()
	file, err := saveScreenshot(b.ctx, b.dir, name)
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", file)
}

// jsString quotes s for JavaScript source.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// mailbox is a real SMTP server on loopback that keeps what it receives.
type mailbox struct {
	addr string
	mu   sync.Mutex
	msgs []receivedMail
}

type receivedMail struct {
	to            string
	subject, body string
}

// startMailbox runs go-smtp on 127.0.0.1, without TLS or authentication.
func startMailbox(t *testing.T) *mailbox {
	t.Helper()
	mb := &mailbox{}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailSession{mb: mb}, nil }))
	s.Domain = "localhost"
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	s.MaxMessageBytes = 1 << 20
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mb.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() { defer close(done); s.Serve(ln) }()
	t.Cleanup(func() { s.Close(); <-done })
	return mb
}

// received returns the messages so far.
func (mb *mailbox) received() []receivedMail {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return slices.Clone(mb.msgs)
}

type mailSession struct {
	mb *mailbox
	to string
}

func (s *mailSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = to
	return nil
}
func (s *mailSession) Reset()        { s.to = "" }
func (s *mailSession) Logout() error { return nil }

// Data reads the message as a mail reader would: headers decoded, the
// quoted-printable body decoded.
func (s *mailSession) Data(r io.Reader) error {
	m, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		return err
	}
	var body io.Reader = m.Body
	if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(m.Body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	s.mb.mu.Lock()
	s.mb.msgs = append(s.mb.msgs, receivedMail{to: s.to, subject: subject, body: string(b)})
	s.mb.mu.Unlock()
	return nil
}

// hookReceiver is an HTTPS webhook receiver on loopback that keeps every
// request.
type hookReceiver struct {
	srv      *httptest.Server
	certFile string // its certificate, PEM, for the demo to trust
	mu       sync.Mutex
	reqs     []receivedHook
}

type receivedHook struct {
	header http.Header
	body   []byte
}

func startHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	hr := &hookReceiver{}
	hr.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		hr.mu.Lock()
		hr.reqs = append(hr.reqs, receivedHook{r.Header.Clone(), body})
		hr.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(hr.srv.Close)
	hr.certFile = filepath.Join(t.TempDir(), "webhook-ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hr.srv.Certificate().Raw})
	if err := os.WriteFile(hr.certFile, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	return hr
}

func (hr *hookReceiver) received() []receivedHook {
	hr.mu.Lock()
	defer hr.mu.Unlock()
	return slices.Clone(hr.reqs)
}

// A person's working day with the dashboard, in a real browser against the
// real demo: log in and watch the fleet live, look into a printer and the
// KPIs, set up notifications, write an alert rule, acknowledge its alert,
// receive its e-mail in a real SMTP server and its signed webhook, use the
// phone layout and German. Every main page is saved as a screenshot.
func TestDashboardJourneyInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary and a browser")
	}
	t.Parallel() // each runs its own processes on ports of their own
	ctx := browser(t)
	mb := startMailbox(t)
	hooks := startHookReceiver(t)
	const (
		email  = "operator@fusionfleet.test"
		sender = "fleet@fusionfleet.test"
	)
	// The printers' clock runs 7200 times faster: states change and faults
	// (with their alerts) come every few seconds. The demo trusts the
	// webhook receiver's certificate and may reach it on loopback.
	bin, data := buildBinary(t), t.TempDir()
	env := []string{"SSL_CERT_FILE=" + hooks.certFile}
	flags := []string{"-speed", "7200", "-poll", "250ms", "-smtp", mb.addr, "-smtp-from", sender, "-webhook-allow-private"}
	demo := startDemoEnv(t, bin, data, env, flags...)
	b := &tab{t: t, ctx: ctx, dir: artefactDir(t)}
	user := b.logIn(demo)

	// A card per printer, and a state change arrives live.
	b.waitFor("the live indicator", `document.querySelector('#live[data-live="on"]')`, 20*time.Second)
	b.waitFor("a card for each of the 2 printers",
		`document.querySelectorAll('#printers [data-printer-id]').length === 2`, 20*time.Second)
	before := read[map[string]string](b, "card states", `Object.fromEntries(
		[...document.querySelectorAll('#printers [data-printer-id]')].map(c => [c.dataset.printerId, c.dataset.state]))`)
	read[bool](b, "mark the page", "window.journeyNoReload = true")
	b.waitFor("a printer's state to change without reload", `window.journeyNoReload === true &&
		[...document.querySelectorAll('#printers [data-printer-id]')].some(c =>
			c.dataset.printerId in `+jsObject(before)+` && `+jsObject(before)+`[c.dataset.printerId] !== c.dataset.state)`,
		60*time.Second)
	b.shot("printers")

	// Notifications first, so that the alert below reaches them: my own
	// e-mails from warnings on...
	b.open("/account/notifications")
	b.do("turn e-mails on", chromedp.Click(chromedp.CSS(`input[name="enabled"]:not(:checked)`)))
	b.fill("#notify-email", email)
	b.choose("#notify-severity", "warning")
	b.submit(`form[action="/account/notifications"] button[type="submit"]`)
	b.waitFor("the saved notice", `document.querySelector('p.notice[role="status"]') &&
		document.querySelector('#notify-email').value === `+jsString(email)+` &&
		document.querySelector('#notify-severity').value === "warning" &&
		document.querySelector('input[name="enabled"]').checked`, 5*time.Second)
	b.shot("notification-preferences")

	// ...and, as admin, a webhook to the receiver; its secret is shown once.
	b.open("/admin/notifications")
	b.do("choose webhook", chromedp.Click(chromedp.CSS(`input[name="kind"][value="webhook"]`)))
	b.fill("#channel-name", "Maintenance system")
	b.fill("#channel-target", hooks.srv.URL+"/fusionfleet")
	b.choose("#channel-severity", "info")
	b.submit(`form[action="/admin/notifications"] button[type="submit"]`)
	b.waitFor("the webhook's secret and its row", `document.querySelector('[data-webhook-secret]') &&
		document.querySelector('tr[data-channel-id]')`, 5*time.Second)
	secret := read[string](b, "the webhook secret", `document.querySelector('[data-webhook-secret]').value`)
	if len(secret) < 32 {
		b.fail("webhook secret %q: want at least 32 characters", secret)
	}

	// A custom rule every printer breaks, an agent level at most 100 %:
	// the Command Center's next consumables reading opens its alerts.
	b.open("/alerts/rules")
	b.choose("#r-metric", "agent_level_percent")
	b.choose("#r-op", "<=")
	b.fill("#r-threshold", "100")
	b.choose("#r-severity", "warning")
	b.submit(`form[action="/alerts/rules"] button[type="submit"]`)
	b.waitFor("the new rule in the list of custom rules", `[...document.querySelectorAll('tr[data-rule^="custom-"]')].some(
		r => r.textContent.includes("Lowest agent supply level <= 100"))`, 5*time.Second)
	b.shot("alert-rules")

	// A printer's page: identity and plots of the consumables' decline.
	b.open("/")
	name := read[string](b, "the first printer's name", `document.querySelector('#printers .card-name a').textContent`)
	// Follow the card's link rather than click it: the live page may
	// replace the card between finding and clicking it.
	b.open(read[string](b, "the first printer's link", `document.querySelector('#printers .card-name a').getAttribute('href')`))
	detail := read[string](b, "the printer page's address", "location.pathname")
	// The identity, and a plot of each consumable's decline as an
	// accessible image. (In the demo the Command Center reads consumables
	// every five minutes and the printers' clock runs ahead of the cloud's,
	// so within this test the plots may have no reading in their period.)
	b.openUntil("identity and a plot of every consumable", detail, `document.querySelector('h1').textContent.trim() === `+
		jsString(name)+` && [...document.querySelectorAll('#identity-h + dl.facts dt')].some(dt => dt.textContent === "Firmware" &&
		dt.nextElementSibling.textContent.trim() !== "") && document.querySelector('section[aria-labelledby="consumables-h"] table.list tbody tr') &&
		[...document.querySelectorAll('section[aria-labelledby="consumables-h"] svg.plot[role="img"]')]
		.filter(svg => svg.querySelector('title').textContent && svg.getBoundingClientRect().width > 200).length === 6`, 60*time.Second)
	b.shot("printer-detail")

	b.openUntil("a job in the list", "/jobs", `document.querySelector('table.list tbody tr')`, 60*time.Second)
	b.shot("jobs")

	// KPIs over the printers' days: their clock runs ahead, so the period
	// starts today and reaches a month into the future. Finished jobs
	// arrive with the bulk uploads every half minute: at least one KPI has
	// a value above zero, and it is plotted.
	today := time.Now().UTC()
	from, to := today.Format(time.DateOnly), today.AddDate(0, 1, 0).Format(time.DateOnly)
	plotted := `[...document.querySelectorAll('article.kpi')].filter(k =>
		parseFloat(k.querySelector('.kpi-value').textContent.replace(',', '.')) > 0 && !k.querySelector('svg.plot text.empty') &&
		k.querySelector('svg.plot[role="img"] polyline.line, svg.plot[role="img"] circle.dot, svg.plot[role="img"] rect.bar')).length`
	b.openUntil("a KPI with a value above zero and a plot", "/kpis?period=custom&from="+from+"&to="+to, plotted+" > 0", 90*time.Second)
	// The same through the page's form, for one printer.
	b.choose("#k-period", "custom")
	b.do("set the period", chromedp.SetValue(chromedp.CSS("#k-from"), from), chromedp.SetValue(chromedp.CSS("#k-to"), to))
	b.choose("#k-printer", read[string](b, "the first printer", `document.querySelector('#k-printer option[value]:not([value=""])').value`))
	b.submit(`form[action="/kpis"] button[type="submit"]`)
	onePrinter := `document.querySelector('.kpis .hint').textContent.startsWith("1 printers selected")`
	b.waitFor("the form's selection of one printer", onePrinter, 5*time.Second)
	// The printer chosen may not have finished a job yet when the fleet
	// first has one: the page the form led to is reloaded until it has.
	b.openUntil("a KPI plot for one printer", read[string](b, "the form's page", `location.pathname + location.search`),
		onePrinter+" && "+plotted+" > 0", 90*time.Second)
	b.shot("kpis")
	b.open("/benchmark")
	b.shot("benchmark")
	b.open("/usage?period=custom&from=" + from + "&to=" + to)
	b.waitFor("the usage heat map", `document.querySelector('svg.plot')`, 5*time.Second)
	b.shot("usage")

	// An alert of the custom rule above, which both notifications told
	// of: the demo's Command Center reads consumables every half minute.
	var alertID string
	var mailed receivedMail
	var hook receivedHook
	notified := func() bool {
		active := read[[]string](b, "active alerts", `[...document.querySelectorAll('li.alert-item')].map(li => li.dataset.alertId)`)
		for _, r := range hooks.received() {
			var p notify.Payload
			if json.Unmarshal(r.body, &p) != nil || !slices.Contains(active, string(p.Alert.ID)) ||
				!strings.HasPrefix(string(p.Alert.Rule), alert.CustomPrefix) {
				continue
			}
			for _, m := range mb.received() {
				if m.to == email && strings.Contains(m.body, fmt.Sprintf("Alert %s, revision %d.", p.Alert.ID, p.Alert.Revision)) {
					alertID, mailed, hook = string(p.Alert.ID), m, r
					return true
				}
			}
		}
		return false
	}
	err := wait.Until(90*time.Second, time.Second, func() error {
		b.open("/alerts")
		if !notified() {
			return fmt.Errorf("no active alert was both e-mailed and sent by webhook; %d e-mails, %d webhooks",
				len(mb.received()), len(hooks.received()))
		}
		return nil
	})
	if err != nil {
		b.fail("%v", err)
	}

	// The e-mail, in the real SMTP server, tells of the alert...
	var payload notify.Payload
	if err := json.Unmarshal(hook.body, &payload); err != nil {
		t.Fatal(err)
	}
	title := read[string](b, "the alert's title", `document.querySelector('li.alert-item[data-alert-id=`+jsString(alertID)+`] .alert-head strong').textContent`)
	printer := read[string](b, "the alert's printer", `document.querySelector('li.alert-item[data-alert-id=`+jsString(alertID)+`] .alert-head a').textContent`)
	if !strings.HasPrefix(mailed.subject, "[FusionFleet] ") || !strings.Contains(mailed.subject, printer) ||
		!strings.Contains(mailed.subject, title) {
		t.Errorf("e-mail subject %q: want [FusionFleet], the printer %q and the alert %q", mailed.subject, printer, title)
	}
	for _, want := range []string{title, payload.Alert.Detail, "Printer: " + printer + " (" + string(payload.Alert.PrinterID) + ")"} {
		if !strings.Contains(mailed.body, want) {
			t.Errorf("e-mail body lacks %q:\n%s", want, mailed.body)
		}
	}

	// ...and so does the webhook, signed with the secret shown once.
	if err := notify.Verify(secret, hook.header, hook.body, time.Now(), 5*time.Minute); err != nil {
		t.Errorf("webhook for alert %s: %v", alertID, err)
	}
	if err := notify.Verify(secret+"x", hook.header, hook.body, time.Now(), 5*time.Minute); err == nil {
		t.Errorf("webhook for alert %s also verifies with another secret", alertID)
	}
	if payload.Alert.Title != title || payload.Alert.PrinterName != printer || payload.Alert.Severity < fleet.SeverityWarning {
		t.Errorf("webhook payload: %q on %q, severity %v; want %q on %q, warning or worse",
			payload.Alert.Title, payload.Alert.PrinterName, payload.Alert.Severity, title, printer)
	}

	// Acknowledged in the UI, it says by whom.
	b.submit(`li.alert-item[data-alert-id="` + alertID + `"] form[action$="/ack"] button`)
	b.waitFor("the alert shown as acknowledged", `(() => {
		const a = document.querySelector('li.alert-item[data-alert-id=`+jsString(alertID)+`]');
		return a && a.textContent.includes("Acknowledged by `+user+`") && !a.querySelector('form[action$="/ack"]');
	})()`, 5*time.Second)
	b.shot("alerts")

	// The delivery log lists both, sent.
	b.openUntil("the e-mail and the webhook in the delivery log", "/admin/notifications", `(() => {
		const rows = [...document.querySelectorAll('#delivery-log + .table-scroll tbody tr')]
			.filter(r => r.textContent.includes(`+jsString(alertID)+`) && r.querySelector('.delivery-ok'));
		return rows.some(r => r.textContent.includes(`+jsString(email)+`)) &&
			rows.some(r => r.textContent.includes(`+jsString(hooks.srv.URL)+`));
	})()`, 30*time.Second)
	b.shot("notifications-admin")
	b.open("/account")
	b.shot("account")

	// The password, changed with the account page's form: it must post
	// under the page's CSP, and the browser stays logged in on the new
	// session while every other one ends.
	_, password, _ := strings.Cut(demo.lines["login"], " ")
	const newPassword = "a journey passphrase"
	b.fill("#current-password", password)
	b.fill("#new-password", newPassword)
	b.fill("#confirm-password", newPassword)
	b.submit(`form[action="/account/password"] button[type="submit"]`)
	b.waitFor("the notice that the password is changed", `location.pathname === "/account" &&
		document.querySelector('p.notice')?.textContent.includes("Your password is changed.")`, 5*time.Second)

	// A phone: nothing wider than the screen, and the menu button opens
	// the navigation.
	b.do("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3), chromedp.EmulateMobile,
		chromedp.EmulateTouch, chromedp.EmulatePortrait))
	fits := `window.innerWidth === 390 && document.documentElement.scrollWidth <= window.innerWidth`
	b.open("/")
	b.waitFor("the printers page to fit 390 px", fits, 5*time.Second)
	b.waitFor("the menu button instead of the navigation", `(() => {
		const btn = document.querySelector('#menu-toggle'), nav = document.querySelector('#nav');
		return btn.getBoundingClientRect().width > 0 && getComputedStyle(nav).display === "none";
	})()`, 5*time.Second)
	b.shot("phone-printers")
	b.do("open the menu", chromedp.Tap(chromedp.CSS("#menu-toggle")))
	b.waitFor("the open navigation, every link on screen", `(() => {
		const links = [...document.querySelectorAll('#nav a')];
		return document.querySelector('#menu-toggle').getAttribute("aria-expanded") === "true" && links.length > 5 &&
			links.every(a => { const r = a.getBoundingClientRect(); return r.width > 0 && r.left >= 0 && r.right <= window.innerWidth; });
	})()`, 5*time.Second)
	b.shot("phone-menu")
	b.load("follow Alerts in the menu", chromedp.Tap(chromedp.CSS(`#nav a[href="/alerts"]`)))
	b.waitFor("the alerts page to fit 390 px", `location.pathname === "/alerts" && `+fits, 5*time.Second)
	b.shot("phone-alerts")
	b.open(detail)
	b.waitFor("the printer page to fit 390 px", fits, 5*time.Second)
	b.shot("phone-printer-detail")
	b.do("desktop viewport", chromedp.ResetViewport())

	// German, chosen on the account page.
	b.open("/account")
	b.choose("#lang", "de")
	b.submit(`form[action="/account"] button[type="submit"]`)
	b.waitFor("the account page in German", `document.documentElement.lang === "de" &&
		document.querySelector('h1').textContent === "Ihr Konto"`, 5*time.Second)
	b.open("/")
	b.waitFor("the printers page in German", `document.querySelector('h1').textContent === "Meine 3D-Drucker" &&
		document.querySelector('#nav a[href="/alerts"]').textContent === "Alarme" &&
		document.querySelector('#nav a[href="/jobs"]').textContent === "Druckaufträge"`, 5*time.Second)
	b.shot("german-printers")
	b.open("/alerts")
	b.shot("german-alerts")
}

// jsObject writes a string map as a JavaScript object literal.
func jsObject(m map[string]string) string {
	b, _ := json.Marshal(m)
	return "(" + string(b) + ")"
}
