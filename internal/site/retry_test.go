package site

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/chaosproxy"
	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
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
	t.Parallel() // a cloud, printers and a Command Center of its own
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
	t.Parallel() // a cloud, printers and a Command Center of its own
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

// A printer whose certificate changed is re-pinned at a start only when
// the operator confirms the new fingerprint on stdin, even where new
// printers are trusted; declining keeps it stopped and the start goes on;
// the pinned printer back at its address resumes without a question.
// Before, a changed certificate could not be re-pinned at all: -printer
// skipped every address pinned before.
func TestRepinAtStart(t *testing.T) {
	t.Parallel() // a cloud, printers and a Command Center of its own
	ctx := t.Context()
	cloud, _ := startCloud(t, t.TempDir(), "")
	_, _, token, err := cloud.DemoTenant(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fp := ccFingerprint(t, dir)
	a := startPrinter(t, printer.Options{Name: "3DP A", Seed: 1}, fp)
	b := startPrinter(t, printer.Options{Name: "3DP B", Seed: 2}, fp)
	proxy, err := chaosproxy.New(a, chaosproxy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wait.Go(t, proxy.Run)
	addr := proxy.Addr()
	fpA, err := deviceapi.Probe(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	fpB, err := deviceapi.Probe(ctx, b)
	if err != nil {
		t.Fatal(err)
	}

	start := func(answer string) (*Node, string) {
		t.Helper()
		var out bytes.Buffer
		cc, err := New(ctx, Options{
			DataDir: dir, CloudURL: cloud.URL(), RootCAs: cloud.RootCAs(), EnrolToken: token,
			Printers: []string{addr}, TrustNewPrinters: true, PollInterval: 100 * time.Millisecond,
			Logger: discardLogger(), Stdin: strings.NewReader(answer), Stdout: &out,
		})
		if err != nil {
			t.Fatalf("start: %v", err)
		}
		return cc, out.String()
	}
	pinned := func(cc *Node) commandcenter.Printer {
		t.Helper()
		ps, err := cc.Store().Printers(ctx)
		if err != nil || len(ps) != 1 {
			t.Fatalf("printers %v, %v", ps, err)
		}
		return ps[0]
	}
	// runUntil runs the node until its printer is in state.
	runUntil := func(cc *Node, state commandcenter.CollectionState) {
		t.Helper()
		r := wait.Go(t, cc.Run)
		wait.For(t, "printer "+string(state), 30*time.Second, func() bool { return pinned(cc).State == state })
		r.Stop()
	}

	cc, _ := start("")
	runUntil(cc, commandcenter.CollectionOK)
	proxy.SetTarget(b) // another machine at the address
	cc, _ = start("")
	runUntil(cc, commandcenter.CollectionCertificateChanged)

	tests := []struct {
		name    string
		target  string
		answer  string
		wantOut []string
		want    commandcenter.CollectionState
		wantFP  deviceapi.Fingerprint
	}{
		{"declined", b, "n\n", []string{"presents a NEW certificate SHA-256 " + string(fpB), "pinned since", string(fpA),
			"Pin the new one? [y/N]", "not re-pinned: collection from it stays stopped"}, commandcenter.CollectionCertificateChanged, fpA},
		{"no answer", b, "", []string{"Pin the new one? [y/N]", "not re-pinned"}, commandcenter.CollectionCertificateChanged, fpA},
		{"confirmed", b, "y\n", []string{"re-pinned printer " + addr}, commandcenter.CollectionNew, fpB},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxy.SetTarget(tt.target)
			cc, out := start(tt.answer)
			defer cc.Close()
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("output %q lacks %q", out, w)
				}
			}
			if p := pinned(cc); p.State != tt.want || p.Fingerprint != tt.wantFP {
				t.Errorf("after the start: %q pinned %s; want %q pinned %s", p.State, p.Fingerprint, tt.want, tt.wantFP)
			}
		})
	}
	// The replacement is collected; then the certificate changes again,
	// back to the first printer's: pinned no more, it is asked about too.
	cc, _ = start("")
	runUntil(cc, commandcenter.CollectionOK)
	proxy.SetTarget(a)
	cc, _ = start("")
	runUntil(cc, commandcenter.CollectionCertificateChanged)
	// The pinned printer (now B) is back: collection resumes, unasked.
	proxy.SetTarget(b)
	cc, out := start("")
	defer cc.Close()
	if !strings.Contains(out, "presents its pinned certificate again; collection resumes") {
		t.Errorf("output %q; want the resumption said", out)
	}
	if p := pinned(cc); p.State != commandcenter.CollectionNew || p.Fingerprint != fpB {
		t.Errorf("after the pinned printer came back: %q pinned %s", p.State, p.Fingerprint)
	}
}
