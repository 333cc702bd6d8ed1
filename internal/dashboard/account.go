package dashboard

import (
	"net/http"
	"strings"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/i18n"
)

// accountPage is the account page: it saves the user's preferences.
type accountPage struct {
	*handler
	members access.Members
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
}

// accountPage shows the user's language and time zone with a form to
// change them.
func (h *accountPage) accountPage(w http.ResponseWriter, r *http.Request, s session) {
	h.showAccount(w, r, s, http.StatusOK, s.prefs, "", r.URL.Query().Get("saved") != "")
}

func (h *accountPage) showAccount(w http.ResponseWriter, r *http.Request, s session, status int, p fleet.Prefs, msg string, saved bool) {
	lang, zone := h.locale(r)
	d := accountData{
		Name: s.user.Name, Role: s.user.Role.String(), Lang: p.Lang, Zones: commonZones,
		Now: formatTime(lang, zone, h.clock.Now()), ZoneName: zone.String(), Message: msg, Saved: saved,
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
