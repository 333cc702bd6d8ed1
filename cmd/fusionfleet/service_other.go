//go:build !windows

package main

import (
	"context"
	"errors"
)

// serviceEnv: outside Windows, a service manager (systemd) runs the
// Command Center as any program, its output to the journal.
func serviceEnv(e env) (env, func(), bool, error) { return e, func() {}, false, nil }

// runService is only called where serviceEnv found a service manager.
func runService(ctx context.Context, run func(context.Context) error) error {
	return errors.New("not a Windows service")
}

func windowsInstall(env, bool) error   { return errors.New("install: Windows only") }
func windowsUninstall(env, bool) error { return errors.New("uninstall: Windows only") }
