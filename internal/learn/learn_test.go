package learn

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

var day0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

var build = fleet.Vec3{X: 380, Y: 284, Z: 380}

// truth is a known quality model the synthetic outcomes are drawn from.
func truthLogit(mode string, recycled, density, layer float64, material string, nearWall bool, headHours float64) float64 {
	z := -1.6 + 0.6*headHours/100
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
			hours := synthHeadHours(k)
			for i := range 12 {
				x := 6 + 30*float64(i)
				box := fleet.Box{Min: fleet.Vec3{X: x, Y: 40, Z: 6}, Max: fleet.Vec3{X: x + 20, Y: 80, Z: 200}}
				p := 1 / (1 + math.Exp(-truthLogit(mode, rec, dens, layer, mat, x < 15, hours)))
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
		AttachHeads(outs[len(outs)-n:], synthHeads(o, n))
	}
	return outs
}

// synthHeadHours is the printheads' usage hours at job k: they print
// 7 hours a job and are replaced every 450 hours.
func synthHeadHours(k int) float64 { return float64((7 * k) % 450) }

// synthHeads are the consumables snapshots of organisation o's printer,
// half an hour before each of its n jobs (newest first, as order does not
// matter): two printheads at the job's hours, with serial numbers and
// UUIDs, degraded past 300 hours.
func synthHeads(o, n int) []fleet.Consumables {
	var out []fleet.Consumables
	for k := n - 1; k >= 0; k-- {
		at := day0.Add(time.Duration(k)*time.Hour - 30*time.Minute)
		c := fleet.Consumables{Time: at}
		for s := range 2 {
			h := synthHeadHours(k)
			st := "ok"
			if h > 300 {
				st = "degraded"
			}
			c.Printheads = append(c.Printheads, fleet.Printhead{Slot: s + 1, UUID: fmt.Sprintf("UUID-%d-%d-%d", o, k, s),
				SerialNumber: fmt.Sprintf("PHSERIAL%03d%05d%d", o, k, s), Status: st, UsageHours: h, RecoveryLevel: k % 5,
				InstallDate: at.Add(-time.Duration(h) * time.Hour)})
		}
		out = append(out, c)
	}
	return out
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
	// The printhead condition comes without the printheads' identities
	// or install dates.
	var known int
	for _, x := range tab.Builds {
		if x.Heads.Known {
			known++
		}
	}
	if known != len(tab.Builds) {
		t.Errorf("%d of %d builds with a known printhead condition, want all", known, len(tab.Builds))
	}
	for _, c := range synthHeads(0, 20) {
		for _, h := range c.Printheads {
			for _, v := range []string{h.UUID, h.SerialNumber, h.InstallDate.Format(time.RFC3339)} {
				if strings.Contains(string(b), v) {
					t.Fatalf("printhead identity %q reached the training table", v)
				}
			}
		}
	}
}

