package cloud

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/learn"
)

// learnFake is an in-memory learnStore.
type learnFake struct {
	mu        sync.Mutex
	outs      []learn.Outcome
	models    []learn.StoredModel
	proposals []learn.SetProposal
	from, to  time.Time
}

func (f *learnFake) LearnOutcomes(_ context.Context, from, to time.Time) ([]learn.Outcome, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.from, f.to = from, to
	return f.outs, nil
}

func (f *learnFake) SaveLearnModel(_ context.Context, m learn.StoredModel) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.models = append(f.models, m)
	return nil
}

func (f *learnFake) LearnModels(context.Context, int) ([]learn.StoredModel, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.models) == 0 {
		return nil, nil
	}
	return []learn.StoredModel{f.models[len(f.models)-1]}, nil
}

func (f *learnFake) InServiceModel(context.Context) (learn.Model, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.models) - 1; i >= 0; i-- {
		if f.models[i].Promoted {
			return f.models[i].Model, nil
		}
	}
	return learn.Model{}, fleet.ErrNotFound
}

func (f *learnFake) SaveLearnProposal(_ context.Context, p learn.SetProposal) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.proposals = append(f.proposals, p)
	return nil
}

// fleetOutcomes draws completed jobs of six organisations whose parts
// fail more in fast mode and less in robust mode.
func fleetOutcomes(n int) []learn.Outcome {
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	var outs []learn.Outcome
	for i := range n {
		mode := fleet.PrintModes[i%3]
		p := map[string]float64{"fast": 0.35, "balanced": 0.2, "robust": 0.1}[mode]
		id := fmt.Sprintf("JOB%06d", i)
		j := fleet.Job{ID: id, CreatedAt: t0.Add(time.Duration(i) * time.Hour), Status: fleet.JobCompleted, Material: "PA12",
			PrintMode: mode, LayerThicknessMM: 0.08, RecycledShare: 0.8, Density: 0.1, PartCount: 10,
			BoundingBox: fleet.Box{Min: fleet.Vec3{X: 6, Y: 6, Z: 6}, Max: fleet.Vec3{X: 300, Y: 200, Z: 100}}}
		o := learn.Outcome{Org: fmt.Sprintf("org-%d", (i/3)%6), Model: "FF-4200", Build: fleet.Vec3{X: 380, Y: 284, Z: 380}, Job: j}
		for k := range 10 {
			oc := fleet.PartPass
			if rng.Float64() < p {
				oc = fleet.PartWarp
			}
			o.Parts = append(o.Parts, fleet.Part{ID: fmt.Sprintf("P%s%d", id, k), JobID: id, CreatedAt: j.CreatedAt, Outcome: oc,
				BoundingBox: fleet.Box{Min: fleet.Vec3{X: 40, Y: 40, Z: 6}, Max: fleet.Vec3{X: 80, Y: 80, Z: 60}}})
		}
		outs = append(outs, o)
	}
	return outs
}

// The learner stores every version and a promoted one's proposals, and
// counts versions on from what is stored.
func TestLearnerPublishes(t *testing.T) {
	st := &learnFake{outs: fleetOutcomes(300)}
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	clk := clock.NewManual(now)
	tr, err := newLearner(t.Context(), st, clk, clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := tr.Retrain(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !d.Promoted || len(st.models) != 1 || !st.models[0].Promoted || st.models[0].Model.Version != 1 {
		t.Fatalf("stored models %+v", st.models)
	}
	if !st.to.Equal(now) || !st.from.Equal(now.Add(-learnWindow)) {
		t.Errorf("read outcomes from %v to %v", st.from, st.to)
	}
	if len(st.proposals) != 1 || st.proposals[0].Set.Materials["PA12"].PrintMode != "robust" || st.proposals[0].State != learn.ProposalOpen {
		t.Errorf("proposals %+v", st.proposals)
	}
	// A node started later continues the versions.
	tr2, err := newLearner(t.Context(), st, clk, clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := tr2.Retrain(t.Context()); err != nil || d.Candidate.Version != 2 || tr2.Current() == nil {
		t.Errorf("second node: version %v, %v", d.Candidate, err)
	}
}
