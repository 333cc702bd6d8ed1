package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/cloud"
	"github.com/fusionfleet/fusionfleet/internal/stream"
)

func runCloud(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("cloud", "Run a cloud node: the uplink for Command Centers, the JetStream stream, the store\n"+
		"and the dashboard, all on one HTTPS listener. On first start it creates an organisation,\n"+
		"an admin user and an enrolment token for a first site, and prints them once.", e)
	data := fs.String("data", envDefault(e, "FUSIONFLEET_CLOUD_DATA", defaultDataDir(e, "cloud")), "data `directory` (store, stream, certificates)")
	listen := fs.String("listen", envDefault(e, "FUSIONFLEET_CLOUD_LISTEN", "127.0.0.1:8443"), "HTTPS listen `address`")
	db := fs.String("db", envDefault(e, "FUSIONFLEET_DB", ""), "store: a SQLite file `path` (default: cloud.db in the data directory) or a postgres://… URL")
	maxDBSize := fs.Int64("max-db-size", 0, "cap of a SQLite store's file in `bytes` (default 0: none): past it the node stores nothing more, logs an error\n"+
		"and keeps what arrives in its stream until the cap is raised and the node restarted")
	// Not envDefault: the usage would print a password in $FUSIONFLEET_NATS.
	natsURL := fs.String("nats", "", "external NATS JetStream `URL[,URL…]` (default $FUSIONFLEET_NATS, else the embedded server, stored\n"+
		"in the data directory and reached in-process only); a user and password in the URL only from $FUSIONFLEET_NATS, never this flag")
	natsAuth := addNATSFlags(fs, e)
	replicas := fs.Int("replicas", 1, "JetStream stream replicas (more than 1 needs an external NATS cluster)")
	hosts := fs.String("hosts", "localhost,127.0.0.1", "comma-separated host names or IPs for the generated server certificate")
	certFile := fs.String("tls-cert", "", "server certificate `file` (PEM) from your PKI; default: a certificate from a CA generated in the data directory")
	keyFile := fs.String("tls-key", "", "server key `file` (PEM) for -tls-cert")
	org := fs.String("org", "My organisation", "name of the organisation created on first start")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	nf := addNotifyFlags(fs, e)
	tufRepo := fs.String("tuf-repo", envDefault(e, "FUSIONFLEET_TUF_REPO", ""), "update repository `directory` from 'fusionfleet release export' (default: tuf in the data directory)")
	releaseToken := fs.String("release-token-file", envDefault(e, "FUSIONFLEET_RELEASE_TOKEN_FILE", ""), "`file` holding the token 'fusionfleet release publish' must present (default: publishing disabled)")
	debugListen := fs.String("debug-listen", "", "loopback `address` (127.0.0.1:6060) serving Go's profiles under /debug/pprof/ (default: off)")
	metricsToken := fs.String("metrics-token-file", envDefault(e, "FUSIONFLEET_METRICS_TOKEN_FILE", ""), "`file` holding the bearer token /metrics asks for (default: metrics are public)")
	maxAhead := fs.Duration("max-record-ahead", 24*time.Hour, "refuse records dated further ahead of this node's clock (a wrong clock); negative: no bound, for virtual printers on an accelerated clock")
	proxiesFlag := fs.String("trusted-proxies", envDefault(e, "FUSIONFLEET_TRUSTED_PROXIES", ""),
		"comma-separated `addresses or CIDRs` of reverse proxies in front of the dashboard: from them, the client address the login throttle counts is taken from X-Forwarded-For (default: none, the header is ignored)")
	if err := parse(fs, args, e); err != nil {
		return err
	}
	proxies, err := parsePrefixes(*proxiesFlag)
	if err != nil {
		return fmt.Errorf("cloud: -trusted-proxies: %w", err)
	}
	if *maxDBSize < 0 {
		return fmt.Errorf("cloud: -max-db-size %d < 0", *maxDBSize)
	}
	if *maxAhead == 0 {
		return fmt.Errorf("cloud: -max-record-ahead 0: give a duration, or a negative one for no bound")
	}
	logger, err := newLogger(e, *logLevel)
	if err != nil {
		return err
	}
	if (*certFile == "") != (*keyFile == "") {
		return fmt.Errorf("cloud: -tls-cert and -tls-key go together")
	}
	notify, err := nf.options()
	if err != nil {
		return err
	}
	natsCreds, natsTLS, err := natsAuth.options(fs, e)
	if err != nil {
		return err
	}
	*natsURL = cmp.Or(*natsURL, e.getenv("FUSIONFLEET_NATS"))
	node, err := cloud.New(ctx, cloud.Options{
		DataDir: *data, DB: *db, MaxDBSize: *maxDBSize, NATSURL: *natsURL, NATSCredentials: natsCreds, NATSTLS: natsTLS, Replicas: *replicas, Listen: *listen,
		Hosts: splitList(*hosts), TLSCertFile: *certFile, TLSKeyFile: *keyFile,
		Logger: logger, Notify: notify, TUFDir: *tufRepo, ReleaseTokenFile: *releaseToken,
		MetricsTokenFile: *metricsToken, DebugListen: *debugListen, MaxRecordAhead: *maxAhead, TrustedProxies: proxies,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "cloud: %s\n", node.URL())
	if node.CAPath() != "" {
		fmt.Fprintf(e.stdout, "ca: %s (give it to Command Centers with -ca-file)\n", node.CAPath())
	}
	first, err := node.Bootstrap(ctx, *org)
	if err != nil {
		node.Close()
		return err
	}
	if first != nil {
		fmt.Fprintf(e.stdout, "login: %s %s\n", first.User, first.Password)
		fmt.Fprintf(e.stdout, "enrolment token for %s (valid %g h, shown once): %s\n", first.Site, first.TokenValid.Hours(), first.EnrolmentToken)
	}
	return node.Run(ctx)
}

// natsFlags are how a cloud node authenticates to an external NATS and
// secures the connection, in the ways nats-server offers. Secrets come
// from files or the environment, never from flag values (they would show
// in ps).
type natsFlags struct {
	user, passwordFile, tokenFile, nkeyFile, credsFile *string
	ca, cert, key                                      *string
}

// addNATSFlags registers the NATS credential and TLS flags on fs; each
// falls back to an environment variable.
func addNATSFlags(fs *flag.FlagSet, e env) *natsFlags {
	return &natsFlags{
		user: fs.String("nats-user", envDefault(e, "FUSIONFLEET_NATS_USER", ""),
			"NATS user `name`, with -nats-password-file"),
		passwordFile: fs.String("nats-password-file", envDefault(e, "FUSIONFLEET_NATS_PASSWORD_FILE", ""),
			"`file` holding the NATS password (default $FUSIONFLEET_NATS_PASSWORD)"),
		tokenFile: fs.String("nats-token-file", envDefault(e, "FUSIONFLEET_NATS_TOKEN_FILE", ""),
			"`file` holding the NATS token (default $FUSIONFLEET_NATS_TOKEN)"),
		nkeyFile: fs.String("nats-nkey-file", envDefault(e, "FUSIONFLEET_NATS_NKEY_FILE", ""),
			"`file` holding the NATS user's NKey seed (SU…)"),
		credsFile: fs.String("nats-creds-file", envDefault(e, "FUSIONFLEET_NATS_CREDS_FILE", ""),
			"NATS credentials `file` (user JWT and NKey seed, as nsc writes it)"),
		ca: fs.String("nats-ca-file", envDefault(e, "FUSIONFLEET_NATS_CA_FILE", ""),
			"PEM `file` of CAs that verify the NATS servers; requires TLS (default: TLS only if the server or a tls:// URL asks, with the system's roots)"),
		cert: fs.String("nats-tls-cert", envDefault(e, "FUSIONFLEET_NATS_TLS_CERT", ""),
			"client certificate `file` (PEM) for NATS servers that verify clients; requires TLS"),
		key: fs.String("nats-tls-key", envDefault(e, "FUSIONFLEET_NATS_TLS_KEY", ""),
			"client key `file` (PEM) for -nats-tls-cert"),
	}
}

// options reads the NATS secrets and maps the flags to the stream's
// credentials and TLS. It refuses credentials in a -nats URL given on
// the command line.
func (f *natsFlags) options(fs *flag.FlagSet, e env) (stream.Credentials, stream.TLS, error) {
	var inFlag bool
	fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "nats" {
			inFlag = urlsHaveUserinfo(fl.Value.String())
		}
	})
	if inFlag {
		return stream.Credentials{}, stream.TLS{}, errors.New("cloud: -nats: credentials in a URL on the command line show in ps; give the URL in $FUSIONFLEET_NATS or use -nats-password-file")
	}
	password, err := readSecret(e, *f.passwordFile, "FUSIONFLEET_NATS_PASSWORD")
	if err != nil {
		return stream.Credentials{}, stream.TLS{}, fmt.Errorf("cloud: NATS password: %w", err)
	}
	token, err := readSecret(e, *f.tokenFile, "FUSIONFLEET_NATS_TOKEN")
	if err != nil {
		return stream.Credentials{}, stream.TLS{}, fmt.Errorf("cloud: NATS token: %w", err)
	}
	return stream.Credentials{User: *f.user, Password: password, Token: token, NKeySeedFile: *f.nkeyFile, CredsFile: *f.credsFile},
		stream.TLS{CAFile: *f.ca, CertFile: *f.cert, KeyFile: *f.key}, nil
}

// urlsHaveUserinfo reports whether any URL of a comma-separated list
// carries a user, password or token.
func urlsHaveUserinfo(list string) bool {
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if !strings.Contains(s, "://") { // the NATS client's default scheme
			s = "nats://" + s
		}
		if u, err := url.Parse(s); err == nil && u.User != nil {
			return true
		}
	}
	return false
}

// parsePrefixes parses a comma-separated list of CIDRs and plain addresses
// (a single host).
func parsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range splitList(list) {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address nor a CIDR", s)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
