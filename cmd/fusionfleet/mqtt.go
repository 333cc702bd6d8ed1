package main

import (
	"flag"
	"fmt"

	"github.com/fusionfleet/fusionfleet/internal/mqttfeed"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
)

// mqttFlags are the Command Center's flags of its MQTT feed (docs/mqtt.md).
type mqttFlags struct {
	url, prefix, user, passwordFile, caFile *string
	allowList                               *bool
}

func addMQTTFlags(fs *flag.FlagSet, e env) *mqttFlags {
	return &mqttFlags{
		url: fs.String("mqtt", envDefault(e, "FUSIONFLEET_MQTT", ""),
			"MQTT broker `URL` (mqtt://host:1883 or mqtts://host:8883) to publish printer state, events and job changes to (default: off)"),
		prefix: fs.String("mqtt-prefix", envDefault(e, "FUSIONFLEET_MQTT_PREFIX", mqttfeed.DefaultPrefix),
			"MQTT topic `prefix`: topics are prefix/status and prefix/printers/ID/{state,events,jobs}"),
		user: fs.String("mqtt-user", envDefault(e, "FUSIONFLEET_MQTT_USER", ""),
			"MQTT user `name` (default: anonymous); the password comes from -mqtt-password-file or FUSIONFLEET_MQTT_PASSWORD"),
		passwordFile: fs.String("mqtt-password-file", "", "`file` holding the MQTT password"),
		caFile: fs.String("mqtt-ca-file", envDefault(e, "FUSIONFLEET_MQTT_CA_FILE", ""),
			"PEM `file` of CAs that verify an mqtts broker (default: system roots)"),
		allowList: fs.Bool("mqtt-allow-list", envBool(e, "FUSIONFLEET_MQTT_ALLOW_LIST"),
			"send the MQTT feed through the uplink's privacy allow-list: no job, part, user or computer names, no printer addresses (default: names stay in the LAN, as on the local UI)"),
	}
}

// options returns the feed's options; a zero URL when -mqtt is not set.
func (f *mqttFlags) options(e env) (mqttfeed.Options, error) {
	if *f.url == "" {
		return mqttfeed.Options{}, nil
	}
	password, err := readSecret(e, *f.passwordFile, "FUSIONFLEET_MQTT_PASSWORD")
	if err != nil {
		return mqttfeed.Options{}, fmt.Errorf("-mqtt-password-file: %w", err)
	}
	roots, err := uplink.LoadCertPool(*f.caFile)
	if err != nil {
		return mqttfeed.Options{}, fmt.Errorf("-mqtt-ca-file: %w", err)
	}
	o := mqttfeed.Options{URL: *f.url, Prefix: *f.prefix, Username: *f.user, Password: password, RootCAs: roots, AllowList: *f.allowList}
	if o.Prefix == "" {
		o.Prefix = mqttfeed.DefaultPrefix
	}
	if err := o.Validate(); err != nil {
		return mqttfeed.Options{}, fmt.Errorf("-mqtt: %w", err)
	}
	return o, nil
}
