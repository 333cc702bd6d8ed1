package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/update"
	"github.com/fusionfleet/fusionfleet/internal/updaterepo"
)

// releaseActions are the steps of the offline release tool.
func releaseActions() []subcommand {
	return []subcommand{
		{"init", "create a TUF repository with fresh root, targets, snapshot and timestamp keys", runReleaseInit},
		{"add-target", "add a firmware image or print-parameter set and sign it", runReleaseAddTarget},
		{"rotate-root", "replace the root keys (signed by old and new keys)", runReleaseRotateRoot},
		{"resign", "re-sign snapshot and timestamp with the online keys", runReleaseResign},
		{"status", "show versions, keys present and targets", runReleaseStatus},
		{"export", "copy the repository without offline keys, for a cloud's -tuf-repo", runReleaseExport},
		{"publish", "upload metadata and new targets to a cloud, which verifies them", runReleasePublish},
		{"halt", "halt a target's staged rollout in a cloud's repository", runReleaseHalt},
		{"unhalt", "lift a halted staged rollout in a cloud's repository", runReleaseUnhalt},
	}
}

// runRelease is the offline release tool: "fusionfleet release ACTION".
func runRelease(ctx context.Context, args []string, e env) error {
	usage := func(w io.Writer) {
		fmt.Fprintln(w, "Usage: fusionfleet release <action> [flags]")
		fmt.Fprintln(w, "\nManage the signed update repository (The Update Framework). Root and targets keys are")
		fmt.Fprintln(w, "offline keys (DIR/keys/offline): keep them on this machine only. Snapshot and timestamp")
		fmt.Fprintln(w, "keys (DIR/keys/online) are what the cloud needs to re-sign on a schedule.")
		fmt.Fprintln(w, "\nActions:")
		for _, a := range releaseActions() {
			fmt.Fprintf(w, "  %-12s %s\n", a.name, a.summary)
		}
		fmt.Fprintln(w, "\nRun 'fusionfleet release <action> -h' for an action's flags.")
	}
	if len(args) == 0 {
		usage(e.stderr)
		return errUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(e.stdout)
		return errHelp
	}
	for _, a := range releaseActions() {
		if a.name == args[0] {
			return a.run(ctx, args[1:], e)
		}
	}
	fmt.Fprintf(e.stderr, "fusionfleet release: unknown action %q\n\n", args[0])
	usage(e.stderr)
	return errUsage
}

// releaseDir adds the -dir flag every action takes.
func releaseDir(fs *flag.FlagSet, e env) *string {
	return fs.String("dir", e.getenv("FUSIONFLEET_RELEASE_DIR"), "repository `directory` (default $FUSIONFLEET_RELEASE_DIR)")
}

// needDir reports a missing -dir as bad usage.
func needDir(fs *flag.FlagSet, dir string, e env) error {
	if dir == "" {
		fmt.Fprintf(e.stderr, "fusionfleet %s: -dir is required\n", fs.Name())
		fs.Usage()
		return errUsage
	}
	return nil
}

func runReleaseInit(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("release init", "Create a TUF repository with consistent snapshots in a new directory, with\n"+
		"fresh ed25519 keys for every role stored as files readable by the owner only.", e)
	dir := releaseDir(fs, e)
	rootKeys := fs.Int("root-keys", 3, "number of root keys")
	rootThreshold := fs.Int("root-threshold", 2, "root signatures required")
	targetsKeys := fs.Int("targets-keys", 1, "number of targets keys")
	targetsThreshold := fs.Int("targets-threshold", 1, "targets signatures required")
	tsExpiry := fs.Duration("timestamp-expiry", 24*time.Hour, "how long a signed timestamp stays valid")
	if err := parse(fs, args, e); err != nil {
		return err
	}
	if err := needDir(fs, *dir, e); err != nil {
		return err
	}
	r, err := updaterepo.InitRepo(*dir, updaterepo.RepoOptions{RootKeys: *rootKeys, RootThreshold: *rootThreshold,
		TargetsKeys: *targetsKeys, TargetsThreshold: *targetsThreshold, TimestampExpiry: *tsExpiry})
	if err != nil {
		return fmt.Errorf("release init: %w", err)
	}
	fmt.Fprintf(e.stdout, "created repository %s\nprinters pin %s/repository/metadata/1.root.json\n", r.Dir(), r.Dir())
	return nil
}

