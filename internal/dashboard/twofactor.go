package dashboard

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/audit"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/identity"
)

const (
	// challengeTTL is how long the second step of a login may take.
	challengeTTL = 5 * time.Minute
	totpIssuer   = "FusionFleet"
	codeFailed   = "That code is not right, or was used already. Please try again."
)

func (h *handler) challengeCookie() string {
	if h.secure {
		return "__Host-ff_2fa"
	}
	return "ff_2fa"
}

// challenge starts the second step of a login: the password was right and
// the user has two-factor login. A short-lived challenge token, stored
// only as its hash, goes in a cookie; the code page asks for the code.
func (h *authPages) challenge(w http.ResponseWriter, r *http.Request, user fleet.User) {
	token, err := identity.NewToken()
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	if err := h.sessions.CreateLoginChallenge(r.Context(), identity.HashToken(token), user.ID, h.authClock.Now().Add(challengeTTL)); err != nil {
		h.internalError(w, r, err)
		return
	}
	h.setCookie(w, h.challengeCookie(), token, int(challengeTTL/time.Second))
	http.Redirect(w, r, "/login/code", http.StatusSeeOther)
}

// pendingLogin returns the user and challenge token of the request's
// login challenge; ok is false without a live one.
func (h *authPages) pendingLogin(w http.ResponseWriter, r *http.Request) (user fleet.User, token string, ok bool) {
	c, err := r.Cookie(h.challengeCookie())
	if err != nil || c.Value == "" {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return fleet.User{}, "", false
	}
	user, err = h.sessions.LoginChallengeUser(r.Context(), identity.HashToken(c.Value), h.authClock.Now())
	if isNotFound(err) {
		h.setCookie(w, h.challengeCookie(), "", -1)
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return fleet.User{}, "", false
	}
	if err != nil {
		h.internalError(w, r, err)
		return fleet.User{}, "", false
	}
	return user, c.Value, true
}

// codePage asks for the second factor.
func (h *authPages) codePage(w http.ResponseWriter, r *http.Request) {
	if _, token, ok := h.pendingLogin(w, r); ok {
		h.render(w, r, http.StatusOK, "login_code.html", page{Title: "Two-factor login", CSRF: csrfToken(token), Data: loginData{}})
	}
}

// loginCode checks the second factor, a TOTP code or a recovery code, and
// starts the session. Failures count towards the login throttle of the
// user name and address, like wrong passwords.
func (h *authPages) loginCode(w http.ResponseWriter, r *http.Request) {
	user, token, ok := h.pendingLogin(w, r)
	if !ok {
		return
	}
	if !sameSecret(r.PostFormValue("csrf"), csrfToken(token)) {
		h.writeError(w, r, http.StatusForbidden, "The login form has expired. Please reload the page and try again.")
		return
	}
	now := h.authClock.Now()
	show := func(status int, msg string) {
		h.render(w, r, status, "login_code.html", page{Title: "Two-factor login", CSRF: csrfToken(token), Data: loginData{Message: msg}})
	}
	if locked, err := h.loginLocked(r, h.throttle, user.Name); err != nil {
		h.internalError(w, r, err)
		return
	} else if locked {
		if err := h.recordLogin(r, audit.ActionLoginFailed, user, user.Name, "locked: too many failures"); err != nil {
			h.internalError(w, r, err)
			return
		}
		show(http.StatusTooManyRequests, loginLocked)
		return
	}
	err := h.checkSecondFactor(r, user.ID, r.PostFormValue("code"), now)
	if errors.Is(err, fleet.ErrInvalidToken) {
		if err := h.throttle.LoginFailed(r.Context(), user.Name, h.clientAddress(r), now); err != nil {
			h.internalError(w, r, err)
			return
		}
		if err := h.recordLogin(r, audit.ActionLoginFailed, user, user.Name, "wrong second-factor code"); err != nil {
			h.internalError(w, r, err)
			return
		}
		h.log.Info("second factor failed", "user", user.ID)
		show(http.StatusUnauthorized, codeFailed)
		return
	}
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	if err := h.sessions.DeleteLoginChallenge(r.Context(), identity.HashToken(token), now); err != nil {
		h.internalError(w, r, err)
		return
	}
	h.setCookie(w, h.challengeCookie(), "", -1)
	h.startSession(w, r, user)
}

