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

	"github.com/fusionfleet/fusionfleet/internal/selfupdate"
	"github.com/fusionfleet/fusionfleet/internal/site"
)

// brokenForTest, set with -ldflags "-X main.brokenForTest=yes", builds a
// Command Center that fails at every start after its self-update
// bookkeeping: the end-to-end tests release it to see it rolled back.
// Release builds (scripts/release) never set it.
var brokenForTest = ""

// selfUpdateStart is the self-update's part of a Command Center's start:
// it finds the executable and its swapper, and finishes what an upgrade
// left (package selfupdate). It returns selfupdate.ErrRestart when the
// process must restart into the binary on disk before anything else.
func selfUpdateStart(data string, healthTimeout time.Duration) (exe string, s *selfupdate.Swapper, err error) {
	if exe, err = os.Executable(); err == nil {
		exe, err = filepath.EvalSymlinks(exe)
	}
	if err != nil {
		return "", nil, fmt.Errorf("commandcenter: the running executable: %w", err)
	}
	s, err = selfupdate.NewSwapper(exe, filepath.Join(data, "selfupdate"), selfupdate.SwapOptions{HealthTimeout: healthTimeout})
	if err != nil {
		return "", nil, err
	}
	_, err = s.Boot(buildVersion())
	return exe, s, err
}

// probeCommand returns how a new binary is probed: `commandcenter
// upgrade-probe` with the running Command Center's own arguments, so that
// it reads the same config file and data directory.
func probeCommand(args []string) selfupdate.ProbeFunc {
	return func(ctx context.Context, bin, version string) error {
		cmd := exec.CommandContext(ctx, bin, append([]string{"commandcenter", "upgrade-probe"}, args...)...)
		cmd.WaitDelay = 5 * time.Second
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		said := strings.TrimSpace(lastBytes(out.Bytes(), 2<<10))
		if err != nil {
			return fmt.Errorf("%w: %s", err, said)
		}
		if want := "upgrade-probe: fusionfleet " + version + ":"; !strings.Contains(said, want) {
			return fmt.Errorf("the binary released as %s says %q", version, said)
		}
		return nil
	}
}

func lastBytes(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// runUpgradeProbe is `fusionfleet commandcenter upgrade-probe`: what a
// new build checks, beside the running Command Center, before it
// replaces it. It reads the same flags and config file, checks the
// settings and secrets as a start would, and the store (site.Probe),
// changing nothing; exit status 0 when the build can take over.
func runUpgradeProbe(ctx context.Context, args []string, e env) error {
	fs, f := newCCFlags("commandcenter upgrade-probe", "Check, changing nothing, that this build can take over the Command Center that\n"+
		"runs with these flags: the config file and settings parse, the secrets they name can be\n"+
		"read, and the store in the data directory opens read-only with a schema this build can\n"+
		"migrate (tried on a copy). The running Command Center runs this on a new release before\n"+
		"it swaps it in; exit status 0 when the build can take over.", e)
	if _, err := f.parse(fs, args, e); err != nil {
		return err
	}
	if _, err := f.options(e); err != nil {
		return fmt.Errorf("upgrade-probe: %w", err)
	}
	said, err := site.Probe(ctx, *f.data)
	if err != nil {
		return fmt.Errorf("upgrade-probe: %w", err)
	}
	fmt.Fprintf(e.stdout, "upgrade-probe: fusionfleet %s: %s\n", buildVersion(), said)
	return nil
}

// errBroken is the failure of a build made with brokenForTest.
var errBroken = errors.New("commandcenter: this build fails at start on purpose (built for a test)")
