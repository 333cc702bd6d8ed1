package e2e

import (
	"encoding/json"
	"fmt"
	"net"
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
	ID          int64     `json:"id"`
	Address     string    `json:"address"`
	Fingerprint string    `json:"fingerprint"`
	State       string    `json:"collection_state"`
	DisplayName string    `json:"display_name"`
	RetiredAt   string    `json:"retired_at"`
	LastSeen    time.Time `json:"last_seen"`
	LastError   string    `json:"last_error"`
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
	// Two new printers on the LAN, each pairing the Command Center at its panel.
	dataA := filepath.Join(t.TempDir(), "printer-a")
	printerA := startProc(t, bin, "printer", "-listen", "127.0.0.1:0", "-data", dataA, "-name", "3DP A", "-log-level", "error", "-pair", ccFP)
	m := printerA.waitLine(t, reNewPrinter)
	addr, pin := m[1], m[2]
	printerB := startProc(t, bin, "printer", "-listen", "127.0.0.1:0", "-data", filepath.Join(t.TempDir(), "printer-b"),
		"-name", "3DP B", "-seed", "2", "-log-level", "error", "-pair", ccFP)
	addrB := printerB.waitLine(t, reNewPrinter)[1]

	b := &tab{t: t, ctx: ctx, base: base, dir: artefactDir(t)}
	notice := func(what, words string) {
		t.Helper()
		b.waitFor(what, `document.querySelector('p.notice')?.textContent.includes(`+jsString(words)+`)`, stepLimit)
	}
	// Printer A by its address: its certificate read, compared, pinned.
	b.open("/printers/manage")
	b.fill("#pair-address", addr)
	b.submit("#probe")
	b.waitFor("the fingerprint to confirm", `document.querySelector('#confirm-fp')?.textContent === `+jsString(pin), stepLimit)
	b.shot("commandcenter-pair-confirm")
	b.submit("#confirm-pin")
	notice("printer A paired", "Printer paired")
	added := waitPolled(t, base, addr, time.Time{})

	// Printer B by discovery: found, dismissed, found again, pinned.
	discover := func() {
		t.Helper()
		b.fill("#subnet", "127.0.0.1/32")
		b.fill("#ports", port(addr)+","+port(addrB))
		b.submit(`form[action="/printers/discover"] button`)
		notice("the discovery", "Discovery found 2 printers")
	}
	discover()
	pendingB := `form[action="/printers/pending/dismiss"] input[value=` + jsString(addrB) + `]`
	b.waitFor("printer B pending", `document.querySelector(`+jsString(pendingB)+`)`, stepLimit)
	b.submit(`form[action="/printers/pending/dismiss"] button`)
	notice("printer B dismissed", "Pending printer dismissed")
	discover()
	b.submit(`form[action="/printers/pair"] button`)
	notice("printer B paired", "Printer paired")
	waitPolled(t, base, addrB, time.Time{})
	if _, ps, err := ccSnapshot(base); err != nil || len(ps) != len(before)+2 {
		t.Errorf("printers after pairing two: %d, %v; want %d", len(ps), err, len(before)+2)
	}
	if added.Fingerprint != pin {
		t.Errorf("printer A pinned %s, want %s", added.Fingerprint, pin)
	}

	// Rename it.
	b.open("/printers/manage")
	b.fill(fmt.Sprintf("#name-%d", added.ID), "Halle 2 links")
	b.submit(fmt.Sprintf(`form[action="/printers/%d/rename"] button`, added.ID))
	b.waitFor("the printer renamed", `document.querySelector('p.notice')?.textContent.includes('Printer renamed')`, stepLimit)
	if got := read[string](b, "the printer's name", fmt.Sprintf(`document.querySelector('#p%d').textContent`, added.ID)); got != "Halle 2 links" {
		b.fail("renamed printer shows %q", got)
	}

	// Printer A moves: the same printer (its certificate) on another port.
	printerA.kill()
	printerA = startProc(t, bin, "printer", "-listen", "127.0.0.1:0", "-data", dataA, "-name", "3DP A", "-log-level", "error")
	moved := printerA.waitLine(t, reNewPrinter)[1]
	b.open("/printers/manage")
	b.fill(fmt.Sprintf("#move-%d", added.ID), moved)
	b.submit(fmt.Sprintf(`form[action="/printers/%d/move"] button`, added.ID))
	notice("printer A moved", "Printer moved")
	if p := waitPolled(t, base, moved, time.Time{}); p.ID != added.ID {
		t.Errorf("moved printer has ID %d, want %d: its history stays with its ID", p.ID, added.ID)
	}

	// Retire it: no longer polled, still listed with its history.
	b.submit(fmt.Sprintf(`form[action="/printers/%d/retire"] button`, added.ID))
	b.waitFor("the printer retired", `document.querySelector('p.notice')?.textContent.includes('Printer retired')`, stepLimit)
	b.waitFor("the re-activate button", fmt.Sprintf(`document.querySelector('form[action="/printers/%d/reactivate"] button')`, added.ID), stepLimit)
	b.shot("commandcenter-printer-retired")
	// The poll in flight when it was retired may still land; after that,
	// its last_seen stands still while the demo's printers are polled on.
	lastSeen := func() (retired ccPrinter, other time.Time) {
		_, ps, err := ccSnapshot(base)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			switch {
			case p.ID == added.ID:
				retired = p
			case other.IsZero() && p.RetiredAt == "":
				other = p.LastSeen
			}
		}
		return retired, other
	}
	otherPolled := func(times int) {
		t.Helper()
		for range times {
			_, from := lastSeen()
			if !wait.Holds(30*time.Second, func() bool { _, now := lastSeen(); return !now.Equal(from) }) {
				t.Fatal("the demo's printers are not polled any more")
			}
		}
	}
	otherPolled(2)
	first, _ := lastSeen()
	otherPolled(3)
	if again, _ := lastSeen(); !again.LastSeen.Equal(first.LastSeen) || again.RetiredAt == "" || again.DisplayName != "Halle 2 links" {
		t.Errorf("retired printer: last seen %s then %s, retired at %q, name %q; want it no longer polled, retired, named",
			first.LastSeen, again.LastSeen, again.RetiredAt, again.DisplayName)
	}
	b.open("/")
	b.waitFor("the retired printer on the Printers page", fmt.Sprintf(`document.querySelector('article.retired #p%d')?.textContent === 'Halle 2 links'`, added.ID), stepLimit)

	// Re-activated, it is polled again.
	b.open("/printers/manage")
	b.submit(fmt.Sprintf(`form[action="/printers/%d/reactivate"] button`, added.ID))
	notice("printer A re-activated", "Printer re-activated")
	waitPolled(t, base, moved, first.LastSeen)
}

// port returns the port of "host:port".
func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// waitPolled waits until the Command Center at base polls the printer at
// addr: collection ok, seen later than after (zero for any time).
func waitPolled(t *testing.T, base, addr string, after time.Time) ccPrinter {
	t.Helper()
	var got ccPrinter
	if !wait.Holds(60*time.Second, func() bool {
		_, ps, err := ccSnapshot(base)
		if err != nil {
			return false
		}
		for _, p := range ps {
			if p.Address == addr {
				got = p
			}
		}
		return got.State == "ok" && got.LastSeen.After(after)
	}) {
		t.Fatalf("the printer at %s is not polled (seen after %q): %+v", addr, after, got)
	}
	return got
}
