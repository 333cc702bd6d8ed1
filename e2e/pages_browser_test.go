package e2e

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/fusionfleet/fusionfleet/internal/wait"
)

// getPages returns the GET patterns of the route table in the Go file at
// path that serve pages, not data: a new page in the table is visited
// without anyone adding it here. Patterns of data, files and probes are
// left out by skip; the sweep checks that what it visits is HTML, so a
// new data route that skip misses fails it.
func getPages(t *testing.T, path string, skip func(pattern string) bool) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		s, err := strconv.Unquote(lit.Value)
		if err != nil {
			return true
		}
		if p, ok := strings.CutPrefix(s, "GET "); ok && strings.HasPrefix(p, "/") && !skip(p) && !slices.Contains(out, p) {
			out = append(out, strings.TrimSuffix(p, "{$}"))
		}
		return true
	})
	if len(out) < 3 {
		t.Fatalf("%s: found only the pages %v; did the route table move?", path, out)
	}
	return out
}

// patternRE matches the paths of a ServeMux pattern with wildcards.
func patternRE(pattern string) *regexp.Regexp {
	parts := strings.Split(pattern, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, "{") {
			parts[i] = `[^/?#]+`
		} else {
			parts[i] = regexp.QuoteMeta(p)
		}
	}
	return regexp.MustCompile(`^` + strings.Join(parts, "/") + `$`)
}

// consoleLog collects what a tab's pages report as errors: console.error,
// uncaught exceptions and browser log entries of level error (where a
// Content-Security-Policy violation is reported).
type consoleLog struct {
	mu   sync.Mutex
	errs []string
}

