package site

import (
	"slices"
	"strings"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/printer"
	"github.com/google/go-cmp/cmp"
)

// Check of a node that is not running reads what its data directory
// holds: the paired printer is probed against its pin and the last upload
// is reported; a fresh directory has neither.
func TestCheck(t *testing.T) {
	ctx := t.Context()
	cloud, _ := startCloud(t, t.TempDir(), "")
	_, _, token, err := cloud.DemoTenant(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	addr := startPrinter(t, printer.Options{Name: "3DP 1", Seed: 1}, ccFingerprint(t, dir))
	unpaired := startPrinter(t, printer.Options{Name: "3DP 2", Seed: 2})
	opts := Options{DataDir: dir, CloudURL: cloud.URL(), RootCAs: cloud.RootCAs(), EnrolToken: token,
		Printers: []string{addr, unpaired}, TrustNewPrinters: true, Logger: discardLogger()}
	cc, err := New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := cc.Close(); err != nil {
		t.Fatal(err)
	}

	ok, warn, failed := commandcenter.CheckOK, commandcenter.CheckWarning, commandcenter.CheckFailed
	tests := []struct {
		name    string
		dataDir string
		want    map[string]commandcenter.CheckStatus // by name, of the checks named here or in absent
		absent  []string
	}{
		{"paired", opts.DataDir, map[string]commandcenter.CheckStatus{
			"cloud reachable": ok, "printer " + addr: ok, "last upload": warn, // enrolled, nothing uploaded yet
			"printer " + unpaired: failed, // reachable, but it has not paired this Command Center
		}, []string{"printers"}},
		{"fresh", t.TempDir(), map[string]commandcenter.CheckStatus{
			"cloud reachable": ok, "printers": warn,
		}, []string{"last upload"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := opts
			o.DataDir = tt.dataDir
			rep, err := Check(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]commandcenter.CheckStatus{}
			for _, c := range rep.Checks {
				if _, named := tt.want[c.Name]; named || slices.Contains(tt.absent, c.Name) {
					got[c.Name] = c.Status
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("checks (-want +got):\n%s\nreport: %+v", diff, rep.Checks)
			}
		})
	}
}

// Beside a running node, the check reports on its local UI, not on a free
// port for one (the demo prints a check to run beside it, issue 13); once
// the node stopped, on a free port again.
func TestCheckBesideARunningNode(t *testing.T) {
	ctx := t.Context()
	cloud, _ := startCloud(t, t.TempDir(), "")
	_, _, token, err := cloud.DemoTenant(ctx)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{DataDir: t.TempDir(), CloudURL: cloud.URL(), RootCAs: cloud.RootCAs(), EnrolToken: token,
		UIFirstPort: 0, Logger: discardLogger()}
	cc, err := New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	localUI := func() commandcenter.Check {
		t.Helper()
		rep, err := Check(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range rep.Checks {
			if c.Name == "local UI port" {
				return c
			}
		}
		t.Fatalf("no local UI check: %+v", rep.Checks)
		return commandcenter.Check{}
	}
	addr := strings.TrimPrefix(strings.TrimSuffix(cc.URL(), "/"), "http://")
	if c := localUI(); c.Status != commandcenter.CheckOK || !strings.Contains(c.Message, "answers on "+addr) {
		t.Errorf("beside the running node: %+v, want its UI at %s answering", c, addr)
	}
	if err := cc.Close(); err != nil {
		t.Fatal(err)
	}
	if c := localUI(); c.Status != commandcenter.CheckOK || !strings.Contains(c.Message, "is free for the local UI") {
		t.Errorf("after the node stopped: %+v, want a free port", c)
	}
}
