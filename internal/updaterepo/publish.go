package updaterepo

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/fusionfleet/fusionfleet/internal/update"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Publishing: the release tool uploads what it signed offline to the
// cloud, which verifies the upload against the root chain it already
// trusts before a single file of its repository changes.
//
// An upload is a tar stream of regular files:
//
//	metadata/N.root.json      every root version (those the cloud holds
//	                          must be byte-identical; newer ones must each be
//	                          signed by a threshold of the previous root's
//	                          keys and of their own)
//	metadata/N.targets.json   the targets metadata to publish, signed by a
//	                          threshold of the targets keys of the newest root
//	targets/SHA256.NAME       target files the cloud lacks
//	metadata/N.snapshot.json, metadata/timestamp.json
//	                          accepted and ignored: the cloud signs its own
//	                          snapshot and timestamp with its online keys
//
// Versions never go backwards: an older targets version, or another file
// with the same version, is refused (update.ErrRollback). Every target the new
// targets metadata names must be in the upload or the repository, with the
// signed length and SHA-256. Only then are the files moved into the
// repository and a new snapshot and timestamp signed; the timestamp is
// written last, so mirrors see either the old state or the new one.

// ErrBadUpload means an upload is not a repository archive: unknown or
// unsafe file names, non-regular files, duplicates, or missing metadata.
var ErrBadUpload = errors.New("upload is not a valid repository archive")

// PublishOptions bounds an upload. The zero value works.
type PublishOptions struct {
	MaxMetadataSize int64 // per metadata file; zero: 4 MiB
	MaxTargetSize   int64 // per target file; zero: 1 GiB
	MaxFiles        int   // zero: 4096
}

func (o PublishOptions) withDefaults() PublishOptions {
	if o.MaxMetadataSize <= 0 {
		o.MaxMetadataSize = 4 << 20
	}
	if o.MaxTargetSize <= 0 {
		o.MaxTargetSize = 1 << 30
	}
	if o.MaxFiles <= 0 {
		o.MaxFiles = 4096
	}
	return o
}

// PublishResult says what a publish changed.
type PublishResult struct {
	Changed        bool     // false: the repository already held this state
	RootVersion    int64    // after the publish
	TargetsVersion int64    // after the publish
	NewTargets     []string // target files received, by target name
}

// upload is a read and staged archive. Target files are written to the
// staging directory, named as in the repository; metadata stays in memory.
type upload struct {
	stage   string
	roots   map[int64][]byte
	targets map[int64][]byte
	files   map[string]int64 // "SHA256.NAME" → length, staged
}

// readUpload reads an archive from src, staging target files in stage. It
// checks names, types, sizes and that each target file's SHA-256 is the one
// its name claims.
func readUpload(src io.Reader, stage string, opts PublishOptions) (*upload, error) {
	up := &upload{stage: stage, roots: map[int64][]byte{}, targets: map[int64][]byte{}, files: map[string]int64{}}
	seen := map[string]bool{}
	tr := tar.NewReader(src)
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadUpload, err)
		}
		if n >= opts.MaxFiles {
			return nil, fmt.Errorf("%w: more than %d files", update.ErrTooLarge, opts.MaxFiles)
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("%w: %q is not a regular file", ErrBadUpload, hdr.Name)
		}
		if seen[hdr.Name] {
			return nil, fmt.Errorf("%w: %q appears twice", ErrBadUpload, hdr.Name)
		}
		seen[hdr.Name] = true
		dir, base, _ := strings.Cut(hdr.Name, "/")
		if base == "" || len(base) > 255 || update.SafeName(base) != base {
			return nil, fmt.Errorf("%w: unsafe file name %q", ErrBadUpload, hdr.Name)
		}
		switch dir {
		case "metadata":
			if hdr.Size < 0 || hdr.Size > opts.MaxMetadataSize {
				return nil, fmt.Errorf("%w: %s: more than %d bytes", update.ErrTooLarge, hdr.Name, opts.MaxMetadataSize)
			}
			if base == "timestamp.json" {
				continue // replaced by the cloud's own
			}
			version, role, ok := parseVersionedName(base)
			if !ok {
				return nil, fmt.Errorf("%w: unexpected metadata file %q", ErrBadUpload, hdr.Name)
			}
			if role == metadata.SNAPSHOT {
				continue // replaced by the cloud's own
			}
			b, err := readAtMost(tr, opts.MaxMetadataSize)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", hdr.Name, err)
			}
			switch role {
			case metadata.ROOT:
				up.roots[version] = b
			case metadata.TARGETS:
				up.targets[version] = b
			default:
				return nil, fmt.Errorf("%w: unexpected metadata file %q", ErrBadUpload, hdr.Name)
			}
		case "targets":
			sum, name, ok := strings.Cut(base, ".")
			if !ok || name == "" || len(sum) != sha256.Size*2 || strings.ToLower(sum) != sum {
				return nil, fmt.Errorf("%w: target file %q is not SHA256.NAME", ErrBadUpload, hdr.Name)
			}
			if _, err := hex.DecodeString(sum); err != nil {
				return nil, fmt.Errorf("%w: target file %q is not SHA256.NAME", ErrBadUpload, hdr.Name)
			}
			if hdr.Size < 0 || hdr.Size > opts.MaxTargetSize {
				return nil, fmt.Errorf("%w: %s: more than %d bytes", update.ErrTooLarge, hdr.Name, opts.MaxTargetSize)
			}
			length, err := stageTarget(tr, filepath.Join(stage, base), sum, opts.MaxTargetSize)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", hdr.Name, err)
			}
			up.files[base] = length
		default:
			return nil, fmt.Errorf("%w: unexpected file %q", ErrBadUpload, hdr.Name)
		}
	}
	if len(up.targets) != 1 {
		return nil, fmt.Errorf("%w: want exactly one targets metadata file, got %d", ErrBadUpload, len(up.targets))
	}
	return up, nil
}