func listenConsole(t *testing.T, ctx context.Context) *consoleLog {
	t.Helper()
	c := &consoleLog{}
	err := chromedp.Listen(ctx, func(ev any) {
		var msg string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type != runtime.ConsoleAPICalledTypeError {
				return
			}
			var args []string
			for _, a := range ev.Args {
				args = append(args, strings.Trim(string(a.Value), `"`)+a.Description)
			}
			msg = "console.error: " + strings.Join(args, " ")
		case *runtime.EventExceptionThrown:
			msg = "exception: " + ev.ExceptionDetails.Text
			if ex := ev.ExceptionDetails.Exception; ex != nil {
				msg += " " + ex.Description
			}
		case *log.EventEntryAdded:
			if ev.Entry.Level != log.EntryLevelError {
				return
			}
			msg = fmt.Sprintf("log (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
		default:
			return
		}
		c.mu.Lock()
		c.errs = append(c.errs, msg)
		c.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// take returns the errors so far and forgets them.
func (c *consoleLog) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.errs
	c.errs = nil
	return e
}

// chartCheck is JavaScript that returns the problems of the page's charts
// (svg.plot), as a list of strings, and how many have data: every chart
// has a visible title (drawn in it or its figure's caption), each text of
// it lies inside its viewBox, a heat map's row labels end before its
// cells, and every line or dot has its legend entry.
const chartCheck = `(() => {
	const problems = [];
	let withData = 0;
	// Of a chart's wide and narrow drawing, the one its box shows.
	for (const box of document.querySelectorAll('.plot-box')) {
		const shown = [...box.querySelectorAll(':scope > svg.plot')].filter(svg => svg.getBoundingClientRect().width > 0);
		if (shown.length !== 1) {
			problems.push('a chart shows ' + shown.length + ' drawings, want 1');
		}
	}
	const charts = [...document.querySelectorAll('svg.plot')].filter(svg => svg.getBoundingClientRect().width > 0);
	charts.forEach((svg, i) => {
		const name = 'chart ' + (i + 1) + ' (' + (svg.querySelector('title')?.textContent || 'untitled') + ')';
		const vb = svg.viewBox.baseVal;
		const title = svg.querySelector('text.title') || svg.closest('figure')?.querySelector('figcaption');
		if (!title || !title.textContent.trim() || title.getBoundingClientRect().width === 0) {
			problems.push(name + ': no visible title');
		}
		const data = svg.querySelectorAll('polyline, circle, rect.bar, rect.heat:not(.none):not(.swatch), rect.band-outer').length;
		if (data > 0) {
			withData++;
		} else if (!svg.querySelector('text.empty')) {
			problems.push(name + ': neither data points nor a note that there are none');
		}
		const cells = [...svg.querySelectorAll('rect.heat:not(.swatch)')].map(r => r.x.baseVal.value);
		const firstCell = cells.length ? Math.min(...cells) : Infinity;
		for (const tx of svg.querySelectorAll('text')) {
			const b = tx.getBBox();
			if (b.x < -0.5 || b.y < -0.5 || b.x + b.width > vb.width + 0.5 || b.y + b.height > vb.height + 0.5) {
				problems.push(name + ': text "' + tx.textContent + '" at ' + [b.x, b.y, b.width, b.height].map(Math.round) +
					' leaves the viewBox ' + vb.width + '×' + vb.height);
			}
			if (tx.classList.contains('label') && cells.length && b.x + b.width > firstCell + 0.5) {
				problems.push(name + ': row label "' + tx.textContent + '" runs under the cells');
			}
		}
		const legend = [...svg.querySelectorAll('text.legend')].map(t => t.textContent)
			.concat([...(svg.closest('figure')?.querySelectorAll('.legend li') || [])].map(li => li.textContent));
		for (const line of svg.querySelectorAll('polyline > title, circle > title')) {
			if (!legend.some(l => l.startsWith(line.textContent))) {
				problems.push(name + ': "' + line.textContent + '" has no legend entry');
			}
		}
	});
	return {charts: charts.length, withData: withData, problems: problems};
})()`

// tooWide is JavaScript that names the first elements reaching past the
// screen's width (%d) inside a parent that does not, with their ancestors,
// right edges and overflow: what widens the page.
const tooWide = `[...document.querySelectorAll('body *')]
	.filter(e => e.getBoundingClientRect().right > %[1]d && !(e.parentElement?.getBoundingClientRect().right > %[1]d))
	.slice(0, 5).map(e => {
		const chain = [];
		for (let x = e; x; x = x.parentElement) {
			chain.push(x.tagName.toLowerCase() + (x.className ? "." + x.className : "") + " " +
				Math.round(x.getBoundingClientRect().right) + "/" + getComputedStyle(x).overflowX);
		}
		return chain.join(" < ");
	})`

type chartReport struct {
	Charts   int      `json:"charts"`
	WithData int      `json:"withData"`
	Problems []string `json:"problems"`
}

// sweep visits pages in a tab and checks each.
type sweep struct {
	b       *tab
	console *consoleLog
	links   map[string]bool // same-origin paths seen on the pages so far
	forms   map[string]bool // "METHOD path" of the forms seen on them
	queries map[string]string
	// headings, if set, checks that each page speaks the language asked
	// for: its <html lang> is that language and, on the pages it lists
	// by path, the <h1> is the heading it gives for the language.
	headings map[string]map[string]string
}

// visit loads path (with its query, if any), checks it and keeps a
// screenshot named name.
func (s *sweep) visit(name, path string, width int64) {
	b := s.b
	b.t.Helper()
	target := path
	if q := s.queries[path]; q != "" {
		target += "?" + q
	}
	ctx, cancel := context.WithTimeout(b.ctx, stepLimit)
	resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(b.base+strings.TrimPrefix(target, "/")))
	cancel()
	if err != nil {
		b.fail("open %s: %v", target, err)
	}
	if resp.Status != 200 || !strings.HasPrefix(resp.MimeType, "text/html") {
		b.fail("open %s: HTTP %d %s, want 200 and a page", target, resp.Status, resp.MimeType)
	}
	// Scripts run and fonts settle before anything is measured.
	b.waitFor("the page loaded", `document.readyState === "complete"`, stepLimit)
	if _, err := saveScreenshot(b.ctx, b.dir, name); err != nil {
		b.t.Fatal(err)
	}
	// A phone's layout viewport widens to what is too wide for it, so the
	// page is measured against the screen's width, not innerWidth.
	if got := read[int64](b, "the page's width", `document.documentElement.scrollWidth`); got > width {
		wide := read[[]string](b, "what is too wide", fmt.Sprintf(tooWide, width))
		b.fail("%s is %d px wide, wider than the %d px screen: %v", target, got, width, wide)
	}
	rep := read[chartReport](b, "the charts", chartCheck)
	if len(rep.Problems) > 0 {
		b.fail("%s, %d px: %s", target, width, strings.Join(rep.Problems, "\n"))
	}
	if rep.Charts > 0 && rep.WithData == 0 {
		b.fail("%s, %d px: none of %d charts has data points", target, width, rep.Charts)
	}
	for _, f := range read[[]string](b, "the forms", `[...document.forms].map(f =>
		f.method.toUpperCase() + " " + new URL(f.getAttribute('action') || location.pathname, location.href).pathname)`) {
		s.forms[f] = true
	}
	for _, h := range read[[]string](b, "the links", `[...document.querySelectorAll('a[href]')]
		.map(a => new URL(a.href, location.href)).filter(u => u.origin === location.origin).map(u => u.pathname)`) {
		s.links[h] = true
	}
	if errs := s.console.take(); len(errs) > 0 {
		b.fail("%s, %d px: the browser reported errors:\n%s", target, width, strings.Join(errs, "\n"))
	}
}

// resolve fills a pattern's wildcards from a link seen on a page.
func (s *sweep) resolve(pattern string) string {
	if !strings.Contains(pattern, "{") {
		return pattern
	}
	re := patternRE(pattern)
	var found []string
	for l := range s.links {
		if re.MatchString(l) {
			found = append(found, l)
		}
	}
	if len(found) == 0 {
		return ""
	}
	slices.Sort(found)
	return found[0]
}

// widths are the screens every page is seen on: a phone and a desktop.
var widths = []int64{360, 1400}

// setScreen emulates a screen width and the language the browser asks
// for.
func (b *tab) setScreen(width int64, lang string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepLimit)
	defer cancel()
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
		Headers: network.Headers{"Accept-Language": lang}}); err != nil {
		b.fail("ask for %s: %v", lang, err)
	}
	opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(1)}
	if width < 600 {
		opts = []chromedp.EmulateViewportOption{chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch}
	}
	b.do(fmt.Sprintf("a %d px screen", width), chromedp.EmulateViewport(width, 900, opts...))
}

