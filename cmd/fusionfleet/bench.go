package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/fusionfleet/fusionfleet/internal/benchrun"
	"github.com/fusionfleet/fusionfleet/internal/benchsuite"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/printer"
)

// runBench runs the benchmark scenarios one after another, with a progress
// bar on stderr, and prints one table of their figures on stdout. It fails
// only when a scenario fails, not when a figure misses its target: misses
// are marked in the table and listed after it.
func runBench(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("bench", "Runs every benchmark scenario one after another and prints one table: each figure, the\n"+
		"reference measured in the same run, their ratio, the target and the machine's load.", e)
	quick := fs.Bool("quick", false, "run a small version of every scenario (under a minute on two idle cores): it shows that each runs, its figures mean little")
	asJSON := fs.Bool("json", false, "print the rows as JSON instead of a table")
	only := fs.String("only", "", "run only the scenarios `NAME[,NAME…]` (see -list)")
	list := fs.Bool("list", false, "list the scenarios and exit")
	postgres := fs.String("postgres", envDefault(e, "FUSIONFLEET_BENCH_POSTGRES", ""),
		"PostgreSQL server `URL` allowed to create and drop databases, for the PostgreSQL scenarios (default: $FUSIONFLEET_BENCH_POSTGRES, else they are skipped)")
	servePrinters := fs.Int("serve-printers", 0, "(the poll scenario's own use) serve `N` printers on stdin/stdout for a bench run's poll scenario, and nothing else")
	processes := fs.Bool("processes", true, "run each scenario in a process of its own, so that its CPU time and memory are its own; false: all in this one")
	pair := fs.String("pair", "", "(with -serve-printers) the `fingerprint` of the Command Center the printers pair")
	if err := parse(fs, args, e); err != nil {
		return err
	}
	if *servePrinters > 0 {
		return printer.ServeFleet(*servePrinters, deviceapi.Fingerprint(*pair), e.stdin, e.stdout)
	}
	all := benchScenarios()
	if *list {
		for _, s := range all {
			fmt.Fprintf(e.stdout, "%-24s %s\n", s.Name, s.Summary)
		}
		return nil
	}
	scenarios, err := selectScenarios(all, *only)
	if err != nil {
		fmt.Fprintf(e.stderr, "fusionfleet bench: %v\n", err)
		fs.Usage()
		return errUsage
	}
	opts := benchsuite.Options{Quick: *quick, Postgres: *postgres}
	self, err := os.Executable()
	if err == nil {
		// The poll scenario's printers run in a process of their own, so
		// that the Command Center's CPU time is its own.
		opts.PrinterProcess = func(n int, collector deviceapi.Fingerprint) *exec.Cmd {
			return exec.Command(self, "bench", "-serve-printers", strconv.Itoa(n), "-pair", string(collector))
		}
	}

	var rows []benchsuite.Row
	var failed []error
	bar := newBenchProgress(e.stderr, len(scenarios))
	for i, s := range scenarios {
		bar.begin(i, s.Name)
		var r []benchsuite.Row
		var err error
		if *processes && len(scenarios) > 1 && opts.PrinterProcess != nil {
			r, err = benchInProcess(ctx, self, s.Name, opts)
		} else {
			r, err = s.Run(ctx, opts)
		}
		bar.end()
		rows = append(rows, r...)
		if err != nil {
			failed = append(failed, err)
		}
		if ctx.Err() != nil {
			failed = append(failed, ctx.Err())
			break
		}
	}
	bar.finish()
	if *asJSON {
		if err := writeBenchJSON(e.stdout, opts.Quick, rows); err != nil {
			return err
		}
	} else {
		writeBenchTable(e.stdout, opts.Quick, rows)
	}
	if len(failed) > 0 {
		return fmt.Errorf("bench: %d of %d scenarios failed: %w", len(failed), len(scenarios), errors.Join(failed...))
	}
	return nil
}

