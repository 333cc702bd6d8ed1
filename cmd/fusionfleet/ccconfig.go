package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// The Command Center's config file (docs/config.md) is a list of
// `key = value` lines whose keys are the command's flag names. A format of
// our own rather than TOML or YAML: its keys and values are exactly the
// flags' (one table, one validation, one help text), every error names its
// line, and no module is needed for twenty lines of parsing.
//
// Precedence, highest first: a flag on the command line, its environment
// variable, the config file, the flag's default.

// Limits of what the Command Center reads from a config or CSV file: both
// are written by hand, far below these.
const (
	maxConfigBytes = 1 << 20
	maxConfigLine  = 64 << 10
)

// configEntry is one `key = value` line of a config file.
type configEntry struct {
	Line       int
	Key, Value string
}

// configError is an error of a config or CSV file's line.
type configError struct {
	File string
	Line int
	Err  error
}

func (e *configError) Error() string {
	return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
}

func (e *configError) Unwrap() error { return e.Err }

// parseConfig reads a config file's syntax: blank lines and lines
// starting with # are skipped; every other line is `key = value`, the key
// a flag name (lowercase letters, digits, dashes), the value the rest of
// the line with the spaces around it trimmed, or a Go-quoted string when it
// starts with a double quote. Errors name the file and line.
func parseConfig(file string, r io.Reader) ([]configEntry, error) {
	sc := bufio.NewScanner(io.LimitReader(r, maxConfigBytes+1))
	sc.Buffer(make([]byte, 4096), maxConfigLine)
	var (
		entries []configEntry
		errs    []error
		n, size int
	)
	for sc.Scan() {
		n++
		size += len(sc.Bytes()) + 1
		if size > maxConfigBytes {
			return nil, &configError{file, n, fmt.Errorf("file longer than %d bytes", maxConfigBytes)}
		}
		line := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "\ufeff"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			errs = append(errs, &configError{file, n, fmt.Errorf("want key = value, got %q", truncate(line))})
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !validKey(k) {
			errs = append(errs, &configError{file, n, fmt.Errorf("setting %q: want lowercase letters, digits and dashes", truncate(k))})
			continue
		}
		if strings.HasPrefix(v, `"`) {
			u, err := strconv.Unquote(v)
			if err != nil {
				errs = append(errs, &configError{file, n, fmt.Errorf("%s: bad quoted value %s", k, truncate(v))})
				continue
			}
			v = u
		}
		entries = append(entries, configEntry{Line: n, Key: k, Value: v})
	}
	if err := sc.Err(); err != nil {
		return nil, &configError{file, n + 1, err}
	}
	return entries, errors.Join(errs...)
}

