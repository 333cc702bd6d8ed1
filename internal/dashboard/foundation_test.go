package dashboard

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/i18n"
	"github.com/google/go-cmp/cmp"
)

// The reader's language: their stored choice, else the browser's, else
// English.
func TestChooseLang(t *testing.T) {
	tests := []struct {
		name   string
		pref   string
		header string
		want   i18n.Lang
	}{
		{"nothing", "", "", i18n.English},
		{"header only", "", "de-DE,de;q=0.9,en;q=0.5", i18n.German},
		{"unsupported header", "", "fr-FR", i18n.English},
		{"preference beats header", "en", "de-DE,de;q=0.9", i18n.English},
		{"preference without header", "de", "", i18n.German},
		{"preference German, header English", "de", "en-US", i18n.German},
		{"unknown stored preference falls back to header", "xx", "de", i18n.German},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := chooseLang(fleet.Prefs{Lang: tt.pref}, tt.header); got != tt.want {
				t.Errorf("chooseLang(%q, %q) = %q, want %q", tt.pref, tt.header, got, tt.want)
			}
		})
	}
}

func TestFormatTime(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		lang i18n.Lang
		zone *time.Location
		at   time.Time
		want string
	}{
		{i18n.English, time.UTC, t0, "1 Mar 2026, 12:00 UTC"},
		{i18n.English, berlin, t0, "1 Mar 2026, 13:00 CET"},
		{i18n.German, berlin, t0, "1. März 2026, 13:00 CET"},
		{i18n.German, berlin, time.Date(2026, 7, 31, 22, 30, 0, 0, time.UTC), "1. Aug. 2026, 00:30 CEST"},
		{i18n.German, nil, time.Time{}, "–"},
	}
	for _, tt := range tests {
		if got := formatTime(tt.lang, tt.zone, tt.at); got != tt.want {
			t.Errorf("formatTime(%s, %v, %v) = %q, want %q", tt.lang, tt.zone, tt.at, got, tt.want)
		}
	}
}