// benchScenarios are the suite's scenarios and the command's own: the
// printer process it runs as "fusionfleet printer --count N".
func benchScenarios() []benchsuite.Scenario {
	return append(benchsuite.Scenarios(), benchsuite.Scenario{
		Name: "printer-process", Summary: "a 'printer --count 1000' process at 60x, polled every 5 s over kept-alive TLS",
		N: 10, QuickN: 2,
		Bench: func(b benchrun.B, o benchsuite.Options) {
			n := 1000
			if o.Quick {
				n = 50
			}
			printerProcessBench(b, n)
		},
		Figures: []benchsuite.Figure{
			{Name: "CPU at 60x, pollers included", Metric: "cores@60x", Unit: "cores", Target: benchsuite.Target{AtMost: true, Bound: 1, Unit: "cores"}},
			{Name: "memory", Metric: "MiB", Unit: "MiB", Target: benchsuite.Target{AtMost: true, Bound: 1024, Unit: "MiB"}},
		},
	})
}

// benchInProcess runs the scenario name in a process of its own (this
// program's "bench -only name -json") and returns its rows.
func benchInProcess(ctx context.Context, self, name string, o benchsuite.Options) ([]benchsuite.Row, error) {
	args := []string{"bench", "-only", name, "-json"}
	if o.Quick {
		args = append(args, "-quick")
	}
	if o.Postgres != "" {
		args = append(args, "-postgres", o.Postgres)
	}
	cmd := exec.CommandContext(ctx, self, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var report benchReport
	if err := json.Unmarshal(stdout.Bytes(), &report); err != nil || len(report.Rows) == 0 {
		msg := fmt.Sprintf("its process ended (%v) without rows: %s", runErr, lastLines(stderr.String(), 5))
		return []benchsuite.Row{{Scenario: name, Error: msg, CPUs: runtime.NumCPU()}}, fmt.Errorf("%s: %s", name, msg)
	}
	var errs []error
	for _, r := range report.Rows {
		if r.Error != "" {
			errs = append(errs, fmt.Errorf("%s: %s", name, r.Error))
		}
	}
	if runErr != nil && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("%s: %v: %s", name, runErr, lastLines(stderr.String(), 5)))
	}
	return report.Rows, errors.Join(errs...)
}

// lastLines returns the last n lines of s, on one line.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " / ")
}

// selectScenarios returns the scenarios only names (comma-separated), in
// the order of all; all of them if only is empty.
func selectScenarios(all []benchsuite.Scenario, only string) ([]benchsuite.Scenario, error) {
	if strings.TrimSpace(only) == "" {
		return all, nil
	}
	want := map[string]bool{}
	for n := range strings.SplitSeq(only, ",") {
		if n = strings.TrimSpace(n); n != "" {
			want[n] = true
		}
	}
	var names []string
	var out []benchsuite.Scenario
	for _, s := range all {
		names = append(names, s.Name)
		if want[s.Name] {
			out = append(out, s)
			delete(want, s.Name)
		}
	}
	if len(want) > 0 {
		unknown := slices.Sorted(func(yield func(string) bool) {
			for n := range want {
				if !yield(n) {
					return
				}
			}
		})
		return nil, fmt.Errorf("-only: no scenario %s; the scenarios are %s", strings.Join(unknown, ", "), strings.Join(names, ", "))
	}
	return out, nil
}

// benchProgress draws which scenario runs, and how long it has run: on a
// terminal a bar redrawn every second, otherwise a line per scenario.
type benchProgress struct {
	w     io.Writer
	tty   bool
	total int

	mu      sync.Mutex
	i       int
	name    string
	started time.Time
	stop    chan struct{}
	done    chan struct{}
}

func newBenchProgress(w io.Writer, total int) *benchProgress {
	return &benchProgress{w: w, tty: isTerminal(w), total: total}
}

func (p *benchProgress) begin(i int, name string) {
	p.mu.Lock()
	p.i, p.name, p.started = i, name, time.Now()
	p.mu.Unlock()
	if !p.tty {
		fmt.Fprintf(p.w, "bench: %s %d/%d %s\n", progressBar(float64(i)/float64(p.total), 20), i+1, p.total, name)
		return
	}
	p.draw()
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.draw()
			}
		}
	}()
}

func (p *benchProgress) draw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "\rbench: %s %d/%d %-24s %4.0fs ", progressBar(float64(p.i)/float64(p.total), 20),
		p.i+1, p.total, p.name, time.Since(p.started).Seconds())
}

