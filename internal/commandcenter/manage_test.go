package commandcenter

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// Retiring a printer deletes nothing: its events and jobs stay, and it
// comes back, history and all, when re-activated.
func TestRetireKeepsHistory(t *testing.T) {
	st, _ := openStore(t)
	ctx := t.Context()
	pr, err := st.AddPrinter(ctx, "printer-a:8443", fpA, t0)
	if err != nil {
		t.Fatal(err)
	}
	ev := fleet.Event{Seq: 1, Code: "E1", Severity: fleet.SeverityInfo, Time: t0}
	job := deviceapi.Job{Seq: 1, Job: fleet.Job{ID: "job-1", Status: fleet.JobQueued, CreatedAt: t0}}
	if err := st.Observe(ctx, pr.ID, Observation{Status: deviceapi.Status{State: fleet.StateIdle, Time: t0}, Instance: "i1", Cursor: 1,
		Seen: t0, History: History{Instance: "i1", Events: []fleet.Event{ev}, Jobs: []deviceapi.Job{job}}}, nil); err != nil {
		t.Fatal(err)
	}
	history := func() (int, int) {
		t.Helper()
		evs, err := st.Events(ctx, pr.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		jobs, err := st.Jobs(ctx, pr.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		return len(evs), len(jobs)
	}

	if err := st.RetirePrinter(ctx, pr.ID, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := st.RetirePrinter(ctx, pr.ID, t0.Add(2*time.Hour)); err != nil {
		t.Fatalf("retiring again: %v", err)
	}
	got := storedPrinter(t, st, pr.ID)
	if !got.Retired() || !got.RetiredAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("retired at %v, want the first retirement %v", got.RetiredAt, t0.Add(time.Hour))
	}
	if evs, jobs := history(); evs != 1 || jobs != 1 {
		t.Errorf("retired printer's history: %d events, %d jobs; want 1 and 1", evs, jobs)
	}
	if ts := CheckTargets([]Printer{got}); len(ts) != 0 {
		t.Errorf("self-test targets of a retired printer: %v, want none", ts)
	}

	if err := st.ReactivatePrinter(ctx, pr.ID, t0.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	got = storedPrinter(t, st, pr.ID)
	if got.Retired() || got.State != CollectionNew || got.EventCursor != 1 || got.Fingerprint != fpA {
		t.Errorf("re-activated: retired %v state %q cursor %d pin %s; want active, new, cursor 1, pin %s",
			got.Retired(), got.State, got.EventCursor, got.Fingerprint, fpA)
	}
	if evs, jobs := history(); evs != 1 || jobs != 1 {
		t.Errorf("re-activated printer's history: %d events, %d jobs; want 1 and 1", evs, jobs)
	}

	for name, f := range map[string]func() error{
		"retire":     func() error { return st.RetirePrinter(ctx, 99, t0) },
		"reactivate": func() error { return st.ReactivatePrinter(ctx, 99, t0) },
		"rename":     func() error { return st.RenamePrinter(ctx, 99, "x") },
		"move":       func() error { return st.MovePrinter(ctx, 99, "x:1", fpA, false, t0) },
	} {
		if err := f(); !errors.Is(err, fleet.ErrNotFound) {
			t.Errorf("%s an unknown printer: %v, want ErrNotFound", name, err)
		}
	}
}

func TestRenamePrinter(t *testing.T) {
	st, _ := openStore(t)
	pr, err := st.AddPrinter(t.Context(), "printer-a:8443", fpA, t0)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, give, want string
		wantErr          bool
	}{
		{"a name", "  Halle 2 links ", "Halle 2 links", false},
		{"umlauts", "Drucker für Öl", "Drucker für Öl", false},
		{"too long", strings.Repeat("x", MaxDisplayName+1), "Drucker für Öl", true},
		{"control character", "a\nb", "Drucker für Öl", true},
		{"not UTF-8", "\xff", "Drucker für Öl", true},
		{"longest", strings.Repeat("ü", MaxDisplayName), strings.Repeat("ü", MaxDisplayName), false},
		{"cleared", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := st.RenamePrinter(t.Context(), pr.ID, tt.give)
			if (err != nil) != tt.wantErr {
				t.Fatalf("RenamePrinter(%q) = %v, want error %v", tt.give, err, tt.wantErr)
			}
			if got := storedPrinter(t, st, pr.ID).DisplayName; got != tt.want {
				t.Errorf("display name %q, want %q", got, tt.want)
			}
		})
	}
}

// Moving keeps the printer's row (its ID, and so its history); a printer
// presenting another certificate moves only when the operator confirmed
// it, and a refused move changes nothing.
func TestMovePrinter(t *testing.T) {
	tests := []struct {
		name      string
		to        string
		presented deviceapi.Fingerprint
		repin     bool
		wantErr   error
		wantAddr  string
		wantPin   deviceapi.Fingerprint
	}{
		{"same certificate", "10.0.0.9:8443", fpA, false, nil, "10.0.0.9:8443", fpA},
		{"other certificate, not confirmed", "10.0.0.9:8443", fpB, false, deviceapi.ErrPinMismatch, "printer-a:8443", fpA},
		{"other certificate, confirmed", "10.0.0.9:8443", fpB, true, nil, "10.0.0.9:8443", fpB},
		{"another printer's address", "printer-b:8443", fpA, false, fleet.ErrConflict, "printer-a:8443", fpA},
		{"its own address", "printer-a:8443", fpA, false, nil, "printer-a:8443", fpA},
		{"no fingerprint", "10.0.0.9:8443", "", true, errAny, "printer-a:8443", fpA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, _ := openStore(t)
			pr, err := st.AddPrinter(t.Context(), "printer-a:8443", fpA, t0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.AddPrinter(t.Context(), "printer-b:8443", fpB, t0); err != nil {
				t.Fatal(err)
			}
			before := st.printersVersion()
			err = st.MovePrinter(t.Context(), pr.ID, tt.to, tt.presented, tt.repin, t0.Add(time.Hour))
			switch {
			case tt.wantErr == nil && err != nil, tt.wantErr == errAny && err == nil,
				tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
				t.Fatalf("MovePrinter = %v, want %v", err, tt.wantErr)
			}
			got := storedPrinter(t, st, pr.ID)
			if got.Address != tt.wantAddr || got.Fingerprint != tt.wantPin {
				t.Errorf("printer %d at %s pinned %s, want %s pinned %s", pr.ID, got.Address, got.Fingerprint, tt.wantAddr, tt.wantPin)
			}
			if err == nil && st.printersVersion() == before {
				t.Error("a move did not count as a change of the printers: the poller would not see it")
			}
		})
	}
}

// errAny in a table wants some error, of no particular kind.
var errAny = errors.New("any error")

func TestPendingPrinters(t *testing.T) {
	st, _ := openStore(t)
	ctx := t.Context()
	if _, err := st.AddPrinter(ctx, "10.0.0.1:8443", fpA, t0); err != nil {
		t.Fatal(err)
	}
	id := &fleet.Identity{PrinterID: "printer-0002", Model: "PBF 5200", SerialNumber: "SN-2"}
	if err := st.SavePending(ctx, PendingPrinter{Address: "10.0.0.1:8443", Fingerprint: fpA, FoundAt: t0}); !errors.Is(err, fleet.ErrConflict) {
		t.Errorf("SavePending of a paired printer: %v, want ErrConflict", err)
	}
	if err := st.SavePending(ctx, PendingPrinter{Address: "", Fingerprint: fpA, FoundAt: t0}); err == nil {
		t.Error("SavePending without an address succeeded")
	}
	for _, p := range []PendingPrinter{
		{Address: "10.0.0.2:8443", Fingerprint: fpA, FoundAt: t0},
		{Address: "10.0.0.2:8443", Fingerprint: fpB, Identity: id, FoundAt: t0.Add(time.Minute)}, // found again
		{Address: "10.0.0.3:8443", Fingerprint: fpA, FoundAt: t0},
	} {
		if err := st.SavePending(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.PendingPrinters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []PendingPrinter{
		{Address: "10.0.0.2:8443", Fingerprint: fpB, Identity: id, FoundAt: t0.Add(time.Minute)},
		{Address: "10.0.0.3:8443", Fingerprint: fpA, FoundAt: t0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pending printers (-want +got):\n%s", diff)
	}
	// Pairing one takes it off the list; dropping the other too.
	if _, err := st.AddPrinter(ctx, "10.0.0.2:8443", fpB, t0); err != nil {
		t.Fatal(err)
	}
	if err := st.DropPending(ctx, "10.0.0.3:8443"); err != nil {
		t.Fatal(err)
	}
	if err := st.DropPending(ctx, "10.0.0.3:8443"); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("dropping it again: %v, want ErrNotFound", err)
	}
	if got, err := st.PendingPrinters(ctx); err != nil || len(got) != 0 {
		t.Errorf("pending printers after pairing and dropping: %v, %v; want none", got, err)
	}
}

// The poller follows the printers as the local UI changes them, without a
// restart: a retired printer is no longer polled, a re-activated one is
// again, and a moved one is polled at its new address.
func TestPollerFollowsManagedPrinters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st, _ := openStore(t)
		a, moved := newFakeDevice("printer-000a"), newFakeDevice("printer-000a")
		n := &fakeNet{devices: map[string]*fakeDevice{"printer-a:8443": a, "printer-c:8443": moved}}
		p := NewPoller(st, n.dial, PollerOptions{Interval: 10 * time.Millisecond, Resolver: sameNames{}})
		pr, err := st.AddPrinter(t.Context(), "printer-a:8443", fpA, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		calls := func(d *fakeDevice) int {
			d.mu.Lock()
			defer d.mu.Unlock()
			return d.calls
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- p.Run(ctx) }()
		elapse(200 * time.Millisecond)
		if calls(a) == 0 {
			t.Fatal("printer not polled")
		}

		if err := st.RetirePrinter(t.Context(), pr.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		elapse(100 * time.Millisecond) // the poll in flight ends
		stopped := calls(a)
		elapse(time.Second)
		if got := calls(a); got != stopped {
			t.Errorf("retired printer polled on: %d calls, then %d", stopped, got)
		}

		if err := st.ReactivatePrinter(t.Context(), pr.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		elapse(200 * time.Millisecond)
		if got := calls(a); got == stopped {
			t.Error("re-activated printer not polled")
		}

		if err := st.MovePrinter(t.Context(), pr.ID, "printer-c:8443", fpA, false, time.Now()); err != nil {
			t.Fatal(err)
		}
		elapse(200 * time.Millisecond)
		if calls(moved) == 0 {
			t.Error("moved printer not polled at its new address")
		}
		if got := storedPrinter(t, st, pr.ID); got.State != CollectionOK || got.Address != "printer-c:8443" {
			t.Errorf("moved printer: state %q at %s, want ok at printer-c:8443", got.State, got.Address)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v", err)
		}
	})
}

// A printer another process pins in the same database (`commandcenter
// discover` beside a running Command Center) is polled without a restart.
func TestPollerSeesPrintersOfOtherProcesses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st, path := openStore(t)
		other, err := Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		dev := newFakeDevice("printer-000a")
		n := &fakeNet{devices: map[string]*fakeDevice{"printer-a:8443": dev}}
		p := NewPoller(st, n.dial, PollerOptions{Interval: 10 * time.Millisecond, Resolver: sameNames{}})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- p.Run(ctx) }()
		elapse(100 * time.Millisecond)
		pr, err := other.AddPrinter(t.Context(), "printer-a:8443", fpA, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		elapse(200 * time.Millisecond)
		if got := storedPrinter(t, st, pr.ID); got.State != CollectionOK {
			t.Errorf("printer pinned by another process: state %q, want ok (polled)", got.State)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v", err)
		}
	})
}

// A display name is the site's: no record for the cloud carries it, from
// the first poll after the rename on.
func TestDisplayNameStaysOnSite(t *testing.T) {
	f := newPollerFixture(t)
	dev, pr := f.add(t, "printer-a:8443", "printer-000a")
	dev.addEvents(1)
	const name = "CANARY-display-name Halle 2"
	if err := f.st.RenamePrinter(t.Context(), pr.ID, name); err != nil {
		t.Fatal(err)
	}
	if err := f.p.PollOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	recs := pending(t, f.st)
	if len(recs) == 0 {
		t.Fatal("the poll appended no records")
	}
	b, err := json.Marshal(recs)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "CANARY-display-name") {
		t.Errorf("records for the cloud carry the display name: %s", b)
	}
	if got := storedPrinter(t, f.st, pr.ID); got.DisplayName != name || got.State != CollectionOK {
		t.Errorf("printer after the poll: name %q, state %q", got.DisplayName, got.State)
	}
}