// getWith fetches path with headers, returning status and body.
func getWith(t *testing.T, c *http.Client, u string, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// The login page speaks the browser's language.
func TestLoginPageGerman(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct {
		header string
		want   []string
		not    string
	}{
		{"de-DE,de;q=0.9,en;q=0.8", []string{`<html lang="de">`, "<title>Anmelden · FusionFleet</title>", `<label for="name">Benutzername</label>`,
			`<label for="password">Passwort</label>`, "Zum Hauptinhalt springen"}, "User name"},
		{"", []string{`<html lang="en">`, "<title>Log in · FusionFleet</title>", `<label for="name">User name</label>`}, "Benutzername"},
	} {
		t.Run(tt.header, func(t *testing.T) {
			status, body := getWith(t, f.client(t), f.srv.URL+"/login", map[string]string{"Accept-Language": tt.header})
			if status != http.StatusOK {
				t.Fatalf("status %d", status)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			if strings.Contains(body, tt.not) {
				t.Errorf("page has %q", tt.not)
			}
		})
	}
	// A failed login says why in German too.
	c := f.client(t)
	_, page := getWith(t, c, f.srv.URL+"/login", map[string]string{"Accept-Language": "de"})
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/login", strings.NewReader(url.Values{
		"csrf": {csrfOf(t, page)}, "name": {"ada"}, "password": {"wrong"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept-Language", "de")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "Falscher Benutzername oder falsches Passwort.") {
		t.Errorf("failed login not explained in German:\n%s", b)
	}
}

// A logged-in reader's stored language and zone win over the browser's,
// on pages, in the JSON the live page reads, and in the event stream.
func TestPreferencesApply(t *testing.T) {
	f := newFixture(t)
	c, _ := f.login(t, "ada")
	ada, _, err := f.db.UserByName(t.Context(), "ada")
	if err != nil {
		t.Fatal(err)
	}
	english := map[string]string{"Accept-Language": "en-GB"}
	if _, body := getWith(t, c, f.srv.URL+"/", english); !strings.Contains(body, "Powered on, printing") {
		t.Fatal("English page expected before any preference")
	}
	if err := f.db.SetPrefs(t.Context(), f.orgA, ada.ID, fleet.Prefs{Lang: "de", TimeZone: "Europe/Berlin"}); err != nil {
		t.Fatal(err)
	}
	_, body := getWith(t, c, f.srv.URL+"/", english)
	for _, want := range []string{`<html lang="de">`, "Meine 3D-Drucker", "Eingeschaltet, druckt", "1 Stunde, 23 Minuten", "2 wartende Druckaufträge",
		`aria-current="page">Drucker</a>`, `data-word-reconnecting="verbinde neu …"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	_, js := getWith(t, c, f.srv.URL+"/api/printers", english)
	var cards []card
	if err := json.Unmarshal([]byte(js), &cards); err != nil || len(cards) != 1 {
		t.Fatalf("api/printers: %v %s", err, js)
	}
	if cards[0].StateWords != "Eingeschaltet, druckt" || cards[0].SiteName != "Aachen" {
		t.Errorf("api card = %+v, want German words and the site's name", cards[0])
	}
	// Offline times are in the reader's zone and words.
	f.clock.Advance(defaultOfflineAfter + time.Second)
	_, body = getWith(t, c, f.srv.URL+"/", english)
	if !strings.Contains(body, "Offline seit 1. März 2026, 13:00 CET") {
		t.Error("offline time not in German and the reader's zone")
	}
	// The event stream speaks German too.
	s := f.openEvents(t, c)
	if got := s.printers(); len(got) != 1 || !strings.HasPrefix(got[0].StateWords, "Offline seit") {
		t.Errorf("event stream cards = %+v", got)
	}
	// API errors are in the reader's language.
	status, _ := getWith(t, c, f.srv.URL+"/no/such/page", english)
	if status != http.StatusNotFound {
		t.Errorf("status %d", status)
	}
	if _, body := getWith(t, c, f.srv.URL+"/no/such/page", english); !strings.Contains(body, "Seite nicht gefunden.") {
		t.Error("error page not in German")
	}
}

// The account form saves a valid language and zone; a bad one is a 400
// with the reason, and nothing is saved.
func TestAccountForm(t *testing.T) {
	f := newFixture(t)
	c, csrf := f.login(t, "vic")
	vic, _, _ := f.db.UserByName(t.Context(), "vic")
	prefs := func() fleet.Prefs {
		m, err := f.db.Member(t.Context(), f.orgA, vic.ID)
		if err != nil {
			t.Fatal(err)
		}
		return m.Prefs
	}
	_, page := get(t, c, f.srv.URL+"/account")
	for _, want := range []string{`<label for="lang">Language</label>`, `<label for="zone">Time zone</label>`,
		`<label for="zone-other">Another time zone</label>`, `<option value="UTC" selected>UTC</option>`, "Times are shown in UTC."} {
		if !strings.Contains(page, want) {
			t.Errorf("account page lacks %q", want)
		}
	}
	tests := []struct {
		name    string
		form    url.Values
		status  int
		message string
		want    fleet.Prefs
	}{
		{"unknown zone", url.Values{"lang": {"de"}, "zone": {otherZone}, "zone_other": {"Mars/Olympus_Mons"}}, 400,
			"Unknown time zone. Enter a name like Europe/Berlin.", fleet.Prefs{}},
		{"path as zone", url.Values{"lang": {""}, "zone": {"../../etc/passwd"}}, 400, "Unknown time zone.", fleet.Prefs{}},
		{"unsupported language", url.Values{"lang": {"fr"}, "zone": {"UTC"}}, 400, "Please pick a language from the list.", fleet.Prefs{}},
		{"common zone", url.Values{"lang": {"de"}, "zone": {"Europe/Berlin"}}, 303, "", fleet.Prefs{Lang: "de", TimeZone: "Europe/Berlin"}},
		{"typed zone", url.Values{"lang": {"en"}, "zone": {otherZone}, "zone_other": {" America/Toronto "}}, 303, "",
			fleet.Prefs{Lang: "en", TimeZone: "America/Toronto"}},
		{"bad zone keeps the saved one", url.Values{"lang": {"de"}, "zone": {"Nowhere"}}, 400, "Unknown time zone.",
			fleet.Prefs{Lang: "en", TimeZone: "America/Toronto"}},
		{"browser's language", url.Values{"lang": {""}, "zone": {"UTC"}}, 303, "", fleet.Prefs{TimeZone: "UTC"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.form.Set("csrf", csrf)
			resp, body := post(t, c, f.srv.URL+"/account", tt.form, nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, tt.status, body)
			}
			if !strings.Contains(body, tt.message) {
				t.Errorf("answer lacks %q", tt.message)
			}
			if diff := cmp.Diff(tt.want, prefs()); diff != "" {
				t.Errorf("stored prefs (-want +got):\n%s", diff)
			}
		})
	}
	// After saving, the page says so, in the chosen language.
	post(t, c, f.srv.URL+"/account", url.Values{"csrf": {csrf}, "lang": {"de"}, "zone": {otherZone}, "zone_other": {"Asia/Kathmandu"}}, nil)
	_, page = get(t, c, f.srv.URL+"/account?saved=1")
	for _, want := range []string{"Ihre Einstellungen sind gespeichert.", `<option value="other" selected>`, `value="Asia/Kathmandu"`,
		"Zeiten werden in Asia/Kathmandu angezeigt", "1. März 2026, 17:45"} {
		if !strings.Contains(page, want) {
			t.Errorf("account page lacks %q", want)
		}
	}
}

// Filters narrow the printer cards by site, model and state, from the
// query, so that a filtered view is a link.
func TestPrinterFilters(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	north, err := f.db.CreateSite(ctx, f.orgA, "Nordwerk")
	if err != nil {
		t.Fatal(err)
	}
	f.status(t, f.orgA, north, "printer-a002", "3DP 2", fleet.StateIdle)
	f.status(t, f.orgA, f.siteA, "printer-a003", "3DP 3", fleet.StateError)
	c, _ := f.login(t, "ada")
	cardID := regexp.MustCompile(`<li class="card" id="printer-([^"]+)"`)
	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{"none", "", []string{"a001", "a002", "a003"}},
		{"site", "?site=" + string(f.siteA), []string{"a001", "a003"}},
		{"other site", "?site=" + string(north), []string{"a002"}},
		{"state", "?state=idle", []string{"a002"}},
		{"site and state", "?site=" + string(f.siteA) + "&state=error", []string{"a003"}},
		{"model", "?model=FF-4200", []string{"a001", "a002", "a003"}},
		{"unknown model", "?model=XYZ", nil},
		{"empty values", "?site=&model=&state=", []string{"a001", "a002", "a003"}},
		{"another organisation's site", "?site=" + string(f.siteB), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, body := get(t, c, f.srv.URL+"/"+tt.query)
			var got []string
			for _, m := range cardID.FindAllStringSubmatch(body, -1) {
				got = append(got, strings.TrimPrefix(m[1], "printer-"))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("cards (-want +got):\n%s", diff)
			}
			hidden := strings.Contains(body, `id="no-match" class="empty" hidden`)
			if hidden != (len(tt.want) > 0) {
				t.Errorf("no-match message hidden = %v with %d cards", hidden, len(tt.want))
			}
			if strings.Contains(body, "Bremen") {
				t.Error("the site menu offers another organisation's site")
			}
		})
	}
	_, body := get(t, c, f.srv.URL+"/?site="+string(north)+"&state=idle")
	for _, want := range []string{
		`<option value="` + string(north) + `" selected>Nordwerk</option>`, `<option value="idle" selected>Idle</option>`,
		"Showing 1 of 3 printers", `<a href="/printers/printer-a002">3DP 2</a>`, `<a href="/" id="clear-filters">`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("filtered page lacks %q", want)
		}
	}
}

