// Command gotest runs `go test -json` with the arguments it is given and
// prints what `go test` prints for people — a line per package, the log of
// each failing test — and then every skipped test with the reason it gave,
// so that a test skipped for want of a service (PostgreSQL, NATS, Chromium)
// is seen without -v. It exits with go test's status.
//
// The word "then" separates runs of go test with arguments of their own,
// which run one after the other, every one even when one fails; the list of
// skipped tests covers them all, and the exit status is the first failing
// run's. `make test` runs the whole-system packages without the race
// detector, then the rest with it:
//
//	go run ./scripts/gotest -count=1 ./e2e then -race -count=1 ./internal/...
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs go test once per run of args (see runs) and returns the exit
// status.
func run(args []string, stdout, stderr io.Writer) int {
	r := newReport(stdout)
	code := 0
	for _, a := range runs(args) {
		if c := r.goTest(a, stderr); code == 0 {
			code = c
		}
	}
	r.writeSkips()
	return code
}

// runs splits args at each "then".
func runs(args []string) [][]string {
	var all [][]string
	for {
		i := slices.Index(args, "then")
		if i < 0 {
			return append(all, args)
		}
		all, args = append(all, args[:i]), args[i+1:]
	}
}

// goTest runs go test -json with args, reporting into r, and returns its
// exit status.
func (r *report) goTest(args []string, stderr io.Writer) int {
	r.failed = false
	cmd := exec.Command("go", append([]string{"test", "-json"}, args...)...)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(stderr, "gotest:", err)
		return 2
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(stderr, "gotest:", err)
		return 2
	}
	copyErr := r.read(out)
	err = cmd.Wait()
	if copyErr != nil {
		fmt.Fprintln(stderr, "gotest: reading go test's output:", copyErr)
	}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode()
	case err != nil:
		fmt.Fprintln(stderr, "gotest:", err)
		return 2
	case copyErr != nil || r.failed:
		return 1
	}
	return 0
}

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	// ImportPath names the package of build-output and build-fail events.
	ImportPath string
}

// skip is a skipped test and the reason it logged.
type skip struct {
	pkg, test, reason string
}

// report turns the events into go test's usual output and collects the
// skipped tests.
type report struct {
	w      io.Writer
	failed bool
	// logs holds the output of each test since it started, by package and
	// test name; a top-level test's log includes its subtests'.
	logs  map[string]map[string][]string
	skips []skip
}

func newReport(w io.Writer) *report {
	return &report{w: w, logs: map[string]map[string][]string{}}
}

// read consumes go test -json output. A line that is not an event (the go
// command's own complaints) is printed as it is.
func (r *report) read(in io.Reader) error {
	br := bufio.NewReader(in)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			var e event
			if bytes.HasPrefix(line, []byte("{")) && json.Unmarshal(line, &e) == nil && e.Action != "" {
				r.event(e)
			} else {
				r.w.Write(line)
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (r *report) event(e event) {
	switch {
	case e.Action == "build-output":
		io.WriteString(r.w, e.Output)
	case e.Action == "build-fail":
		r.failed = true
	case e.Test == "":
		r.packageEvent(e)
	default:
		r.testEvent(e)
	}
}

// packageEvent prints a package's own lines ("ok", "FAIL", a panic outside
// any test) as go test does; "PASS" is printed only with -v.
func (r *report) packageEvent(e event) {
	switch e.Action {
	case "output":
		if strings.HasPrefix(e.Output, "FAIL") {
			// The test binary has ended: a test that never finished (a
			// panic, a timeout) shows its log.
			r.flush(e.Package)
		}
		if e.Output != "PASS\n" {
			io.WriteString(r.w, e.Output)
		}
	case "fail":
		r.failed = true
		r.flush(e.Package)
		delete(r.logs, e.Package)
	case "pass", "skip":
		delete(r.logs, e.Package)
	}
}

func (r *report) testEvent(e event) {
	logs := r.logs[e.Package]
	if logs == nil {
		logs = map[string][]string{}
		r.logs[e.Package] = logs
	}
	top, _, _ := strings.Cut(e.Test, "/")
	switch e.Action {
	case "output":
		logs[top] = append(logs[top], e.Output)
		if e.Test != top {
			logs[e.Test] = append(logs[e.Test], e.Output)
		}
	case "skip":
		own := logs[e.Test]
		if e.Test == top {
			own = ownLines(logs[top], top)
		}
		r.skips = append(r.skips, skip{pkg: e.Package, test: e.Test, reason: reason(own)})
		r.end(logs, e.Test, top, false)
	case "pass":
		r.end(logs, e.Test, top, false)
	case "fail":
		r.end(logs, e.Test, top, true)
	}
}

// end forgets a finished test's log, printing a failed top-level test's.
func (r *report) end(logs map[string][]string, test, top string, failed bool) {
	if test != top {
		delete(logs, test)
		return
	}
	if failed {
		io.WriteString(r.w, strings.Join(logs[top], ""))
	}
	delete(logs, top)
}

// flush prints the logs of pkg's tests that started and did not end.
func (r *report) flush(pkg string) {
	logs := r.logs[pkg]
	names := make([]string, 0, len(logs))
	for name := range logs {
		if !strings.Contains(name, "/") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		io.WriteString(r.w, strings.Join(logs[name], ""))
	}
	delete(r.logs, pkg)
}

// ownLines drops the lines of a top-level test's subtests from its log.
func ownLines(log []string, top string) []string {
	var own []string
	sub := false
	for _, l := range log {
		t := strings.TrimSpace(l)
		for _, p := range []string{"=== RUN", "=== PAUSE", "=== CONT", "=== NAME"} {
			if name, ok := strings.CutPrefix(t, p); ok {
				sub = strings.TrimSpace(name) != top
			}
		}
		if !sub {
			own = append(own, l)
		}
	}
	return own
}

// fileLine is the "file_test.go:12: " that t.Log and t.Skip put first.
var fileLine = regexp.MustCompile(`^\S+\.go:\d+: `)

// reason is what a skipped test logged, without go test's own lines and
// the file and line, so that tests skipped for one reason group together.
func reason(log []string) string {
	var parts []string
	for _, l := range log {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP:") {
			continue
		}
		parts = append(parts, fileLine.ReplaceAllString(t, ""))
	}
	if len(parts) == 0 {
		return "(no reason given)"
	}
	return strings.Join(parts, " ")
}

// writeSkips prints every skipped test, grouped by reason.
func (r *report) writeSkips() {
	if len(r.skips) == 0 {
		fmt.Fprintln(r.w, "\nskipped tests: none")
		return
	}
	byReason := map[string][]skip{}
	var reasons []string
	for _, s := range r.skips {
		if byReason[s.reason] == nil {
			reasons = append(reasons, s.reason)
		}
		byReason[s.reason] = append(byReason[s.reason], s)
	}
	fmt.Fprintf(r.w, "\nskipped tests: %d\n", len(r.skips))
	for _, why := range reasons {
		ss := byReason[why]
		fmt.Fprintf(r.w, "  %d skipped: %s\n", len(ss), why)
		for _, s := range ss {
			fmt.Fprintf(r.w, "      %s %s\n", s.pkg, s.test)
		}
	}
}