// Each job gets the printhead condition of the newest snapshot at or
// before its start, if that is at most MaxHeadAge old.
func TestHeadCondition(t *testing.T) {
	heads := func(at time.Time, status string, hours ...float64) fleet.Consumables {
		c := fleet.Consumables{Time: at}
		for i, h := range hours {
			c.Printheads = append(c.Printheads, fleet.Printhead{Slot: i + 1, Status: status, UsageHours: h})
		}
		return c
	}
	mixed := heads(day0.Add(2*time.Hour), "ok", 100, 200, 300, 400)
	mixed.Printheads[1].Status, mixed.Printheads[2].Status = "failed", "replace"
	snaps := []fleet.Consumables{
		heads(day0.Add(5*time.Hour), "degraded", 500, 500), // after the others: order does not matter
		mixed,
		heads(day0, "ok", 10, 30),
		heads(day0.Add(4*time.Hour), "ok"),            // lists no printhead: skipped
		heads(time.Time{}, "ok", 1, 1),                // no time: skipped
		heads(day0.Add(100*time.Hour), "ok", 900, 10), // a later snapshot
	}
	tests := []struct {
		name  string
		start time.Time
		want  HeadCondition
	}{
		{"before any snapshot", day0.Add(-time.Minute), HeadCondition{}},
		{"at a snapshot", day0, HeadCondition{Known: true, Hours: 20}},
		{"between snapshots", day0.Add(time.Hour), HeadCondition{Known: true, Hours: 20}},
		{"share not ok", day0.Add(3 * time.Hour), HeadCondition{Known: true, Hours: 250, Degraded: 0.5}},
		{"skips a snapshot without printheads", day0.Add(4 * time.Hour), HeadCondition{Known: true, Hours: 250, Degraded: 0.5}},
		{"newest", day0.Add(6 * time.Hour), HeadCondition{Known: true, Hours: 500, Degraded: 1}},
		{"at the oldest age", day0.Add(5*time.Hour + MaxHeadAge), HeadCondition{Known: true, Hours: 500, Degraded: 1}},
		{"too old", day0.Add(5*time.Hour + MaxHeadAge + time.Second), HeadCondition{}},
		{"after a gap", day0.Add(101 * time.Hour), HeadCondition{Known: true, Hours: 455}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			outs := []Outcome{{Job: fleet.Job{CreatedAt: tt.start.Add(-time.Hour), StartedAt: tt.start}},
				{Job: fleet.Job{CreatedAt: tt.start}}} // not started: its creation counts
			AttachHeads(outs, snaps)
			for i, o := range outs {
				if d := cmp.Diff(tt.want, o.Heads); d != "" {
					t.Errorf("outcome %d (-want +got):\n%s", i, d)
				}
			}
		})
	}
	outs := []Outcome{{Job: fleet.Job{CreatedAt: day0}}}
	AttachHeads(outs, nil)
	if outs[0].Heads.Known {
		t.Errorf("no snapshots: %+v, want unknown", outs[0].Heads)
	}
}

// A build without a known printhead condition is kept, with the flag
// term set; a model trained before the printhead terms existed still
// predicts.
func TestHeadConditionUnknownAndOldModels(t *testing.T) {
	outs := synth(11, 6, 60)
	for i := range outs {
		if i%4 == 0 {
			outs[i].Heads = HeadCondition{}
		}
	}
	tab := Anonymise(outs)
	var unknown int
	for _, b := range tab.Builds {
		if !b.Heads.Known {
			unknown++
		}
	}
	if unknown != len(outs)/4 || len(tab.Builds) != len(outs) {
		t.Fatalf("%d builds of %d outcomes, %d of them unknown; want all kept, %d unknown", len(tab.Builds), len(outs), unknown, len(outs)/4)
	}
	m, err := Train(tab, 1, day0)
	if err != nil {
		t.Fatal(err)
	}
	if m.Data.HeadsUnknown != unknown {
		t.Errorf("model data: %d builds with an unknown printhead condition, want %d", m.Data.HeadsUnknown, unknown)
	}
	x := make([]float64, len(m.Coef))
	b := tab.Builds[0]
	b.Heads = HeadCondition{}
	m.features(b, b.Parts[0], x)
	if x[slices.Index(m.Features, "printhead condition unknown")] != 1 || x[slices.Index(m.Features, "printhead hours/100")] != 0 {
		t.Errorf("unknown condition: features %v", x)
	}
	b.Heads = HeadCondition{Known: true, Hours: 250, Degraded: 0.5}
	m.features(b, b.Parts[0], x)
	if x[slices.Index(m.Features, "printhead condition unknown")] != 0 || x[slices.Index(m.Features, "printhead hours/100")] != 2.5 ||
		x[slices.Index(m.Features, "printheads not ok")] != 0.5 {
		t.Errorf("known condition: features %v", x)
	}
	// The same model as stored before the printhead terms.
	old := *m
	var feats []string
	var coef []float64
	for i, f := range m.Features {
		if !strings.HasPrefix(f, "printhead") {
			feats, coef = append(feats, f), append(coef, m.Coef[i])
		}
	}
	old.Features, old.Coef = feats, coef
	if len(old.Coef) != len(m.Coef)-headTerms || old.hasHeads() || !m.hasHeads() {
		t.Fatalf("old model: %d terms of %d, has heads %v", len(old.Coef), len(m.Coef), old.hasHeads())
	}
	if p := old.PDefective(b, b.Parts[0]); !(p > 0 && p < 1) {
		t.Errorf("old model predicts %v", p)
	}
	if a := old.Score(tab.Builds); a.Builds == 0 {
		t.Errorf("old model scored %+v", a)
	}
}
