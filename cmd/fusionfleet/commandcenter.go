package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/selfupdate"
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
	if len(args) > 0 {
		switch args[0] {
		case "check":
			return runCheck(ctx, args[1:], e)
		case "fingerprint":
			return runFingerprint(args[1:], e)
		case "discover":
			return runDiscover(ctx, args[1:], e)
		case "config":
			return runConfig(args[1:], e)
		case "install":
			return runInstall(ctx, args[1:], e)
		case "uninstall":
			return runUninstall(ctx, args[1:], e)
		case "export":
			return runExport(ctx, args[1:], e)
		case "import":
			return runImport(ctx, args[1:], e)
		case "upgrade-probe":
			return runUpgradeProbe(ctx, args[1:], e)
		}
	}
	e, closeLog, isService, err := serviceEnv(e)
	if err != nil {
		return err
	}
	defer closeLog()
	fs, f := newCCFlags("commandcenter", "Run a Command Center: pair with printers by host name or IP (pinning each\n"+
		"printer's certificate on first use, and presenting its own client certificate, whose\n"+
		"fingerprint each printer must pair: see `commandcenter fingerprint`), poll them, keep the local truth in SQLite, and upload\n"+
		"to the cloud over outbound HTTPS only, one connection per payload, with the proxy from\n"+
		"HTTPS_PROXY/NO_PROXY. The enrolment token is read from -enrol-token-file or\n"+
		"FUSIONFLEET_ENROL_TOKEN, never from a flag value. Settings may come from a config file\n"+
		"(-config; docs/config.md): flags, then environment variables, then the file, then defaults.\n"+
		"It updates itself from signed releases for its platform unless -self-update=false\n"+
		"(docs/install.md, Upgrading).\n"+
		"Subcommands: check, fingerprint, discover, config check, install, uninstall, upgrade-probe.", e)
	if _, err := f.parse(fs, args, e); err != nil {
		return err
	}
	if *f.cloudURL == "" {
		fmt.Fprintln(e.stderr, "fusionfleet commandcenter: -cloud is required")
		fs.Usage()
		return errUsage
	}
	// Before anything is opened: finish what an upgrade left, and count
	// this start if it is an upgrade's trial.
	exe, swapper, err := selfUpdateStart(*f.data, *f.selfUpdateHealth)
	argv := append([]string{exe, "commandcenter"}, args...)
	if errors.Is(err, selfupdate.ErrRestart) {
		closeLog()
		return restartInto(exe, argv)
	}
	if err != nil {
		return err
	}
	if brokenForTest != "" {
		return errBroken
	}
	opts, err := f.options(e)
	if err != nil {
		return err
	}
	opts.Clock, opts.Stdin, opts.Stdout = clock.Real{}, e.stdin, e.stdout
	opts.SelfUpdate = site.SelfUpdate{Swapper: swapper, Enabled: *f.selfUpdate, Version: buildVersion(),
		Probe: probeCommand(args), ProbeTimeout: *f.selfUpdateProbe}
	if *f.selfUpdateRoot != "" {
		if opts.SelfUpdate.Root, err = pinnedRoot(*f.selfUpdateRoot); err != nil {
			return fmt.Errorf("commandcenter: -self-update-root: %w", err)
		}
	}
	cc, err := site.New(ctx, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "version: %s\n", buildVersion())
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
	if opts.MQTT.URL != "" {
		fmt.Fprintf(e.stdout, "mqtt: %s %s\n", opts.MQTT.URL, opts.MQTT.Prefix)
	}
	if isService {
		err = runService(ctx, cc.Run)
	} else {
		err = cc.Run(ctx)
	}
	if errors.Is(err, selfupdate.ErrRestart) {
		closeLog()
		return restartInto(exe, argv)
	}
	return err
}

// ccFlags are the Command Center's flags; the config file sets the same.
type ccFlags struct {
	config, data, cloudURL, caFile, tokenFile, name, printersCSV     *string
	uiHost, uiHosts, uiPasswordFile, uiRange, debugListen, mtcListen *string
	mirrorListen, diagPolicy, logLevel                               *string
	printers                                                         stringList
	trust, keepAwake, selfUpdate                                     *bool
	interval, bulk, updateInterval                                   *time.Duration
	selfUpdateHealth, selfUpdateProbe                                *time.Duration
	selfUpdateRoot                                                   *string
	mtcBuffer, rate                                                  *int
	mqtt                                                             *mqttFlags
}

