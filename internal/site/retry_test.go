package site

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/chaosproxy"
	"github.com/fusionfleet/fusionfleet/internal/printer"
	"github.com/fusionfleet/fusionfleet/internal/wait"
)

// resetFirst returns the address of a proxy to target that resets the
// first n connections before a byte passes and forwards the next ones.
func resetFirst(t *testing.T, target string, n int) string {
	t.Helper()
	var sched chaosproxy.Schedule
	for seed := uint64(1); ; seed++ {
		sched = chaosproxy.Schedule{Seed: seed, Rate: 0.5, Faults: []chaosproxy.Fault{chaosproxy.Reset}, MaxAfter: 1}
		ok := true
		for i := range n + 6 {
			if got := sched.Step(uint64(i)).Fault; (i < n) != (got == chaosproxy.Reset) {
				ok = false
				break
			}
		}
		if ok {
			break
		}
	}
	p, err := chaosproxy.New(target, chaosproxy.Options{Schedule: sched})
	if err != nil {
		t.Fatal(err)
	}
	wait.Go(t, p.Run)
	return p.Addr()
}

// The start's network steps survive a flaky network: found by the chaos
// tests (e2e: TestChaosNetwork), where a connection reset during the
// enrolment or a new printer's certificate probe ended the Command
// Center's first start. Each is now tried again.
func TestStartSurvivesResets(t *testing.T) {
	ctx := t.Context()
	cloud, _ := startCloud(t, t.TempDir(), "")
	_, _, token, err := cloud.DemoTenant(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	addr := startPrinter(t, printer.Options{Name: "3DP 1", Seed: 1}, ccFingerprint(t, dir))
	cloudVia := "https://" + resetFirst(t, strings.TrimPrefix(cloud.URL(), "https://"), 2)
	printerVia := resetFirst(t, addr, 2)
	cc, err := New(ctx, Options{
		DataDir: dir, CloudURL: cloudVia, RootCAs: cloud.RootCAs(), EnrolToken: token,
		Printers: []string{printerVia}, TrustNewPrinters: true, Logger: discardLogger(),
	})
	if err != nil {
		t.Fatalf("start behind resets: %v", err)
	}
	defer cc.Close()
	if _, _, ok, err := cc.Store().Credentials(ctx); !ok || err != nil {
		t.Errorf("credentials: %v %v; want enrolled", ok, err)
	}
	ps, err := cc.Store().Printers(ctx)
	if err != nil || len(ps) != 1 || ps[0].Address != printerVia {
		t.Errorf("printers %v, %v; want the one behind the proxy pinned", ps, err)
	}
}

// A failure that will not pass ends the start at once: a spent or wrong
// enrolment token is not tried again; and a start given up by its caller
// stops waiting.
func TestStartGivesUp(t *testing.T) {
	ctx := t.Context()
	cloud, _ := startCloud(t, t.TempDir(), "")
	_, err := New(ctx, Options{
		DataDir: t.TempDir(), CloudURL: cloud.URL(), RootCAs: cloud.RootCAs(), EnrolToken: "not-a-token",
		Logger: discardLogger(),
	})
	if err == nil || !strings.Contains(err.Error(), "enrol") {
		t.Errorf("start with a wrong token: %v, want an enrolment error", err)
	}

	// A step that keeps failing is tried until its caller gives up.
	cctx, cancel := context.WithCancel(ctx)
	n := &Node{log: discardLogger()}
	calls := 0
	err = n.retryStart(cctx, "probe", probeRetryable, func() error {
		calls++
		if calls == 2 {
			cancel()
		}
		return errors.New("connection reset by peer")
	})
	if !errors.Is(err, context.Canceled) || calls != 2 {
		t.Errorf("after cancel: %v after %d calls, want context.Canceled after 2", err, calls)
	}
}
