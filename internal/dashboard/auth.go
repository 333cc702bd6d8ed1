package dashboard

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/identity"
)

// authPages are the login, the second login step, logout and the
// two-factor page: they use the sessions and the two-factor secrets.
type authPages struct {
	*handler
	sessions  Sessions
	twoFactor TwoFactor
	throttle  LoginThrottle
}

// dummyHash is checked when a login names no user, so that an unknown name
// takes as long as a wrong password.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$3m8WsAULrPS4/JhjUp5V+w$xJMsjuPzWQqcBUddyHF4SyA1r6LVx6GYfn69NwOvWWM"

const (
	maxNameLen     = 128
	maxPasswordLen = 1024
	loginFailed    = "Wrong user name or password."
	loginLocked    = "Too many failed attempts for this user name. Please wait a few minutes and try again."
)

// session is a logged-in request's principal, user and the CSRF token of
// its session. Public routes get the zero session.
type session struct {
	p         access.Principal
	user      fleet.User
	tokenHash string
	csrf      string
	prefs     fleet.Prefs
	// mustChange: an administrator reset the password, and the user has
	// yet to choose a new one (see passwordFirst).
	mustChange bool
}

// authedFunc is a handler that runs only with a valid session.
type authedFunc func(w http.ResponseWriter, r *http.Request, s session)

func (h *handler) sessionCookie() string {
	if h.secure {
		return "__Host-ff_session"
	}
	return "ff_session"
}

func (h *handler) loginCookie() string {
	if h.secure {
		return "__Host-ff_login"
	}
	return "ff_login"
}

func (h *handler) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   h.secure,
		SameSite: http.SameSiteLaxMode,
	})
}

// csrfToken derives the session's CSRF token from its secret token. It is
// domain-separated from the stored hash, so the database does not hold it,
// and one-way, so a leaked page does not reveal the session.
func csrfToken(sessionToken string) string {
	sum := sha256.Sum256([]byte("fusionfleet-csrf-v1\x00" + sessionToken))
	return hex.EncodeToString(sum[:])
}

func sameSecret(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// authorize is the one authorization check of the dashboard: it resolves
// the session cookie to a principal and runs the route's handler only if
// access.Check allows the route's requirement. Without a session, pages
// redirect to the login and the JSON API answers 401. Every POST must
// carry the session's CSRF token in the "csrf" form field; it is checked
// before the role, so a forged request learns nothing. Public routes run
// as they are (the login forms check their own CSRF token).
func (h *ui) authorize(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.need.Public {
			rt.handle(w, r, session{})
			return
		}
		s, err := h.session(r)
		if err == nil {
			r = withPrefs(r, s.prefs)
		}
		if err == nil && r.Method == http.MethodPost && !sameSecret(r.PostFormValue("csrf"), s.csrf) {
			err = errCSRF
		}
		if err == nil {
			r, s, err = h.actUnderGrant(w, r, rt.pattern, s)
		}
		if err == nil {
			err = access.Check(s.p, rt.need, h.authClock.Now())
		}
		if err == nil && s.mustChange && !passwordFirst[rt.pattern] {
			err = errPasswordFirst
		}
		switch {
		case errors.Is(err, access.ErrUnauthenticated) && isAPI(r):
			h.writeError(w, r, http.StatusUnauthorized, "Not logged in.")
			return
		case errors.Is(err, access.ErrUnauthenticated):
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		case errors.Is(err, errPasswordFirst) && isAPI(r):
			h.writeError(w, r, http.StatusForbidden, "Please choose a new password on your account page first.")
			return
		case errors.Is(err, errPasswordFirst):
			http.Redirect(w, r, "/account", http.StatusSeeOther)
			return
		case errors.Is(err, errCSRF):
			h.writeError(w, r, http.StatusForbidden, "The form has expired. Please reload the page and try again.")
			return
		case errors.Is(err, errGrantEnded):
			h.writeError(w, r, http.StatusForbidden, "Your access to this customer has ended. Choose a customer again on the Customers page.")
			return
		case errors.Is(err, access.ErrForbidden) && s.p.Grant != nil:
			h.writeError(w, r, http.StatusForbidden, "The customer's grant does not cover this page.")
			return
		case errors.Is(err, access.ErrForbidden):
			h.writeError(w, r, http.StatusForbidden, "Only administrators may do this.")
			return
		case err != nil:
			h.internalError(w, r, err)
			return
		}
		rt.handle(w, r, s)
	})
}

var (
	errCSRF          = errors.New("csrf token missing or wrong")
	errPasswordFirst = errors.New("a new password must be chosen first")
)

// passwordFirst are the routes a user whose password an administrator
// reset may use before choosing a new one: the account page with its
// password form, and logout. Every other route sends them to the account
// page, so the password an administrator knew, or passed on, is good for
// nothing but replacing it (as directory services force a change after a
// reset).
var passwordFirst = map[string]bool{
	"GET /account":               true,
	"POST /account/password":     true,
	"POST /api/account/password": true,
	"POST /logout":               true,
}