func newCCFlags(name, synopsis string, e env) (*flag.FlagSet, *ccFlags) {
	fs := newFlagSet(name, synopsis, e)
	f := &ccFlags{}
	f.config = fs.String("config", envDefault(e, "FUSIONFLEET_CC_CONFIG", ""), "config `file`: key = value lines named as these flags (docs/config.md)")
	f.data = fs.String("data", envDefault(e, "FUSIONFLEET_CC_DATA", defaultDataDir(e, "commandcenter")), "data `directory` (local store, outbox, credentials)")
	f.cloudURL = fs.String("cloud", envDefault(e, "FUSIONFLEET_CLOUD", ""), "cloud base `URL` (https://…)")
	f.caFile = fs.String("ca-file", envDefault(e, "FUSIONFLEET_CA_FILE", ""), "PEM `file` of CAs that verify the cloud (default: system roots)")
	f.tokenFile = fs.String("enrol-token-file", "", "`file` holding the one-time enrolment token from the cloud (first start only)")
	// The name is sent to the cloud at enrolment, so its default is neutral,
	// never the computer's name (R-PRIV-2).
	f.name = fs.String("name", "Command Center", "name of this Command Center, sent to the cloud at enrolment and shown there")
	fs.Var(&f.printers, "printer", "printer `host:port` to pair with (repeatable; on the command line, replaces the config file's)")
	f.printersCSV = fs.String("printers-csv", envDefault(e, "FUSIONFLEET_PRINTERS_CSV", ""), "CSV `file` of printers to pair with besides -printer: host:port in the first column, an optional header \"address,…\"")
	f.trust = fs.Bool("trust-new-printers", false, "pin new printers' certificates without asking (only where the LAN is trusted)")
	f.uiHost = fs.String("ui-host", "127.0.0.1", "interface for the local UI; beyond loopback it is served over HTTPS with a certificate of the Command Center's own CA, and printers fetch updates from -mirror-listen")
	f.uiHosts = fs.String("ui-hosts", envDefault(e, "FUSIONFLEET_UI_HOSTS", ""), "comma-separated host `names` or IPs, besides localhost, by which browsers reach the local UI (required when -ui-host is not loopback)")
	f.uiPasswordFile = fs.String("ui-password-file", "", "`file` holding the local UI's password, asked with HTTP Basic authentication, any user name (or FUSIONFLEET_UI_PASSWORD; required when -ui-host is not loopback)")
	f.uiRange = fs.String("ui-ports", envDefault(e, "FUSIONFLEET_UI_PORTS", uiPortsDefault), "local UI `ports`: the first free one of first-last, or 0 for any free port")
	f.interval = fs.Duration("poll", 5*time.Second, "status poll interval")
	f.bulk = fs.Duration("bulk-interval", 5*time.Minute, "how often bulk data (layers, jobs, counters, logs) is uploaded; alerts go at once, a printer's change of state (job started or ended, fault) within 2 s, its routine status within 10 s, each with whatever else is due")
	f.debugListen = fs.String("debug-listen", "", "loopback `address` (127.0.0.1:6061) serving Go's profiles under /debug/pprof/ (default: off)")
	f.mtcListen = fs.String("mtconnect", envDefault(e, "FUSIONFLEET_MTCONNECT", ""), "`address` (host:port) where an MTConnect 2.4 agent serves the printers to the site's MES: plain HTTP, read-only, job names included (default: off)")
	f.mtcBuffer = fs.Int("mtconnect-buffer", 0, "observations the MTConnect agent's circular buffer keeps (0: 131072)")
	f.mirrorListen = fs.String("mirror-listen", envDefault(e, "FUSIONFLEET_MIRROR_LISTEN", ""), "`address` where printers on the LAN read signed updates (/tuf/ only); the local UI serves them too")
	f.updateInterval = fs.Duration("update-interval", site.DefaultUpdateInterval, "how often signed updates are mirrored from the cloud for the printers (served under /tuf/ on the local port)")
	f.rate = fs.Int("uplink-rate", 10000, "uplink bandwidth cap in `bits/s`, TLS handshakes included (whitepaper budget: 25000 for a site)")
	f.diagPolicy = fs.String("diagnostics", "ask", "remote diagnostics the cloud asks for: ask (approve each in the local UI) or auto (run each at once)")
	f.logLevel = fs.String("log-level", "info", "log level: debug, info, warn, error")
	f.keepAwake = fs.Bool("keep-awake", true, "keep this computer from sleeping while the Command Center runs (Linux: a logind inhibitor via systemd-inhibit; Windows: the execution state); the self-test warns when it cannot")
	f.selfUpdate = fs.Bool("self-update", true, "update this Command Center itself from signed releases for its platform (commandcenter targets), verified as printers verify theirs; a release that does not come up healthy is rolled back and never tried again")
	f.selfUpdateRoot = fs.String("self-update-root", envDefault(e, "FUSIONFLEET_SELF_UPDATE_ROOT", ""), "TUF root metadata `file` this Command Center trusts for its own releases (default: the first root its mirror fetched from the cloud, pinned on first use)")
	f.selfUpdateHealth = fs.Duration("self-update-health-timeout", selfupdate.DefaultHealthTimeout, "how long a new release has, from its first start, to become healthy (local UI serving, a printer polled) before it is rolled back")
	f.selfUpdateProbe = fs.Duration("self-update-probe-timeout", selfupdate.DefaultProbeTimeout, "how long a new release's probe (commandcenter upgrade-probe) may take before the release is refused")
	f.mqtt = addMQTTFlags(fs, e)
	return fs, f
}

