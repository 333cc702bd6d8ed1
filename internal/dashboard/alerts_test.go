package dashboard

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/alert"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
)

// seedAlert opens an alert of rule on printer p.
func (f *fixture) seedAlert(t *testing.T, org fleet.OrgID, site fleet.SiteID, p fleet.PrinterID, rule fleet.RuleKey, sev fleet.Severity, title string) fleet.AlertID {
	t.Helper()
	id, err := fleet.NewID("alr_")
	if err != nil {
		t.Fatal(err)
	}
	at := f.clock.Now()
	s := alert.State{Alert: fleet.Alert{ID: fleet.AlertID(id), OrgID: org, SiteID: site, PrinterID: p, Rule: rule,
		Severity: sev, Title: title, Detail: "lamp fusing-1 weak (61%)", Opened: at, Updated: at, Revision: 1}, Seen: at}
	if err := f.db.SaveAlert(t.Context(), s, 0); err != nil {
		t.Fatal(err)
	}
	return s.ID
}

// walkRule adds a custom rule to org and returns its ID.
func (f *fixture) walkRule(t *testing.T, org fleet.OrgID) string {
	t.Helper()
	id, err := f.db.CreateAlertRule(t.Context(), alert.CustomRule{OrgID: org, Metric: alert.MetricLampHours,
		Op: alert.AtLeast, Threshold: 2000, Severity: fleet.SeverityWarning, Created: f.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestAlertsPage(t *testing.T) {
	f := newFixture(t)
	id := f.seedAlert(t, f.orgA, f.siteA, "printer-a001", alert.RuleLamp, fleet.SeverityWarning, "Lamp weak or failed")
	f.seedAlert(t, f.orgB, f.siteB, "printer-b001", alert.RuleOffline, fleet.SeverityWarning, "Printer offline")
	ada, csrf := f.login(t, "ada")
	vic, vcsrf := f.login(t, "vic")
	bob, bcsrf := f.login(t, "bob")
	ctx := t.Context()
	vicUser, _, _ := f.db.UserByName(ctx, "vic")
	bobUser, _, _ := f.db.UserByName(ctx, "bob")

	_, body := get(t, ada, f.srv.URL+"/alerts")
	for _, want := range []string{"Lamp weak or failed", "3DP 1", "Not acknowledged", "Acknowledge", `action="/alerts/rules/lamp/mute"`} {
		if !strings.Contains(body, want) {
			t.Errorf("admin's alerts page lacks %q", want)
		}
	}
	if strings.Contains(body, "Printer offline") {
		t.Error("admin of A sees B's alert")
	}
	_, body = get(t, vic, f.srv.URL+"/alerts")
	if !strings.Contains(body, "Lamp weak or failed") || strings.Contains(body, "/ack") || strings.Contains(body, "/mute") {
		t.Error("viewer: want the alert without ack or mute forms")
	}

	acts := []struct {
		name   string
		c      *http.Client
		path   string
		form   url.Values
		status int
		want   string // on the alerts page afterwards, as ada
	}{
		{"viewer cannot ack", vic, "/alerts/" + string(id) + "/ack", url.Values{"csrf": {vcsrf}}, 403, "Not acknowledged"},
		{"other org cannot ack", bob, "/alerts/" + string(id) + "/ack", url.Values{"csrf": {bcsrf}}, 404, "Not acknowledged"},
		{"ack", ada, "/alerts/" + string(id) + "/ack", url.Values{"csrf": {csrf}}, 303, "Acknowledged by ada"},
		{"assign to other org's user", ada, "/alerts/" + string(id) + "/assign", url.Values{"csrf": {csrf}, "user": {string(bobUser.ID)}}, 400, "Not assigned"},
		{"other org cannot assign", bob, "/alerts/" + string(id) + "/assign", url.Values{"csrf": {bcsrf}, "user": {string(bobUser.ID)}}, 404, "Not assigned"},
		{"assign", ada, "/alerts/" + string(id) + "/assign", url.Values{"csrf": {csrf}, "user": {string(vicUser.ID)}}, 303, "Assigned to vic"},
		{"unassign", ada, "/alerts/" + string(id) + "/assign", url.Values{"csrf": {csrf}, "user": {""}}, 303, "Not assigned"},
		{"mute", ada, "/alerts/rules/lamp/mute", url.Values{"csrf": {csrf}, "mute": {"on"}, "back": {"alerts"}}, 303, "rule muted"},
		{"viewer cannot mute", vic, "/alerts/rules/lamp/mute", url.Values{"csrf": {vcsrf}, "mute": {"off"}}, 403, "rule muted"},
		{"unmute", ada, "/alerts/rules/lamp/mute", url.Values{"csrf": {csrf}, "mute": {"off"}, "back": {"alerts"}}, 303, "Mute this rule"},
	}
	for _, tt := range acts {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := post(t, tt.c, f.srv.URL+tt.path, tt.form, nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d\n%.400s", resp.StatusCode, tt.status, body)
			}
			_, page := get(t, ada, f.srv.URL+"/alerts")
			if !strings.Contains(page, tt.want) {
				t.Errorf("alerts page lacks %q afterwards", tt.want)
			}
		})
	}
}

func TestAlertsPagePastAndSites(t *testing.T) {
	f := newFixture(t)
	site2, err := f.db.CreateSite(t.Context(), f.orgA, "Zweitwerk")
	if err != nil {
		t.Fatal(err)
	}
	f.status(t, f.orgA, site2, "printer-a002", "Zweiter", fleet.StateIdle)
	f.seedAlert(t, f.orgA, f.siteA, "printer-a001", alert.RuleLamp, fleet.SeverityWarning, "Lamp weak or failed")
	old := f.seedAlert(t, f.orgA, site2, "printer-a002", alert.RuleFilter, fleet.SeverityError, "Filter below threshold")
	a, err := f.db.Alert(t.Context(), f.orgA, old)
	if err != nil {
		t.Fatal(err)
	}
	resolved := alert.State{Alert: a, Seen: a.Opened.Add(time.Hour)}
	resolved.Resolved, resolved.Updated, resolved.Revision = a.Opened.Add(time.Hour), a.Opened.Add(time.Hour), 2
	if err := f.db.SaveAlert(t.Context(), resolved, 1); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(2 * time.Hour)
	ada, _ := f.login(t, "ada")
	tests := []struct {
		query       string
		want, avoid []string
	}{
		{"", []string{"Lamp weak or failed", "Filter below threshold"}, nil},
		{"?site=" + string(site2), []string{"Filter below threshold"}, []string{"Lamp weak or failed"}},
		{"?site=" + string(f.siteB), []string{"Lamp weak or failed", "Filter below threshold"}, nil}, // a foreign site is ignored
		{"?days=1&page=2", []string{"Lamp weak or failed", "No resolved alerts in this period."}, []string{"Filter below threshold"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			resp, body := get(t, ada, f.srv.URL+"/alerts"+tt.query)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range tt.avoid {
				if strings.Contains(body, w) {
					t.Errorf("page shows %q", w)
				}
			}
		})
	}
}

func TestAlertRulesPage(t *testing.T) {
	f := newFixture(t)
	ada, csrf := f.login(t, "ada")
	vic, vcsrf := f.login(t, "vic")
	bob, bcsrf := f.login(t, "bob")
	_, body := get(t, vic, f.srv.URL+"/alerts/rules")
	if !strings.Contains(body, "Stalled job") || strings.Contains(body, `action="/alerts/rules"`) {
		t.Error("viewer: want the built-in rules without the form")
	}
	valid := url.Values{"csrf": {csrf}, "metric": {"filter_status_percent"}, "op": {"<"}, "threshold": {"15,5"}, "severity": {"error"}, "site": {string(f.siteA)}}
	with := func(k, v string) url.Values {
		u := url.Values{}
		for key, vs := range valid {
			u[key] = vs
		}
		u.Set(k, v)
		return u
	}
	forms := []struct {
		name   string
		c      *http.Client
		form   url.Values
		status int
		msg    string
	}{
		{"no threshold", ada, with("threshold", " "), 400, "Please enter a threshold."},
		{"threshold not a number", ada, with("threshold", "ten"), 400, "The threshold must be a number"},
		{"threshold too large", ada, with("threshold", "1e20"), 400, "The threshold is too large."},
		{"unknown metric", ada, with("metric", "temperature"), 400, "Please pick a metric from the list."},
		{"unknown comparison", ada, with("op", "=="), 400, "Please pick a comparison from the list."},
		{"unknown severity", ada, with("severity", "loud"), 400, "Please pick a severity from the list."},
		{"other org's site", ada, with("site", string(f.siteB)), 400, "Please pick sites from the list."},
		{"viewer", vic, with("csrf", vcsrf), 403, ""},
		{"valid", ada, valid, 303, ""},
	}
	for _, tt := range forms {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := post(t, tt.c, f.srv.URL+"/alerts/rules", tt.form, nil)
			if resp.StatusCode != tt.status || !strings.Contains(body, tt.msg) {
				t.Errorf("status %d, want %d with %q\n%.600s", resp.StatusCode, tt.status, tt.msg, body)
			}
		})
	}
	rules, err := f.db.AlertRules(t.Context(), f.orgA)
	if err != nil || len(rules.Custom) != 1 {
		t.Fatalf("rules = %+v, %v; want the valid one", rules, err)
	}
	r := rules.Custom[0]
	if r.Threshold != 15.5 || r.SiteID != f.siteA || r.Severity != fleet.SeverityError {
		t.Errorf("stored rule = %+v", r)
	}
	_, body = get(t, ada, f.srv.URL+"/alerts/rules")
	if !strings.Contains(body, "Remaining filter life &lt; 15.5 %") {
		t.Errorf("rules page lacks the new rule:\n%s", body)
	}
	// Another organisation can neither mute nor delete it.
	for _, path := range []string{"/alerts/rules/" + r.ID + "/delete", "/alerts/rules/" + string(r.Key()) + "/mute"} {
		if resp, _ := post(t, bob, f.srv.URL+path, url.Values{"csrf": {bcsrf}, "mute": {"on"}}, nil); resp.StatusCode != 404 {
			t.Errorf("B posts %s: status %d, want 404", path, resp.StatusCode)
		}
	}
	if resp, _ := post(t, ada, f.srv.URL+"/alerts/rules/"+string(r.Key())+"/mute", url.Values{"csrf": {csrf}, "mute": {"on"}}, nil); resp.StatusCode != 303 {
		t.Errorf("mute: status %d", resp.StatusCode)
	}
	if got, _ := f.db.AlertRules(t.Context(), f.orgA); len(got.Muted) != 1 {
		t.Errorf("muted = %v, want the custom rule", got.Muted)
	}
	if resp, _ := post(t, ada, f.srv.URL+"/alerts/rules/"+r.ID+"/delete", url.Values{"csrf": {csrf}}, nil); resp.StatusCode != 303 {
		t.Errorf("delete: status %d", resp.StatusCode)
	}
	if got, _ := f.db.AlertRules(t.Context(), f.orgA); len(got.Custom)+len(got.Muted) != 0 {
		t.Errorf("after delete: %+v", got)
	}
}

