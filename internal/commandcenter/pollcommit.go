package commandcenter

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// Polls that end at the same time share one transaction (group commit).
// Every poll is committed durably before Poll returns, and committing costs
// about the same whether it carries one printer's poll or thirty: the
// write-ahead log is synced once. Run has up to MaxConcurrent polls in
// flight, so at a few hundred printers their commits, one each, would take
// most of the poller's time and queue for the one writer; grouped, they
// cost a fraction and wait less. Each poll keeps its own savepoint, so one
// refused (its printer deleted meanwhile, say) fails that poll only.
//
// Polls end together less often than they seem to: Run polls each printer
// at its own phase of the interval, so at 2,000 printers the polls that
// write end a few milliseconds apart, and most groups held one poll. So a
// leader waits commitGather for the polls still in flight to join its
// group when there are any (Run's slots say so), and commits at once when
// its poll is the only one: a poll's records wait up to that much longer
// to be durable (p99 poll → store, target 250 ms, grows by as much), and
// the commits' CPU (their fsyncs and the transactions' overhead) dropped
// to a third in the fleet benchmark. The waiting costs no CPU.

// commitGather is how long a leader waits for polls in flight to join its
// group: at 400 polls a second, about ten of them end meanwhile.
const commitGather = 25 * time.Millisecond

// pollCommits queues the polls waiting to be committed. The first caller to
// find no commit under way leads: it commits everything queued, its own
// poll included, then hands the lead to the first poll queued meanwhile.
type pollCommits struct {
	st *Store
	// gather, if set, is called by a leader before it takes the queue:
	// it waits for the polls in flight to join (commitGather).
	gather func()

	mu      sync.Mutex
	queue   []*pollCommit
	leading bool
}

// pollCommit is one poll's results waiting to be committed.
type pollCommit struct {
	id   int64
	obs  Observation
	recs []fleet.Record
	done chan pollCommitted // buffered: the leader never blocks
}

// pollCommitted is a poll's outcome, or the order to lead the next group.
type pollCommitted struct {
	err  error
	lead bool
}

// store commits one poll's results with those of the polls ending at the
// same time, and returns this poll's outcome once it is durable (or not).
func (c *pollCommits) store(ctx context.Context, id int64, o Observation, recs []fleet.Record) error {
	req := &pollCommit{id: id, obs: o, recs: recs, done: make(chan pollCommitted, 1)}
	c.mu.Lock()
	c.queue = append(c.queue, req)
	lead := !c.leading
	c.leading = true
	c.mu.Unlock()
	if !lead {
		res := <-req.done
		if !res.lead {
			return res.err
		}
	}
	if c.gather != nil {
		c.gather()
	}
	c.mu.Lock()
	group := c.queue
	c.queue = nil
	c.mu.Unlock()
	c.st.storePolls(ctx, group)
	c.mu.Lock()
	if len(c.queue) > 0 {
		c.queue[0].done <- pollCommitted{lead: true}
	} else {
		c.leading = false
	}
	c.mu.Unlock()
	return (<-req.done).err
}

// storePolls stores every poll of group (as Observe) in one transaction,
// each in a savepoint of its own, and tells each its outcome. The outbox
// health follows each outcome (Outbox.Stored): a full disk pauses
// collection, a poll stored clears it.
func (s *Store) storePolls(ctx context.Context, group []*pollCommit) {
	// One poller's cancellation must not fail the others' polls.
	ctx = context.WithoutCancel(ctx)
	errs := make([]error, len(group))
	if len(group) == 1 {
		errs[0] = s.observe(ctx, group[0].id, group[0].obs, group[0].recs)
	} else if err := s.inTx(ctx, func(tx *sql.Tx) error {
		for i, req := range group {
			if _, err := s.stmts.Exec(ctx, tx, savepointSQL); err != nil {
				return err
			}
			if err := s.observeTx(ctx, tx, req.id, req.obs, req.recs); err != nil {
				errs[i] = fmt.Errorf("store poll of printer %d: %w", req.id, err)
				if _, err := s.stmts.Exec(ctx, tx, rollbackToSQL); err != nil {
					return err
				}
			}
			if _, err := s.stmts.Exec(ctx, tx, releaseSQL); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		for i, req := range group {
			errs[i] = fmt.Errorf("store poll of printer %d: %w", req.id, err)
		}
	}
	for i, req := range group {
		if errs[i] == nil {
			s.stored(req.id, req.obs.Seen)
		}
		req.done <- pollCommitted{err: s.ob.Stored(errs[i], req.obs.Seen)}
	}
}
