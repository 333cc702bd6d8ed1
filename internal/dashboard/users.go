package dashboard

import (
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/identity"
)

// userPages are the users page and its forms: members, and the sites
// they may be limited to.
type userPages struct {
	*handler
	members   access.Members
	sites     access.Sites
	passwords Passwords
}

// formError is a message about a form, meant for the person who sent it.
type formError struct {
	status int
	msg    string
}

func (e *formError) Error() string { return e.msg }

func badForm(msg string) error { return &formError{http.StatusBadRequest, msg} }

// formStatus maps an error of a form handler to a status and a message
// (English: the page translates it): a formError says its own; the
// store's and access's sentinels get fixed words, never the store's text
// (it names IDs).
func formStatus(err error) (int, string, bool) {
	var fe *formError
	switch {
	case errors.As(err, &fe):
	case errors.Is(err, access.ErrForbidden):
		fe = &formError{http.StatusForbidden, "You cannot give more rights or sites than you have yourself."}
	case errors.Is(err, fleet.ErrConflict):
		fe = &formError{http.StatusConflict, "That is taken, or would leave the organisation without an administrator for all sites."}
	case errors.Is(err, fleet.ErrNotFound):
		fe = &formError{http.StatusNotFound, "No such user, site or token in your organisation."}
	default:
		return 0, "", false
	}
	return fe.status, fe.msg, true
}

// nameKind is what a checked name names; its messages are whole sentences
// so that each translates on its own.
type nameKind struct {
	empty, long, control string
}

var (
	userName  = nameKind{"Please enter a user name.", "The user name is too long (at most 128 characters).", "The user name must not contain control characters."}
	tokenName = nameKind{"Please enter a token name.", "The token name is too long (at most 128 characters).", "The token name must not contain control characters."}
	siteName  = nameKind{"Please enter a site name.", "The site name is too long (at most 128 characters).", "The site name must not contain control characters."}
)

// checkName validates a user, token or site name from a form.
func checkName(kind nameKind, name string) error {
	if strings.TrimSpace(name) == "" {
		return badForm(kind.empty)
	}
	if len(name) > maxNameLen || !utf8.ValidString(name) {
		return badForm(kind.long)
	}
	for _, c := range name {
		if c < ' ' || c == 0x7f {
			return badForm(kind.control)
		}
	}
	return nil
}

// visibleSites are the sites of the organisation the principal may see.
func visibleSites(r *http.Request, st access.Sites, p access.Principal) ([]fleet.Site, error) {
	sites, err := st.Sites(r.Context(), p.Org)
	if err != nil {
		return nil, err
	}
	return p.FilterSites(sites), nil
}

// formSites reads the checked "site" boxes: none checked is def; every
// checked one must be a site the principal may see.
func formSites(r *http.Request, visible []fleet.Site, def access.SiteSet) (access.SiteSet, error) {
	picked := r.PostForm["site"]
	if len(picked) == 0 {
		return def, nil
	}
	var ids []fleet.SiteID
	for _, id := range picked {
		ok := false
		for _, s := range visible {
			ok = ok || string(s.ID) == id
		}
		if !ok {
			return access.SiteSet{}, badForm("Please pick sites from the list.")
		}
		ids = append(ids, fleet.SiteID(id))
	}
	return access.OnlySites(ids...), nil
}

func formRole(r *http.Request) (fleet.Role, error) {
	role, err := fleet.ParseRole(r.PostFormValue("role"))
	if err != nil {
		return 0, badForm("Please pick a role: admin, operator or viewer.")
	}
	return role, nil
}

// userRow is one user on the users page.
type userRow struct {
	access.Member
	SiteNames []string // empty for all sites
	Self      bool
}

// usersData fills the users page.
type usersData struct {
	Users    []userRow
	Sites    []fleet.Site
	Roles    []string
	Message  string
	Created  string // the name of a user just created
	Reset    string // the name of a user whose password was just reset
	Password string // the created or reset user's password, shown once
}

// usersPage lists the organisation's users with forms to add, change and
// remove them.
func (h *userPages) usersPage(w http.ResponseWriter, r *http.Request, s session) {
	h.showUsers(w, r, s, http.StatusOK, usersData{})
}

func (h *userPages) showUsers(w http.ResponseWriter, r *http.Request, s session, status int, d usersData) {
	ms, err := h.members.Members(r.Context(), s.p.Org)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	if d.Sites, err = visibleSites(r, h.sites, s.p); err != nil {
		h.internalError(w, r, err)
		return
	}
	all, err := h.sites.Sites(r.Context(), s.p.Org)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	for _, m := range ms {
		row := userRow{Member: m, Self: m.ID == s.user.ID}
		for _, st := range all {
			if m.Sites.Limited() && m.Sites.Allows(st.ID) {
				row.SiteNames = append(row.SiteNames, st.Name)
			}
		}
		d.Users = append(d.Users, row)
	}
	d.Roles = []string{"viewer", "operator", "admin"}
	h.render(w, r, status, "users.html", page{Title: "Users", User: &s.user, CSRF: s.csrf, Data: d})
}

