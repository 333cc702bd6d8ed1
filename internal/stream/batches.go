package stream

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// pendingPerNode is how many batches of most messages the consumer of
// ConsumeBatches lets all its nodes hold unacknowledged: each node holds
// up to two (one handled, the next fetched), so four nodes work at full
// pace. More nodes share the same window.
const pendingPerNode = 8

// Batch bounds what ConsumeBatches hands over at once.
type Batch struct {
	// Messages is the most messages of one batch; 0 → 32.
	Messages int
	// Bytes is about the most bytes of one batch, judged by the size of
	// the messages so far; 0 → 1 MiB. A batch has at least one message.
	Bytes int
}

// ConsumeBatches runs the durable pull consumer named durable over the
// stream until ctx is done, then returns nil. It hands fn the messages in
// batches: each call gets what the stream has ready, up to the limits,
// in stream order, and while fn runs the next batch is fetched. The byte
// limit keeps a batch of large messages from holding the ones behind it
// for long; small ones come many at a time. fn
// returns nil when every message is done with, else one error per
// message, nil for those done with. A message is acknowledged after fn
// has returned (so after what fn committed) and redelivered after a delay
// when fn failed it.
//
// Cloud nodes that run ConsumeBatches with the same durable share the
// work: JetStream gives each message to one of them, and again to another
// after the ack wait if that node dies with it. One node handles its
// messages in stream order; across nodes, and for a redelivered message,
// order is not kept: fn's effects must not depend on it.
func (s *Stream) ConsumeBatches(ctx context.Context, durable string, limit Batch, fn func(ctx context.Context, data [][]byte) []error) error {
	size := min(1000, cmp.Or(max(0, limit.Messages), 32))
	budget := float64(cmp.Or(max(0, limit.Bytes), 1<<20))
	cons, err := s.durable(ctx, durable, pendingPerNode*size)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("consume %s: %w", durable, err)
	}
	log := s.log.With("consumer", durable)
	var pending Gauge
	var wg sync.WaitGroup
	defer wg.Wait()
	bgCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if s.m.Pending != nil {
		pending = s.m.Pending(durable)
		wg.Go(func() { s.watchLag(bgCtx, cons, pending) })
	}
	var redelivered Counter
	if s.m.Redeliveries != nil {
		redelivered = s.m.Redeliveries(durable)
	}
	held := &heldMsgs{m: map[jetstream.Msg]bool{}}
	wg.Go(func() { s.keepInProgress(bgCtx, held) })

	batches := make(chan []jetstream.Msg, 1) // the next batch, fetched while fn runs
	var fetchErr error
	wg.Go(func() {
		defer close(batches)
		avg := 0.0 // the messages' mean size, recent ones weighing most
		for ctx.Err() == nil {
			n := size
			if avg > 0 {
				n = int(min(float64(size), max(1, budget/avg)))
			}
			msgs, err := fetchReady(cons, n, log)
			if err != nil {
				if ctx.Err() == nil {
					fetchErr = fmt.Errorf("consume %s: %w", durable, err)
					cancel()
				}
				return
			}
			if len(msgs) == 0 {
				continue
			}
			for _, m := range msgs {
				if avg == 0 {
					avg = float64(len(m.Data()))
				}
				avg = 0.9*avg + 0.1*float64(len(m.Data()))
			}
			held.add(msgs)
			select {
			case batches <- msgs:
			case <-ctx.Done():
				s.giveBack(held, msgs)
				return
			}
		}
	})
	for msgs := range batches {
		if bgCtx.Err() != nil {
			s.giveBack(held, msgs) // hand them to another node right away
			continue
		}
		data := make([][]byte, len(msgs))
		for i, m := range msgs {
			data[i] = m.Data()
			if meta, err := m.Metadata(); err == nil {
				if meta.NumDelivered > 1 {
					add(redelivered, 1)
				}
				if pending != nil && i == len(msgs)-1 {
					pending.Set(float64(meta.NumPending))
				}
			}
		}
		errs := fn(ctx, data)
		if errs != nil && len(errs) != len(msgs) {
			err := fmt.Errorf("consume %s: %d results for %d messages", durable, len(errs), len(msgs))
			errs = make([]error, len(msgs))
			for i := range errs {
				errs[i] = err
			}
		}
		// One confirmed ack, the last, covers the ones before it: the
		// server handles a connection's acks in order.
		last := -1
		for i := range msgs {
			if errs == nil || errs[i] == nil {
				last = i
			}
		}
		for i, m := range msgs {
			var err error
			if errs != nil {
				err = errs[i]
			}
			s.settle(ctx, log, m, err, i == last)
		}
		held.remove(msgs)
	}
	cancel()
	wg.Wait()
	return fetchErr
}

// fetchReady returns what the consumer has ready, up to max messages; if
// nothing is, it waits up to fetchWait for one message and takes those
// ready after it. Short pull requests only, as Consume's.
func fetchReady(cons jetstream.Consumer, max int, log *slog.Logger) ([]jetstream.Msg, error) {
	batch, err := cons.FetchNoWait(max)
	if err != nil {
		return nil, err
	}
	if msgs := collect(batch, log); len(msgs) > 0 {
		return msgs, nil
	}
	if batch, err = cons.Fetch(1, jetstream.FetchMaxWait(fetchWait)); err != nil {
		return nil, err
	}
	msgs := collect(batch, log)
	if len(msgs) == 0 || max == 1 {
		return msgs, nil
	}
	if batch, err = cons.FetchNoWait(max - 1); err != nil {
		return msgs, nil // the next fetch says what is wrong
	}
	return append(msgs, collect(batch, log)...), nil
}

// collect reads a fetched batch.
func collect(batch jetstream.MessageBatch, log *slog.Logger) []jetstream.Msg {
	var msgs []jetstream.Msg
	for m := range batch.Messages() {
		msgs = append(msgs, m)
	}
	if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) {
		log.Warn("fetch", "err", err)
	}
	return msgs
}

// giveBack hands msgs back for redelivery at once.
func (s *Stream) giveBack(held *heldMsgs, msgs []jetstream.Msg) {
	for _, m := range msgs {
		_ = m.Nak()
	}
	held.remove(msgs)
}

// heldMsgs are the messages a node holds unacknowledged.
type heldMsgs struct {
	mu sync.Mutex
	m  map[jetstream.Msg]bool
}

func (h *heldMsgs) add(msgs []jetstream.Msg) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range msgs {
		h.m[m] = true
	}
}

func (h *heldMsgs) remove(msgs []jetstream.Msg) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range msgs {
		delete(h.m, m)
	}
}

// keepInProgress tells the server every third of the ack wait that the
// held messages are still being worked on, so that a slow batch or one
// waiting its turn is not redelivered to another node.
func (s *Stream) keepInProgress(ctx context.Context, held *heldMsgs) {
	t := time.NewTicker(s.ackWait / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		held.mu.Lock()
		for m := range held.m {
			_ = m.InProgress()
		}
		held.mu.Unlock()
	}
}
