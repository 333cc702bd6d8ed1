package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

// The Command Center as a service (docs/install.md). On Linux, install
// writes a hardened systemd unit, a sysusers.d entry for its dedicated user,
// a polkit rule that lets that user keep the host awake, and a commented
// config file (kept when there is one), then has systemd create the user,
// reload and start the unit. On Windows it registers a service with the
// service control manager (install_windows.go).

// Where the Linux service keeps its files.
const (
	serviceName = "fusionfleet-commandcenter"
	serviceUser = "fusionfleet"
	linuxBinary = "/usr/local/bin/fusionfleet"
	// linuxServiceBinary is the service's own copy, in a state directory
	// of its user: the Command Center replaces it when it updates itself
	// (package selfupdate), which it could not do in /usr/local/bin under
	// ProtectSystem=strict and another owner. linuxBinary stays the
	// operator's command line.
	linuxServiceBinary = "/var/lib/fusionfleet/bin/fusionfleet"
	linuxConfig        = "/etc/fusionfleet/commandcenter.conf"
	linuxDataDir       = "/var/lib/fusionfleet/commandcenter"
	linuxUnit          = "/etc/systemd/system/" + serviceName + ".service"
	linuxSysusers      = "/etc/sysusers.d/fusionfleet.conf"
	linuxPolkitRule    = "/etc/polkit-1/rules.d/50-fusionfleet.rules"
	linuxConfigHeader  = "# FusionFleet Command Center: key = value, one a line; every setting and its\n" +
		"# default is in docs/config.md. Check with: fusionfleet commandcenter config check -config " + linuxConfig + "\n" +
		"# Secrets are never written here: name the files that hold them (readable by the\n" +
		"# group " + serviceUser + " only, mode 0640).\n\n"
)

// installFile is one file of an installation.
type installFile struct {
	Path    string // absolute, on the target system
	Mode    os.FileMode
	Content string
	Keep    bool // an existing file is the operator's: never overwritten, kept by uninstall
}

// linuxUnitText is the systemd unit of the Command Center. Hardening: a
// dedicated user, the file system read-only but for its state directory, no
// new privileges, no capabilities, the system calls of an ordinary service.
func linuxUnitText(binary, config string) string {
	return `[Unit]
Description=FusionFleet Command Center: polls the site's printers and uploads to the cloud
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
User=` + serviceUser + `
Group=` + serviceUser + `
ExecStart=` + binary + ` commandcenter -config ` + config + `
# A self-update re-executes the new binary in place (the same process);
# a new binary that fails is restarted here and, after its third start,
# rolled back to the previous one (docs/install.md, Upgrading).
Restart=on-failure
RestartSec=5s
TimeoutStopSec=30s
# Logs go to the journal: journalctl -u ` + serviceName + `
StandardOutput=journal
StandardError=journal
StateDirectory=fusionfleet/commandcenter fusionfleet/bin
StateDirectoryMode=0700
UMask=0077
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
ProcSubset=pid
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
RemoveIPC=yes
CapabilityBoundingSet=
AmbientCapabilities=
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged
SystemCallErrorNumber=EPERM

[Install]
WantedBy=multi-user.target
`
}

// linuxFiles are the files of a Linux installation.
func linuxFiles(binary string) []installFile {
	return []installFile{
		{Path: linuxUnit, Mode: 0o644, Content: linuxUnitText(binary, linuxConfig)},
		{Path: linuxSysusers, Mode: 0o644, Content: "# The FusionFleet Command Center's own user (" + linuxUnit + ").\n" +
			"u " + serviceUser + " - \"FusionFleet Command Center\" /var/lib/fusionfleet\n"},
		// The Command Center keeps the host awake with a logind inhibitor
		// (systemd-inhibit); logind asks polkit, which lets only sessions
		// block sleep unless a rule allows a service's user.
		{Path: linuxPolkitRule, Mode: 0o644, Content: `// The FusionFleet Command Center may keep this computer awake while it runs.
polkit.addRule(function(action, subject) {
    if ((action.id == "org.freedesktop.login1.inhibit-block-sleep" ||
         action.id == "org.freedesktop.login1.inhibit-block-idle") &&
        subject.user == "` + serviceUser + `") {
        return polkit.Result.YES;
    }
});
`},
		{Path: linuxConfig, Mode: 0o640, Keep: true, Content: linuxConfigHeader +
			"data = " + linuxDataDir + "\n" +
			"# cloud = https://fleet.example.com\n" +
			"# enrol-token-file = /etc/fusionfleet/enrol-token\n" +
			"# printers-csv = /etc/fusionfleet/printers.csv\n" +
			"# printer = printer1.example:8443\n"},
	}
}

// linuxInstallCommands are run after the files are written.
func linuxInstallCommands() [][]string {
	return [][]string{
		{"systemd-sysusers", linuxSysusers},
		{"chgrp", serviceUser, linuxConfig},
		{"systemctl", "daemon-reload"},
		{"systemctl", "enable", "--now", serviceName},
	}
}

func linuxUninstallCommands() [][]string {
	return [][]string{
		{"systemctl", "disable", "--now", serviceName},
	}
}

// runInstall is `fusionfleet commandcenter install`.
func runInstall(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("commandcenter install", "Install the Command Center as a service: on Linux a hardened systemd unit\n"+
		"("+linuxUnit+") running as the user "+serviceUser+", the config file "+linuxConfig+"\n"+
		"(kept if there is one) and the data directory "+linuxDataDir+"; on Windows a service\n"+
		"of the service control manager. Needs root (Administrator). See docs/install.md.", e)
	root := fs.String("root", "", "write the files under this `directory` instead of /, and print the commands instead of running them")
	dryRun := fs.Bool("dry-run", false, "print the files and commands, change nothing")
	if err := parse(fs, args, e); err != nil {
		return err
	}
	return installService(ctx, e, *root, *dryRun)
}

