package datadir

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// holderEnv makes the test binary a process that holds a directory until
// its standard input closes or it is killed.
const holderEnv = "FUSIONFLEET_DATADIR_HOLD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(holderEnv); dir != "" {
		l, err := Acquire(dir, "test holder")
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("held")
		bufio.NewReader(os.Stdin).ReadString('\n')
		l.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// hold starts a process that holds dir.
func hold(t *testing.T, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holderEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "held\n" {
		t.Fatalf("holder process: %q", line)
	}
	return cmd
}

func TestSecondProcessRefusedWithTheHolderNamed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	holder := hold(t, dir)

	_, err := Acquire(dir, "cloud")
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("Acquire while another process holds it: %v, want ErrInUse", err)
	}
	want := fmt.Sprintf("process %d (test holder, since ", holder.Process.Pid)
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q does not name the directory and %q", err, want)
	}

	// The holder crashes: its lock ends with it, the directory is free.
	if err := holder.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	holder.Wait()
	l, err := Acquire(dir, "cloud")
	if err != nil {
		t.Fatalf("Acquire after the holder was killed: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestSameProcessTwice(t *testing.T) {
	dir := t.TempDir()
	first, err := Acquire(dir, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(dir, "demo"); !errors.Is(err, ErrInUse) {
		t.Fatalf("second Acquire in one process: %v, want ErrInUse", err)
	} else if !strings.Contains(err.Error(), fmt.Sprintf("process %d (demo", os.Getpid())) {
		t.Errorf("error %q does not name this process", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	again, err := Acquire(dir, "demo")
	if err != nil {
		t.Fatalf("Acquire after Close: %v", err)
	}
	again.Close()
}

func TestDescribe(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ content, want string }{
		{"pid 42\ncloud\n2026-12-07T07:40:00Z\n", "process 42 (cloud, since 2026-12-07T07:40:00Z)"},
		{"", "another process"},
		{"pid x\ncloud\nnow\n", "another process"},
		{"pid 0\ncloud\nnow\n", "another process"},
		{"garbage", "another process"},
	} {
		path := filepath.Join(dir, FileName)
		if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := describe(path); got != tc.want {
			t.Errorf("describe(%q) = %q, want %q", tc.content, got, tc.want)
		}
	}
	if got := describe(filepath.Join(dir, "absent")); got != "another process" {
		t.Errorf("describe(absent) = %q", got)
	}
}

func TestUncreatableDirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(filepath.Join(file, "data"), "cloud"); err == nil || errors.Is(err, ErrInUse) {
		t.Fatalf("Acquire under a file: %v, want a clear error other than ErrInUse", err)
	}
}
