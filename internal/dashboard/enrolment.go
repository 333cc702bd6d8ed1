package dashboard

import (
	"net/http"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/identity"
)

// enrolmentData fills the enrolment pages.
type enrolmentData struct {
	Sites   []fleet.Site
	Site    fleet.Site
	Token   string
	Expires time.Time
}

// enrolmentPage lets an admin pick a site to enrol a Command Center for.
func (h *sitePages) enrolmentPage(w http.ResponseWriter, r *http.Request, s session) {
	sites, err := visibleSites(r, h.sites, s.p)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	d := enrolmentData{Sites: sites}
	for _, st := range sites {
		if string(st.ID) == r.URL.Query().Get("site") {
			d.Site = st // preselected, as linked from the sites page
		}
	}
	h.render(w, r, http.StatusOK, "enrolment.html", page{Title: "Enrol a Command Center", User: &s.user, CSRF: s.csrf, Data: d})
}

// createEnrolment issues a one-time enrolment token for a site of the
// admin's own organisation, valid for 24 hours, and shows it once: only its
// hash is stored.
func (h *sitePages) createEnrolment(w http.ResponseWriter, r *http.Request, s session) {
	sites, err := visibleSites(r, h.sites, s.p)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	want := fleet.SiteID(r.PostFormValue("site"))
	var site fleet.Site
	for _, st := range sites {
		if st.ID == want {
			site = st
		}
	}
	if site.ID == "" {
		h.writeError(w, r, http.StatusBadRequest, "Please pick one of your sites.")
		return
	}
	token, err := identity.NewToken()
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	expires := h.clock.Now().Add(enrolmentTTL)
	if err := h.sites.CreateEnrolmentToken(r.Context(), site.ID, identity.HashToken(token), expires); err != nil {
		h.internalError(w, r, err)
		return
	}
	h.log.Info("enrolment token issued", "site", site.ID, "user", s.user.ID)
	h.render(w, r, http.StatusOK, "enrolment_token.html", page{Title: "Enrolment token", User: &s.user, CSRF: s.csrf,
		Data: enrolmentData{Site: site, Token: token, Expires: expires}})
}
