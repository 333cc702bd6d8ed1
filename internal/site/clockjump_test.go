package site

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/chaosproxy"
	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/cloud"
	"github.com/fusionfleet/fusionfleet/internal/printer"
	"github.com/fusionfleet/fusionfleet/internal/wait"
)

// jumpClock is a clock that an operator (or a failing battery) sets
// forward and back: base plus an offset that jumps.
type jumpClock struct {
	base clock.Clock
	off  atomic.Int64
}

func (c *jumpClock) Now() time.Time       { return c.base.Now().Add(time.Duration(c.off.Load())) }
func (c *jumpClock) jump(d time.Duration) { c.off.Add(int64(d)) }

// Clocks that jump (issue 19): the Command Center's clock jumps two days
// forward and back, then a day back and forward; one printer's clock
// jumps a week ahead and stays. The cloud, on the right time, refuses
// records dated more than a day ahead, and signed uploads whose time is
// minutes off its own; the Command Center sets aside only the records
// refused, keeps the rest until its clock is right, and then delivers
// them at once: every record the gateway numbered is in the cloud exactly
// once or set aside in its outbox, and the other printer loses nothing to
// the first one's clock.
func TestClockJumps(t *testing.T) {
	t.Parallel() // a cloud, printers and a Command Center of its own
	dir := t.TempDir()
	ctx := t.Context()
	ccClock := &jumpClock{base: clock.Real{}}
	// The printers run ten hours a minute: enough records to see each
	// step, and never a day ahead of the cloud within the test.
	aClock := &jumpClock{base: clock.NewScaled(600)}
	fp := ccFingerprint(t, filepath.Join(dir, "cc"))
	a := startPrinter(t, printer.Options{Name: "3DP A", Seed: 7, Clock: aClock}, fp)
	b := startPrinter(t, printer.Options{Name: "3DP B", Seed: 8, Clock: clock.NewScaled(600)}, fp)

	// The cloud refuses records dated more than a day ahead, its default.
	cl, err := cloud.New(ctx, cloud.Options{DataDir: filepath.Join(dir, "cloud"), Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	wait.Go(t, cl.Run)
	_, _, token, err := cl.DemoTenant(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := New(ctx, Options{
		DataDir: filepath.Join(dir, "cc"), CloudURL: cl.URL(), RootCAs: cl.RootCAs(), EnrolToken: token,
		Name: "test", Printers: []string{a, b}, TrustNewPrinters: true, Clock: ccClock,
		PollInterval: 20 * time.Millisecond, UploadInterval: 20 * time.Millisecond, PriorityDelay: 20 * time.Millisecond,
		BulkInterval: 100 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, RateBytes: 1 << 20,
		Logger: discardLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ccRun := wait.Go(t, cc.Run)
	cloudDB, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "cloud", "cloud.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer cloudDB.Close()
	held := func() map[uint64]int {
		t.Helper()
		rows, err := cloudDB.QueryContext(ctx, `SELECT seq FROM received UNION ALL SELECT record_seq FROM layers
			UNION ALL SELECT record_seq FROM logs`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		m := map[uint64]int{}
		for rows.Next() {
			var s uint64
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			m[s]++
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return m
	}
	settle := func(what string) {
		t.Helper()
		n := len(held())
		// Generous for the race detector on a busy machine.
		if !wait.Holds(90*time.Second, func() bool { return len(held()) > n+5 }) {
			pend, _ := cc.Store().Outbox().PendingCount(ctx)
			t.Fatalf("%s: no new records in the cloud in 90s; %d pending in the outbox", what, pend)
		}
	}

	settle("at the start")
	ccClock.jump(48 * time.Hour)
	time.Sleep(time.Second)
	ccClock.jump(-48 * time.Hour)
	settle("after the Command Center's clock came back from two days ahead")
	// A day behind, the Command Center's signed uploads are refused
	// (their time is too far from the cloud's): it keeps collecting, and
	// delivers once its clock is right again.
	ccClock.jump(-24 * time.Hour)
	time.Sleep(2 * time.Second)
	ccClock.jump(24 * time.Hour)
	settle("after the Command Center's clock came back from a day behind")
	aClock.jump(7 * 24 * time.Hour)
	settle("with printer A a week ahead")

	pending := func() int {
		n, err := cc.Store().Outbox().PendingCount(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	wait.For(t, "the outbox did not drain", 120*time.Second, func() bool { return pending() == 0 })
	ccRun.Stop()

	ccDB, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "cc", "commandcenter.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer ccDB.Close()
	var next uint64
	if err := ccDB.QueryRowContext(ctx, `SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'next_seq'`).Scan(&next); err != nil {
		t.Fatal(err)
	}
	aside := map[uint64]bool{}
	rows, err := ccDB.QueryContext(ctx, `SELECT seq FROM outbox`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s uint64
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		aside[s] = true
	}
	rows.Close()
	want := next - 1 - uint64(len(aside))
	wait.For(t, "the cloud store did not catch up", 120*time.Second, func() bool { return uint64(len(held())) >= want })
	m := held()
	var missing, twice, both []uint64
	for seq := uint64(1); seq < next; seq++ {
		switch n := m[seq]; {
		case aside[seq] && n > 0:
			both = append(both, seq)
		case !aside[seq] && n == 0:
			missing = append(missing, seq)
		case n > 1:
			twice = append(twice, seq)
		}
	}
	if len(missing)+len(twice)+len(both) > 0 {
		t.Errorf("the gateway numbered %d records, %d set aside: the cloud misses %v, holds twice %v, holds set-aside %v",
			next-1, len(aside), missing, twice, both)
	}
	if len(aside) == 0 {
		t.Error("nothing set aside: printer A's records a week ahead reached the cloud")
	}
	// Printer B's events are all in the cloud, from the first, once.
	var count, distinct, lo, hi uint64
	err = cloudDB.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(DISTINCT e.seq), MIN(e.seq), MAX(e.seq) FROM events e
		JOIN printers p ON p.id = e.printer_id WHERE p.name = '3DP B'`).Scan(&count, &distinct, &lo, &hi)
	if err != nil {
		t.Fatal(err)
	}
	if count == 0 || count != distinct || lo != 1 || hi != count {
		t.Errorf("printer B: %d events, %d distinct, seq %d..%d in the cloud; want every event from 1 once", count, distinct, lo, hi)
	}
	t.Logf("%d records, %d set aside (dated ahead), printer B %d events", next-1, len(aside), count)
}

// A printer back after a week (issue 19): the printer is unreachable while
// a week passes for everyone — the cloud, the Command Center and the
// printer, which goes on producing events, more than its buffer holds.
// When it answers again, the Command Center reads on from where it left
// off and declares the events the printer overwrote meanwhile as a gap:
// in the cloud every event of the printer is there once or inside a
// declared gap, with nothing else.
func TestPrinterBackAfterAWeek(t *testing.T) {
	t.Parallel() // a cloud, printers and a Command Center of its own
	dir := t.TempDir()
	ctx := t.Context()
	var week = 7 * 24 * time.Hour
	cloudClock := &jumpClock{base: clock.Real{}}
	ccClock := &jumpClock{base: clock.Real{}}
	pClock := &jumpClock{base: clock.NewScaled(60)}
	fp := ccFingerprint(t, filepath.Join(dir, "cc"))
	addr := startPrinter(t, printer.Options{Name: "3DP W", Seed: 11, Clock: pClock, EventCapacity: 20, LayerCapacity: 100}, fp)
	proxy, err := chaosproxy.New(addr, chaosproxy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wait.Go(t, proxy.Run)

	cl, err := cloud.New(ctx, cloud.Options{DataDir: filepath.Join(dir, "cloud"), Hosts: []string{"127.0.0.1"}, Clock: cloudClock})
	if err != nil {
		t.Fatal(err)
	}
	wait.Go(t, cl.Run)
	_, _, token, err := cl.DemoTenant(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := New(ctx, Options{
		DataDir: filepath.Join(dir, "cc"), CloudURL: cl.URL(), RootCAs: cl.RootCAs(), EnrolToken: token,
		Name: "test", Printers: []string{proxy.Addr()}, TrustNewPrinters: true, Clock: ccClock,
		PollInterval: 20 * time.Millisecond, UploadInterval: 20 * time.Millisecond, PriorityDelay: 20 * time.Millisecond,
		BulkInterval: 100 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, RateBytes: 1 << 20,
		Logger: discardLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ccRun := wait.Go(t, cc.Run)
	cloudDB, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "cloud", "cloud.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer cloudDB.Close()
	events := func() (n, hi uint64) {
		t.Helper()
		if err := cloudDB.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM events`).Scan(&n, &hi); err != nil {
			t.Fatal(err)
		}
		return n, hi
	}
	wait.For(t, "no events in the cloud", 90*time.Second, func() bool { n, _ := events(); return n > 0 })

	// The printer goes away; a week passes for everyone.
	proxy.Partition(time.Hour)
	_, before := events()
	cloudClock.jump(week)
	ccClock.jump(week)
	pClock.jump(week)
	time.Sleep(time.Second)
	proxy.Heal()
	wait.For(t, "no events after the printer came back", 120*time.Second, func() bool { _, hi := events(); return hi > before+20 })
	wait.For(t, "the outbox did not drain", 120*time.Second, func() bool {
		n, err := cc.Store().Outbox().PendingCount(ctx)
		return err == nil && n == 0
	})
	ccRun.Stop()

	// Every event seq from 1 to the highest is held once or in a gap,
	// once the cloud's writer has applied what it acknowledged.
	type span struct{ from, to uint64 }
	var (
		got  map[uint64]int
		gaps []span
		hi   uint64
	)
	audit := func() error {
		got, gaps = map[uint64]int{}, nil
		rows, err := cloudDB.QueryContext(ctx, `SELECT seq FROM events`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var s uint64
			if err := rows.Scan(&s); err != nil {
				rows.Close()
				return err
			}
			got[s]++
		}
		rows.Close()
		rows, err = cloudDB.QueryContext(ctx, `SELECT from_seq, to_seq FROM gaps WHERE feed = 'events'`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var g span
			if err := rows.Scan(&g.from, &g.to); err != nil {
				rows.Close()
				return err
			}
			gaps = append(gaps, g)
		}
		rows.Close()
		_, hi = events()
		inGap := func(s uint64) bool {
			for _, g := range gaps {
				if s >= g.from && s <= g.to {
					return true
				}
			}
			return false
		}
		var missing, twice, both []uint64
		for s := uint64(1); s <= hi; s++ {
			switch n := got[s]; {
			case n == 0 && !inGap(s):
				missing = append(missing, s)
			case n > 1:
				twice = append(twice, s)
			case n == 1 && inGap(s):
				both = append(both, s)
			}
		}
		if len(missing)+len(twice)+len(both) > 0 {
			return fmt.Errorf("events 1..%d: missing and undeclared %v, twice %v, held and declared missing %v (gaps %v)", hi, missing, twice, both, gaps)
		}
		return nil
	}
	if err := wait.Until(60*time.Second, 200*time.Millisecond, audit); err != nil {
		t.Error(err)
	}
	if len(gaps) == 0 {
		t.Errorf("no gap declared after a week away with a buffer of 20 events (events 1..%d, %d held)", hi, len(got))
	}
	t.Logf("events 1..%d: %d held, gaps %v", hi, len(got), gaps)
}
