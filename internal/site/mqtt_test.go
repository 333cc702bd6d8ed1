package site

import (
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/mqttfeed"
	"github.com/fusionfleet/fusionfleet/internal/printer"
	"github.com/fusionfleet/fusionfleet/internal/wait"
)

// Issue 17: a broker that is down is retried and shown in the local UI;
// polling and uploading go on regardless.
func TestMQTTBrokerDownAffectsNothingElse(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	addr := startPrinter(t, printer.Options{Name: "3DP 1", Seed: 7, Clock: clock.NewScaled(3600)}, ccFingerprint(t, filepath.Join(dir, "cc")))
	cloud, _ := startCloud(t, filepath.Join(dir, "cloud"), "")
	_, _, token, err := cloud.DemoTenant(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A port where no broker listens.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	broker := "mqtt://" + ln.Addr().String()
	ln.Close()

	if _, err := New(ctx, Options{DataDir: filepath.Join(dir, "bad"), CloudURL: cloud.URL(), MQTT: mqttfeed.Options{URL: "mqtt://user:pw@host"},
		Logger: discardLogger()}); err == nil || !strings.Contains(err.Error(), "no user or password") {
		t.Errorf("New with a password in the broker URL: %v, want a refusal", err)
	}

	cc, err := New(ctx, Options{
		DataDir: filepath.Join(dir, "cc"), CloudURL: cloud.URL(), RootCAs: cloud.RootCAs(), EnrolToken: token,
		Name: "test", Printers: []string{addr}, TrustNewPrinters: true, UIFirstPort: 0, UILastPort: 0,
		PollInterval: 20 * time.Millisecond, UploadInterval: 20 * time.Millisecond, PriorityDelay: 20 * time.Millisecond,
		BulkInterval: 100 * time.Millisecond, RateBytes: 1 << 20,
		MQTT:   mqttfeed.Options{URL: broker, Prefix: "site-test", Interval: 20 * time.Millisecond},
		Logger: discardLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	wait.Go(t, cc.Run)

	// The cloud hears from the site while the feed retries.
	wait.For(t, "no upload acknowledged", 30*time.Second, func() bool {
		up, err := cc.Store().UplinkState(ctx)
		return err == nil && !up.LastSuccess.IsZero()
	})
	var page string
	wait.For(t, "the local UI does not show the feed retrying", 30*time.Second, func() bool {
		res, err := http.Get(cc.URL())
		if err != nil {
			return false
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		page = string(b)
		return strings.Contains(page, "MQTT feed to "+broker+": retrying since") && strings.Contains(page, "connection refused")
	})
	res, err := http.Get(cc.URL() + "metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(metrics), "\nfusionfleet_commandcenter_mqtt_connected 0\n") {
		t.Errorf("/metrics lacks the feed, not connected:\n%s", metrics)
	}
	printers, err := cc.Store().Printers(ctx)
	if err != nil || len(printers) != 1 || printers[0].LastSeen.IsZero() {
		t.Errorf("printers = %+v, %v; want the printer polled", printers, err)
	}
}
