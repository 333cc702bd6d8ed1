package restapi

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/alert"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
)

// walkAlert opens an alert of a rule of its own (n) on s's printer.
func (f *fixture) walkAlert(t *testing.T, s *side, n int) fleet.AlertID {
	t.Helper()
	id, err := fleet.NewID("alr_")
	if err != nil {
		t.Fatal(err)
	}
	st := alert.State{Alert: fleet.Alert{ID: fleet.AlertID(id), OrgID: s.org, SiteID: s.site, PrinterID: s.printer,
		Rule: fleet.RuleKey("walk-" + strconv.Itoa(n)), Severity: fleet.SeverityError, Title: "Lamp weak or failed",
		Detail: "lamp fusing-1 failed", Opened: t0, Updated: t0, Revision: 1}, Seen: t0}
	if err := f.db.SaveAlert(t.Context(), st, 0); err != nil {
		t.Fatal(err)
	}
	return st.ID
}

// walkRule adds a custom rule to org and returns its ID.
func (f *fixture) walkRule(t *testing.T, org fleet.OrgID) string {
	t.Helper()
	id, err := f.db.CreateAlertRule(t.Context(), alert.CustomRule{OrgID: org, Metric: alert.MetricLampHours,
		Op: alert.AtLeast, Threshold: 2000, Severity: fleet.SeverityWarning, Created: t0})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestAlertsAPI(t *testing.T) {
	f := newFixture(t)
	a := f.a
	id := f.walkAlert(t, a, 1)
	f.walkAlert(t, f.b, 2)
	admin, viewer, limited := a.tokens["admin"], a.tokens["viewer"], a.tokens["limited"]
	list := func(t *testing.T, secret, query string) []fleet.Alert {
		t.Helper()
		status, body := f.do(t, "GET", "/api/v1/alerts"+query, secret, "")
		if status != 200 {
			t.Fatalf("GET alerts%s = %d %s", query, status, body)
		}
		var out []fleet.Alert
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	lists := []struct {
		name   string
		secret string
		query  string
		want   int
	}{
		{"all", admin, "", 1},
		{"active", admin, "?status=active", 1},
		{"resolved", admin, "?status=resolved", 0},
		{"printer", admin, "?printer=" + string(a.printer), 1},
		{"other site", admin, "?site=" + string(a.site2), 0},
		{"foreign site", admin, "?site=" + string(f.b.site), 0},
		{"limited to the other site", limited, "", 0},
		{"period before", admin, "?to=" + url.QueryEscape(t0.Format(time.RFC3339)), 0},
		{"period", admin, "?from=" + url.QueryEscape(t0.Format(time.RFC3339)), 1},
	}
	for _, tt := range lists {
		t.Run(tt.name, func(t *testing.T) {
			if got := list(t, tt.secret, tt.query); len(got) != tt.want {
				t.Errorf("got %d alerts, want %d: %+v", len(got), tt.want, got)
			}
		})
	}
	for _, q := range []string{"?status=open", "?limit=0", "?from=yesterday"} {
		if status, _ := f.do(t, "GET", "/api/v1/alerts"+q, admin, ""); status != 400 {
			t.Errorf("GET alerts%s = %d, want 400", q, status)
		}
	}
	ms, err := f.db.Members(t.Context(), a.org)
	if err != nil {
		t.Fatal(err)
	}
	var viewerID, limitedID fleet.UserID
	for _, m := range ms {
		switch {
		case strings.HasSuffix(m.Name, "-viewer"):
			viewerID = m.ID
		case strings.HasSuffix(m.Name, "-limited"):
			limitedID = m.ID
		}
	}
	acts := []struct {
		name, method, path, secret, body string
		status                           int
		check                            func(fleet.Alert) bool
	}{
		{"viewer cannot ack", "POST", "/ack", viewer, "", 403, nil},
		{"ack", "POST", "/ack", a.tokens["operator"], "", 200, func(x fleet.Alert) bool { return x.AckedBy != "" && !x.AckedAt.IsZero() }},
		{"assign to a user who cannot see the site", "POST", "/assign", admin, `{"user_id":"` + string(limitedID) + `"}`, 400, nil},
		{"assign to another org's user", "POST", "/assign", admin, `{"user_id":"` + string(f.b.admin) + `"}`, 400, nil},
		{"assign bad body", "POST", "/assign", admin, `{"user":"x"}`, 400, nil},
		{"assign", "POST", "/assign", admin, `{"user_id":"` + string(viewerID) + `"}`, 200, func(x fleet.Alert) bool { return x.Assignee == viewerID }},
		{"unassign", "POST", "/assign", admin, `{"user_id":null}`, 200, func(x fleet.Alert) bool { return x.Assignee == "" }},
		{"other org cannot ack", "POST", "/ack", f.b.tokens["admin"], "", 404, nil},
	}
	for _, tt := range acts {
		t.Run(tt.name, func(t *testing.T) {
			status, body := f.do(t, tt.method, "/api/v1/alerts/"+string(id)+tt.path, tt.secret, tt.body)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			if tt.check != nil {
				var got fleet.Alert
				if err := json.Unmarshal([]byte(body), &got); err != nil || !tt.check(got) {
					t.Errorf("answer %s (%v)", body, err)
				}
			}
		})
	}
}

func TestAlertRulesAPI(t *testing.T) {
	f := newFixture(t)
	admin := f.a.tokens["admin"]
	bad := []struct{ name, body, msg string }{
		{"no threshold", `{"metric":"system_errors","comparison":">","severity":"warning"}`, "threshold is required"},
		{"metric", `{"metric":"heat","comparison":">","threshold":1,"severity":"warning"}`, "metric must be"},
		{"comparison", `{"metric":"system_errors","comparison":"==","threshold":1,"severity":"warning"}`, "comparison must be"},
		{"severity", `{"metric":"system_errors","comparison":">","threshold":1,"severity":"loud"}`, "severity must be"},
		{"threshold", `{"metric":"system_errors","comparison":">","threshold":1e30,"severity":"warning"}`, "threshold must be"},
		{"foreign site", `{"metric":"system_errors","comparison":">","threshold":1,"severity":"warning","site_id":"` + string(f.b.site) + `"}`, "site_id must"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			status, body := f.do(t, "POST", "/api/v1/alert-rules", admin, tt.body)
			if status != 400 || !strings.Contains(body, tt.msg) {
				t.Errorf("= %d %s, want 400 with %q", status, body, tt.msg)
			}
		})
	}
	status, body := f.do(t, "POST", "/api/v1/alert-rules", admin,
		`{"metric":"filter_status_percent","comparison":"<","threshold":12.5,"severity":"error","site_id":"`+string(f.a.site)+`"}`)
	if status != 201 {
		t.Fatalf("create = %d %s", status, body)
	}
	var created struct {
		Key    fleet.RuleKey `json:"key"`
		Custom struct {
			ID string `json:"id"`
		} `json:"custom"`
	}
	if err := json.Unmarshal([]byte(body), &created); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/v1/alert-rules/" + string(created.Key) + "/muted", "/api/v1/alert-rules/offline/muted"} {
		if status, body := f.do(t, "PUT", path, admin, `{"muted":true}`); status != 204 {
			t.Errorf("PUT %s = %d %s", path, status, body)
		}
	}
	if status, _ := f.do(t, "PUT", "/api/v1/alert-rules/"+string(created.Key)+"/muted", f.b.tokens["admin"], `{"muted":true}`); status != 404 {
		t.Errorf("B mutes A's rule: %d, want 404", status)
	}
	if status, _ := f.do(t, "PUT", "/api/v1/alert-rules/offline/muted", admin, `{}`); status != 400 {
		t.Errorf("mute without muted: %d, want 400", status)
	}
	_, body = f.do(t, "GET", "/api/v1/alert-rules", admin, "")
	var rules []struct {
		Key   fleet.RuleKey `json:"key"`
		Muted bool          `json:"muted"`
	}
	if err := json.Unmarshal([]byte(body), &rules); err != nil {
		t.Fatal(err)
	}
	muted := map[fleet.RuleKey]bool{}
	for _, r := range rules {
		muted[r.Key] = r.Muted
	}
	if len(rules) != len(alert.Builtins(alert.Options{}))+1 || !muted[created.Key] || !muted[alert.RuleOffline] || muted[alert.RuleLamp] {
		t.Errorf("rules = %s", body)
	}
	// B sees none of A's custom rules.
	if _, body := f.do(t, "GET", "/api/v1/alert-rules", f.b.tokens["admin"], ""); strings.Contains(body, created.Custom.ID) {
		t.Error("B sees A's rule")
	}
	if status, _ := f.do(t, "DELETE", "/api/v1/alert-rules/"+created.Custom.ID, f.b.tokens["admin"], ""); status != 404 {
		t.Errorf("B deletes A's rule: %d, want 404", status)
	}
	if status, _ := f.do(t, "DELETE", "/api/v1/alert-rules/"+created.Custom.ID, admin, ""); status != 204 {
		t.Errorf("delete: %d", status)
	}
}

