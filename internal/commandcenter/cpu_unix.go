//go:build unix

package commandcenter

import (
	"syscall"
	"time"
)

// processCPUTime returns the process's CPU time so far, user and system.
func processCPUTime(b Bench) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
