package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/site"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
)

// The Command Center's local UI takes the first free port in this range
// (R-ARCH-6) unless -ui-ports names another.
const uiPortsDefault = "8080-8090"

// uiPorts parses -ui-ports: a range "first-last", one port, or 0 for any
// free port the system picks.
func uiPorts(s string) (first, last int, err error) {
	if s == "0" {
		return 0, 0, nil
	}
	a, b, isRange := strings.Cut(s, "-")
	if !isRange {
		b = a
	}
	first, err1 := strconv.Atoi(a)
	last, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || first < 1 || last > 65535 || first > last {
		return 0, 0, fmt.Errorf("-ui-ports %q: want first-last (1–65535), one port, or 0 for any free port", s)
	}
	return first, last, nil
}

func runCommandCenter(ctx context.Context, args []string, e env) error {
	if len(args) > 0 && args[0] == "check" {
		return runCheck(ctx, args[1:], e)
	}
	if len(args) > 0 && args[0] == "fingerprint" {
		return runFingerprint(args[1:], e)
	}
	if len(args) > 0 && args[0] == "export" {
		return runExport(ctx, args[1:], e)
	}
	if len(args) > 0 && args[0] == "import" {
		return runImport(ctx, args[1:], e)
	}
	fs := newFlagSet("commandcenter", "Run a Command Center: pair with printers by host name or IP (pinning each\n"+
		"printer's certificate on first use, and presenting its own client certificate, whose\n"+
		"fingerprint each printer must pair: see `commandcenter fingerprint`), poll them, keep the local truth in SQLite, and upload\n"+
		"to the cloud over outbound HTTPS only, one connection per payload, with the proxy from\n"+
		"HTTPS_PROXY/NO_PROXY. The enrolment token is read from -enrol-token-file or\n"+
		"FUSIONFLEET_ENROL_TOKEN, never from a flag value.", e)
	data := fs.String("data", envDefault(e, "FUSIONFLEET_CC_DATA", defaultDataDir(e, "commandcenter")), "data `directory` (local store, outbox, credentials)")
	cloudURL := fs.String("cloud", envDefault(e, "FUSIONFLEET_CLOUD", ""), "cloud base `URL` (https://…)")
	caFile := fs.String("ca-file", envDefault(e, "FUSIONFLEET_CA_FILE", ""), "PEM `file` of CAs that verify the cloud (default: system roots)")
	tokenFile := fs.String("enrol-token-file", "", "`file` holding the one-time enrolment token from the cloud (first start only)")
	// The name is sent to the cloud at enrolment, so its default is neutral,
	// never the computer's name (R-PRIV-2).
	name := fs.String("name", "Command Center", "name of this Command Center, sent to the cloud at enrolment and shown there")
	var printers stringList
	fs.Var(&printers, "printer", "printer `host:port` to pair with (repeatable)")
	trust := fs.Bool("trust-new-printers", false, "pin new printers' certificates without asking (only where the LAN is trusted)")
	uiHost := fs.String("ui-host", "127.0.0.1", "interface for the local UI; beyond loopback it is served over HTTPS with a certificate of the Command Center's own CA, and printers fetch updates from -mirror-listen")
	uiHosts := fs.String("ui-hosts", envDefault(e, "FUSIONFLEET_UI_HOSTS", ""), "comma-separated host `names` or IPs, besides localhost, by which browsers reach the local UI (required when -ui-host is not loopback)")
	uiPasswordFile := fs.String("ui-password-file", "", "`file` holding the local UI's password, asked with HTTP Basic authentication, any user name (or FUSIONFLEET_UI_PASSWORD; required when -ui-host is not loopback)")
	uiRange := fs.String("ui-ports", envDefault(e, "FUSIONFLEET_UI_PORTS", uiPortsDefault), "local UI `ports`: the first free one of first-last, or 0 for any free port")
	interval := fs.Duration("poll", 5*time.Second, "status poll interval")
	bulk := fs.Duration("bulk-interval", 5*time.Minute, "how often bulk data (layers, jobs, counters, logs) is uploaded; alerts go at once, a printer's change of state (job started or ended, fault) within 2 s, its routine status within 10 s, each with whatever else is due")
	debugListen := fs.String("debug-listen", "", "loopback `address` (127.0.0.1:6061) serving Go's profiles under /debug/pprof/ (default: off)")
	mtcListen := fs.String("mtconnect", envDefault(e, "FUSIONFLEET_MTCONNECT", ""), "`address` (host:port) where an MTConnect 2.4 agent serves the printers to the site's MES: plain HTTP, read-only, job names included (default: off)")
	mtcBuffer := fs.Int("mtconnect-buffer", 0, "observations the MTConnect agent's circular buffer keeps (0: 131072)")
	mirrorListen := fs.String("mirror-listen", envDefault(e, "FUSIONFLEET_MIRROR_LISTEN", ""), "`address` where printers on the LAN read signed updates (/tuf/ only); the local UI serves them too")
	updateInterval := fs.Duration("update-interval", site.DefaultUpdateInterval, "how often signed updates are mirrored from the cloud for the printers (served under /tuf/ on the local port)")
	rate := fs.Int("uplink-rate", 10000, "uplink bandwidth cap in `bits/s`, TLS handshakes included (whitepaper budget: 25000 for a site)")
	diagPolicy := fs.String("diagnostics", "ask", "remote diagnostics the cloud asks for: ask (approve each in the local UI) or auto (run each at once)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	mqttf := addMQTTFlags(fs, e)
	if err := parse(fs, args, e); err != nil {
		return err
	}
	if *cloudURL == "" {
		fmt.Fprintln(e.stderr, "fusionfleet commandcenter: -cloud is required")
		fs.Usage()
		return errUsage
	}
	uiFirst, uiLast, err := uiPorts(*uiRange)
	if err != nil {
		return err
	}
	logger, err := newLogger(e, *logLevel)
	if err != nil {
		return err
	}
	token, err := readSecret(e, *tokenFile, "FUSIONFLEET_ENROL_TOKEN")
	if err != nil {
		return err
	}
	uiPassword, err := readSecret(e, *uiPasswordFile, "FUSIONFLEET_UI_PASSWORD")
	if err != nil {
		return err
	}
	roots, err := uplink.LoadCertPool(*caFile)
	if err != nil {
		return fmt.Errorf("commandcenter: -ca-file: %w", err)
	}
	mqtt, err := mqttf.options(e)
	if err != nil {
		return fmt.Errorf("commandcenter: %w", err)
	}
	cc, err := site.New(ctx, site.Options{
		DataDir: *data, CloudURL: *cloudURL, RootCAs: roots, EnrolToken: token, Name: *name,
		Printers: printers, TrustNewPrinters: *trust, UIHost: *uiHost, UIHosts: splitList(*uiHosts), UIPassword: uiPassword, UIFirstPort: uiFirst, UILastPort: uiLast,
		MirrorListen: *mirrorListen, MTConnectListen: *mtcListen, MTConnectBufferSize: *mtcBuffer, DebugListen: *debugListen, PollInterval: *interval, BulkInterval: *bulk, UpdateInterval: *updateInterval,
		RateBytes: float64(*rate) / 8, DiagnosticsPolicy: *diagPolicy, MQTT: mqtt, Clock: clock.Real{}, Logger: logger, Stdin: e.stdin, Stdout: e.stdout,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "commandcenter: %s\n", cc.URL())
	if ca := cc.UICAFile(); ca != "" {
		fmt.Fprintf(e.stdout, "local UI certificate authority: %s (let the site's browsers trust it once)\n", ca)
	}
	fmt.Fprintf(e.stdout, "fingerprint: %s\n", cc.Fingerprint())
	if addr := cc.MirrorAddr(); addr != nil {
		fmt.Fprintf(e.stdout, "update mirror: http://%s (printers: -update-url)\n", addr)
	}
	if u := cc.MTConnectURL(); u != "" {
		fmt.Fprintf(e.stdout, "mtconnect: %s\n", u)
	}
	if mqtt.URL != "" {
		fmt.Fprintf(e.stdout, "mqtt: %s %s\n", mqtt.URL, mqtt.Prefix)
	}
	return cc.Run(ctx)
}

// runCheck is `fusionfleet commandcenter check`: the connectivity self-test
// of the whitepaper's checklist (R-ARCH-9), printed; exit status 1 when a
// check failed.
func runCheck(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("commandcenter check", "Check a Command Center's connectivity: the cloud reachable through the proxy the\n"+
		"environment selects, its certificate valid, the clocks in step, every paired printer\n"+
		"reachable with its pinned certificate, a local port for the UI (-ui-ports), the host's sleep settings.", e)
	data := fs.String("data", envDefault(e, "FUSIONFLEET_CC_DATA", defaultDataDir(e, "commandcenter")), "data `directory` of the Command Center")
	cloudURL := fs.String("cloud", envDefault(e, "FUSIONFLEET_CLOUD", ""), "cloud base `URL` (https://…)")
	caFile := fs.String("ca-file", envDefault(e, "FUSIONFLEET_CA_FILE", ""), "PEM `file` of CAs that verify the cloud (default: system roots)")
	uiHost := fs.String("ui-host", "127.0.0.1", "interface for the local UI; beyond loopback it is served over HTTPS with a certificate of the Command Center's own CA, and printers fetch updates from -mirror-listen")
	uiRange := fs.String("ui-ports", envDefault(e, "FUSIONFLEET_UI_PORTS", uiPortsDefault), "local UI `ports` to check: first-last, one port, or 0 for any free port")
	if err := parse(fs, args, e); err != nil {
		return err
	}
	if *cloudURL == "" {
		fmt.Fprintln(e.stderr, "fusionfleet commandcenter check: -cloud is required")
		fs.Usage()
		return errUsage
	}
	roots, err := uplink.LoadCertPool(*caFile)
	if err != nil {
		return fmt.Errorf("check: -ca-file: %w", err)
	}
	uiFirst, uiLast, err := uiPorts(*uiRange)
	if err != nil {
		return err
	}
	rep, err := site.Check(ctx, site.Options{DataDir: *data, CloudURL: *cloudURL, RootCAs: roots,
		UIHost: *uiHost, UIFirstPort: uiFirst, UILastPort: uiLast})
	if err != nil {
		return err
	}
	if err := rep.WriteText(e.stdout); err != nil {
		return err
	}
	if rep.Failed() {
		return errors.New("check: some checks failed")
	}
	return nil
}

// runFingerprint is `fusionfleet commandcenter fingerprint`: it prints the
// fingerprint of the Command Center's client certificate, making the
// certificate if this is the first time, so that the operator can pair the
// Command Center at the printers before it first starts.
func runFingerprint(args []string, e env) error {
	fs := newFlagSet("commandcenter fingerprint", "Print this Command Center's client certificate fingerprint (SHA-256), making the\n"+
		"certificate on first use. Printers serve private fields and logs only to a Command Center\n"+
		"paired at the printer with this fingerprint (virtual printers: -pair).", e)
	data := fs.String("data", envDefault(e, "FUSIONFLEET_CC_DATA", defaultDataDir(e, "commandcenter")), "data `directory` of the Command Center")
	if err := parse(fs, args, e); err != nil {
		return err
	}
	fp, err := site.Fingerprint(*data, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, fp)
	return nil
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }
