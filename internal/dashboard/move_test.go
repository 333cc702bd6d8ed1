package dashboard

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// postAs posts form to path with a fresh session of user and returns the
// status and body, without following a redirect.
func (f *fixture) postAs(t *testing.T, user fleet.UserID, path string, form url.Values) (int, string) {
	t.Helper()
	token, csrf := f.sessionFor(t, user, f.clock.Now().Add(time.Hour))
	form.Set("csrf", csrf)
	req := f.walkRequest(t, http.MethodPost, path)
	req.AddCookie(&http.Cookie{Name: "ff_session", Value: token})
	req.Body = io.NopCloser(strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return f.send(t, req)
}

// TestMovePrinterPage: the printer page offers administrators of the
// printer's site a form to move it to another site they administer, and
// no one else; the move concerns both sites.
func TestMovePrinterPage(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	const p = fleet.PrinterID("printer-a001") // at siteA
	siteA2, err := f.db.CreateSite(ctx, f.orgA, "Aalen")
	if err != nil {
		t.Fatal(err)
	}
	member := func(name string, role fleet.Role, sites access.SiteSet) fleet.UserID {
		id, err := f.db.CreateMember(ctx, f.orgA, name, f.hashed, role, sites)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	ada, vic := f.user(t, "ada"), f.user(t, "vic")
	ladmin := member("ladmin", fleet.RoleAdmin, access.OnlySites(siteA2))
	both := member("both", fleet.RoleAdmin, access.OnlySites(f.siteA, siteA2))
	oneAdmin := member("one", fleet.RoleAdmin, access.OnlySites(f.siteA))
	operator := member("otto", fleet.RoleOperator, access.AllSites())
	form := `action="/printers/` + string(p) + `/site"`
	for _, tt := range []struct {
		name     string
		user     fleet.UserID
		wantForm bool
	}{
		{"admin", ada, true},
		{"admin of both sites", both, true},
		{"admin of the printer's site only", oneAdmin, false}, // nowhere to move it
		{"operator", operator, false},
		{"viewer", vic, false},
	} {
		t.Run("form/"+tt.name, func(t *testing.T) {
			resp, body := f.getAs(t, tt.user, "/printers/"+string(p), "")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if got := strings.Contains(body, form); got != tt.wantForm {
				t.Errorf("move form shown: %v, want %v", got, tt.wantForm)
			}
			if !strings.Contains(body, "<code>"+string(p)+"</code>") {
				t.Error("the page does not show the printer's ID")
			}
		})
	}
	at := func() fleet.SiteID {
		t.Helper()
		det, err := f.db.PrinterDetail(ctx, f.orgA, p)
		if err != nil {
			t.Fatal(err)
		}
		return det.View.SiteID
	}
	for _, tt := range []struct {
		name string
		user fleet.UserID
		site fleet.SiteID
		want int
	}{
		{"viewer", vic, siteA2, http.StatusForbidden},
		{"operator", operator, siteA2, http.StatusForbidden},
		{"admin of the other site only", ladmin, siteA2, http.StatusNotFound},
		{"admin of the printer's site only", oneAdmin, siteA2, http.StatusForbidden},
		{"no site", ada, "", http.StatusBadRequest},
		{"another organisation's site", ada, f.siteB, http.StatusBadRequest},
		{"another organisation's admin", f.user(t, "bob"), f.siteB, http.StatusNotFound},
	} {
		t.Run("refused/"+tt.name, func(t *testing.T) {
			if status, body := f.postAs(t, tt.user, "/printers/"+string(p)+"/site", url.Values{"site": {string(tt.site)}}); status != tt.want {
				t.Errorf("status %d, want %d\n%.300s", status, tt.want, body)
			}
			if got := at(); got != f.siteA {
				t.Errorf("printer at %s after a refused move, want %s", got, f.siteA)
			}
		})
	}
	status, body := f.postAs(t, both, "/printers/"+string(p)+"/site", url.Values{"site": {string(siteA2)}})
	if status != http.StatusSeeOther || at() != siteA2 {
		t.Fatalf("move by an admin of both sites: %d, printer at %s; want 303 and %s\n%.300s", status, at(), siteA2, body)
	}
	// Now the admin of the second site sees it, and may move it back to
	// no site they do not administer.
	if resp, body := f.getAs(t, ladmin, "/printers/"+string(p), ""); resp.StatusCode != http.StatusOK || strings.Contains(body, form) {
		t.Errorf("page for the admin of the new site: %d, form shown %v; want 200 without a form", resp.StatusCode, strings.Contains(body, form))
	}
	if status, _ := f.postAs(t, ladmin, "/printers/"+string(p)+"/site", url.Values{"site": {string(f.siteA)}}); status != http.StatusForbidden || at() != siteA2 {
		t.Errorf("move back by the admin of the new site only: %d, want 403", status)
	}
}

// TestPrinterPageShowsBothIDs: a printer whose ID another organisation's
// printer had first is shown with its own ID and the cloud's.
func TestPrinterPageShowsBothIDs(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	// printer-b001 is B's; A's gateway reports a printer of the same ID.
	f.status(t, f.orgA, f.siteA, "printer-b001", "A's twin", fleet.StateIdle)
	places, err := f.db.PrinterPlaces(ctx, f.orgA, []fleet.PrinterID{"printer-b001"})
	if err != nil {
		t.Fatal(err)
	}
	key := places["printer-b001"].Key
	if key == "printer-b001" || key == "" {
		t.Fatalf("A's twin has key %q, want one of its own", key)
	}
	resp, body := f.getAs(t, f.user(t, "ada"), "/printers/"+string(key), "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, want := range []string{"<code>printer-b001</code>", "<code>" + string(key) + "</code>", "A&#39;s twin"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "B&#39;s printer") {
		t.Error("page shows the other organisation's printer")
	}
}