// parseVersionedName splits "N.role.json".
func parseVersionedName(base string) (int64, string, bool) {
	rest, ok := strings.CutSuffix(base, ".json")
	if !ok {
		return 0, "", false
	}
	num, role, ok := strings.Cut(rest, ".")
	if !ok {
		return 0, "", false
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil || v < 1 || strconv.FormatInt(v, 10) != num {
		return 0, "", false
	}
	return v, role, true
}

func readAtMost(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadUpload, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", update.ErrTooLarge, limit)
	}
	return b, nil
}

// stageTarget copies a target file to path, checking that its SHA-256 is
// sum.
func stageTarget(r io.Reader, path, sum string, limit int64) (int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return 0, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, limit+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		return 0, fmt.Errorf("%w: %v", ErrBadUpload, err)
	case n > limit:
		return 0, fmt.Errorf("%w: more than %d bytes", update.ErrTooLarge, limit)
	case hex.EncodeToString(h.Sum(nil)) != sum:
		return 0, fmt.Errorf("content does not match its SHA-256 name: %w", update.ErrTamperedTarget)
	}
	return n, nil
}

// Publish reads an upload from src, verifies it against the repository's
// trusted root chain and, only if every check passes, moves it into the
// repository and signs a new snapshot and timestamp with the online keys.
// A refused upload changes nothing; its error wraps one of ErrBadUpload,
// update.ErrTooLarge, update.ErrRootRotation, update.ErrUnknownKey, update.ErrThreshold,
// update.ErrTamperedMetadata, update.ErrTamperedTarget, update.ErrRollback, update.ErrExpired,
// update.ErrMalformed or ErrMissingKey.
func (r *Repo) Publish(ctx context.Context, src io.Reader, opts PublishOptions) (PublishResult, error) {
	opts = opts.withDefaults()
	stage, err := os.MkdirTemp(r.dir, ".publish-")
	if err != nil {
		return PublishResult{}, fmt.Errorf("publish: %w", err)
	}
	defer os.RemoveAll(stage)
	up, err := readUpload(ctxReader{ctx, src}, stage, opts)
	if err != nil {
		return PublishResult{}, fmt.Errorf("publish: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fresh(); err != nil {
		return PublishResult{}, fmt.Errorf("publish: %w", err)
	}
	res, err := r.applyUpload(up)
	if err != nil {
		return PublishResult{}, fmt.Errorf("publish: %w", err)
	}
	return res, nil
}

// verified is an upload that passed every check.
type verified struct {
	roots        []*metadata.Metadata[metadata.RootType] // new versions, in order
	rootBytes    [][]byte
	targets      *metadata.Metadata[metadata.TargetsType]
	targetsBytes []byte
	newFiles     []string // staged target files the targets metadata names
}

// verifyUpload checks up against the trusted state. r.mu is held.
func (r *Repo) verifyUpload(up *upload) (*verified, bool, error) {
	now := r.opts.Clock.Now().UTC()
	v := &verified{}
	trusted := r.root
	for _, ver := range slices.Sorted(maps.Keys(up.roots)) {
		b := up.roots[ver]
		if ver <= r.root.Signed.Version {
			held, err := os.ReadFile(filepath.Join(r.dir, update.MetadataDir, versionedName(ver, metadata.ROOT)))
			if err != nil || !bytes.Equal(held, b) {
				return nil, false, fmt.Errorf("root version %d differs from the one trusted: %w", ver, update.ErrRootRotation)
			}
			continue
		}
		if ver != trusted.Signed.Version+1 {
			return nil, false, fmt.Errorf("root version %d does not follow trusted version %d: %w", ver, trusted.Signed.Version, update.ErrRootRotation)
		}
		next, err := metadata.Root().FromBytes(b)
		if err != nil {
			return nil, false, fmt.Errorf("root version %d: %w: %v", ver, update.ErrMalformed, err)
		}
		if next.Signed.Version != ver {
			return nil, false, fmt.Errorf("root file %d holds version %d: %w", ver, next.Signed.Version, update.ErrMalformed)
		}
		if err := trusted.VerifyDelegate(metadata.ROOT, next); err != nil {
			return nil, false, fmt.Errorf("root version %d: not signed by the previous root's keys: %w", ver, update.ErrRootRotation)
		}
		if err := next.VerifyDelegate(metadata.ROOT, next); err != nil {
			return nil, false, fmt.Errorf("root version %d: not signed by its own keys: %w", ver, update.ErrRootRotation)
		}
		v.roots = append(v.roots, next)
		v.rootBytes = append(v.rootBytes, b)
		trusted = next
	}
	if trusted.Signed.IsExpired(now) {
		return nil, false, fmt.Errorf("root version %d expired %s: %w", trusted.Signed.Version, trusted.Signed.Expires.Format("2006-01-02"), update.ErrExpired)
	}
	var ver int64
	var b []byte
	for tv, data := range up.targets { // exactly one
		ver, b = tv, data
	}
	cur := r.targets.Signed.Version
	switch {
	case ver < cur:
		return nil, false, fmt.Errorf("targets version %d is older than the published version %d: %w", ver, cur, update.ErrRollback)
	case ver == cur:
		held, err := os.ReadFile(filepath.Join(r.dir, update.MetadataDir, versionedName(ver, metadata.TARGETS)))
		if err != nil || !bytes.Equal(held, b) {
			return nil, false, fmt.Errorf("targets version %d differs from the published one of the same version: %w", ver, update.ErrRollback)
		}
	}
	t, err := metadata.Targets().FromBytes(b)
	if err != nil {
		return nil, false, fmt.Errorf("targets: %w: %v", update.ErrMalformed, err)
	}
	if t.Signed.Version != ver {
		return nil, false, fmt.Errorf("targets file %d holds version %d: %w", ver, t.Signed.Version, update.ErrMalformed)
	}
	if err := trusted.VerifyDelegate(metadata.TARGETS, t); err != nil {
		return nil, false, fmt.Errorf("targets version %d: %w", ver, update.DiagnoseSignatures(b, metadata.TARGETS, trusted))
	}
	if t.Signed.IsExpired(now) {
		return nil, false, fmt.Errorf("targets version %d expired: %w", ver, update.ErrExpired)
	}
	if t.Signed.Delegations != nil && (len(t.Signed.Delegations.Roles) > 0 || t.Signed.Delegations.SuccinctRoles != nil) {
		return nil, false, fmt.Errorf("targets version %d delegates: %w", ver, ErrBadUpload)
	}
	v.targets, v.targetsBytes = t, b
	named := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(t.Signed.Targets)) {
		tf := t.Signed.Targets[name]
		if name == "" || len(name) > 200 || update.SafeName(name) != name {
			return nil, false, fmt.Errorf("target name %q: %w", name, ErrBadUpload)
		}
		sum := tf.Hashes["sha256"]
		if len(sum) != sha256.Size || tf.Length < 0 {
			return nil, false, fmt.Errorf("target %s: no SHA-256 or a negative length: %w", name, update.ErrMalformed)
		}
		if tf.Custom == nil {
			return nil, false, fmt.Errorf("target %s: no release metadata: %w", name, update.ErrMalformed)
		}
		if _, err := update.DecodeRelease(*tf.Custom); err != nil {
			return nil, false, fmt.Errorf("target %s: %w: %v", name, update.ErrMalformed, err)
		}
		file := hex.EncodeToString(sum) + "." + name
		named[file] = true
		if length, ok := up.files[file]; ok {
			if length != tf.Length {
				return nil, false, fmt.Errorf("target %s: %d bytes, signed length %d: %w", name, length, tf.Length, update.ErrTamperedTarget)
			}
			v.newFiles = append(v.newFiles, file)
			continue
		}
		st, err := os.Stat(filepath.Join(r.dir, update.TargetsDir, file))
		if err != nil {
			return nil, false, fmt.Errorf("target %s: neither uploaded nor held: %w", name, ErrBadUpload)
		}
		if st.Size() != tf.Length {
			return nil, false, fmt.Errorf("target %s: held file has %d bytes, signed length %d: %w", name, st.Size(), tf.Length, update.ErrTamperedTarget)
		}
	}
	for file := range up.files {
		if !named[file] {
			return nil, false, fmt.Errorf("target file %s is not in the targets metadata: %w", file, ErrBadUpload)
		}
	}
	// The cloud must be able to go on signing snapshot and timestamp
	// under the newest root.
	for _, role := range []string{metadata.SNAPSHOT, metadata.TIMESTAMP} {
		rl := trusted.Signed.Roles[role]
		found, err := loadKeys(r.dir, role, rl.KeyIDs)
		if err != nil {
			return nil, false, err
		}
		if len(found) < rl.Threshold {
			return nil, false, fmt.Errorf("root version %d: the cloud holds %d of the %d %s keys it needs: %w",
				trusted.Signed.Version, len(found), rl.Threshold, role, ErrMissingKey)
		}
	}
	changed := len(v.roots) > 0 || ver > cur
	return v, changed, nil
}