// The live indicator is a polite status region whose words the script
// takes from the page, so that it says "reconnecting" in the reader's
// language.
func TestLiveIndicator(t *testing.T) {
	f := newFixture(t)
	c, _ := f.login(t, "ada")
	_, body := get(t, c, f.srv.URL+"/")
	live := regexp.MustCompile(`<p id="live"[^>]*>`).FindString(body)
	for _, want := range []string{`role="status"`, `aria-live="polite"`, `data-word-live="live"`, `data-word-reconnecting="reconnecting…"`} {
		if !strings.Contains(live, want) {
			t.Errorf("live indicator %s lacks %s", live, want)
		}
	}
	_, js := get(t, c, f.srv.URL+"/static/app.js")
	for _, want := range []string{"wordReconnecting", "EventSource.CLOSED", "history.replaceState", "aria-expanded"} {
		if !strings.Contains(js, want) {
			t.Errorf("app.js lacks %q", want)
		}
	}
}

// The layout: a skip link to main, the current page marked, labels for
// every form control on every page a user reaches.
func TestLayoutAccessibility(t *testing.T) {
	f := newFixture(t)
	c, _ := f.login(t, "ada")
	control := regexp.MustCompile(`<(input|select|textarea)\b[^>]*>`)
	for _, path := range []string{"/", "/tokens", "/account", "/account/two-factor", "/admin/users", "/admin/sites", "/admin/enrolment"} {
		t.Run(path, func(t *testing.T) {
			_, body := get(t, c, f.srv.URL+path)
			if !strings.Contains(body, `<a class="skip" href="#main">`) || !strings.Contains(body, `<main id="main" tabindex="-1">`) {
				t.Error("no skip link to main")
			}
			if n := strings.Count(body, `aria-current="page"`); n != 1 {
				t.Errorf("%d links marked current, want 1", n)
			}
			for _, m := range control.FindAllString(body, -1) {
				if strings.Contains(m, `type="hidden"`) || strings.Contains(m, "aria-label=") {
					continue
				}
				id := regexp.MustCompile(`\bid="([^"]+)"`).FindStringSubmatch(m)
				labelled := id != nil && strings.Contains(body, `<label for="`+id[1]+`">`)
				// A control inside its label: <label><input ...> text</label>.
				labelled = labelled || strings.Contains(body, "<label>"+m)
				if !labelled {
					t.Errorf("control without a label: %s", m)
				}
			}
		})
	}
}

