package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// A customer's admin gives a service provider access in the browser, the
// provider's engineer (in a browser context of its own, as on another
// computer) opens the customer and sees its printer, and once the admin
// revokes the access the engineer's next page is refused. The provider
// is made with the operator's "org create" while the cloud runs.
func TestGrantsInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary and a browser")
	}
	t.Parallel()
	ctx := browser(t)
	bin, data := buildBinary(t), t.TempDir()
	demo := startDemo(t, bin, data)
	out, err := exec.Command(bin, "org", "create", "-data", filepath.Join(data, "cloud"), "-name", "Fixers Ltd", "-admin", "fixer").CombinedOutput()
	m := regexp.MustCompile(`org: (org_[0-9a-f]+) \(service_provider\)\nlogin: fixer (\S+)\n`).FindStringSubmatch(string(out))
	if err != nil || m == nil {
		t.Fatalf("org create: %v\n%s", err, out)
	}
	provider, password := m[1], m[2]
	dir := artefactDir(t)

	// The customer's admin gives the provider access to every site.
	admin := &tab{t: t, ctx: ctx, dir: dir}
	admin.logIn(demo)
	admin.open("/admin/grants")
	admin.fill("#grant-provider", provider)
	admin.submit(`#grant-form button[type="submit"]`)
	admin.waitFor("the access listed as active", `document.querySelector('tr[data-grant-id] [data-grant-state]')?.textContent.trim() === "active now"`, stepLimit)
	grant := read[string](admin, "the grant's ID", `document.querySelector('tr[data-grant-id]').dataset.grantId`)
	admin.shot("grants-given")

	// The provider's engineer, in a browser context of its own.
	pctx, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	defer cancel()
	if err := chromedp.Do(pctx); err != nil {
		t.Fatal(err)
	}
	eng := &tab{t: t, ctx: pctx, dir: dir, base: admin.base}
	eng.open("/login")
	eng.fill("#name", "fixer")
	eng.fill("#password", password)
	eng.load("log in as the provider", chromedp.Submit(chromedp.CSS("#password")))
	eng.open("/customers")
	eng.submit(`form[action="/customers/` + grant + `/open"] button`)
	eng.waitFor("the customer's printers", `document.querySelector('[data-acting]')?.textContent.includes("Demo Print Shop") &&
		document.querySelectorAll('#printers [data-printer-id]').length === 2`, 30*time.Second)
	if read[bool](eng, "the admin links", `!!document.querySelector('nav a[href="/admin/users"], nav a[href="/jobs"]')`) {
		eng.fail("acting for a customer, the navigation offers pages the grant does not open")
	}
	eng.submit(`#printers [data-printer-id] a[href^="/printers/"]`)
	eng.waitFor("the printer's page under the grant", `document.querySelector('[data-acting]') && location.pathname.startsWith("/printers/")`, stepLimit)
	eng.shot("provider-printer")
	// On a phone, in German, the pages under the grant fit and say whose
	// data they show.
	eng.setScreen(360, "de")
	for _, path := range []string{"/", "/alerts", "/kpis", "/customers"} {
		eng.open(path)
		if w := read[int64](eng, "the page's width", `document.documentElement.scrollWidth`); w > 360 {
			eng.fail("%s under the grant is %d px wide on a 360 px screen", path, w)
		}
		if path != "/customers" && !read[bool](eng, "the German banner", `document.querySelector('[data-acting]')?.textContent.includes("Sie handeln für den Kunden")`) {
			eng.fail("%s under the grant lacks the German banner", path)
		}
	}
	eng.shot("provider-customers-de-360")
	eng.setScreen(1400, "en")
	// Leaving the customer, and choosing it again.
	eng.open("/customers")
	eng.submit(`form[action="/customers/leave"] button`)
	eng.open("/")
	if read[bool](eng, "the banner", `!!document.querySelector('[data-acting]')`) {
		eng.fail("still acting for the customer after leaving it")
	}
	eng.open("/customers")
	eng.submit(`form[action="/customers/` + grant + `/open"] button`)
	eng.waitFor("the customer again", `!!document.querySelector('[data-acting]')`, stepLimit)
	// A page without a live stream: the printers page's stream would
	// notice the revocation by itself and forget the choice before the
	// check below.
	eng.open("/kpis")

	// The admin revokes; the engineer's next page is refused.
	admin.submit(`form[action="/admin/grants/` + grant + `/revoke"] button`)
	admin.waitFor("the access revoked", `document.querySelector('tr[data-grant-id] [data-grant-state]')?.textContent.trim() === "revoked"`, stepLimit)
	tctx, cancelNav := context.WithTimeout(pctx, stepLimit)
	defer cancelNav()
	resp, err := chromedp.RunResponse(tctx, chromedp.Navigate(eng.base))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 403 {
		eng.fail("the printers page after the revocation: HTTP %d, want 403", resp.Status)
	}
	if !read[bool](eng, "the refusal", `document.body.textContent.includes("has ended")`) {
		eng.fail("the refusal does not say the access ended")
	}
	// The choice is forgotten: the engineer's own, empty, fleet.
	eng.open("/")
	eng.waitFor("the provider's own empty fleet", `!document.querySelector('[data-acting]') && document.querySelectorAll('#printers [data-printer-id]').length === 0`, stepLimit)
}
