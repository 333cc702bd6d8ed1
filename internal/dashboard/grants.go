package dashboard

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/audit"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/grant"
)

// grantPages are a customer's page of grants to service providers (give,
// list, revoke) and a provider's page of customers (the grants it
// received, and choosing the customer to act for).
type grantPages struct {
	*handler
	grants access.Grants
	lookup access.GrantLookup
	orgs   access.Orgs
	sites  access.Sites
	audit  audit.Recorder
}

// The window a grant form offers by default, and the form's time format
// (an <input type="datetime-local"> in the reader's time zone).
const (
	defaultGrantDays = 7
	grantFormTime    = "2006-01-02T15:04"
)

// grantRow is one grant on either page.
type grantRow struct {
	access.Grant
	Customer, Provider string   // organisation names
	SiteNames          []string // empty for all sites
	State              string   // access.Grant.State
}

// StateLabel is the state as the pages say it (translated by them).
func (g grantRow) StateLabel() string {
	if g.State == "live" {
		return "active now"
	}
	return g.State
}

// grantsData fills the customer's grants page.
type grantsData struct {
	Grants      []grantRow
	Sites       []fleet.Site // the sites the admin may grant
	AllSites    bool         // the admin is for all sites: no box checked grants all
	Scopes      []string
	Starts, End string // the form's defaults
	Message     string
	Created     string // the ID of a grant just given
}

// customersData fills the provider's customers page.
type customersData struct {
	Grants   []grantRow
	Provider bool   // the user's organisation is a service provider
	OrgID    string // the ID customers grant to
	Acting   string // the grant chosen now, if any
}

// row describes g with the names of its organisations and sites; sites
// are named only from the customer's list, which the caller passes when
// it may read it.
func (h *grantPages) row(ctx context.Context, g access.Grant, sites []fleet.Site) (grantRow, error) {
	row := grantRow{Grant: g, State: g.State(h.authClock.Now())}
	for _, o := range []struct {
		id   fleet.OrgID
		name *string
	}{{g.Customer, &row.Customer}, {g.Provider, &row.Provider}} {
		org, err := h.orgs.Org(ctx, o.id)
		if err != nil {
			return grantRow{}, err
		}
		*o.name = org.Name
	}
	for _, s := range sites {
		if g.Sites.Limited() && g.Sites.Allows(s.ID) {
			row.SiteNames = append(row.SiteNames, s.Name)
		}
	}
	if g.Sites.Limited() && len(row.SiteNames) == 0 {
		for _, id := range g.Sites.IDs() {
			row.SiteNames = append(row.SiteNames, string(id))
		}
	}
	return row, nil
}

// grantsPage lists the grants the admin administers, with the form to
// give one.
func (h *grantPages) grantsPage(w http.ResponseWriter, r *http.Request, s session) {
	h.showGrants(w, r, s, http.StatusOK, grantsData{})
}

func (h *grantPages) showGrants(w http.ResponseWriter, r *http.Request, s session, status int, d grantsData) {
	ctx := r.Context()
	gs, err := grant.Visible(ctx, h.grants, s.p)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	all, err := h.sites.Sites(ctx, s.p.Org)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	for _, g := range gs {
		row, err := h.row(ctx, g, all)
		if err != nil {
			h.internalError(w, r, err)
			return
		}
		d.Grants = append(d.Grants, row)
	}
	d.Sites, d.AllSites = s.p.FilterSites(all), !s.p.Sites.Limited()
	_, zone := h.locale(r)
	now := h.authClock.Now().In(zone)
	d.Starts, d.End = now.Format(grantFormTime), now.Add(defaultGrantDays*24*time.Hour).Format(grantFormTime)
	d.Scopes = access.AllGrantScopes.Names()
	h.render(w, r, status, "grants.html", page{Title: "Service access", User: &s.user, CSRF: s.csrf, Data: d})
}

// createGrant gives a service provider a grant from the form.
func (h *grantPages) createGrant(w http.ResponseWriter, r *http.Request, s session) {
	again := func(status int, msg string) { h.showGrants(w, r, s, status, grantsData{Message: msg}) }
	g, err := func() (access.Grant, error) {
		provider := fleet.OrgID(strings.TrimSpace(r.PostFormValue("provider")))
		if provider == "" || len(provider) > 64 {
			return access.Grant{}, badForm("Please enter the service provider's organisation ID.")
		}
		scopes, err := access.ParseGrantScopes(r.PostForm["scope"])
		if err != nil || scopes == 0 {
			return access.Grant{}, badForm("Please pick at least one kind of access.")
		}
		_, zone := h.locale(r)
		starts, err1 := time.ParseInLocation(grantFormTime, r.PostFormValue("starts"), zone)
		ends, err2 := time.ParseInLocation(grantFormTime, r.PostFormValue("expires"), zone)
		if err1 != nil || err2 != nil {
			return access.Grant{}, badForm("Please give the start and the end as a date and a time.")
		}
		visible, err := visibleSites(r, h.sites, s.p)
		if err != nil {
			return access.Grant{}, err
		}
		sites, err := formSites(r, visible, s.p.Sites)
		if err != nil {
			return access.Grant{}, err
		}
		// A start in the past, as the form's default "now" is by the time
		// it is sent, starts the grant at once.
		g, err := s.p.NewGrant(provider, sites, scopes, starts, ends, h.authClock.Now())
		if errors.Is(err, access.ErrBadGrant) {
			return access.Grant{}, badForm("The access must end in the future, after it starts, at most 366 days later, and go to another organisation.")
		}
		if err != nil {
			return access.Grant{}, err
		}
		g, err = grant.Give(r.Context(), h.grants, h.audit, s.p, g)
		if errors.Is(err, fleet.ErrNotFound) {
			return access.Grant{}, &formError{http.StatusBadRequest, "No service provider has this organisation ID."}
		}
		return g, err
	}()
	if err != nil {
		h.formFailed(w, r, s, err, again)
		return
	}
	h.log.Info("grant given", "grant", g.ID, "provider", g.Provider, "by", s.user.ID)
	h.showGrants(w, r, s, http.StatusOK, grantsData{Created: g.ID})
}

