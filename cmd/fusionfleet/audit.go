package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/fusionfleet/fusionfleet/internal/audit"
	"github.com/fusionfleet/fusionfleet/internal/cloud"
)

// errTampered means verification found an audit chain tampered with; the
// problems are already printed.
var errTampered = errors.New("the audit log was tampered with")

func runAudit(ctx context.Context, args []string, e env) error {
	const use = "Usage: fusionfleet audit verify [flags]\n\nRun 'fusionfleet audit verify -h' for its flags."
	switch {
	case len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help"):
		fmt.Fprintln(e.stdout, use)
		return errHelp
	case len(args) == 0 || args[0] != "verify":
		fmt.Fprintln(e.stderr, use)
		return errUsage
	}
	fs := newFlagSet("audit verify", "Verify every organisation's audit chain in the cloud's store: report each altered,\n"+
		"inserted or removed entry with its position, and print each chain's head as a line\n"+
		"\"head <org> <seq> <hash>\". Keep those lines outside the database and pass them to a later\n"+
		"run with -anchors: entries cut from the end together with the stored head, or a chain\n"+
		"rewritten with fresh hashes, are detectable only against such an anchor.\n"+
		"Exits non-zero when anything was tampered with.", e)
	data := fs.String("data", envDefault(e, "FUSIONFLEET_CLOUD_DATA", defaultDataDir(e, "cloud")), "the cloud's data `directory`")
	db := fs.String("db", envDefault(e, "FUSIONFLEET_DB", ""), "store: a SQLite file `path` (default: cloud.db in the data directory) or a postgres://… URL")
	anchorsFile := fs.String("anchors", "", "`file` with the head lines of an earlier verification, kept outside the database")
	if err := parse(fs, args[1:], e); err != nil {
		return err
	}
	var anchors []audit.Head
	if *anchorsFile != "" {
		f, err := os.Open(*anchorsFile)
		if err != nil {
			return fmt.Errorf("audit verify: %w", err)
		}
		anchors, err = audit.ParseHeads(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("audit verify: %s: %w", *anchorsFile, err)
		}
	}
	st, err := cloud.OpenStore(ctx, *data, *db)
	if err != nil {
		return fmt.Errorf("audit verify: %w", err)
	}
	defer st.Close()
	orgs, err := st.AuditOrgs(ctx)
	if err != nil {
		return fmt.Errorf("audit verify: %w", err)
	}
	for _, a := range anchors { // an anchored chain that vanished entirely is a finding too
		if !slices.Contains(orgs, a.Org) {
			orgs = append(orgs, a.Org)
		}
	}
	var bad int
	for _, org := range orgs {
		head, problems, err := st.VerifyAudit(ctx, org, anchors)
		if err != nil {
			return fmt.Errorf("audit verify: %w", err)
		}
		name := string(org)
		if org == audit.SystemOrg {
			name = "(system)"
		}
		if len(problems) == 0 {
			fmt.Fprintf(e.stdout, "org %s: %d entries, verified\n", name, head.Seq)
		} else {
			fmt.Fprintf(e.stdout, "org %s: TAMPERED\n", name)
			for _, p := range problems {
				fmt.Fprintf(e.stdout, "  %s\n", p)
			}
			bad += len(problems)
		}
		fmt.Fprintln(e.stdout, audit.FormatHead(head))
	}
	if bad > 0 {
		return fmt.Errorf("audit verify: %d problems: %w", bad, errTampered)
	}
	return nil
}
