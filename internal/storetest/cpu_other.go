//go:build !unix

package storetest

import "time"

// processCPU is unknown here: the page benchmark reports no CPU time.
func processCPU() time.Duration { return 0 }
