package commandcenter

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// A group of polls is committed together; a poll refused within it (its
// printer gone) fails alone, and the others' rows and records are stored.
func TestStorePollsGroup(t *testing.T) {
	st, _ := openStore(t)
	var group []*pollCommit
	for i := range 3 {
		pr, err := st.AddPrinter(t.Context(), fmt.Sprintf("printer-%d:8443", i), fpA, t0)
		if err != nil {
			t.Fatal(err)
		}
		id := pr.ID
		if i == 1 {
			id = 999 // no such printer
		}
		group = append(group, &pollCommit{id: id, done: make(chan pollCommitted, 1),
			obs:  Observation{Status: deviceapi.Status{State: fleet.StateIdle, Time: t0}, Seen: t0, Resolved: pr.Address},
			recs: []fleet.Record{statusRec(fleet.PrinterID(fmt.Sprintf("printer-%04d", i)), t0)}})
	}
	st.storePolls(t.Context(), group)
	for i, req := range group {
		err := (<-req.done).err
		if want := i == 1; (err != nil) != want || want && !errors.Is(err, fleet.ErrNotFound) {
			t.Errorf("poll %d: %v, want failure %v (not found)", i, err, want)
		}
	}
	var got []fleet.PrinterID
	for _, r := range pending(t, st) {
		got = append(got, r.PrinterID)
	}
	if want := []fleet.PrinterID{"printer-0000", "printer-0002"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("outbox holds records of %v, want %v", got, want)
	}
	ps, err := st.Printers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range ps {
		if want := i != 1; (p.State == CollectionOK) != want {
			t.Errorf("printer %d: state %q, stored %v", i, p.State, want)
		}
	}
}

// Polls stored concurrently are all committed, each answered with its own
// outcome, whoever leads the group.
func TestPollCommitsConcurrent(t *testing.T) {
	st, _ := openStore(t)
	c := &pollCommits{st: st}
	const n = 40
	ids := make([]int64, n)
	for i := range n {
		pr, err := st.AddPrinter(t.Context(), fmt.Sprintf("printer-%d:8443", i), fpA, t0)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = pr.ID
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			id := ids[i]
			if i%10 == 3 {
				id = -1 // refused: no such printer
			}
			errs[i] = c.store(t.Context(), id, Observation{Status: deviceapi.Status{State: fleet.StateIdle, Time: t0}, Seen: t0},
				[]fleet.Record{statusRec(fleet.PrinterID(fmt.Sprintf("printer-%04d", i)), t0)})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if want := i%10 == 3; (err != nil) != want {
			t.Errorf("poll %d: %v, want failure %v", i, err, want)
		}
	}
	if got, want := len(pending(t, st)), n-n/10; got != want {
		t.Errorf("%d records in the outbox, want %d", got, want)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.leading || len(c.queue) > 0 {
		t.Errorf("after every poll: leading %v, %d queued, want neither", c.leading, len(c.queue))
	}
}
