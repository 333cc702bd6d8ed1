package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDataRightsInBrowser drives the audit log and the organisation's
// data in Chromium: the audit log shows the login and verifies, its
// filter form narrows it; the export runs with its progress bar to the
// end and is in the log; a deletion with a wrong name is refused, one
// with the organisation's name deletes it, and its admin can no longer
// log in.
func TestDataRightsInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary and a browser")
	}
	t.Parallel()
	ctx := browser(t)
	demo := startDemo(t, buildBinary(t), t.TempDir(), "-speed", "7200", "-poll", "250ms")
	b := &tab{t: t, ctx: ctx, dir: artefactDir(t)}
	user := b.logIn(demo)

	// The audit log: the login is in it, and the chain verifies.
	b.open("/admin/audit")
	b.waitFor("the login in the audit log", `!!document.querySelector('tr[data-action="login"]')`, stepLimit)
	b.waitFor("the chain verified", `!!document.querySelector('[data-chain="verified"]')`, stepLimit)
	// An admin's change, then the filter narrows to logins.
	b.open("/admin/sites")
	b.fill("#site-name", "Audited plant")
	b.submit(`form[action="/admin/sites"] button[type="submit"]`)
	b.open("/admin/audit")
	b.waitFor("the admin change in the log", `!!document.querySelector('tr[data-action="admin"]')`, stepLimit)
	b.choose("#a-action", "login")
	b.fill("#a-actor", user)
	b.submit(`form[action="/admin/audit"] button[type="submit"]`)
	b.waitFor("only logins", `location.search.includes("action=login") &&
		document.querySelectorAll('tr[data-action]').length > 0 &&
		[...document.querySelectorAll('tr[data-action]')].every(r => r.dataset.action === "login")`, stepLimit)

	// The export, with its progress bar to the end.
	b.open("/admin/data")
	rows := read[int](b, "the rows to export", `parseInt(document.querySelector('#export-link').dataset.exportRows, 10)`)
	if rows < 10 {
		t.Errorf("the data page counts %d rows to export", rows)
	}
	b.do("start the export", chromedp.Click(chromedp.CSS("#export-link")))
	b.waitFor("the export done", `(() => { const p = document.querySelector('#export-progress');
		return !p.hidden && p.dataset.state === "done" && p.value === p.max; })()`, 60*time.Second)
	if s := read[string](b, "the export's status", `document.querySelector('#export-status').textContent`); !strings.Contains(s, "complete") {
		t.Errorf("export status %q", s)
	}
	b.open("/admin/audit?action=export")
	b.waitFor("the export in the audit log", `!!document.querySelector('tr[data-action="export"]')`, stepLimit)

	// Deletion: refused without the exact name, done with it.
	b.open("/admin/data")
	b.fill("#confirm-name", "not the name")
	// The refusal is a 400 with the form again, which submit would take
	// for a failure.
	b.do("submit a wrong name", chromedp.Click(chromedp.CSS(`form[action="/admin/data/delete"] button[type="submit"]`)))
	b.waitFor("the refusal", `location.pathname === "/admin/data/delete" && document.readyState === "complete" &&
		!!document.querySelector('p.message[role="alert"]') && !!document.querySelector('#confirm-name')`, stepLimit)
	name := read[string](b, "the organisation's name", `document.querySelector('#confirm-name').dataset.orgName`)
	b.fill("#confirm-name", name)
	b.waitFor("the name typed", `document.querySelector('#confirm-name').value === `+jsString(name), stepLimit)
	b.submit(`form[action="/admin/data/delete"] button[type="submit"]`)
	b.waitFor("the login page", `location.pathname === "/login" && !!document.querySelector('#password')`, stepLimit)
	_, password, _ := strings.Cut(demo.lines["login"], " ")
	b.fill("#name", user)
	b.fill("#password", password)
	b.do("log in again", chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`))) // a 401
	b.waitFor("the login refused", `location.pathname === "/login" && !!document.querySelector('p.message[role="alert"]')`, stepLimit)
}
