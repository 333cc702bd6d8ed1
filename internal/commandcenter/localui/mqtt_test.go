package localui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/mqttfeed"
)

// feedState is an MQTT feed standing still in one state.
type feedState mqttfeed.State

func (f feedState) State() mqttfeed.State { return mqttfeed.State(f) }

func TestPrintersPageShowsTheMQTTFeed(t *testing.T) {
	st := handlerStore(t)
	since := handlerNow.Add(-time.Hour)
	const german = "de-DE,de;q=0.9"
	for _, tt := range []struct {
		name   string
		feed   MQTTFeed
		accept string
		want   []string
		not    []string
	}{
		{name: "no feed", not: []string{"MQTT"}},
		{name: "connected", feed: feedState{Broker: "mqtt://broker.site:1883", Prefix: "plant", Connected: true, Since: since},
			want: []string{`<span class="ok">MQTT feed to mqtt://broker.site:1883 (topics plant/…): connected since`}, not: []string{"messages waiting"}},
		{name: "refused", feed: feedState{Broker: "mqtts://broker.site", Prefix: "ff", Since: since, LastError: "not Authorized",
			LastErrorAt: handlerNow, Queued: 12, Dropped: 3},
			want: []string{`<span class="bad">MQTT feed to mqtts://broker.site: retrying since`, ": not Authorized",
				"12 messages waiting", "3 messages dropped from the full queue"}},
		{name: "refused, in German", accept: german, feed: feedState{Broker: "mqtts://broker.site", Prefix: "ff", Since: since,
			LastError: "not Authorized", LastErrorAt: handlerNow, Queued: 12, Dropped: 3},
			want: []string{"MQTT-Feed an mqtts://broker.site: neue Versuche seit", "12 Nachrichten warten", "3 Nachrichten aus der vollen Warteschlange verworfen"}},
		{name: "connecting", feed: feedState{Broker: "mqtt://broker.site"}, want: []string{"MQTT feed to mqtt://broker.site: connecting"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHandler(SourcesOf(st), HandlerOptions{Clock: clock.NewManual(handlerNow), MQTT: tt.feed})
			req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/", nil)
			req.Host = "localhost"
			req.Header.Set("Accept-Language", tt.accept)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			body := rec.Body.String()
			if rec.Code != http.StatusOK {
				t.Fatalf("GET /: %d %s", rec.Code, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(body, w) {
					t.Errorf("page has %q", w)
				}
			}
		})
	}
}
