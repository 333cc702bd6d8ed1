package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/learnscore"
	"github.com/fusionfleet/fusionfleet/internal/maintscore"
)

// runScore scores a model against the virtual printers' hidden truth:
// "fusionfleet score maintenance".
func runScore(ctx context.Context, args []string, e env) error {
	usage := func(w io.Writer) {
		fmt.Fprintln(w, "Usage: fusionfleet score <model> [flags]")
		fmt.Fprintln(w, "\nScore a model on simulated fleets it never trained on, against the printers' hidden truth.")
		fmt.Fprintln(w, "\nModels:")
		fmt.Fprintln(w, "  maintenance  component failure forecasts, next to replacing at the rated life")
		fmt.Fprintln(w, "  learning     proposed parameter sets in closed loop, next to today's defaults and the oracle")
	}
	if len(args) == 0 {
		usage(e.stderr)
		return errUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(e.stdout)
		return errHelp
	case "maintenance":
		return runScoreMaintenance(ctx, args[1:], e)
	case "learning":
		return runScoreLearning(ctx, args[1:], e)
	}
	fmt.Fprintf(e.stderr, "fusionfleet score: unknown model %q\n\n", args[0])
	usage(e.stderr)
	return errUsage
}

func runScoreMaintenance(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("score maintenance", "Simulate training fleets, learn component life models from the records the cloud would\n"+
		"store of them, then simulate fleets on other seeds and score the forecasts (\"fails within\n"+
		"the horizon\") against the hidden failure times, next to replacing at the rated life.", e)
	quick := fs.Bool("quick", false, "score the small standard run (under four minutes)")
	train := fs.String("train-seeds", "", "comma-separated fleet `seeds` to train on (default: the standard run's)")
	test := fs.String("test-seeds", "", "comma-separated fleet `seeds` to score on, never trained on (default: the standard run's)")
	printers := fs.Int("printers", 0, "printers per fleet (default: the standard run's)")
	days := fs.Int("days", 0, "simulated days per fleet (default: the standard run's)")
	horizon := fs.Duration("horizon", 7*24*time.Hour, "how far ahead \"fails within\" looks")
	original := fs.Bool("original-supplies", false, "run every printer on original agent (the standard runs put a fifth on non-original and some on expired agent for a while)")
	if err := parse(fs, args, e); err != nil {
		return err
	}
	o := maintscore.Full
	if *quick {
		o = maintscore.Quick
	}
	var err error
	if *train != "" {
		if o.TrainSeeds, err = seeds(*train); err != nil {
			return fmt.Errorf("score maintenance: -train-seeds: %w", err)
		}
	}
	if *test != "" {
		if o.TestSeeds, err = seeds(*test); err != nil {
			return fmt.Errorf("score maintenance: -test-seeds: %w", err)
		}
	}
	for _, s := range o.TestSeeds {
		for _, t := range o.TrainSeeds {
			if s == t {
				return fmt.Errorf("score maintenance: seed %d is both a training and a test seed", s)
			}
		}
	}
	if *printers < 0 || *printers > 1000 || *days < 0 || *days > 3650 || *horizon <= 0 {
		return fmt.Errorf("score maintenance: -printers %d, -days %d, -horizon %v: want 1 to 1000 printers, 1 to 3650 days, a positive horizon", *printers, *days, *horizon)
	}
	if *printers > 0 {
		o.Printers = *printers
	}
	if *days > 0 {
		o.Days = *days
	}
	o.Horizon = *horizon
	o.OriginalSupplies = *original
	start := time.Now()
	rep, err := maintscore.Run(ctx, o, e.stderr)
	if err != nil {
		return fmt.Errorf("score maintenance: %w", err)
	}
	rep.Print(e.stdout)
	fmt.Fprintf(e.stdout, "scored in %v\n", time.Since(start).Round(time.Second))
	return nil
}

func seeds(s string) ([]int64, error) {
	var out []int64
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func runScoreLearning(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("score learning", "Simulate training fleets on today's defaults and earlier trial sets, learn how part quality\n"+
		"depends on the print parameters from the anonymous records the cloud would hold, propose\n"+
		"parameter sets, and let fleets on other seeds adopt them through the signed update path:\n"+
		"the hidden truth counts defective parts on the defaults, the proposals and the oracle's sets.", e)
	quick := fs.Bool("quick", false, "score the small standard run (under two minutes)")
	train := fs.String("train-seeds", "", "comma-separated fleet `seeds` to train on (default: the standard run's)")
	test := fs.String("test-seeds", "", "comma-separated fleet `seeds` to score on, never trained on (default: the standard run's)")
	printers := fs.Int("printers", 0, "printers per fleet (default: the standard run's)")
	days := fs.Int("days", 0, "simulated days per fleet (default: the standard run's)")
	if err := parse(fs, args, e); err != nil {
		return err
	}
	o := learnscore.Full
	if *quick {
		o = learnscore.Quick
	}
	var err error
	if *train != "" {
		if o.TrainSeeds, err = seeds(*train); err != nil {
			return fmt.Errorf("score learning: -train-seeds: %w", err)
		}
	}
	if *test != "" {
		if o.TestSeeds, err = seeds(*test); err != nil {
			return fmt.Errorf("score learning: -test-seeds: %w", err)
		}
	}
	for _, s := range o.TestSeeds {
		if slices.Contains(o.TrainSeeds, s) {
			return fmt.Errorf("score learning: seed %d is both a training and a test seed", s)
		}
	}
	if *printers < 0 || *printers > 1000 || *days < 0 || *days > 3650 {
		return fmt.Errorf("score learning: -printers %d, -days %d: want 1 to 1000 printers, 1 to 3650 days", *printers, *days)
	}
	if *printers > 0 {
		o.Printers = *printers
	}
	if *days > 0 {
		o.Days = *days
	}
	start := time.Now()
	rep, err := learnscore.Score(ctx, o, e.stderr)
	if err != nil {
		return fmt.Errorf("score learning: %w", err)
	}
	rep.Print(e.stdout)
	fmt.Fprintf(e.stdout, "scored in %v\n", time.Since(start).Round(time.Second))
	return nil
}
