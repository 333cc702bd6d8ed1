package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// A remote diagnostic, clicked as people click it: an operator requests a
// self-test and a snapshot of a printer in the dashboard; the site's
// operator approves the one and refuses the other in the Command Center's
// local UI, where the requests arrived with the answers to its uploads;
// the dashboard shows the self-test done, with its result to download,
// and the snapshot refused.
func TestRemoteDiagnosticsInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole system and a browser")
	}
	t.Parallel()
	ctx := browser(t)
	// Requests expire a day after on the cloud's clock: at the demo's
	// default speed that is 24 minutes, time enough for the clicks.
	demo := startDemo(t, buildBinary(t), t.TempDir(), "-speed", "60")
	defer demo.stop(t)
	dir := artefactDir(t)

	cloud := &tab{t: t, ctx: ctx, dir: dir}
	cloud.logIn(demo)
	cloud.openUntil("a printer", "/", `document.querySelector('a[href^="/printers/"]')`, 60*time.Second)
	printerPath := read[string](cloud, "a printer's link", `document.querySelector('a[href^="/printers/"]').getAttribute('href')`)
	cloud.open(printerPath)
	cloud.load("open the diagnostics", chromedp.Click(chromedp.CSS("#diagnostics-link")))
	request := func(kind string) string {
		t.Helper()
		before := read[int](cloud, "the requests", `document.querySelectorAll('#diagnostics tr[data-id]').length`)
		cloud.choose("#diag-kind", kind)
		cloud.submit(`#request-diagnostic button[type=submit]`)
		cloud.waitFor("the new request listed", `document.querySelectorAll('#diagnostics tr[data-id]').length === `+strconv.Itoa(before+1), stepLimit)
		// Newest first.
		return read[string](cloud, "the new request's ID", `document.querySelector('#diagnostics tr[data-id]').dataset.id`)
	}
	selftest := request("selftest")
	snapshot := request("snapshot")
	cloud.shot("diagnostics-requested")
	diagPage := strings.TrimPrefix(printerPath, "/") + "/diagnostics"

	site := &tab{t: t, ctx: ctx, dir: dir, base: demo.lines["commandcenter"]}
	row := func(id string) string { return `tr[id="` + id + `"] ` }
	site.openUntil("the requests at the site", "/diagnostics",
		`document.querySelector('`+row(selftest)+`form[action$="/approve"] button') && document.querySelector('`+row(snapshot)+`form[action$="/refuse"] button')`, 90*time.Second)
	site.submit(row(selftest) + `form[action$="/approve"] button`)
	site.waitFor("the approval", `document.querySelector('p.notice')?.textContent.includes('Diagnostic approved')`, stepLimit)
	site.submit(row(snapshot) + `form[action$="/refuse"] button`)
	site.waitFor("the refusal", `document.querySelector('p.notice')?.textContent.includes('Diagnostic refused')`, stepLimit)
	site.openUntil("the self-test sent", "/diagnostics", `document.querySelector('`+row(selftest)+`a[href$="/result"]')`, 90*time.Second)
	site.shot("commandcenter-diagnostics")

	result := `tr[data-id="` + selftest + `"] a[href$="/result"]`
	cloud.openUntil("the self-test's result", diagPage, `document.querySelector('`+result+`')`, 90*time.Second)
	cloud.waitFor("the snapshot refused", `document.querySelector('tr[data-id="`+snapshot+`"]').dataset.state === 'refused'`, stepLimit)
	got := read[string](cloud, "the download", `(() => { const x = new XMLHttpRequest(); x.open('GET', document.querySelector('`+result+`').href, false); x.send(); return x.status + ' ' + x.responseText; })()`)
	if !strings.HasPrefix(got, "200 ") || !strings.Contains(got, `"selftest"`) || !strings.Contains(got, `"checks"`) {
		cloud.fail("the result downloads as %.300q", got)
	}
	cloud.shot("diagnostics-done")
}
