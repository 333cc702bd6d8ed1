package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []configEntry
		wantErr []string // each must appear in the error
	}{
		{"empty", "", nil, nil},
		{"comments and blanks", "# a comment\n\n   # indented\n", nil, nil},
		{"values", "\ufeffcloud = https://cloud.example\nname=Hall 3 = east\n  poll   =   10s  \nname2 = \"  spaced  \"\nprinter = a:1\nprinter = b:2\n",
			[]configEntry{{1, "cloud", "https://cloud.example"}, {2, "name", "Hall 3 = east"}, {3, "poll", "10s"}, {4, "name2", "  spaced  "}, {5, "printer", "a:1"}, {6, "printer", "b:2"}}, nil},
		{"empty value", "mqtt =\n", []configEntry{{1, "mqtt", ""}}, nil},
		{"no equals", "cloud https://x\n", nil, []string{"c.conf:1: want key = value"}},
		{"bad key", "\n\nCloud = x\n", nil, []string{"c.conf:3: setting \"Cloud\""}},
		{"dash key", "-cloud = x\n", nil, []string{"c.conf:1: setting \"-cloud\""}},
		{"bad quote", "name = \"open\n", nil, []string{"c.conf:1: name: bad quoted value"}},
		{"every bad line", "a\nb = 1\nc\n", nil, []string{"c.conf:1:", "c.conf:3:"}},
		{"line too long", "name = " + strings.Repeat("x", maxConfigLine) + "\n", nil, []string{"c.conf:1:", "too long"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseConfig("c.conf", strings.NewReader(tt.in))
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("no error, want %q", tt.wantErr)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q: want %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
		})
	}
}

// newTestCCFlags is the Command Center's flag set with getenv.
func newTestCCFlags(getenv func(string) string) (*flag.FlagSet, *ccFlags) {
	return newCCFlags("commandcenter", "", env{getenv: getenv, stdout: io.Discard, stderr: io.Discard})
}

func writeTempFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// A flag on the command line beats its environment variable, which beats
// the config file, which beats the default.
func TestConfigPrecedence(t *testing.T) {
	conf := writeTempFile(t, "cc.conf", "cloud = https://file.example\nui-ports = 8085\nname = From the file\npoll = 7s\nprinter = a:1\nprinter = b:2\n")
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		wantCloud string
		wantPorts string
		wantName  string
		wantPoll  time.Duration
		wantPrint []string
	}{
		{"file", nil, nil, "https://file.example", "8085", "From the file", 7 * time.Second, []string{"a:1", "b:2"}},
		{"environment over file", nil, map[string]string{"FUSIONFLEET_CLOUD": "https://env.example"}, "https://env.example", "8085", "From the file", 7 * time.Second, []string{"a:1", "b:2"}},
		{"flag over environment", []string{"-cloud", "https://flag.example", "-poll", "1s", "-printer", "c:3"}, map[string]string{"FUSIONFLEET_CLOUD": "https://env.example"},
			"https://flag.example", "8085", "From the file", time.Second, []string{"c:3"}},
		{"no file: defaults", []string{"-config", ""}, nil, "", uiPortsDefault, "Command Center", 5 * time.Second, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "FUSIONFLEET_CC_CONFIG" {
					return conf
				}
				return tt.env[k]
			}
			fs, f := newTestCCFlags(getenv)
			if _, err := f.parse(fs, tt.args, env{getenv: getenv, stdout: io.Discard, stderr: io.Discard}); err != nil {
				t.Fatal(err)
			}
			got := []any{*f.cloudURL, *f.uiRange, *f.name, *f.interval, []string(f.printers)}
			want := []any{tt.wantCloud, tt.wantPorts, tt.wantName, tt.wantPoll, tt.wantPrint}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
		})
	}
}

