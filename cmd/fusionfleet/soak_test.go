package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/soak"
)

// The soak's short form, in every test run: ten printers, a Command
// Center and a cloud for two simulated days (about half a minute at a day
// in 15 s), layers kept 16 hours so that the cloud prunes them every
// simulated hour for more than a day, and the whole verdict: memory, goroutines, files and
// outbox flat, rows and disk as retention predicts, the delivery audit,
// and no unexplained warning. The long form is "fusionfleet soak".
func TestSoakShort(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole system for about a minute")
	}
	if raceDetector {
		t.Skip("the race detector slows the fleet below the clock's pace")
	}
	dir := filepath.Join(t.TempDir(), "soak")
	code, stdout, stderr := runArgs(t, "soak", "-data", dir, "-days", "2", "-printers", "10", "-speed", "5760",
		"-keep-layers", "16h", "-keep-logs", "4h", "-keep-local", "8h", "-prune-every", "1h", "-sample-every", "2h", "-drain", "2m")
	if code != 0 {
		t.Fatalf("soak: exit %d\nstdout:\n%s\nstderr (last lines):\n%s", code, stdout, tail(stderr, 20))
	}
	b, err := os.ReadFile(filepath.Join(dir, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res soak.Result
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Samples) < 16 {
		t.Errorf("%d samples, want one every two simulated hours", len(res.Samples))
	}
	for _, tb := range res.Tables {
		if tb.Name == "layers" && (tb.Pruned == 0 || tb.Rows == 0) {
			t.Errorf("layers: %d rows, %d pruned: want both, retention at work", tb.Rows, tb.Pruned)
		}
	}
	for _, name := range []string{"report.txt", "report.html", "soak.log"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
	if html, _ := os.ReadFile(filepath.Join(dir, "report.html")); !strings.Contains(string(html), "<svg") {
		t.Error("report.html has no plot")
	}
	t.Log("\n" + stdout)
}

func TestSoakFlags(t *testing.T) {
	used := t.TempDir()
	if err := os.WriteFile(filepath.Join(used, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no days", []string{"-days", "0"}, "-days 0: want more than 0"},
		{"no printers", []string{"-printers", "0"}, "-printers 0: want 1 to 500"},
		{"slow clock", []string{"-speed", "1"}, "-speed 1: want 2 to 1000000"},
		{"no retention", []string{"-keep-layers", "0s"}, "the durations must be positive"},
		{"used directory", []string{"-data", used}, "is not empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runArgs(t, append([]string{"soak"}, tt.args...)...)
			if code != 1 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr, tt.want)
			}
		})
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
