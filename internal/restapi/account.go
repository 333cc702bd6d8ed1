package restapi

import (
	"net/http"
	"strings"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/i18n"
)

// prefsJSON is a user's display preferences on the wire: "" means the
// browser's language, and UTC.
type prefsJSON struct {
	Lang     string `json:"lang"`
	TimeZone string `json:"time_zone"`
}

// prefsRequest changes the fields it has and keeps the others.
type prefsRequest struct {
	Lang     *string `json:"lang"`
	TimeZone *string `json:"time_zone"`
}

// account answers the caller's (the token owner's) display preferences.
func (h *accountAPI) account(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	m, err := h.members.Member(r.Context(), p.Org, p.User.ID)
	if err != nil {
		return err
	}
	h.encode(w, http.StatusOK, prefsJSON{Lang: m.Prefs.Lang, TimeZone: m.Prefs.TimeZone})
	return nil
}

// setAccount changes the caller's display preferences.
func (h *accountAPI) setAccount(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	var req prefsRequest
	if err := decode(r.Body, &req); err != nil {
		return err
	}
	m, err := h.members.Member(r.Context(), p.Org, p.User.ID)
	if err != nil {
		return err
	}
	prefs := m.Prefs
	if req.Lang != nil {
		prefs.Lang = *req.Lang
	}
	if req.TimeZone != nil {
		prefs.TimeZone = strings.TrimSpace(*req.TimeZone)
	}
	if l, ok := i18n.Parse(prefs.Lang); prefs.Lang != "" && (!ok || string(l) != prefs.Lang) {
		return badRequest(`"lang" must be "", "en" or "de".`)
	}
	if _, err := prefs.Location(); err != nil {
		return badRequest(`"time_zone" must be "" or an IANA time zone name such as "Europe/Berlin".`)
	}
	if err := h.members.SetPrefs(r.Context(), p.Org, p.User.ID, prefs); err != nil {
		return err
	}
	h.encode(w, http.StatusOK, prefsJSON{Lang: prefs.Lang, TimeZone: prefs.TimeZone})
	return nil
}

// changePassword is refused to every API token (the route is for a
// logged-in user only, and the API knows no sessions): a stolen token must
// not become the account. Users change their password in the dashboard,
// with the current one.
func (h *accountAPI) changePassword(http.ResponseWriter, *http.Request, access.Principal) error {
	return access.ErrSessionRequired
}

type siteRequest struct {
	Name string `json:"name"`
}

// createSite adds a site to the caller's organisation. Only an admin for
// all sites may; a name the organisation has already is a conflict.
func (h *siteAPI) createSite(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	var req siteRequest
	if err := decode(r.Body, &req); err != nil {
		return err
	}
	if p.Sites.Limited() {
		return access.ErrForbidden
	}
	req.Name = strings.TrimSpace(req.Name)
	if err := validName("name", req.Name); err != nil {
		return err
	}
	sites, err := h.sites.Sites(r.Context(), p.Org)
	if err != nil {
		return err
	}
	for _, s := range sites {
		if strings.EqualFold(s.Name, req.Name) {
			return fleet.ErrConflict
		}
	}
	id, err := h.sites.CreateSite(r.Context(), p.Org, req.Name)
	if err != nil {
		return err
	}
	h.log.Info("site created", "site", id, "by", p.User.ID)
	h.encode(w, http.StatusCreated, fleet.Site{ID: id, OrgID: p.Org, Name: req.Name})
	return nil
}
