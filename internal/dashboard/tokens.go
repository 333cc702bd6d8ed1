package dashboard

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/identity"
)

// tokenPages are the API tokens page and its forms: tokens, their
// owners' names, and the sites they may be limited to.
type tokenPages struct {
	*handler
	tokens  access.Tokens
	members access.Members
	sites   access.Sites
}

const (
	defaultTokenDays = 90
	maxTokenDays     = 365
)

// tokenRow is one API token on the tokens page.
type tokenRow struct {
	access.Token
	Owner     string
	Mine      bool
	Expired   bool
	SiteNames []string
}

// tokensData fills the tokens page.
type tokensData struct {
	Tokens  []tokenRow
	Sites   []fleet.Site
	Message string
	Secret  string // a token just created, shown once
	Name    string
}

// tokensPage lists the user's API tokens (an admin's: the organisation's)
// with a form to create one.
func (h *tokenPages) tokensPage(w http.ResponseWriter, r *http.Request, s session) {
	h.showTokens(w, r, s, http.StatusOK, tokensData{})
}

func (h *tokenPages) showTokens(w http.ResponseWriter, r *http.Request, s session, status int, d tokensData) {
	owner := s.user.ID
	if s.p.Role == fleet.RoleAdmin {
		owner = ""
	}
	toks, err := h.tokens.APITokens(r.Context(), s.p.Org, owner)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	names := map[fleet.UserID]string{s.user.ID: s.user.Name}
	if owner == "" {
		ms, err := h.members.Members(r.Context(), s.p.Org)
		if err != nil {
			h.internalError(w, r, err)
			return
		}
		for _, m := range ms {
			names[m.ID] = m.Name
		}
	}
	all, err := h.sites.Sites(r.Context(), s.p.Org)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	now := h.clock.Now()
	for _, t := range toks {
		if !s.p.CanSeeToken(t) {
			continue
		}
		row := tokenRow{Token: t, Owner: names[t.UserID], Mine: t.UserID == s.user.ID, Expired: !now.Before(t.Expires)}
		for _, st := range all {
			if t.Sites.Limited() && t.Sites.Allows(st.ID) {
				row.SiteNames = append(row.SiteNames, st.Name)
			}
		}
		d.Tokens = append(d.Tokens, row)
	}
	d.Sites = s.p.FilterSites(all)
	h.render(w, r, status, "tokens.html", page{Title: "API tokens", User: &s.user, CSRF: s.csrf, Data: d})
}

// createToken creates an API token for the user and shows it once.
func (h *tokenPages) createToken(w http.ResponseWriter, r *http.Request, s session) {
	again := func(status int, msg string) { h.showTokens(w, r, s, status, tokensData{Message: msg}) }
	name := strings.TrimSpace(r.PostFormValue("name"))
	secret, err := func() (string, error) {
		if err := checkName(tokenName, name); err != nil {
			return "", err
		}
		scope, err := access.ParseScope(r.PostFormValue("scope"))
		if err != nil {
			return "", badForm("Please pick read or read-write.")
		}
		days := defaultTokenDays
		if v := strings.TrimSpace(r.PostFormValue("days")); v != "" {
			if days, err = strconv.Atoi(v); err != nil || days < 1 || days > maxTokenDays {
				return "", badForm("The token must expire in 1 to 365 days.")
			}
		}
		visible, err := visibleSites(r, h.sites, s.p)
		if err != nil {
			return "", err
		}
		sites, err := formSites(r, visible, s.p.Sites)
		if err != nil {
			return "", err
		}
		now := h.clock.Now().UTC()
		tok, err := s.p.NewToken(name, scope, sites, now, now.Add(time.Duration(days)*24*time.Hour))
		if err != nil {
			return "", err
		}
		secret, err := identity.NewAPIToken()
		if err != nil {
			return "", err
		}
		id, err := h.tokens.CreateAPIToken(r.Context(), tok, identity.HashToken(secret))
		if err != nil {
			return "", err
		}
		h.log.Info("api token created", "token", id, "by", s.user.ID)
		return secret, nil
	}()
	if err != nil {
		h.formFailed(w, r, s, err, again)
		return
	}
	h.showTokens(w, r, s, http.StatusOK, tokensData{Secret: secret, Name: name})
}

// revokeToken revokes one of the user's tokens, or for an admin any of the
// organisation's.
func (h *tokenPages) revokeToken(w http.ResponseWriter, r *http.Request, s session) {
	again := func(status int, msg string) { h.showTokens(w, r, s, status, tokensData{Message: msg}) }
	err := func() error {
		tok, err := h.tokens.APIToken(r.Context(), s.p.Org, access.TokenID(r.PathValue("id")))
		if err != nil {
			return err
		}
		if !s.p.CanSeeToken(tok) {
			return fleet.ErrNotFound
		}
		if err := h.tokens.RevokeAPIToken(r.Context(), s.p.Org, tok.ID, h.clock.Now()); err != nil {
			return err
		}
		h.log.Info("api token revoked", "token", tok.ID, "by", s.user.ID)
		return nil
	}()
	if err != nil {
		h.formFailed(w, r, s, err, again)
		return
	}
	http.Redirect(w, r, "/tokens", http.StatusSeeOther)
}
