package maintscore

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/maintenance"
	"github.com/fusionfleet/fusionfleet/internal/printer"
)

// Options say what to simulate. Zero fields take the full run's values.
type Options struct {
	TrainSeeds []int64 // fleets the models learn from
	TestSeeds  []int64 // fleets they are scored on, never trained on
	Printers   int     // printers per fleet
	Days       int     // simulated days per fleet
	// Poll is how often the records are read, Checkpoint how often the
	// forecasts are scored. Zero means an hour and six hours.
	Poll, Checkpoint time.Duration
	Horizon          time.Duration // zero means 7 days
	// NonOriginalShare and ExpiredShare are the shares of printers that
	// run on non-original or expired agent for a while; zero means a fifth
	// and 15 %. OriginalSupplies runs every printer on original agent
	// throughout, where no covariate the fleet sees changes a printhead's
	// life.
	NonOriginalShare, ExpiredShare float64
	OriginalSupplies               bool
	Start                          time.Time // zero means 2026-01-05
}

// Full and Quick are the two standard runs.
var (
	Full  = Options{TrainSeeds: []int64{1, 2, 3}, TestSeeds: []int64{101, 102}, Printers: 20, Days: 365}
	Quick = Options{TrainSeeds: []int64{1, 2}, TestSeeds: []int64{101}, Printers: 10, Days: 180}
)

// MinLeadDays is the median warning lead the threshold is chosen to give,
// if it can at the baseline's recall.
const MinLeadDays = 3

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
	if o.Days <= 0 {
		o.Days = Full.Days
	}
	if o.Poll <= 0 {
		o.Poll = time.Hour
	}
	if o.Checkpoint <= 0 {
		o.Checkpoint = 6 * time.Hour
	}
	if o.Horizon <= 0 {
		o.Horizon = 7 * 24 * time.Hour
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	}
	if o.NonOriginalShare <= 0 {
		o.NonOriginalShare = nonOriginalShare
	}
	if o.ExpiredShare <= 0 {
		o.ExpiredShare = expiredShare
	}
	return o
}

// Score is the outcome of one predictor.
type Score struct {
	TP, FP, FN int
	Precision  float64
	Recall     float64
	// MedianLeadDays is the median time from a component's first "due" to
	// its failure, over failures that gave a warning (zero for one never
	// due); LeadFailures is how many such failures there were and Caught
	// how many of them were due before they failed.
	MedianLeadDays float64
	LeadFailures   int
	Caught         int
	// MAEDays is the mean absolute error of the median remaining life, in
	// days, over checkpoints of components that later failed.
	MAEDays float64
}

// Report is the whole scoring.
type Report struct {
	Opts       Options
	Thresholds map[maintenance.Kind]float64 // learned on the training fleets
	Models     map[maintenance.Kind]maintenance.Model
	Excluded   map[string]int
	Failures   int // natural failures in the test fleets
	Warned     int // of them, announced
	Samples    int // scored (component, checkpoint) pairs
	Model      Score
	Baseline   Score
	// Plain is the model without covariates, its thresholds learned the
	// same way.
	Plain           Score
	PlainThresholds map[maintenance.Kind]float64
	// ByKind is the model's and the baseline's score per kind.
	ByKind map[maintenance.Kind][2]Score
}

// sample is one installed component at one checkpoint: what the cloud
// knew, and what the truth says.
type sample struct {
	kind     maintenance.Kind
	in       maintenance.Instance
	rate     float64
	at       time.Time
	truthKey string
	failAt   time.Time // natural failure of the truth instance; zero if none in the run
	warned   bool      // the truth failure gave a warning
}

