package e2e

import (
	"strings"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/mqttfeed/mqtttest"
)

// Issue 17: the demo's Command Center feeds an MQTT broker and says where
// (the `mqtt:` line); a real client sees each printer's retained state and
// the Command Center's birth, and its farewell at Ctrl-C.
func TestDemoMQTTFeed(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	b := mqtttest.Start(t)
	demo := startDemo(t, buildBinary(t), t.TempDir(), "-mqtt", b.OpenURL())
	url, prefix, _ := strings.Cut(demo.lines["mqtt"], " ")
	if url != b.OpenURL() || prefix != "fusionfleet/demo" {
		t.Fatalf("mqtt line %q, want %s fusionfleet/demo", demo.lines["mqtt"], b.OpenURL())
	}
	sub := b.Subscribe(prefix + "/#")
	// Published before the subscription, a message arrives retained; after
	// it, live.
	either := func(topic string, contains ...string) func(mqtttest.Arrival) bool {
		retained, live := mqtttest.On(topic, true, contains...), mqtttest.On(topic, false, contains...)
		return func(a mqtttest.Arrival) bool { return retained(a) || live(a) }
	}
	sub.Await("birth", either(prefix+"/status", `"state":"online"`))
	printers := map[string]bool{}
	for len(printers) < 2 {
		a := sub.Await("a printer's state", either(prefix+"/printers/+/state", `"collection":"ok"`, `"status":{`))
		printers[a.Topic] = true
	}
	fresh := b.Subscribe(prefix + "/+/+/state")
	fresh.Await("a retained state", mqtttest.On(prefix+"/printers/+/state", true, `"collection":"ok"`))
	demo.stop(t)
	sub.Await("farewell", mqtttest.On(prefix+"/status", false, `"state":"offline"`, `"reason":"stopped"`))
}
