// Package wait waits, in tests, for what real processes, real servers and a
// real browser bring about in their own time: a process printing its
// address, a connection closing, a page showing a change. Loops that a test
// drives itself run under testing/synctest instead, where no one waits.
//
// A wait here checks a condition again and again until it holds, and gives
// up after a limit. Limits are generous: on a loaded machine a process
// takes its time, and the limit is there to end a hang, not to measure
// speed.
package wait

import (
	"fmt"
	"time"
)

// Until calls try every interval until it returns nil, and returns nil once
// it has. If try still fails after limit, Until returns try's last error,
// saying how long it waited.
func Until(limit, every time.Duration, try func() error) error {
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		err := try()
		if err == nil {
			return nil
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("after %v: %w", limit, err)
		}
		<-tick.C
	}
}
