package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
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
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1200, 900),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	return ctx
}

// screenshot saves a full-page PNG under $FUSIONFLEET_ARTIFACTS (or the
// test's temporary directory) for a person to look at.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := os.Getenv("FUSIONFLEET_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, name+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", file)
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
	deadline := time.Now().Add(60 * time.Second)
	for {
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
		if len(seen) == 2 && changed == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60s in the browser: states per card %v; want 2 cards, each changing", seen)
		}
		time.Sleep(100 * time.Millisecond)
	}
	screenshot(t, tctx, "my-3d-printers")
}
