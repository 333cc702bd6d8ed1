package dashboard

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/learn"
)

// seedLearning stores a promoted model and its proposal for FF-4200.
func (f *fixture) seedLearning(t *testing.T) learn.SetProposal {
	t.Helper()
	ctx := t.Context()
	m := learn.Model{Version: 3, TrainedAt: t0, Models: []string{"FF-4200"}, Materials: []string{"PA12"},
		Features: []string{"intercept"}, Coef: []float64{-1},
		Data: learn.DataDescription{Builds: 420, Parts: 5100, HeldBuilds: 84, From: t0.Add(-90 * 24 * time.Hour), To: t0,
			Cohorts: []learn.Cohort{
				{Key: learn.CohortKey{Model: "FF-4200", Material: "PA12", Mode: "balanced", LayerUM: 80}, Orgs: 7, Builds: 400, Parts: 5000, Used: true},
				{Key: learn.CohortKey{Model: "FF-4200", Material: "PP", Mode: "fast", LayerUM: 80}, Orgs: 2, Builds: 20, Parts: 100}},
			Excluded: map[string]int{learn.ReasonSmallCohort: 20, learn.ReasonPending: 4}},
		Held: learn.Accuracy{Builds: 84, Parts: 1000, R2: 0.41, MAE: 0.12, LogLoss: 0.5}}
	if err := f.db.SaveLearnModel(ctx, learn.StoredModel{Model: m, Promoted: true, Reason: "no model in service"}); err != nil {
		t.Fatal(err)
	}
	params := fleet.MaterialParameters{PrintMode: "robust", RecycledShareMax: 0.8}
	p := learn.SetProposal{ID: "v3-FF-4200", ModelVersion: 3, PrinterModel: "FF-4200", Created: t0, State: learn.ProposalOpen,
		Set: fleet.ParameterSet{Schema: fleet.ParameterSetSchema, Name: "learned-FF-4200-v3", Model: "FF-4200",
			Materials: map[string]fleet.MaterialParameters{"PA12": params}},
		Proposals: []learn.Proposal{
			{Model: "FF-4200", Material: "PA12", Status: learn.StatusProposed, Params: params, Builds: 400, Parts: 5000,
				Current: 0.26, Proposed: 0.13, Gain: 0.13, GainLow: 0.12, GainHigh: 0.14},
			{Model: "FF-4200", Material: "TPU", Status: learn.StatusInsufficient, Reason: "90 parts in 8 builds, want at least 400 parts"}}}
	if err := f.db.SaveLearnProposal(ctx, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// seedApprovals stores a model and one proposal per approver (at most
// two), approved by the approver's organisation alone, and returns the
// proposals' IDs in the approvers' order.
func (f *fixture) seedApprovals(t *testing.T, approvers ...fleet.User) []string {
	t.Helper()
	ctx := t.Context()
	if err := f.db.SaveLearnModel(ctx, learn.StoredModel{Promoted: true, Reason: "walk",
		Model: learn.Model{Version: 1, TrainedAt: t0, Models: []string{"FF-4200", "FF-5200"}}}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i, u := range approvers {
		m := []string{"FF-4200", "FF-5200"}[i]
		p := learn.SetProposal{ID: "v1-" + m, ModelVersion: 1, PrinterModel: m, Created: t0, State: learn.ProposalOpen,
			Set: fleet.ParameterSet{Schema: fleet.ParameterSetSchema, Name: "learned-" + m + "-v1", Model: m,
				Materials: map[string]fleet.MaterialParameters{"PA12": {PrintMode: "robust"}}}}
		if err := f.db.SaveLearnProposal(ctx, p); err != nil {
			t.Fatal(err)
		}
		if _, err := f.db.ApproveLearnProposal(ctx, u.OrgID, p.ID, u, t0); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	return ids
}

// TestLearningPage: the page describes the model in service and its
// training data; an admin approves a proposal once, and then gets the set
// file and the exact release command; nothing else is released.
func TestLearningPage(t *testing.T) {
	f := newFixture(t)
	p := f.seedLearning(t)
	ada := f.user(t, "ada")
	resp, body := f.getAs(t, ada, "/learning", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /learning: %d", resp.StatusCode)
	}
	for _, want := range []string{"420 builds, 5100 parts", "1 used, 1 below the k-anonymity threshold", "R² 0.410",
		"cohort below the k-anonymity threshold", "learned-FF-4200-v3", "mode robust, recycled ≤ 80 %", "13.0 points (12.0 to 14.0)",
		"too little data", "90 parts in 8 builds", `action="/learning/v3-FF-4200/approve"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if code, _ := f.getAs(t, ada, "/learning/v3-FF-4200/set.json", ""); code.StatusCode != http.StatusConflict {
		t.Errorf("set of an open proposal: %d, want 409", code.StatusCode)
	}
	if code, _ := f.postAs(t, ada, "/learning/v3-FF-4200/approve", url.Values{}); code != http.StatusSeeOther {
		t.Fatalf("approve: %d", code)
	}
	_, body = f.getAs(t, ada, "/learning", "")
	want := "fusionfleet release add-target -dir REPOSITORY -kind parameters -version 10.3 -name learned-FF-4200-v3 -models FF-4200"
	if !strings.Contains(body, want) || !strings.Contains(body, "approved by ada") || strings.Contains(body, `action="/learning/v3-FF-4200/approve"`) {
		t.Errorf("approved proposal: page lacks the command %q or the approver, or still offers approval:\n%s", want, body)
	}
	resp, doc := f.getAs(t, ada, "/learning/v3-FF-4200/set.json", "")
	got, err := fleet.ParseParameterSet([]byte(doc))
	if resp.StatusCode != http.StatusOK || err != nil || got.Name != p.Set.Name || got.Materials["PA12"] != p.Set.Materials["PA12"] {
		t.Errorf("set file: %d, %v, %+v", resp.StatusCode, err, got)
	}
	if code, _ := f.postAs(t, ada, "/learning/v3-FF-4200/approve", url.Values{}); code != http.StatusConflict {
		t.Errorf("second approval: %d, want 409", code)
	}
	if code, _ := f.postAs(t, f.user(t, "vic"), "/learning/v3-FF-4200/approve", url.Values{}); code != http.StatusForbidden {
		t.Errorf("viewer's approval: %d, want 403", code)
	}
	if code, _ := f.postAs(t, ada, "/learning/v9-none/approve", url.Values{}); code != http.StatusNotFound {
		t.Errorf("approval of an unknown proposal: %d, want 404", code)
	}
}

// TestLearningApprovalIsTheOrganisations: A's approval is A's. B's admin
// sees the proposal open, without A's approver, cannot download the set,
// and approves it for B, which leaves A's approval as it was.
func TestLearningApprovalIsTheOrganisations(t *testing.T) {
	f := newFixture(t)
	f.seedLearning(t)
	ada, bob := f.user(t, "ada"), f.user(t, "bob")
	if code, _ := f.postAs(t, ada, "/learning/v3-FF-4200/approve", url.Values{}); code != http.StatusSeeOther {
		t.Fatalf("A approves: %d", code)
	}
	_, body := f.getAs(t, bob, "/learning", "")
	// (Not "ada" alone: a random CSRF token in hex may hold it.)
	if strings.Contains(body, "by ada") || strings.Contains(body, "release-command") || !strings.Contains(body, `action="/learning/v3-FF-4200/approve"`) {
		t.Errorf("B's page shows A's approval or lacks its own approve button:\n%s", body)
	}
	if resp, _ := f.getAs(t, bob, "/learning/v3-FF-4200/set.json", ""); resp.StatusCode != http.StatusConflict {
		t.Errorf("B downloads the set A approved: %d, want 409", resp.StatusCode)
	}
	if code, _ := f.postAs(t, bob, "/learning/v3-FF-4200/approve", url.Values{}); code != http.StatusSeeOther {
		t.Fatalf("B approves after A: %d, want 303", code)
	}
	for who, want := range map[fleet.UserID]string{ada: "approved by ada", bob: "approved by bob"} {
		_, body := f.getAs(t, who, "/learning", "")
		if !strings.Contains(body, want) || strings.Count(body, "approved by ") != 1 {
			t.Errorf("%s's page lacks %q or shows another approval", who, want)
		}
		if resp, _ := f.getAs(t, who, "/learning/v3-FF-4200/set.json", ""); resp.StatusCode != http.StatusOK {
			t.Errorf("%s downloads the set: %d, want 200", who, resp.StatusCode)
		}
	}
}

// Without a learning store the pages do not exist.
func TestLearningPageWithoutStore(t *testing.T) {
	f := newFixtureStore(t, func(d *Deps) { d.Learning = nil })
	if resp, _ := f.getAs(t, f.user(t, "ada"), "/learning", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /learning: %d, want 404", resp.StatusCode)
	}
}