func runReleaseAddTarget(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("release add-target", "Add FILE as a target with its release metadata, sign targets with the offline\n"+
		"targets keys and snapshot and timestamp with the online keys.", e)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: fusionfleet release add-target [flags] FILE\n\nAdd FILE (a firmware image, a print-parameter set, or a Command Center build) as a target with its release\nmetadata, signed with the offline targets keys; snapshot and timestamp are re-signed\nwith the online keys.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	dir := releaseDir(fs, e)
	kind := fs.String("kind", "firmware", "target kind: firmware, parameters, or commandcenter (a build of this binary that Command Centers install over themselves)")
	version := fs.String("version", "", "release version, such as 4.3.0 (required)")
	models := fs.String("models", "", "comma-separated printer models it fits (required for firmware and parameters)")
	platforms := fs.String("platform", "", "comma-separated platforms (GOOS/GOARCH, such as linux/amd64) a commandcenter build runs on (required for commandcenter)")
	minVersion := fs.String("min-version", "", "lowest installed version it upgrades from")
	name := fs.String("name", "", "name the printer reports once active (parameter sets; default the version)")
	notes := fs.String("notes", "", "release notes")
	percent := fs.Int("rollout-percent", -1, "staged rollout: share of printers, 0 to 100 (default everyone)")
	sites := fs.String("rollout-sites", "", "staged rollout: comma-separated site names that get it first")
	files, err := parseWithArgs(fs, args, e)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		fmt.Fprintln(e.stderr, "fusionfleet release add-target: want exactly one FILE")
		fs.Usage()
		return errUsage
	}
	if err := needDir(fs, *dir, e); err != nil {
		return err
	}
	if (update.Kind(*kind) == update.KindCommandCenter) != (*platforms != "") || update.Kind(*kind) == update.KindCommandCenter && *models != "" {
		fmt.Fprintln(e.stderr, "fusionfleet release add-target: -platform goes with -kind commandcenter, instead of -models")
		fs.Usage()
		return errUsage
	}
	if *platforms != "" {
		*models = *platforms
	}
	rel := update.Release{Kind: update.Kind(*kind), Version: *version, Models: splitList(*models),
		MinVersion: *minVersion, Name: *name, Notes: *notes}
	if *percent >= 0 || *sites != "" {
		rel.Rollout = &update.Rollout{Sites: splitList(*sites)}
		if *percent >= 0 {
			rel.Rollout.Percent = percent
		}
	}
	if err := rel.Validate(); err != nil {
		return fmt.Errorf("release add-target: %w", err)
	}
	if rel.Kind == update.KindParameters {
		if err := checkParameterSet(files[0], rel); err != nil {
			return fmt.Errorf("release add-target: %w", err)
		}
	}
	r, err := updaterepo.OpenRepo(*dir, updaterepo.RepoOptions{Progress: e.stderr})
	if err != nil {
		return fmt.Errorf("release add-target: %w", err)
	}
	ti, err := r.AddTargetFile(ctx, files[0], rel)
	if err != nil {
		return fmt.Errorf("release add-target: %w", err)
	}
	fmt.Fprintf(e.stdout, "added %s (%s %s for %s), %d bytes, sha256 %s\n", ti.Name, ti.Kind, ti.Version,
		strings.Join(ti.Models, ", "), ti.Length, ti.SHA256)
	return nil
}

// checkParameterSet refuses a parameter set file that printers would
// refuse: not a valid set document, or one for another model than the
// release names.
func checkParameterSet(file string, rel update.Release) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, fleet.MaxParameterSetBytes+1))
	if err != nil {
		return err
	}
	set, err := fleet.ParseParameterSet(b)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if len(rel.Models) != 1 || rel.Models[0] != set.Model {
		return fmt.Errorf("%s: a set for %s, released for %v: name its model alone", file, set.Model, rel.Models)
	}
	return nil
}

