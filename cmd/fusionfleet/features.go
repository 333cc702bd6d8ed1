package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/audit"
	"github.com/fusionfleet/fusionfleet/internal/cloud"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

func runFeatures(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("features", "Show or set the features an organisation's plan enables (paid tiers): "+
		strings.Join(access.AllFeatureNames(), ", ")+".\n"+
		"An organisation never given a plan has all of them. Every cloud node sees a change at its next request.", e)
	data := fs.String("data", envDefault(e, "FUSIONFLEET_CLOUD_DATA", defaultDataDir(e, "cloud")), "the cloud's data `directory`")
	db := fs.String("db", envDefault(e, "FUSIONFLEET_DB", ""), "store: a SQLite file `path` (default: cloud.db in the data directory) or a postgres://… URL")
	org := fs.String("org", "", "the organisation's `ID` (required)")
	set := fs.String("set", "", "comma-separated `features` to enable, all others off; \"none\" for none (default: only show)")
	if err := parse(fs, args, e); err != nil {
		return err
	}
	if *org == "" {
		fmt.Fprintln(e.stderr, "fusionfleet features: -org is required")
		fs.Usage()
		return errUsage
	}
	var plan access.Feature
	setting := false
	fs.Visit(func(f *flag.Flag) { setting = setting || f.Name == "set" })
	if setting && *set != "none" {
		var err error
		if plan, err = access.ParseFeatures(splitList(*set)); err != nil {
			return fmt.Errorf("features: -set: %w", err)
		}
	}
	st, err := cloud.OpenStore(ctx, *data, *db)
	if err != nil {
		return fmt.Errorf("features: %w", err)
	}
	defer st.Close()
	if setting {
		if err := st.SetOrgFeatures(ctx, fleet.OrgID(*org), plan); err != nil {
			return fmt.Errorf("features: %w", err)
		}
		// The operator's change is the organisation's business: it goes
		// into its audit log.
		if err := st.Record(ctx, audit.Event{Time: time.Now(), Org: fleet.OrgID(*org), Name: "operator", Action: "plan.set",
			Detail: "features: " + plan.String()}); err != nil {
			return fmt.Errorf("features: %w", err)
		}
	}
	got, err := st.OrgFeatures(ctx, fleet.OrgID(*org))
	if err != nil {
		return fmt.Errorf("features: %w", err)
	}
	names := got.String()
	if names == "" {
		names = "none"
	}
	fmt.Fprintf(e.stdout, "%s: %s\n", *org, names)
	return nil
}