func validKey(k string) bool {
	if k == "" || k[0] == '-' {
		return false
	}
	for _, c := range k {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// truncate keeps an error's quote of a line short.
func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// configSetting says how one config key maps to its flag.
type configSetting struct {
	env        string             // the flag's environment variable, "" if none
	repeatable bool               // may appear on many lines (printer)
	check      func(string) error // what the flag's Set does not check
}

// ccSettings are the Command Center's flags the config file may set. The
// rest of its flags are not settings of a site (-config itself).
func ccSettings() map[string]configSetting {
	s := map[string]configSetting{
		"data":               {env: "FUSIONFLEET_CC_DATA"},
		"cloud":              {env: "FUSIONFLEET_CLOUD", check: checkCloudURL},
		"ca-file":            {env: "FUSIONFLEET_CA_FILE"},
		"enrol-token-file":   {},
		"name":               {},
		"printer":            {repeatable: true, check: checkPrinterAddr},
		"printers-csv":       {env: "FUSIONFLEET_PRINTERS_CSV"},
		"trust-new-printers": {},
		"ui-host":            {},
		"ui-hosts":           {env: "FUSIONFLEET_UI_HOSTS"},
		"ui-password-file":   {},
		"ui-ports":           {env: "FUSIONFLEET_UI_PORTS", check: func(s string) error { _, _, err := uiPorts(s); return err }},
		"poll":               {check: positiveDuration},
		"bulk-interval":      {check: positiveDuration},
		"debug-listen":       {},
		"mtconnect":          {env: "FUSIONFLEET_MTCONNECT"},
		"mtconnect-buffer":   {},
		"mirror-listen":      {env: "FUSIONFLEET_MIRROR_LISTEN"},
		"update-interval":    {check: positiveDuration},
		"uplink-rate":        {},
		"diagnostics":        {check: checkDiagnostics},
		"log-level":          {check: func(s string) error { var l slog.Level; return l.UnmarshalText([]byte(s)) }},
		"mqtt":               {env: "FUSIONFLEET_MQTT"},
		"mqtt-prefix":        {env: "FUSIONFLEET_MQTT_PREFIX"},
		"mqtt-user":          {env: "FUSIONFLEET_MQTT_USER"},
		"mqtt-password-file": {},
		"mqtt-ca-file":       {env: "FUSIONFLEET_MQTT_CA_FILE"},
		"mqtt-allow-list":    {env: "FUSIONFLEET_MQTT_ALLOW_LIST"},
		"keep-awake":         {},
	}
	// The update of the Command Center's own binary (package selfupdate).
	s["self-update"] = configSetting{}
	s["self-update-root"] = configSetting{env: "FUSIONFLEET_SELF_UPDATE_ROOT"}
	s["self-update-health-timeout"] = configSetting{check: positiveDuration}
	s["self-update-probe-timeout"] = configSetting{check: positiveDuration}
	return s
}

// secretKeys are settings an operator may try to write into the file; the
// file only names the files that hold them.
var secretKeys = map[string]string{
	"enrol-token":   "enrol-token-file",
	"token":         "enrol-token-file",
	"ui-password":   "ui-password-file",
	"password":      "ui-password-file",
	"mqtt-password": "mqtt-password-file",
}

// applyConfig sets the flags of fs from a config file's entries, except
// those set on the command line or by their environment variable. It
// reports every bad line, not only the first.
// It returns the line that set each flag it set.
func applyConfig(fs *flag.FlagSet, file string, entries []configEntry, settings map[string]configSetting, getenv func(string) string) (map[string]int, error) {
	set := map[string]int{}
	onCommandLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })
	seen := map[string]int{}
	var errs []error
	for _, en := range entries {
		fail := func(err error) { errs = append(errs, &configError{file, en.Line, err}) }
		s, ok := settings[en.Key]
		if !ok {
			if f, secret := secretKeys[en.Key]; secret {
				fail(fmt.Errorf("%s: secrets are not written into the config file; name a file holding it with %s", en.Key, f))
			} else {
				fail(fmt.Errorf("unknown setting %q (see docs/config.md)", en.Key))
			}
			continue
		}
		if prev, dup := seen[en.Key]; dup && !s.repeatable {
			fail(fmt.Errorf("%s: set again (first on line %d)", en.Key, prev))
			continue
		}
		seen[en.Key] = en.Line
		if s.check != nil {
			if err := s.check(en.Value); err != nil {
				fail(fmt.Errorf("%s: %w", en.Key, err))
				continue
			}
		}
		// A command with fewer flags (commandcenter check) takes the
		// settings it has.
		if fs.Lookup(en.Key) == nil || onCommandLine[en.Key] || (s.env != "" && getenv(s.env) != "") {
			continue
		}
		if err := fs.Set(en.Key, en.Value); err != nil {
			fail(fmt.Errorf("%s: %w", en.Key, err))
			continue
		}
		set[en.Key] = en.Line
	}
	return set, errors.Join(errs...)
}

