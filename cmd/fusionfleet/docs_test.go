package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The operator's documents name commands and flags; each must exist. A
// document's flags are checked against the flag sets of the commands it is
// about, its commands (`fusionfleet commandcenter check …`) against the
// command line, its environment variables against those the command reads.
func TestDocsNameRealCommandsAndFlags(t *testing.T) {
	docs := []struct {
		path     string
		commands [][]string // whose flags the document's bare flags may name
	}{
		{"../../docs/operator-guide.md", [][]string{{"commandcenter"}, {"commandcenter", "check"}, {"commandcenter", "fingerprint"}, {"commandcenter", "discover"}}},
		{"../../docs/troubleshooting.md", [][]string{{"commandcenter"}, {"commandcenter", "check"}}},
		{"../../docs/security-privacy.md", [][]string{{"commandcenter"}, {"audit", "verify"}, {"release"}}},
	}
	// Commands as documents may name them, longest first.
	known := [][]string{
		{"commandcenter", "check"}, {"commandcenter", "fingerprint"}, {"commandcenter", "discover"}, {"audit", "verify"},
		{"commandcenter"}, {"cloud"}, {"printer"}, {"release"}, {"demo"}, {"org", "create"}, {"version"},
	}
	helps := map[string]string{}
	help := func(t *testing.T, cmd []string) string {
		t.Helper()
		key := strings.Join(cmd, " ")
		if h, ok := helps[key]; ok {
			return h
		}
		code, stdout, stderr := runArgs(t, append(slices.Clone(cmd), "-h")...)
		if code != 0 {
			t.Fatalf("fusionfleet %s -h: exit code %d, stderr: %s", key, code, stderr)
		}
		helps[key] = stdout
		return stdout
	}
	hasFlag := func(t *testing.T, cmd []string, flag string) bool {
		h := help(t, cmd)
		return strings.Contains(h, "  "+flag+" ") || strings.Contains(h, "  "+flag+"\n")
	}
	flagRE := regexp.MustCompile(`(?:^|[\s(` + "`" + `])(-[a-z][a-z0-9]*(?:-[a-z0-9]+)*)\b`)
	codeRE := regexp.MustCompile("`([^`]+)`|```sh\n((?s:.*?))```")
	// The environment variables the command reads, as written in its source.
	var source strings.Builder
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		source.Write(b)
	}
	envRE := regexp.MustCompile(`FUSIONFLEET_[A-Z_]+`)
	for _, d := range docs {
		t.Run(d.path, func(t *testing.T) {
			b, err := os.ReadFile(d.path)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range envRE.FindAllString(string(b), -1) {
				if !strings.Contains(source.String(), `"`+v+`"`) {
					t.Errorf("%s is not read by the command", v)
				}
			}
			for _, m := range codeRE.FindAllStringSubmatch(string(b), -1) {
				code := m[1] + m[2]
				code = strings.ReplaceAll(code, "\\\n", " ")
				for _, line := range strings.Split(code, "\n") {
					if strings.HasPrefix(strings.TrimSpace(line), "go ") {
						continue // the go tool's flags
					}
					var cmd []string
					if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "fusionfleet "); ok {
						words := strings.Fields(rest)
						for _, k := range known {
							if len(words) >= len(k) && slices.Equal(words[:len(k)], k) {
								cmd = k
								break
							}
						}
						if cmd == nil {
							t.Errorf("%q names no command of fusionfleet", line)
							continue
						}
					}
					for _, f := range flagRE.FindAllStringSubmatch(line, -1) {
						flag := f[1]
						if flag == "-h" {
							continue // every command has it
						}
						if cmd != nil {
							if !hasFlag(t, cmd, flag) {
								t.Errorf("%q: fusionfleet %s has no flag %s", line, strings.Join(cmd, " "), flag)
							}
							continue
						}
						if !slices.ContainsFunc(d.commands, func(c []string) bool { return hasFlag(t, c, flag) }) {
							t.Errorf("%q: no flag %s in fusionfleet %v", line, flag, d.commands)
						}
					}
				}
			}
		})
	}
}
