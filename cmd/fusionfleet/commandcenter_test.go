package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/site"
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

// `commandcenter fingerprint` prints the Command Center's client
// certificate fingerprint, the same at every call and the one the Command
// Center presents, so it can be paired at the printers before the first start.
func TestCommandCenterFingerprint(t *testing.T) {
	dir := t.TempDir()
	code, first, stderr := runArgs(t, "commandcenter", "fingerprint", "-data", dir)
	if code != 0 {
		t.Fatalf("exit code %d, stderr: %s", code, stderr)
	}
	fp, err := deviceapi.ParseFingerprint(first)
	if err != nil || string(fp)+"\n" != first {
		t.Fatalf("printed %q: want one fingerprint line (%v)", first, err)
	}
	if _, again, _ := runArgs(t, "commandcenter", "fingerprint", "-data", dir); again != first {
		t.Errorf("second call printed %q, want %q", again, first)
	}
	if got, err := site.Fingerprint(dir, time.Now()); err != nil || got != fp {
		t.Errorf("site.Fingerprint = %s, %v; want %s", got, err, fp)
	}
}