// checkLang fails the test unless the page open at path says it is in
// lang and, when heading is not "", has it as its <h1>.
func (s *sweep) checkLang(path, lang, heading string) {
	s.b.t.Helper()
	if got := read[string](s.b, "the page's language", `document.documentElement.lang`); got != lang {
		s.b.fail("%s asked for in %s is in %q", path, lang, got)
	}
	if heading == "" {
		return
	}
	if got := read[string](s.b, "the page's heading", `document.querySelector("h1").textContent`); got != heading {
		s.b.fail("%s in %s is headed %q, want %q", path, lang, got, heading)
	}
}

// sweepPages visits every page of pages in every language and width: the
// patterns without wildcards first, then those whose wildcards links on
// the first ones fill. A pattern no link fills fails the test.
func sweepPages(t *testing.T, s *sweep, prefix string, pages, langs []string) {
	t.Helper()
	var later []string
	order := slices.Clone(pages)
	slices.SortStableFunc(order, func(a, b string) int {
		return strings.Count(a, "{") - strings.Count(b, "{")
	})
	seen := map[string]bool{}
	for _, lang := range langs {
		for _, w := range widths {
			s.b.setScreen(w, lang)
			for _, p := range order {
				path := s.resolve(p)
				if path == "" {
					if !slices.Contains(later, p) {
						later = append(later, p)
					}
					continue
				}
				seen[p] = true
				name := fmt.Sprintf("%s-%s-%d%s", prefix, lang, w, strings.NewReplacer("/", "-", "{", "", "}", "").Replace(strings.TrimSuffix(p, "/")))
				s.visit(name, path, w)
				if s.headings != nil {
					s.checkLang(path, lang, s.headings[p][lang])
				}
			}
		}
	}
	for _, p := range later {
		if !seen[p] {
			t.Errorf("%s: no page linked to %s, so it was not visited (links seen: %d)", prefix, p, len(s.links))
		}
	}
}

