package updaterepo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/update"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// RepoOptions tunes a repository. The zero value works: root 2 of 3 keys,
// targets 1 of 1, a one-day timestamp.
type RepoOptions struct {
	Clock clock.Clock // zero: the real clock

	// Reloaded, if set, is called when the Repo found the metadata
	// changed by another process and reloaded it (with the Repo locked:
	// it must not call the Repo).
	Reloaded func()

	// Keys made by InitRepo and thresholds for the offline roles.
	RootKeys, RootThreshold       int // zero: 3 and 2
	TargetsKeys, TargetsThreshold int // zero: 1 and 1

	// How long each role's metadata stays valid once signed. The timestamp
	// is short so that a printer notices within a day that its mirror
	// froze it on old metadata.
	RootExpiry      time.Duration // zero: one year
	TargetsExpiry   time.Duration // zero: one year
	SnapshotExpiry  time.Duration // zero: seven days
	TimestampExpiry time.Duration // zero: one day

	// Progress, if set, receives a text progress bar while target files
	// are hashed and copied.
	Progress io.Writer
}

func (o RepoOptions) withDefaults() RepoOptions {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.RootKeys, 3)
	def(&o.RootThreshold, min(2, o.RootKeys))
	def(&o.TargetsKeys, 1)
	def(&o.TargetsThreshold, 1)
	dur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	dur(&o.RootExpiry, 365*24*time.Hour)
	dur(&o.TargetsExpiry, 365*24*time.Hour)
	dur(&o.SnapshotExpiry, 7*24*time.Hour)
	dur(&o.TimestampExpiry, 24*time.Hour)
	return o
}

// ErrRepoExists means InitRepo was pointed at a directory that already
// holds a repository.
var ErrRepoExists = errors.New("repository already exists")

// Repo is a TUF repository with consistent snapshots in a directory:
// metadata under repository/metadata, hash-prefixed targets under
// repository/targets, keys under keys/offline and keys/online. Its methods
// are safe for concurrent use within one process.
type Repo struct {
	dir  string
	opts RepoOptions

	mu        sync.Mutex
	root      *metadata.Metadata[metadata.RootType]
	targets   *metadata.Metadata[metadata.TargetsType]
	snapshot  *metadata.Metadata[metadata.SnapshotType]
	timestamp *metadata.Metadata[metadata.TimestampType]
	seen      []byte // timestamp.json as last read or written here
}

// InitRepo creates a repository in dir with fresh keys for every role and
// signs its first metadata.
func InitRepo(dir string, opts RepoOptions) (*Repo, error) {
	opts = opts.withDefaults()
	if opts.RootThreshold > opts.RootKeys || opts.TargetsThreshold > opts.TargetsKeys {
		return nil, fmt.Errorf("init repository: a threshold exceeds its number of keys")
	}
	if _, err := os.Stat(filepath.Join(dir, update.MetadataDir, "root.json")); err == nil {
		return nil, fmt.Errorf("init repository %s: %w", dir, ErrRepoExists)
	}
	for _, d := range []string{update.MetadataDir, update.TargetsDir} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("init repository: %w", err)
		}
	}
	now := opts.Clock.Now().UTC()
	r := &Repo{dir: dir, opts: opts}
	r.root = metadata.Root(now.Add(opts.RootExpiry))
	counts := map[string][2]int{
		metadata.ROOT:      {opts.RootKeys, opts.RootThreshold},
		metadata.TARGETS:   {opts.TargetsKeys, opts.TargetsThreshold},
		metadata.SNAPSHOT:  {1, 1},
		metadata.TIMESTAMP: {1, 1},
	}
	for role, c := range counts {
		for range c[0] {
			k, err := generateKey(dir, role)
			if err != nil {
				return nil, fmt.Errorf("init repository: %w", err)
			}
			if err := r.root.Signed.AddKey(k.key, role); err != nil {
				return nil, fmt.Errorf("init repository: %w", err)
			}
		}
		r.root.Signed.Roles[role].Threshold = c[1]
	}
	if err := r.signRole(r.root, metadata.ROOT); err != nil {
		return nil, fmt.Errorf("init repository: %w", err)
	}
	if err := r.writeRoot(); err != nil {
		return nil, fmt.Errorf("init repository: %w", err)
	}
	r.targets = metadata.Targets(now.Add(opts.TargetsExpiry))
	r.targets.Signed.Version = 0 // publishTargets counts it up to 1
	r.snapshot = metadata.Snapshot(now)
	r.snapshot.Signed.Version = 0
	r.timestamp = metadata.Timestamp(now)
	r.timestamp.Signed.Version = 0
	if err := r.publishTargets(); err != nil {
		return nil, fmt.Errorf("init repository: %w", err)
	}
	return r, nil
}

