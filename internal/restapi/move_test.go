package restapi

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
)

// TestMovePrinter: moving a printer between sites is an administrator's
// act that concerns both sites; records never move it (the store's
// contract tests show that). An administrator limited to sites must hold
// the printer's site and the new one.
func TestMovePrinter(t *testing.T) {
	f := newFixture(t)
	a := f.a
	both, err := f.db.CreateMember(t.Context(), a.org, "both-sites-admin", someHash, fleet.RoleAdmin, access.OnlySites(a.site, a.site2))
	if err != nil {
		t.Fatal(err)
	}
	bothToken := f.token(t, a.org, both, access.ScopeReadWrite, access.AllSites(), t0.Add(time.Hour))
	at := func(p fleet.PrinterID) fleet.SiteID {
		t.Helper()
		det, err := f.db.PrinterDetail(t.Context(), a.org, p)
		if err != nil {
			t.Fatal(err)
		}
		return det.View.SiteID
	}
	move := "/api/v1/printers/" + string(a.printer) + "/site"
	move2 := "/api/v1/printers/" + string(a.printer) + "-2/site"
	to := func(site fleet.SiteID) string { return `{"site_id":"` + string(site) + `"}` }
	tests := []struct {
		name, who, path, body string
		want                  int
	}{
		{"limited admin, to a site not theirs", "ladmin", move2, to(a.site), http.StatusForbidden},
		{"limited admin, from a site not theirs", "ladmin", move, to(a.site2), http.StatusNotFound},
		{"operator", "operator", move, to(a.site2), http.StatusForbidden},
		{"read-only token", "read", move, to(a.site2), http.StatusForbidden},
		{"unknown site", "admin", move, to("site_nope"), http.StatusBadRequest},
		{"another organisation's site", "admin", move, to(f.b.site), http.StatusBadRequest},
		{"no site", "admin", move, `{}`, http.StatusBadRequest},
		{"unknown field", "admin", move, `{"site":"x"}`, http.StatusBadRequest},
		{"another organisation's printer", "admin", "/api/v1/printers/" + string(f.b.printer) + "/site", to(a.site2), http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if status, body := f.do(t, "POST", tt.path, a.tokens[tt.who], tt.body); status != tt.want {
				t.Errorf("status %d, want %d; body %s", status, tt.want, body)
			}
			if got := at(a.printer); got != a.site {
				t.Errorf("printer at %s after a refused move, want %s", got, a.site)
			}
			if got := at(a.printer + "-2"); got != a.site2 {
				t.Errorf("second printer at %s after a refused move, want %s", got, a.site2)
			}
		})
	}
	// An administrator of both sites moves it; the detail says where it
	// is now, and by which ID the printer knows itself.
	if status, body := f.do(t, "POST", move, bothToken, to(a.site2)); status != http.StatusNoContent {
		t.Fatalf("move by an admin of both sites: %d %s, want 204", status, body)
	}
	status, body := f.do(t, "GET", "/api/v1/printers/"+string(a.printer)+"/detail", a.tokens["ladmin"], "")
	var det fleetquery.PrinterDetail
	if err := json.Unmarshal([]byte(body), &det); status != http.StatusOK || err != nil {
		t.Fatalf("detail for the admin of the new site: %d %s, %v", status, body, err)
	}
	if det.View.SiteID != a.site2 || det.DeviceID != a.printer {
		t.Errorf("detail: site %s, device ID %q; want %s, %s", det.View.SiteID, det.DeviceID, a.site2, a.printer)
	}
	// And back, by an administrator for all sites.
	if status, body := f.do(t, "POST", move, a.tokens["admin"], to(a.site)); status != http.StatusNoContent || at(a.printer) != a.site {
		t.Errorf("move back: %d %s, printer at %s; want 204 and %s", status, body, at(a.printer), a.site)
	}
}
