package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/mqttfeed"
)

// demoListen listens on loopback at the port the demo used for this
// listener last time (kept in portFile), so that addresses stay the same
// across restarts of one data directory; when that port is taken it takes
// another and says so on stderr.
func demoListen(ctx context.Context, e env, portFile, what string) (net.Listener, error) {
	ln, taken, err := listenRemembered(ctx, portFile, "127.0.0.1")
	if err != nil {
		return nil, fmt.Errorf("demo: %s: %w", what, err)
	}
	if taken != 0 {
		fmt.Fprintf(e.stderr, "demo: %s: port %d of the last start is taken; now on port %d (kept for the next start)\n",
			what, taken, ln.Addr().(*net.TCPAddr).Port)
	}
	return ln, nil
}

// demoCheckCommand is the `commandcenter check` command line that checks
// the demo's Command Center against its cloud: the uplink's HTTPS URL (the
// dashboard's plain one would not do), the CA that verifies it, the
// Command Center's data directory and, when not the default, its UI ports.
func demoCheckCommand(cloudURL, caFile, dataDir, uiPorts string) string {
	args := []string{"fusionfleet", "commandcenter", "check", "-cloud", cloudURL, "-ca-file", caFile, "-data", dataDir}
	if uiPorts != uiPortsDefault {
		args = append(args, "-ui-ports", uiPorts)
	}
	for i, a := range args {
		args[i] = shellQuote(a)
	}
	return strings.Join(args, " ")
}

// shellQuote quotes s for a POSIX shell when it holds anything but
// characters a shell leaves alone, so that a printed command pastes as is.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._:,@%+=-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// demoBroker is where the demo looks for an MQTT broker with -mqtt auto.
const demoBroker = "127.0.0.1:1883"

// demoMQTTPrefix is the topic prefix of the demo's MQTT feed.
const demoMQTTPrefix = "fusionfleet/demo"

// demoMQTT returns the demo's MQTT feed for -mqtt value: off, a broker
// URL, or auto, which is mqtt://probe when a broker answers there within
// a second and no feed otherwise.
func demoMQTT(ctx context.Context, value, probe string) (mqttfeed.Options, error) {
	switch value {
	case "off", "":
		return mqttfeed.Options{}, nil
	case "auto":
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", probe)
		if err != nil {
			return mqttfeed.Options{}, nil
		}
		c.Close()
		value = "mqtt://" + probe
	}
	o := mqttfeed.Options{URL: value, Prefix: demoMQTTPrefix}
	if err := o.Validate(); err != nil {
		return mqttfeed.Options{}, fmt.Errorf("demo: -mqtt: %w", err)
	}
	return o, nil
}
