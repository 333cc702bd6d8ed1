package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/audit"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/learn"
)

// LearningStore keeps the learning loop's model versions and set
// proposals (R-FEAT-8), fleet-wide, and each organisation's approvals of
// them: a proposal is read with the approval of the organisation given.
type LearningStore interface {
	LearnModels(ctx context.Context, limit int) ([]learn.StoredModel, error)
	LearnProposals(ctx context.Context, org fleet.OrgID, limit int) ([]learn.SetProposal, error)
	LearnProposal(ctx context.Context, org fleet.OrgID, id string) (learn.SetProposal, error)
	ApproveLearnProposal(ctx context.Context, org fleet.OrgID, id string, user fleet.User, at time.Time) (learn.SetProposal, error)
}

// Who sees and approves proposals: operators and administrators see them
// (the proposals hold only the anonymous, aggregated fleet data of
// cohorts of at least kpi.MinCohort organisations); an administrator of
// the whole organisation approves one for that organisation, which adopts
// the set. Each organisation sees its own approvals only. Approving ships
// nothing: it records who approved and hands over the set file and the
// release command, which needs the offline targets keys of the
// signed-release flow. Neither requirement names a grant scope: a service
// provider acting under a customer's grant neither sees nor approves
// proposals.
var (
	learnGet     = access.Requirement{Role: fleet.RoleOperator}
	learnApprove = access.Requirement{Role: fleet.RoleAdmin, Write: true, OrgWide: true}
)

// learningPage is the Learning page: the model in service, its training
// data, and the proposed parameter sets.
type learningPage struct {
	*handler
	store LearningStore // nil: the pages are 404
}

type learnData struct {
	Models     []learn.StoredModel
	InService  *learn.StoredModel
	Used       []learn.Cohort
	Dropped    int
	Excluded   []excludedRow
	Proposals  []proposalView
	CanApprove bool
}

type excludedRow struct {
	Reason string
	Count  int
}

type proposalView struct {
	learn.SetProposal
	Rows    []proposalRow
	Version string // the release version the command uses
	File    string
	Command string
}

type proposalRow struct {
	learn.Proposal
	Params string
}

// learnVersion is the release version of a proposal from model version
// v: above every factory parameter set (2.x, 3.x).
func learnVersion(v int) string { return fmt.Sprintf("10.%d", v) }

// releaseCommand is the exact command that signs and publishes an
// approved set with the release tool.
func releaseCommand(p learn.SetProposal, file string) string {
	return fmt.Sprintf("fusionfleet release add-target -dir REPOSITORY -kind parameters -version %s -name %s -models %s -notes %q %s",
		learnVersion(p.ModelVersion), p.Set.Name, p.PrinterModel, "learned from anonymous fleet outcomes, model version "+fmt.Sprint(p.ModelVersion), file)
}

func describeParams(p fleet.MaterialParameters) string {
	var f []string
	if p.PrintMode != "" {
		f = append(f, "mode "+p.PrintMode)
	}
	if p.RecycledShareMax > 0 {
		f = append(f, fmt.Sprintf("recycled ≤ %.0f %%", 100*p.RecycledShareMax))
	}
	if p.RefreshRatio > 0 {
		f = append(f, fmt.Sprintf("refresh %.0f %%", 100*p.RefreshRatio))
	}
	if p.DensityMax > 0 {
		f = append(f, fmt.Sprintf("density ≤ %.0f %%", 100*p.DensityMax))
	}
	if p.LayerThicknessMM > 0 {
		f = append(f, fmt.Sprintf("layer %.2f mm", p.LayerThicknessMM))
	}
	return strings.Join(f, ", ")
}

func (h *learningPage) learningPage(w http.ResponseWriter, r *http.Request, s session) {
	if h.store == nil {
		h.writeError(w, r, http.StatusNotFound, "Page not found.")
		return
	}
	ms, err := h.store.LearnModels(r.Context(), 10)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	ps, err := h.store.LearnProposals(r.Context(), s.p.Org, 20)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	// Counts and shares leave coarse, so that two trainings cannot be
	// subtracted to one organisation's numbers (learn.Published).
	for i := range ms {
		ms[i].Model = ms[i].Model.Published()
	}
	for i := range ps {
		ps[i] = ps[i].Published()
	}
	d := learnData{Models: ms, CanApprove: access.Check(s.p, learnApprove, h.clock.Now()) == nil}
	for i := range ms {
		if ms[i].Promoted {
			d.InService = &ms[i]
			break
		}
	}
	if d.InService != nil {
		for _, c := range d.InService.Model.Data.Cohorts {
			if c.Used {
				d.Used = append(d.Used, c)
			} else {
				d.Dropped++
			}
		}
		for k, n := range d.InService.Model.Data.Excluded {
			d.Excluded = append(d.Excluded, excludedRow{k, n})
		}
		sort.Slice(d.Excluded, func(i, j int) bool { return d.Excluded[i].Reason < d.Excluded[j].Reason })
	}
	for _, p := range ps {
		v := proposalView{SetProposal: p, Version: learnVersion(p.ModelVersion), File: p.Set.Name + ".json"}
		v.Command = releaseCommand(p, v.File)
		for _, x := range p.Proposals {
			v.Rows = append(v.Rows, proposalRow{Proposal: x, Params: describeParams(x.Params)})
		}
		d.Proposals = append(d.Proposals, v)
	}
	h.render(w, r, http.StatusOK, "learning.html", page{Title: "Learning", User: &s.user, CSRF: s.csrf, Data: d})
}

// approve records the reader's approval of a proposal for the reader's
// organisation and returns to the page, which then offers the set file
// and the release command.
func (h *learningPage) approve(w http.ResponseWriter, r *http.Request, s session) {
	if h.store == nil {
		h.writeError(w, r, http.StatusNotFound, "Page not found.")
		return
	}
	id := r.PathValue("id")
	p, err := h.store.ApproveLearnProposal(r.Context(), s.p.Org, id, s.user, h.clock.Now())
	switch {
	case isNotFound(err):
		h.writeError(w, r, http.StatusNotFound, "No such proposal.")
		return
	case errors.Is(err, fleet.ErrConflict):
		h.writeError(w, r, http.StatusConflict, "Your organisation approved this proposal before.")
		return
	case err != nil:
		h.internalError(w, r, err)
		return
	}
	if err := h.audit.Record(r.Context(), audit.Event{Time: h.clock.Now(), Org: s.p.Org, ActorOrg: s.user.OrgID, Actor: s.user.ID,
		Name: s.user.Name, Action: "learning.approve", Target: p.ID, Detail: p.Set.Name}); err != nil {
		h.log.Warn("audit of an approval failed", "proposal", p.ID, "err", err)
	}
	http.Redirect(w, r, "/learning#proposal-"+p.ID, http.StatusSeeOther)
}

// setFile serves the parameter set document of a proposal the reader's
// organisation approved.
func (h *learningPage) setFile(w http.ResponseWriter, r *http.Request, s session) {
	if h.store == nil {
		h.writeError(w, r, http.StatusNotFound, "Page not found.")
		return
	}
	p, err := h.store.LearnProposal(r.Context(), s.p.Org, r.PathValue("id"))
	switch {
	case isNotFound(err):
		h.writeError(w, r, http.StatusNotFound, "No such proposal.")
		return
	case err != nil:
		h.internalError(w, r, err)
		return
	case p.State != learn.ProposalApproved:
		h.writeError(w, r, http.StatusConflict, "Your organisation has not approved this proposal.")
		return
	}
	doc, err := p.Set.Encode()
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", p.Set.Name+".json"))
	w.Write(doc)
}