// session resolves the request's session cookie. No cookie, or an unknown
// or expired session, is access.ErrUnauthenticated.
func (h *ui) session(r *http.Request) (session, error) {
	c, err := r.Cookie(h.sessionCookie())
	if err != nil || c.Value == "" {
		return session{}, access.ErrUnauthenticated
	}
	s := session{tokenHash: identity.HashToken(c.Value), csrf: csrfToken(c.Value)}
	m, err := h.sessions.SessionMember(r.Context(), s.tokenHash, h.authClock.Now())
	if isNotFound(err) {
		return session{}, access.ErrUnauthenticated
	}
	if err != nil {
		return session{}, err
	}
	s.p, s.user, s.prefs, s.mustChange = access.ForUser(m), m.User, m.Prefs, m.MustChangePassword
	return s, nil
}

// loginData fills the login form.
type loginData struct {
	Name    string
	Message string
}

// loginPage shows the login form with a fresh login CSRF token, kept in a
// cookie and echoed in the form (double submit): there is no session yet.
func (h *authPages) loginPage(w http.ResponseWriter, r *http.Request) {
	h.showLogin(w, r, http.StatusOK, loginData{})
}

func (h *authPages) showLogin(w http.ResponseWriter, r *http.Request, status int, d loginData) {
	// Keep a login token the browser already holds: a second login page
	// load (another tab, or a subresource such as /favicon.ico redirected
	// here) must not invalidate the form already shown.
	var token string
	if c, err := r.Cookie(h.loginCookie()); err == nil && validLoginToken(c.Value) {
		token = c.Value
	} else if token, err = identity.NewToken(); err != nil {
		h.internalError(w, r, err)
		return
	}
	h.setCookie(w, h.loginCookie(), token, 3600)
	h.render(w, r, status, "login.html", page{Title: "Log in", CSRF: token, Data: d})
}

// validLoginToken reports whether s looks like a token from identity.NewToken
// (43 base64url characters), so a cookie planted with another shape is
// replaced rather than echoed into the page.
func validLoginToken(s string) bool {
	if len(s) != 43 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// login checks a user name and password and starts a session.
func (h *authPages) login(w http.ResponseWriter, r *http.Request) {
	name, pw := r.PostFormValue("name"), r.PostFormValue("password")
	c, err := r.Cookie(h.loginCookie())
	if err != nil || !sameSecret(r.PostFormValue("csrf"), c.Value) {
		h.writeError(w, r, http.StatusForbidden, "The login form has expired. Please reload the page and try again.")
		return
	}
	now := h.authClock.Now()
	if len(name) > maxNameLen || len(pw) > maxPasswordLen {
		h.showLogin(w, r, http.StatusUnauthorized, loginData{Message: loginFailed})
		return
	}
	if locked, err := h.loginLocked(r, h.throttle, name); err != nil {
		h.internalError(w, r, err)
		return
	} else if locked {
		h.showLogin(w, r, http.StatusTooManyRequests, loginData{Name: name, Message: loginLocked})
		return
	}
	user, hash, err := h.sessions.UserByName(r.Context(), name)
	switch {
	case isNotFound(err):
		hash = dummyHash
	case err != nil:
		h.internalError(w, r, err)
		return
	}
	ok, err := identity.CheckPassword(hash, pw)
	if err != nil {
		h.log.Error("stored password hash unusable", "user", user.ID, "err", err)
	}
	if !ok || user.ID == "" {
		if err := h.throttle.LoginFailed(r.Context(), name, h.clientAddress(r), now); err != nil {
			h.internalError(w, r, err)
			return
		}
		h.log.Info("login failed", "remote", h.clientAddress(r))
		h.showLogin(w, r, http.StatusUnauthorized, loginData{Name: name, Message: loginFailed})
		return
	}
	_, enabled, _, err := h.twoFactor.TOTP(r.Context(), user.ID)
	if err != nil && !isNotFound(err) {
		h.internalError(w, r, err)
		return
	}
	if enabled {
		h.challenge(w, r, user)
		return
	}
	h.startSession(w, r, user)
}

// startSession logs user in: a fresh session, its cookie, and the login
// form's cookie gone.
func (h *authPages) startSession(w http.ResponseWriter, r *http.Request, user fleet.User) {
	if err := h.throttle.LoginSucceeded(r.Context(), user.Name, h.clientAddress(r)); err != nil {
		h.internalError(w, r, err)
		return
	}
	token, err := identity.NewToken()
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	if err := h.sessions.CreateSession(r.Context(), identity.HashToken(token), user.ID, h.authClock.Now().Add(h.ttl)); err != nil {
		h.internalError(w, r, err)
		return
	}
	h.setCookie(w, h.loginCookie(), "", -1)
	h.setCookie(w, h.grantCookie(), "", -1) // a new login acts for no customer yet
	h.setSessionCookie(w, token)
	h.log.Info("login", "user", user.ID)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// setSessionCookie gives the browser the session token.
func (h *handler) setSessionCookie(w http.ResponseWriter, token string) {
	h.setCookie(w, h.sessionCookie(), token, int(h.ttl/time.Second))
}

// logout ends the session.
func (h *authPages) logout(w http.ResponseWriter, r *http.Request, s session) {
	if err := h.sessions.DeleteSession(r.Context(), s.tokenHash); err != nil {
		h.internalError(w, r, err)
		return
	}
	h.setCookie(w, h.sessionCookie(), "", -1)
	h.setCookie(w, h.grantCookie(), "", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