// OpenRepo loads the repository in dir.
func OpenRepo(dir string, opts RepoOptions) (*Repo, error) {
	r := &Repo{dir: dir, opts: opts.withDefaults()}
	if err := r.load(); err != nil {
		return nil, fmt.Errorf("open repository %s: %w", dir, err)
	}
	return r, nil
}

// load reads the current metadata from the directory.
func (r *Repo) load() error {
	md := filepath.Join(r.dir, update.MetadataDir)
	ts, err := os.ReadFile(filepath.Join(md, "timestamp.json"))
	if err != nil {
		return err
	}
	root, err := metadata.Root().FromFile(filepath.Join(md, "root.json"))
	if err != nil {
		return err
	}
	timestamp, err := metadata.Timestamp().FromBytes(ts)
	if err != nil {
		return fmt.Errorf("timestamp.json: %w", err)
	}
	snapV := timestamp.Signed.Meta["snapshot.json"].Version
	snapshot, err := metadata.Snapshot().FromFile(filepath.Join(md, versionedName(snapV, metadata.SNAPSHOT)))
	if err != nil {
		return err
	}
	tv := snapshot.Signed.Meta["targets.json"].Version
	targets, err := metadata.Targets().FromFile(filepath.Join(md, versionedName(tv, metadata.TARGETS)))
	if err != nil {
		return err
	}
	r.root, r.timestamp, r.snapshot, r.targets, r.seen = root, timestamp, snapshot, targets, ts
	return nil
}

// fresh reloads the metadata when another process published into the
// directory since this Repo last read or wrote it: the release tool run on
// the cloud's own repository, as the demo does. Without it the cloud lists
// the releases it started with, and its next re-signing writes a timestamp
// over the old snapshot, taking the new release back. Every method that
// reads or changes the metadata calls it with r.mu held.
func (r *Repo) fresh() error {
	ts, err := os.ReadFile(filepath.Join(r.dir, update.MetadataDir, "timestamp.json"))
	if err != nil {
		return fmt.Errorf("repository %s: %w", r.dir, err)
	}
	if bytes.Equal(ts, r.seen) {
		return nil
	}
	if err := r.load(); err != nil {
		return fmt.Errorf("repository %s changed on disk: %w", r.dir, err)
	}
	if r.opts.Reloaded != nil {
		r.opts.Reloaded()
	}
	return nil
}

// Refresh reloads the metadata if another process changed it since this
// Repo last read or wrote it.
func (r *Repo) Refresh() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fresh()
}

// Dir returns the repository's directory.
func (r *Repo) Dir() string { return r.dir }

// TrustedRoot returns the current root metadata: what a printer pins at
// manufacture. Later rotations reach it through the chain of roots.
func (r *Repo) TrustedRoot() ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(r.dir, update.MetadataDir, "root.json"))
	if err != nil {
		return nil, fmt.Errorf("trusted root: %w", err)
	}
	return b, nil
}

// TargetInfo describes a published target.
type TargetInfo struct {
	Name   string
	Length int64
	SHA256 string
	update.Release
}

// AddTargetFile adds the file at path as a target described by rel, signs
// targets with the offline targets keys and snapshot and timestamp with the
// online keys. A target of the same name is replaced.
func (r *Repo) AddTargetFile(ctx context.Context, path string, rel update.Release) (TargetInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return TargetInfo{}, fmt.Errorf("add target: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return TargetInfo{}, fmt.Errorf("add target: %w", err)
	}
	return r.AddTarget(ctx, TargetName(rel, path), rel, f, st.Size())
}

// TargetName is the name a release's file gets in the repository:
// kind, version and the file's base name, in a safe character set.
func TargetName(rel update.Release, file string) string {
	return update.SafeName(fmt.Sprintf("%s-%s-%s", rel.Kind, rel.Version, filepath.Base(file)))
}

