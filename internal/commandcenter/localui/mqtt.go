package localui

import (
	"github.com/fusionfleet/fusionfleet/internal/i18n"
	"github.com/fusionfleet/fusionfleet/internal/mqttfeed"
)

// MQTTFeed is the site's feed to its MQTT broker, as the Printers page
// shows it; *mqttfeed.Feed is one.
type MQTTFeed interface {
	State() mqttfeed.State
}

// feedView is the feed's state in words.
type feedView struct {
	Class, Text string
}

// mqttWords says s in words of lang: connected, retrying (since when,
// why), what waits and what was dropped.
func mqttWords(lang i18n.Lang, s mqttfeed.State) feedView {
	var v feedView
	switch {
	case s.Connected:
		v = feedView{"ok", lang.T("MQTT feed to %s (topics %s/…): connected since %s", s.Broker, s.Prefix, stamp(lang, s.Since))}
	case s.LastError != "":
		v = feedView{"bad", lang.T("MQTT feed to %s: retrying since %s, last error at %s: %s", s.Broker, stamp(lang, s.Since),
			stamp(lang, s.LastErrorAt), s.LastError)}
	default:
		v = feedView{"", lang.T("MQTT feed to %s: connecting", s.Broker)}
	}
	if s.Queued > 0 && !s.Connected {
		v.Text += " · " + lang.T("%d messages waiting", s.Queued)
	}
	if s.Dropped > 0 {
		v.Text += " · " + lang.T("%d messages dropped from the full queue", s.Dropped)
	}
	return v
}
