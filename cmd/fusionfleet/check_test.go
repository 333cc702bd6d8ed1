package main

import (
	"strings"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/cloud"
	"github.com/fusionfleet/fusionfleet/internal/wait"
)

// `fusionfleet commandcenter check` runs the connectivity self-test against a
// real cloud node and says what it found; against a cloud that is not there
// it fails with exit status 1.
func TestCommandCenterCheck(t *testing.T) {
	node, err := cloud.New(t.Context(), cloud.Options{DataDir: t.TempDir(), Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	wait.Go(t, node.Run)

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

// `commandcenter check -config` takes the cloud and the rest from the
// Command Center's config file, and refuses a bad one naming its line.
func TestCommandCenterCheckConfig(t *testing.T) {
	node, err := cloud.New(t.Context(), cloud.Options{DataDir: t.TempDir(), Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	wait.Go(t, node.Run)
	conf := writeTempFile(t, "cc.conf", "cloud = "+node.URL()+"\nca-file = "+node.CAPath()+"\ndata = "+t.TempDir()+
		"\nui-ports = 0\nprinter = p1.site:8443\npoll = 10s\n")
	code, stdout, stderr := runArgs(t, "commandcenter", "check", "-config", conf)
	if code != 0 || !strings.Contains(strings.ToLower(stdout), "cloud reachable") {
		t.Errorf("check -config: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	bad := writeTempFile(t, "bad.conf", "cloud = "+node.URL()+"\nui-ports = 70000\n")
	if code, _, stderr = runArgs(t, "commandcenter", "check", "-config", bad); code != 1 || !strings.Contains(stderr, bad+":2: ui-ports:") {
		t.Errorf("check with a bad config: exit %d, stderr %q", code, stderr)
	}
}