// An admin limited to a site administers that site, never the whole
// organisation: no channel (it would carry every site's alerts), no
// delivery log, no muting of a built-in rule or of another site's.
func TestSiteAdminStaysInItsSites(t *testing.T) {
	f := newFixture(t)
	a := f.a
	rule := func(site fleet.SiteID) string {
		id, err := f.db.CreateAlertRule(t.Context(), alert.CustomRule{OrgID: a.org, SiteID: site, Metric: alert.MetricLampHours,
			Op: alert.AtLeast, Threshold: 2000, Severity: fleet.SeverityWarning, Created: t0})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	key := func(id string) string { return string(alert.CustomRule{ID: id}.Key()) }
	otherSite, ownSite := rule(a.site), rule(a.site2)
	channel := `{"kind":"webhook","name":"x","target":"https://hooks.example.com/x","min_severity":"warning"}`
	muted := `{"muted":true}`
	tests := []struct {
		name, method, path, body string
		want                     int
	}{
		{"create webhook", "POST", "/api/v1/notification-channels", channel, 403},
		{"create mailbox", "POST", "/api/v1/notification-channels", `{"kind":"email","name":"x","target":"a@example.com","min_severity":"warning"}`, 403},
		{"list channels", "GET", "/api/v1/notification-channels", "", 403},
		{"delivery log", "GET", "/api/v1/deliveries", "", 403},
		{"mute a built-in rule", "PUT", "/api/v1/alert-rules/offline/muted", muted, 403},
		{"mute another site's rule", "PUT", "/api/v1/alert-rules/" + key(otherSite) + "/muted", muted, 403},
		{"delete another site's rule", "DELETE", "/api/v1/alert-rules/" + otherSite, "", 404},
		{"mute own site's rule", "PUT", "/api/v1/alert-rules/" + key(ownSite) + "/muted", muted, 204},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if status, body := f.do(t, tt.method, tt.path, a.tokens["ladmin"], tt.body); status != tt.want {
				t.Errorf("%s %s = %d %s, want %d", tt.method, tt.path, status, body, tt.want)
			}
		})
	}
	rules, err := f.db.AlertRules(t.Context(), a.org)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]fleet.RuleKey{fleet.RuleKey(key(ownSite))}, rules.Muted); diff != "" {
		t.Errorf("muted rules (-want +got):\n%s", diff)
	}
}
