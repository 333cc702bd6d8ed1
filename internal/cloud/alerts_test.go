package cloud

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fusionfleet/fusionfleet/internal/alert"
	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/storetest"
	"github.com/fusionfleet/fusionfleet/internal/stream"
)

// heard is a Notifier that records alert revisions, and tells of each.
type heard struct {
	mu   sync.Mutex
	revs []int
	news chan struct{}
}

func (h *heard) Notify(ctx context.Context, a fleet.Alert) error {
	h.mu.Lock()
	h.revs = append(h.revs, a.Revision)
	h.mu.Unlock()
	select {
	case h.news <- struct{}{}:
	case <-ctx.Done():
	}
	return nil
}

// wait waits for the next alert change, until the test's deadline.
func (h *heard) wait(t *testing.T, what string) {
	t.Helper()
	select {
	case <-h.news:
	case <-t.Context().Done():
		t.Fatal(what)
	}
}

// TestAlertsConsumer runs the evaluator as a durable consumer of an
// embedded JetStream: a printer's lamp fails and recovers; a message sent
// twice under two IDs (a gateway's resend) changes nothing more.
func TestAlertsConsumer(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	db, err := openStore(ctx, t.TempDir(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := stream.Open(ctx, stream.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	org, err := db.CreateOrg(ctx, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	site, err := db.CreateSite(ctx, org, "Plant")
	if err != nil {
		t.Fatal(err)
	}
	h := &heard{news: make(chan struct{})}
	// The sweep's clock stands still at the records' time: nobody is offline.
	_, run := newAlerts(s, db, h, alert.Options{Clock: clock.NewManual(storetest.T0), Logger: slog.New(slog.DiscardHandler)})
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()

	const p = fleet.PrinterID("printer-aaaa")
	publish := func(id string, seq uint64, lamp string) {
		t.Helper()
		r := storetest.ConsumablesRecord(seq, p, 10, storetest.T0.Add(time.Duration(seq)*time.Minute))
		r.Consumables.Lamps[0].Status = lamp
		env := storetest.Env(org, site, "gw", r)
		// The SQL writer's part: alerts are about printers it stored.
		if _, err := db.ApplyEnvelope(ctx, env); err != nil {
			t.Fatal(err)
		}
		data, err := json.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Publish(ctx, id, data); err != nil {
			t.Fatal(err)
		}
	}
	publish("m1", 1, "failed")
	publish("m2", 2, "ok")
	publish("m1-resent", 1, "failed")
	publish("m3", 3, "ok")
	publish("m4", 4, "weak") // messages come in order: once this one is heard, all are
	for range 3 {
		h.wait(t, "fewer than three alert changes were heard")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if diff := cmp.Diff([]int{1, 2, 1}, h.revs); diff != "" {
		t.Errorf("notified revisions: open, resolve, a new alert (-want +got):\n%s", diff)
	}
	all, err := db.Alerts(t.Context(), org, alert.Filter{})
	if err != nil || len(all) != 2 {
		t.Errorf("alerts = %+v, %v; want the resolved one and the new one", all, err)
	}
}