// checkSecondFactor accepts a current TOTP code not used before, or an
// unused recovery code. A wrong or replayed code is fleet.ErrInvalidToken.
func (h *authPages) checkSecondFactor(r *http.Request, user fleet.UserID, code string, now time.Time) error {
	code = strings.TrimSpace(code)
	if code == "" || len(code) > 64 {
		return fleet.ErrInvalidToken
	}
	if !isDigits(code) {
		return h.twoFactor.UseRecoveryCode(r.Context(), user, identity.HashRecoveryCode(code), now)
	}
	secret, enabled, last, err := h.twoFactor.TOTP(r.Context(), user)
	if isNotFound(err) || err == nil && !enabled {
		return fleet.ErrInvalidToken
	}
	if err != nil {
		return err
	}
	step, ok := identity.VerifyTOTP(secret, code, h.authClock.Now(), last)
	if !ok {
		return fleet.ErrInvalidToken
	}
	// Atomic in the store: of two requests with one code, one wins.
	return h.twoFactor.UseTOTPStep(r.Context(), user, step)
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// twoFactorData fills the two-factor page.
type twoFactorData struct {
	Enabled       bool
	CodesLeft     int
	Secret        string
	URI           string
	RecoveryCodes []string // shown once, right after enabling
	Message       string
}

// twoFactorPage shows the state of the user's second factor. Without one,
// it starts an enrolment: a fresh secret, shown as text and as an
// otpauth:// URI, confirmed by a first code.
func (h *authPages) twoFactorPage(w http.ResponseWriter, r *http.Request, s session) {
	_, enabled, _, err := h.twoFactor.TOTP(r.Context(), s.user.ID)
	if err != nil && !isNotFound(err) {
		h.internalError(w, r, err)
		return
	}
	if enabled {
		h.showTwoFactor(w, r, s, http.StatusOK, twoFactorData{})
		return
	}
	secret, _, err := identity.NewTOTP(totpIssuer, s.user.Name)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	if err := h.twoFactor.SetPendingTOTP(r.Context(), s.user.ID, secret); err != nil {
		h.internalError(w, r, err)
		return
	}
	h.showTwoFactor(w, r, s, http.StatusOK, twoFactorData{})
}

// showTwoFactor renders the two-factor page with the stored state.
func (h *authPages) showTwoFactor(w http.ResponseWriter, r *http.Request, s session, status int, d twoFactorData) {
	secret, enabled, _, err := h.twoFactor.TOTP(r.Context(), s.user.ID)
	if err != nil && !isNotFound(err) {
		h.internalError(w, r, err)
		return
	}
	d.Enabled = enabled
	if enabled {
		if d.CodesLeft, err = h.twoFactor.RecoveryCodesLeft(r.Context(), s.user.ID); err != nil {
			h.internalError(w, r, err)
			return
		}
	} else if secret != "" {
		d.Secret = secret
		d.URI = totpURI(secret, s.user.Name)
	}
	h.render(w, r, status, "twofactor.html", page{Title: "Two-factor login", User: &s.user, CSRF: s.csrf, Data: d})
}

// totpURI is the otpauth:// URI of a secret, as authenticator apps import it.
func totpURI(secret, account string) string {
	return "otpauth://totp/" + url.PathEscape(totpIssuer) + ":" + url.PathEscape(account) +
		"?algorithm=SHA1&digits=6&issuer=" + url.PathEscape(totpIssuer) + "&period=30&secret=" + secret
}

// enableTwoFactor confirms the pending secret with a first code and shows
// the recovery codes once.
func (h *authPages) enableTwoFactor(w http.ResponseWriter, r *http.Request, s session) {
	secret, enabled, _, err := h.twoFactor.TOTP(r.Context(), s.user.ID)
	switch {
	case isNotFound(err):
		h.showTwoFactor(w, r, s, http.StatusBadRequest, twoFactorData{Message: "The setup has expired. Please start again."})
		return
	case err != nil:
		h.internalError(w, r, err)
		return
	case enabled:
		http.Redirect(w, r, "/account/two-factor", http.StatusSeeOther)
		return
	}
	step, ok := identity.VerifyTOTP(secret, r.PostFormValue("code"), h.authClock.Now(), 0)
	if !ok {
		h.showTwoFactor(w, r, s, http.StatusBadRequest, twoFactorData{
			Message: "That code is not right. Enter the six digits your app shows now."})
		return
	}
	codes, err := identity.NewRecoveryCodes()
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	hashes := make([]string, len(codes))
	for i, c := range codes {
		hashes[i] = identity.HashRecoveryCode(c)
	}
	if err := h.twoFactor.EnableTOTP(r.Context(), s.user.ID, step, hashes); err != nil {
		h.internalError(w, r, err)
		return
	}
	h.log.Info("two-factor login enabled", "user", s.user.ID)
	h.showTwoFactor(w, r, s, http.StatusOK, twoFactorData{RecoveryCodes: codes})
}

// disableTwoFactor turns two-factor login off after checking the password.
func (h *authPages) disableTwoFactor(w http.ResponseWriter, r *http.Request, s session) {
	pw := r.PostFormValue("password")
	_, hash, err := h.sessions.UserByName(r.Context(), s.user.Name)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	if ok, _ := identity.CheckPassword(hash, pw); !ok || len(pw) > maxPasswordLen {
		h.showTwoFactor(w, r, s, http.StatusBadRequest, twoFactorData{Message: "Wrong password: two-factor login stays on."})
		return
	}
	if err := h.twoFactor.DisableTOTP(r.Context(), s.user.ID); err != nil {
		h.internalError(w, r, err)
		return
	}
	h.log.Info("two-factor login disabled", "user", s.user.ID)
	http.Redirect(w, r, "/account/two-factor", http.StatusSeeOther)
}