// applyUpload verifies up and moves it into the repository. r.mu is held.
func (r *Repo) applyUpload(up *upload) (PublishResult, error) {
	v, changed, err := r.verifyUpload(up)
	if err != nil {
		return PublishResult{}, err
	}
	res := PublishResult{Changed: changed, RootVersion: r.root.Signed.Version, TargetsVersion: r.targets.Signed.Version}
	if !changed {
		return res, nil
	}
	// Files nothing refers to yet: target files (named by their hash),
	// versioned roots and targets. The state changes with the timestamp.
	for _, file := range v.newFiles {
		if err := os.Rename(filepath.Join(up.stage, file), filepath.Join(r.dir, update.TargetsDir, file)); err != nil {
			return PublishResult{}, err
		}
		_, name, _ := strings.Cut(file, ".")
		res.NewTargets = append(res.NewTargets, name)
	}
	for i, root := range v.roots {
		if err := r.writeFile(versionedName(root.Signed.Version, metadata.ROOT), v.rootBytes[i]); err != nil {
			return PublishResult{}, err
		}
	}
	if err := r.writeFile(versionedName(v.targets.Signed.Version, metadata.TARGETS), v.targetsBytes); err != nil {
		return PublishResult{}, err
	}
	oldRoot, oldTargets := r.root, r.targets
	oldTargetsMeta := r.snapshot.Signed.Meta["targets.json"]
	if n := len(v.roots); n > 0 {
		r.root = v.roots[n-1]
	}
	r.targets = v.targets
	r.snapshot.Signed.Meta["targets.json"] = metaFile(v.targets.Signed.Version, v.targetsBytes)
	if err := r.publishSnapshot(); err != nil {
		r.root, r.targets = oldRoot, oldTargets
		r.snapshot.Signed.Meta["targets.json"] = oldTargetsMeta
		return PublishResult{}, err
	}
	if len(v.roots) > 0 {
		if err := r.writeFile("root.json", v.rootBytes[len(v.rootBytes)-1]); err != nil {
			return PublishResult{}, err
		}
	}
	res.RootVersion, res.TargetsVersion = r.root.Signed.Version, r.targets.Signed.Version
	return res, nil
}

