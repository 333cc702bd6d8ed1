// Package learnscore scores the learning loop in closed loop against the
// virtual printers' hidden quality model. It simulates training fleets
// whose printers ran a mix of today's defaults and earlier trial sets,
// learns from the job, part and consumables records the cloud would hold
// of them (through the privacy filter and the anonymous table), and proposes
// parameter sets. A held-out fleet, on seeds never trained on, then runs
// three times from the same start: on today's defaults, on the proposed
// sets and on the best sets under the hidden model (the oracle), each
// adopted through the signed update path (a TUF repository, each
// printer's verifying client and update agent). The hidden truth counts
// the defective parts of each run.
//
// The printers run in-process on manual clocks for speed.
package learnscore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/learn"
	"github.com/fusionfleet/fusionfleet/internal/printer"
	"github.com/fusionfleet/fusionfleet/internal/privacy"
	"github.com/fusionfleet/fusionfleet/internal/update"
	"github.com/fusionfleet/fusionfleet/internal/updaterepo"
)

// Options say what to simulate. Zero fields take the full run's values.
type Options struct {
	TrainSeeds []int64 // fleets the model learns from
	TestSeeds  []int64 // fleets the proposals are scored on, never trained on
	Printers   int     // printers per fleet
	Orgs       int     // organisations the printers belong to (round robin)
	Days       int     // simulated days per fleet
	// TrialShare is the share of training printers' periods that ran a
	// trial set instead of the defaults, and TrialDays how long a period
	// lasts.
	TrialShare float64
	TrialDays  int
	Bootstrap  int
	Start      time.Time // zero means 2026-01-05
}

// Full and Quick are the two standard runs.
var (
	Full  = Options{TrainSeeds: []int64{1, 2, 3}, TestSeeds: []int64{101, 102}, Printers: 30, Orgs: 10, Days: 240, Bootstrap: 30}
	Quick = Options{TrainSeeds: []int64{1}, TestSeeds: []int64{101}, Printers: 24, Orgs: 8, Days: 150, Bootstrap: 12}
)

func (o Options) withDefaults() Options {
	if len(o.TrainSeeds) == 0 {
		o.TrainSeeds = Full.TrainSeeds
	}
	if len(o.TestSeeds) == 0 {
		o.TestSeeds = Full.TestSeeds
	}
	if o.Printers <= 0 {
		o.Printers = Full.Printers
	}
	if o.Orgs <= 0 {
		o.Orgs = Full.Orgs
	}
	if o.Days <= 0 {
		o.Days = Full.Days
	}
	if o.TrialShare <= 0 {
		o.TrialShare = 0.5
	}
	if o.TrialDays <= 0 {
		o.TrialDays = 20
	}
	if o.Bootstrap <= 0 {
		o.Bootstrap = Full.Bootstrap
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	}
	return o
}

// Run is the defective parts of one run of the test fleets.
type Run struct {
	Parts, Defective int
	// Expected is the defective share the hidden model expected (the mean
	// of 1 - P(pass)), which varies less than the count.
	Expected float64
}

// Share is the counted defective share.
func (r Run) Share() float64 { return float64(r.Defective) / float64(max(r.Parts, 1)) }

// Report is the whole scoring.
type Report struct {
	Opts      Options
	Model     *learn.Model
	Proposals []learn.Proposal
	Sets      []fleet.ParameterSet // what the test fleets adopted
	Test      learn.Accuracy       // the model on the test fleets' own builds (defaults)
	Before    Run
	After     Run
	Oracle    Run
}

// Reduction is how much fewer defective parts the proposals gave, as a
// share of the defaults' (counted).
func (r Report) Reduction() float64 { return 1 - r.After.Share()/r.Before.Share() }

// OracleGap is how far above the oracle's defective share the proposals'
// is, relative to the oracle's (counted).
func (r Report) OracleGap() float64 { return r.After.Share()/r.Oracle.Share() - 1 }

// OracleCapture is the share of the oracle's reduction the proposals
// achieved (counted).
func (r Report) OracleCapture() float64 {
	return (r.Before.Share() - r.After.Share()) / (r.Before.Share() - r.Oracle.Share())
}