// Every bad line of a config file is reported with its line, and a secret
// written into the file is refused with the setting to use instead.
func TestConfigErrorsNameTheLine(t *testing.T) {
	tests := []struct {
		name string
		conf string
		want []string
	}{
		{"unknown", "cloud = https://x\nbogus = 1\n", []string{"c.conf:2: unknown setting \"bogus\""}},
		{"secret", "\nui-password = hunter2\n", []string{"c.conf:2: ui-password: secrets are not written", "ui-password-file"}},
		{"token", "enrol-token = abc\n", []string{"c.conf:1:", "enrol-token-file"}},
		{"twice", "name = a\n\nname = b\n", []string{"c.conf:3: name: set again (first on line 1)"}},
		{"duration", "poll = often\n", []string{"c.conf:1: poll:", "duration"}},
		{"negative duration", "bulk-interval = -1s\n", []string{"c.conf:1: bulk-interval:", "positive"}},
		{"ports", "ui-ports = 9-3\n", []string{"c.conf:1: ui-ports:"}},
		{"printer", "printer = a:1\nprinter = nohost\nprinter = h:99999\n", []string{"c.conf:2: printer: \"nohost\"", "c.conf:3: printer:", "1–65535"}},
		{"int", "uplink-rate = fast\n", []string{"c.conf:1: uplink-rate:"}},
		{"bool", "trust-new-printers = maybe\n", []string{"c.conf:1: trust-new-printers:"}},
		{"diagnostics", "diagnostics = sometimes\n", []string{"c.conf:1: diagnostics:", "ask or auto"}},
		{"log level", "log-level = loud\n", []string{"c.conf:1: log-level:"}},
		{"cloud", "cloud = ftp://x\n", []string{"c.conf:1: cloud:", "https://"}},
		{"config itself", "config = other.conf\n", []string{"c.conf:1: unknown setting \"config\""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, _ := newTestCCFlags(func(string) string { return "" })
			entries, err := parseConfig("c.conf", strings.NewReader(tt.conf))
			if err != nil {
				t.Fatal(err)
			}
			_, err = applyConfig(fs, "c.conf", entries, ccSettings(), func(string) string { return "" })
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			var ce *configError
			if !errors.As(err, &ce) {
				t.Errorf("error %T: want a *configError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q: want %q", err, w)
				}
			}
		})
	}
}

// The config file's settings are the Command Center's flags, all but
// -config, and each names the environment variable its flag falls back to.
func TestConfigSettingsAreFlags(t *testing.T) {
	fs, _ := newTestCCFlags(func(string) string { return "" })
	settings := ccSettings()
	fs.VisitAll(func(f *flag.Flag) {
		if _, ok := settings[f.Name]; !ok && f.Name != "config" {
			t.Errorf("flag -%s cannot be set in the config file", f.Name)
		}
	})
	for name, s := range settings {
		base := fs.Lookup(name)
		if base == nil {
			t.Errorf("setting %s: no such flag", name)
			continue
		}
		if s.env == "" {
			continue
		}
		fs2, _ := newTestCCFlags(func(k string) string {
			if k == s.env {
				return "true"
			}
			return ""
		})
		if got := fs2.Lookup(name).DefValue; got == base.DefValue {
			t.Errorf("setting %s: its flag's default does not follow %s", name, s.env)
		}
	}
}

func TestParsePrintersCSV(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr []string
	}{
		{"header and notes", "\ufeffaddress,name,hall\nm1.site:8443,M1,Hall 3\n# retired: m2.site:8443\n 10.0.0.7:8443 , M7\n", []string{"m1.site:8443", "10.0.0.7:8443"}, nil},
		{"no header", "a:1\nb:2", []string{"a:1", "b:2"}, nil},
		{"empty", "", nil, nil},
		{"bad rows", "address\na:1\nnoport\na:1\n[::1]:0\n", nil, []string{"p.csv:3: \"noport\"", "p.csv:4: a:1: listed again (first on line 2)", "p.csv:5:"}},
		{"bad quoting", "a:1\n\"b:2\n", nil, []string{"p.csv:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePrintersCSV("p.csv", []byte(tt.in))
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("no error, want %q", tt.wantErr)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q: want %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("printers (-want +got):\n%s", diff)
			}
		})
	}
}