// Run scores the forecasts; progress lines go to log.
func Run(ctx context.Context, opts Options, log io.Writer) (Report, error) {
	o := opts.withDefaults()
	rep := Report{Opts: o}
	// Train.
	train := maintenance.NewTracker()
	var trainSamples []sample
	for _, seed := range o.TrainSeeds {
		s, err := simulate(ctx, o, seed, train)
		if err != nil {
			return rep, err
		}
		trainSamples = append(trainSamples, s...)
		fmt.Fprintf(log, "trained on fleet seed %d: %d printers, %d days\n", seed, o.Printers, o.Days)
	}
	end := o.Start.Add(time.Duration(o.Days) * 24 * time.Hour)
	fc := maintenance.NewForecaster(train, end, maintenance.Options{Horizon: o.Horizon})
	rep.Models = fc.Models
	rep.Thresholds = chooseThresholds(fc, trainSamples, o)
	fc.Opts.Thresholds = rep.Thresholds
	// The same, every usage hour counting the same: what the covariates
	// add.
	plain := &maintenance.Forecaster{Models: map[maintenance.Kind]maintenance.Model{}, Opts: maintenance.Options{Horizon: o.Horizon}}
	obs := train.Observations(end)
	for _, k := range maintenance.Kinds() {
		plain.Models[k] = maintenance.FitPlain(k, obs[k])
	}
	rep.PlainThresholds = chooseThresholds(plain, trainSamples, o)
	plain.Opts.Thresholds = rep.PlainThresholds
	// Test.
	test := maintenance.NewTracker()
	var testSamples []sample
	for _, seed := range o.TestSeeds {
		s, err := simulate(ctx, o, seed, test)
		if err != nil {
			return rep, err
		}
		testSamples = append(testSamples, s...)
		fmt.Fprintf(log, "scored on fleet seed %d: %d printers, %d days\n", seed, o.Printers, o.Days)
	}
	rep.Excluded = test.Excluded
	rep.Samples = len(testSamples)
	failed := map[string]bool{}
	for _, s := range testSamples {
		if !s.failAt.IsZero() && !failed[s.truthKey] {
			failed[s.truthKey] = true
			rep.Failures++
			if s.warned {
				rep.Warned++
			}
		}
	}
	rep.Model = evaluate(testSamples, o, func(s sample) (bool, float64) { return predict(fc, s, o) })
	rep.Baseline = evaluate(testSamples, o, func(s sample) (bool, float64) { return baseline(s, o) })
	rep.Plain = evaluate(testSamples, o, func(s sample) (bool, float64) { return predict(plain, s, o) })
	rep.ByKind = map[maintenance.Kind][2]Score{}
	for _, k := range maintenance.Kinds() {
		var ks []sample
		for _, s := range testSamples {
			if s.kind == k {
				ks = append(ks, s)
			}
		}
		rep.ByKind[k] = [2]Score{
			evaluate(ks, o, func(s sample) (bool, float64) { return predict(fc, s, o) }),
			evaluate(ks, o, func(s sample) (bool, float64) { return baseline(s, o) }),
		}
	}
	return rep, nil
}

// The decision rule: each fitted kind's threshold is picked on the
// training fleets, for the whole fleet's score: the most precise set whose
// recall is at least the baseline's plus RecallMargin and whose median lead
// is at least MinLeadDays plus LeadMargin (failing that, the most precise
// with the recall), found one kind at a time, twice round. The margins
// are there so the test fleets, which the thresholds never see, still
// meet the target when they differ a little from the training fleets.
const (
	RecallMargin = 0.02
	LeadMargin   = 0.5
)

// chooseThresholds applies the decision rule.
func chooseThresholds(fc *maintenance.Forecaster, samples []sample, o Options) map[maintenance.Kind]float64 {
	// What a threshold does not change is computed once: each sample's
	// probability of failing within the horizon, and the rest of its
	// forecast's verdict.
	ev := newFastEval(samples, o)
	p := make([]float64, len(samples)) // -1: the kind has no model
	always := make([]bool, len(samples))
	f := &maintenance.Forecaster{Models: fc.Models, Opts: maintenance.Options{Horizon: o.Horizon, Threshold: 2}}
	for i := range samples {
		out := f.Forecast(samples[i].in, samples[i].rate, samples[i].at)
		p[i], always[i] = out.FailWithin, out.Due
	}
	th := map[maintenance.Kind]float64{}
	for k, m := range fc.Models {
		if m.Fitted {
			th[k] = 0.5
		}
	}
	due := make([]bool, len(samples))
	score := func() (prec, rec, lead float64) {
		for i := range samples {
			due[i] = always[i] || p[i] >= 0 && p[i] >= th[samples[i].kind]
		}
		return ev.score(due)
	}
	for i := range samples {
		due[i] = baselineDue(samples[i], o)
	}
	_, baseRecall, _ := ev.score(due)
	for range 2 {
		for _, k := range maintenance.Kinds() {
			if _, ok := th[k]; !ok {
				continue
			}
			best, bestLead, pick := -1.0, -1.0, th[k]
			for i := 2; i <= 95; i++ {
				th[k] = float64(i) / 100
				prec, rec, lead := score()
				if rec < baseRecall+RecallMargin {
					continue
				}
				if lead >= MinLeadDays+LeadMargin && prec > bestLead {
					bestLead, pick = prec, th[k]
				}
				if bestLead < 0 && prec > best {
					best, pick = prec, th[k]
				}
			}
			th[k] = pick
		}
	}
	return th
}