var models = []string{"4200", "5200"}

// Score runs the closed loop; progress lines go to log.
func Score(ctx context.Context, opts Options, log io.Writer) (Report, error) {
	o := opts.withDefaults()
	rep := Report{Opts: o}
	var outs []learn.Outcome
	for _, seed := range o.TrainSeeds {
		f, err := simulate(ctx, o, seed, trialSets(o, seed), nil)
		if err != nil {
			return rep, err
		}
		outs = append(outs, f.outcomes...)
		fmt.Fprintf(log, "training fleet seed %d: %d printers, %d days, %d jobs\n", seed, o.Printers, o.Days, len(f.outcomes))
	}
	tab := learn.Anonymise(outs)
	m, err := learn.Train(tab, 1, o.Start.Add(time.Duration(o.Days)*24*time.Hour))
	if err != nil {
		return rep, err
	}
	rep.Model = m
	rep.Proposals = learn.Propose(tab, m, learn.ProposeOptions{Bootstrap: o.Bootstrap, Seed: uint64(o.TrainSeeds[0])})
	fmt.Fprintf(log, "trained on %d builds, %d parts; %d proposals\n", len(tab.Builds), tab.Parts(), len(rep.Proposals))
	proposed := map[string]*fleet.ParameterSet{}
	oracle := map[string]*fleet.ParameterSet{}
	for _, mod := range models {
		spec := "FF-" + mod
		if s, ok := learn.SetFor(spec, "learned-"+mod+"-1", rep.Proposals); ok {
			proposed[mod] = &s
			rep.Sets = append(rep.Sets, s)
		}
		best, err := printer.BestParameterSet(mod, "oracle-"+mod)
		if err != nil {
			return rep, err
		}
		oracle[mod] = &best
	}
	var testOuts []learn.Outcome
	for _, seed := range o.TestSeeds {
		for i, run := range []struct {
			name string
			sets map[string]*fleet.ParameterSet
			dst  *Run
		}{{"defaults", nil, &rep.Before}, {"proposed sets", proposed, &rep.After}, {"oracle sets", oracle, &rep.Oracle}} {
			f, err := simulate(ctx, o, seed, nil, run.sets)
			if err != nil {
				return rep, err
			}
			run.dst.Parts += f.run.Parts
			run.dst.Defective += f.run.Defective
			run.dst.Expected += f.run.Expected // a sum until divided below
			if i == 0 {
				testOuts = append(testOuts, f.outcomes...)
			}
			fmt.Fprintf(log, "test fleet seed %d on %s: %d parts, %d defective\n", seed, run.name, f.run.Parts, f.run.Defective)
		}
	}
	for _, r := range []*Run{&rep.Before, &rep.After, &rep.Oracle} {
		r.Expected /= float64(max(r.Parts, 1))
	}
	// The model's accuracy on the held-out fleets' builds; their
	// cohorts are not filtered, as nothing of them is kept.
	testTab := learn.Anonymise(testOuts)
	rep.Test = m.Score(testTab.Builds)
	return rep, nil
}

// trialSets returns, per printer, the parameter set of each trial period:
// nil for a period on the defaults, else a set with a random layer
// thickness per material (the fleet's history of earlier releases and
// site trials, which the learner learns the layer response from).
func trialSets(o Options, seed int64) [][]*fleet.ParameterSet {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x747269616c))
	materials := []string{"PA12", "PA11", "PA12 GB", "TPU", "PP"}
	layers := []float64{0.07, 0.09, 0.10, 0.11}
	periods := (o.Days + o.TrialDays - 1) / o.TrialDays
	out := make([][]*fleet.ParameterSet, o.Printers)
	for i := range out {
		mod := modelOf(i)
		for k := range periods {
			if rng.Float64() >= o.TrialShare {
				out[i] = append(out[i], nil)
				continue
			}
			s := &fleet.ParameterSet{Schema: fleet.ParameterSetSchema, Name: fmt.Sprintf("trial-%s-%d", mod, k), Model: "FF-" + mod,
				Materials: map[string]fleet.MaterialParameters{}}
			for _, m := range materials {
				s.Materials[m] = fleet.MaterialParameters{LayerThicknessMM: layers[rng.IntN(len(layers))]}
			}
			out[i] = append(out[i], s)
		}
	}
	return out
}