func TestPrinterCardShowsWorstAlert(t *testing.T) {
	f := newFixture(t)
	f.seedAlert(t, f.orgA, f.siteA, "printer-a001", alert.RuleLamp, fleet.SeverityWarning, "Lamp weak or failed")
	f.seedAlert(t, f.orgA, f.siteA, "printer-a001", alert.RulePrinthead, fleet.SeverityCritical, "Printhead needs attention")
	f.seedAlert(t, f.orgB, f.siteB, "printer-b001", alert.RuleOffline, fleet.SeverityWarning, "Printer offline")
	ada, _ := f.login(t, "ada")
	_, body := get(t, ada, f.srv.URL+"/")
	if !strings.Contains(body, `class="card-alert severity-critical"`) || !strings.Contains(body, "Critical: Printhead needs attention") {
		t.Errorf("card lacks the worst alert:\n%s", body)
	}
	if strings.Contains(body, "Printer offline") {
		t.Error("A's page shows B's alert")
	}
	_, body = get(t, ada, f.srv.URL+"/api/printers")
	var cards []struct {
		ID    fleet.PrinterID `json:"id"`
		Alert *struct {
			Severity string `json:"severity"`
			Words    string `json:"words"`
		} `json:"alert"`
	}
	if err := json.Unmarshal([]byte(body), &cards); err != nil {
		t.Fatal(err)
	}
	if len(cards) != 1 || cards[0].Alert == nil || cards[0].Alert.Severity != "critical" {
		t.Errorf("api cards = %s", body)
	}
}

