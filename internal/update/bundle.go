package update

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"
)

// Update bundles carry signed updates to an air-gapped site (R-PEER-7): a
// zip of the repository as a mirror holds it, under "tuf/" in the layout
// NewHandler serves (tuf/metadata/…, tuf/targets/…, tuf/rollout.json). The
// cloud writes one by mirroring its own repository (WriteBundle); the
// Command Center verifies the metadata with TUF against a root it already
// trusts and mirrors the bundle as it would mirror the cloud
// (ImportBundle), so its printers are offered the updates from the copy
// they already read, and verify them against their own pinned root.

// bundleSource is the base URL under which a bundle's files are read.
const bundleSource = "file:///tuf"

// ErrNoRepository: the source serves no repository (yet): there is
// nothing to bundle.
var ErrNoRepository = errors.New("no update repository")

// Bundle is an update bundle mirrored into a temporary directory, ready
// to be written: whatever can fail in the repository fails before the
// first byte is written. Close removes the directory.
type Bundle struct{ dir string }

// NewBundle mirrors the repository that src serves (the cloud's /tuf/
// handler), with the targets for models (nil: every target).
func NewBundle(ctx context.Context, src http.Handler, models []string) (*Bundle, error) {
	dir, err := os.MkdirTemp("", "fusionfleet-update-bundle-")
	if err != nil {
		return nil, fmt.Errorf("update bundle: %w", err)
	}
	opts := MirrorOptions{}
	if models != nil {
		opts.Models = func(context.Context) []string { return models }
	}
	m, err := NewMirror(dir, "http://repository/tuf", &http.Client{Transport: handlerTransport{src}}, opts)
	if err == nil {
		_, err = m.Sync(ctx)
	}
	if err != nil {
		os.RemoveAll(dir)
		if errors.Is(err, errNotFound) || errors.Is(err, ErrNothingPublished) {
			return nil, fmt.Errorf("update bundle: %w: %v", ErrNoRepository, err)
		}
		return nil, fmt.Errorf("update bundle: %w", err)
	}
	return &Bundle{dir: dir}, nil
}

// Close removes the bundle's directory.
func (b *Bundle) Close() error { return os.RemoveAll(b.dir) }

// WriteTo writes the bundle as a zip to w.
func (b *Bundle) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: w}
	zw := zip.NewWriter(cw)
	for _, d := range []struct{ from, to string }{{MetadataDir, "tuf/metadata"}, {TargetsDir, "tuf/targets"}} {
		entries, err := os.ReadDir(filepath.Join(b.dir, d.from))
		if err != nil {
			return cw.n, fmt.Errorf("update bundle: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() || e.Name()[0] == '.' {
				continue
			}
			if err := addFile(zw, filepath.Join(b.dir, d.from, e.Name()), path.Join(d.to, e.Name())); err != nil {
				return cw.n, fmt.Errorf("update bundle: %w", err)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(b.dir, "rollout.json")); err == nil {
		if err := addFile(zw, filepath.Join(b.dir, "rollout.json"), "tuf/rollout.json"); err != nil {
			return cw.n, fmt.Errorf("update bundle: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return cw.n, fmt.Errorf("update bundle: %w", err)
	}
	return cw.n, nil
}

// countingWriter counts what it passes on.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// WriteBundle writes to w a bundle of the repository that src serves,
// with the targets for models (nil: every target).
func WriteBundle(ctx context.Context, w io.Writer, src http.Handler, models []string) error {
	b, err := NewBundle(ctx, src, models)
	if err != nil {
		return err
	}
	defer b.Close()
	_, err = b.WriteTo(w)
	return err
}

func addFile(zw *zip.Writer, from, to string) error {
	f, err := os.Open(from)
	if err != nil {
		return err
	}
	defer f.Close()
	// Targets are compressed images already: stored as they are.
	w, err := zw.CreateHeader(&zip.FileHeader{Name: to, Method: zip.Store})
	if err != nil {
		return err
	}
	_, err = io.Copy(w, f)
	return err
}

// handlerTransport serves requests with a handler in process.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// ErrBundleUntrusted: an update bundle's metadata does not verify against
// the trusted root. Nothing of it was mirrored.
var ErrBundleUntrusted = errors.New("the update bundle's signatures do not verify against the trusted root")

// ImportBundle verifies the update bundle in r (size bytes) with TUF
// against trustedRoot (root metadata the site already trusts), judging
// expiry at now, and then mirrors it into the mirror directory dir, as a
// sync from the cloud would. A bundle that is not a zip, lacks metadata,
// or does not verify is refused and dir is left as it was.
func ImportBundle(ctx context.Context, r io.ReaderAt, size int64, dir string, trustedRoot []byte, now time.Time) ([]MirroredTarget, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("import update bundle: not an update bundle: %w", err)
	}
	client := &http.Client{Transport: http.NewFileTransportFS(zr)}
	if err := verifyBundle(ctx, zr, client, trustedRoot, now); err != nil {
		return nil, fmt.Errorf("import update bundle: %w", err)
	}
	m, err := NewMirror(dir, bundleSource, client, MirrorOptions{})
	if err != nil {
		return nil, fmt.Errorf("import update bundle: %w", err)
	}
	if _, err := m.Sync(ctx); err != nil {
		return nil, fmt.Errorf("import update bundle: %w", err)
	}
	return m.Targets(), nil
}

// verifyBundle runs TUF's client workflow over the bundle: the chain of
// roots from trustedRoot, timestamp, snapshot and targets, signatures,
// versions and expiry.
func verifyBundle(ctx context.Context, fsys fs.FS, client *http.Client, trustedRoot []byte, now time.Time) error {
	if _, err := fs.Stat(fsys, "tuf/metadata/timestamp.json"); err != nil {
		return fmt.Errorf("not an update bundle: no tuf/metadata/timestamp.json")
	}
	state, err := os.MkdirTemp("", "fusionfleet-update-verify-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(state)
	cfg, err := config.New(bundleSource+"/metadata", trustedRoot)
	if err != nil {
		return fmt.Errorf("trusted root: %w", err)
	}
	cfg.RemoteTargetsURL = bundleSource + "/targets"
	cfg.LocalMetadataDir = state
	cfg.LocalTargetsDir = state
	cfg.Fetcher = &fetcher{ctx: ctx, client: client, timeout: time.Minute}
	cfg.TimestampMaxLength = maxTimestampSize
	up, err := updater.New(cfg)
	if err != nil {
		return fmt.Errorf("trusted root: %w", err)
	}
	up.UnsafeSetRefTime(now.UTC())
	if err := up.Refresh(); err != nil {
		return fmt.Errorf("%w: %v", ErrBundleUntrusted, err)
	}
	return nil
}

// TrustedRoot returns the first root metadata the mirror in dir holds:
// TUF walks the chain of rotations from it, so a later root is trusted
// only when the one before signed it. fs.ErrNotExist when it holds none.
func TrustedRoot(dir string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, MetadataDir, "1.root.json"))
	if err != nil {
		return nil, fmt.Errorf("trusted root: %w", err)
	}
	return b, nil
}
