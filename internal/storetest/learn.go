package storetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
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
	LearnProposals(ctx context.Context, org fleet.OrgID, limit int) ([]learn.SetProposal, error)
	LearnProposal(ctx context.Context, org fleet.OrgID, id string) (learn.SetProposal, error)
	ApproveLearnProposal(ctx context.Context, org fleet.OrgID, id string, user fleet.User, at time.Time) (learn.SetProposal, error)
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
// parts, model, build volume and the printhead condition of the newest
// consumables snapshot at or before the job's start (unknown without one
// at most learn.MaxHeadAge old); model versions round-trip, the newest
// promoted one is in service, a version is stored once; a proposal needs
// its model version, is stored once, and is approved once per
// organisation, by someone of it; an organisation sees its own approval
// only, never another's or the name of another's approver.
func RunLearning(t *testing.T, open func(t *testing.T) LearningStore) {
	runTests(t, open, []storeTest[LearningStore]{
		{"Outcomes", testLearnOutcomes},
		{"Models", testLearnModels},
		{"Proposals", testLearnProposals},
		{"ApprovalsPerOrg", testLearnApprovalsPerOrg},
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
		// acme's printheads: a snapshot before the job's start (the
		// newest such is the one to use), an older one and one after
		// the start; globex's only snapshot is older than
		// learn.MaxHeadAge, so its condition is unknown.
		heads := []fleet.Record{
			headsRecord(8, p, T0.Add(-3*time.Hour), 100, 300),
			headsRecord(9, p, T0.Add(-time.Hour), 120, 320),
			headsRecord(10, p, T0.Add(30*time.Minute), 500, 500),
		}
		if i == 1 {
			heads = []fleet.Record{headsRecord(8, p, T0.Add(-learn.MaxHeadAge), 100, 300)}
		}
		apply(t, db, Env(org, site, gw, append([]fleet.Record{
			IdentityRecord(1, p, name, T0),
			done,
			JobRecord(3, p, "job-printing-"+name, fleet.JobPrinting, T0, T0.Add(2*time.Hour)),
			JobRecord(4, p, "job-old-"+name, fleet.JobCompleted, T0.Add(-48*time.Hour), T0.Add(2*time.Hour)),
			PartRecord(5, p, "job-done-"+name, "part-a-"+name, fleet.PartPass, T0.Add(2*time.Hour)),
			PartRecord(6, p, "job-done-"+name, "part-b-"+name, fleet.PartWarp, T0.Add(2*time.Hour)),
			PartRecord(7, p, "job-old-"+name, "part-c-"+name, fleet.PartPass, T0.Add(2*time.Hour)),
		}, heads...)...), 7+len(heads))
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
	wantHeads := []learn.HeadCondition{{Known: true, Hours: 220, Degraded: 0.5}, {}}
	for i, o := range outs {
		if d := cmp.Diff(wantHeads[i], o.Heads); d != "" {
			t.Errorf("outcome %d: printhead condition (-want +got):\n%s", i, d)
		}
	}
	if outs, err := db.LearnOutcomes(t.Context(), T0.Add(time.Hour), T0.Add(time.Hour)); err != nil || len(outs) != 0 {
		t.Errorf("empty period: %d outcomes, %v", len(outs), err)
	}
}

// headsRecord is a consumables snapshot of two printheads, the first ok
// after h1 usage hours, the second degraded after h2.
func headsRecord(seq uint64, p fleet.PrinterID, at time.Time, h1, h2 float64) fleet.Record {
	r := ConsumablesRecord(seq, p, 10, at)
	r.Consumables.Printheads = []fleet.Printhead{
		{Slot: 1, Type: "F9K08A", UUID: "ph-1", Status: "ok", UsageHours: h1, RecoveryLevel: 2, InstallDate: T0.AddDate(0, -2, 0)},
		{Slot: 2, Type: "F9K08A", UUID: "ph-2", Status: "degraded", UsageHours: h2, RecoveryLevel: 9, InstallDate: T0.AddDate(0, -3, 0)},
	}
	return r
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
	org, _ := tenant(t, db, "acme")
	got, err := db.LearnProposals(ctx, org, 10)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]learn.SetProposal{p}, got, timeEqual); d != "" {
		t.Errorf("proposals (-want +got):\n%s", d)
	}
	eve := fleet.User{ID: "u_eve", OrgID: org, Name: "eve"}
	if _, err := db.ApproveLearnProposal(ctx, org, "v9-none", eve, T0); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("approve unknown: %v, want fleet.ErrNotFound", err)
	}
	if _, err := db.ApproveLearnProposal(ctx, "o_none", p.ID, eve, T0); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("approve for an unknown organisation: %v, want fleet.ErrNotFound", err)
	}
	for _, u := range []fleet.User{{}, {ID: "u_eve"}, {Name: "eve"}} {
		if _, err := db.ApproveLearnProposal(ctx, org, p.ID, u, T0); !errors.Is(err, fleet.ErrRejected) {
			t.Errorf("approved by %+v: %v, want fleet.ErrRejected", u, err)
		}
	}
	if _, err := db.ApproveLearnProposal(ctx, "", p.ID, eve, T0); !errors.Is(err, fleet.ErrRejected) {
		t.Errorf("approved for no organisation: %v, want fleet.ErrRejected", err)
	}
	a, err := db.ApproveLearnProposal(ctx, org, p.ID, eve, T0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if a.State != learn.ProposalApproved || a.ApprovedBy != "eve" || a.ApproverID != "u_eve" || !a.ApprovedAt.Equal(T0.Add(time.Hour)) {
		t.Errorf("approved: %s by %q (%s) at %v", a.State, a.ApprovedBy, a.ApproverID, a.ApprovedAt)
	}
	if _, err := db.ApproveLearnProposal(ctx, org, p.ID, fleet.User{ID: "u_mallory", Name: "mallory"}, T0.Add(2*time.Hour)); !errors.Is(err, fleet.ErrConflict) {
		t.Errorf("approved twice: %v, want fleet.ErrConflict", err)
	}
	if a, err := db.LearnProposal(ctx, org, p.ID); err != nil || a.ApprovedBy != "eve" || a.State != learn.ProposalApproved {
		t.Errorf("after a second approval: %s by %q, %v", a.State, a.ApprovedBy, err)
	}
	if _, err := db.LearnProposal(ctx, org, "v9-none"); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("unknown proposal: %v, want fleet.ErrNotFound", err)
	}
}