// An admin limited to a site administers that site, never the whole
// organisation: no channel (it would carry every site's alerts), no
// delivery log, no muting of a built-in rule or of another site's.
func TestSiteAdminStaysInItsSites(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	site2, err := f.db.CreateSite(ctx, f.orgA, "Zweitwerk")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.CreateMember(ctx, f.orgA, "lena", f.hashed, fleet.RoleAdmin, access.OnlySites(site2)); err != nil {
		t.Fatal(err)
	}
	rule := func(site fleet.SiteID) alert.CustomRule {
		r := alert.CustomRule{OrgID: f.orgA, SiteID: site, Metric: alert.MetricLampHours, Op: alert.AtLeast, Threshold: 2000,
			Severity: fleet.SeverityWarning, Created: f.clock.Now()}
		if r.ID, err = f.db.CreateAlertRule(ctx, r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	otherSite, ownSite, everySite := rule(f.siteA), rule(site2), rule("")
	f.seedAlert(t, f.orgA, site2, "printer-z001", alert.RuleLamp, fleet.SeverityWarning, "Lamp weak or failed")
	f.seedAlert(t, f.orgA, site2, "printer-z001", ownSite.Key(), fleet.SeverityWarning, "Lamp hours")
	lena, csrf := f.login(t, "lena")

	// The pages offer each admin what the handlers allow, and nothing else
	// (before, lena saw the link to the channels and every mute button, and
	// the server answered 403).
	ada, _ := f.login(t, "ada")
	mute := func(k fleet.RuleKey) string { return `action="/alerts/rules/` + string(k) + `/mute"` }
	del := func(r alert.CustomRule) string { return `action="/alerts/rules/` + r.ID + `/delete"` }
	pages := []struct {
		who           string
		path          string
		want, wantNot []string
	}{
		{"lena", "/account/notifications", nil, []string{`href="/admin/notifications"`}},
		{"ada", "/account/notifications", []string{`href="/admin/notifications"`}, nil},
		{"lena", "/alerts/rules", []string{mute(ownSite.Key()), del(ownSite), `<option value="` + string(site2) + `"`},
			[]string{mute(alert.RuleLamp), mute(everySite.Key()), del(everySite), `<option value="">`, mute(otherSite.Key())}},
		{"ada", "/alerts/rules", []string{mute(ownSite.Key()), del(ownSite), mute(alert.RuleLamp), mute(everySite.Key()),
			del(everySite), mute(otherSite.Key()), `<option value="">`}, nil},
		{"lena", "/alerts", []string{mute(ownSite.Key())}, []string{mute(alert.RuleLamp)}},
		{"ada", "/alerts", []string{mute(ownSite.Key()), mute(alert.RuleLamp)}, nil},
	}
	clients := map[string]*http.Client{"lena": lena, "ada": ada}
	for _, p := range pages {
		resp, body := get(t, clients[p.who], f.srv.URL+p.path)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: GET %s = %s", p.who, p.path, resp.Status)
		}
		for _, w := range p.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s's %s lacks %s", p.who, p.path, w)
			}
		}
		for _, w := range p.wantNot {
			if strings.Contains(body, w) {
				t.Errorf("%s's %s offers %s, which the server refuses", p.who, p.path, w)
			}
		}
	}
	if resp, _ := get(t, lena, f.srv.URL+"/admin/notifications"); resp.StatusCode != 403 {
		t.Errorf("channels and delivery log = %s, want 403", resp.Status)
	}
	tests := []struct {
		name, path string
		form       url.Values
		want       int
	}{
		{"create webhook", "/admin/notifications", url.Values{"kind": {"webhook"}, "name": {"x"},
			"target": {"https://hooks.example.com/x"}, "severity": {"warning"}}, 403},
		{"create mailbox", "/admin/notifications", url.Values{"kind": {"email"}, "name": {"x"},
			"target": {"a@example.com"}, "severity": {"warning"}}, 403},
		{"mute a built-in rule", "/alerts/rules/lamp/mute", url.Values{"mute": {"on"}}, 403},
		{"mute another site's rule", "/alerts/rules/" + string(otherSite.Key()) + "/mute", url.Values{"mute": {"on"}}, 403},
		{"delete another site's rule", "/alerts/rules/" + otherSite.ID + "/delete", url.Values{}, 404},
		{"mute own site's rule", "/alerts/rules/" + string(ownSite.Key()) + "/mute", url.Values{"mute": {"on"}}, 303},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.form.Set("csrf", csrf)
			if resp, body := post(t, lena, f.srv.URL+tt.path, tt.form, nil); resp.StatusCode != tt.want {
				t.Errorf("POST %s = %s, want %d\n%.300s", tt.path, resp.Status, tt.want, body)
			}
		})
	}
	chans, err := f.db.NotifyChannels(ctx, f.orgA)
	if err != nil || len(chans) != 0 {
		t.Errorf("channels = %v, %v; want none", chans, err)
	}
	rules, err := f.db.AlertRules(ctx, f.orgA)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]fleet.RuleKey{ownSite.Key()}, rules.Muted); diff != "" {
		t.Errorf("muted rules (-want +got):\n%s", diff)
	}
}
