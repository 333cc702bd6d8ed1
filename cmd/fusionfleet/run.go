package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// errUsage means the command line was wrong; the usage is already printed.
var errUsage = errors.New("usage")

// errHelp means -h was given; the help is already printed.
var errHelp = errors.New("help")

// env is what every subcommand gets from run.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

type subcommand struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, e env) error
}

func subcommands() []subcommand {
	return []subcommand{
		{"demo", "run a cloud, a Command Center and virtual printers in one process", runDemo},
		{"soak", "run a fleet for simulated weeks on an accelerated clock and judge memory, disk and logs", runSoak},
		{"cloud", "run a cloud node: uplink, stream, store and dashboard", runCloud},
		{"org", "create an organisation (a customer or a service provider) in a cloud's store", runOrg},
		{"audit", "verify the cloud store's audit log: every organisation's hash chain", runAudit},
		{"features", "show or set the features of an organisation's plan", runFeatures},
		{"commandcenter", "run a Command Center: poll printers, upload to the cloud", runCommandCenter},
		{"printer", "run a virtual printer serving the device API over HTTPS", runPrinter},
		{"bench", "run the benchmark scenarios and print one table of figures, references and targets", runBench},
		{"release", "offline release tool: keys, signed firmware and parameter sets (TUF)", runRelease},
		{"score", "score a model against the virtual printers' hidden truth", runScore},
		{"version", "print the version", runVersion},
	}
}

// run is the whole program: main only calls it.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) < 2 {
		usage(stderr)
		return errUsage
	}
	name := args[1]
	switch name {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return errHelp
	}
	for _, c := range subcommands() {
		if c.name == name {
			return c.run(ctx, args[2:], e)
		}
	}
	fmt.Fprintf(stderr, "fusionfleet: unknown command %q\n\n", name)
	usage(stderr)
	return errUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "FusionFleet connects powder-bed 3D printers to a cloud through an on-site Command Center.")
	fmt.Fprintln(w, "\nUsage: fusionfleet <command> [flags]\n\nCommands:")
	for _, c := range subcommands() {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'fusionfleet <command> -h' for a command's flags.")
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name, synopsis string, e env) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: fusionfleet %s [flags]\n\n%s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, mapping -h to errHelp (help on stdout) and bad flags or
// stray arguments to errUsage.
func parse(fs *flag.FlagSet, args []string, e env) error {
	// The flag package would print the usage itself; print it once, where
	// it belongs.
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(e.stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(e.stdout)
			fs.Usage()
			return errHelp
		}
		fmt.Fprintf(e.stderr, "fusionfleet %s: %v\n", fs.Name(), err)
		fs.Usage()
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "fusionfleet %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}

// envDefault returns the environment variable's value, or def.
func envDefault(e env, key, def string) string {
	if v := e.getenv(key); v != "" {
		return v
	}
	return def
}

// defaultDataDir is a directory under the user's cache directory.
func defaultDataDir(e env, role string) string {
	if d := e.getenv("FUSIONFLEET_DATA"); d != "" {
		return filepath.Join(d, role)
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "fusionfleet", role)
}

// newLogger returns a structured logger on stderr.
func newLogger(e env, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: l})), nil
}

// readSecret reads a secret from a file, or else from an environment
// variable: secrets never come from flag values (they would show in ps).
func readSecret(e env, file, envKey string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read secret: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return strings.TrimSpace(e.getenv(envKey)), nil
}
