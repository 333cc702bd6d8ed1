package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fusionfleet/fusionfleet/internal/wait"
)

// The README's release flow, clicked as a site's operator clicks it: a
// firmware is released, the Command Center's Updates page lists it, the
// operator saves the update policy and approves the release in Chromium,
// and the site's printers of that model install it. Go's HTTP client
// ignores the page's Content-Security-Policy; Chromium does not, so this
// is what fails when the policy blocks the forms.
func TestCommandCenterUpdatesInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole system and a browser")
	}
	t.Parallel()
	ctx := browser(t)
	bin := buildBinary(t)
	// Printers install only between jobs: a fast clock keeps the jobs short.
	demo := startDemo(t, bin, t.TempDir(), "-speed", "3000")
	defer demo.stop(t)
	repo, _, _ := strings.Cut(demo.lines["updates"], " ")
	if repo == "" {
		t.Fatalf("demo printed no updates line: %v", demo.lines)
	}
	fw := filepath.Join(t.TempDir(), "ff4200-4.3.0.bin")
	if err := os.WriteFile(fw, []byte(strings.Repeat("firmware image 4.3.0\n", 2000)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "release", "add-target", "-dir", repo, "-kind", "firmware", "-version", "4.3.0",
		"-models", "FF-4200", "-notes", "faster warm-up", fw).CombinedOutput()
	if err != nil {
		t.Fatalf("release add-target: %v\n%s", err, out)
	}

	b := &tab{t: t, ctx: ctx, base: demo.lines["commandcenter"], dir: artefactDir(t)}
	const approve = `form[action$="/approve"] button`
	b.openUntil("release to approve", "/updates", `document.querySelector('`+approve+`')`, 90*time.Second)

	b.do("choose approval mode", chromedp.Click(chromedp.CSS(`input[name=mode][value=approve]`)))
	b.submit(`form.policy button[type=submit]`)
	b.waitFor("the policy saved", `document.querySelector('p.notice')?.textContent.includes('Update policy saved')`, stepLimit)
	if !read[bool](b, "the chosen mode", `document.querySelector('input[name=mode][value=approve]').checked`) {
		b.fail("the saved policy does not show the approval mode")
	}

	b.submit(approve)
	b.waitFor("the release approved", `document.querySelector('p.notice')?.textContent.includes('Release approved')`, stepLimit)
	b.shot("commandcenter-updates-approved")

	// The demo's FF-4200 printers install it, each once it is idle.
	firmware := func() string {
		resp, err := http.Get(demo.lines["commandcenter"] + "api/printers")
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		var snap struct {
			Printers []struct {
				Identity *struct {
					Model    string `json:"model"`
					Firmware string `json:"firmware"`
				} `json:"identity"`
			} `json:"printers"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
			return err.Error()
		}
		var got []string
		for _, p := range snap.Printers {
			if p.Identity != nil && p.Identity.Model == "FF-4200" {
				got = append(got, p.Identity.Firmware)
			}
		}
		return strings.Join(got, " ")
	}
	var got string
	if !wait.Holds(150*time.Second, func() bool {
		got = firmware()
		return got != "" && strings.Trim(strings.ReplaceAll(got, "4.3.0", ""), " ") == ""
	}) {
		t.Fatalf("the FF-4200 printers run %q after the approval, want 4.3.0 on each", got)
	}

	b.submit(`form[action$="/withdraw"] button`)
	b.waitFor("the approval withdrawn", `document.querySelector('p.notice')?.textContent.includes('Approval withdrawn')`, stepLimit)
}
