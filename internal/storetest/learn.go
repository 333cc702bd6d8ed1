package storetest

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/learn"
)

// Learning reads the job outcomes the learning loop trains on and keeps
// its model versions and set proposals (R-FEAT-8).
type Learning interface {
	LearnOutcomes(ctx context.Context, from, to time.Time) ([]learn.Outcome, error)
	SaveLearnModel(ctx context.Context, m learn.StoredModel) error
	LearnModels(ctx context.Context, limit int) ([]learn.StoredModel, error)
	InServiceModel(ctx context.Context) (learn.Model, error)
	SaveLearnProposal(ctx context.Context, p learn.SetProposal) error
	LearnProposals(ctx context.Context, limit int) ([]learn.SetProposal, error)
	LearnProposal(ctx context.Context, id string) (learn.SetProposal, error)
	ApproveLearnProposal(ctx context.Context, id, user string, at time.Time) (learn.SetProposal, error)
}

// LearningStore is what RunLearning drives: learning, with organisations
// and ingest to make job outcomes.
type LearningStore interface {
	Learning
	Orgs
	Ingest
	io.Closer
}

// RunLearning runs the learning contract against stores made by open: the
// outcomes of completed jobs in a period, across organisations, with their
// parts, model and build volume; model versions round-trip, the newest
// promoted one is in service, a version is stored once; a proposal needs
// its model version, is stored once, and is approved once, by someone.
func RunLearning(t *testing.T, open func(t *testing.T) LearningStore) {
	runTests(t, open, []storeTest[LearningStore]{
		{"Outcomes", testLearnOutcomes},
		{"Models", testLearnModels},
		{"Proposals", testLearnProposals},
	})
}

