package site

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/update"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
)

// The air-gapped site (R-PEER-7), from the command line: the outbox
// leaves as a bundle (Export), and the cloud's key, its acknowledgements
// and update bundles come back (Import). Both work beside a running node:
// the store is SQLite, and the running mirror picks an imported update
// bundle up at its next interval.

// openExisting opens the store of the Command Center in dataDir, which
// must have run there before.
func openExisting(ctx context.Context, dataDir string) (*commandcenter.Store, error) {
	path := filepath.Join(dataDir, "commandcenter.db")
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no Command Center in %s: %w", dataDir, err)
	}
	return commandcenter.Open(ctx, path)
}

// ExportOptions tune Export. The zero value works once a cloud key was
// imported.
type ExportOptions struct {
	// CloudKey is the cloud's public air-gap key; nil → the one imported.
	CloudKey *uplink.CloudPublicKey
	// Progress is told after each batch how many of about total records
	// are written.
	Progress func(done, total int)
	Now      time.Time // the bundle's time; zero → now
}

// Export writes a bundle of the outbox of the Command Center in dataDir
// to w and returns its manifest.
func Export(ctx context.Context, dataDir string, w io.Writer, opts ExportOptions) (uplink.BundleManifest, error) {
	st, err := openExisting(ctx, dataDir)
	if err != nil {
		return uplink.BundleManifest{}, fmt.Errorf("export: %w", err)
	}
	defer st.Close()
	key := opts.CloudKey
	if key == nil {
		k, err := st.CloudKey(ctx)
		if err != nil {
			return uplink.BundleManifest{}, fmt.Errorf("export: %w", err)
		}
		key = &k
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	return st.ExportBundle(ctx, w, *key, opts.Now, opts.Progress)
}

// ImportKind is what kind of file Import took.
type ImportKind string

// The files a Command Center imports.
const (
	ImportCloudKey ImportKind = "cloud key"
	ImportAck      ImportKind = "acknowledgement"
	ImportUpdates  ImportKind = "update bundle"
)

// ImportOptions tune Import. The zero value works.
type ImportOptions struct {
	// TrustedRoot is the TUF root metadata an update bundle is verified
	// against; nil → the first root the node's mirror holds (fetched from
	// the cloud before the site went offline, or imported before).
	TrustedRoot []byte
	Now         time.Time // judges the expiry of update metadata; zero → now
}

// ImportResult says what Import did.
type ImportResult struct {
	Kind ImportKind
	// Deleted and Quarantined are the outbox records an acknowledgement
	// trimmed and set aside; Again, that it was imported before.
	Deleted, Quarantined int64
	Again                bool
	// Targets are the updates offered to the printers after an update
	// bundle.
	Targets []update.MirroredTarget
}

// maxImportBytes bounds a file Import reads (an update bundle holds
// firmware images).
const maxImportBytes = 2 << 30

// Import takes a file the cloud's administrator handed over, of the kind
// its content tells: the cloud's public air-gap key, an acknowledgement
// of a bundle, or an update bundle.
func Import(ctx context.Context, dataDir, file string, opts ImportOptions) (ImportResult, error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	f, err := os.Open(file)
	if err != nil {
		return ImportResult{}, fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ImportResult{}, fmt.Errorf("import: %w", err)
	}
	if fi.Size() > maxImportBytes {
		return ImportResult{}, fmt.Errorf("import: %s exceeds %d bytes", file, int64(maxImportBytes))
	}
	head := make([]byte, 64)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return ImportResult{}, fmt.Errorf("import: %w", err)
	}
	head = head[:n]
	st, err := openExisting(ctx, dataDir)
	if err != nil {
		return ImportResult{}, fmt.Errorf("import: %w", err)
	}
	defer st.Close()
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		root := opts.TrustedRoot
		mirror := filepath.Join(dataDir, "updates")
		if root == nil {
			if root, err = update.TrustedRoot(mirror); errors.Is(err, fs.ErrNotExist) {
				return ImportResult{}, errors.New("import: no trusted TUF root yet: give the printers' root metadata (root.json) once")
			} else if err != nil {
				return ImportResult{}, fmt.Errorf("import: %w", err)
			}
		}
		targets, err := update.ImportBundle(ctx, f, fi.Size(), mirror, root, opts.Now)
		if err != nil {
			return ImportResult{}, err
		}
		return ImportResult{Kind: ImportUpdates, Targets: targets}, nil
	case bytes.HasPrefix(head, []byte("# FusionFleet cloud air-gap public key")):
		b, err := readAll(f, 0)
		if err != nil {
			return ImportResult{}, err
		}
		k, err := uplink.ParseCloudPublicKey(b)
		if err != nil {
			return ImportResult{}, fmt.Errorf("import: %w", err)
		}
		if err := st.SaveCloudKey(ctx, k); err != nil {
			return ImportResult{}, err
		}
		return ImportResult{Kind: ImportCloudKey}, nil
	case bytes.HasPrefix(bytes.TrimSpace(head), []byte("{")):
		b, err := readAll(f, 0)
		if err != nil {
			return ImportResult{}, err
		}
		key, err := st.CloudKey(ctx)
		if err != nil {
			return ImportResult{}, fmt.Errorf("import: %w", err)
		}
		res, err := st.ImportAck(ctx, b, key, opts.Now)
		if err != nil {
			return ImportResult{}, err
		}
		return ImportResult{Kind: ImportAck, Deleted: res.Deleted, Quarantined: res.Quarantined, Again: res.Again}, nil
	}
	return ImportResult{}, fmt.Errorf("import: %s is none of the files a Command Center imports (the cloud's air-gap key, an acknowledgement, an update bundle)", file)
}

// readAll reads f from offset on.
func readAll(f *os.File, offset int64) ([]byte, error) {
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	return b, nil
}

// UpdateTargets lists the updates the node's mirror offers its printers:
// what it mirrored from the cloud, or imported from an update bundle.
func (n *Node) UpdateTargets() []update.MirroredTarget { return n.mirror.Targets() }