// loadConfig reads and applies the config file named by -config (or
// FUSIONFLEET_CC_CONFIG); none when both are empty.
// It returns the line that set each flag it set.
func loadConfig(fs *flag.FlagSet, file string, getenv func(string) string) (map[string]int, error) {
	if file == "" {
		return nil, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	entries, err := parseConfig(file, f)
	if err != nil {
		return nil, err
	}
	return applyConfig(fs, file, entries, ccSettings(), getenv)
}

// runConfig is `fusionfleet commandcenter config check`: it reads the
// config file and the flags and environment as the Command Center would,
// checks them, and prints every setting with where it came from.
func runConfig(args []string, e env) error {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprintln(e.stderr, "Usage: fusionfleet commandcenter config check [-config file] [flags]")
		return errUsage
	}
	fs, f := newCCFlags("commandcenter config check", "Check a Command Center's settings, as it would read them at start, from the config file\n"+
		"(-config or FUSIONFLEET_CC_CONFIG), the environment and these flags; print each setting\n"+
		"and where it came from. Exit status 1 names the bad lines.", e)
	fromFile, err := f.parse(fs, args[1:], e)
	if err != nil {
		return err
	}
	opts, err := f.options(e)
	if err != nil {
		return err
	}
	onCommandLine := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { onCommandLine[fl.Name] = true })
	settings := ccSettings()
	fs.VisitAll(func(fl *flag.Flag) {
		var from string
		// The file set only what the command line and environment did not.
		switch s := settings[fl.Name]; {
		case fromFile[fl.Name] > 0:
			from = fmt.Sprintf("%s:%d", *f.config, fromFile[fl.Name])
		case onCommandLine[fl.Name]:
			from = "command line"
		case s.env != "" && e.getenv(s.env) != "":
			from = "environment " + s.env
		default:
			from = "default"
		}
		fmt.Fprintf(e.stdout, "%-20s = %-40s # %s\n", fl.Name, strconv.Quote(fl.Value.String()), from)
	})
	fmt.Fprintf(e.stdout, "printers: %d\nconfig ok\n", len(opts.Printers))
	return nil
}

func checkCloudURL(s string) error {
	if !strings.HasPrefix(s, "https://") && !strings.HasPrefix(s, "http://") {
		return fmt.Errorf("%q: want an https:// URL", truncate(s))
	}
	return nil
}

func checkPrinterAddr(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return fmt.Errorf("%q: want host:port", truncate(s))
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("%q: port %q: want 1–65535", truncate(s), port)
	}
	return nil
}

func positiveDuration(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q: want a duration such as 5s or 2m", s)
	}
	if d <= 0 {
		return fmt.Errorf("%q: want a positive duration", s)
	}
	return nil
}

func checkDiagnostics(s string) error {
	if s != "ask" && s != "auto" {
		return fmt.Errorf("%q: want ask or auto", s)
	}
	return nil
}

// readPrintersCSV reads a CSV import of printers: one printer a row, its
// host:port in the first column; a first row whose first cell is
// "address" is a header; further columns (a name, a hall) are the
// operator's notes and not read; rows starting with # are skipped.
func readPrintersCSV(file string) ([]string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("printers csv: %w", err)
	}
	if len(b) > maxConfigBytes {
		return nil, fmt.Errorf("printers csv %s: longer than %d bytes", file, maxConfigBytes)
	}
	return parsePrintersCSV(file, b)
}

func parsePrintersCSV(file string, b []byte) ([]string, error) {
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\ufeff"))))
	r.Comment = '#'
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	var (
		out  []string
		errs []error
		seen = map[string]int{}
	)
	for first := true; ; first = false {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, &configError{file, pe.Line, pe.Err}
			}
			return nil, fmt.Errorf("printers csv %s: %w", file, err)
		}
		line, _ := r.FieldPos(0)
		addr := strings.TrimSpace(rec[0])
		if first && strings.EqualFold(addr, "address") {
			continue
		}
		if err := checkPrinterAddr(addr); err != nil {
			errs = append(errs, &configError{file, line, err})
			continue
		}
		if prev, dup := seen[addr]; dup {
			errs = append(errs, &configError{file, line, fmt.Errorf("%s: listed again (first on line %d)", addr, prev)})
			continue
		}
		seen[addr] = line
		out = append(out, addr)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}
