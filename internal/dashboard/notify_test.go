package dashboard

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// walkChannel adds a webhook channel to org for the route walker; its URL
// names the organisation, so that a leak shows as a canary.
func (f *fixture) walkChannel(t *testing.T, org fleet.OrgID) string {
	t.Helper()
	id, err := f.db.CreateNotifyChannel(t.Context(), fleet.NotifyChannel{OrgID: org, Kind: fleet.ChannelWebhook, Name: "walk",
		Target: "https://hooks.example.com/" + string(org), Secret: strings.Repeat("k", 43), MinSeverity: fleet.SeverityWarning,
		Created: f.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return string(id)
}

var webhookSecretField = regexp.MustCompile(`value="([A-Za-z0-9_-]{43})"[^>]*data-webhook-secret`)

func TestNotificationChannelsPage(t *testing.T) {
	f := newFixture(t)
	ada, csrf := f.login(t, "ada")
	vic, vcsrf := f.login(t, "vic")
	bob, bcsrf := f.login(t, "bob")
	ctx := t.Context()
	hook := url.Values{"csrf": {csrf}, "kind": {"webhook"}, "name": {"Ops chat"}, "target": {"https://hooks.example.com/ops"}, "severity": {"error"}}

	resp, body := post(t, ada, f.srv.URL+"/admin/notifications", hook, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("create webhook: status %d\n%.400s", resp.StatusCode, body)
	}
	m := webhookSecretField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the new webhook's secret is not shown:\n%s", body)
	}
	chans, err := f.db.NotifyChannels(ctx, f.orgA)
	if err != nil || len(chans) != 1 {
		t.Fatalf("channels = %v, %v; want one", chans, err)
	}
	c := chans[0]
	if c.Secret != m[1] || c.Kind != fleet.ChannelWebhook || c.MinSeverity != fleet.SeverityError || c.Name != "Ops chat" {
		t.Errorf("stored channel = %+v, want the form's webhook with the shown secret", c)
	}
	_, body = get(t, ada, f.srv.URL+"/admin/notifications")
	if strings.Contains(body, c.Secret) {
		t.Error("the secret is shown again")
	}
	for _, want := range []string{"Ops chat", "https://hooks.example.com/ops", "Error and above", "Send test", "Nothing was sent yet."} {
		if !strings.Contains(body, want) {
			t.Errorf("channels page lacks %q", want)
		}
	}
	if _, body := get(t, bob, f.srv.URL+"/admin/notifications"); strings.Contains(body, "Ops chat") {
		t.Error("the other organisation's admin sees the channel")
	}

	bad := []struct {
		name string
		form url.Values
		want string
	}{
		{"http url", url.Values{"kind": {"webhook"}, "name": {"x"}, "target": {"http://hooks.example.com/"}, "severity": {"warning"}}, "https:// URL"},
		{"special address", url.Values{"kind": {"webhook"}, "name": {"x"}, "target": {"https://[2002::1]/"}, "severity": {"warning"}},
			"2002::1 is in 2002::/16 (6to4), not a public address"},
		{"bad address", url.Values{"kind": {"email"}, "name": {"x"}, "target": {"not an address"}, "severity": {"warning"}}, "one e-mail address"},
		{"no name", url.Values{"kind": {"email"}, "name": {" "}, "target": {"a@example.com"}, "severity": {"warning"}}, "name for the channel"},
		{"no severity", url.Values{"kind": {"email"}, "name": {"x"}, "target": {"a@example.com"}, "severity": {"unknown"}}, "minimum severity"},
		{"no kind", url.Values{"kind": {"sms"}, "name": {"x"}, "target": {"a@example.com"}, "severity": {"warning"}}, "webhook or e-mail"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			tt.form.Set("csrf", csrf)
			resp, body := post(t, ada, f.srv.URL+"/admin/notifications", tt.form, nil)
			if resp.StatusCode != 400 || !strings.Contains(body, tt.want) {
				t.Errorf("status %d, want 400 saying %q\n%.400s", resp.StatusCode, tt.want, body)
			}
		})
	}
	// A shared mailbox needs no secret: back to the list.
	mailbox := url.Values{"csrf": {csrf}, "kind": {"email"}, "name": {"Shift leads"}, "target": {"shift@example.com"}, "severity": {"critical"}}
	if resp, body := post(t, ada, f.srv.URL+"/admin/notifications", mailbox, nil); resp.StatusCode != 303 {
		t.Errorf("create mailbox: status %d\n%.400s", resp.StatusCode, body)
	}

	acts := []struct {
		name   string
		c      *http.Client
		path   string
		csrf   string
		status int
	}{
		{"viewer cannot test", vic, "/test", vcsrf, 403},
		{"other org cannot test", bob, "/test", bcsrf, 404},
		{"test", ada, "/test", csrf, 303},
		{"other org cannot delete", bob, "/delete", bcsrf, 404},
	}
	for _, tt := range acts {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := post(t, tt.c, f.srv.URL+"/admin/notifications/"+string(c.ID)+tt.path, url.Values{"csrf": {tt.csrf}}, nil)
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d\n%.400s", resp.StatusCode, tt.status, body)
			}
		})
	}
	ds, err := f.db.Deliveries(ctx, f.orgA, 10)
	if err != nil || len(ds) != 1 || ds[0].Recipient.ChannelID != c.ID || ds[0].Alert.Rule != "test" {
		t.Fatalf("deliveries = %+v, %v; want one test to the webhook", ds, err)
	}
	// The log shows attempts, with their errors.
	claimed, err := f.db.ClaimDeliveries(ctx, f.clock.Now(), time.Minute, 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim = %v, %v", claimed, err)
	}
	if err := f.db.RecordAttempt(ctx, fleet.DeliveryAttempt{DeliveryID: claimed[0].ID, Attempt: 1, At: f.clock.Now(),
		Status: fleet.DeliveryPending, Error: "webhook answered 502 Bad Gateway"}, f.clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	_, body = get(t, ada, f.srv.URL+"/admin/notifications")
	for _, want := range []string{"failed, will retry", "webhook answered 502 Bad Gateway", "Shift leads", "Critical only"} {
		if !strings.Contains(body, want) {
			t.Errorf("channels page lacks %q", want)
		}
	}
	if resp, body := post(t, ada, f.srv.URL+"/admin/notifications/"+string(c.ID)+"/delete", url.Values{"csrf": {csrf}}, nil); resp.StatusCode != 303 {
		t.Fatalf("delete: status %d\n%.400s", resp.StatusCode, body)
	}
	if chans, err := f.db.NotifyChannels(ctx, f.orgA); err != nil || len(chans) != 1 || chans[0].Name != "Shift leads" {
		t.Errorf("after delete: %v, %v; want the mailbox only", chans, err)
	}
}