// revokeGrant revokes a grant at once.
func (h *grantPages) revokeGrant(w http.ResponseWriter, r *http.Request, s session) {
	again := func(status int, msg string) { h.showGrants(w, r, s, status, grantsData{Message: msg}) }
	id := r.PathValue("id")
	if err := grant.Revoke(r.Context(), h.grants, h.audit, s.p, id, h.authClock.Now()); err != nil {
		h.formFailed(w, r, s, err, again)
		return
	}
	h.log.Info("grant revoked", "grant", id, "by", s.user.ID)
	http.Redirect(w, r, "/admin/grants", http.StatusSeeOther)
}

// customersPage lists the grants customers gave the user's organisation,
// with a button to act for the customer under each live one.
func (h *grantPages) customersPage(w http.ResponseWriter, r *http.Request, s session) {
	ctx := r.Context()
	org, err := h.orgs.Org(ctx, s.user.OrgID)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	d := customersData{Provider: org.Kind == access.OrgServiceProvider, OrgID: string(org.ID)}
	if c, err := r.Cookie(h.grantCookie()); err == nil {
		d.Acting = c.Value
	}
	gs, err := h.lookup.GrantsTo(ctx, s.user.OrgID)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	for _, g := range gs {
		row, err := h.row(ctx, g, nil)
		if err != nil {
			h.internalError(w, r, err)
			return
		}
		d.Grants = append(d.Grants, row)
	}
	// Live grants first, then by customer.
	slices.SortStableFunc(d.Grants, func(a, b grantRow) int {
		if (a.State == "live") != (b.State == "live") {
			if a.State == "live" {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Customer, b.Customer)
	})
	h.render(w, r, http.StatusOK, "customers.html", page{Title: "Customers", User: &s.user, CSRF: s.csrf, Data: d})
}

// openCustomer chooses the customer whose data the user acts on, under
// grant id: kept in a cookie, and checked, like the session, on every
// request (authorize).
func (h *grantPages) openCustomer(w http.ResponseWriter, r *http.Request, s session) {
	id := r.PathValue("id")
	if _, err := grant.Act(r.Context(), h.lookup, s.p, id, h.authClock.Now()); err != nil {
		if errors.Is(err, access.ErrForbidden) {
			h.writeError(w, r, http.StatusNotFound, "No such access to a customer, or it is not live.")
			return
		}
		h.internalError(w, r, err)
		return
	}
	h.setCookie(w, h.grantCookie(), id, 0)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// leaveCustomer ends acting for a customer.
func (h *grantPages) leaveCustomer(w http.ResponseWriter, r *http.Request, s session) {
	h.setCookie(w, h.grantCookie(), "", -1)
	http.Redirect(w, r, "/customers", http.StatusSeeOther)
}

// grantCookie names the cookie that holds the grant a provider's user
// acts under (see authorize).
func (h *handler) grantCookie() string {
	if h.secure {
		return "__Host-ff_grant"
	}
	return "ff_grant"
}

// homeRoutes are the routes a provider's user uses as itself even while
// acting for a customer: choosing or leaving the customer, the account,
// logging out. Every other route acts under the chosen grant, and only
// the routes whose requirement names a scope the grant holds are open.
var homeRoutes = map[string]bool{
	"GET /customers":             true,
	"POST /customers/{id}/open":  true,
	"POST /customers/leave":      true,
	"POST /logout":               true,
	"GET /account":               true,
	"POST /account":              true,
	"POST /account/password":     true,
	"POST /api/account/password": true,
}

// errGrantEnded is a chosen grant that no longer admits the user:
// revoked, expired, or never the user's organisation's.
var errGrantEnded = errors.New("the chosen grant does not admit the user")

// actUnderGrant turns the session's principal into the one under the
// grant the user chose, unless the route is one of homeRoutes. The grant
// is read from the store on every request, so that revocation and expiry
// take effect at once on every node. A grant that no longer admits the
// user is errGrantEnded; the choice is then forgotten, so that the next
// request acts as the user again.
func (h *ui) actUnderGrant(w http.ResponseWriter, r *http.Request, pattern string, s session) (*http.Request, session, error) {
	c, err := r.Cookie(h.grantCookie())
	if err != nil || c.Value == "" || homeRoutes[pattern] {
		return r, s, nil
	}
	p, err := grant.Act(r.Context(), h.grantLookup, s.p, c.Value, h.authClock.Now())
	if errors.Is(err, access.ErrForbidden) {
		h.setCookie(w, h.grantCookie(), "", -1)
		return r, s, errGrantEnded
	}
	if err != nil {
		return r, s, err
	}
	org, err := h.orgs.Org(r.Context(), p.Org)
	if err != nil {
		return r, s, err
	}
	s.p = p
	return r.WithContext(context.WithValue(r.Context(), actingKey{}, org.Name)), s, nil
}

// actingKey keys the name of the customer a request acts for.
type actingKey struct{}

// actingFor is the name of the customer the request acts for, or "".
func actingFor(r *http.Request) string {
	name, _ := r.Context().Value(actingKey{}).(string)
	return name
}