// The sites page is for admins; an admin for all sites adds sites with
// unique names, each with a link to enrol its Command Center.
func TestAdminSites(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	if _, err := f.db.CreateMember(ctx, f.orgA, "otto", f.hashed, fleet.RoleOperator, access.AllSites()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.CreateMember(ctx, f.orgA, "lima", f.hashed, fleet.RoleAdmin, access.OnlySites(f.siteA)); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"vic", "otto"} {
		c, csrf := f.login(t, who)
		if resp, _ := get(t, c, f.srv.URL+"/admin/sites"); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: GET /admin/sites = %d, want 403", who, resp.StatusCode)
		}
		if resp, _ := post(t, c, f.srv.URL+"/admin/sites", url.Values{"csrf": {csrf}, "name": {"Köln"}}, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: POST /admin/sites = %d, want 403", who, resp.StatusCode)
		}
	}
	c, csrf := f.login(t, "ada")
	tests := []struct {
		name, site string
		status     int
		message    string
	}{
		{"new", "Hamburg", 303, ""},
		{"same name", " hamburg ", 409, "Your organisation has a site of that name already."},
		{"empty", "  ", 400, "Please enter a site name."},
		{"too long", strings.Repeat("x", 129), 400, "The site name is too long"},
		{"control character", "a\x07b", 400, "The site name must not contain control characters."},
		{"another organisation's name", "Bremen", 303, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := post(t, c, f.srv.URL+"/admin/sites", url.Values{"csrf": {csrf}, "name": {tt.site}}, nil)
			if resp.StatusCode != tt.status || !strings.Contains(body, tt.message) {
				t.Errorf("status %d, want %d with %q\n%s", resp.StatusCode, tt.status, tt.message, body)
			}
		})
	}
	sites, err := f.db.Sites(ctx, f.orgA)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range sites {
		names = append(names, s.Name)
	}
	if diff := cmp.Diff([]string{"Aachen", "Bremen", "Hamburg"}, names); diff != "" {
		t.Errorf("sites (-want +got):\n%s", diff)
	}
	_, page := get(t, c, f.srv.URL+"/admin/sites?created="+string(sites[2].ID))
	for _, want := range []string{"Site Hamburg created.", `href="/admin/enrolment?site=` + string(sites[2].ID) + `"`, `<label for="site-name">Site name</label>`} {
		if !strings.Contains(page, want) {
			t.Errorf("sites page lacks %q", want)
		}
	}
	_, page = get(t, c, f.srv.URL+"/admin/enrolment?site="+string(sites[2].ID))
	if !strings.Contains(page, `<option value="`+string(sites[2].ID)+`" selected>Hamburg</option>`) {
		t.Error("enrolment page does not preselect the linked site")
	}
	// A site-limited admin sees the page but may not add sites.
	lc, lcsrf := f.login(t, "lima")
	if _, page := get(t, lc, f.srv.URL+"/admin/sites"); strings.Contains(page, `action="/admin/sites"`) {
		t.Error("site-limited admin is offered the form")
	}
	if resp, _ := post(t, lc, f.srv.URL+"/admin/sites", url.Values{"csrf": {lcsrf}, "name": {"Köln"}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("site-limited admin: %d, want 403", resp.StatusCode)
	}
}