// fastEval scores verdicts on fixed samples as evaluate does (precision,
// recall, median lead), without maps, for the threshold search.
type fastEval struct {
	key     []int  // truth instance index of each sample
	label   []bool // fails within the horizon
	lead    []float64
	counted []int // per truth instance, the sample giving its lead: announced failures only, else -1
	first   []int // per truth instance, its first due sample in a score; -1 none
	leads   []float64
}

func newFastEval(samples []sample, o Options) *fastEval {
	idx := map[string]int{}
	ev := &fastEval{key: make([]int, len(samples)), label: make([]bool, len(samples)), lead: make([]float64, len(samples))}
	for i, s := range samples {
		k, ok := idx[s.truthKey]
		if !ok {
			k = len(idx)
			idx[s.truthKey] = k
			ev.counted = append(ev.counted, -1)
			if !s.failAt.IsZero() && s.warned {
				ev.counted[k] = i
			}
		}
		ev.key[i] = k
		ev.label[i] = !s.failAt.IsZero() && s.failAt.After(s.at) && !s.failAt.After(s.at.Add(o.Horizon))
		if !s.failAt.IsZero() {
			ev.lead[i] = s.failAt.Sub(s.at).Hours() / 24
		}
	}
	ev.first = make([]int, len(idx))
	return ev
}