func testLearnOutcomes(t *testing.T, db LearningStore) {
	var orgs []fleet.OrgID
	for i, name := range []string{"acme", "globex"} {
		org, site := tenant(t, db, name)
		orgs = append(orgs, org)
		p := fleet.PrinterID("printer-" + name)
		gw := fleet.GatewayID("gw_" + name)
		done := JobRecord(2, p, "job-done-"+name, fleet.JobCompleted, T0.Add(time.Duration(i)*time.Hour), T0.Add(2*time.Hour))
		done.Job.RecycledShare = 0.8
		apply(t, db, Env(org, site, gw,
			IdentityRecord(1, p, name, T0),
			done,
			JobRecord(3, p, "job-printing-"+name, fleet.JobPrinting, T0, T0.Add(2*time.Hour)),
			JobRecord(4, p, "job-old-"+name, fleet.JobCompleted, T0.Add(-48*time.Hour), T0.Add(2*time.Hour)),
			PartRecord(5, p, "job-done-"+name, "part-a-"+name, fleet.PartPass, T0.Add(2*time.Hour)),
			PartRecord(6, p, "job-done-"+name, "part-b-"+name, fleet.PartWarp, T0.Add(2*time.Hour)),
			PartRecord(7, p, "job-old-"+name, "part-c-"+name, fleet.PartPass, T0.Add(2*time.Hour)),
		), 7)
	}
	outs, err := db.LearnOutcomes(t.Context(), T0.Add(-time.Hour), T0.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 2 {
		t.Fatalf("got %d outcomes, want the two completed jobs of the period", len(outs))
	}
	for i, o := range outs {
		if o.Org != string(orgs[i]) || o.Model != "Jet 4200" || o.Build != (fleet.Vec3{X: 380, Y: 284, Z: 380}) {
			t.Errorf("outcome %d: org %q model %q build %v", i, o.Org, o.Model, o.Build)
		}
		if o.Job.Status != fleet.JobCompleted || o.Job.RecycledShare != 0.8 || len(o.Parts) != 2 {
			t.Errorf("outcome %d: job %+v with %d parts", i, o.Job, len(o.Parts))
		}
		for _, p := range o.Parts {
			if p.JobID != o.Job.ID {
				t.Errorf("outcome %d: part of job %s", i, p.JobID)
			}
		}
	}
	if outs, err := db.LearnOutcomes(t.Context(), T0.Add(time.Hour), T0.Add(time.Hour)); err != nil || len(outs) != 0 {
		t.Errorf("empty period: %d outcomes, %v", len(outs), err)
	}
}

func learnModel(version int, promoted bool) learn.StoredModel {
	return learn.StoredModel{Promoted: promoted, Reason: "test", Model: learn.Model{
		Version: version, TrainedAt: T0.Add(time.Duration(version) * time.Hour),
		Data: learn.DataDescription{Builds: 10, Parts: 120, HeldBuilds: 2, From: T0, To: T0.Add(24 * time.Hour),
			Cohorts:  []learn.Cohort{{Key: learn.CohortKey{Model: "FF-4200", Material: "PA12", Mode: "balanced", LayerUM: 80}, Orgs: 5, Builds: 10, Parts: 120, Used: true}},
			Excluded: map[string]int{learn.ReasonSmallCohort: 3}},
		Models: []string{"FF-4200"}, Materials: []string{"PA12"}, Features: []string{"intercept"}, Coef: []float64{-1.5},
		Held: learn.Accuracy{Builds: 2, Parts: 24, R2: 0.4, MAE: 0.1, LogLoss: 0.5},
	}}
}

func testLearnModels(t *testing.T, db LearningStore) {
	ctx := t.Context()
	if _, err := db.InServiceModel(ctx); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("no model: %v, want fleet.ErrNotFound", err)
	}
	v1, v2 := learnModel(1, true), learnModel(2, false)
	for _, m := range []learn.StoredModel{v1, v2} {
		if err := db.SaveLearnModel(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.SaveLearnModel(ctx, v2); !errors.Is(err, fleet.ErrConflict) {
		t.Errorf("version stored twice: %v, want fleet.ErrConflict", err)
	}
	got, err := db.LearnModels(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]learn.StoredModel{v2, v1}, got, timeEqual); d != "" {
		t.Errorf("models (-want +got):\n%s", d)
	}
	in, err := db.InServiceModel(ctx)
	if err != nil || in.Version != 1 {
		t.Errorf("in service: version %d, %v; want 1 (2 was not promoted)", in.Version, err)
	}
}

func testLearnProposals(t *testing.T, db LearningStore) {
	ctx := t.Context()
	p := learn.SetProposal{ID: "v1-FF-4200", ModelVersion: 1, PrinterModel: "FF-4200", Created: T0, State: learn.ProposalOpen,
		Set: fleet.ParameterSet{Schema: fleet.ParameterSetSchema, Name: "learned-FF-4200-v1", Model: "FF-4200",
			Materials: map[string]fleet.MaterialParameters{"PA12": {PrintMode: "robust", RecycledShareMax: 0.8}}},
		Proposals: []learn.Proposal{{Model: "FF-4200", Material: "PA12", Status: learn.StatusProposed, Builds: 10, Parts: 120,
			Params: fleet.MaterialParameters{PrintMode: "robust", RecycledShareMax: 0.8}, Current: 0.3, Proposed: 0.15, Gain: 0.15, GainLow: 0.1, GainHigh: 0.2}},
	}
	if err := db.SaveLearnProposal(ctx, p); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("proposal of an unknown model: %v, want fleet.ErrNotFound", err)
	}
	if err := db.SaveLearnModel(ctx, learnModel(1, true)); err != nil {
		t.Fatal(err)
	}
	bad := p
	bad.Set.Model = "FF-5200"
	if err := db.SaveLearnProposal(ctx, bad); !errors.Is(err, fleet.ErrRejected) {
		t.Errorf("invalid proposal: %v, want fleet.ErrRejected", err)
	}
	if err := db.SaveLearnProposal(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := db.SaveLearnProposal(ctx, p); !errors.Is(err, fleet.ErrConflict) {
		t.Errorf("proposal stored twice: %v, want fleet.ErrConflict", err)
	}
	got, err := db.LearnProposals(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]learn.SetProposal{p}, got, timeEqual); d != "" {
		t.Errorf("proposals (-want +got):\n%s", d)
	}
	if _, err := db.ApproveLearnProposal(ctx, "v9-none", "eve", T0); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("approve unknown: %v, want fleet.ErrNotFound", err)
	}
	if _, err := db.ApproveLearnProposal(ctx, p.ID, "", T0); err == nil {
		t.Error("approved by nobody")
	}
	a, err := db.ApproveLearnProposal(ctx, p.ID, "eve", T0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if a.State != learn.ProposalApproved || a.ApprovedBy != "eve" || !a.ApprovedAt.Equal(T0.Add(time.Hour)) {
		t.Errorf("approved: %s by %q at %v", a.State, a.ApprovedBy, a.ApprovedAt)
	}
	if _, err := db.ApproveLearnProposal(ctx, p.ID, "mallory", T0.Add(2*time.Hour)); !errors.Is(err, fleet.ErrConflict) {
		t.Errorf("approved twice: %v, want fleet.ErrConflict", err)
	}
	if a, err := db.LearnProposal(ctx, p.ID); err != nil || a.ApprovedBy != "eve" {
		t.Errorf("after a second approval: by %q, %v", a.ApprovedBy, err)
	}
}

// timeEqual compares times by instant, not location.
var timeEqual = cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })
