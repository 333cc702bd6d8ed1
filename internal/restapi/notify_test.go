package restapi

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
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

func TestNotificationChannelsAPI(t *testing.T) {
	f := newFixture(t)
	admin := f.a.tokens["admin"]
	bad := []struct{ name, body, msg string }{
		{"http", `{"kind":"webhook","name":"x","target":"http://hooks.example.com/","min_severity":"warning"}`, "https:// URL"},
		{"special address", `{"kind":"webhook","name":"x","target":"https://198.18.0.1/","min_severity":"warning"}`,
			"198.18.0.1 is in 198.18.0.0/15 (benchmarking), not a public address"},
		{"address", `{"kind":"email","name":"x","target":"Ada <a@example.com>","min_severity":"warning"}`, "one e-mail address"},
		{"kind", `{"kind":"sms","name":"x","target":"a@example.com","min_severity":"warning"}`, "not the JSON object"},
		{"no severity", `{"kind":"email","name":"x","target":"a@example.com"}`, "min_severity must be"},
		{"no name", `{"kind":"email","name":" ","target":"a@example.com","min_severity":"warning"}`, "name is required"},
		{"secret given", `{"kind":"webhook","name":"x","target":"https://h.example.com/","min_severity":"warning","secret":"mine"}`, "not the JSON object"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			status, body := f.do(t, "POST", "/api/v1/notification-channels", admin, tt.body)
			if status != 400 || !strings.Contains(body, tt.msg) {
				t.Errorf("= %d %s, want 400 with %q", status, body, tt.msg)
			}
		})
	}
	status, body := f.do(t, "POST", "/api/v1/notification-channels", admin,
		`{"kind":"webhook","name":"Ops","target":"https://hooks.example.com/ops","min_severity":"error"}`)
	if status != 201 {
		t.Fatalf("create = %d %s", status, body)
	}
	var created struct {
		ID     fleet.NotifyChannelID `json:"id"`
		Kind   string                `json:"kind"`
		Secret string                `json:"secret"`
	}
	if err := json.Unmarshal([]byte(body), &created); err != nil || created.Kind != "webhook" || len(created.Secret) != 43 {
		t.Fatalf("created = %s, %v; want a webhook with a secret", body, err)
	}
	stored, err := f.db.NotifyChannel(t.Context(), f.a.org, created.ID)
	if err != nil || stored.Secret != created.Secret {
		t.Errorf("stored = %+v, %v; want the answered secret", stored, err)
	}
	_, body = f.do(t, "GET", "/api/v1/notification-channels", admin, "")
	if strings.Contains(body, created.Secret) || !strings.Contains(body, `"target":"https://hooks.example.com/ops"`) {
		t.Errorf("list = %s; want the channel without its secret", body)
	}
	if status, body := f.do(t, "POST", "/api/v1/notification-channels/"+string(created.ID)+"/test", admin, ""); status != 202 {
		t.Fatalf("test = %d %s", status, body)
	}
	claimed, err := f.db.ClaimDeliveries(t.Context(), f.clock.Now(), time.Minute, 10)
	if err != nil || len(claimed) != 1 || claimed[0].Recipient.ChannelID != created.ID {
		t.Fatalf("queued = %+v, %v; want the test", claimed, err)
	}
	at := f.clock.Now().UTC()
	if err := f.db.RecordAttempt(t.Context(), fleet.DeliveryAttempt{DeliveryID: claimed[0].ID, Attempt: 1, At: at,
		Status: fleet.DeliveryFailed, Error: "webhook answered 410 Gone"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	_, body = f.do(t, "GET", "/api/v1/deliveries?limit=5", admin, "")
	var log []fleet.DeliveryAttempt
	if err := json.Unmarshal([]byte(body), &log); err != nil {
		t.Fatalf("deliveries = %s: %v", body, err)
	}
	want := []fleet.DeliveryAttempt{{DeliveryID: claimed[0].ID, AlertID: claimed[0].Alert.ID, Revision: 1, Kind: fleet.ChannelWebhook,
		Target: "https://hooks.example.com/ops", ChannelID: created.ID, Attempt: 1, At: at, Status: fleet.DeliveryFailed,
		Error: "webhook answered 410 Gone"}}
	if diff := cmp.Diff(want, log); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
	if status, body := f.do(t, "GET", "/api/v1/deliveries?limit=0", admin, ""); status != 400 {
		t.Errorf("limit 0 = %d %s, want 400", status, body)
	}
	if status, _ := f.do(t, "DELETE", "/api/v1/notification-channels/"+string(created.ID), admin, ""); status != 204 {
		t.Errorf("delete = %d, want 204", status)
	}
	if status, _ := f.do(t, "DELETE", "/api/v1/notification-channels/"+string(created.ID), admin, ""); status != 404 {
		t.Errorf("second delete = %d, want 404", status)
	}
}

func TestNotificationPrefsAPI(t *testing.T) {
	f := newFixture(t)
	tok := f.a.tokens["viewer"]
	_, body := f.do(t, "GET", "/api/v1/notification-prefs", tok, "")
	if body != `{"enabled":false,"email":"","min_severity":"warning"}`+"\n" {
		t.Errorf("default = %s", body)
	}
	tests := []struct {
		name, body string
		status     int
		want       string
	}{
		{"on", `{"enabled":true,"email":"vic@example.com","min_severity":"error","lang":"de"}`, 200,
			`{"enabled":true,"email":"vic@example.com","min_severity":"error","lang":"de"}`},
		{"no address", `{"enabled":true,"min_severity":"error"}`, 400, "email must be"},
		{"header injection", `{"enabled":true,"email":"vic@example.com\r\nBcc: eve@example.com","min_severity":"error"}`, 400, "email must be"},
		{"language", `{"enabled":true,"email":"vic@example.com","min_severity":"error","lang":"fr"}`, 400, "lang must be"},
		{"no severity", `{"enabled":false,"email":""}`, 400, "min_severity must be"},
		{"off", `{"enabled":false,"email":"","min_severity":"critical"}`, 200, `{"enabled":false,"email":"","min_severity":"critical"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := f.do(t, "PUT", "/api/v1/notification-prefs", tok, tt.body)
			if status != tt.status || !strings.Contains(body, tt.want) {
				t.Errorf("= %d %s, want %d with %q", status, body, tt.status, tt.want)
			}
		})
	}
}

// With private webhooks allowed (closed on-premises networks), a webhook
// to a special-purpose address may be saved.
func TestNotificationChannelPrivateAllowed(t *testing.T) {
	f := newFixture(t)
	f.h.notify.allowPrivate = true
	status, body := f.do(t, "POST", "/api/v1/notification-channels", f.a.tokens["admin"],
		`{"kind":"webhook","name":"On site","target":"https://10.0.0.5:8443/hook","min_severity":"error"}`)
	if status != 201 {
		t.Errorf("create = %d %s, want 201", status, body)
	}
}