func modelOf(i int) string { return models[b2i(i%3 == 2)] }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// fleetRun is what one simulated fleet left: the outcomes the cloud holds
// and the truth's count of defective parts of the jobs planned after any
// adoption.
type fleetRun struct {
	outcomes []learn.Outcome
	run      Run
}

// simulate runs one fleet. trials (training fleets) installs each
// printer's trial sets directly, period by period; adopt (test fleets)
// installs a set per model at the start through the signed update path.
func simulate(ctx context.Context, o Options, seed int64, trials [][]*fleet.ParameterSet, adopt map[string]*fleet.ParameterSet) (fleetRun, error) {
	var fr fleetRun
	end := o.Start.Add(time.Duration(o.Days) * 24 * time.Hour)
	var repo *signedPath
	if len(adopt) > 0 {
		var err error
		if repo, err = newSignedPath(ctx, o.Start, adopt); err != nil {
			return fr, err
		}
		defer repo.close()
	}
	for i := range o.Printers {
		if err := ctx.Err(); err != nil {
			return fr, err
		}
		clk := clock.NewManual(o.Start)
		mod := modelOf(i)
		p := printer.New(printer.Options{Seed: seed*1000 + int64(i), Clock: clk, Model: mod,
			TruthJobs: 1 << 20, JobCapacity: 1 << 20})
		id := p.Identity().Identity
		// The consumables snapshots its Command Center would upload
		// (every 6 hours here) and the cloud would store.
		var snaps []fleet.Consumables
		before := map[string]bool{}
		for _, j := range p.Jobs(0, 1000).Items {
			before[j.ID] = true
		}
		if s := adopt[mod]; s != nil {
			if err := repo.install(ctx, p, clk, id.Model, id.ParameterSet); err != nil {
				return fr, fmt.Errorf("printer %d: %w", i, err)
			}
		}
		for t, k := o.Start, 0; t.Before(end); t, k = t.Add(time.Duration(o.TrialDays)*24*time.Hour), k+1 {
			if trials != nil {
				name := id.ParameterSet
				var doc []byte
				if s := trials[i][k]; s != nil {
					b, err := s.Encode()
					if err != nil {
						return fr, err
					}
					name, doc = s.Name, b
				} else {
					doc, _ = (&fleet.ParameterSet{Schema: fleet.ParameterSetSchema, Name: name, Model: id.Model,
						Materials: map[string]fleet.MaterialParameters{"PA12": {}}}).Encode()
				}
				if err := p.ApplyParameterSet(name, doc); err != nil {
					return fr, err
				}
			}
			for h := t; h.Before(t.Add(time.Duration(o.TrialDays)*24*time.Hour)) && h.Before(end); h = h.Add(6 * time.Hour) {
				clk.Set(h)
				snaps = append(snaps, privacy.Consumables(p.Consumables()))
			}
		}
		clk.Set(end)
		outs := outcomes(p, id, fmt.Sprintf("org-%d", i%o.Orgs))
		learn.AttachHeads(outs, snaps)
		fr.outcomes = append(fr.outcomes, outs...)
		for _, j := range p.Truth().Jobs {
			if before[j.JobID] || j.Status != fleet.JobCompleted {
				continue
			}
			for _, pt := range j.Parts {
				fr.run.Parts++
				fr.run.Expected += 1 - pt.PPass
				if pt.Outcome != fleet.PartPass {
					fr.run.Defective++
				}
			}
		}
	}
	return fr, nil
}

// outcomes reads a printer's jobs and parts as its Command Center would
// upload them (through the privacy filter) and the cloud would hold them.
func outcomes(p *printer.Printer, id fleet.Identity, org string) []learn.Outcome {
	build := learn.BuildVolume(id.Size)
	latest := map[string]int{}
	var outs []learn.Outcome
	var after uint64
	for {
		pg := p.Jobs(after, 1000)
		for _, j := range pg.Items {
			o := learn.Outcome{Org: org, Model: id.Model, Build: build, Job: privacy.Job(j, "host")}
			for _, pt := range j.Parts {
				o.Parts = append(o.Parts, privacy.Part(pt))
			}
			if k, ok := latest[j.ID]; ok {
				outs[k] = o
			} else {
				latest[j.ID] = len(outs)
				outs = append(outs, o)
			}
		}
		if len(pg.Items) == 0 || pg.Next == after {
			break
		}
		after = pg.Next
	}
	return outs
}

