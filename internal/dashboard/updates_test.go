package dashboard

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/update"
)

// staticReleases is a fixed release list, as the cloud's repository would
// give it.
type staticReleases []update.Offer

func (s staticReleases) Releases(context.Context) ([]update.Offer, error) {
	return append([]update.Offer(nil), s...), nil
}

func testReleases() staticReleases {
	pct := 20
	return staticReleases{
		{Target: "firmware-4.3.0-fw.bin", Release: update.Release{Kind: update.KindFirmware, Version: "4.3.0",
			Models: []string{"FF-4200"}, MinVersion: "4.0", Notes: "fixes recoater jam"}},
		{Target: "firmware-4.4.0-fw.bin", Halted: true, HaltReason: "FF-4200: 4 of 10 printers failing",
			Release: update.Release{Kind: update.KindFirmware, Version: "4.4.0", Models: []string{"FF-4200"}, Rollout: &update.Rollout{Percent: &pct}}},
		{Target: "firmware-9.0.0-fw.bin", Release: update.Release{Kind: update.KindFirmware, Version: "9.0.0", Models: []string{"FF-5200"}}},
		{Target: "parameters-2.2-p.json", Release: update.Release{Kind: update.KindParameters, Version: "2.2", Name: "PA12-balanced-2.2",
			Models: []string{"FF-4200"}}},
	}
}

func TestUpdatesPage(t *testing.T) {
	f := newFixture(t)
	f.fillPrinterA(t) // firmware 4.2.1, parameter set PA12-balanced
	f.h.updates.releases = testReleases()
	ada := f.user(t, "ada")
	tests := []struct {
		name, path, lang string
		want, notWant    []string
	}{
		{"releases and versions", "/updates", "", []string{
			"fixes recoater jam", "Halted", "FF-4200: 4 of 10 printers failing", "PA12-balanced-2.2 (2.2)",
			`data-printer-id="printer-a001"`, "4.2.1", "update available: 4.3.0", "PA12-balanced",
			"Updates are available for 1 of your printers.", "Upgrades from 4.0", "All printers",
		}, []string{"update available: 4.4.0", "update available: 9.0.0", "printer-b001"}},
		{"in German", "/updates", "de", []string{"Update verfügbar: 4.3.0", "Angehalten", "Versionshinweise"}, nil},
		{"banner on the printers page", "/", "", []string{`id="updates-banner"`, `href="/updates"`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.getAs(t, ada, tt.path, tt.lang)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(body, w) {
					t.Errorf("page shows %q", w)
				}
			}
		})
	}
}

func TestUpdatesNoRepository(t *testing.T) {
	f := newFixture(t)
	f.fillPrinterA(t)
	ada := f.user(t, "ada")
	_, body := f.getAs(t, ada, "/updates", "")
	if !strings.Contains(body, "This cloud has no update repository.") {
		t.Errorf("updates page without repository: %s", body)
	}
	if _, body := f.getAs(t, ada, "/", ""); strings.Contains(body, "updates-banner") {
		t.Error("printers page shows an update banner without a repository")
	}
}
