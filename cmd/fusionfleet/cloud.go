package main

import (
	"context"
	"fmt"

	"github.com/fusionfleet/fusionfleet/internal/cloud"
)

func runCloud(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("cloud", "Run a cloud node: the uplink for Command Centers, the JetStream stream, the store\n"+
		"and the dashboard, all on one HTTPS listener. On first start it creates an organisation,\n"+
		"an admin user and an enrolment token for a first site, and prints them once.", e)
	data := fs.String("data", envDefault(e, "FUSIONFLEET_CLOUD_DATA", defaultDataDir(e, "cloud")), "data `directory` (store, stream, certificates)")
	listen := fs.String("listen", envDefault(e, "FUSIONFLEET_CLOUD_LISTEN", "127.0.0.1:8443"), "HTTPS listen `address`")
	db := fs.String("db", envDefault(e, "FUSIONFLEET_DB", ""), "store: a SQLite file `path` (default: cloud.db in the data directory) or a postgres://… URL")
	natsURL := fs.String("nats", envDefault(e, "FUSIONFLEET_NATS", ""), "external NATS JetStream `URL[,URL…]` (default: embedded server, stored in the data directory)")
	replicas := fs.Int("replicas", 1, "JetStream stream replicas (more than 1 needs an external NATS cluster)")
	hosts := fs.String("hosts", "localhost,127.0.0.1", "comma-separated host names or IPs for the generated server certificate")
	certFile := fs.String("tls-cert", "", "server certificate `file` (PEM) from your PKI; default: a certificate from a CA generated in the data directory")
	keyFile := fs.String("tls-key", "", "server key `file` (PEM) for -tls-cert")
	org := fs.String("org", "My organisation", "name of the organisation created on first start")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	nf := addNotifyFlags(fs, e)
	tufRepo := fs.String("tuf-repo", envDefault(e, "FUSIONFLEET_TUF_REPO", ""), "update repository `directory` from 'fusionfleet release export' (default: tuf in the data directory)")
	releaseToken := fs.String("release-token-file", envDefault(e, "FUSIONFLEET_RELEASE_TOKEN_FILE", ""), "`file` holding the token 'fusionfleet release publish' must present (default: publishing disabled)")
	metricsToken := fs.String("metrics-token-file", envDefault(e, "FUSIONFLEET_METRICS_TOKEN_FILE", ""), "`file` holding the bearer token /metrics asks for (default: metrics are public)")
	if err := parse(fs, args, e); err != nil {
		return err
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
	node, err := cloud.New(ctx, cloud.Options{
		DataDir: *data, DB: *db, NATSURL: *natsURL, Replicas: *replicas, Listen: *listen,
		Hosts: splitList(*hosts), TLSCertFile: *certFile, TLSKeyFile: *keyFile,
		Logger: logger, Notify: notify, TUFDir: *tufRepo, ReleaseTokenFile: *releaseToken,
		MetricsTokenFile: *metricsToken,
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
