package main

import "errors"

// errRestartForUpgrade ends the process with a failure, so that the
// service manager's recovery actions start the binary now on disk: a
// running Windows process cannot replace its own image.
var errRestartForUpgrade = errors.New("commandcenter: exiting so that the service manager restarts the upgraded binary")

func restartInto(string, []string) error { return errRestartForUpgrade }
