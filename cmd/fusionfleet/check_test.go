package main

import (
	"strings"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/cloud"
)

// startCloud opens a cloud node on a loopback port the OS picks, with its
// data in dir, and runs it until the test ends or the actor is stopped.
func startCloud(t *testing.T, dir, listen string) (*cloud.Node, *actor) {
	t.Helper()
	node, err := cloud.New(t.Context(), cloud.Options{DataDir: dir, Listen: listen, Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	return node, goRun(t, node.Run)
}

// `fusionfleet commandcenter check` runs the connectivity self-test against a
// real cloud node and says what it found; against a cloud that is not there
// it fails with exit status 1.
func TestCommandCenterCheck(t *testing.T) {
	node, _ := startCloud(t, t.TempDir(), "")

	code, stdout, stderr := runArgs(t, "commandcenter", "check", "-cloud", node.URL(), "-ca-file", node.CAPath(), "-data", t.TempDir(), "-ui-ports", "0")
	if code != 0 {
		t.Errorf("check against a healthy cloud: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"cloud reachable", "certificate", "clock"} {
		if !strings.Contains(strings.ToLower(stdout), want) {
			t.Errorf("check report lacks %q:\n%s", want, stdout)
		}
	}

	code, stdout, _ = runArgs(t, "commandcenter", "check", "-cloud", "https://127.0.0.1:1", "-data", t.TempDir(), "-ui-ports", "0")
	if code != 1 || !strings.Contains(strings.ToLower(stdout), "fail") {
		t.Errorf("check against no cloud: exit %d, report:\n%s\nwant exit 1 and a failed check", code, stdout)
	}
}