// formFailed answers a form handler's error: the page again with the
// message for expected errors, a 500 otherwise.
func (h *handler) formFailed(w http.ResponseWriter, r *http.Request, s session, err error, again func(status int, msg string)) {
	if status, msg, ok := formStatus(err); ok {
		again(status, msg)
		return
	}
	h.internalError(w, r, err)
}

// createUser adds a user with a generated first password, shown once.
func (h *userPages) createUser(w http.ResponseWriter, r *http.Request, s session) {
	again := func(status int, msg string) { h.showUsers(w, r, s, status, usersData{Message: msg}) }
	name, password, err := h.newUser(r, s)
	if err != nil {
		h.formFailed(w, r, s, err, again)
		return
	}
	h.showUsers(w, r, s, http.StatusOK, usersData{Created: name, Password: password})
}

func (h *userPages) newUser(r *http.Request, s session) (name, password string, err error) {
	name = strings.TrimSpace(r.PostFormValue("name"))
	if err := checkName(userName, name); err != nil {
		return "", "", err
	}
	role, err := formRole(r)
	if err != nil {
		return "", "", err
	}
	visible, err := visibleSites(r, h.sites, s.p)
	if err != nil {
		return "", "", err
	}
	sites, err := formSites(r, visible, s.p.Sites)
	if err != nil {
		return "", "", err
	}
	if err := s.p.CanAssign(role, sites); err != nil {
		return "", "", err
	}
	if password, err = identity.GeneratePassword(); err != nil {
		return "", "", err
	}
	hash, err := identity.HashPassword(password)
	if err != nil {
		return "", "", err
	}
	id, err := h.members.CreateMember(r.Context(), s.p.Org, name, hash, role, sites)
	if err != nil {
		return "", "", err
	}
	h.log.Info("user created", "user", id, "by", s.user.ID)
	return name, password, nil
}

// managed loads the user of the path if the admin may manage them.
func (h *userPages) managed(r *http.Request, s session) (access.Member, error) {
	m, err := h.members.Member(r.Context(), s.p.Org, fleet.UserID(r.PathValue("id")))
	if err != nil {
		return access.Member{}, err
	}
	return m, s.p.CanManage(m)
}

// setUserAccess changes a user's role and sites.
func (h *userPages) setUserAccess(w http.ResponseWriter, r *http.Request, s session) {
	again := func(status int, msg string) { h.showUsers(w, r, s, status, usersData{Message: msg}) }
	err := func() error {
		m, err := h.managed(r, s)
		if err != nil {
			return err
		}
		role, err := formRole(r)
		if err != nil {
			return err
		}
		visible, err := visibleSites(r, h.sites, s.p)
		if err != nil {
			return err
		}
		sites, err := formSites(r, visible, s.p.Sites)
		if err != nil {
			return err
		}
		if err := s.p.CanAssign(role, sites); err != nil {
			return err
		}
		return h.members.SetMember(r.Context(), s.p.Org, m.ID, role, sites)
	}()
	if err != nil {
		h.formFailed(w, r, s, err, again)
		return
	}
	http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
}

// removeUser removes a user with their sessions and tokens.
func (h *userPages) removeUser(w http.ResponseWriter, r *http.Request, s session) {
	again := func(status int, msg string) { h.showUsers(w, r, s, status, usersData{Message: msg}) }
	err := func() error {
		m, err := h.managed(r, s)
		if err != nil {
			return err
		}
		if m.ID == s.user.ID {
			return badForm("You cannot remove yourself.")
		}
		if err := h.members.DeleteMember(r.Context(), s.p.Org, m.ID); err != nil {
			return err
		}
		h.log.Info("user removed", "user", m.ID, "by", s.user.ID)
		return nil
	}()
	if err != nil {
		h.formFailed(w, r, s, err, again)
		return
	}
	http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
}

// resetPassword gives a user a new generated password, shown once to the
// admin, ends all of the user's sessions and pending logins, revokes the
// user's API tokens, and demands
// that the user choose a password of their own at the next login. The
// admin never picks the password: nobody is tempted to reuse one, and the
// one the admin saw stops working at the user's first login. Only a
// user the admin may manage can be reset (as for every other change to a
// user: an admin limited to some sites only users within those sites),
// and not the admin themselves: their own password is changed on the
// account page, with the current one.
func (h *userPages) resetPassword(w http.ResponseWriter, r *http.Request, s session) {
	again := func(status int, msg string) { h.showUsers(w, r, s, status, usersData{Message: msg}) }
	var m access.Member
	password, err := func() (string, error) {
		var err error
		if m, err = h.managed(r, s); err != nil {
			return "", err
		}
		if m.ID == s.user.ID {
			return "", badForm("Change your own password on your account page.")
		}
		password, err := identity.GeneratePassword()
		if err != nil {
			return "", err
		}
		hash, err := identity.HashPassword(password)
		if err != nil {
			return "", err
		}
		return password, h.passwords.ResetPassword(r.Context(), s.p.Org, m.ID, hash, h.clock.Now())
	}()
	if err != nil {
		h.formFailed(w, r, s, err, again)
		return
	}
	h.log.Info("password reset", "user", m.ID, "by", s.user.ID)
	h.showUsers(w, r, s, http.StatusOK, usersData{Reset: m.Name, Password: password})
}