// signedPath is the signed update path of a test fleet: a TUF repository
// with one parameter set release per model, served in-process to each
// printer's verifying client.
type signedPath struct {
	dir  string
	root []byte
	srv  *httptest.Server
}

func newSignedPath(ctx context.Context, now time.Time, sets map[string]*fleet.ParameterSet) (*signedPath, error) {
	dir, err := os.MkdirTemp("", "learnscore-repo-")
	if err != nil {
		return nil, err
	}
	sp := &signedPath{dir: dir}
	repo, err := updaterepo.InitRepo(filepath.Join(dir, "repo"), updaterepo.RepoOptions{Clock: clock.NewManual(now)})
	if err != nil {
		sp.close()
		return nil, err
	}
	if sp.root, err = repo.TrustedRoot(); err != nil {
		sp.close()
		return nil, err
	}
	for _, s := range sets {
		doc, err := s.Encode()
		if err != nil {
			sp.close()
			return nil, err
		}
		rel := update.Release{Kind: update.KindParameters, Version: "9.0", Name: s.Name, Models: []string{s.Model}, Notes: "closed-loop scoring"}
		if _, err := repo.AddTarget(ctx, updaterepo.TargetName(rel, s.Name+".json"), rel, bytes.NewReader(doc), int64(len(doc))); err != nil {
			sp.close()
			return nil, err
		}
	}
	sp.srv = httptest.NewTLSServer(update.NewHandler(repo.Dir(), update.HandlerOptions{}))
	return sp, nil
}

func (sp *signedPath) close() {
	if sp.srv != nil {
		sp.srv.Close()
	}
	os.RemoveAll(sp.dir)
}

// install lets printer p's update agent verify and install its model's
// set, waiting (on the printer's clock) until the printer is idle.
func (sp *signedPath) install(ctx context.Context, p *printer.Printer, clk *clock.Manual, model, factory string) error {
	state, err := os.MkdirTemp(sp.dir, "printer-")
	if err != nil {
		return err
	}
	c, err := update.NewClient(state, sp.root, sp.srv.URL, model, update.Options{Clock: clk, HTTPClient: sp.srv.Client(),
		Factory: map[update.Kind]update.Slot{update.KindParameters: {Version: "2.1", Name: factory}}})
	if err != nil {
		return err
	}
	a := update.NewAgent(c, p, update.AgentOptions{Kinds: []update.Kind{update.KindParameters}})
	for range 48 {
		if errs := a.Check(ctx); len(errs) > 0 {
			return fmt.Errorf("update: %v", errs)
		}
		if in, err := c.Installed(update.KindParameters); err == nil && in.Target != "" {
			return nil
		}
		clk.Advance(30 * time.Minute)
	}
	return fmt.Errorf("update: the printer stayed busy for a day")
}

