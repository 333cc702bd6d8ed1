package main

import (
	"os"
	"strings"
	"testing"
)

// The Command Center's name is sent to the cloud at enrolment: without
// -name it is a neutral one, never the computer's name (R-PRIV-2).
func TestCommandCenterDefaultName(t *testing.T) {
	code, stdout, stderr := runArgs(t, "commandcenter", "-h")
	if code != 0 {
		t.Fatalf("exit code %d, stderr: %s", code, stderr)
	}
	_, help, ok := strings.Cut(stdout, "  -name string\n")
	if !ok {
		t.Fatalf("no -name flag in the help:\n%s", stdout)
	}
	help, _, _ = strings.Cut(help, "\n")
	if want := `(default "Command Center")`; !strings.Contains(help, want) {
		t.Errorf("-name help %q: want %s", help, want)
	}
	if !strings.Contains(help, "sent to the cloud") {
		t.Errorf("-name help %q: want it to say the name is sent to the cloud", help)
	}
	if host, err := os.Hostname(); err == nil && host != "" && strings.Contains(help, host) {
		t.Errorf("-name help %q names the host %q", help, host)
	}
}