func (ev *fastEval) score(due []bool) (prec, rec, lead float64) {
	var tp, fp, fn int
	for i := range ev.first {
		ev.first[i] = -1
	}
	for i, d := range due {
		switch {
		case d && ev.label[i]:
			tp++
		case d:
			fp++
		case ev.label[i]:
			fn++
		}
		if k := ev.key[i]; d && ev.first[k] < 0 {
			ev.first[k] = i
		}
	}
	ev.leads = ev.leads[:0]
	for k, c := range ev.counted {
		if c < 0 {
			continue
		}
		if f := ev.first[k]; f >= 0 {
			ev.leads = append(ev.leads, ev.lead[f])
		} else {
			ev.leads = append(ev.leads, 0)
		}
	}
	if tp+fp > 0 {
		prec = float64(tp) / float64(tp+fp)
	}
	if tp+fn > 0 {
		rec = float64(tp) / float64(tp+fn)
	}
	return prec, rec, median(ev.leads)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	m := xs[len(xs)/2]
	if len(xs)%2 == 0 {
		m = (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	return m
}

// predict returns whether the forecast says due and its median remaining
// life in days (NaN when it cannot say).
func predict(f *maintenance.Forecaster, s sample, o Options) (bool, float64) {
	fc := f.Forecast(s.in, s.rate, s.at)
	days := math.NaN()
	if s.rate > 0 {
		days = fc.RemainingHours / s.rate
	}
	return fc.Due, days
}

// baseline replaces at the rated life: due when the rated life ends within
// the horizon at the recent usage rate.
func baseline(s sample, o Options) (bool, float64) {
	left := max(maintenance.RatedHours(s.kind)-s.in.Usage, 0)
	days := math.NaN()
	if s.rate > 0 {
		days = left / s.rate
	}
	return left <= s.rate*o.Horizon.Hours()/24, days
}

func baselineDue(s sample, o Options) bool {
	due, _ := baseline(s, o)
	return due
}

func evaluate(samples []sample, o Options, pred func(sample) (bool, float64)) Score {
	var sc Score
	var absErr float64
	var nErr int
	firstDue := map[string]time.Time{} // truth instance → its first "due"
	for _, s := range samples {
		due, days := pred(s)
		label := !s.failAt.IsZero() && s.failAt.After(s.at) && !s.failAt.After(s.at.Add(o.Horizon))
		switch {
		case due && label:
			sc.TP++
		case due:
			sc.FP++
		case label:
			sc.FN++
		}
		if _, ok := firstDue[s.truthKey]; due && !ok {
			firstDue[s.truthKey] = s.at
		}
		if !s.failAt.IsZero() && s.failAt.After(s.at) && !math.IsNaN(days) {
			absErr += math.Abs(days - s.failAt.Sub(s.at).Hours()/24)
			nErr++
		}
	}
	// Leads: from the first "due" of each failed, announced instance to
	// its failure; zero for one never due.
	var leads []float64
	counted := map[string]bool{}
	for _, s := range samples {
		if s.failAt.IsZero() || !s.warned || counted[s.truthKey] {
			continue
		}
		counted[s.truthKey] = true
		sc.LeadFailures++
		if t, ok := firstDue[s.truthKey]; ok {
			sc.Caught++
			leads = append(leads, s.failAt.Sub(t).Hours()/24)
		} else {
			leads = append(leads, 0)
		}
	}
	if sc.TP+sc.FP > 0 {
		sc.Precision = float64(sc.TP) / float64(sc.TP+sc.FP)
	}
	if sc.TP+sc.FN > 0 {
		sc.Recall = float64(sc.TP) / float64(sc.TP+sc.FN)
	}
	sc.MedianLeadDays = median(leads)
	if nErr > 0 {
		sc.MAEDays = absErr / float64(nErr)
	}
	return sc
}

// simulate runs one fleet, feeding every printer's records to tr, and
// returns its samples, each printer's in time order.
func simulate(ctx context.Context, o Options, seed int64, tr *maintenance.Tracker) ([]sample, error) {
	var out []sample
	end := o.Start.Add(time.Duration(o.Days) * 24 * time.Hour)
	for i := range o.Printers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		clk := clock.NewManual(o.Start)
		model := "4200"
		if i%3 == 2 {
			model = "5200"
		}
		p := printer.New(printer.Options{Seed: seed*1000 + int64(i), Clock: clk, Model: model,
			TruthComponents: 1 << 30, TruthJobs: 1})
		id := p.Identity().PrinterID
		var seq, after, jobsAfter uint64
		sup := supplyPlan(o, seed, i)
		feed := func(now time.Time) {
			for {
				pg := p.Jobs(jobsAfter, 1000)
				for _, j := range pg.Items {
					seq++
					tr.Add(fleet.Record{Seq: seq, Kind: fleet.KindJob, PrinterID: id, Time: now, Job: &j.Job})
				}
				if len(pg.Items) == 0 || pg.Next == jobsAfter {
					break
				}
				jobsAfter = pg.Next
			}
			for {
				pg := p.Events(after, 1000)
				for _, e := range pg.Items {
					seq++
					tr.Add(fleet.Record{Seq: seq, Kind: fleet.KindEvent, PrinterID: id, Time: now, Event: &e})
				}
				if len(pg.Items) == 0 || pg.Next == after {
					break
				}
				after = pg.Next
			}
			c, cs := p.Counters(), p.Consumables()
			seq++
			tr.Add(fleet.Record{Seq: seq, Kind: fleet.KindCounters, PrinterID: id, Time: now, Counters: &c})
			seq++
			tr.Add(fleet.Record{Seq: seq, Kind: fleet.KindConsumables, PrinterID: id, Time: now, Consumables: &cs})
		}
		type point struct {
			at   time.Time
			ins  []maintenance.Instance
			rate float64
		}
		var points []point
		feed(o.Start)
		for t := o.Start.Add(o.Poll); !t.After(end); t = t.Add(o.Poll) {
			if err := sup.apply(p, t, clk); err != nil {
				return nil, err
			}
			clk.Set(t)
			feed(t)
			if t.Sub(o.Start)%o.Checkpoint == 0 {
				points = append(points, point{t, tr.Installed(id, t), tr.RatePerDay(id, t, 14*24*time.Hour)})
			}
		}
		truth := p.Truth()
		for _, pt := range points {
			for _, in := range pt.ins {
				if math.IsNaN(in.Usage) {
					continue
				}
				ct, ok := truthAt(truth, in, pt.at)
				if !ok {
					continue // down for repair, or not matched
				}
				s := sample{kind: in.Kind, in: in, rate: pt.rate, at: pt.at,
					truthKey: fmt.Sprintf("%s/%s/%s/%d", id, ct.Component, ct.Position, ct.Since.UnixNano())}
				if ct.Failed && !ct.Injected {
					s.failAt, s.warned = ct.FailedAt, !ct.Silent
				}
				out = append(out, s)
			}
		}
	}
	// Per truth instance in time order, as evaluate wants.
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].truthKey != out[j].truthKey {
			return out[i].truthKey < out[j].truthKey
		}
		return out[i].at.Before(out[j].at)
	})
	return out, nil
}

// The fleets' supplies by default: most sites buy original agent, some
// buy non-original or let cartridges expire for a while. The printers wear
// their printheads faster then (their hidden truth); the cloud sees it
// only in the consumables snapshots' supply status and printhead flags.
const (
	nonOriginalShare = 0.2
	expiredShare     = 0.15
)

// supply is one printer's plan: from From to Until (zero: the end) its
// agents are non-original or expired.
type supply struct {
	nonOriginal, expired bool
	from, until          time.Time
	on, off              bool // applied
}

// supplyPlan draws printer i's supply plan of fleet seed from the seed
// alone, so the same fleet buys the same way every run.
func supplyPlan(o Options, seed int64, i int) *supply {
	r := rand.New(rand.NewPCG(uint64(seed), uint64(i)+0x5e))
	u := r.Float64()
	if o.OriginalSupplies {
		u = 1
	}
	s := &supply{nonOriginal: u < o.NonOriginalShare, expired: u >= o.NonOriginalShare && u < o.NonOriginalShare+o.ExpiredShare}
	days := time.Duration(o.Days) * 24 * time.Hour
	s.from = o.Start.Add(time.Duration(r.Float64() * 0.5 * float64(days))).Truncate(o.Poll)
	if r.Float64() < 0.4 {
		s.until = s.from.Add(time.Duration((0.2 + 0.3*r.Float64()) * float64(days))).Truncate(o.Poll)
	}
	return s
}

var agentNames = []string{"fusing", "detailing", "cyan", "magenta", "yellow", "black"}

// apply switches the printer's supply when the plan says, the clock set
// to the switch time first.
func (s *supply) apply(p *printer.Printer, t time.Time, clk *clock.Manual) error {
	set := func(at time.Time, nonOriginal, expired bool) error {
		clk.Set(at)
		for _, a := range agentNames {
			if err := p.SetSupply(printer.SupplyRequest{Agent: a, NonOriginal: nonOriginal, Expired: expired}); err != nil {
				return fmt.Errorf("supply plan: %w", err)
			}
		}
		return nil
	}
	if !s.nonOriginal && !s.expired {
		return nil
	}
	if !s.on && !t.Before(s.from) {
		s.on = true
		if err := set(s.from, s.nonOriginal, s.expired); err != nil {
			return err
		}
	}
	if s.on && !s.off && !s.until.IsZero() && !t.Before(s.until) {
		s.off = true
		return set(s.until, false, false)
	}
	return nil
}

// truthAt finds the truth instance a cloud instance is at time at: the
// same kind (and position, for kinds with several), installed then and not
// yet failed.
func truthAt(tr printer.Truth, in maintenance.Instance, at time.Time) (printer.ComponentTruth, bool) {
	for _, ct := range tr.Components {
		if ct.Component != string(in.Kind) || in.Position != "" && ct.Position != in.Position {
			continue
		}
		if ct.Since.After(at) || !ct.Installed && !ct.Removed.After(at) {
			continue
		}
		if ct.Failed && !ct.FailedAt.After(at) {
			return ct, false
		}
		return ct, true
	}
	return printer.ComponentTruth{}, false
}

