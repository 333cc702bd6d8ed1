package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// `commandcenter upgrade-probe` checks the settings and the store of the
// Command Center it would take over, and changes nothing.
func TestUpgradeProbe(t *testing.T) {
	data := t.TempDir()
	conf := filepath.Join(t.TempDir(), "cc.conf")
	if err := os.WriteFile(conf, []byte("cloud = https://cloud.example\ndata = "+data+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"first start", []string{"-config", conf}, 0, "upgrade-probe: fusionfleet " + buildVersion() + ": no store yet", ""},
		{"bad config", []string{"-config", conf, "-ui-ports", "9-1"}, 1, "", "-ui-ports"},
		{"missing secret", []string{"-config", conf, "-enrol-token-file", filepath.Join(data, "gone")}, 1, "", "upgrade-probe"},
		{"unknown flag", []string{"-nope"}, 2, "", "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runArgs(t, append([]string{"commandcenter", "upgrade-probe"}, tc.args...)...)
			if code != tc.wantCode || !strings.Contains(stdout, tc.wantStdout) || !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, stdout, stderr, tc.wantCode, tc.wantStdout, tc.wantStderr)
			}
		})
	}
	if ents, _ := os.ReadDir(data); len(ents) != 0 {
		t.Errorf("the probe wrote into the data directory: %v", ents)
	}
}

// The probe of a new build passes only when it exits 0 and says it is the
// version it was released as.
func TestProbeCommand(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("runs shell scripts")
	}
	for _, tc := range []struct {
		name, script, version, wantErr string
	}{
		{"ok", "echo 'upgrade-probe: fusionfleet 2.0.0: store schema 7, no migration to run'", "2.0.0", ""},
		{"fails", "echo 'upgrade-probe: schema version 9 is newer' >&2; exit 1", "2.0.0", "schema version 9 is newer"},
		{"another version", "echo 'upgrade-probe: fusionfleet 1.9.0: store schema 7'", "2.0.0", "released as 2.0.0"},
		{"arguments passed", `test "$1 $2 $3 $4" = "commandcenter upgrade-probe -config my.conf" && echo 'upgrade-probe: fusionfleet 2.0.0: ok'`, "2.0.0", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin := filepath.Join(t.TempDir(), "fusionfleet.next")
			if err := os.WriteFile(bin, []byte("#!/bin/sh\n"+tc.script+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			err := probeCommand([]string{"-config", "my.conf"})(t.Context(), bin, tc.version)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("probe: %v, want %q", err, tc.wantErr)
			}
		})
	}
}
