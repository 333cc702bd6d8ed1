package restapi

import (
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
	"github.com/fusionfleet/fusionfleet/internal/identity"
)

// Limits on what callers may name.
const maxNameLen = 128

// siteList is a site set on the wire: null (or absent) for all sites.
func siteList(s access.SiteSet) []fleet.SiteID {
	if !s.Limited() {
		return nil
	}
	ids := s.IDs()
	if ids == nil {
		ids = []fleet.SiteID{}
	}
	return ids
}

// siteSet is the inverse of siteList.
func siteSet(ids *[]fleet.SiteID) access.SiteSet {
	if ids == nil || *ids == nil {
		return access.AllSites()
	}
	return access.OnlySites(*ids...)
}

type userJSON struct {
	ID        fleet.UserID   `json:"id"`
	Name      string         `json:"name"`
	Role      string         `json:"role"`
	Sites     []fleet.SiteID `json:"sites"`
	TwoFactor bool           `json:"two_factor"`
	// MustChangePassword: an administrator reset the password and the
	// user has not chosen a new one yet.
	MustChangePassword bool `json:"must_change_password"`
}

func newUserJSON(m access.Member) userJSON {
	return userJSON{ID: m.ID, Name: m.Name, Role: m.Role.String(), Sites: siteList(m.Sites), TwoFactor: m.TwoFactor,
		MustChangePassword: m.MustChangePassword}
}

type meJSON struct {
	Kind    string         `json:"kind"`
	User    userRef        `json:"user"`
	OrgID   fleet.OrgID    `json:"org_id"`
	Role    string         `json:"role"`
	Scope   string         `json:"scope"`
	Sites   []fleet.SiteID `json:"sites"`
	TokenID access.TokenID `json:"token_id,omitempty"`
	Expires time.Time      `json:"expires_at,omitzero"`
}

type userRef struct {
	ID   fleet.UserID `json:"id"`
	Name string       `json:"name"`
}

func (h *handler) me(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	h.encode(w, http.StatusOK, meJSON{Kind: p.Kind.String(), User: userRef{p.User.ID, p.User.Name}, OrgID: p.Org,
		Role: p.Role.String(), Scope: p.Scope.String(), Sites: siteList(p.Sites), TokenID: p.TokenID, Expires: p.Expires})
	return nil
}

func (h *siteAPI) listSites(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	sites, err := h.sites.Sites(r.Context(), p.Org)
	if err != nil {
		return err
	}
	h.encode(w, http.StatusOK, p.FilterSites(sites))
	return nil
}

// visiblePrinters are the printers of p's organisation at p's sites.
func visiblePrinters(r *http.Request, st fleetquery.PrinterReader, p access.Principal) ([]fleet.PrinterView, error) {
	ps, err := st.Printers(r.Context(), p.Org)
	if err != nil {
		return nil, err
	}
	return p.FilterPrinters(ps), nil
}

func (h *printerAPI) listPrinters(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	ps, err := visiblePrinters(r, h.printers, p)
	if err != nil {
		return err
	}
	h.encode(w, http.StatusOK, ps)
	return nil
}

func (h *printerAPI) printer(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	ps, err := visiblePrinters(r, h.printers, p)
	if err != nil {
		return err
	}
	id := fleet.PrinterID(r.PathValue("id"))
	for _, v := range ps {
		if v.ID == id {
			h.encode(w, http.StatusOK, v)
			return nil
		}
	}
	return fleet.ErrNotFound
}

// siteJSON is the body of POST /api/v1/printers/{id}/site.
type siteJSON struct {
	SiteID fleet.SiteID `json:"site_id"`
}