// Every page of the dashboard and of the Command Center's local UI, in
// every language they speak, on a phone and a desktop: each loads with
// 200, fits the screen, reports no console error and no Content-Security-
// Policy violation, and each of its charts has a visible title, data or a
// note that there is none, legends for its lines and text that fits. The
// forms of the pages are submitted. A screenshot of each stays in the
// artefact directory. The pages come from the route tables themselves.
func TestEveryPageInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary and a browser")
	}
	t.Parallel()
	ctx := browser(t)
	demo := startDemo(t, buildBinary(t), t.TempDir(), "-speed", "7200", "-poll", "250ms")
	dir := artefactDir(t)
	t.Logf("screenshots in %s", dir)
	b := &tab{t: t, ctx: ctx, dir: dir}
	console := listenConsole(t, ctx)
	// The listener hears what it must: a probe error reaches it.
	b.base = demo.lines["cloud"]
	b.open("/login")
	read[bool](b, "a console probe", `console.error("probe"), true`)
	if err := wait.Until(5*time.Second, 50*time.Millisecond, func() error {
		for _, e := range console.take() {
			if strings.Contains(e, "probe") {
				return nil
			}
		}
		return fmt.Errorf("the console listener heard no probe")
	}); err != nil {
		t.Fatal(err)
	}
	console.take()
	s := &sweep{b: b, console: console, links: map[string]bool{}, forms: map[string]bool{}, queries: map[string]string{}}
	// The login page, before logging in; the code page is seen when two-
	// factor login is on (submitDashboardForms).
	for _, lang := range []string{"en", "de"} {
		for _, w := range widths {
			b.setScreen(w, lang)
			s.visit(fmt.Sprintf("dashboard-%s-%d-login", lang, w), "/login", w)
		}
	}
	b.setScreen(1400, "en")
	b.logIn(demo)
	console.take()

	// The printers' clock runs ahead: the KPI and usage pages look at the
	// month from today, where their jobs are.
	today := time.Now().UTC()
	period := url.Values{"period": {"custom"}, "from": {today.Format(time.DateOnly)}, "to": {today.AddDate(0, 1, 0).Format(time.DateOnly)}}.Encode()
	s.queries = map[string]string{"/kpis": period, "/usage": period}

	dashboard := getPages(t, "../internal/dashboard/handler.go", func(p string) bool {
		return strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/static/") || p == "/healthz" ||
			strings.HasSuffix(p, ".csv") || strings.HasSuffix(p, "/result") || strings.HasPrefix(p, "/login") || strings.HasSuffix(p, "/export") ||
			strings.HasPrefix(p, "/admin/airgap/") || strings.HasSuffix(p, ".json") // downloads
	})
	// Jobs finish and get their pages within a minute of the demo's
	// start; the KPI page has a plot once one did.
	b.openUntil("a finished job", "/jobs", `document.querySelector('table.list tbody tr a[href*="/jobs/"]')`, 90*time.Second)
	b.openUntil("a KPI plot", "/kpis?"+period, `document.querySelector('svg.plot polyline, svg.plot circle, svg.plot rect.bar')`, 90*time.Second)
	console.take()
	sweepPages(t, s, "dashboard", dashboard, []string{"en", "de"})
	b.setScreen(1400, "en")
	submitted := submitDashboardForms(t, s, demo)
	checkFormsSubmitted(t, "../internal/dashboard/handler.go", s.forms, submitted, []string{
		// TestDashboardJourneyInBrowser submits these.
		"POST /login", "POST /account", "POST /account/password", "POST /account/notifications", "POST /alerts/{id}/ack",
		// TestGrantsInBrowser submits these.
		"POST /admin/grants", "POST /admin/grants/{id}/revoke", "POST /customers/{id}/open", "POST /customers/leave",
		// TestDataRightsInBrowser submits these.
		"GET /admin/audit", "POST /admin/data/delete",
		// TestRemoteDiagnosticsInBrowser submits this.
		"POST /printers/{id}/diagnostics",
		// TestAirgapInBrowser submits this.
		"POST /admin/airgap/bundles",
	})
	s.forms = map[string]bool{}

	// The Command Center's local UI speaks the browser's language.
	s.b.base = demo.lines["commandcenter"]
	s.headings = map[string]map[string]string{
		"/":                {"en": "Printers", "de": "Drucker"},
		"/jobs":            {"en": "Jobs", "de": "Druckaufträge"},
		"/uploads":         {"en": "What was sent", "de": "Was gesendet wurde"},
		"/selftest":        {"en": "Connectivity self-test", "de": "Verbindungs-Selbsttest"},
		"/updates":         {"en": "Updates", "de": "Updates"},
		"/consumables":     {"en": "Consumables", "de": "Verbrauchsmaterial"},
		"/printers/manage": {"en": "Manage printers", "de": "Drucker verwalten"},
	}
	local := getPages(t, "../internal/commandcenter/localui/handler.go", func(p string) bool {
		return strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/static/") || p == "/healthz" || p == "/metrics" ||
			strings.HasSuffix(p, "/result") // a download
	})
	b.openUntil("an upload", "/uploads", `document.querySelector('a[href^="/uploads/"]')`, 90*time.Second)
	console.take()
	sweepPages(t, s, "commandcenter", local, []string{"en", "de"})
	checkFormsSubmitted(t, "../internal/commandcenter/localui/handler.go", s.forms, nil, []string{
		// TestCommandCenterUpdatesInBrowser submits these.
		"POST /updates/policy", "POST /updates/{target}/approve", "POST /updates/{target}/withdraw",
		// TestRemoteDiagnosticsInBrowser submits these.
		"POST /diagnostics/{id}/approve", "POST /diagnostics/{id}/refuse",
		// TestCommandCenterManagePrintersInBrowser submits these.
		"POST /printers/probe", "POST /printers/pair", "POST /printers/discover", "POST /printers/pending/dismiss",
		"POST /printers/{id}/rename", "POST /printers/{id}/move", "POST /printers/{id}/retire", "POST /printers/{id}/reactivate",
	})
}