// parse parses the command line, then applies the config file to the
// flags the command line and the environment left alone.
// It returns the line that set each flag the file set.
func (f *ccFlags) parse(fs *flag.FlagSet, args []string, e env) (map[string]int, error) {
	if err := parse(fs, args, e); err != nil {
		return nil, err
	}
	return loadConfig(fs, *f.config, e.getenv)
}

// options checks the settings together and reads the secrets and files
// they name: everything site.New needs but the clock and the terminal.
func (f *ccFlags) options(e env) (site.Options, error) {
	if *f.cloudURL == "" {
		return site.Options{}, errors.New("commandcenter: -cloud (or cloud in the config file) is required")
	}
	uiFirst, uiLast, err := uiPorts(*f.uiRange)
	if err != nil {
		return site.Options{}, err
	}
	logger, err := newLogger(e, *f.logLevel)
	if err != nil {
		return site.Options{}, err
	}
	printers := slices.Clone([]string(f.printers))
	if *f.printersCSV != "" {
		more, err := readPrintersCSV(*f.printersCSV)
		if err != nil {
			return site.Options{}, err
		}
		for _, p := range more {
			if !slices.Contains(printers, p) {
				printers = append(printers, p)
			}
		}
	}
	token, err := readSecret(e, *f.tokenFile, "FUSIONFLEET_ENROL_TOKEN")
	if err != nil {
		return site.Options{}, err
	}
	uiPassword, err := readSecret(e, *f.uiPasswordFile, "FUSIONFLEET_UI_PASSWORD")
	if err != nil {
		return site.Options{}, err
	}
	roots, err := uplink.LoadCertPool(*f.caFile)
	if err != nil {
		return site.Options{}, fmt.Errorf("commandcenter: -ca-file: %w", err)
	}
	mqtt, err := f.mqtt.options(e)
	if err != nil {
		return site.Options{}, fmt.Errorf("commandcenter: %w", err)
	}
	return site.Options{
		DataDir: *f.data, CloudURL: *f.cloudURL, RootCAs: roots, EnrolToken: token, Name: *f.name,
		Printers: printers, TrustNewPrinters: *f.trust, UIHost: *f.uiHost, UIHosts: splitList(*f.uiHosts), UIPassword: uiPassword, UIFirstPort: uiFirst, UILastPort: uiLast,
		MirrorListen: *f.mirrorListen, MTConnectListen: *f.mtcListen, MTConnectBufferSize: *f.mtcBuffer, DebugListen: *f.debugListen, PollInterval: *f.interval, BulkInterval: *f.bulk, UpdateInterval: *f.updateInterval,
		RateBytes: float64(*f.rate) / 8, DiagnosticsPolicy: *f.diagPolicy, MQTT: mqtt, KeepAwake: *f.keepAwake, Logger: logger,
	}, nil
}

// runCheck is `fusionfleet commandcenter check`: the connectivity self-test
// of the whitepaper's checklist (R-ARCH-9), printed; exit status 1 when a
// check failed.
func runCheck(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("commandcenter check", "Check a Command Center's connectivity: the cloud reachable through the proxy the\n"+
		"environment selects, its certificate valid, the clocks in step, every paired printer\n"+
		"reachable with its pinned certificate, a local port for the UI (-ui-ports), the host's sleep settings.\n"+
		"It reads the Command Center's config file too (-config).", e)
	config := fs.String("config", envDefault(e, "FUSIONFLEET_CC_CONFIG", ""), "the Command Center's config `file` (docs/config.md)")
	data := fs.String("data", envDefault(e, "FUSIONFLEET_CC_DATA", defaultDataDir(e, "commandcenter")), "data `directory` of the Command Center")
	cloudURL := fs.String("cloud", envDefault(e, "FUSIONFLEET_CLOUD", ""), "cloud base `URL` (https://…)")
	caFile := fs.String("ca-file", envDefault(e, "FUSIONFLEET_CA_FILE", ""), "PEM `file` of CAs that verify the cloud (default: system roots)")
	uiHost := fs.String("ui-host", "127.0.0.1", "interface for the local UI; beyond loopback it is served over HTTPS with a certificate of the Command Center's own CA, and printers fetch updates from -mirror-listen")
	uiRange := fs.String("ui-ports", envDefault(e, "FUSIONFLEET_UI_PORTS", uiPortsDefault), "local UI `ports` to check: first-last, one port, or 0 for any free port")
	if err := parse(fs, args, e); err != nil {
		return err
	}
	if _, err := loadConfig(fs, *config, e.getenv); err != nil {
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
