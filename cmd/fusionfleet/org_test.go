package main

import (
	"regexp"
	"testing"
)

// org create makes a service provider with its first administrator and
// prints its ID and login once; a taken login name creates nothing.
func TestOrgCreate(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runArgs(t, "org", "create", "-data", dir, "-name", "Fixers", "-admin", "fixer")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !regexp.MustCompile(`(?m)^org: org_[0-9a-f]{32} \(service_provider\)\nlogin: fixer \S{12,}\n$`).MatchString(out) {
		t.Errorf("output:\n%s", out)
	}
	for _, tt := range []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"taken login", []string{"-name", "Other", "-admin", "fixer"}, 1, `user "fixer": already exists`},
		{"unknown kind", []string{"-name", "X", "-admin", "x", "-kind", "vendor"}, 1, `unknown organisation kind "vendor"`},
		{"no name", []string{"-admin", "y"}, 2, "-name and -admin are required"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runArgs(t, append([]string{"org", "create", "-data", dir}, tt.args...)...)
			if code != tt.code || !regexp.MustCompile(regexp.QuoteMeta(tt.err)).MatchString(errOut) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut, tt.code, tt.err)
			}
		})
	}
	if code, _, _ := runArgs(t, "org"); code != 2 {
		t.Errorf("org without create: exit %d, want 2", code)
	}
}
