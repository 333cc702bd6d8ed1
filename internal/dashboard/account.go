package dashboard

import (
	"errors"
	"net/http"
	"strings"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/i18n"
	"github.com/fusionfleet/fusionfleet/internal/identity"
)

// accountPage is the account page: it saves the user's preferences and
// changes their password.
type accountPage struct {
	*handler
	members   access.Members
	sessions  Sessions // the current password's hash
	passwords Passwords
	throttle  LoginThrottle // wrong current passwords count as failed logins
}

// otherZone is the zone menu's choice that means "the name typed below".
const otherZone = "other"

// accountData fills the account page.
type accountData struct {
	Name      string
	Role      string
	Langs     []option // "" is the browser's language
	Lang      string
	Zones     []string
	Zone      string // a common zone, or otherZone
	OtherZone string // the typed name when Zone is otherZone
	Now       string // the time now, in the chosen zone
	ZoneName  string // the zone times are shown in
	Message   string
	Saved     bool
	// MustChange: an administrator reset the password; the page asks for
	// a new one before anything else.
	MustChange bool
	// PasswordChanged: the password was just changed.
	PasswordChanged bool
}

// accountPage shows the user's language and time zone with a form to
// change them.
func (h *accountPage) accountPage(w http.ResponseWriter, r *http.Request, s session) {
	h.showAccount(w, r, s, http.StatusOK, s.prefs, "", r.URL.Query().Get("saved") != "")
}

// showAccount shows the account page with a message (English: the page
// translates it).
func (h *accountPage) showAccount(w http.ResponseWriter, r *http.Request, s session, status int, p fleet.Prefs, msg string, saved bool) {
	lang, zone := h.locale(r)
	d := accountData{
		Name: s.user.Name, Role: s.user.Role.String(), Lang: p.Lang, Zones: commonZones,
		Now: formatTime(lang, zone, h.clock.Now()), ZoneName: zone.String(), Message: msg, Saved: saved,
		MustChange: s.mustChange, PasswordChanged: r.URL.Query().Get("password") != "",
	}
	d.Langs = append(d.Langs, option{"", lang.T("The browser's language")})
	for _, l := range i18n.Supported() {
		d.Langs = append(d.Langs, option{string(l), l.Name()})
	}
	switch {
	case p.TimeZone == "":
		d.Zone = "UTC"
	case isCommonZone(p.TimeZone):
		d.Zone = p.TimeZone
	default:
		d.Zone, d.OtherZone = otherZone, p.TimeZone
	}
	h.render(w, r, status, "account.html", page{Title: "Your account", User: &s.user, CSRF: s.csrf, Data: d})
}

// prefsForm reads and checks the account form: a supported language or
// none, and a zone from the menu or, for "other", the typed name.
func prefsForm(r *http.Request) (fleet.Prefs, error) {
	p := fleet.Prefs{Lang: r.PostFormValue("lang"), TimeZone: strings.TrimSpace(r.PostFormValue("zone"))}
	if p.TimeZone == otherZone {
		p.TimeZone = strings.TrimSpace(r.PostFormValue("zone_other"))
	}
	return p, checkPrefs(p)
}

// checkPrefs checks preferences sent by a user: a supported language or
// none, and a known time zone or none.
func checkPrefs(p fleet.Prefs) error {
	if l, ok := i18n.Parse(p.Lang); p.Lang != "" && (!ok || string(l) != p.Lang) {
		return badForm("Please pick a language from the list.")
	}
	if _, err := p.Location(); err != nil {
		return badForm("Unknown time zone. Enter a name like Europe/Berlin.")
	}
	return nil
}

// saveAccount stores the user's language and time zone.
func (h *accountPage) saveAccount(w http.ResponseWriter, r *http.Request, s session) {
	p, err := prefsForm(r)
	if err == nil {
		err = h.members.SetPrefs(r.Context(), s.p.Org, s.user.ID, p)
	}
	if err != nil {
		h.formFailed(w, r, s, err, func(status int, msg string) { h.showAccount(w, r, s, status, p, msg, false) })
		return
	}
	h.log.Info("preferences saved", "user", s.user.ID)
	http.Redirect(w, r, "/account?saved=1", http.StatusSeeOther)
}

// changePassword replaces the user's password with a new one they chose,
// after checking the current one: a session left open on a shared
// computer must not be enough to take over the account. A wrong current
// password counts as a failed login. On success every session of the user
// ends, the current one too, and the browser that changed it gets a new
// one, as after a login: whoever had copied the session cookie (the usual
// reason to change a password) is out with the rest, and the session
// token changes with the credentials, as OWASP advises. Pending
// second-factor logins end as well. The form is answered with the account
// page, the same request under /api/ with JSON.
func (h *accountPage) changePassword(w http.ResponseWriter, r *http.Request, s session) {
	pw := r.PostFormValue("new")
	err := h.checkNewPassword(r, s, r.PostFormValue("current"), pw, r.PostFormValue("confirm"))
	var token string
	if err == nil {
		token, err = identity.NewToken()
	}
	var hash string
	if err == nil {
		hash, err = identity.HashPassword(pw)
	}
	if err == nil {
		err = h.passwords.ChangePassword(r.Context(), s.p.Org, s.user.ID, hash, identity.HashToken(token), h.authClock.Now().Add(h.ttl))
	}
	switch {
	case err != nil && isAPI(r):
		if status, msg, ok := formStatus(err); ok {
			h.writeError(w, r, status, msg)
			return
		}
		h.internalError(w, r, err)
		return
	case err != nil:
		h.formFailed(w, r, s, err, func(status int, msg string) { h.showAccount(w, r, s, status, s.prefs, msg, false) })
		return
	}
	h.setSessionCookie(w, token)
	h.log.Info("password changed", "user", s.user.ID)
	if isAPI(r) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, "/account?password=changed", http.StatusSeeOther)
}

// errWrongPassword is a wrong current password in a form.
var errWrongPassword = &formError{http.StatusForbidden, "Your current password is not right."}

// checkNewPassword checks the password form: the current password (under
// the login throttle), the new one twice, and the rules for a chosen
// password. The new one must differ from the current one, so that a
// password an administrator issued cannot be kept.
func (h *accountPage) checkNewPassword(r *http.Request, s session, current, pw, confirm string) error {
	locked, err := h.loginLocked(r, h.throttle, s.user.Name)
	if err != nil {
		return err
	}
	if locked {
		return &formError{http.StatusTooManyRequests, loginLocked}
	}
	u, hash, err := h.sessions.UserByName(r.Context(), s.user.Name)
	if err != nil {
		return err
	}
	ok, err := identity.CheckPassword(hash, current)
	if err != nil {
		return err
	}
	if !ok || u.ID != s.user.ID {
		if err := h.throttle.LoginFailed(r.Context(), s.user.Name, h.clientAddress(r), h.authClock.Now()); err != nil {
			return err
		}
		h.log.Info("password change: wrong current password", "user", s.user.ID, "remote", h.clientAddress(r))
		return errWrongPassword
	}
	switch err := identity.CheckNewPassword(pw, s.user.Name); {
	case pw != confirm:
		return badForm("The two new passwords differ.")
	case errors.Is(err, identity.ErrPasswordShort):
		return badForm("The new password must have at least 12 characters.")
	case errors.Is(err, identity.ErrPasswordLong):
		return badForm("The new password is too long (at most 1024 bytes).")
	case errors.Is(err, identity.ErrPasswordIsName):
		return badForm("The new password must not be your user name.")
	case err != nil:
		return err
	case pw == current:
		return badForm("The new password must differ from the current one.")
	}
	return nil
}
