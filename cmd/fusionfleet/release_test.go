package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/update"
)

func TestReleaseCommandLine(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"no action", []string{"release"}, 2, "", "Usage: fusionfleet release <action>"},
		{"help", []string{"release", "-h"}, 0, "rotate-root", ""},
		{"unknown action", []string{"release", "sign-everything"}, 2, "", `unknown action "sign-everything"`},
		{"init without dir", []string{"release", "init"}, 2, "", "-dir is required"},
		{"add-target without file", []string{"release", "add-target", "-dir", dir}, 2, "", "want exactly one FILE"},
		{"add-target help", []string{"release", "add-target", "-h"}, 0, "Usage: fusionfleet release add-target [flags] FILE", ""},
		{"status of nothing", []string{"release", "status", "-dir", dir}, 1, "", "open repository"},
		{"add-target unknown flag", []string{"release", "add-target", "-nope", "FILE"}, 2, "", "flag provided but not defined: -nope"},
		{"halt unknown flag", []string{"release", "halt", "-nope"}, 2, "", "flag provided but not defined: -nope"},
		{"commandcenter without platform", []string{"release", "add-target", "-dir", dir, "-kind", "commandcenter", "-version", "1.1.0", "FILE"}, 2, "", "-platform goes with -kind commandcenter"},
		{"commandcenter with models", []string{"release", "add-target", "-dir", dir, "-kind", "commandcenter", "-version", "1.1.0", "-platform", "linux/amd64", "-models", "FF-4200", "FILE"}, 2, "", "-platform goes with -kind commandcenter"},
		{"platform of firmware", []string{"release", "add-target", "-dir", dir, "-kind", "firmware", "-version", "1.1.0", "-platform", "linux/amd64", "FILE"}, 2, "", "-platform goes with -kind commandcenter"},
	}
	for _, a := range releaseActions() {
		tests = append(tests, struct {
			name       string
			args       []string
			wantCode   int
			wantStdout string
			wantStderr string
		}{a.name + " -h", []string{"release", a.name, "-h"}, 0, "Usage: fusionfleet release " + a.name, ""})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runArgs(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.wantCode, stderr)
			}
			if !strings.Contains(stdout, tt.wantStdout) {
				t.Errorf("stdout %q lacks %q", stdout, tt.wantStdout)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr %q lacks %q", stderr, tt.wantStderr)
			}
			// The usage shows once, not once by the flag package and
			// once by the command.
			if n := strings.Count(stdout+stderr, "Usage:"); n > 1 {
				t.Errorf("the usage shows %d times:\nstdout: %s\nstderr: %s", n, stdout, stderr)
			}
		})
	}
}

// TestReleaseToPrinter drives the release tool from init to a root
// rotation, then lets a printer pinned to the first root verify and
// install the release from the repository the tool wrote.
func TestReleaseToPrinter(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	img := filepath.Join(t.TempDir(), "fw-4200.bin")
	if err := os.WriteFile(img, bytes.Repeat([]byte("firmware"), 1<<18), 0o644); err != nil {
		t.Fatal(err)
	}
	params := filepath.Join(t.TempDir(), "pa12.json")
	if err := os.WriteFile(params, []byte(`{"schema":"fusionfleet.parameter-set/1","name":"std-4200-2.2","model":"FF-4200",
		"materials":{"PA12":{"print_mode":"robust","recycled_share_max":0.8}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		args       []string
		wantStdout string
		wantStderr string
	}{
		{[]string{"init", "-dir", dir, "-targets-keys", "2", "-targets-threshold", "2"}, "created repository", ""},
		{[]string{"add-target", "-dir", dir, "-kind", "firmware", "-version", "4.3.0", "-models", "FF-4200, FF-5200",
			"-min-version", "4.0.0", img, "-notes", "fixes recoater jam"}, "added firmware-4.3.0-fw-4200.bin", "100%"},
		{[]string{"add-target", "-dir", dir, "-kind", "parameters", "-version", "2.2", "-name", "std-4200-2.2",
			"-models", "FF-4200", "-rollout-percent", "100", params}, "added parameters-2.2-pa12.json", ""},
		{[]string{"add-target", "-dir", dir, "-kind", "commandcenter", "-version", "1.4.0", "-platform", "linux/amd64,linux/arm64", img},
			"added commandcenter-1.4.0-fw-4200.bin (commandcenter 1.4.0 for linux/amd64, linux/arm64)", ""},
		{[]string{"rotate-root", "-dir", dir, "-keys", "2", "-threshold", "1"}, "root rotated to version 2", ""},
		{[]string{"resign", "-dir", dir}, "timestamp version 5", ""},
		{[]string{"status", "-dir", dir}, "commandcenter  1.4.0    linux/amd64,linux/arm64               2097152  commandcenter-1.4.0-fw-4200.bin\nfirmware       4.3.0", ""},
	}
	for _, s := range steps {
		code, stdout, stderr := runArgs(t, append([]string{"release"}, s.args...)...)
		if code != 0 {
			t.Fatalf("release %s: exit %d: %s", s.args[0], code, stderr)
		}
		if !strings.Contains(stdout, s.wantStdout) || !strings.Contains(stderr, s.wantStderr) {
			t.Errorf("release %s:\nstdout %q\nstderr %q\nwant %q and %q", s.args[0], stdout, stderr, s.wantStdout, s.wantStderr)
		}
	}

	srv := httptest.NewTLSServer(update.NewHandler(dir, update.HandlerOptions{}))
	defer srv.Close()
	pinned, err := os.ReadFile(filepath.Join(dir, "repository", "metadata", "1.root.json"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := update.NewClient(t.TempDir(), pinned, srv.URL, "FF-4200", update.Options{HTTPClient: srv.Client(),
		Factory: map[update.Kind]update.Slot{update.KindFirmware: {Version: "4.2.9"}, update.KindParameters: {Version: "2.1", Name: "std-4200-2.1"}}})
	if err != nil {
		t.Fatal(err)
	}
	for kind, want := range map[update.Kind]string{update.KindFirmware: "4.3.0", update.KindParameters: "std-4200-2.2"} {
		in, err := c.Update(t.Context(), kind, func(context.Context, update.Installed) error { return nil })
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if in.Name != want {
			t.Errorf("%s: installed %q, want %q", kind, in.Name, want)
		}
	}
}

// A parameter set printers would refuse is refused before it is signed.
func TestReleaseRefusesBadParameterSet(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	if code, _, stderr := runArgs(t, "release", "init", "-dir", dir); code != 0 {
		t.Fatalf("init: %s", stderr)
	}
	write := func(name, doc string) string {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	set := `{"schema":"fusionfleet.parameter-set/1","name":"s","model":"FF-4200","materials":{"PA12":{"layer_thickness_mm":0.09}}}`
	tests := []struct {
		name, file, models, want string
	}{
		{"not a set", write("a.json", `{"layer_um":80}`), "FF-4200", "unknown field"},
		{"another model", write("b.json", set), "FF-5200", "a set for FF-4200"},
		{"two models", write("c.json", set), "FF-4200,FF-5200", "name its model alone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runArgs(t, "release", "add-target", "-dir", dir, "-kind", "parameters", "-version", "2.5",
				"-models", tt.models, tt.file)
			if code != 1 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr, tt.want)
			}
		})
	}
	if code, _, stderr := runArgs(t, "release", "add-target", "-dir", dir, "-kind", "parameters", "-version", "2.5",
		"-name", "s", "-models", "FF-4200", write("d.json", set)); code != 0 {
		t.Errorf("a valid set: %s", stderr)
	}
}
