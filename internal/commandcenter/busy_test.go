package commandcenter

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// A Command Center that pairs with hundreds of printers polls them all at
// once at its start: hundreds of goroutines write to the store together.
// SQLite lets one write at a time and makes the others retry for its busy
// timeout (10 s), sleeping between tries; a writer that keeps losing the
// race got "database is locked (SQLITE_BUSY)" (issue 13: 115 errors with
// 500 printers). The store queues its writers instead: under its own load
// it waits, it never fails. The writers here contend for longer than the
// busy timeout.
func TestConcurrentWritersWaitTheirTurn(t *testing.T) {
	if testing.Short() {
		t.Skip("writes for longer than SQLite's busy timeout")
	}
	st, _ := openStore(t)
	ctx := t.Context()
	const printers = 100
	ids := make([]int64, printers)
	for i := range printers {
		p, err := st.AddPrinter(ctx, fmt.Sprintf("printer-%d.site:8443", i), deviceapi.Fingerprint(fmt.Sprintf("FP:%03d", i)), t0)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = p.ID
	}
	const busyTimeout = 10 * time.Second // sqlitedb's busy_timeout
	end := time.Now().Add(busyTimeout + time.Second)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		errs   []error
		writes int
	)
	for i, id := range ids {
		wg.Go(func() {
			for r := 0; time.Now().Before(end); r++ {
				at := t0.Add(time.Duration(r) * time.Second)
				err := st.Observe(ctx, id, Observation{Seen: at, Status: deviceapi.Status{State: fleet.StateIdle}},
					[]fleet.Record{gapRec(uint64(i*100000 + r))})
				if err == nil {
					err = st.MarkFailed(ctx, id, CollectionUnreachable, "connection refused", at)
				}
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					writes += 2
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Errorf("%d of %d writers failed under the store's own load, e.g.: %v", len(errs), printers, errors.Join(errs[:min(3, len(errs))]...))
	}
	t.Logf("%d writes by %d writers in %s", writes, printers, busyTimeout+time.Second)
}

// Readers (the local UI, the uploader) do not queue behind the writers:
// they read on connections of their own while a write transaction is open.
func TestReadsDoNotWaitForWriters(t *testing.T) {
	st, _ := openStore(t)
	if _, err := st.AddPrinter(t.Context(), "printer-1.site:8443", fpA, t0); err != nil {
		t.Fatal(err)
	}
	held, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- st.inTx(t.Context(), func(*sql.Tx) error {
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if ps, err := st.Printers(ctx); err != nil || len(ps) != 1 {
		t.Errorf("printers during a write: %d, %v; want 1 at once", len(ps), err)
	}
	if _, err := st.Outbox().PendingCount(ctx); err != nil {
		t.Errorf("outbox during a write: %v", err)
	}
	if _, err := st.UplinkState(ctx); err != nil {
		t.Errorf("uplink state during a write: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
