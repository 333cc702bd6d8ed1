package notify_test

import (
	"fmt"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/notify"
)

// BenchmarkNotifyAndSend queues one revision of an alert for a webhook
// and sends it: the store's round trips (recipients, enqueue, claim,
// record) and one signed HTTPS request on loopback.
func BenchmarkNotifyAndSend(b *testing.B) {
	e := newEnv(b)
	h := newHookServer(b, e.clock)
	h.secret = e.webhook(b, h.srv.URL)
	d := e.dispatcher(b, notify.Options{WebhookTLS: h.tls(), AllowPrivateWebhooks: true})
	b.ResetTimer()
	for i := range b.N {
		a := e.alert(1)
		a.ID = fleet.AlertID(fmt.Sprintf("alr_%d", i))
		if err := d.Notify(b.Context(), a); err != nil {
			b.Fatal(err)
		}
		if n, err := d.SendDue(b.Context()); err != nil || n != 1 {
			b.Fatalf("SendDue = %d, %v", n, err)
		}
	}
	b.StopTimer()
	if ps, _ := h.got(); len(ps) != b.N {
		b.Fatalf("receiver got %d, want %d", len(ps), b.N)
	}
}
