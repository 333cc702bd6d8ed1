package commandcenter

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/outbox"
)

// fillDisk makes the disk holding st full, as SQLite sees it: one
// connection (the page limit is per connection) whose database may grow
// by a few pages only. It returns a function that frees the space again.
func fillDisk(t *testing.T, st *Store) (free func()) {
	t.Helper()
	ctx := t.Context()
	st.db.SetMaxOpenConns(1)
	var pages int
	if err := st.db.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := st.db.ExecContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages+2)); err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		if _, err := st.db.ExecContext(ctx, `PRAGMA max_page_count = 1000000`); err != nil {
			t.Fatal(err)
		}
	}
}

func integrityOK(t *testing.T, st *Store) {
	t.Helper()
	var check string
	if err := st.db.QueryRowContext(t.Context(), `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check = %q, %v; want ok", check, err)
	}
}

// A full disk pauses collection with a clear alert and loses nothing:
// no cursor moves, the poller backs off, and once the disk has room again
// collection resumes by itself where it stopped.
func TestDiskFullPausesCollection(t *testing.T) {
	f := newPollerFixture(t)
	ctx := t.Context()
	dev, pr := f.add(t, "printer-a:8443", "printer-000a")
	pollOnce(t, f.p)
	f.drain(t)

	free := fillDisk(t, f.st)
	const layers = 2000
	dev.set(func(d *fakeDevice) {
		for i := range layers {
			d.layers = append(d.layers, fleet.Layer{Seq: uint64(i + 1), JobID: "job-1", Index: i + 1, SizeMM2: 3000,
				DurationSec: 9, Start: t0, End: t0.Add(9 * time.Second)})
		}
	})
	before := f.printer(t, pr.ID)

	// First failure: the poll is refused as a whole.
	f.clock.Advance(15 * time.Second)
	err := f.p.PollOnce(ctx)
	if !errors.Is(err, outbox.ErrDiskFull) || !strings.Contains(err.Error(), "collection paused") {
		t.Fatalf("PollOnce on a full disk = %v, want outbox.ErrDiskFull and collection paused", err)
	}
	ob, err := f.st.Outbox().State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !ob.Health.Failing || !ob.Health.DiskFull || !strings.Contains(ob.Health.LastError, "disk is full") ||
		!ob.Health.LastErrorAt.Equal(f.clock.Now()) {
		t.Errorf("outbox health = %+v, want the full disk shown as of now", ob.Health)
	}
	if n := len(pending(t, f.st)); n != 0 {
		t.Errorf("%d records stored on a full disk, want none", n)
	}
	after := f.printer(t, pr.ID)
	if after.Layers != before.Layers || after.EventCursor != before.EventCursor || after.Jobs != before.Jobs {
		t.Errorf("cursors moved on a full disk: %+v %d %+v, were %+v %d %+v",
			after.Layers, after.EventCursor, after.Jobs, before.Layers, before.EventCursor, before.Jobs)
	}
	if after.State != CollectionOK {
		t.Errorf("printer state %q, want it unchanged: the printer is fine", after.State)
	}
	integrityOK(t, f.st)

	// The local UI shows this health on every page (localui's
	// TestBannerShowsFullDisk).

	// Retried with backoff: due again after one interval, then after two.
	calls := dev.callCount()
	f.clock.Advance(5 * time.Second)
	if err := f.p.PollOnce(ctx); !errors.Is(err, outbox.ErrDiskFull) {
		t.Fatalf("second PollOnce = %v, want outbox.ErrDiskFull", err)
	}
	if dev.callCount() == calls {
		t.Fatal("the printer was not polled again after the interval")
	}
	calls = dev.callCount()
	f.clock.Advance(5 * time.Second)
	if err := f.p.PollOnce(ctx); err != nil {
		t.Fatalf("PollOnce while backing off = %v, want nothing done", err)
	}
	if dev.callCount() != calls {
		t.Error("the printer was polled again before its backoff ran out")
	}

	// Space again: collection resumes by itself, with everything.
	free()
	f.clock.Advance(5 * time.Second)
	pollOnce(t, f.p)
	if ob, _ := f.st.Outbox().State(ctx); ob.Health != (outbox.Health{}) {
		t.Errorf("outbox health after recovery = %+v, want zero", ob.Health)
	}
	got := 0
	for _, r := range f.drain(t) {
		switch r.Kind {
		case fleet.KindLayer:
			if got++; r.Layer.Seq != uint64(got) {
				t.Fatalf("layer %d arrived as number %d", r.Layer.Seq, got)
			}
		case fleet.KindGap:
			t.Errorf("gap after a full disk: %+v", r.Gap)
		}
	}
	if got != layers {
		t.Errorf("%d layers after recovery, want %d", got, layers)
	}
	if c := f.printer(t, pr.ID).Layers.Cursor; c != layers {
		t.Errorf("layers cursor %d after recovery, want %d", c, layers)
	}
	integrityOK(t, f.st)
}

// A diagnostic's log read on a full disk fails the same way: nothing
// stored, the log's position kept, all lines read once there is room.
func TestDiskFullLogRequest(t *testing.T) {
	f := newPollerFixture(t)
	ctx := t.Context()
	dev, pr := f.add(t, "printer-a:8443", "printer-000a")
	pollOnce(t, f.p)
	f.drain(t)
	const lines = 2000
	dev.set(func(d *fakeDevice) {
		for i := range lines {
			d.logs[fleet.LogSensors] = append(d.logs[fleet.LogSensors], fleet.LogLine{Seq: uint64(i + 1), Log: fleet.LogSensors,
				Time: t0, Text: strings.Repeat("sensor 12 reads 20.5 C ", 4)})
		}
	})
	free := fillDisk(t, f.st)
	if _, err := f.p.RequestLogs(ctx, pr.ID, fleet.LogSensors, time.Time{}); !errors.Is(err, outbox.ErrDiskFull) {
		t.Fatalf("RequestLogs on a full disk = %v, want outbox.ErrDiskFull", err)
	}
	if ob, _ := f.st.Outbox().State(ctx); !ob.Health.DiskFull {
		t.Errorf("outbox health = %+v, want the full disk shown", ob.Health)
	}
	if pos := f.printer(t, pr.ID).Logs[fleet.LogSensors]; pos.Cursor != 0 {
		t.Errorf("log position %+v after a failed read, want none", pos)
	}
	integrityOK(t, f.st)
	free()
	n, err := f.p.RequestLogs(ctx, pr.ID, fleet.LogSensors, time.Time{})
	if err != nil || n != lines {
		t.Fatalf("RequestLogs after space was freed = %d, %v; want %d lines", n, err, lines)
	}
	if ob, _ := f.st.Outbox().State(ctx); ob.Health != (outbox.Health{}) {
		t.Errorf("outbox health after recovery = %+v, want zero", ob.Health)
	}
}

// A store failure other than a full disk is not shown as one.
func TestStoreFailureIsNotDiskFull(t *testing.T) {
	f := newPollerFixture(t)
	f.add(t, "printer-a:8443", "printer-000a")
	if _, err := f.st.db.Exec(`CREATE TRIGGER fail_update BEFORE UPDATE OF status ON printers
		BEGIN SELECT RAISE(ABORT, 'constraint of some kind'); END`); err != nil {
		t.Fatal(err)
	}
	err := f.p.PollOnce(t.Context())
	if err == nil || errors.Is(err, outbox.ErrDiskFull) || strings.Contains(err.Error(), "paused") {
		t.Fatalf("PollOnce = %v, want a plain store error", err)
	}
	if ob, _ := f.st.Outbox().State(t.Context()); ob.Health.Failing {
		t.Errorf("outbox health = %+v, want it untouched", ob.Health)
	}
}
