package dashboard

import (
	"net/http"
	"strings"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
)

// sitePages are the sites and enrolment pages: sites and enrolment
// tokens, and the printers counted per site.
type sitePages struct {
	*handler
	sites    access.Sites
	printers fleetquery.PrinterReader
}

// siteRow is one site on the sites page.
type siteRow struct {
	fleet.Site
	Printers int
}

// sitesData fills the sites page.
type sitesData struct {
	Sites     []siteRow
	CanCreate bool   // an admin for all sites
	Created   string // the name of a site just created
	Message   string
	Name      string // the name sent, when it was refused
}

// sitesPage lists the organisation's sites an admin may see, each with a
// link to enrol its Command Center, and a form to add one.
func (h *sitePages) sitesPage(w http.ResponseWriter, r *http.Request, s session) {
	d := sitesData{}
	if id := fleet.SiteID(r.URL.Query().Get("created")); id != "" {
		sites, err := visibleSites(r, h.sites, s.p)
		if err != nil {
			h.internalError(w, r, err)
			return
		}
		for _, st := range sites {
			if st.ID == id {
				d.Created = st.Name
			}
		}
	}
	h.showSites(w, r, s, http.StatusOK, d)
}

func (h *sitePages) showSites(w http.ResponseWriter, r *http.Request, s session, status int, d sitesData) {
	sites, err := visibleSites(r, h.sites, s.p)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	views, err := h.printers.Printers(r.Context(), s.p.Org)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	count := map[fleet.SiteID]int{}
	for _, v := range s.p.FilterPrinters(views) {
		count[v.SiteID]++
	}
	for _, st := range sites {
		d.Sites = append(d.Sites, siteRow{Site: st, Printers: count[st.ID]})
	}
	d.CanCreate = !s.p.Sites.Limited()
	h.render(w, r, status, "sites.html", page{Title: "Sites", User: &s.user, CSRF: s.csrf, Data: d})
}

// createSite adds a site to the organisation. Only an admin for all sites
// may: a site-limited admin could not see the site they made.
func (h *sitePages) createSite(w http.ResponseWriter, r *http.Request, s session) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	id, err := h.newSite(r, s, name)
	if err != nil {
		h.formFailed(w, r, s, err, func(status int, msg string) {
			h.showSites(w, r, s, status, sitesData{Message: msg, Name: name})
		})
		return
	}
	http.Redirect(w, r, "/admin/sites?created="+string(id), http.StatusSeeOther)
}

func (h *sitePages) newSite(r *http.Request, s session, name string) (fleet.SiteID, error) {
	if s.p.Sites.Limited() {
		return "", &formError{http.StatusForbidden, "Only administrators for all sites may add sites."}
	}
	if err := checkName(siteName, name); err != nil {
		return "", err
	}
	sites, err := h.sites.Sites(r.Context(), s.p.Org)
	if err != nil {
		return "", err
	}
	for _, st := range sites {
		if strings.EqualFold(st.Name, name) {
			return "", &formError{http.StatusConflict, "Your organisation has a site of that name already."}
		}
	}
	id, err := h.sites.CreateSite(r.Context(), s.p.Org, name)
	if err != nil {
		return "", err
	}
	h.log.Info("site created", "site", id, "by", s.user.ID)
	return id, nil
}
