package restapi

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/learn"
)

// TestLearning: the model versions with their training data and the
// proposals with their gain's band, for operators and administrators.
func TestLearning(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	m := learn.Model{Version: 2, TrainedAt: t0, Models: []string{"FF-4200"}, Materials: []string{"PA12"}, Features: []string{"intercept"}, Coef: []float64{-1},
		Data: learn.DataDescription{Builds: 300, Parts: 4000, HeldBuilds: 60, From: t0.Add(-30 * 24 * time.Hour), To: t0,
			Cohorts: []learn.Cohort{{Key: learn.CohortKey{Model: "FF-4200", Material: "PA12", Mode: "fast", LayerUM: 80}, Orgs: 6, Builds: 300, Parts: 4000, Used: true},
				// One organisation alone prints PA11 at 0.12 mm: the answer
				// must not show that, nor its 37 builds.
				{Key: learn.CohortKey{Model: "FF-4200", Material: "PA11", Mode: "detail", LayerUM: 120}, Orgs: 1, Builds: 37, Parts: 411, Used: false}},
			Excluded: map[string]int{learn.ReasonNotCompleted: 9}},
		Held: learn.Accuracy{R2: 0.38, MAE: 0.11}}
	if err := f.db.SaveLearnModel(ctx, learn.StoredModel{Model: m, Promoted: true, Reason: "no model in service"}); err != nil {
		t.Fatal(err)
	}
	params := fleet.MaterialParameters{DensityMax: 0.12}
	if err := f.db.SaveLearnProposal(ctx, learn.SetProposal{ID: "v2-FF-4200", ModelVersion: 2, PrinterModel: "FF-4200", Created: t0, State: learn.ProposalOpen,
		Set:       fleet.ParameterSet{Schema: fleet.ParameterSetSchema, Name: "learned-FF-4200-v2", Model: "FF-4200", Materials: map[string]fleet.MaterialParameters{"PA12": params}},
		Proposals: []learn.Proposal{{Model: "FF-4200", Material: "PA12", Status: learn.StatusProposed, Params: params, Builds: 361, Parts: 4321, Current: 0.3049, Proposed: 0.2, Gain: 0.1, GainLow: 0.08, GainHigh: 0.12}}}); err != nil {
		t.Fatal(err)
	}
	status, body := f.do(t, "GET", "/api/v1/learning", f.a.tokens["operator"], "")
	if status != 200 {
		t.Fatalf("GET /api/v1/learning: %d %s", status, body)
	}
	var rep learningReport
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Models) != 1 || rep.Models[0].Builds != 300 || rep.Models[0].Excluded[learn.ReasonNotCompleted] != 9 || len(rep.Models[0].Cohorts) != 1 || rep.Models[0].R2 != 0.38 {
		t.Errorf("models: %+v", rep.Models)
	}
	if m := rep.Models[0]; m.Small != 1 || strings.Contains(body, "PA11") || strings.Contains(body, "411") {
		t.Errorf("a cohort of one organisation is described: %d below the threshold, %s", m.Small, body)
	}
	// Counts and shares leave coarse: two trainings are not to be
	// subtracted to one organisation's numbers.
	if len(rep.Proposals) != 1 || len(rep.Proposals[0].Materials) != 1 {
		t.Fatalf("proposals: %+v", rep.Proposals)
	}
	if m := rep.Proposals[0].Materials[0]; m.Builds != 360 || m.Parts != 4300 || m.Current != 0.3 {
		t.Errorf("proposal shows %d builds, %d parts, %v defective now; want 360, 4300, 0.3", m.Builds, m.Parts, m.Current)
	}
	if len(rep.Proposals) != 1 || rep.Proposals[0].State != "proposed" || rep.Proposals[0].Materials[0].GainLow != 0.08 || rep.Proposals[0].Set.Materials["PA12"].DensityMax != 0.12 {
		t.Errorf("proposals: %+v", rep.Proposals)
	}
	if status, _ := f.do(t, "GET", "/api/v1/learning", f.a.tokens["viewer"], ""); status != 403 {
		t.Errorf("viewer: %d, want 403", status)
	}

	// A's approval is A's: B reads the proposal open, without A's
	// approver.
	if _, err := f.db.ApproveLearnProposal(ctx, f.a.org, "v2-FF-4200", fleet.User{ID: f.a.admin, OrgID: f.a.org, Name: "CanaryAlpha-approver"}, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		s          *side
		state, by  string
		approvedAt time.Time
	}{{f.a, "approved", "CanaryAlpha-approver", t0.Add(time.Hour)}, {f.b, "proposed", "", time.Time{}}} {
		status, body := f.do(t, "GET", "/api/v1/learning", c.s.tokens["operator"], "")
		var rep learningReport
		if err := json.Unmarshal([]byte(body), &rep); status != 200 || err != nil || len(rep.Proposals) != 1 {
			t.Fatalf("%s: %d %v %s", c.s.org, status, err, body)
		}
		if got := rep.Proposals[0]; got.State != c.state || got.ApprovedBy != c.by || !got.ApprovedAt.Equal(c.approvedAt) {
			t.Errorf("%s reads %s by %q at %v, want %s by %q", c.s.org, got.State, got.ApprovedBy, got.ApprovedAt, c.state, c.by)
		}
		if c.s == f.b && strings.Contains(body, "CanaryAlpha") {
			t.Errorf("B's answer names A's approver: %s", body)
		}
	}
}

// seedApprovals stores a model and a fleet-wide proposal for each side,
// approved by that side alone, by an approver whose name becomes one of
// the side's canaries.
func (f *fixture) seedApprovals(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	if err := f.db.SaveLearnModel(ctx, learn.StoredModel{Promoted: true, Reason: "walk",
		Model: learn.Model{Version: 1, TrainedAt: t0, Models: []string{"FF-4200", "FF-5200"}}}); err != nil {
		t.Fatal(err)
	}
	for i, s := range []*side{f.a, f.b} {
		m := []string{"FF-4200", "FF-5200"}[i]
		p := learn.SetProposal{ID: "v1-" + m, ModelVersion: 1, PrinterModel: m, Created: t0, State: learn.ProposalOpen,
			Set: fleet.ParameterSet{Schema: fleet.ParameterSetSchema, Name: "learned-" + m + "-v1", Model: m,
				Materials: map[string]fleet.MaterialParameters{"PA12": {PrintMode: "robust"}}}}
		if err := f.db.SaveLearnProposal(ctx, p); err != nil {
			t.Fatal(err)
		}
		name := []string{"CanaryAlpha", "CanaryBravo"}[i] + "-approver"
		if _, err := f.db.ApproveLearnProposal(ctx, s.org, p.ID, fleet.User{ID: s.admin, OrgID: s.org, Name: name}, t0); err != nil {
			t.Fatal(err)
		}
		s.canaries = append(s.canaries, name)
	}
	f.a.otherCanaries, f.b.otherCanaries = f.b.canaries, f.a.canaries
}