// Print writes the report.
func (r Report) Print(w io.Writer) {
	o := r.Opts
	fmt.Fprintf(w, "maintenance score: train seeds %v, test seeds %v, %d printers per fleet, %d days from %s, poll %v, checkpoints every %v, horizon %v\n",
		o.TrainSeeds, o.TestSeeds, o.Printers, o.Days, o.Start.Format(time.DateOnly), o.Poll, o.Checkpoint, o.Horizon)
	if o.OriginalSupplies {
		fmt.Fprintf(w, "  supplies: every printer on original agent throughout\n")
	} else {
		fmt.Fprintf(w, "  supplies: %.0f %% of printers on non-original and %.0f %% on expired agent for part of the period, drawn from the seed\n",
			100*o.NonOriginalShare, 100*o.ExpiredShare)
	}
	for _, k := range maintenance.Kinds() {
		m := r.Models[k]
		if m.Fitted {
			fmt.Fprintf(w, "  model %-9s Weibull shape %.2f scale %.0f h (%d failures, %d censored)", k, m.Shape, m.Scale, m.Failures, m.Censored)
			for _, e := range m.Effects {
				if e.Fitted {
					fmt.Fprintf(w, "; %s ×%.2f (%.1f se)", e.Name, math.Exp(e.Coef), math.Abs(e.Coef)/e.SE)
				}
			}
			fmt.Fprintln(w)
		} else {
			fmt.Fprintf(w, "  model %-9s rated life %.0f h: %s\n", k, maintenance.RatedHours(k), m.Reason)
		}
	}
	fmt.Fprintf(w, "  effects: a usage hour with the covariate counts ×factor hours; (n se): the effect's log is n standard errors from none\n")
	fmt.Fprintf(w, "  decision rule: per kind, the threshold on the training fleets giving the best precision at recall ≥ the baseline's + %.2f and median lead ≥ %.1f days; never the test fleets\n",
		RecallMargin, MinLeadDays+LeadMargin)
	fmt.Fprintf(w, "  thresholds of P(fail within horizon) learned on the training fleets: ")
	for _, k := range maintenance.Kinds() {
		if r.Models[k].Fitted {
			fmt.Fprintf(w, "%s %.2f ", k, r.Thresholds[k])
		} else {
			fmt.Fprintf(w, "%s - ", k)
		}
	}
	fmt.Fprintf(w, "\n  %d natural failures in the test fleets, %d announced; %d component-checkpoints\n", r.Failures, r.Warned, r.Samples)
	if len(r.Excluded) > 0 {
		fmt.Fprintf(w, "  excluded: %v\n", r.Excluded)
	}
	fmt.Fprintf(w, "%-22s %9s %7s %5s %5s %5s %10s %8s %8s\n", "predictor", "precision", "recall", "TP", "FP", "FN", "lead days", "caught", "MAE days")
	for _, x := range []struct {
		name string
		s    Score
	}{{"fleet model", r.Model}, {"model w/o covariates", r.Plain}, {"rated-life baseline", r.Baseline}} {
		fmt.Fprintf(w, "%-22s %9.3f %7.3f %5d %5d %5d %10.1f %4d/%-3d %8.1f\n", x.name, x.s.Precision, x.s.Recall, x.s.TP, x.s.FP, x.s.FN,
			x.s.MedianLeadDays, x.s.Caught, x.s.LeadFailures, x.s.MAEDays)
	}
	for _, k := range maintenance.Kinds() {
		for i, name := range []string{"model", "baseline"} {
			x := r.ByKind[k][i]
			fmt.Fprintf(w, "  %-9s %-9s %9.3f %7.3f %5d %5d %5d %10.1f %4d/%-3d %8.1f\n", k, name, x.Precision, x.Recall, x.TP, x.FP, x.FN,
				x.MedianLeadDays, x.Caught, x.LeadFailures, x.MAEDays)
		}
	}
	if r.Baseline.Precision > 0 {
		fmt.Fprintf(w, "precision ratio %.2f× the baseline's at recall %.3f vs %.3f\n", r.Model.Precision/r.Baseline.Precision, r.Model.Recall, r.Baseline.Recall)
	}
}
