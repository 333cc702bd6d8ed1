package commandcenter

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
)

// testCC is the client certificate of the tests' Command Center, made once
// per test binary.
var testCC = sync.OnceValue(func() *tls.Certificate {
	dir, err := os.MkdirTemp("", "cc")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	cert, err := deviceapi.LoadOrCreateClientCertificate(dir, time.Now())
	if err != nil {
		panic(err)
	}
	return &cert
})

// deviceHandler serves d's device API to the tests' Command Center, paired
// at the printer as an operator would.
func deviceHandler(t testing.TB, d deviceapi.Device) http.Handler {
	t.Helper()
	return deviceapi.NewHandler(d, pairedCollectors(t, testCC()), slog.New(slog.DiscardHandler))
}

// pairedCollectors returns a printer's list of collectors, kept in a
// temporary directory, with certs paired.
func pairedCollectors(t testing.TB, certs ...*tls.Certificate) *deviceapi.Collectors {
	t.Helper()
	c, err := deviceapi.OpenCollectors(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, cert := range certs {
		if err := c.Pair(deviceapi.FingerprintOf(cert.Certificate[0])); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// A printer that has not paired this Command Center answers 401: the
// poller marks it "not paired", saying which fingerprint to confirm at the
// printer, counts the error by its kind, stores nothing and loses nothing:
// once the operator pairs the Command Center at the printer, the next poll
// collects everything from the first event on.
func TestPollerNotPaired(t *testing.T) {
	st, _ := openStore(t)
	clk := clock.NewManual(t0)
	p := NewPoller(st, realDialer(2*time.Second, 0), PollerOptions{Clock: clk})
	dev := newFakeDevice("printer-000a")
	dev.addEvents(1, 2, 3)
	dev.set(func(d *fakeDevice) { d.status = printingStatus("job-1", 3000) })
	collectors := pairedCollectors(t) // the printer pairs nobody yet
	printer := startPrinter(t, deviceapi.NewHandler(served{dev}, collectors, slog.New(slog.DiscardHandler)), nil)
	pr, err := st.AddPrinter(t.Context(), printer.addr(), printer.pin, t0)
	if err != nil {
		t.Fatal(err)
	}
	fp := deviceapi.FingerprintOf(testCC().Certificate[0])

	if err := p.PollOnce(t.Context()); !errors.Is(err, deviceapi.ErrNotPaired) {
		t.Fatalf("PollOnce of a printer not pairing us: %v, want ErrNotPaired", err)
	}
	got := storedPrinter(t, st, pr.ID)
	if got.State != CollectionNotPaired || got.ErrorKind != ErrorNotPaired ||
		!strings.Contains(got.LastError, "confirm this Command Center's fingerprint "+string(fp)+" at the printer") {
		t.Errorf("printer: state %q kind %q error %q; want not paired, naming %s", got.State, got.ErrorKind, got.LastError, fp)
	}
	if n := p.Stats().PollErrors[ErrorNotPaired]; n != 1 {
		t.Errorf("not_paired errors counted: %d, want 1 (%v)", n, p.Stats().PollErrors)
	}
	if recs := pending(t, st); len(recs) != 0 {
		t.Errorf("records from an unpaired printer: %v, want none", kinds(recs))
	}
	// The poller keeps trying, with backoff, not stopping as for a changed certificate.
	clk.Advance(time.Minute)
	if err := p.PollOnce(t.Context()); !errors.Is(err, deviceapi.ErrNotPaired) {
		t.Fatalf("second PollOnce: %v, want ErrNotPaired again", err)
	}

	if err := collectors.Pair(fp); err != nil { // the operator, at the printer
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if err := p.PollOnce(t.Context()); err != nil {
		t.Fatalf("PollOnce once paired: %v", err)
	}
	if got := storedPrinter(t, st, pr.ID); got.State != CollectionOK || got.LastError != "" || got.EventCursor != 3 {
		t.Errorf("printer once paired: state %q error %q cursor %d; want ok from event 3", got.State, got.LastError, got.EventCursor)
	}
	var events []string
	for _, k := range kinds(pending(t, st)) {
		if strings.HasPrefix(k, "event:") {
			events = append(events, k)
		}
	}
	if diff := cmp.Diff([]string{"event:1", "event:2", "event:3"}, events); diff != "" {
		t.Errorf("events once paired (-want +got):\n%s", diff)
	}
}