// movePrinter moves a printer to another site of the organisation. Records
// never move a printer (a gateway of one site could otherwise pull another
// site's printer, and its history, into its own), so this is an
// administrator's act, and it concerns both sites: an administrator
// limited to some sites must hold both.
func (h *printerAPI) movePrinter(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	var in siteJSON
	if err := decode(r.Body, &in); err != nil {
		return err
	}
	if in.SiteID == "" {
		return badRequest("site_id is required.")
	}
	det, err := visiblePrinter(r, h.printers, p)
	if err != nil {
		return err
	}
	if err := p.CanActOn(in.SiteID); err != nil {
		return err
	}
	err = h.sites.MovePrinter(r.Context(), p.Org, det.View.ID, det.View.SiteID, in.SiteID)
	if errors.Is(err, fleet.ErrNotFound) {
		// The printer was found: what is not is the site.
		return badRequest("site_id is not a site of the organisation.")
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *userAPI) users(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	ms, err := h.members.Members(r.Context(), p.Org)
	if err != nil {
		return err
	}
	out := make([]userJSON, 0, len(ms))
	for _, m := range ms {
		out = append(out, newUserJSON(m))
	}
	h.encode(w, http.StatusOK, out)
	return nil
}

func (h *userAPI) user(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	m, err := h.members.Member(r.Context(), p.Org, fleet.UserID(r.PathValue("id")))
	if err != nil {
		return err
	}
	h.encode(w, http.StatusOK, newUserJSON(m))
	return nil
}

// accessRequest is the role and sites of a user, as the caller asks.
type accessRequest struct {
	Role  string          `json:"role"`
	Sites *[]fleet.SiteID `json:"sites"`
}

// parse checks the request against what p may give.
func (a accessRequest) parse(p access.Principal) (fleet.Role, access.SiteSet, error) {
	role, err := fleet.ParseRole(a.Role)
	if err != nil {
		return 0, access.SiteSet{}, badRequest(`"role" must be "admin", "operator" or "viewer".`)
	}
	sites := siteSet(a.Sites)
	if err := p.CanAssign(role, sites); err != nil {
		return 0, access.SiteSet{}, err
	}
	return role, sites, nil
}

type createUserRequest struct {
	Name string `json:"name"`
	accessRequest
}

type createdUserJSON struct {
	User     userJSON `json:"user"`
	Password string   `json:"password"`
}

// validName checks a user or token name.
func validName(field, name string) error {
	if strings.TrimSpace(name) == "" || len(name) > maxNameLen || !utf8.ValidString(name) {
		return badRequest(`"` + field + `" must be 1 to 128 bytes of text.`)
	}
	for _, c := range name {
		if c < ' ' || c == 0x7f {
			return badRequest(`"` + field + `" must not contain control characters.`)
		}
	}
	return nil
}

// createUser creates a user with a generated first password, shown once.
func (h *userAPI) createUser(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	var req createUserRequest
	if err := decode(r.Body, &req); err != nil {
		return err
	}
	if err := validName("name", req.Name); err != nil {
		return err
	}
	role, sites, err := req.parse(p)
	if err != nil {
		return err
	}
	password, err := identity.GeneratePassword()
	if err != nil {
		return err
	}
	hash, err := identity.HashPassword(password)
	if err != nil {
		return err
	}
	id, err := h.members.CreateMember(r.Context(), p.Org, req.Name, hash, role, sites)
	if err != nil {
		return err
	}
	m, err := h.members.Member(r.Context(), p.Org, id)
	if err != nil {
		return err
	}
	h.log.Info("user created", "user", id, "by", p.User.ID)
	h.encode(w, http.StatusCreated, createdUserJSON{User: newUserJSON(m), Password: password})
	return nil
}

// managed loads the user named in the path, if p may manage them.
func (h *userAPI) managed(r *http.Request, p access.Principal) (access.Member, error) {
	m, err := h.members.Member(r.Context(), p.Org, fleet.UserID(r.PathValue("id")))
	if err != nil {
		return access.Member{}, err
	}
	if err := p.CanManage(m); err != nil {
		return access.Member{}, err
	}
	return m, nil
}

func (h *userAPI) updateUser(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	m, err := h.managed(r, p)
	if err != nil {
		return err
	}
	var req accessRequest
	if err := decode(r.Body, &req); err != nil {
		return err
	}
	role, sites, err := req.parse(p)
	if err != nil {
		return err
	}
	if err := h.members.SetMember(r.Context(), p.Org, m.ID, role, sites); err != nil {
		return err
	}
	if m, err = h.members.Member(r.Context(), p.Org, m.ID); err != nil {
		return err
	}
	h.encode(w, http.StatusOK, newUserJSON(m))
	return nil
}

func (h *userAPI) deleteUser(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	m, err := h.managed(r, p)
	if err != nil {
		return err
	}
	if m.ID == p.User.ID {
		return badRequest("You cannot remove yourself.")
	}
	if err := h.members.DeleteMember(r.Context(), p.Org, m.ID); err != nil {
		return err
	}
	h.log.Info("user removed", "user", m.ID, "by", p.User.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// resetPassword gives a user a generated one-time password, answered
// once, that the user must replace at the next login in the dashboard; all
// the user's sessions and pending logins end, and the user's API tokens are
// revoked. As for every change to a user, the caller must be able to
// manage them (an admin limited to some sites: only users within those). The caller's own password is refused:
// changing it takes the current one, in the dashboard; a token that could
// reset its owner's password would turn a stolen token into the account.
func (h *userAPI) resetPassword(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	m, err := h.managed(r, p)
	if err != nil {
		return err
	}
	if m.ID == p.User.ID {
		return badRequest("You cannot reset your own password: change it in the dashboard, with the current one.")
	}
	password, err := identity.GeneratePassword()
	if err != nil {
		return err
	}
	hash, err := identity.HashPassword(password)
	if err != nil {
		return err
	}
	if err := h.passwords.ResetPassword(r.Context(), p.Org, m.ID, hash, h.clock.Now()); err != nil {
		return err
	}
	if m, err = h.members.Member(r.Context(), p.Org, m.ID); err != nil {
		return err
	}
	h.log.Info("password reset", "user", m.ID, "by", p.User.ID)
	h.encode(w, http.StatusOK, createdUserJSON{User: newUserJSON(m), Password: password})
	return nil
}

type tokenJSON struct {
	ID      access.TokenID `json:"id"`
	Name    string         `json:"name"`
	UserID  fleet.UserID   `json:"user_id"`
	Scope   string         `json:"scope"`
	Sites   []fleet.SiteID `json:"sites"`
	Created time.Time      `json:"created_at"`
	Expires time.Time      `json:"expires_at"`
	Revoked time.Time      `json:"revoked_at,omitzero"`
}

func newTokenJSON(t access.Token) tokenJSON {
	return tokenJSON{ID: t.ID, Name: t.Name, UserID: t.UserID, Scope: t.Scope.String(), Sites: siteList(t.Sites),
		Created: t.Created, Expires: t.Expires, Revoked: t.Revoked}
}

// listTokens lists the caller's own tokens, or all of the organisation's for
// an admin.
func (h *tokenAPI) listTokens(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	owner := p.User.ID
	if p.Role == fleet.RoleAdmin {
		owner = ""
	}
	toks, err := h.tokens.APITokens(r.Context(), p.Org, owner)
	if err != nil {
		return err
	}
	out := make([]tokenJSON, 0, len(toks))
	for _, t := range toks {
		if p.CanSeeToken(t) {
			out = append(out, newTokenJSON(t))
		}
	}
	h.encode(w, http.StatusOK, out)
	return nil
}

// createToken answers every bearer token with access.ErrSessionRequired:
// tokens cannot create tokens (access.Principal.NewToken says why), and
// the API knows no other caller. The route's requirement refuses first;
// this keeps the refusal if the requirement were ever loosened.
func (h *tokenAPI) createToken(http.ResponseWriter, *http.Request, access.Principal) error {
	return access.ErrSessionRequired
}

// revokeToken revokes one of the caller's tokens, or any of the
// organisation's for an admin.
func (h *tokenAPI) revokeToken(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	tok, err := h.tokens.APIToken(r.Context(), p.Org, access.TokenID(r.PathValue("id")))
	if err != nil {
		return err
	}
	if !p.CanSeeToken(tok) {
		return fleet.ErrNotFound // another member's token is none of the caller's business
	}
	if err := h.tokens.RevokeAPIToken(r.Context(), p.Org, tok.ID, h.clock.Now()); err != nil {
		return err
	}
	h.log.Info("api token revoked", "token", tok.ID, "by", p.User.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type enrolmentRequest struct {
	SiteID fleet.SiteID `json:"site_id"`
}

type enrolmentJSON struct {
	SiteID  fleet.SiteID `json:"site_id"`
	Token   string       `json:"token"`
	Expires time.Time    `json:"expires_at"`
}

// createEnrolmentToken issues a one-time gateway enrolment token for a site
// the caller may see, shown once.
func (h *siteAPI) createEnrolmentToken(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	var req enrolmentRequest
	if err := decode(r.Body, &req); err != nil {
		return err
	}
	sites, err := h.sites.Sites(r.Context(), p.Org)
	if err != nil {
		return err
	}
	found := false
	for _, s := range p.FilterSites(sites) {
		found = found || s.ID == req.SiteID
	}
	if !found || req.SiteID == "" {
		return badRequest(`"site_id" must name one of your sites.`)
	}
	token, err := identity.NewToken()
	if err != nil {
		return err
	}
	expires := h.clock.Now().UTC().Add(enrolmentTTL)
	if err := h.sites.CreateEnrolmentToken(r.Context(), req.SiteID, identity.HashToken(token), expires); err != nil {
		return err
	}
	h.log.Info("enrolment token issued", "site", req.SiteID, "by", p.User.ID)
	h.encode(w, http.StatusCreated, enrolmentJSON{SiteID: req.SiteID, Token: token, Expires: expires})
	return nil
}