// PublishFile is one file of an upload: its name in the archive and where
// it is on disk.
type PublishFile struct {
	Name string // "metadata/3.root.json", "targets/SHA256.NAME"
	Path string
	Size int64
}

// UploadFiles lists what to upload to publish the repository's current
// state: every root version, the current targets metadata, and the target
// files for which held (asked with "SHA256.NAME") reports false.
func (r *Repo) UploadFiles(held func(file string) (bool, error)) ([]PublishFile, error) {
	r.mu.Lock()
	if err := r.fresh(); err != nil {
		r.mu.Unlock()
		return nil, err
	}
	rootV, targetsV := r.root.Signed.Version, r.targets.Signed.Version
	targets := maps.Clone(r.targets.Signed.Targets)
	r.mu.Unlock()
	var files []PublishFile
	add := func(name, path string) error {
		st, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("upload files: %w", err)
		}
		files = append(files, PublishFile{Name: name, Path: path, Size: st.Size()})
		return nil
	}
	for v := int64(1); v <= rootV; v++ {
		base := versionedName(v, metadata.ROOT)
		if err := add("metadata/"+base, filepath.Join(r.dir, update.MetadataDir, base)); err != nil {
			return nil, err
		}
	}
	base := versionedName(targetsV, metadata.TARGETS)
	if err := add("metadata/"+base, filepath.Join(r.dir, update.MetadataDir, base)); err != nil {
		return nil, err
	}
	for _, name := range slices.Sorted(maps.Keys(targets)) {
		file := hex.EncodeToString(targets[name].Hashes["sha256"]) + "." + name
		ok, err := held(file)
		if err != nil {
			return nil, fmt.Errorf("upload files: %w", err)
		}
		if !ok {
			if err := add("targets/"+file, filepath.Join(r.dir, update.TargetsDir, file)); err != nil {
				return nil, err
			}
		}
	}
	return files, nil
}