// `commandcenter config check` reads the settings as the Command Center
// would, prints each with its source, and fails naming the bad line.
func TestConfigCheckCommand(t *testing.T) {
	csvFile := writeTempFile(t, "printers.csv", "address,name\np1.site:8443,P1\np2.site:8443,P2\na:1,dup of the file's\n")
	good := writeTempFile(t, "good.conf", "# site Hall 3\ncloud = https://cloud.example\nprinter = a:1\nprinters-csv = "+csvFile+"\npoll = 10s\n")
	code, stdout, stderr := runArgs(t, "commandcenter", "config", "check", "-config", good, "-uplink-rate", "20000")
	if code != 0 {
		t.Fatalf("exit code %d, stderr: %s", code, stderr)
	}
	for _, w := range []string{
		`poll                 = "10s"`, good + ":5",
		`uplink-rate          = "20000"`, "# command line",
		`name                 = "Command Center"`, "# default",
		"printers: 3\n", "config ok\n",
	} {
		if !strings.Contains(stdout, w) {
			t.Errorf("output lacks %q:\n%s", w, stdout)
		}
	}

	bad := writeTempFile(t, "bad.conf", "cloud = https://cloud.example\n\npoll = soon\n")
	code, _, stderr = runArgs(t, "commandcenter", "config", "check", "-config", bad)
	if want := bad + ":3: poll:"; code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("bad file: exit code %d, stderr %q; want 1 and %q", code, stderr, want)
	}
	badCSV := writeTempFile(t, "bad.csv", "p1:1\nbroken\n")
	conf := writeTempFile(t, "c.conf", "cloud = https://cloud.example\nprinters-csv = "+badCSV+"\n")
	code, _, stderr = runArgs(t, "commandcenter", "config", "check", "-config", conf)
	if want := badCSV + ":2:"; code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("bad CSV: exit code %d, stderr %q; want 1 and %q", code, stderr, want)
	}
	code, _, stderr = runArgs(t, "commandcenter", "config", "check", "-config", filepath.Join(t.TempDir(), "none.conf"))
	if code != 1 || !strings.Contains(stderr, "none.conf") {
		t.Errorf("missing file: exit code %d, stderr %q", code, stderr)
	}
	code, _, stderr = runArgs(t, "commandcenter", "config", "check")
	if code != 1 || !strings.Contains(stderr, "-cloud") {
		t.Errorf("no cloud: exit code %d, stderr %q", code, stderr)
	}
	if code, _, _ = runArgs(t, "commandcenter", "config"); code != 2 {
		t.Errorf("config without check: exit code %d, want 2", code)
	}
}

// FuzzParseConfig: the config file is written by hand, maybe by another
// tool; the parser must never panic, and what it accepts has valid keys.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		"cloud = https://x\nprinter = a:1\n",
		"# c\n\nname = \"q\\\"uoted\"\n",
		"bad line\n",
		"\ufeffk=v",
		"name = \"open",
		"=\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := parseConfig("f", bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, en := range entries {
			if !validKey(en.Key) || en.Line < 1 {
				t.Errorf("accepted %+v", en)
			}
		}
	})
}

// FuzzParsePrintersCSV: a CSV import comes from a spreadsheet; what it
// accepts are host:port addresses, each once.
func FuzzParsePrintersCSV(f *testing.F) {
	for _, s := range []string{"address,name\nm1:8443,M1\n", "a:1\n# c\nb:2", "\"a:1\",\"x,y\"\n", "\"open\n", "[::1]:8443\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parsePrintersCSV("f", b)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, a := range got {
			if checkPrinterAddr(a) != nil || seen[a] {
				t.Errorf("accepted %q", a)
			}
			seen[a] = true
		}
	})
}

// docs/config.md documents every setting of the config file.
func TestConfigDocumented(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "config.md"))
	if err != nil {
		t.Fatal(err)
	}
	for key := range ccSettings() {
		if !strings.Contains(string(b), "| `"+key+"` |") {
			t.Errorf("docs/config.md: no row for %s", key)
		}
	}
}
