package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestAirgapInBrowser drives the air-gapped exchange with the real binary
// and Chromium: the site imports the cloud's public key (downloaded from
// the dashboard) and exports its outbox; an administrator uploads the
// bundle in the dashboard (imported, then imported again changing
// nothing, a damaged one refused with the reason); the acknowledgement
// downloads from the result and the site imports it.
func TestAirgapInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary and a browser")
	}
	t.Parallel()
	ctx := browser(t)
	bin := buildBinary(t)
	data := t.TempDir()
	demo := startDemo(t, bin, data)
	b := &tab{t: t, ctx: ctx, dir: artefactDir(t)}
	b.logIn(demo)

	// The key, as an administrator downloads it for the site.
	b.open("/admin/airgap")
	key := read[string](b, "the public key file", `(() => { const x = new XMLHttpRequest();
		x.open('GET', '/admin/airgap/key', false); x.send(); return x.status === 200 ? x.responseText : ''; })()`)
	if !strings.Contains(key, "age-recipient: age1") {
		t.Fatalf("key file %q", key)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "cloud-key.txt")
	if err := os.WriteFile(keyFile, []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	ccData := filepath.Join(data, "commandcenter")
	fusionfleet(t, bin, "commandcenter", "import", "-data", ccData, keyFile)
	bundle := filepath.Join(dir, "site.bundle")
	out := fusionfleet(t, bin, "commandcenter", "export", "-data", ccData, "-out", bundle)
	if !strings.Contains(out, "bundle 1 of gateway") {
		t.Errorf("export said %q", out)
	}

	// The upload, clicked; then again.
	for i, want := range []string{`data-already="false"`, `data-already="true"`} {
		b.open("/admin/airgap")
		b.do("choose the bundle", chromedp.SetUploadFiles("#airgap-bundle", []string{bundle}))
		b.submit(`#airgap-upload button[type="submit"]`)
		b.waitFor("the import's result", `!!document.querySelector('#airgap-result') && document.querySelector('#airgap-result').outerHTML.includes(`+jsString(want)+`)`, stepLimit)
		if i == 0 {
			b.shot("airgap-imported")
		}
	}
	ack := read[string](b, "the acknowledgement", `(() => { const x = new XMLHttpRequest();
		x.open('GET', document.querySelector('#airgap-ack-link').href, false); x.send(); return x.status === 200 ? x.responseText : ''; })()`)
	ackFile := filepath.Join(dir, "ack.json")
	if err := os.WriteFile(ackFile, []byte(ack), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := fusionfleet(t, bin, "commandcenter", "import", "-data", ccData, ackFile); !strings.Contains(out, "imported the acknowledgement") {
		t.Errorf("import of the acknowledgement said %q", out)
	}

	// A damaged bundle is refused with the reason; the page says so.
	raw, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)-3] ^= 1
	damaged := filepath.Join(dir, "damaged.bundle")
	if err := os.WriteFile(damaged, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	b.open("/admin/airgap")
	b.do("choose the damaged bundle", chromedp.SetUploadFiles("#airgap-bundle", []string{damaged}))
	b.do("submit it", chromedp.Click(chromedp.CSS(`#airgap-upload button[type="submit"]`))) // a 422
	b.waitFor("the refusal", `location.pathname === "/admin/airgap/bundles" && document.readyState === "complete" &&
		(document.querySelector('#airgap-refused') || {textContent: ''}).textContent.includes("damaged")`, stepLimit)
}

// fusionfleet runs the binary and returns its standard output, failing
// the test when it fails.
func fusionfleet(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("fusionfleet %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}
