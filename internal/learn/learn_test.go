package learn

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/kpi"
)

var day0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

var build = fleet.Vec3{X: 380, Y: 284, Z: 380}

// truth is a known quality model the synthetic outcomes are drawn from.
func truthLogit(mode string, recycled, density, layer float64, material string, nearWall bool) float64 {
	z := -1.6
	switch mode {
	case "fast":
		z += 0.7
	case "robust":
		z -= 0.6
	}
	z += 9 * max(recycled-reference(material), 0)
	z += 10 * max(density-0.12, 0)
	opt := map[string]float64{"PA12": 0.08, "TPU": 0.10}[material]
	z += 2000 * (math.Pow(layer-opt, 2) - math.Pow(0.08-opt, 2))
	if nearWall {
		z += 0.6
	}
	return z
}

// oneCohort puts every outcome in the cohort of balanced PA12 at 0.08 mm.
func oneCohort(outs []Outcome) []Outcome {
	for i := range outs {
		outs[i].Job.Material, outs[i].Job.PrintMode, outs[i].Job.LayerThicknessMM = "PA12", "balanced", 0.08
	}
	return outs
}

// synth draws n jobs per organisation with known quality, for orgs
// organisations, spread over materials, modes and layers.
func synth(seed uint64, orgs, n int) []Outcome {
	rng := rand.New(rand.NewPCG(seed, 1))
	var outs []Outcome
	for o := range orgs {
		for k := range n {
			mat := []string{"PA12", "TPU"}[rng.IntN(2)]
			mode := fleet.PrintModes[rng.IntN(3)]
			layer := []float64{0.08, 0.08, 0.09, 0.10}[rng.IntN(4)]
			rec := reference(mat) - 0.05 + 0.2*rng.Float64()
			dens := 0.05 + 0.15*rng.Float64()
			id := fmt.Sprintf("JOB%04d%05d", o, k)
			j := fleet.Job{ID: id, CreatedAt: day0.Add(time.Duration(k) * time.Hour), Status: fleet.JobCompleted,
				Material: mat, PrintMode: mode, LayerThicknessMM: layer, RecycledShare: rec, Density: dens,
				BoundingBox: fleet.Box{Min: fleet.Vec3{X: 6, Y: 6, Z: 6}, Max: fleet.Vec3{X: 370, Y: 270, Z: 200}}}
			out := Outcome{Org: fmt.Sprintf("org-%d", o), Model: "FF-4200", Build: build, Job: j}
			for i := range 12 {
				x := 6 + 30*float64(i)
				box := fleet.Box{Min: fleet.Vec3{X: x, Y: 40, Z: 6}, Max: fleet.Vec3{X: x + 20, Y: 80, Z: 200}}
				p := 1 / (1 + math.Exp(-truthLogit(mode, rec, dens, layer, mat, x < 15)))
				oc := fleet.PartPass
				if rng.Float64() < p {
					oc = fleet.PartWarp
				}
				out.Parts = append(out.Parts, fleet.Part{ID: fmt.Sprintf("P%s%02d", id, i), JobID: id, CreatedAt: j.CreatedAt,
					BoundingBox: box, Outcome: oc})
			}
			out.Job.PartCount = len(out.Parts)
			outs = append(outs, out)
		}
	}
	return outs
}

// No organisation, site, printer, job or part identity enters the
// training table: neither as a field nor as a value.
func TestTableCarriesNoIdentity(t *testing.T) {
	outs := synth(1, 6, 20)
	tab := Anonymise(outs)
	if len(tab.Builds) == 0 {
		t.Fatal("empty table")
	}
	forbidden := []string{"org", "site", "printer", "job", "part", "id", "serial", "name", "user", "host", "gateway", "uuid"}
	var walk func(reflect.Type, string)
	seenT := map[reflect.Type]bool{}
	walk = func(ty reflect.Type, path string) {
		if seenT[ty] || ty == reflect.TypeFor[time.Time]() {
			return
		}
		seenT[ty] = true
		switch ty.Kind() {
		case reflect.Struct:
			for i := range ty.NumField() {
				f := ty.Field(i)
				lower := strings.ToLower(f.Name)
				for _, w := range forbidden {
					if lower == w || lower == w+"id" || strings.HasSuffix(lower, "id") {
						t.Errorf("training table field %s.%s names an identity", path, f.Name)
					}
				}
				walk(f.Type, path+"."+f.Name)
			}
		case reflect.Slice, reflect.Pointer, reflect.Array:
			walk(ty.Elem(), path+"[]")
		case reflect.Map:
			walk(ty.Key(), path+"{key}")
			walk(ty.Elem(), path+"{}")
		}
	}
	walk(reflect.TypeFor[Table](), "Table")
	b, err := json.Marshal(tab)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range outs {
		for _, v := range []string{o.Org, o.Job.ID} {
			if strings.Contains(string(b), v) {
				t.Fatalf("identity %q reached the training table", v)
			}
		}
		for _, p := range o.Parts {
			if strings.Contains(string(b), p.ID) {
				t.Fatalf("part identity %q reached the training table", p.ID)
			}
		}
	}
}

