//go:build windows

package keepawake

import (
	"context"
	"fmt"
	"runtime"

	"golang.org/x/sys/windows"
)

// Execution states of SetThreadExecutionState.
const (
	esContinuous     = 0x80000000
	esSystemRequired = 0x00000001
)

var setThreadExecutionState = windows.NewLazySystemDLL("kernel32.dll").NewProc("SetThreadExecutionState")

// hold sets the execution state on a thread of its own, which keeps it
// until ctx is done: Windows then lets the host sleep again.
func hold(ctx context.Context, opts Options, held func()) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := setThreadExecutionState.Find(); err != nil {
		return fmt.Errorf("keep-awake: %w", err)
	}
	if r, _, err := setThreadExecutionState.Call(esContinuous | esSystemRequired); r == 0 {
		return fmt.Errorf("keep-awake: SetThreadExecutionState: %w", err)
	}
	held()
	<-ctx.Done()
	setThreadExecutionState.Call(esContinuous)
	return nil
}
