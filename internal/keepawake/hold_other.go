//go:build !unix && !windows

package keepawake

import (
	"context"
	"fmt"
	"runtime"
)

func hold(ctx context.Context, opts Options, held func()) error {
	return fmt.Errorf("keep-awake: not supported on %s", runtime.GOOS)
}
