package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/cloud"
)

// runOrg is the operator's organisation command: "org create" adds a
// customer or a service provider with its first administrator.
func runOrg(ctx context.Context, args []string, e env) error {
	if len(args) == 0 || args[0] != "create" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprintln(e.stdout, "Usage: fusionfleet org create [flags]\n\nRun 'fusionfleet org create -h' for its flags.")
			return errHelp
		}
		fmt.Fprintln(e.stderr, "Usage: fusionfleet org create [flags]")
		return errUsage
	}
	fs := newFlagSet("org create", "Create an organisation in a cloud's store, with its first administrator, whose\n"+
		"generated password is printed once. A service provider passes the organisation ID it\n"+
		"prints to its customers, whose administrators grant it access on their Service access page.", e)
	data := fs.String("data", envDefault(e, "FUSIONFLEET_CLOUD_DATA", defaultDataDir(e, "cloud")), "the cloud's data `directory` (for its SQLite store)")
	db := fs.String("db", envDefault(e, "FUSIONFLEET_DB", ""), "the cloud's store: a SQLite file `path` (default: cloud.db in the data directory) or a postgres://… URL")
	name := fs.String("name", "", "the organisation's `name`")
	kindFlag := fs.String("kind", "service_provider", "`kind`: customer or service_provider")
	admin := fs.String("admin", "", "login `name` of its first administrator")
	if err := parse(fs, args[1:], e); err != nil {
		return err
	}
	kind, err := access.ParseOrgKind(*kindFlag)
	if err != nil {
		return fmt.Errorf("org create: -kind: %w", err)
	}
	if strings.TrimSpace(*name) == "" || strings.TrimSpace(*admin) == "" {
		fmt.Fprintln(e.stderr, "fusionfleet org create: -name and -admin are required")
		fs.Usage()
		return errUsage
	}
	org, password, err := cloud.NewOrg(ctx, *data, *db, *name, kind, *admin)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "org: %s (%s)\n", org, kind)
	fmt.Fprintf(e.stdout, "login: %s %s\n", *admin, password)
	return nil
}