// runUninstall is `fusionfleet commandcenter uninstall`.
func runUninstall(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("commandcenter uninstall", "Stop and remove the Command Center's service; its config file and data\n"+
		"directory are kept.", e)
	root := fs.String("root", "", "remove the files under this `directory` instead of /, and print the commands instead of running them")
	dryRun := fs.Bool("dry-run", false, "print what would be removed, change nothing")
	if err := parse(fs, args, e); err != nil {
		return err
	}
	return uninstallService(ctx, e, *root, *dryRun)
}

// linuxInstall installs files and runs commands under root ("" for the
// real system); with dryRun it only prints them.
func linuxInstall(ctx context.Context, e env, root string, dryRun bool) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	files := linuxFiles(linuxServiceBinary)
	if dryRun {
		fmt.Fprintf(e.stdout, "# copy %s to %s and %s\n", self, linuxBinary, linuxServiceBinary)
		for _, f := range files {
			fmt.Fprintf(e.stdout, "# %s (mode %#o%s)\n%s\n", f.Path, f.Mode, keepNote(f), f.Content)
		}
		printCommands(e.stdout, linuxInstallCommands())
		return nil
	}
	for _, dst := range []string{linuxBinary, linuxServiceBinary} {
		if err := copyBinary(self, filepath.Join(root, dst)); err != nil {
			return fmt.Errorf("install: %w", err)
		}
	}
	for _, f := range files {
		p := filepath.Join(root, f.Path)
		if f.Keep {
			if _, err := os.Stat(p); err == nil {
				fmt.Fprintf(e.stdout, "kept %s\n", f.Path)
				continue
			}
		}
		if err := writeInstallFile(p, f); err != nil {
			return fmt.Errorf("install: %w", err)
		}
		fmt.Fprintf(e.stdout, "wrote %s\n", f.Path)
	}
	if root != "" {
		printCommands(e.stdout, linuxInstallCommands())
		return nil
	}
	if err := runCommands(ctx, e, linuxInstallCommands()); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	fmt.Fprintf(e.stdout, "installed %s: edit %s, then: systemctl restart %s\n", serviceName, linuxConfig, serviceName)
	return nil
}

func linuxUninstall(ctx context.Context, e env, root string, dryRun bool) error {
	if dryRun || root != "" {
		printCommands(e.stdout, linuxUninstallCommands())
	} else if err := runCommands(ctx, e, linuxUninstallCommands()); err != nil {
		return fmt.Errorf("uninstall: %w", err)
	}
	var errs []error
	// The service's binary, and the one a self-update kept.
	remove := []string{linuxBinary, linuxServiceBinary, linuxServiceBinary + ".previous"}
	for _, f := range linuxFiles(linuxServiceBinary) {
		if f.Keep {
			fmt.Fprintf(e.stdout, "kept %s and %s\n", f.Path, linuxDataDir)
			continue
		}
		remove = append(remove, f.Path)
	}
	sort.Strings(remove)
	for _, p := range remove {
		if dryRun {
			fmt.Fprintf(e.stdout, "would remove %s\n", p)
			continue
		}
		if err := os.Remove(filepath.Join(root, p)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(e.stdout, "removed %s\n", p)
	}
	if !dryRun && root == "" {
		errs = append(errs, runCommands(ctx, e, [][]string{{"systemctl", "daemon-reload"}}))
	}
	return errors.Join(errs...)
}

func keepNote(f installFile) string {
	if f.Keep {
		return ", kept if present"
	}
	return ""
}

func printCommands(w io.Writer, cmds [][]string) {
	for _, c := range cmds {
		fmt.Fprintf(w, "run: %s\n", strings.Join(c, " "))
	}
}

// runCommands runs each command, its output to stderr, stopping at the
// first that fails.
func runCommands(ctx context.Context, e env, cmds [][]string) error {
	for _, c := range cmds {
		cmd := exec.CommandContext(ctx, c[0], c[1:]...)
		cmd.Stdout, cmd.Stderr = e.stderr, e.stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %w", strings.Join(c, " "), err)
		}
	}
	return nil
}

func writeInstallFile(p string, f installFile) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := p + ".new"
	if err := os.WriteFile(tmp, []byte(f.Content), f.Mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, f.Mode); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// copyBinary copies the running binary to dst, unless it is dst.
func copyBinary(src, dst string) error {
	if a, err := filepath.EvalSymlinks(src); err == nil {
		if b, err := filepath.EvalSymlinks(dst); err == nil && a == b {
			return nil
		}
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp := dst + ".new"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// installService and uninstallService pick the platform's service manager.
func installService(ctx context.Context, e env, root string, dryRun bool) error {
	switch runtime.GOOS {
	case "linux":
		return linuxInstall(ctx, e, root, dryRun)
	case "windows":
		return windowsInstall(e, dryRun)
	}
	return fmt.Errorf("install: no service manager known on %s; run `fusionfleet commandcenter -config FILE` under the system's own", runtime.GOOS)
}

func uninstallService(ctx context.Context, e env, root string, dryRun bool) error {
	switch runtime.GOOS {
	case "linux":
		return linuxUninstall(ctx, e, root, dryRun)
	case "windows":
		return windowsUninstall(e, dryRun)
	}
	return fmt.Errorf("uninstall: no service manager known on %s", runtime.GOOS)
}
