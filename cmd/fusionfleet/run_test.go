package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// runArgs runs the program as a process would and returns its exit code.
func runArgs(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	getenv := func(k string) string {
		if k == "FUSIONFLEET_DATA" {
			return t.TempDir()
		}
		return ""
	}
	err := run(t.Context(), append([]string{"fusionfleet"}, args...), getenv, strings.NewReader(""), &out, &errOut)
	code = exitCode(err, &errOut)
	return code, out.String(), errOut.String()
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"no command", nil, 2, "", "Usage: fusionfleet <command>"},
		{"unknown command", []string{"bogus"}, 2, "", `unknown command "bogus"`},
		{"help", []string{"help"}, 0, "Commands:", ""},
		{"unknown flag", []string{"printer", "-nope"}, 2, "", "flag provided but not defined: -nope"},
		{"stray argument", []string{"demo", "extra"}, 2, "", `unexpected argument "extra"`},
		{"version", []string{"version"}, 0, "fusionfleet ", ""},
		{"commandcenter without cloud", []string{"commandcenter"}, 2, "", "-cloud is required"},
		{"demo with no printers", []string{"demo", "-printers", "0"}, 1, "", "-printers 0: want 1 to 100"},
		{"bad printer model", []string{"printer", "-model", "9999"}, 1, "", "9999"},
		{"bad log level", []string{"printer", "-log-level", "loud"}, 1, "", `log level "loud"`},
		{"NATS password in a flag", []string{"cloud", "-nats", "nats://fleet:s3cret@127.0.0.1:1"}, 1, "", "show in ps"},
		{"postgres unreachable", []string{"cloud", "-listen", "127.0.0.1:0", "-db", "postgres://127.0.0.1:1/none?connect_timeout=2"}, 1, "", "postgres"},
	}
	for _, c := range subcommands() {
		tests = append(tests, struct {
			name       string
			args       []string
			wantCode   int
			wantStdout string
			wantStderr string
		}{c.name + " -h", []string{c.name, "-h"}, 0, "Usage: fusionfleet " + c.name, ""})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runArgs(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code: got %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
			}
			if !strings.Contains(stdout, tt.wantStdout) {
				t.Errorf("stdout %q does not contain %q", stdout, tt.wantStdout)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr %q does not contain %q", stderr, tt.wantStderr)
			}
			if n := strings.Count(stdout+stderr, "Usage:"); n > 1 {
				t.Errorf("the usage shows %d times:\nstdout: %s\nstderr: %s", n, stdout, stderr)
			}
		})
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestUIPorts(t *testing.T) {
	tests := []struct {
		in          string
		first, last int
		wantErr     bool
	}{
		{"8080-8090", 8080, 8090, false},
		{"9000", 9000, 9000, false},
		{"0", 0, 0, false},
		{"8090-8080", 0, 0, true},
		{"0-10", 0, 0, true},
		{"1-65536", 0, 0, true},
		{"http", 0, 0, true},
		{"", 0, 0, true},
	}
	for _, tt := range tests {
		first, last, err := uiPorts(tt.in)
		if (err != nil) != tt.wantErr || first != tt.first || last != tt.last {
			t.Errorf("uiPorts(%q) = %d, %d, %v; want %d, %d, error %v", tt.in, first, last, err, tt.first, tt.last, tt.wantErr)
		}
	}
}
