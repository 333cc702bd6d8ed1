package dashboard

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/identity"
)

// dummyHash is checked when a login names no user, so that an unknown name
// takes as long as a wrong password.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$3m8WsAULrPS4/JhjUp5V+w$xJMsjuPzWQqcBUddyHF4SyA1r6LVx6GYfn69NwOvWWM"

const (
	maxNameLen     = 128
	maxPasswordLen = 1024
	loginFailed    = "Wrong user name or password."
	loginLocked    = "Too many failed attempts for this user name. Please wait a few minutes and try again."
)

// session is a logged-in request's user and the CSRF token of its session.
type session struct {
	user      fleet.User
	tokenHash string
	csrf      string
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

// auth runs next with the request's session. Without one, pages redirect to
// the login and the API answers 401. Every POST must carry the session's
// CSRF token in the "csrf" form field.
func (h *handler) auth(next authedFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var s session
		c, err := r.Cookie(h.sessionCookie())
		if err == nil && c.Value != "" {
			s.tokenHash = identity.HashToken(c.Value)
			s.user, err = h.st.SessionUser(r.Context(), s.tokenHash, h.clock.Now())
			s.csrf = csrfToken(c.Value)
		} else {
			err = fleet.ErrNotFound
		}
		switch {
		case isNotFound(err) && isAPI(r):
			h.writeError(w, r, http.StatusUnauthorized, "Not logged in.")
			return
		case isNotFound(err):
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		case err != nil:
			h.internalError(w, r, err)
			return
		}
		if r.Method == http.MethodPost && !sameSecret(r.PostFormValue("csrf"), s.csrf) {
			h.writeError(w, r, http.StatusForbidden, "The form has expired. Please reload the page and try again.")
			return
		}
		next(w, r, s)
	})
}

// admin lets only administrators through.
func (h *handler) admin(next authedFunc) authedFunc {
	return func(w http.ResponseWriter, r *http.Request, s session) {
		if s.user.Role != fleet.RoleAdmin {
			h.writeError(w, r, http.StatusForbidden, "Only administrators may do this.")
			return
		}
		next(w, r, s)
	}
}

// loginData fills the login form.
type loginData struct {
	Name    string
	Message string
}

// loginPage shows the login form with a fresh login CSRF token, kept in a
// cookie and echoed in the form (double submit): there is no session yet.
func (h *handler) loginPage(w http.ResponseWriter, r *http.Request) {
	h.showLogin(w, r, http.StatusOK, loginData{})
}

func (h *handler) showLogin(w http.ResponseWriter, r *http.Request, status int, d loginData) {
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
	h.render(w, status, "login.html", page{Title: "Log in", CSRF: token, Data: d})
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
func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	name, pw := r.PostFormValue("name"), r.PostFormValue("password")
	c, err := r.Cookie(h.loginCookie())
	if err != nil || !sameSecret(r.PostFormValue("csrf"), c.Value) {
		h.writeError(w, r, http.StatusForbidden, "The login form has expired. Please reload the page and try again.")
		return
	}
	now := h.clock.Now()
	if len(name) > maxNameLen || len(pw) > maxPasswordLen {
		h.showLogin(w, r, http.StatusUnauthorized, loginData{Message: loginFailed})
		return
	}
	if h.limiter.locked(name, now) {
		h.showLogin(w, r, http.StatusTooManyRequests, loginData{Name: name, Message: loginLocked})
		return
	}
	user, hash, err := h.st.UserByName(r.Context(), name)
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
		h.limiter.fail(name, now)
		h.log.Info("login failed", "remote", r.RemoteAddr)
		h.showLogin(w, r, http.StatusUnauthorized, loginData{Name: name, Message: loginFailed})
		return
	}
	h.limiter.succeed(name)
	token, err := identity.NewToken()
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	if err := h.st.CreateSession(r.Context(), identity.HashToken(token), user.ID, now.Add(h.ttl)); err != nil {
		h.internalError(w, r, err)
		return
	}
	h.setCookie(w, h.loginCookie(), "", -1)
	h.setCookie(w, h.sessionCookie(), token, int(h.ttl/time.Second))
	h.log.Info("login", "user", user.ID)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logout ends the session.
func (h *handler) logout(w http.ResponseWriter, r *http.Request, s session) {
	if err := h.st.DeleteSession(r.Context(), s.tokenHash); err != nil {
		h.internalError(w, r, err)
		return
	}
	h.setCookie(w, h.sessionCookie(), "", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