// A cohort seen at fewer than kpi.MinCohort organisations is not used.
func TestSmallCohortsExcluded(t *testing.T) {
	outs := oneCohort(synth(2, kpi.MinCohort, 10))
	// One organisation alone prints PP: its cohort is too small.
	lone := synth(3, 1, 10)
	for i := range lone {
		lone[i].Org = "org-lone"
		lone[i].Job.Material = "PP"
	}
	// A cohort of exactly kpi.MinCohort-1 organisations in robust PA12 at 0.11 mm.
	var few []Outcome
	for o := range kpi.MinCohort - 1 {
		x := synth(uint64(10+o), 1, 3)
		for i := range x {
			x[i].Org = fmt.Sprintf("few-%d", o)
			x[i].Job.Material, x[i].Job.PrintMode, x[i].Job.LayerThicknessMM = "PA12", "robust", 0.11
		}
		few = append(few, x...)
	}
	tab := Anonymise(append(append(outs, lone...), few...))
	for _, b := range tab.Builds {
		if b.Material == "PP" || b.LayerMM == 0.11 {
			t.Fatalf("a build of a small cohort was used: %+v", b)
		}
	}
	if got, want := tab.Excluded[ReasonSmallCohort], len(lone)+len(few); got != want {
		t.Errorf("excluded for small cohorts: %d, want %d", got, want)
	}
	for _, c := range tab.Cohorts {
		if c.Used != (c.Orgs >= kpi.MinCohort) {
			t.Errorf("cohort %s with %d organisations: used %v", c.Key, c.Orgs, c.Used)
		}
	}
}

// Missing or contradictory records are excluded with a reason, counted.
func TestBadRecordsExcludedWithReason(t *testing.T) {
	good := oneCohort(synth(4, kpi.MinCohort, 4))
	mut := func(f func(*Outcome)) Outcome {
		o := oneCohort(synth(5, 1, 1))[0]
		o.Org = "org-0"
		f(&o)
		return o
	}
	bad := []struct {
		o      Outcome
		reason string
	}{
		{mut(func(o *Outcome) { o.Job.Status = fleet.JobFailed }), ReasonNotCompleted},
		{mut(func(o *Outcome) { o.Parts = o.Parts[:3] }), ReasonMissingParts},
		{mut(func(o *Outcome) { o.Parts[0].Outcome = fleet.PartPending }), ReasonPending},
		{mut(func(o *Outcome) { o.Job.RecycledShare = 0 }), ReasonContradictory},
		{mut(func(o *Outcome) { o.Job.LayerThicknessMM = 0.5 }), ReasonContradictory},
		{mut(func(o *Outcome) { o.Parts[1].JobID = "OTHERJOB" }), ReasonContradictory},
		{mut(func(o *Outcome) { o.Parts[2].BoundingBox.Max.Z = 300 }), ReasonContradictory},
		{mut(func(o *Outcome) { o.Job.PrintMode = "turbo" }), ReasonContradictory},
		{mut(func(o *Outcome) { o.Build = fleet.Vec3{} }), ReasonUnknownModel},
		{good[0], ReasonDuplicate},
	}
	want := map[string]int{}
	all := append([]Outcome{}, good...)
	for _, b := range bad {
		all = append(all, b.o)
		want[b.reason]++
	}
	tab := Anonymise(all)
	if d := cmp.Diff(want, tab.Excluded); d != "" {
		t.Errorf("excluded (-want +got):\n%s", d)
	}
	if len(tab.Builds) != len(good) {
		t.Errorf("%d builds used, want %d", len(tab.Builds), len(good))
	}
}