// testLearnApprovalsPerOrg: one organisation's approval is its own. The
// other organisation reads the proposal as open, without the approver's
// name, and approves it independently, which leaves the first's as it
// was.
func testLearnApprovalsPerOrg(t *testing.T, db LearningStore) {
	ctx := t.Context()
	orgA, _ := tenant(t, db, "acme")
	orgB, _ := tenant(t, db, "globex")
	if err := db.SaveLearnModel(ctx, learnModel(1, true)); err != nil {
		t.Fatal(err)
	}
	p := learn.SetProposal{ID: "v1-FF-4200", ModelVersion: 1, PrinterModel: "FF-4200", Created: T0, State: learn.ProposalOpen,
		Set: fleet.ParameterSet{Schema: fleet.ParameterSetSchema, Name: "learned-FF-4200-v1", Model: "FF-4200",
			Materials: map[string]fleet.MaterialParameters{"PA12": {PrintMode: "robust"}}}}
	if err := db.SaveLearnProposal(ctx, p); err != nil {
		t.Fatal(err)
	}
	const canary = "CanaryAcme-approver"
	if _, err := db.ApproveLearnProposal(ctx, orgA, p.ID, fleet.User{ID: "u_canary_acme", OrgID: orgA, Name: canary}, T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	open := func(what string, got learn.SetProposal) {
		t.Helper()
		if got.State != learn.ProposalOpen || got.ApprovedBy != "" || got.ApproverID != "" || !got.ApprovedAt.IsZero() {
			t.Errorf("%s: B reads %s by %q (%s) at %v, want open with no approver", what, got.State, got.ApprovedBy, got.ApproverID, got.ApprovedAt)
		}
		if s := fmt.Sprintf("%+v", got); strings.Contains(s, canary) || strings.Contains(s, "u_canary_acme") {
			t.Errorf("%s: B reads the name of A's approver: %s", what, s)
		}
	}
	gotB, err := db.LearnProposal(ctx, orgB, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	open("one", gotB)
	listB, err := db.LearnProposals(ctx, orgB, 10)
	if err != nil || len(listB) != 1 {
		t.Fatalf("B's list: %d proposals, %v", len(listB), err)
	}
	open("list", listB[0])

	b, err := db.ApproveLearnProposal(ctx, orgB, p.ID, fleet.User{ID: "u_bob", OrgID: orgB, Name: "bob"}, T0.Add(2*time.Hour))
	if err != nil {
		t.Fatalf("B approves what A approved: %v", err)
	}
	if b.State != learn.ProposalApproved || b.ApprovedBy != "bob" || !b.ApprovedAt.Equal(T0.Add(2*time.Hour)) {
		t.Errorf("B's approval: %s by %q at %v", b.State, b.ApprovedBy, b.ApprovedAt)
	}
	for org, want := range map[fleet.OrgID]string{orgA: canary, orgB: "bob"} {
		ps, err := db.LearnProposals(ctx, org, 10)
		if err != nil || len(ps) != 1 {
			t.Fatalf("%s's list: %d proposals, %v", org, len(ps), err)
		}
		if ps[0].State != learn.ProposalApproved || ps[0].ApprovedBy != want {
			t.Errorf("%s reads %s by %q, want approved by %q", org, ps[0].State, ps[0].ApprovedBy, want)
		}
	}
	orgC, _ := tenant(t, db, "initech")
	gotC, err := db.LearnProposal(ctx, orgC, p.ID)
	if err != nil || gotC.State != learn.ProposalOpen || gotC.ApprovedBy != "" {
		t.Errorf("a third organisation reads %s by %q, %v; want open", gotC.State, gotC.ApprovedBy, err)
	}
}

// timeEqual compares times by instant, not location.
var timeEqual = cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })
