//go:build windows

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"
)

// serviceEnv returns e with its output going to the Windows event log when
// the service control manager started the process.
func serviceEnv(e env) (env, func(), bool, error) {
	isService, err := svc.IsWindowsService()
	if err != nil || !isService {
		return e, func() {}, false, err
	}
	elog, err := eventlog.Open(serviceName)
	if err != nil {
		return e, func() {}, true, fmt.Errorf("event log: %w", err)
	}
	w := &eventLogWriter{log: elog}
	e.stdout, e.stderr = w, w
	return e, func() { elog.Close() }, true, nil
}

// eventLogWriter writes each line of the logger to the event log, at the
// level slog's text handler wrote into it.
type eventLogWriter struct{ log *eventlog.Log }

func (w *eventLogWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimRight(p, "\n"), []byte("\n")) {
		s := string(line)
		var err error
		switch {
		case strings.Contains(s, "level=ERROR"):
			err = w.log.Error(1, s)
		case strings.Contains(s, "level=WARN"):
			err = w.log.Warning(1, s)
		default:
			err = w.log.Info(1, s)
		}
		if err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// runService runs run under the service control manager.
func runService(ctx context.Context, run func(context.Context) error) error {
	h := &winHandler{ctx: ctx, run: run}
	if err := svc.Run(serviceName, h); err != nil {
		return err
	}
	return h.err
}

type winHandler struct {
	ctx context.Context
	run func(context.Context) error
	err error
}

// Execute maps the manager's requests and states to serveService's.
func (h *winHandler) Execute(args []string, r <-chan svc.ChangeRequest, s chan<- svc.Status) (bool, uint32) {
	reqs := make(chan serviceRequest)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			var c svc.ChangeRequest
			select {
			case c = <-r:
			case <-done:
				return
			}
			req := reqInterrogate
			switch c.Cmd {
			case svc.Stop:
				req = reqStop
			case svc.Shutdown:
				req = reqShutdown
			}
			select {
			case reqs <- req:
			case <-done:
				return
			}
		}
	}()
	report := func(st serviceState) {
		switch st {
		case stateStartPending:
			s <- svc.Status{State: svc.StartPending}
		case stateRunning:
			s <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
		case stateStopPending:
			s <- svc.Status{State: svc.StopPending, WaitHint: 30000}
		}
	}
	h.err = serveService(h.ctx, h.run, reqs, report)
	if h.err != nil {
		return true, 1 // a service-specific failure: the recovery actions restart it
	}
	return false, 0
}

// Where the Windows service keeps its files. The binary is in a directory
// the service's account may modify, beside its data, so that the Command
// Center can update itself (package selfupdate): it renames the running
// .exe away and the new one in.
func windowsPaths(e env) (binary, config, data string) {
	pd := e.getenv("ProgramData")
	if pd == "" {
		pd = `C:\ProgramData`
	}
	return filepath.Join(pd, "FusionFleet", "bin", "fusionfleet.exe"),
		filepath.Join(pd, "FusionFleet", "commandcenter.conf"),
		filepath.Join(pd, "FusionFleet", "commandcenter")
}

// windowsInstall registers the service: automatic start, as the
// low-privilege LocalService account with modify rights on its data
// directory only, restarted on failure, logging to the event log.
func windowsInstall(e env, dryRun bool) error {
	binary, config, data := windowsPaths(e)
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	if dryRun {
		fmt.Fprintf(e.stdout, "copy %s to %s\nconfig %s (kept if present)\ndata %s\nservice %s as NT AUTHORITY\\LocalService: %s commandcenter -config %s\n",
			self, binary, config, data, serviceName, binary, config)
		return nil
	}
	if err := copyBinary(self, binary); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	if _, err := os.Stat(config); errors.Is(err, os.ErrNotExist) {
		f := installFile{Path: config, Mode: 0o600, Content: "# FusionFleet Command Center: key = value, one a line (docs/config.md).\r\n" +
			"data = " + data + "\r\n# cloud = https://fleet.example.com\r\n"}
		if err := writeInstallFile(config, f); err != nil {
			return fmt.Errorf("install: %w", err)
		}
	}
	for _, dir := range []string{data, filepath.Dir(binary)} {
		grant := exec.Command("icacls", dir, "/grant", `NT AUTHORITY\LocalService:(OI)(CI)M`)
		if out, err := grant.CombinedOutput(); err != nil {
			return fmt.Errorf("install: icacls: %v: %s", err, out)
		}
	}
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("install: service manager: %w", err)
	}
	defer m.Disconnect()
	s, err := m.CreateService(serviceName, binary, mgr.Config{
		DisplayName:      "FusionFleet Command Center",
		Description:      "Polls the site's printers and uploads to the FusionFleet cloud.",
		StartType:        mgr.StartAutomatic,
		DelayedAutoStart: true,
		ServiceStartName: `NT AUTHORITY\LocalService`,
	}, "commandcenter", "-config", config)
	if err != nil {
		return fmt.Errorf("install: create service: %w", err)
	}
	defer s.Close()
	restart := []mgr.RecoveryAction{{Type: mgr.ServiceRestart, Delay: 5 * time.Second}, {Type: mgr.ServiceRestart, Delay: 30 * time.Second}, {Type: mgr.ServiceRestart, Delay: time.Minute}}
	if err := s.SetRecoveryActions(restart, 86400); err != nil {
		return fmt.Errorf("install: recovery: %w", err)
	}
	if err := s.SetRecoveryActionsOnNonCrashFailures(true); err != nil {
		return fmt.Errorf("install: recovery: %w", err)
	}
	if err := eventlog.InstallAsEventCreate(serviceName, eventlog.Error|eventlog.Warning|eventlog.Info); err != nil && !strings.Contains(err.Error(), "exists") {
		return fmt.Errorf("install: event log: %w", err)
	}
	if err := s.Start(); err != nil {
		return fmt.Errorf("install: start: %w", err)
	}
	fmt.Fprintf(e.stdout, "installed %s: edit %s, then restart the service\n", serviceName, config)
	return nil
}

func windowsUninstall(e env, dryRun bool) error {
	binary, config, data := windowsPaths(e)
	if dryRun {
		fmt.Fprintf(e.stdout, "stop and delete service %s, remove %s; keep %s and %s\n", serviceName, binary, config, data)
		return nil
	}
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("uninstall: service manager: %w", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(serviceName)
	if err != nil {
		return fmt.Errorf("uninstall: %w", err)
	}
	defer s.Close()
	if st, err := s.Control(svc.Stop); err == nil {
		for i := 0; i < 60 && st.State != svc.Stopped; i++ {
			time.Sleep(500 * time.Millisecond)
			if st, err = s.Query(); err != nil {
				break
			}
		}
	}
	if err := s.Delete(); err != nil {
		return fmt.Errorf("uninstall: %w", err)
	}
	var errs []error
	errs = append(errs, eventlog.Remove(serviceName))
	for _, p := range []string{binary, strings.TrimSuffix(binary, ".exe") + ".previous.exe"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	fmt.Fprintf(e.stdout, "removed %s; kept %s and %s\n", serviceName, config, data)
	return errors.Join(errs...)
}
