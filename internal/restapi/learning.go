package restapi

import (
	"context"
	"net/http"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/learn"
)

// LearningStore keeps the learning loop's model versions and proposals,
// fleet-wide, each read with the approval of the organisation given.
type LearningStore interface {
	LearnModels(ctx context.Context, limit int) ([]learn.StoredModel, error)
	LearnProposals(ctx context.Context, org fleet.OrgID, limit int) ([]learn.SetProposal, error)
}

// learningRead admits operators and administrators, as the dashboard's
// Learning page does; approving stays in the dashboard. It names no grant
// scope: a service provider acting under a customer's grant is refused.
var learningRead = access.Requirement{Role: fleet.RoleOperator}

// learningAPI answers GET /api/v1/learning.
type learningAPI struct {
	*handler
	store LearningStore // nil: 404
}

// The wire form of the learning loop's state.
type (
	learningReport struct {
		Models    []modelVersion `json:"models"`
		Proposals []setProposal  `json:"proposals"`
	}
	modelVersion struct {
		Version    int            `json:"version"`
		TrainedAt  time.Time      `json:"trained_at"`
		Promoted   bool           `json:"promoted"`
		Reason     string         `json:"reason"`
		Builds     int            `json:"builds"`
		Parts      int            `json:"parts"`
		HeldBuilds int            `json:"held_out_builds"`
		From       time.Time      `json:"from"`
		To         time.Time      `json:"to"`
		Cohorts    []cohortSize   `json:"cohorts"`
		Small      int            `json:"cohorts_below_threshold"`
		Excluded   map[string]int `json:"excluded"`
		R2         float64        `json:"r2"`
		MAE        float64        `json:"mae"`
	}
	cohortSize struct {
		Model    string `json:"model"`
		Material string `json:"material"`
		Mode     string `json:"print_mode"`
		LayerUM  int    `json:"layer_um"`
		Orgs     int    `json:"organisations"`
		Builds   int    `json:"builds"`
		Parts    int    `json:"parts"`
		Used     bool   `json:"used"`
	}
	setProposal struct {
		ID           string             `json:"id"`
		ModelVersion int                `json:"model_version"`
		PrinterModel string             `json:"printer_model"`
		Created      time.Time          `json:"created"`
		State        string             `json:"state"`
		ApprovedBy   string             `json:"approved_by,omitempty"`
		ApprovedAt   time.Time          `json:"approved_at,omitzero"`
		Set          fleet.ParameterSet `json:"set"`
		Materials    []materialProposal `json:"materials"`
	}
	materialProposal struct {
		Material string                   `json:"material"`
		Status   string                   `json:"status"`
		Reason   string                   `json:"reason,omitempty"`
		Params   fleet.MaterialParameters `json:"parameters"`
		Builds   int                      `json:"builds"`
		Parts    int                      `json:"parts"`
		Current  float64                  `json:"defective_share_now"`
		Proposed float64                  `json:"defective_share_expected"`
		Gain     float64                  `json:"gain"`
		GainLow  float64                  `json:"gain_low"`
		GainHigh float64                  `json:"gain_high"`
	}
)

// learning answers with the model versions and the proposals, each with
// the state of the caller's organisation's approval: never another's.
func (h *learningAPI) learning(w http.ResponseWriter, r *http.Request, caller access.Principal) error {
	if h.store == nil {
		return fleet.ErrNotFound
	}
	ms, err := h.store.LearnModels(r.Context(), 10)
	if err != nil {
		return err
	}
	ps, err := h.store.LearnProposals(r.Context(), caller.Org, 20)
	if err != nil {
		return err
	}
	rep := learningReport{Models: []modelVersion{}, Proposals: []setProposal{}}
	for _, s := range ms {
		// Counts and shares leave coarse, so that two trainings cannot be
		// subtracted to one organisation's numbers (learn.Published).
		m := s.Model.Published()
		v := modelVersion{Version: m.Version, TrainedAt: m.TrainedAt, Promoted: s.Promoted, Reason: s.Reason,
			Builds: m.Data.Builds, Parts: m.Data.Parts, HeldBuilds: m.Data.HeldBuilds, From: m.Data.From, To: m.Data.To,
			Cohorts: []cohortSize{}, Excluded: m.Data.Excluded, R2: m.Held.R2, MAE: m.Held.MAE}
		if v.Excluded == nil {
			v.Excluded = map[string]int{}
		}
		for _, c := range m.Data.Cohorts {
			// A cohort below the threshold is counted, never described:
			// its conditions, builds and parts would be those of the one
			// or few organisations that print that way.
			if !c.Used {
				v.Small++
				continue
			}
			v.Cohorts = append(v.Cohorts, cohortSize{c.Key.Model, c.Key.Material, c.Key.Mode, c.Key.LayerUM, c.Orgs, c.Builds, c.Parts, c.Used})
		}
		rep.Models = append(rep.Models, v)
	}
	for _, p := range ps {
		p = p.Published()
		sp := setProposal{ID: p.ID, ModelVersion: p.ModelVersion, PrinterModel: p.PrinterModel, Created: p.Created,
			State: string(p.State), ApprovedBy: p.ApprovedBy, ApprovedAt: p.ApprovedAt, Set: p.Set, Materials: []materialProposal{}}
		for _, x := range p.Proposals {
			sp.Materials = append(sp.Materials, materialProposal{x.Material, string(x.Status), x.Reason, x.Params, x.Builds, x.Parts,
				x.Current, x.Proposed, x.Gain, x.GainLow, x.GainHigh})
		}
		rep.Proposals = append(rep.Proposals, sp)
	}
	h.encode(w, http.StatusOK, rep)
	return nil
}