// The fit recovers the direction of the known model's effects, and the
// proposal moves towards its optimum with a band that excludes zero.
func TestFitAndPropose(t *testing.T) {
	tab := Anonymise(synth(6, 6, 120))
	m, err := Train(tab, 1, day0)
	if err != nil {
		t.Fatal(err)
	}
	coef := map[string]float64{}
	for i, f := range m.Features {
		coef[f] = m.Coef[i]
	}
	t.Logf("held out: R² %.3f MAE %.4f over %d builds", m.Held.R2, m.Held.MAE, m.Held.Builds)
	if !(coef["mode fast"] > 0.3 && coef["mode robust"] < -0.3 && coef["recycled above reference"] > 0 && coef["near a side wall"] > 0.3) {
		t.Errorf("coefficients miss the known effects: %v", coef)
	}
	if m.Held.R2 <= 0 || m.Held.MAE <= 0 || m.Held.Builds == 0 {
		t.Errorf("held-out accuracy %+v", m.Held)
	}
	ps := Propose(tab, m, ProposeOptions{Bootstrap: 6, Seed: 1})
	if len(ps) != 2 {
		t.Fatalf("got %d proposals, want PA12 and TPU", len(ps))
	}
	for _, p := range ps {
		if p.Status != StatusProposed {
			t.Errorf("%s: %s (%s)", p.Material, p.Status, p.Reason)
			continue
		}
		if p.Params.PrintMode != "robust" || !(p.GainLow > 0 && p.GainLow <= p.Gain && p.Gain <= p.GainHigh) {
			t.Errorf("%s: %+v", p.Material, p)
		}
		if p.Material == "TPU" && p.Params.LayerThicknessMM != 0.10 {
			t.Errorf("TPU layer %.2f, want the optimum 0.10", p.Params.LayerThicknessMM)
		}
	}
	set, ok := SetFor("FF-4200", "learned-4200-1", ps)
	if !ok || set.Validate() != nil || len(set.Materials) != 2 {
		t.Errorf("set %+v ok %v", set, ok)
	}
}

// With too little data the learner says so instead of guessing.
func TestTooLittleData(t *testing.T) {
	tab := Anonymise(synth(7, kpi.MinCohort, 4))
	if _, err := Train(tab, 1, day0); err == nil || !strings.Contains(err.Error(), "too little data") {
		t.Fatalf("Train on %d parts: %v, want too little data", tab.Parts(), err)
	}
	// Enough to fit, too few to propose for TPU alone.
	tab = Anonymise(synth(8, 6, 60))
	m, err := Train(tab, 1, day0)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range Propose(tab, m, ProposeOptions{Bootstrap: 4, MinParts: 100000}) {
		if p.Status != StatusInsufficient || !strings.Contains(p.Reason, "want at least") {
			t.Errorf("%s: %s %q, want too little data", p.Material, p.Status, p.Reason)
		}
	}
}

// A model that scores worse than the one in service is not promoted.
func TestTrainerPromotesOnlyBetter(t *testing.T) {
	outs := synth(9, 6, 200)
	clk := clock.NewManual(day0)
	tr := NewTrainer(func(context.Context) ([]Outcome, error) { return outs, nil }, nil, TrainerOptions{Clock: clk})
	d, err := tr.Retrain(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !d.Promoted || tr.Current().Version != 1 {
		t.Fatalf("first model: promoted %v, version %d", d.Promoted, tr.Current().Version)
	}
	good := tr.Current()
	// A candidate trained on mislabelled outcomes, judged on the same
	// held-out builds as the model in service.
	bad := synth(10, 6, 30)
	for i := range bad {
		for k := range bad[i].Parts {
			if bad[i].Parts[k].Outcome == fleet.PartPass {
				bad[i].Parts[k].Outcome = fleet.PartWarp
			} else {
				bad[i].Parts[k].Outcome = fleet.PartPass
			}
		}
	}
	tab := Anonymise(outs)
	badModel, err := Train(Anonymise(bad), 2, day0)
	if err != nil {
		t.Fatal(err)
	}
	badModel.Held = badModel.Score(heldOf(tab))
	d = decide(badModel, good, tab)
	if d.Promoted || !strings.Contains(d.Reason, "not promoted") {
		t.Errorf("worse model promoted: %+v", d)
	}
	d = decide(good, badModel, tab)
	if !d.Promoted {
		t.Errorf("better model not promoted: %s", d.Reason)
	}
}

func heldOf(t Table) []Build {
	_, h := split(t.Builds)
	return h
}

// The trainer retrains on its schedule, by the injected clock.
func TestTrainerSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		outs := synth(11, 6, 40)
		clk := clock.NewManual(day0)
		var loads atomic.Int32
		tr := NewTrainer(func(context.Context) ([]Outcome, error) { loads.Add(1); return outs, nil }, nil,
			TrainerOptions{Clock: clk, Every: 24 * time.Hour, FirstAfter: 10 * time.Minute})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- tr.Run(ctx) }()
		synctest.Wait()
		if loads.Load() != 0 {
			t.Fatalf("%d trainings at start, want none for 10 minutes", loads.Load())
		}
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if loads.Load() != 1 {
			t.Fatalf("%d trainings after 10 minutes, want 1", loads.Load())
		}
		clk.Advance(23 * time.Hour)
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if loads.Load() != 1 {
			t.Fatalf("%d trainings before a day passed, want 1", loads.Load())
		}
		clk.Advance(time.Hour)
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if loads.Load() != 2 || tr.Current() == nil || tr.Last().Candidate.Version != 2 {
			t.Fatalf("%d trainings after a day, want 2; last %+v", loads.Load(), tr.Last())
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}
