package learn

import (
	"errors"
	"fmt"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// StoredModel is a model version as the cloud keeps it: whether it was
// promoted into service, and why.
type StoredModel struct {
	Model    Model
	Promoted bool
	Reason   string
}

// ProposalState is where a proposed set stands.
type ProposalState string

// The states of a proposed set, for one organisation: it waits for an
// administrator, who approves it: the organisation adopts the set, which
// whoever holds the cloud's release keys then signs and publishes.
// Nothing is released automatically.
const (
	ProposalOpen     ProposalState = "proposed"
	ProposalApproved ProposalState = "approved"
)

// SetProposal is a proposed parameter set for one printer model, from one
// model version, with the per-material proposals behind it. The proposal
// is the whole fleet's; State and the approver are those of the
// organisation it was read for.
type SetProposal struct {
	ID           string
	ModelVersion int
	PrinterModel string
	Created      time.Time
	Set          fleet.ParameterSet
	Proposals    []Proposal
	State        ProposalState
	ApprovedBy   string       // the approver's name
	ApproverID   fleet.UserID // the approver
	ApprovedAt   time.Time
}

// Validate reports whether the proposal is well-formed.
func (p SetProposal) Validate() error {
	var errs []error
	if p.ID == "" || len(p.ID) > 64 {
		errs = append(errs, fmt.Errorf("proposal id %q: want 1 to 64 characters", p.ID))
	}
	if p.ModelVersion <= 0 {
		errs = append(errs, fmt.Errorf("proposal %s: model version %d", p.ID, p.ModelVersion))
	}
	if p.Created.IsZero() {
		errs = append(errs, fmt.Errorf("proposal %s: zero creation time", p.ID))
	}
	if err := p.Set.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("proposal %s: %w", p.ID, err))
	}
	if p.PrinterModel != p.Set.Model {
		errs = append(errs, fmt.Errorf("proposal %s: printer model %q, set for %q", p.ID, p.PrinterModel, p.Set.Model))
	}
	if p.State != ProposalOpen && p.State != ProposalApproved {
		errs = append(errs, fmt.Errorf("proposal %s: state %q", p.ID, p.State))
	}
	return errors.Join(errs...)
}

// Proposals makes the set proposals of a model version: one per printer
// model with at least one confident material proposal.
func Proposals(m *Model, ps []Proposal, now time.Time) []SetProposal {
	var out []SetProposal
	for _, pm := range m.Models {
		name := fmt.Sprintf("learned-%s-v%d", pm, m.Version)
		s, ok := SetFor(pm, name, ps)
		if !ok {
			continue
		}
		var mine []Proposal
		for _, p := range ps {
			if p.Model == pm {
				mine = append(mine, p)
			}
		}
		out = append(out, SetProposal{ID: fmt.Sprintf("v%d-%s", m.Version, pm), ModelVersion: m.Version, PrinterModel: pm,
			Created: now, Set: s, Proposals: mine, State: ProposalOpen})
	}
	return out
}
