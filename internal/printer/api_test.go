package printer

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// TestServedOverDeviceAPI serves a virtual printer over the real HTTPS
// device API and reads it back with the pinning client: everything the
// printer says passes the client's strict checks.
func TestServedOverDeviceAPI(t *testing.T) {
	p, clk := newTestPrinter(t, 77, Options{Name: "3DP 2"})
	logger := slog.New(slog.NewTextHandler(t.Output(), nil))
	cert, err := deviceapi.LoadOrCreateCertificate(t.TempDir(), nil, start)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// The Command Center reading it is paired at the printer.
	cc, err := deviceapi.LoadOrCreateClientCertificate(t.TempDir(), start)
	if err != nil {
		t.Fatal(err)
	}
	collectors, err := deviceapi.OpenCollectors(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := collectors.Pair(deviceapi.FingerprintOf(cc.Certificate[0])); err != nil {
		t.Fatal(err)
	}
	srv := deviceapi.NewServer(deviceapi.NewHandler(p, collectors, logger), cert, logger)
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})

	c := deviceapi.NewClient(ln.Addr().String(), deviceapi.FingerprintOf(cert.Certificate[0]), deviceapi.ClientOptions{Certificate: &cc})
	t.Cleanup(c.CloseIdleConnections)
	ctx := t.Context()
	id, err := c.Identity(ctx)
	if err != nil {
		t.Fatalf("Identity: %v", err)
	}
	if diff := cmp.Diff(p.Identity(), id); diff != "" {
		t.Errorf("identity (-printer +client):\n%s", diff)
	}
	var after uint64
	var n int
	for range 3 * 24 {
		clk.Advance(time.Hour)
		if _, err := c.Status(ctx); err != nil {
			t.Fatalf("Status at %v: %v", clk.Now(), err)
		}
		pg, err := c.Events(ctx, after, 5)
		if err != nil {
			t.Fatalf("Events after %d: %v", after, err)
		}
		if pg.Instance != id.Instance {
			t.Fatalf("events of instance %q, identity says %q", pg.Instance, id.Instance)
		}
		n += len(pg.Items)
		after = pg.Next
	}
	if n == 0 {
		t.Error("no events read over three simulated days")
	}
	// Every other feed and snapshot passes the client's checks too.
	jobs, err := c.Jobs(ctx, 0, 50)
	if err != nil || len(jobs.Items) == 0 {
		t.Errorf("Jobs: %d entries, %v", len(jobs.Items), err)
	}
	layers, err := c.Layers(ctx, 0, 500)
	if err != nil || len(layers.Items) == 0 {
		t.Errorf("Layers: %d records, %v", len(layers.Items), err)
	}
	for _, k := range fleet.LogKinds() {
		if pg, err := c.Logs(ctx, k, 0, 100); err != nil || len(pg.Items) == 0 {
			t.Errorf("Logs %s: %d lines, %v", k, len(pg.Items), err)
		}
	}
	if got, err := c.Counters(ctx); err != nil || got.Layers == 0 {
		t.Errorf("Counters: %+v, %v", got, err)
	}
	if got, err := c.Consumables(ctx); err != nil || len(got.Printheads) == 0 {
		t.Errorf("Consumables: %+v, %v", got, err)
	}
}
