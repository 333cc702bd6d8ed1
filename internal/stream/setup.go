package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fusionfleet/fusionfleet/internal/backoff"
)

// setupPatience is how long Open and the consumers keep trying to create
// or update the stream and its consumers while the cluster cannot answer.
// A cluster that lost a node elects new leaders for the meta layer, the
// stream and its consumers, and meanwhile answers such requests late or
// refuses them as unavailable; a node that starts at that moment and
// gave up at once would only be restarted into the same wait (found by
// e2e's TestChaosNATSClusterNodeLost). A request that fails for good — a
// wrong configuration, refused rights — fails at once.
const setupPatience = time.Minute

// setupBackoff spaces the tries: half a second, doubled, at most 5 s.
var setupBackoff = backoff.Policy{Base: 500 * time.Millisecond, Max: 5 * time.Second}

// retrySetup calls try until it succeeds, fails for good (see
// transientSetup), ctx ends or patience has passed, and returns its last
// error. Each failure that is retried is logged as a warning.
func retrySetup(ctx context.Context, log *slog.Logger, what string, patience time.Duration, try func(context.Context) error) error {
	deadline := time.Now().Add(patience)
	for n := 1; ; n++ {
		err := try(ctx)
		if err == nil || ctx.Err() != nil || !transientSetup(ctx, err) {
			return err
		}
		wait := setupBackoff.Delay(n)
		if time.Now().Add(wait).After(deadline) {
			return fmt.Errorf("%s: gave up after %v: %w", what, patience, err)
		}
		log.Warn("NATS cannot answer yet, trying again", "what", what, "err", err, "in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// transientSetup says whether a failed request to JetStream's API may
// succeed if tried again: it went unanswered (the API's own deadline, not
// ctx's), no server answered it, or the cluster said it is unavailable or
// cannot place the replicas now (a node short). A server without
// JetStream answers 503 too, for good.
func transientSetup(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) {
		return true
	}
	var api *jetstream.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode {
		case jetstream.JSErrCodeJetStreamNotEnabled, jetstream.JSErrCodeJetStreamNotEnabledForAccount:
			return false // 503 too, but a server's configuration
		case jsClusterNoPeers, jsClusterNotAvailable:
			return true
		}
		return api.Code == 503
	}
	return false
}

// JetStream's error codes of a cluster short of a node: not enough peers
// to place the replicas, and the system temporarily unavailable.
const (
	jsClusterNoPeers      jetstream.ErrorCode = 10005
	jsClusterNotAvailable jetstream.ErrorCode = 10008
)
