package dashboard

import (
	"errors"
	"net/http"
	"strings"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/notify"
)

// notifyPages are the notification channels page (admins) and each
// user's notification preferences.
type notifyPages struct {
	*handler
	channels     notify.Channels
	prefs        notify.Preferences
	allowPrivate bool // webhooks to special-purpose addresses
}

// deliveryLogRows is how many attempts the delivery log shows.
const deliveryLogRows = 100

// severityOptions are the minimum severities to choose from, with labels
// (translated by the template).
var severityOptions = []option{
	{"info", "Info and above"}, {"warning", "Warning and above"}, {"error", "Error and above"}, {"critical", "Critical only"},
}

// parseMinSeverity reads a minimum severity from a form.
func parseMinSeverity(v string) (fleet.Severity, error) {
	var s fleet.Severity
	if err := s.UnmarshalText([]byte(v)); err != nil {
		return 0, badForm("Please pick a minimum severity.")
	}
	return s, nil
}

// channelsData fills the notification channels page.
type channelsData struct {
	Channels   []channelRow
	Log        []logRow
	Severities []option
	Message    string
	Info       string
	Secret     string // a webhook secret just created, shown once
	Name       string
	// The form's values, kept when it is shown again.
	Form struct{ Kind, Name, Target, Severity string }
}

// channelsPage lists the organisation's notification channels, a form to
// add one, and the delivery log.
func (h *notifyPages) channelsPage(w http.ResponseWriter, r *http.Request, s session) {
	d := channelsData{}
	if r.URL.Query().Get("sent") != "" {
		d.Info = "Test notification queued. It appears in the delivery log when it was sent."
	}
	h.showChannels(w, r, s, http.StatusOK, d)
}

func (h *notifyPages) showChannels(w http.ResponseWriter, r *http.Request, s session, status int, d channelsData) {
	chans, err := h.channels.NotifyChannels(r.Context(), s.p.Org)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	log, err := h.channels.DeliveryLog(r.Context(), s.p.Org, deliveryLogRows)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	d.Channels, d.Log = nil, nil
	for _, c := range chans {
		d.Channels = append(d.Channels, channelRow{c, kindLabel(c.Kind), severityLabel(c.MinSeverity)})
	}
	for _, a := range log {
		d.Log = append(d.Log, logRow{a, kindLabel(a.Kind), attemptStatus(a.Status), a.Status == fleet.DeliverySent})
	}
	d.Severities = severityOptions
	if d.Form.Severity == "" {
		d.Form.Kind, d.Form.Severity = "webhook", "warning"
	}
	h.render(w, r, status, "notify_channels.html", page{Title: "Notification channels", User: &s.user, CSRF: s.csrf, Data: d})
}

// createChannel adds a webhook (with a new secret, shown once) or a shared
// mailbox.
func (h *notifyPages) createChannel(w http.ResponseWriter, r *http.Request, s session) {
	var d channelsData
	d.Form.Kind, d.Form.Name = r.PostFormValue("kind"), strings.TrimSpace(r.PostFormValue("name"))
	d.Form.Target, d.Form.Severity = strings.TrimSpace(r.PostFormValue("target")), r.PostFormValue("severity")
	again := func(status int, msg string) {
		d.Message = msg
		h.showChannels(w, r, s, status, d)
	}
	err := func() error {
		if err := checkName(channelName, d.Form.Name); err != nil {
			return err
		}
		sev, err := parseMinSeverity(d.Form.Severity)
		if err != nil {
			return err
		}
		c := fleet.NotifyChannel{OrgID: s.p.Org, Name: d.Form.Name, Target: d.Form.Target, MinSeverity: sev, Created: h.clock.Now().UTC()}
		switch d.Form.Kind {
		case "webhook":
			c.Kind = fleet.ChannelWebhook
			if err := notify.CheckWebhookURL(c.Target, h.allowPrivate); err != nil {
				if ae := new(notify.AddressError); errors.As(err, &ae) {
					return badForm("The webhook's address " + ae.Error() + ".")
				}
				return badForm("Please enter the webhook's https:// URL, without a user name, password or #fragment.")
			}
			if c.Secret, err = notify.NewSecret(); err != nil {
				return err
			}
		case "email":
			c.Kind = fleet.ChannelEmail
			if fleet.ValidEmail(c.Target) != nil {
				return badForm("Please enter one e-mail address, like alerts@example.com.")
			}
		default:
			return badForm("Please pick webhook or e-mail.")
		}
		id, err := h.channels.CreateNotifyChannel(r.Context(), c)
		if err != nil {
			return err
		}
		h.log.Info("notification channel created", "channel", id, "kind", c.Kind, "by", s.user.ID)
		d.Secret, d.Name = c.Secret, c.Name
		return nil
	}()
	if err != nil {
		h.formFailed(w, r, s, err, again)
		return
	}
	d.Form = channelsData{}.Form
	if d.Secret == "" {
		http.Redirect(w, r, "/admin/notifications", http.StatusSeeOther)
		return
	}
	h.showChannels(w, r, s, http.StatusOK, d)
}

