package commandcenter

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

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

// A group whose commit fails fails every poll in it and stores nothing of
// any of them: no row, no record. Committed again once the failure is
// gone, each poll's records are stored once. Both a group of one (its own
// transaction) and a larger one.
func TestStorePollsCommitFails(t *testing.T) {
	for _, n := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d polls", n), func(t *testing.T) {
			st, _ := openStore(t)
			// A deferred foreign key that every poll's row update breaks:
			// checked at the commit, not by the statements.
			for _, q := range []string{
				`CREATE TABLE guard_parent (id INTEGER PRIMARY KEY)`,
				`CREATE TABLE guard (printer INTEGER REFERENCES guard_parent (id) DEFERRABLE INITIALLY DEFERRED)`,
				`CREATE TRIGGER guard_poll AFTER UPDATE OF status ON printers BEGIN INSERT INTO guard VALUES (NEW.id); END`,
			} {
				if _, err := st.db.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			var ids []int64
			for i := range n {
				pr, err := st.AddPrinter(t.Context(), fmt.Sprintf("printer-%d:8443", i), fpA, t0)
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, pr.ID)
			}
			group := func() []*pollCommit {
				var g []*pollCommit
				for i, id := range ids {
					g = append(g, &pollCommit{id: id, done: make(chan pollCommitted, 1),
						obs:  Observation{Status: deviceapi.Status{State: fleet.StateIdle, Time: t0}, Seen: t0, Resolved: "x"},
						recs: []fleet.Record{statusRec(fleet.PrinterID(fmt.Sprintf("printer-%04d", i)), t0)}})
				}
				return g
			}
			failed := group()
			st.storePolls(t.Context(), failed)
			for i, req := range failed {
				if err := (<-req.done).err; err == nil || !strings.Contains(err.Error(), "FOREIGN KEY") {
					t.Errorf("poll %d of a failed commit: %v, want the commit's error", i, err)
				}
			}
			if got := pending(t, st); len(got) != 0 {
				t.Errorf("outbox holds %d records after a failed commit, want none", len(got))
			}
			ps, err := st.Printers(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range ps {
				if p.ResolvedAddress != "" || !p.LastSeen.IsZero() {
					t.Errorf("printer %d: row written by a failed commit (resolved %q, seen %v)", p.ID, p.ResolvedAddress, p.LastSeen)
				}
			}

			if _, err := st.db.Exec(`DROP TRIGGER guard_poll`); err != nil {
				t.Fatal(err)
			}
			again := group()
			st.storePolls(t.Context(), again)
			for i, req := range again {
				if err := (<-req.done).err; err != nil {
					t.Errorf("poll %d committed again: %v", i, err)
				}
			}
			var got []fleet.PrinterID
			for _, r := range pending(t, st) {
				got = append(got, r.PrinterID)
			}
			var want []fleet.PrinterID
			for i := range n {
				want = append(want, fleet.PrinterID(fmt.Sprintf("printer-%04d", i)))
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("outbox holds records of %v, want %v, each once", got, want)
			}
		})
	}
}

// A leader waits for the polls in flight to join its group, and commits at
// once when its poll is the only one.
func TestGatherCommitsWaitsForPollsInFlight(t *testing.T) {
	tests := []struct {
		inFlight int
		want     time.Duration
	}{
		{0, 0}, // PollOnce: no slots taken
		{1, 0}, // the leader's own poll
		{2, commitGather},
		{10, commitGather},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.inFlight), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := NewPoller(nil, nil, PollerOptions{MaxConcurrent: 16})
				for range tt.inFlight {
					p.slots <- struct{}{}
				}
				began := time.Now()
				p.commits.gather()
				if got := time.Since(began); got != tt.want {
					t.Errorf("with %d polls in flight, waited %v, want %v", tt.inFlight, got, tt.want)
				}
			})
		})
	}
}
