package site

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/printer"
	"github.com/fusionfleet/fusionfleet/internal/wait"
)

// With MTConnectListen the Command Center serves its printers to the MES
// over MTConnect on a port of its own, read-only.
func TestMTConnectAgent(t *testing.T) {
	ctx := t.Context()
	cloud, _ := startCloud(t, t.TempDir(), "")
	_, _, token, err := cloud.DemoTenant(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	addr := startPrinter(t, printer.Options{Name: "3DP 1", Seed: 1}, ccFingerprint(t, dir))
	cc, err := New(ctx, Options{DataDir: dir, CloudURL: cloud.URL(), RootCAs: cloud.RootCAs(), EnrolToken: token,
		Printers: []string{addr}, TrustNewPrinters: true, PollInterval: 100 * time.Millisecond,
		MTConnectListen: "127.0.0.1:0", MTConnectBufferSize: 1000, Clock: clock.Real{}, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	wait.Go(t, cc.Run)
	url := cc.MTConnectURL()
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("MTConnectURL %q", url)
	}
	get := func(method, path string) (int, string) {
		req, _ := http.NewRequestWithContext(ctx, method, url+path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	wait.For(t, "the printer in the probe", 30*time.Second, func() bool {
		status, body := get("GET", "probe")
		return status == http.StatusOK && strings.Contains(body, `name="3DP 1"`)
	})
	if status, body := get("GET", "current"); status != http.StatusOK || !strings.Contains(body, `bufferSize="1000"`) ||
		!strings.Contains(body, ">AVAILABLE</Availability>") {
		t.Errorf("current: %d\n%s", status, body)
	}
	if status, body := get("DELETE", "current"); status != http.StatusMethodNotAllowed || !strings.Contains(body, "UNSUPPORTED") {
		t.Errorf("DELETE: %d\n%s", status, body)
	}

}