func (p *benchProgress) end() {
	if p.tty {
		close(p.stop)
		<-p.done
		return
	}
	fmt.Fprintf(p.w, "bench: %s took %.0fs\n", p.name, time.Since(p.started).Seconds())
}

func (p *benchProgress) finish() {
	if p.tty {
		fmt.Fprintf(p.w, "\rbench: %s %d/%d done%s\n", progressBar(1, 20), p.total, p.total, strings.Repeat(" ", 30))
	}
}

// benchReport is the JSON form of a run.
type benchReport struct {
	Quick      bool             `json:"quick"`
	CPUs       int              `json:"cpus"`
	GOMAXPROCS int              `json:"gomaxprocs"`
	Rows       []benchsuite.Row `json:"rows"`
}

func writeBenchJSON(w io.Writer, quick bool, rows []benchsuite.Row) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(benchReport{Quick: quick, CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), Rows: rows})
}

// writeBenchTable writes rows as a Markdown table, aligned for a terminal
// and ready for the README, then the missed targets, the skipped and the
// failed scenarios.
func writeBenchTable(w io.Writer, quick bool, rows []benchsuite.Row) {
	cpus := runtime.NumCPU()
	if len(rows) > 0 {
		cpus = rows[0].CPUs
	}
	header := []string{"scenario", "figure", "value", "reference (same run)", "ratio", "target", "met", fmt.Sprintf("load 1m (%d CPUs)", cpus)}
	table := [][]string{header}
	var missed, notes []string
	for _, r := range rows {
		load := fmt.Sprintf("%.1f → %.1f", r.LoadStart, r.LoadEnd)
		switch {
		case r.Error != "" && r.Figure == "":
			notes = append(notes, fmt.Sprintf("FAILED %s: %s", r.Scenario, r.Error))
			table = append(table, []string{r.Scenario, "—", "FAILED", "", "", "", "", load})
			continue
		case r.Skipped != "":
			notes = append(notes, fmt.Sprintf("skipped %s: %s", r.Scenario, r.Skipped))
			table = append(table, []string{r.Scenario, "—", "skipped", "", "", "", "", ""})
			continue
		case r.Error != "":
			notes = append(notes, fmt.Sprintf("FAILED %s, %s: %s", r.Scenario, r.Figure, r.Error))
			table = append(table, []string{r.Scenario, r.Figure, "FAILED", "", "", r.Target, "", load})
			continue
		}
		value := benchsuite.FormatNumber(r.Value) + " " + r.Unit
		ref, ratio := "", ""
		if r.Reference != "" || r.RefValue != 0 {
			ref = strings.TrimSpace(benchsuite.FormatNumber(r.RefValue) + " " + r.Reference)
			ratio = fmt.Sprintf("%.2f", r.Ratio)
		}
		met := ""
		if r.Met != nil {
			met = "yes"
			if !*r.Met {
				met = "**MISSED**"
				m := fmt.Sprintf("MISSED %s, %s: %s", r.Scenario, r.Figure, value)
				if ratio != "" {
					m += fmt.Sprintf(" (ratio %s to %s)", ratio, ref)
				}
				missed = append(missed, m+", target "+r.Target)
			}
		}
		table = append(table, []string{r.Scenario, r.Figure, value, ref, ratio, r.Target, met, load})
	}
	if quick {
		fmt.Fprintln(w, "Quick run (-quick): small sizes, to show that every scenario runs; the figures are not the scenarios'.")
		fmt.Fprintln(w)
	}
	widths := make([]int, len(header))
	for _, row := range table {
		for i, c := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	line := func(row []string) {
		var b strings.Builder
		b.WriteString("|")
		for i, c := range row {
			b.WriteString(" " + c + strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)) + " |")
		}
		fmt.Fprintln(w, b.String())
	}
	line(table[0])
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = strings.Repeat("-", widths[i])
	}
	line(sep)
	for _, row := range table[1:] {
		line(row)
	}
	if len(missed)+len(notes) > 0 {
		fmt.Fprintln(w)
	}
	for _, m := range slices.Concat(missed, notes) {
		fmt.Fprintln(w, m)
	}
}