// AddTarget adds size bytes from src as target name (see AddTargetFile).
func (r *Repo) AddTarget(ctx context.Context, name string, rel update.Release, src io.Reader, size int64) (TargetInfo, error) {
	if name == "" || name != update.SafeName(name) {
		return TargetInfo{}, fmt.Errorf("add target: name %q: want letters, digits, '.', '-', '_'", name)
	}
	custom, err := update.EncodeRelease(rel)
	if err != nil {
		return TargetInfo{}, fmt.Errorf("add target %s: %w", name, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fresh(); err != nil {
		return TargetInfo{}, fmt.Errorf("add target %s: %w", name, err)
	}
	// Fail before copying a large file if a key is not here.
	for _, role := range []string{metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP} {
		if _, err := r.roleKeys(role); err != nil {
			return TargetInfo{}, fmt.Errorf("add target %s: %w", name, err)
		}
	}
	tmp, err := os.CreateTemp(filepath.Join(r.dir, update.TargetsDir), ".incoming-")
	if err != nil {
		return TargetInfo{}, fmt.Errorf("add target: %w", err)
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	var w io.Writer = io.MultiWriter(tmp, h)
	if r.opts.Progress != nil {
		p := newProgress(r.opts.Progress, name, size)
		defer p.finish()
		w = io.MultiWriter(w, p)
	}
	n, err := io.Copy(w, ctxReader{ctx, src})
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return TargetInfo{}, fmt.Errorf("add target %s: copy: %w", name, err)
	}
	sum := h.Sum(nil)
	dst := filepath.Join(r.dir, update.TargetsDir, hex.EncodeToString(sum)+"."+name)
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return TargetInfo{}, fmt.Errorf("add target: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return TargetInfo{}, fmt.Errorf("add target: %w", err)
	}
	tf := metadata.TargetFile()
	tf.Path = name
	tf.Length = n
	tf.Hashes = metadata.Hashes{"sha256": sum}
	raw := json.RawMessage(custom)
	tf.Custom = &raw
	prev := r.targets.Signed.Targets[name]
	r.targets.Signed.Targets[name] = tf
	if err := r.publishTargets(); err != nil {
		if prev != nil {
			r.targets.Signed.Targets[name] = prev
		} else {
			delete(r.targets.Signed.Targets, name)
		}
		return TargetInfo{}, fmt.Errorf("add target %s: %w", name, err)
	}
	return TargetInfo{Name: name, Length: n, SHA256: hex.EncodeToString(sum), Release: rel}, nil
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Resign signs a new snapshot and timestamp with the online keys, pushing
// their expiry forward. The cloud calls it on a schedule, more often than
// the timestamp expires; it needs no offline key.
func (r *Repo) Resign() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fresh(); err != nil {
		return fmt.Errorf("resign: %w", err)
	}
	if err := r.publishSnapshot(); err != nil {
		return fmt.Errorf("resign: %w", err)
	}
	return nil
}

// RotateRoot replaces the root keys with newKeys fresh keys and the given
// threshold. The new root is signed by a threshold of the old keys and of
// the new ones, so that printers pinned to the old root accept it.
func (r *Repo) RotateRoot(newKeys, threshold int) error {
	return r.rotateRoot(newKeys, threshold, true)
}

// rotateRoot is RotateRoot; signOld false makes the wrongly signed root of
// the attack tests.
func (r *Repo) rotateRoot(newKeys, threshold int, signOld bool) error {
	if newKeys < 1 || threshold < 1 || threshold > newKeys {
		return fmt.Errorf("rotate root: want 1 <= threshold (%d) <= keys (%d)", threshold, newKeys)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fresh(); err != nil {
		return fmt.Errorf("rotate root: %w", err)
	}
	old := r.root
	oldKeys, err := r.roleKeys(metadata.ROOT)
	if err != nil && signOld {
		return fmt.Errorf("rotate root: %w", err)
	}
	b, err := old.ToBytes(false)
	if err != nil {
		return fmt.Errorf("rotate root: %w", err)
	}
	next, err := metadata.Root().FromBytes(b) // a deep copy
	if err != nil {
		return fmt.Errorf("rotate root: %w", err)
	}
	next.Signed.Version++
	next.Signed.Expires = r.opts.Clock.Now().UTC().Add(r.opts.RootExpiry)
	for _, id := range slices.Clone(next.Signed.Roles[metadata.ROOT].KeyIDs) {
		if err := next.Signed.RevokeKey(id, metadata.ROOT); err != nil {
			return fmt.Errorf("rotate root: %w", err)
		}
	}
	var fresh []*signingKey
	for range newKeys {
		k, err := generateKey(r.dir, metadata.ROOT)
		if err != nil {
			return fmt.Errorf("rotate root: %w", err)
		}
		if err := next.Signed.AddKey(k.key, metadata.ROOT); err != nil {
			return fmt.Errorf("rotate root: %w", err)
		}
		fresh = append(fresh, k)
	}
	next.Signed.Roles[metadata.ROOT].Threshold = threshold
	next.ClearSignatures()
	if signOld {
		if err := signAll(next, oldKeys); err != nil {
			return fmt.Errorf("rotate root: %w", err)
		}
	}
	if err := signAll(next, fresh); err != nil {
		return fmt.Errorf("rotate root: %w", err)
	}
	r.root = next
	if err := r.writeRoot(); err != nil {
		r.root = old
		return fmt.Errorf("rotate root: %w", err)
	}
	return nil
}

// roleKeys returns the keys of role the current root names that are
// present, or ErrMissingKey if fewer than its threshold are.
func (r *Repo) roleKeys(role string) ([]*signingKey, error) {
	rl := r.root.Signed.Roles[role]
	found, err := loadKeys(r.dir, role, rl.KeyIDs)
	if err != nil {
		return nil, err
	}
	if len(found) < rl.Threshold {
		return nil, fmt.Errorf("%s: %d of %d keys present, threshold %d: %w", role, len(found), len(rl.KeyIDs), rl.Threshold, ErrMissingKey)
	}
	var keys []*signingKey
	for _, id := range rl.KeyIDs { // in the root's order, for stable output
		if k, ok := found[id]; ok {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

func (r *Repo) signRole(md any, role string) error {
	keys, err := r.roleKeys(role)
	if err != nil {
		return err
	}
	switch m := md.(type) {
	case *metadata.Metadata[metadata.RootType]:
		m.ClearSignatures()
		return signAll(m, keys)
	case *metadata.Metadata[metadata.TargetsType]:
		m.ClearSignatures()
		return signAll(m, keys)
	case *metadata.Metadata[metadata.SnapshotType]:
		m.ClearSignatures()
		return signAll(m, keys)
	case *metadata.Metadata[metadata.TimestampType]:
		m.ClearSignatures()
		return signAll(m, keys)
	}
	return fmt.Errorf("sign %s: unknown metadata type %T", role, md)
}

func signAll[T metadata.Roles](md *metadata.Metadata[T], keys []*signingKey) error {
	for _, k := range keys {
		if _, err := md.Sign(k.signer); err != nil {
			return fmt.Errorf("sign: %w", err)
		}
	}
	return nil
}

// publishTargets signs and writes a new targets version, then a new
// snapshot and timestamp naming it.
func (r *Repo) publishTargets() error {
	t := r.targets
	t.Signed.Version++
	t.Signed.Expires = r.opts.Clock.Now().UTC().Add(r.opts.TargetsExpiry)
	if err := r.signRole(t, metadata.TARGETS); err != nil {
		t.Signed.Version--
		return err
	}
	b, err := t.ToBytes(false)
	if err != nil {
		return err
	}
	if err := r.writeFile(versionedName(t.Signed.Version, metadata.TARGETS), b); err != nil {
		return err
	}
	r.snapshot.Signed.Meta["targets.json"] = metaFile(t.Signed.Version, b)
	return r.publishSnapshot()
}

// publishSnapshot signs and writes a new snapshot and timestamp. The
// timestamp is written last: until it is, mirrors serve the old state.
func (r *Repo) publishSnapshot() error {
	now := r.opts.Clock.Now().UTC()
	s := r.snapshot
	s.Signed.Version++
	s.Signed.Expires = now.Add(r.opts.SnapshotExpiry)
	if err := r.signRole(s, metadata.SNAPSHOT); err != nil {
		s.Signed.Version--
		return err
	}
	sb, err := s.ToBytes(false)
	if err != nil {
		return err
	}
	if err := r.writeFile(versionedName(s.Signed.Version, metadata.SNAPSHOT), sb); err != nil {
		return err
	}
	ts := r.timestamp
	ts.Signed.Version++
	ts.Signed.Expires = now.Add(r.opts.TimestampExpiry)
	ts.Signed.Meta["snapshot.json"] = metaFile(s.Signed.Version, sb)
	if err := r.signRole(ts, metadata.TIMESTAMP); err != nil {
		ts.Signed.Version--
		return err
	}
	tb, err := ts.ToBytes(false)
	if err != nil {
		return err
	}
	return r.writeFile("timestamp.json", tb)
}

// metaFile describes a metadata file by version, length and hash, so that
// a client refuses any other file (mix-and-match) before parsing it.
func metaFile(version int64, b []byte) *metadata.MetaFiles {
	m := metadata.MetaFile(version)
	m.Length = int64(len(b))
	sum := sha256.Sum256(b)
	m.Hashes = metadata.Hashes{"sha256": sum[:]}
	return m
}

func (r *Repo) writeRoot() error {
	b, err := r.root.ToBytes(false)
	if err != nil {
		return err
	}
	if err := r.writeFile(versionedName(r.root.Signed.Version, metadata.ROOT), b); err != nil {
		return err
	}
	return r.writeFile("root.json", b)
}

// writeFile writes a metadata file atomically.
func (r *Repo) writeFile(name string, b []byte) error {
	if err := update.WriteFileAtomic(filepath.Join(r.dir, update.MetadataDir, name), b, 0o644); err != nil {
		return err
	}
	if name == "timestamp.json" {
		r.seen = b
	}
	return nil
}

// RepoStatus summarises a repository for the release tool.
type RepoStatus struct {
	RootVersion      int64
	RootExpires      time.Time
	Roles            []RoleStatus
	TargetsVersion   int64
	SnapshotVersion  int64
	TimestampVersion int64
	TimestampExpires time.Time
	Targets          []TargetInfo
}

// RoleStatus tells a role's threshold and how many of its keys are here.
type RoleStatus struct {
	Role              string
	Threshold         int
	Keys, KeysPresent int
	Offline           bool
}

// Status reports the repository's versions, roles and targets.
func (r *Repo) Status() (RepoStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fresh(); err != nil {
		return RepoStatus{}, err
	}
	st := RepoStatus{
		RootVersion: r.root.Signed.Version, RootExpires: r.root.Signed.Expires,
		TargetsVersion: r.targets.Signed.Version, SnapshotVersion: r.snapshot.Signed.Version,
		TimestampVersion: r.timestamp.Signed.Version, TimestampExpires: r.timestamp.Signed.Expires,
	}
	for _, role := range []string{metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP} {
		rl := r.root.Signed.Roles[role]
		found, err := loadKeys(r.dir, role, rl.KeyIDs)
		if err != nil {
			return RepoStatus{}, fmt.Errorf("status: %w", err)
		}
		st.Roles = append(st.Roles, RoleStatus{Role: role, Threshold: rl.Threshold, Keys: len(rl.KeyIDs),
			KeysPresent: len(found), Offline: keyDir(role) == offlineKeyDir})
	}
	for name, tf := range r.targets.Signed.Targets {
		ti := TargetInfo{Name: name, Length: tf.Length, SHA256: hex.EncodeToString(tf.Hashes["sha256"])}
		if tf.Custom != nil {
			if rel, err := update.DecodeRelease(*tf.Custom); err == nil {
				ti.Release = rel
			}
		}
		st.Targets = append(st.Targets, ti)
	}
	slices.SortFunc(st.Targets, func(a, b TargetInfo) int {
		if c := strings.Compare(string(a.Kind), string(b.Kind)); c != 0 {
			return c
		}
		if c := update.CompareVersions(a.Version, b.Version); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return st, nil
}

// versionedName is "N.role.json".
func versionedName(version int64, role string) string {
	return strconv.FormatInt(version, 10) + "." + role + ".json"
}
