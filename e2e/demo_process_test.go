package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary builds the fusionfleet command once for all tests of this package.
var binary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "fusionfleet-e2e")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "fusionfleet")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/fusionfleet").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func buildBinary(t *testing.T) string {
	t.Helper()
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bin, err := binary(); err == nil {
		os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

// demoProcess is a running `fusionfleet demo`.
type demoProcess struct {
	cmd    *exec.Cmd
	stderr *strings.Builder
	lines  map[string]string // first word before ':' → rest of the line
}

// startDemo starts the demo binary and waits for its start-up lines.
func startDemo(t *testing.T, bin, data string, flags ...string) *demoProcess {
	t.Helper()
	return startDemoEnv(t, bin, data, nil, flags...)
}

// startDemoEnv is startDemo with extra environment variables ("KEY=value")
// for the demo process, such as SSL_CERT_FILE for the CAs it trusts.
func startDemoEnv(t *testing.T, bin, data string, env []string, flags ...string) *demoProcess {
	t.Helper()
	// Without a simulated past or peers unless flags ask for them: they
	// cost a minute of two cores, and most tests look at the present.
	args := append([]string{"demo", "-data", data, "-printers", "2", "-speed", "600", "-poll", "500ms", "-ui-ports", "0",
		"-history", "0", "-peers", "0"}, flags...)
	cmd := exec.Command(bin, args...)
	// The shared broker on the MQTT port is for people running the demo,
	// not for tests: no MQTT feed unless a test names its own broker.
	cmd.Env = append(os.Environ(), "HTTPS_PROXY=", "HTTP_PROXY=", "NO_PROXY=", "FUSIONFLEET_DEMO_MQTT=off")
	cmd.Env = append(cmd.Env, env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	p := &demoProcess{cmd: cmd, stderr: &stderr, lines: map[string]string{}}
	got := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			key, val, ok := strings.Cut(sc.Text(), ": ")
			if ok {
				p.lines[key] = val
			}
			if key == "data" {
				close(got)
				break
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case <-got:
	case <-time.After(90 * time.Second):
		t.Fatalf("demo did not print its start-up lines in 90s; stderr:\n%s", stderr.String())
	}
	for _, k := range []string{"cloud", "commandcenter", "login"} {
		if p.lines[k] == "" {
			t.Fatalf("demo printed no %q line; got %v", k, p.lines)
		}
	}
	return p
}

// stop sends Ctrl-C and expects a clean exit.
func (p *demoProcess) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo after Ctrl-C: %v (want exit status 0); stderr:\n%s", err, p.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop within 30s of Ctrl-C")
	}
}

// localPrinters reads the Command Center's local API.
func localPrinters(t *testing.T, base string) []map[string]any {
	t.Helper()
	resp, err := http.Get(base + "api/printers")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var snap struct {
		Printers []map[string]any `json:"printers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
		t.Fatalf("decode local printers: %v", err)
	}
	return snap.Printers
}

// The demo as a newcomer runs it: it starts, serves its pages, stops cleanly
// on Ctrl-C, and a second run on the same data directory picks up where the
// first left off (same gateway, same printers, a new admin password).
func TestDemoBinaryRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel() // each runs its own processes on ports of their own
	bin := buildBinary(t)
	data := t.TempDir()

	first := startDemo(t, bin, data)
	resp, err := http.Get(first.lines["cloud"] + "login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET login page: %s", resp.Status)
	}
	if n := len(localPrinters(t, first.lines["commandcenter"])); n != 2 {
		t.Errorf("first run: Command Center lists %d printers, want 2", n)
	}
	first.stop(t)

	second := startDemo(t, bin, data)
	defer second.stop(t)
	if n := len(localPrinters(t, second.lines["commandcenter"])); n != 2 {
		t.Errorf("second run on the same data: Command Center lists %d printers, want the same 2", n)
	}
	if first.lines["login"] == second.lines["login"] {
		t.Errorf("second run printed the same login %q; want a new password", second.lines["login"])
	}
}

// A second demo on a data directory in use refuses to start and names the
// running one, which goes on undisturbed: before the lock, the second
// reset the first one's admin password and doubled its printers.
func TestSecondDemoOnOneDataDirectory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	bin := buildBinary(t)
	data := t.TempDir()
	first := startDemo(t, bin, data)
	defer first.stop(t)

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	second := exec.CommandContext(ctx, bin, "demo", "-data", data, "-printers", "2", "-ui-ports", "0")
	out, err := second.CombinedOutput()
	if err == nil || ctx.Err() != nil {
		t.Fatalf("second demo on the same data directory: %v (want a refusal at once)\n%s", err, out)
	}
	want := fmt.Sprintf("is used by process %d (FusionFleet demo, since ", first.cmd.Process.Pid)
	if !strings.Contains(string(out), want) {
		t.Errorf("second demo said %q, want it to name the running one: %q", out, want)
	}
	if n := len(localPrinters(t, first.lines["commandcenter"])); n != 2 {
		t.Errorf("after the refused second start the first Command Center lists %d printers, want 2", n)
	}
}
