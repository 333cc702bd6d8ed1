package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/site"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
)

// runExport is `fusionfleet commandcenter export`: the outbox of an
// air-gapped site as a bundle for the cloud (R-PEER-7), with a progress
// bar on stderr.
func runExport(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("commandcenter export", "Export the records waiting for the cloud as a bundle an administrator uploads in the\n"+
		"cloud's dashboard (Air-gapped sites): signed with this Command Center's gateway key,\n"+
		"encrypted to the cloud's air-gap key (imported once with `commandcenter import`, or\n"+
		"-cloud-key). Nothing leaves the outbox until the cloud's acknowledgement is imported.", e)
	data := fs.String("data", envDefault(e, "FUSIONFLEET_CC_DATA", defaultDataDir(e, "commandcenter")), "data `directory` of the Command Center")
	out := fs.String("out", "", "bundle `file` to write")
	keyFile := fs.String("cloud-key", "", "the cloud's public air-gap key `file` (default: the one imported)")
	if err := parse(fs, args, e); err != nil {
		return err
	}
	if *out == "" {
		fmt.Fprintln(e.stderr, "fusionfleet commandcenter export: -out FILE is required")
		fs.Usage()
		return errUsage
	}
	opts := site.ExportOptions{Progress: func(done, total int) {
		fmt.Fprintf(e.stderr, "\rexport: %s %d/%d records", progressBar(float64(done)/float64(max(total, 1)), 30), done, total)
	}}
	if *keyFile != "" {
		b, err := os.ReadFile(*keyFile)
		if err != nil {
			return fmt.Errorf("export: -cloud-key: %w", err)
		}
		k, err := uplink.ParseCloudPublicKey(b)
		if err != nil {
			return fmt.Errorf("export: -cloud-key: %w", err)
		}
		opts.CloudKey = &k
	}
	// Written beside the target and renamed when complete: a bundle file
	// is whole or absent.
	f, err := os.CreateTemp(filepath.Dir(*out), ".export-")
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer os.Remove(f.Name())
	m, err := site.Export(ctx, *data, f, opts)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), *out)
	}
	if m.Records > 0 {
		fmt.Fprintln(e.stderr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "bundle %d of gateway %s: %d records in %d batches, written to %s\n", m.Serial, m.GatewayID, m.Records, len(m.Batches), *out)
	return nil
}

// runImport is `fusionfleet commandcenter import`: a file from the cloud
// for an air-gapped site — its air-gap key, an acknowledgement, or an
// update bundle.
func runImport(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("commandcenter import", "Import FILE (named after the flags), which the cloud's administrator handed over for\n"+
		"this air-gapped site, of the kind its content tells: the cloud's public air-gap key (once),\n"+
		"the acknowledgement of a bundle (trims the outbox of what the cloud holds), or an update\n"+
		"bundle (verified with TUF, then offered to the printers).", e)
	data := fs.String("data", envDefault(e, "FUSIONFLEET_CC_DATA", defaultDataDir(e, "commandcenter")), "data `directory` of the Command Center")
	rootFile := fs.String("root", "", "TUF root metadata `file` an update bundle is verified against (default: the first root the mirror holds)")
	// The file comes last: `commandcenter import [flags] FILE`.
	var file string
	if n := len(args); n > 0 && !strings.HasPrefix(args[n-1], "-") &&
		(n == 1 || !slices.Contains([]string{"data", "root"}, strings.TrimLeft(args[n-2], "-"))) { // not a flag's value
		file, args = args[n-1], args[:n-1]
	}
	if err := parse(fs, args, e); err != nil {
		return err
	}
	if file == "" {
		fmt.Fprintln(e.stderr, "fusionfleet commandcenter import: name the FILE to import, after the flags")
		fs.Usage()
		return errUsage
	}
	var opts site.ImportOptions
	if *rootFile != "" {
		b, err := os.ReadFile(*rootFile)
		if err != nil {
			return fmt.Errorf("import: -root: %w", err)
		}
		opts.TrustedRoot = b
	}
	opts.Now = time.Now()
	res, err := site.Import(ctx, *data, file, opts)
	if re, ok := errors.AsType[*uplink.RefusedError](err); ok {
		return fmt.Errorf("import: refused, nothing changed: %s", re.Reason)
	}
	if err != nil {
		return err
	}
	switch res.Kind {
	case site.ImportCloudKey:
		fmt.Fprintln(e.stdout, "imported the cloud's air-gap key: bundles are encrypted to it, acknowledgements verified with it")
	case site.ImportAck:
		again := ""
		if res.Again {
			again = " (imported before)"
		}
		fmt.Fprintf(e.stdout, "imported the acknowledgement%s: %d records the cloud holds left the outbox, %d it refused set aside\n", again, res.Deleted, res.Quarantined)
	case site.ImportUpdates:
		fmt.Fprintf(e.stdout, "imported the update bundle: %d updates offered to the printers\n", len(res.Targets))
		for _, t := range res.Targets {
			fmt.Fprintf(e.stdout, "  %s %s %s\n", t.Release.Kind, t.Release.Version, t.Name)
		}
	}
	return nil
}