// Print writes the report and how it was obtained.
func (r Report) Print(w io.Writer) {
	o := r.Opts
	fmt.Fprintf(w, "learning score: train seeds %v, test seeds %v, %d printers per fleet in %d organisations, %d days from %s\n",
		o.TrainSeeds, o.TestSeeds, o.Printers, o.Orgs, o.Days, o.Start.Format(time.DateOnly))
	fmt.Fprintf(w, "  training fleets: %.0f%% of %d-day periods on trial sets; bootstrap refits %d\n", 100*o.TrialShare, o.TrialDays, o.Bootstrap)
	m := r.Model
	if m == nil {
		fmt.Fprintln(w, "  no model")
		return
	}
	d := m.Data
	var used, dropped int
	for _, c := range d.Cohorts {
		if c.Used {
			used++
		} else {
			dropped++
		}
	}
	fmt.Fprintf(w, "  model version %d: %d builds, %d parts, %s to %s; %d cohorts used, %d below the k-anonymity threshold\n",
		m.Version, d.Builds, d.Parts, d.From.Format(time.DateOnly), d.To.Format(time.DateOnly), used, dropped)
	if len(d.Excluded) > 0 {
		keys := make([]string, 0, len(d.Excluded))
		for k := range d.Excluded {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		fmt.Fprint(w, "  excluded jobs:")
		for _, k := range keys {
			fmt.Fprintf(w, " %s %d;", k, d.Excluded[k])
		}
		fmt.Fprintln(w)
	}
	for i, f := range m.Features {
		if f == "printhead hours/100" {
			fmt.Fprintf(w, "  printhead condition: known for %d of %d builds; learned log-odds %+.2f per 100 printhead hours, %+.2f if all printheads are not ok\n",
				d.Builds-d.HeadsUnknown, d.Builds, m.Coef[i], m.Coef[i+1])
		}
	}
	fmt.Fprintf(w, "  accuracy on held-out builds of the training fleets: R² %.3f, MAE %.4f (%d builds)\n", m.Held.R2, m.Held.MAE, m.Held.Builds)
	fmt.Fprintf(w, "  accuracy on the test fleets' builds:               R² %.3f, MAE %.4f (%d builds)\n", r.Test.R2, r.Test.MAE, r.Test.Builds)
	fmt.Fprintf(w, "%-8s %-8s %-16s %-46s %8s %8s %s\n", "model", "material", "status", "parameters", "current", "proposed", "gain [5%, 95%]")
	for _, p := range r.Proposals {
		params := "-"
		if p.Status == learn.StatusProposed {
			params = describe(p.Params)
		}
		fmt.Fprintf(w, "%-8s %-8s %-16s %-46s %7.1f%% %7.1f%% %.1f [%.1f, %.1f] points",
			p.Model, p.Material, p.Status, params, 100*p.Current, 100*p.Proposed, 100*p.Gain, 100*p.GainLow, 100*p.GainHigh)
		if p.Reason != "" {
			fmt.Fprintf(w, " (%s)", p.Reason)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "%-16s %8s %9s %9s %9s\n", "test fleets", "parts", "defective", "share", "expected")
	for _, x := range []struct {
		name string
		r    Run
	}{{"defaults", r.Before}, {"proposed sets", r.After}, {"oracle sets", r.Oracle}} {
		fmt.Fprintf(w, "%-16s %8d %9d %8.2f%% %8.2f%%\n", x.name, x.r.Parts, x.r.Defective, 100*x.r.Share(), 100*x.r.Expected)
	}
	fmt.Fprintf(w, "defective parts %.1f%% fewer than on the defaults (target ≥ 30%%); %.1f%% above the oracle's share (target ≤ 25%%); %.0f%% of the oracle's reduction\n",
		100*r.Reduction(), 100*r.OracleGap(), 100*r.OracleCapture())
	met := "not met"
	if r.Met() {
		met = "met"
	}
	fmt.Fprintf(w, "targets %s\n", met)
}

// Targets of the closed loop: at least 30 % fewer defective parts than on
// today's defaults, and a defective share at most 25 % above the oracle's.
const (
	TargetReduction = 0.30
	TargetOracleGap = 0.25
)

// Met reports whether the run met both targets.
func (r Report) Met() bool {
	return r.Reduction() >= TargetReduction && r.OracleGap() <= TargetOracleGap
}

// describe says a material's parameters in a few words.
func describe(p fleet.MaterialParameters) string {
	var f []string
	if p.PrintMode != "" {
		f = append(f, "mode "+p.PrintMode)
	}
	if p.RecycledShareMax > 0 {
		f = append(f, fmt.Sprintf("recycled ≤ %.2f", p.RecycledShareMax))
	}
	if p.DensityMax > 0 {
		f = append(f, fmt.Sprintf("density ≤ %.2f", p.DensityMax))
	}
	if p.LayerThicknessMM > 0 {
		f = append(f, fmt.Sprintf("layer %.2f mm", p.LayerThicknessMM))
	}
	return strings.Join(f, ", ")
}
