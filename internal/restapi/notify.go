package restapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/i18n"
	"github.com/fusionfleet/fusionfleet/internal/notify"
)

const (
	defaultDeliveryLimit = 100
	maxDeliveryLimit     = 1000
)

// channelJSON is a channel as the API shows it; Secret only once, in the
// answer that created it.
type channelJSON struct {
	fleet.NotifyChannel
	Secret string `json:"secret,omitempty"`
}

// notificationChannels lists the organisation's channels, without secrets.
func (h *notifyAPI) notificationChannels(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	cs, err := h.channels.NotifyChannels(r.Context(), p.Org)
	if err != nil {
		return err
	}
	out := []channelJSON{}
	for _, c := range cs {
		out = append(out, channelJSON{NotifyChannel: c})
	}
	h.encode(w, http.StatusOK, out)
	return nil
}

type createChannelJSON struct {
	Kind        fleet.ChannelKind `json:"kind"`
	Name        string            `json:"name"`
	Target      string            `json:"target"`
	MinSeverity fleet.Severity    `json:"min_severity"`
}

// createNotificationChannel adds a webhook (its new secret in the answer,
// the only time it is shown) or a shared mailbox.
func (h *notifyAPI) createNotificationChannel(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	var in createChannelJSON
	if err := decode(r.Body, &in); err != nil {
		return err
	}
	c := fleet.NotifyChannel{OrgID: p.Org, Kind: in.Kind, Name: strings.TrimSpace(in.Name), Target: strings.TrimSpace(in.Target),
		MinSeverity: in.MinSeverity, Created: h.clock.Now().UTC()}
	switch {
	case c.Name == "" || len(c.Name) > 128:
		return badRequest("name is required, at most 128 characters.")
	case c.MinSeverity == fleet.SeverityUnknown:
		return badRequest("min_severity must be one of info, warning, error, critical.")
	}
	switch c.Kind {
	case fleet.ChannelWebhook:
		if err := notify.CheckWebhookURL(c.Target, h.allowPrivate); err != nil {
			if ae := new(notify.AddressError); errors.As(err, &ae) {
				return badRequest("target: " + ae.Error() + ".")
			}
			return badRequest("target must be an https:// URL without user name, password or fragment.")
		}
		var err error
		if c.Secret, err = notify.NewSecret(); err != nil {
			return err
		}
	case fleet.ChannelEmail:
		if fleet.ValidEmail(c.Target) != nil {
			return badRequest("target must be one e-mail address, like alerts@example.com.")
		}
	default:
		return badRequest("kind must be webhook or email.")
	}
	id, err := h.channels.CreateNotifyChannel(r.Context(), c)
	if err != nil {
		return err
	}
	c.ID = id
	h.log.Info("notification channel created", "channel", id, "kind", c.Kind, "by", p.User.ID)
	h.encode(w, http.StatusCreated, channelJSON{NotifyChannel: c, Secret: c.Secret})
	return nil
}

// deleteNotificationChannel deletes a channel; what is still queued for it
// fails.
func (h *notifyAPI) deleteNotificationChannel(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	id := fleet.NotifyChannelID(r.PathValue("id"))
	if err := h.channels.DeleteNotifyChannel(r.Context(), p.Org, id, h.clock.Now()); err != nil {
		return err
	}
	h.log.Info("notification channel deleted", "channel", id, "by", p.User.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// testNotificationChannel queues a made-up alert to a channel.
func (h *notifyAPI) testNotificationChannel(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	c, err := h.channels.NotifyChannel(r.Context(), p.Org, fleet.NotifyChannelID(r.PathValue("id")))
	if err != nil {
		return err
	}
	d := notify.TestDelivery(c, h.clock.Now().UTC())
	if _, err := h.channels.EnqueueDeliveries(r.Context(), []fleet.Delivery{d}); err != nil {
		return err
	}
	h.encode(w, http.StatusAccepted, map[string]fleet.AlertID{"alert_id": d.Alert.ID})
	return nil
}

// deliveries is the delivery log: the newest attempts first.
func (h *notifyAPI) deliveries(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	limit, err := intParam(r.URL.Query(), "limit", defaultDeliveryLimit, 1, maxDeliveryLimit)
	if err != nil {
		return err
	}
	log, err := h.channels.DeliveryLog(r.Context(), p.Org, limit)
	if err != nil {
		return err
	}
	h.encode(w, http.StatusOK, nonNil(log))
	return nil
}

// notificationPrefs are the caller's own notification preferences.
func (h *notifyAPI) notificationPrefs(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	prefs, err := h.prefs.NotifyPrefs(r.Context(), p.Org, p.User.ID)
	if err != nil {
		return err
	}
	h.encode(w, http.StatusOK, prefs)
	return nil
}

// setNotificationPrefs replaces the caller's notification preferences.
func (h *notifyAPI) setNotificationPrefs(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	var in fleet.NotifyPrefs
	if err := decode(r.Body, &in); err != nil {
		return err
	}
	in.UserID, in.OrgID, in.Email = p.User.ID, p.Org, strings.TrimSpace(in.Email)
	switch {
	case in.MinSeverity == fleet.SeverityUnknown:
		return badRequest("min_severity must be one of info, warning, error, critical.")
	case (in.Enabled || in.Email != "") && fleet.ValidEmail(in.Email) != nil:
		return badRequest("email must be one e-mail address, like ada@example.com.")
	case in.Lang != "":
		if l, ok := i18n.Parse(in.Lang); !ok || string(l) != in.Lang {
			return badRequest("lang must be en or de.")
		}
	}
	if err := h.prefs.SetNotifyPrefs(r.Context(), in); err != nil {
		return err
	}
	return h.notificationPrefs(w, r, p)
}