// deleteChannel deletes a channel; what is still queued for it fails.
func (h *notifyPages) deleteChannel(w http.ResponseWriter, r *http.Request, s session) {
	id := fleet.NotifyChannelID(r.PathValue("id"))
	if err := h.channels.DeleteNotifyChannel(r.Context(), s.p.Org, id, h.clock.Now()); err != nil {
		h.formFailed(w, r, s, err, func(status int, msg string) { h.showChannels(w, r, s, status, channelsData{Message: msg}) })
		return
	}
	h.log.Info("notification channel deleted", "channel", id, "by", s.user.ID)
	http.Redirect(w, r, "/admin/notifications", http.StatusSeeOther)
}

// testChannel queues a made-up alert to one channel.
func (h *notifyPages) testChannel(w http.ResponseWriter, r *http.Request, s session) {
	err := func() error {
		c, err := h.channels.NotifyChannel(r.Context(), s.p.Org, fleet.NotifyChannelID(r.PathValue("id")))
		if err != nil {
			return err
		}
		_, err = h.channels.EnqueueDeliveries(r.Context(), []fleet.Delivery{notify.TestDelivery(c, h.clock.Now().UTC())})
		return err
	}()
	if err != nil {
		h.formFailed(w, r, s, err, func(status int, msg string) { h.showChannels(w, r, s, status, channelsData{Message: msg}) })
		return
	}
	http.Redirect(w, r, "/admin/notifications?sent=1", http.StatusSeeOther)
}

// prefsData fills the user's notification preferences page.
type prefsData struct {
	Prefs      fleet.NotifyPrefs
	Severity   string
	Severities []option
	Message    string
	Saved      bool
	// CanChannels: the reader may open the notification channels and
	// their delivery log (an administrator for all sites).
	CanChannels bool
}

// notifyPrefsPage shows the user's own notification preferences.
func (h *notifyPages) notifyPrefsPage(w http.ResponseWriter, r *http.Request, s session) {
	p, err := h.prefs.NotifyPrefs(r.Context(), s.p.Org, s.user.ID)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	h.showNotifyPrefs(w, r, s, http.StatusOK, prefsData{Prefs: p, Saved: r.URL.Query().Get("saved") != ""})
}

func (h *notifyPages) showNotifyPrefs(w http.ResponseWriter, r *http.Request, s session, status int, d prefsData) {
	d.Severities = severityOptions
	d.CanChannels = access.Check(s.p, orgGet, h.clock.Now()) == nil
	if d.Prefs.MinSeverity != fleet.SeverityUnknown {
		d.Severity = d.Prefs.MinSeverity.String()
	}
	h.render(w, r, status, "notify_prefs.html", page{Title: "Notifications", User: &s.user, CSRF: s.csrf, Data: d})
}

// saveNotifyPrefs stores the user's notification preferences. E-mails
// come in the language the page was shown in.
func (h *notifyPages) saveNotifyPrefs(w http.ResponseWriter, r *http.Request, s session) {
	lang, _ := h.locale(r)
	p := fleet.NotifyPrefs{UserID: s.user.ID, OrgID: s.p.Org, Enabled: r.PostFormValue("enabled") != "",
		Email: strings.TrimSpace(r.PostFormValue("email")), Lang: string(lang)}
	again := func(status int, msg string) { h.showNotifyPrefs(w, r, s, status, prefsData{Prefs: p, Message: msg}) }
	err := func() error {
		var err error
		if p.MinSeverity, err = parseMinSeverity(r.PostFormValue("severity")); err != nil {
			return err
		}
		if (p.Enabled || p.Email != "") && fleet.ValidEmail(p.Email) != nil {
			return badForm("Please enter one e-mail address, like ada@example.com.")
		}
		return h.prefs.SetNotifyPrefs(r.Context(), p)
	}()
	if err != nil {
		h.formFailed(w, r, s, err, again)
		return
	}
	http.Redirect(w, r, "/account/notifications?saved=1", http.StatusSeeOther)
}

// channelName is how channel names are checked.
var channelName = nameKind{"Please enter a name for the channel.", "The channel name is too long (at most 128 characters).",
	"The channel name must not contain control characters."}

// attemptStatus names the state of a delivery attempt for people.
func attemptStatus(s fleet.DeliveryStatus) string {
	switch s {
	case fleet.DeliverySent:
		return "sent"
	case fleet.DeliveryPending:
		return "failed, will retry"
	case fleet.DeliveryFailed:
		return "failed, given up"
	}
	return s.String()
}

// kindLabel names a channel kind for people.
func kindLabel(k fleet.ChannelKind) string {
	if k == fleet.ChannelWebhook {
		return "Webhook"
	}
	return "E-mail"
}

// severityLabel names a minimum severity for people (English; the
// template translates it).
func severityLabel(s fleet.Severity) string {
	for _, o := range severityOptions {
		if o.Value == s.String() {
			return o.Label
		}
	}
	return s.String()
}

// channelRow is one channel on the channels page.
type channelRow struct {
	fleet.NotifyChannel
	KindLabel, SeverityLabel string
}

// logRow is one attempt in the delivery log.
type logRow struct {
	fleet.DeliveryAttempt
	KindLabel, StatusLabel string
	OK                     bool
}