func TestNotifyPrefsPage(t *testing.T) {
	f := newFixture(t)
	vic, csrf := f.login(t, "vic")
	vicUser, _, err := f.db.UserByName(t.Context(), "vic")
	if err != nil {
		t.Fatal(err)
	}
	_, body := get(t, vic, f.srv.URL+"/account/notifications")
	if !strings.Contains(body, `<option value="warning" selected>`) || strings.Contains(body, "/admin/notifications") {
		t.Errorf("default page: want warnings preselected and no admin link\n%s", body)
	}
	tests := []struct {
		name   string
		form   url.Values
		status int
		want   fleet.NotifyPrefs
	}{
		{"bad address", url.Values{"enabled": {"on"}, "email": {"vic"}, "severity": {"error"}}, 400,
			fleet.NotifyPrefs{UserID: vicUser.ID, OrgID: f.orgA, MinSeverity: fleet.SeverityWarning}},
		{"no address", url.Values{"enabled": {"on"}, "severity": {"error"}}, 400,
			fleet.NotifyPrefs{UserID: vicUser.ID, OrgID: f.orgA, MinSeverity: fleet.SeverityWarning}},
		{"on", url.Values{"enabled": {"on"}, "email": {"vic@example.com"}, "severity": {"error"}}, 303,
			fleet.NotifyPrefs{UserID: vicUser.ID, OrgID: f.orgA, Enabled: true, Email: "vic@example.com", MinSeverity: fleet.SeverityError, Lang: "de"}},
		{"off", url.Values{"email": {"vic@example.com"}, "severity": {"critical"}}, 303,
			fleet.NotifyPrefs{UserID: vicUser.ID, OrgID: f.orgA, Email: "vic@example.com", MinSeverity: fleet.SeverityCritical, Lang: "de"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.form.Set("csrf", csrf)
			resp, body := post(t, vic, f.srv.URL+"/account/notifications", tt.form, map[string]string{"Accept-Language": "de-DE"})
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d\n%.400s", resp.StatusCode, tt.status, body)
			}
			got, err := f.db.NotifyPrefs(t.Context(), f.orgA, vicUser.ID)
			if err != nil || got != tt.want {
				t.Errorf("prefs = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
	_, body = get(t, vic, f.srv.URL+"/account/notifications?saved=1")
	if !strings.Contains(body, "vic@example.com") || !strings.Contains(body, `<option value="critical" selected>`) {
		t.Errorf("page after saving lacks the saved settings\n%s", body)
	}
}
