package restapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/audit"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/grant"
)

// GrantHeader names the grant under which a service provider's token acts
// on a customer's data. Without it a token acts in its own organisation.
const GrantHeader = "FusionFleet-Grant"

// grantAPI is the customer's side of grants (give, list, revoke) and the
// provider's (the grants given to it).
type grantAPI struct {
	*handler
	grants access.Grants
	lookup access.GrantLookup
	orgs   access.Orgs
	audit  audit.Recorder
}

type grantJSON struct {
	ID        string         `json:"id"`
	Customer  orgRef         `json:"customer"`
	Provider  orgRef         `json:"provider"`
	Sites     []fleet.SiteID `json:"sites"`
	Scopes    []string       `json:"scopes"`
	Starts    time.Time      `json:"starts_at"`
	Expires   time.Time      `json:"expires_at"`
	Created   time.Time      `json:"created_at"`
	CreatedBy fleet.UserID   `json:"created_by,omitempty"`
	Revoked   time.Time      `json:"revoked_at,omitzero"`
	State     string         `json:"state"`
}

type orgRef struct {
	ID   fleet.OrgID `json:"id"`
	Name string      `json:"name"`
}

type grantRequest struct {
	Provider fleet.OrgID     `json:"provider_id"`
	Sites    *[]fleet.SiteID `json:"sites"`
	Scopes   []string        `json:"scopes"`
	Starts   *time.Time      `json:"starts_at"`
	Expires  time.Time       `json:"expires_at"`
}

// asJSON shows g with the names of its organisations; createdBy only to
// the customer.
func (h *grantAPI) asJSON(r *http.Request, g access.Grant, customerSide bool) (grantJSON, error) {
	out := grantJSON{ID: g.ID, Sites: siteList(g.Sites), Scopes: g.Scopes.Names(), Starts: g.Starts, Expires: g.Expires,
		Created: g.Created, Revoked: g.Revoked, State: g.State(h.clock.Now())}
	for _, o := range []struct {
		id  fleet.OrgID
		ref *orgRef
	}{{g.Customer, &out.Customer}, {g.Provider, &out.Provider}} {
		org, err := h.orgs.Org(r.Context(), o.id)
		if err != nil {
			return grantJSON{}, err
		}
		*o.ref = orgRef{org.ID, org.Name}
	}
	if customerSide {
		out.CreatedBy = g.CreatedBy
	}
	return out, nil
}

func (h *grantAPI) list(r *http.Request, gs []access.Grant, customerSide bool) ([]grantJSON, error) {
	out := make([]grantJSON, 0, len(gs))
	for _, g := range gs {
		j, err := h.asJSON(r, g, customerSide)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}

// listGrants lists the grants of the caller's organisation that the
// caller administers.
func (h *grantAPI) listGrants(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	gs, err := grant.Visible(r.Context(), h.grants, p)
	if err != nil {
		return err
	}
	out, err := h.list(r, gs, true)
	if err != nil {
		return err
	}
	h.encode(w, http.StatusOK, out)
	return nil
}

// createGrant gives a service provider a grant.
func (h *grantAPI) createGrant(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	var req grantRequest
	if err := decode(r.Body, &req); err != nil {
		return err
	}
	if req.Sites != nil && len(*req.Sites) == 0 {
		return badRequest("sites: name at least one site, or leave it null for all sites.")
	}
	scopes, err := access.ParseGrantScopes(req.Scopes)
	if err != nil {
		return badRequest("scopes: " + err.Error() + "; want status, maintenance, diagnostics or logs.")
	}
	now := h.clock.Now()
	starts := now
	if req.Starts != nil {
		starts = *req.Starts
	}
	g, err := p.NewGrant(req.Provider, siteSet(req.Sites), scopes, starts, req.Expires, now)
	if errors.Is(err, access.ErrBadGrant) {
		return badRequest("The grant needs a service provider, a scope, and a window that ends in the future, after its start, at most 366 days later.")
	}
	if err != nil {
		return err
	}
	if g, err = grant.Give(r.Context(), h.grants, h.audit, p, g); errors.Is(err, fleet.ErrNotFound) {
		return badRequest("No such service provider, or a site that is not the organisation's.")
	} else if err != nil {
		return err
	}
	out, err := h.asJSON(r, g, true)
	if err != nil {
		return err
	}
	h.encode(w, http.StatusCreated, out)
	return nil
}

// revokeGrant revokes a grant at once.
func (h *grantAPI) revokeGrant(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	if err := grant.Revoke(r.Context(), h.grants, h.audit, p, r.PathValue("id"), h.clock.Now()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// receivedGrants lists the grants customers gave the caller's
// organisation: a service provider's list of customers.
func (h *grantAPI) receivedGrants(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	gs, err := h.lookup.GrantsTo(r.Context(), p.User.OrgID)
	if err != nil {
		return err
	}
	out, err := h.list(r, gs, false)
	if err != nil {
		return err
	}
	h.encode(w, http.StatusOK, out)
	return nil
}