// WriteUpload writes files as an upload archive to w. If progress is set,
// it draws a text progress bar there as the files' bytes go out.
func WriteUpload(ctx context.Context, w io.Writer, files []PublishFile, progress io.Writer) error {
	var total int64
	for _, f := range files {
		total += f.Size
	}
	count := io.Discard
	if progress != nil {
		p := newProgress(progress, "publish", total)
		defer p.finish()
		count = p
	}
	tw := tar.NewWriter(w)
	for _, f := range files {
		if err := writeUploadFile(ctx, tw, f, count); err != nil {
			return fmt.Errorf("upload %s: %w", f.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	return nil
}

func writeUploadFile(ctx context.Context, tw *tar.Writer, pf PublishFile, count io.Writer) error {
	f, err := os.Open(pf.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: pf.Name, Size: pf.Size, Mode: 0o644, Format: tar.FormatPAX}); err != nil {
		return err
	}
	_, err = io.Copy(io.MultiWriter(tw, count), ctxReader{ctx, io.LimitReader(f, pf.Size)})
	return err
}

// ExportOnline copies the repository to dst without its offline keys: the
// metadata, the targets and the online snapshot and timestamp keys. It is
// how a cloud gets its repository (its --tuf-repo directory) once; later
// releases reach it by Publish.
func (r *Repo) ExportOnline(dst string) error {
	if _, err := os.Stat(filepath.Join(dst, update.MetadataDir, "root.json")); err == nil {
		return fmt.Errorf("export to %s: %w", dst, ErrRepoExists)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fresh(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	for _, sub := range []string{update.MetadataDir, update.TargetsDir, onlineKeyDir} {
		perm := os.FileMode(0o755)
		if sub == onlineKeyDir {
			perm = 0o700
		}
		if err := os.MkdirAll(filepath.Join(dst, sub), perm); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		entries, err := os.ReadDir(filepath.Join(r.dir, sub))
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		for _, e := range entries {
			if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			b, err := os.ReadFile(filepath.Join(r.dir, sub, e.Name()))
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			filePerm := os.FileMode(0o644)
			if sub == onlineKeyDir {
				filePerm = 0o600
			}
			if err := update.WriteFileAtomic(filepath.Join(dst, sub, e.Name()), b, filePerm); err != nil {
				return fmt.Errorf("export: %w", err)
			}
		}
	}
	return nil
}
