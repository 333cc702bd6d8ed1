//go:build !windows

package main

import (
	"fmt"
	"os"
	"syscall"
)

// restartInto replaces the process with the binary at exe and argv: the
// same process ID, so systemd keeps tracking the service and a terminal
// its job. Every file the process opened is closed on exec (Go opens
// them close-on-exec), the data directory's lock included.
func restartInto(exe string, argv []string) error {
	if err := syscall.Exec(exe, argv, os.Environ()); err != nil {
		return fmt.Errorf("restart into %s: %w", exe, err)
	}
	return nil
}
