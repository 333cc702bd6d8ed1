package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/updaterepo"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
)

// The release tool's link to the cloud: export a repository for a cloud
// once, publish releases to it, and lift or set staged-rollout halts.

func runReleaseExport(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("release export", "Copy the repository without its offline keys (metadata, targets, online snapshot and\n"+
		"timestamp keys) into a new directory: the cloud's -tuf-repo, set up once. Later releases\n"+
		"reach the cloud with 'release publish'.", e)
	dir := releaseDir(fs, e)
	to := fs.String("to", "", "new `directory` to create (required)")
	if err := parse(fs, args, e); err != nil {
		return err
	}
	if err := needDir(fs, *dir, e); err != nil {
		return err
	}
	if *to == "" {
		fmt.Fprintln(e.stderr, "fusionfleet release export: -to is required")
		fs.Usage()
		return errUsage
	}
	r, err := updaterepo.OpenRepo(*dir, updaterepo.RepoOptions{})
	if err != nil {
		return fmt.Errorf("release export: %w", err)
	}
	if err := r.ExportOnline(*to); err != nil {
		return fmt.Errorf("release export: %w", err)
	}
	fmt.Fprintf(e.stdout, "exported to %s (no offline keys): start the cloud with -tuf-repo %s\n", *to, *to)
	return nil
}

func runReleasePublish(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("release publish", "Upload the repository's metadata and the targets the cloud lacks to a cloud, which\n"+
		"verifies them against the root it trusts before accepting them and then re-signs\n"+
		"snapshot and timestamp with its online keys.", e)
	dir := releaseDir(fs, e)
	to := fs.String("to", envDefault(e, "FUSIONFLEET_CLOUD_URL", ""), "cloud base `URL` (https://…)")
	tokenFile := fs.String("token-file", envDefault(e, "FUSIONFLEET_RELEASE_TOKEN_FILE", ""), "`file` holding the cloud's release token (default $FUSIONFLEET_RELEASE_TOKEN)")
	caFile := fs.String("ca-file", envDefault(e, "FUSIONFLEET_CA_FILE", ""), "PEM `file` of CAs that verify the cloud (default: system roots)")
	timeout := fs.Duration("timeout", time.Hour, "give up after this long")
	if err := parse(fs, args, e); err != nil {
		return err
	}
	if err := needDir(fs, *dir, e); err != nil {
		return err
	}
	if !strings.HasPrefix(*to, "https://") {
		fmt.Fprintln(e.stderr, "fusionfleet release publish: -to must be an https:// URL (the token must not travel in clear)")
		fs.Usage()
		return errUsage
	}
	token, err := readSecret(e, *tokenFile, "FUSIONFLEET_RELEASE_TOKEN")
	if err != nil {
		return fmt.Errorf("release publish: %w", err)
	}
	if token == "" {
		fmt.Fprintln(e.stderr, "fusionfleet release publish: give the release token with -token-file or $FUSIONFLEET_RELEASE_TOKEN")
		return errUsage
	}
	roots, err := uplink.LoadCertPool(*caFile)
	if err != nil {
		return fmt.Errorf("release publish: -ca-file: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}, ResponseHeaderTimeout: 10 * time.Minute,
	}}
	defer client.CloseIdleConnections()
	r, err := updaterepo.OpenRepo(*dir, updaterepo.RepoOptions{})
	if err != nil {
		return fmt.Errorf("release publish: %w", err)
	}
	pub := &updaterepo.Publisher{URL: *to, Token: token, Client: client, Progress: e.stderr}
	ans, err := pub.Publish(ctx, r)
	if err != nil {
		return fmt.Errorf("release publish: %w", err)
	}
	if !ans.Changed {
		fmt.Fprintf(e.stdout, "cloud already up to date (root version %d, targets version %d)\n", ans.RootVersion, ans.TargetsVersion)
		return nil
	}
	fmt.Fprintf(e.stdout, "published: root version %d, targets version %d", ans.RootVersion, ans.TargetsVersion)
	if len(ans.NewTargets) > 0 {
		fmt.Fprintf(e.stdout, ", new targets: %s", strings.Join(ans.NewTargets, ", "))
	}
	fmt.Fprintln(e.stdout)
	return nil
}

func runReleaseHalt(ctx context.Context, args []string, e env) error {
	return releaseRollout(args, e, "halt", "Halt the staged rollout of TARGET in the cloud's repository (its -tuf-repo directory):\n"+
		"Command Centers hold it back until it is un-halted. An availability control, not a\n"+
		"security control: printers verify every target with TUF regardless.")
}

func runReleaseUnhalt(ctx context.Context, args []string, e env) error {
	return releaseRollout(args, e, "unhalt", "Lift the halt of TARGET's staged rollout in the cloud's repository (its -tuf-repo\n"+
		"directory), set by hand or by the cloud when the target raised failure alerts. The\n"+
		"cloud will not halt that target again by itself.")
}

func releaseRollout(args []string, e env, action, synopsis string) error {
	fs := newFlagSet("release "+action, synopsis, e)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: fusionfleet release %s [flags] TARGET\n\n%s\n\nFlags:\n", action, synopsis)
		fs.PrintDefaults()
	}
	dir := releaseDir(fs, e)
	reason := fs.String("reason", "halted by hand", "why (halt only)")
	names, err := parseWithArgs(fs, args, e)
	if err != nil {
		return err
	}
	if len(names) != 1 {
		fmt.Fprintf(e.stderr, "fusionfleet release %s: want exactly one TARGET\n", action)
		fs.Usage()
		return errUsage
	}
	if err := needDir(fs, *dir, e); err != nil {
		return err
	}
	r, err := updaterepo.OpenRepo(*dir, updaterepo.RepoOptions{})
	if err != nil {
		return fmt.Errorf("release %s: %w", action, err)
	}
	if action == "halt" {
		err = r.Halt(names[0], *reason)
	} else {
		err = r.Unhalt(names[0])
	}
	if err != nil {
		return fmt.Errorf("release %s: %w", action, err)
	}
	fmt.Fprintf(e.stdout, "%sed %s\n", action, names[0])
	return nil
}
