package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/wait"
)

// reNewPrinter reads a printer process's address and fingerprint.
var reNewPrinter = regexp.MustCompile(`^printer: https://(\S+) fingerprint (\S+)`)

// ccPrinter is a printer as GET /api/printers shows it.
type ccPrinter struct {
	ID          int64  `json:"id"`
	Address     string `json:"address"`
	Fingerprint string `json:"fingerprint"`
	State       string `json:"collection_state"`
	DisplayName string `json:"display_name"`
	RetiredAt   string `json:"retired_at"`
	LastSeen    string `json:"last_seen"`
}

// ccSnapshot reads GET /api/printers of the Command Center at base.
func ccSnapshot(base string) (fp string, ps []ccPrinter, err error) {
	resp, err := http.Get(base + "api/printers")
	if err != nil {
		return "", nil, err
	}
	defer resp.Body.Close()
	var snap struct {
		Fingerprint string      `json:"fingerprint"`
		Printers    []ccPrinter `json:"printers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
		return "", nil, err
	}
	return snap.Fingerprint, snap.Printers, nil
}

// A site's operator adds a printer to a running Command Center in
// Chromium, as the local UI offers: reads its certificate, compares the
// fingerprint, pins it, and the Command Center polls it without a
// restart; then renames it and retires it, and the Command Center stops
// polling it while its history stays.
func TestCommandCenterManagePrintersInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole system and a browser")
	}
	t.Parallel()
	ctx := browser(t)
	bin := buildBinary(t)
	demo := startDemo(t, bin, t.TempDir())
	defer demo.stop(t)
	base := demo.lines["commandcenter"]
	ccFP, before, err := ccSnapshot(base)
	if err != nil || ccFP == "" {
		t.Fatalf("the Command Center's fingerprint: %q, %v", ccFP, err)
	}
	// A new printer on the LAN, which pairs the Command Center at its panel.
	newPrinter := startProc(t, bin, "printer", "-listen", "127.0.0.1:0", "-data", filepath.Join(t.TempDir(), "printer"),
		"-name", "3DP neu", "-log-level", "error", "-pair", ccFP)
	m := newPrinter.waitLine(t, reNewPrinter)
	addr, pin := m[1], m[2]

	b := &tab{t: t, ctx: ctx, base: base, dir: artefactDir(t)}
	b.open("/printers/manage")
	b.fill("#pair-address", addr)
	b.submit("#probe")
	b.waitFor("the fingerprint to confirm", `document.querySelector('#confirm-fp')?.textContent === `+jsString(pin), stepLimit)
	b.shot("commandcenter-pair-confirm")
	b.submit("#confirm-pin")
	b.waitFor("the printer paired", `document.querySelector('p.notice')?.textContent.includes('Printer paired')`, stepLimit)

	// Polled without a restart.
	var added ccPrinter
	if !wait.Holds(60*time.Second, func() bool {
		_, ps, err := ccSnapshot(base)
		if err != nil {
			return false
		}
		for _, p := range ps {
			if p.Address == addr {
				added = p
			}
		}
		return added.State == "ok" && added.LastSeen != ""
	}) {
		t.Fatalf("the printer paired in the browser is not polled: %+v", added)
	}
	if added.Fingerprint != pin || len(before)+1 != func() int { _, ps, _ := ccSnapshot(base); return len(ps) }() {
		t.Errorf("paired printer %+v, want pin %s and one printer more than %d", added, pin, len(before))
	}

	// Rename it.
	b.open("/printers/manage")
	b.fill(fmt.Sprintf("#name-%d", added.ID), "Halle 2 links")
	b.submit(fmt.Sprintf(`form[action="/printers/%d/rename"] button`, added.ID))
	b.waitFor("the printer renamed", `document.querySelector('p.notice')?.textContent.includes('Printer renamed')`, stepLimit)
	if got := read[string](b, "the printer's name", fmt.Sprintf(`document.querySelector('#p%d').textContent`, added.ID)); got != "Halle 2 links" {
		b.fail("renamed printer shows %q", got)
	}

	// Retire it: no longer polled, still listed with its history.
	b.submit(fmt.Sprintf(`form[action="/printers/%d/retire"] button`, added.ID))
	b.waitFor("the printer retired", `document.querySelector('p.notice')?.textContent.includes('Printer retired')`, stepLimit)
	b.waitFor("the re-activate button", fmt.Sprintf(`document.querySelector('form[action="/printers/%d/reactivate"] button')`, added.ID), stepLimit)
	b.shot("commandcenter-printer-retired")
	// The poll in flight when it was retired may still land; after that,
	// its last_seen stands still while the demo's printers are polled on.
	lastSeen := func() (retired ccPrinter, other string) {
		_, ps, err := ccSnapshot(base)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			switch {
			case p.ID == added.ID:
				retired = p
			case other == "" && p.RetiredAt == "":
				other = p.LastSeen
			}
		}
		return retired, other
	}
	otherPolled := func(times int) {
		t.Helper()
		for range times {
			_, from := lastSeen()
			if !wait.Holds(30*time.Second, func() bool { _, now := lastSeen(); return now != from }) {
				t.Fatal("the demo's printers are not polled any more")
			}
		}
	}
	otherPolled(2)
	first, _ := lastSeen()
	otherPolled(3)
	if again, _ := lastSeen(); again.LastSeen != first.LastSeen || again.RetiredAt == "" || again.DisplayName != "Halle 2 links" {
		t.Errorf("retired printer: last seen %s then %s, retired at %q, name %q; want it no longer polled, retired, named",
			first.LastSeen, again.LastSeen, again.RetiredAt, again.DisplayName)
	}
	b.open("/")
	b.waitFor("the retired printer on the Printers page", fmt.Sprintf(`document.querySelector('article.retired #p%d')?.textContent === 'Halle 2 links'`, added.ID), stepLimit)
}
