package keepawake

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// run starts the inhibitor and waits until it settled.
func run(t *testing.T, opts Options) (*Inhibitor, context.CancelFunc, <-chan error) {
	t.Helper()
	i := New(opts)
	if err := i.Status(); !errors.Is(err, ErrPending) {
		t.Fatalf("status before Run: %v, want ErrPending", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- i.Run(ctx) }()
	<-i.Settled()
	return i, cancel, done
}

func TestHeldUntilCancelled(t *testing.T) {
	if _, err := exec.LookPath("cat"); err != nil {
		t.Skip("no cat")
	}
	// cat echoes as systemd-inhibit's child does once the lock is held.
	i, cancel, done := run(t, Options{Command: []string{"cat"}})
	if err := i.Status(); err != nil {
		t.Fatalf("status while held: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if i.Status() == nil {
		t.Error("status after Run: nil, want an error")
	}
}

// The reasons it cannot keep the host awake reach Status, for the
// self-test to show.
func TestCannotHold(t *testing.T) {
	tests := []struct {
		name    string
		command []string
		want    string
	}{
		{"refused", []string{"sh", "-c", "echo 'Failed to inhibit: Access denied' >&2; exit 1"}, "Access denied"},
		{"ends at once", []string{"true"}, "keep-awake"},
		{"no such program", []string{"fusionfleet-no-such-inhibitor"}, "fusionfleet-no-such-inhibitor"},
		{"echoes something else", []string{"sh", "-c", "read x; echo nope; exit 3"}, "exit status 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i, cancel, done := run(t, Options{Command: tt.command})
			err := i.Status()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("status %v, want an error with %q", err, tt.want)
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
}

// The real systemd-inhibit, where there is one: held, or a reason why not
// (in a container without logind: no system bus).
func TestSystemdInhibit(t *testing.T) {
	if _, err := exec.LookPath("systemd-inhibit"); err != nil {
		t.Skip("SKIPPED: no systemd-inhibit")
	}
	i, cancel, done := run(t, Options{})
	err := i.Status()
	t.Logf("systemd-inhibit: %v", err)
	if errors.Is(err, ErrPending) {
		t.Errorf("status %v after settling", err)
	}
	cancel()
	<-done
}