// checkFormsSubmitted fails the test for every form seen whose route
// (from the route table at path) is neither in submitted nor in
// elsewhere: a new form must be submitted by some browser test.
func checkFormsSubmitted(t *testing.T, path string, seen map[string]bool, submitted, elsewhere []string) {
	t.Helper()
	var patterns []string
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	ast.Inspect(f, func(n ast.Node) bool {
		if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			if v, err := strconv.Unquote(lit.Value); err == nil && (strings.HasPrefix(v, "GET /") || strings.HasPrefix(v, "POST /")) {
				patterns = append(patterns, v)
			}
		}
		return true
	})
	done := append(slices.Clone(submitted), elsewhere...)
	for form := range seen {
		method, p, _ := strings.Cut(form, " ")
		var route string
		for _, pt := range patterns {
			m, pp, _ := strings.Cut(pt, " ")
			if m == method && patternRE(strings.TrimSuffix(pp, "{$}")).MatchString(p) {
				route = pt
				break
			}
		}
		switch {
		case route == "":
			t.Errorf("a form sends %s, which no route serves", form)
		case !slices.Contains(done, route):
			t.Errorf("the form of %s (%s) is submitted by no browser test", route, form)
		}
	}
}

// submitDashboardForms submits each form of the dashboard that the
// journey does not, and returns their routes. Each must lead to a page
// that says it worked.
func submitDashboardForms(t *testing.T, s *sweep, demo *demoProcess) []string {
	t.Helper()
	b := s.b
	var done []string
	ok := func(route string) { done = append(done, route) }

	// Every filter form, as it stands.
	for _, page := range []string{"/", "/jobs", "/alerts", "/kpis", "/benchmark", "/usage", s.resolve("/printers/{id}")} {
		b.open(page)
		b.submit(`form[method="get"] button[type="submit"]`)
	}
	ok("GET /{$}")
	ok("GET /jobs")
	ok("GET /alerts")
	ok("GET /kpis")
	ok("GET /benchmark")
	ok("GET /usage")
	ok("GET /printers/{id}")

	// An API token, created and revoked.
	b.open("/tokens")
	b.fill("#token-name", "sweep token")
	b.submit(`form[action="/tokens"] button[type="submit"]`)
	b.waitFor("the new token", `document.querySelector('[data-api-token]')?.value.length > 20`, stepLimit)
	b.submit(`form[action$="/revoke"] button`)
	b.waitFor("the token revoked", `!document.querySelector('form[action$="/revoke"]')`, stepLimit)
	ok("POST /tokens")
	ok("POST /tokens/{id}/revoke")

	// A site and an enrolment token for it.
	b.open("/admin/sites")
	b.fill("#site-name", "Second plant")
	b.submit(`form[action="/admin/sites"] button[type="submit"]`)
	b.waitFor("the site created", `document.querySelector('p.notice')?.textContent.includes("Second plant")`, stepLimit)
	ok("POST /admin/sites")
	b.open("/admin/enrolment")
	b.submit(`form[action="/admin/enrolment"] button[type="submit"]`)
	b.waitFor("the enrolment token", `document.querySelector('input.token, code, [data-enrolment-token]')`, stepLimit)
	ok("POST /admin/enrolment")

	// A user: added, given access, a new password, removed.
	b.open("/admin/users")
	b.fill("#new-name", "sweep-user")
	b.submit(`form[action="/admin/users"] button[type="submit"]`)
	b.waitFor("the first password", `document.querySelector('[data-new-password]')?.value.length > 8`, stepLimit)
	ok("POST /admin/users")
	userForm := func(verb string) string {
		action := read[string](b, "the new user's "+verb+" form", `[...document.querySelectorAll('form[action$="/`+verb+`"]')]
			.find(f => f.closest('tr, li, section, article').textContent.includes("sweep-user"))?.getAttribute('action') || ""`)
		if action == "" {
			b.fail("no %s form for the new user", verb)
		}
		return `form[action="` + action + `"] button[type="submit"]`
	}
	for _, verb := range []string{"access", "password", "remove"} {
		b.submit(userForm(verb))
		ok("POST /admin/users/{id}/" + verb)
	}
	b.waitFor("the user removed", `!document.body.textContent.includes("sweep-user") || !document.querySelector('form[action$="/remove"]')`, stepLimit)

	// A custom rule, deleted; a built-in rule muted and unmuted.
	b.open("/alerts/rules")
	b.choose("#r-op", "<=")
	b.fill("#r-threshold", "1")
	b.submit(`form[action="/alerts/rules"] button[type="submit"]`)
	b.waitFor("the new rule", `document.querySelector('form[action$="/delete"]')`, stepLimit)
	ok("POST /alerts/rules")
	b.submit(`form[action$="/delete"] button`)
	ok("POST /alerts/rules/{id}/delete")
	mute := read[string](b, "a built-in rule's mute form", `document.querySelector('form[action$="/mute"]').getAttribute('action')`)
	b.submit(`form[action="` + mute + `"] button`)
	b.submit(`form[action="` + mute + `"] button`)
	ok("POST /alerts/rules/{rule}/mute")

	// A shared mailbox: added, tested, deleted.
	b.open("/admin/notifications")
	b.do("choose e-mail", chromedp.Click(chromedp.CSS(`input[name="kind"][value="email"]`)))
	b.fill("#channel-name", "Shift leads")
	b.fill("#channel-target", "shift@fusionfleet.test")
	b.submit(`form[action="/admin/notifications"] button[type="submit"]`)
	b.waitFor("the channel", `document.querySelector('form[action$="/test"]')`, stepLimit)
	ok("POST /admin/notifications")
	b.submit(`form[action$="/test"] button`)
	b.waitFor("the test queued", `document.querySelector('p.notice[role="status"]')`, stepLimit)
	ok("POST /admin/notifications/{id}/test")
	b.submit(`form[action$="/delete"] button`)
	b.waitFor("the channel deleted", `!document.querySelector('form[action$="/test"]')`, stepLimit)
	ok("POST /admin/notifications/{id}/delete")

	// Two-factor login, on with a code of the key shown, and off again.
	b.open("/account/two-factor")
	secret := read[string](b, "the two-factor key", `document.querySelector('[data-totp-secret]').value`)
	code, err := totp.GenerateCodeCustom(secret, time.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	b.fill("#code", code)
	b.submit(`form[action="/account/two-factor"] button[type="submit"]`)
	b.waitFor("the recovery codes", `document.querySelector('[data-recovery-codes]')`, stepLimit)
	ok("POST /account/two-factor")
	recovery := read[string](b, "a recovery code", `document.querySelector('[data-recovery-codes] code').textContent`)

	// Out, and in again: the password leads to the code page, seen in
	// each language and width, and a recovery code opens the dashboard.
	b.submit(`form[action="/logout"] button`)
	b.waitFor("the login page", `document.querySelector('#password')`, stepLimit)
	ok("POST /logout")
	user, password, _ := strings.Cut(demo.lines["login"], " ")
	b.fill("#name", user)
	b.fill("#password", password)
	b.submit(`form[action="/login"] button[type="submit"]`)
	b.waitFor("the code page", `location.pathname === "/login/code" && document.querySelector('#code')`, stepLimit)
	for _, lang := range []string{"en", "de"} {
		for _, w := range widths {
			b.setScreen(w, lang)
			s.visit(fmt.Sprintf("dashboard-%s-%d-login-code", lang, w), "/login/code", w)
		}
	}
	b.setScreen(1400, "en")
	b.fill("#code", recovery)
	b.submit(`form[action="/login/code"] button[type="submit"]`)
	b.waitFor("the printers page", `document.querySelector('#printers')`, stepLimit)
	ok("POST /login/code")

	b.open("/account/two-factor")
	b.fill("#password", password)
	b.submit(`form[action="/account/two-factor/disable"] button[type="submit"]`)
	b.waitFor("two-factor login off", `document.querySelector('[data-totp-secret]')`, stepLimit)
	ok("POST /account/two-factor/disable")

	// An alert assigned to me, once the fleet has one.
	b.openUntil("an alert to assign", "/alerts", `document.querySelector('form[action$="/assign"] button')`, 90*time.Second)
	b.submit(`form[action$="/assign"] button`)
	ok("POST /alerts/{id}/assign")

	return done
}