// parseWithArgs parses flags that may come before or after positional
// arguments, and returns the positional ones.
func parseWithArgs(fs *flag.FlagSet, args []string, e env) ([]string, error) {
	var pos []string
	for {
		// As in parse: the flag package would print the usage itself,
		// and the help would show twice.
		fs.SetOutput(io.Discard)
		err := fs.Parse(args)
		fs.SetOutput(e.stderr)
		if err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(e.stdout)
				fs.Usage()
				return nil, errHelp
			}
			fmt.Fprintf(e.stderr, "fusionfleet %s: %v\n", fs.Name(), err)
			fs.Usage()
			return nil, errUsage
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func runReleaseRotateRoot(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("release rotate-root", "Replace the root keys with fresh ones. The new root version is signed by a\n"+
		"threshold of the old root keys and of the new ones, so printers accept it; the old key\n"+
		"files stay in DIR/keys/offline until you archive them.", e)
	dir := releaseDir(fs, e)
	keys := fs.Int("keys", 3, "number of new root keys")
	threshold := fs.Int("threshold", 2, "root signatures required")
	if err := parse(fs, args, e); err != nil {
		return err
	}
	if err := needDir(fs, *dir, e); err != nil {
		return err
	}
	r, err := updaterepo.OpenRepo(*dir, updaterepo.RepoOptions{})
	if err != nil {
		return fmt.Errorf("release rotate-root: %w", err)
	}
	if err := r.RotateRoot(*keys, *threshold); err != nil {
		return fmt.Errorf("release rotate-root: %w", err)
	}
	st, err := r.Status()
	if err != nil {
		return fmt.Errorf("release rotate-root: %w", err)
	}
	fmt.Fprintf(e.stdout, "root rotated to version %d (%d of %d keys)\n", st.RootVersion, *threshold, *keys)
	return nil
}

func runReleaseResign(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("release resign", "Sign a new snapshot and timestamp with the online keys. The cloud does this on a\n"+
		"schedule; run it by hand to end a freeze after an outage.", e)
	dir := releaseDir(fs, e)
	tsExpiry := fs.Duration("timestamp-expiry", 24*time.Hour, "how long the new timestamp stays valid")
	if err := parse(fs, args, e); err != nil {
		return err
	}
	if err := needDir(fs, *dir, e); err != nil {
		return err
	}
	r, err := updaterepo.OpenRepo(*dir, updaterepo.RepoOptions{TimestampExpiry: *tsExpiry})
	if err != nil {
		return fmt.Errorf("release resign: %w", err)
	}
	if err := r.Resign(); err != nil {
		return fmt.Errorf("release resign: %w", err)
	}
	st, err := r.Status()
	if err != nil {
		return fmt.Errorf("release resign: %w", err)
	}
	fmt.Fprintf(e.stdout, "timestamp version %d valid until %s\n", st.TimestampVersion, st.TimestampExpires.Format(time.RFC3339))
	return nil
}

func runReleaseStatus(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("release status", "Show the repository's metadata versions, the keys present for each role, and its targets.", e)
	dir := releaseDir(fs, e)
	if err := parse(fs, args, e); err != nil {
		return err
	}
	if err := needDir(fs, *dir, e); err != nil {
		return err
	}
	r, err := updaterepo.OpenRepo(*dir, updaterepo.RepoOptions{})
	if err != nil {
		return fmt.Errorf("release status: %w", err)
	}
	st, err := r.Status()
	if err != nil {
		return fmt.Errorf("release status: %w", err)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "root\tversion %d\texpires %s\n", st.RootVersion, st.RootExpires.Format(time.RFC3339))
	fmt.Fprintf(w, "targets\tversion %d\t\n", st.TargetsVersion)
	fmt.Fprintf(w, "snapshot\tversion %d\t\n", st.SnapshotVersion)
	fmt.Fprintf(w, "timestamp\tversion %d\texpires %s\n", st.TimestampVersion, st.TimestampExpires.Format(time.RFC3339))
	fmt.Fprintln(w, "\nROLE\tTHRESHOLD\tKEYS HERE\tWHERE")
	for _, rl := range st.Roles {
		where := "online"
		if rl.Offline {
			where = "offline"
		}
		fmt.Fprintf(w, "%s\t%d of %d\t%d\t%s\n", rl.Role, rl.Threshold, rl.Keys, rl.KeysPresent, where)
	}
	fmt.Fprintln(w, "\nKIND\tVERSION\tMODELS\tMIN VERSION\tBYTES\tTARGET")
	for _, t := range st.Targets {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\n", t.Kind, t.Version, strings.Join(t.Models, ","), t.MinVersion, t.Length, t.Name)
	}
	return w.Flush()
}
