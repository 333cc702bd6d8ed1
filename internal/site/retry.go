package site

import (
	"context"
	"fmt"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/backoff"
)

// startAttempts bounds the tries of each network step of a start — the
// enrolment with the cloud, a new printer's certificate probe — and
// startBackoff spaces them: a connection reset or a timeout on a flaky
// site network should not end the start at the first try, while a cloud
// URL that is wrong should still fail within half a minute (0.5 + 1 + 2 +
// 4 + 8 + 8 + 8 s of waits), with each failure logged.
const startAttempts = 8

var startBackoff = backoff.Policy{Base: 500 * time.Millisecond, Max: 8 * time.Second, Jitter: 0.2}

// retryStart runs step until it succeeds, fails with an error retryable
// says is final, or has failed startAttempts times; it returns the last
// error.
func (n *Node) retryStart(ctx context.Context, what string, retryable func(error) bool, step func() error) error {
	var err error
	for i := 1; ; i++ {
		if err = step(); err == nil || !retryable(err) || i == startAttempts {
			return err
		}
		wait := startBackoff.Delay(i)
		n.log.Warn("start: "+what+" failed; trying again", "attempt", i, "of", startAttempts, "in", wait.Round(time.Millisecond), "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (%w)", err, ctx.Err())
		case <-t.C:
		}
	}
}
