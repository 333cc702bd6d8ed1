package update

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The Command Center's mirror. It copies the cloud's repository file by
// file, in the layout NewHandler serves, and serves the copy to the site's
// printers. It is untrusted by design: the printers verify everything
// against their own pinned root, so a mirror that serves wrong bytes can at
// worst withhold updates. It checks what it cheaply can anyway (sizes, the
// SHA-256 of every target), so that a tampered image is not even passed on.
//
// A sync fetches timestamp.json, the chain of root versions, the snapshot
// and targets metadata the timestamp names, and the targets that fit the
// site's printer models, and writes timestamp.json last: until then the
// printers keep seeing the previous, complete state.

// MirrorOptions tunes a Mirror. The zero value works.
type MirrorOptions struct {
	Logger *slog.Logger
	// Interval between syncs in Run; zero means 5 minutes.
	Interval time.Duration
	// Models, when set, returns the printer models of the site: targets
	// for none of them are not downloaded. Nil mirrors every target.
	Models func(ctx context.Context) []string
	// MaxMetadataSize and MaxTargetSize cap every download; zero means
	// 4 MiB and 1 GiB.
	MaxMetadataSize int64
	MaxTargetSize   int64
	// MaxRoots bounds the root versions fetched in one sync; zero means 64.
	MaxRoots int
}

// Mirror keeps a copy of a TUF repository in a directory.
type Mirror struct {
	src    string // base URL of the source, ending in "/tuf"
	client *http.Client
	dir    string
	opts   MirrorOptions

	mu sync.Mutex // serialises syncs
	// state guards targets, halted and loaded: read without waiting for
	// a sync, which may take as long as a firmware download.
	state   sync.Mutex
	targets []MirroredTarget
	halted  []string
	loaded  []byte // the timestamp.json targets was listed from
}

// haltList is the part of the cloud's rollout state (GET
// /tuf/rollout.json) that the mirror reads: the targets whose staged
// rollout is halted. It is not signed: halting is an
// availability control, which a mirror could exert anyway by withholding
// a release; what a printer installs is still verified by TUF.
type haltList struct {
	Halted []string `json:"halted"`
}

// MirroredTarget is a target the mirror holds, as the site's UI lists it.
// Its Release comes from unverified metadata: good enough to show, never
// enough to install (the printer verifies).
type MirroredTarget struct {
	Name    string  `json:"name"`
	Length  int64   `json:"length"`
	SHA256  string  `json:"sha256"`
	Release Release `json:"release"`
}

// NewMirror returns a mirror of the repository at src (the base URL that
// NewHandler's routes hang off, e.g. "https://cloud.example/tuf") kept in
// dir, fetched with client.
func NewMirror(dir, src string, client *http.Client, opts MirrorOptions) (*Mirror, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Logger = opts.Logger.With("component", "update-mirror")
	if opts.Interval <= 0 {
		opts.Interval = 5 * time.Minute
	}
	if opts.MaxMetadataSize <= 0 {
		opts.MaxMetadataSize = 4 << 20
	}
	if opts.MaxTargetSize <= 0 {
		opts.MaxTargetSize = 1 << 30
	}
	if opts.MaxRoots <= 0 {
		opts.MaxRoots = 64
	}
	for _, d := range []string{MetadataDir, TargetsDir} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("mirror: %w", err)
		}
	}
	m := &Mirror{src: strings.TrimSuffix(src, "/"), client: client, dir: dir, opts: opts}
	if b, err := os.ReadFile(filepath.Join(dir, "rollout.json")); err == nil {
		var r haltList
		if json.Unmarshal(b, &r) == nil {
			m.halted = r.Halted
		}
	}
	if ts, err := os.ReadFile(m.metaPath("timestamp.json")); err == nil {
		// Restart: list what the last complete sync left.
		if targets, err := m.localTargets(ts); err == nil {
			m.targets, m.loaded = targets, ts
		}
	}
	return m, nil
}

// Handler serves the mirrored repository (see NewHandler).
func (m *Mirror) Handler() http.Handler {
	return NewHandler(m.dir, HandlerOptions{MaxMetadataSize: m.opts.MaxMetadataSize, MaxTargetSize: m.opts.MaxTargetSize})
}

// Targets lists the targets of the last complete sync, by name.
func (m *Mirror) Targets() []MirroredTarget {
	m.state.Lock()
	defer m.state.Unlock()
	return slices.Clone(m.targets)
}

// ErrNothingPublished is Sync's error when the source has no repository
// (a cloud before its first release) and the mirror holds none either:
// nothing to mirror, and nothing wrong.
var ErrNothingPublished = errors.New("the source publishes no updates yet")

// Run syncs at every interval until ctx ends. A failed sync is logged and
// tried again at the next interval: the printers keep the last good copy.
// A source that publishes nothing yet is said once, at info level: a
// site of a cloud without releases would otherwise warn every interval
// for as long as it runs.
func (m *Mirror) Run(ctx context.Context) error {
	told := false
	for {
		if changed, err := m.Sync(ctx); errors.Is(err, ErrNothingPublished) {
			if !told {
				m.opts.Logger.Info("no updates published yet; looking again every interval", "interval", m.opts.Interval)
				told = true
			}
			if m.Reload() {
				m.opts.Logger.Info("mirrored state imported from an update bundle", "targets", len(m.Targets()))
			}
		} else if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			m.opts.Logger.Warn("sync failed; printers keep the last copy", "err", err)
			if m.Reload() {
				// An update bundle was imported beside this mirror
				// (an air-gapped site): offered from now on.
				m.opts.Logger.Info("mirrored state imported from an update bundle", "targets", len(m.Targets()))
			}
		} else if changed {
			m.opts.Logger.Info("mirrored a new repository state", "targets", len(m.Targets()))
		}
		t := time.NewTimer(m.opts.Interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// Sync brings the copy up to date with the source and reports whether
// anything changed.
func (m *Mirror) Sync(ctx context.Context) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ts, err := m.get(ctx, "metadata/timestamp.json", m.opts.MaxMetadataSize)
	if errors.Is(err, errNotFound) && m.holdsNothing() {
		return false, fmt.Errorf("mirror sync: %w", ErrNothingPublished)
	}
	if err != nil {
		return false, fmt.Errorf("mirror sync: %w", err)
	}
	m.syncRollout(ctx)
	// Roots first and always: a rotation need not change the timestamp.
	if err := m.syncRoots(ctx); err != nil {
		return false, fmt.Errorf("mirror sync: %w", err)
	}
	if old, err := os.ReadFile(m.metaPath("timestamp.json")); err == nil && bytes.Equal(old, ts) {
		return false, nil
	}
	var tsm timestampSigned
	if err := decodeSigned(ts, "timestamp", &tsm); err != nil {
		return false, fmt.Errorf("mirror sync: timestamp.json: %w", err)
	}
	snapInfo, ok := tsm.Meta["snapshot.json"]
	if !ok {
		return false, errors.New("mirror sync: timestamp.json names no snapshot")
	}
	snapName := strconv.FormatInt(snapInfo.Version, 10) + ".snapshot.json"
	snap, err := m.fetchMeta(ctx, snapName)
	if err != nil {
		return false, fmt.Errorf("mirror sync: %w", err)
	}
	var ss snapshotSigned
	if err := decodeSigned(snap, "snapshot", &ss); err != nil {
		return false, fmt.Errorf("mirror sync: %s: %w", snapName, err)
	}
	var targets []MirroredTarget
	for _, role := range slices.Sorted(maps.Keys(ss.Meta)) {
		info := ss.Meta[role]
		name := strconv.FormatInt(info.Version, 10) + "." + role
		if !strings.HasSuffix(role, ".json") || SafeName(name) != name {
			return false, fmt.Errorf("mirror sync: snapshot names a bad role file %q", role)
		}
		b, err := m.fetchMeta(ctx, name)
		if err != nil {
			return false, fmt.Errorf("mirror sync: %w", err)
		}
		var tg targetsSigned
		if err := decodeSigned(b, "targets", &tg); err != nil {
			return false, fmt.Errorf("mirror sync: %s: %w", name, err)
		}
		got, err := m.syncTargets(ctx, tg)
		if err != nil {
			return false, fmt.Errorf("mirror sync: %w", err)
		}
		targets = append(targets, got...)
	}
	if err := WriteFileAtomic(m.metaPath("timestamp.json"), ts, 0o644); err != nil {
		return false, fmt.Errorf("mirror sync: %w", err)
	}
	m.state.Lock()
	m.targets, m.loaded = targets, ts
	m.state.Unlock()
	m.prune(targets)
	return true, nil
}

// Reload lists the targets of the copy on disk again when another
// process (an update bundle's import) completed a sync into the same
// directory, and reports whether it did.
func (m *Mirror) Reload() bool {
	m.state.Lock()
	defer m.state.Unlock()
	ts, err := os.ReadFile(m.metaPath("timestamp.json"))
	if err != nil || bytes.Equal(ts, m.loaded) {
		return false
	}
	targets, err := m.localTargets(ts)
	if err != nil {
		return false
	}
	m.targets, m.loaded = targets, ts
	return true
}

// Halted lists the targets whose rollout the cloud halted, as of the last
// sync that could read it.
func (m *Mirror) Halted() []string {
	m.state.Lock()
	defer m.state.Unlock()
	return slices.Clone(m.halted)
}

// syncRollout reads the rollout state. A source without one halts
// nothing; one that cannot be read leaves the last state in force.
func (m *Mirror) syncRollout(ctx context.Context) {
	b, err := m.get(ctx, "rollout.json", 1<<20)
	if errors.Is(err, errNotFound) {
		m.state.Lock()
		m.halted = nil
		m.state.Unlock()
		return
	}
	var r haltList
	if err == nil {
		if err = json.Unmarshal(b, &r); err == nil {
			err = WriteFileAtomic(filepath.Join(m.dir, "rollout.json"), b, 0o644)
		}
	}
	if err != nil {
		m.opts.Logger.Warn("rollout state not read; the last one stays in force", "err", err)
		return
	}
	m.state.Lock()
	m.halted = r.Halted
	m.state.Unlock()
}

// syncRoots fetches every root version after the newest one held, so a
// printer with an old pinned root can walk the chain of rotations.
func (m *Mirror) syncRoots(ctx context.Context) error {
	n := 1
	for {
		if _, err := os.Stat(m.metaPath(strconv.Itoa(n) + ".root.json")); err != nil {
			break
		}
		n++
	}
	for range m.opts.MaxRoots {
		name := strconv.Itoa(n) + ".root.json"
		b, err := m.get(ctx, "metadata/"+name, m.opts.MaxMetadataSize)
		if errors.Is(err, errNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		var root struct{}
		if err := decodeSigned(b, "root", &root); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := WriteFileAtomic(m.metaPath(name), b, 0o644); err != nil {
			return err
		}
		n++
	}
	return fmt.Errorf("more than %d new root versions at once", m.opts.MaxRoots)
}

// fetchMeta returns versioned metadata, from the copy when held (a
// versioned file never changes) or from the source.
func (m *Mirror) fetchMeta(ctx context.Context, name string) ([]byte, error) {
	if b, err := os.ReadFile(m.metaPath(name)); err == nil {
		return b, nil
	}
	b, err := m.get(ctx, "metadata/"+name, m.opts.MaxMetadataSize)
	if err != nil {
		return nil, err
	}
	if err := WriteFileAtomic(m.metaPath(name), b, 0o644); err != nil {
		return nil, err
	}
	return b, nil
}

// syncTargets downloads the targets of tg that fit the site and are not
// held yet, and returns every fitting target.
func (m *Mirror) syncTargets(ctx context.Context, tg targetsSigned) ([]MirroredTarget, error) {
	var models map[string]bool
	if m.opts.Models != nil {
		models = make(map[string]bool)
		for _, mo := range m.opts.Models(ctx) {
			models[mo] = true
		}
	}
	var out []MirroredTarget
	for _, name := range slices.Sorted(maps.Keys(tg.Targets)) {
		t := tg.Targets[name]
		if name != SafeName(name) || name == "" {
			return nil, fmt.Errorf("targets metadata names a bad target %q", name)
		}
		sum := t.Hashes["sha256"]
		if len(sum) != sha256.Size*2 || t.Length < 0 {
			return nil, fmt.Errorf("target %s: no SHA-256 or a negative length", name)
		}
		rel, err := DecodeRelease(t.Custom)
		if err != nil {
			// No printer installs it either; the others still get theirs.
			m.opts.Logger.Warn("target skipped", "target", name, "err", err)
			continue
		}
		if models != nil && !slices.ContainsFunc(rel.Models, func(mo string) bool { return models[mo] }) {
			continue
		}
		if t.Length > m.opts.MaxTargetSize {
			return nil, fmt.Errorf("target %s: %d bytes, more than the mirror's limit of %d", name, t.Length, m.opts.MaxTargetSize)
		}
		file := sum + "." + name
		path := filepath.Join(m.dir, TargetsDir, file)
		if _, err := os.Stat(path); err != nil {
			b, err := m.get(ctx, "targets/"+file, t.Length)
			if err != nil {
				return nil, err
			}
			got := sha256.Sum256(b)
			if int64(len(b)) != t.Length || hex.EncodeToString(got[:]) != sum {
				return nil, fmt.Errorf("target %s: %w", name, ErrTamperedTarget)
			}
			if err := WriteFileAtomic(path, b, 0o644); err != nil {
				return nil, err
			}
		}
		out = append(out, MirroredTarget{Name: name, Length: t.Length, SHA256: sum, Release: rel})
	}
	return out, nil
}

// localTargets lists the targets a previous sync left, from its metadata.
func (m *Mirror) localTargets(ts []byte) ([]MirroredTarget, error) {
	var tsm timestampSigned
	if err := decodeSigned(ts, "timestamp", &tsm); err != nil {
		return nil, err
	}
	snap, err := os.ReadFile(m.metaPath(strconv.FormatInt(tsm.Meta["snapshot.json"].Version, 10) + ".snapshot.json"))
	if err != nil {
		return nil, err
	}
	var ss snapshotSigned
	if err := decodeSigned(snap, "snapshot", &ss); err != nil {
		return nil, err
	}
	var out []MirroredTarget
	for role, info := range ss.Meta {
		b, err := os.ReadFile(m.metaPath(strconv.FormatInt(info.Version, 10) + "." + role))
		if err != nil {
			return nil, err
		}
		var tg targetsSigned
		if err := decodeSigned(b, "targets", &tg); err != nil {
			return nil, err
		}
		for name, t := range tg.Targets {
			if _, err := os.Stat(filepath.Join(m.dir, TargetsDir, t.Hashes["sha256"]+"."+name)); err != nil {
				continue
			}
			rel, err := DecodeRelease(t.Custom)
			if err != nil {
				continue
			}
			out = append(out, MirroredTarget{Name: name, Length: t.Length, SHA256: t.Hashes["sha256"], Release: rel})
		}
	}
	slices.SortFunc(out, func(a, b MirroredTarget) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// prune removes target files that the current state no longer names.
func (m *Mirror) prune(keep []MirroredTarget) {
	want := make(map[string]bool, len(keep))
	for _, t := range keep {
		want[t.SHA256+"."+t.Name] = true
	}
	dir := filepath.Join(m.dir, TargetsDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !want[e.Name()] {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				m.opts.Logger.Warn("prune target", "file", e.Name(), "err", err)
			}
		}
	}
}

// holdsNothing reports whether no sync (and no imported bundle) has left
// a repository state here.
func (m *Mirror) holdsNothing() bool {
	m.state.Lock()
	defer m.state.Unlock()
	return m.loaded == nil
}

func (m *Mirror) metaPath(name string) string { return filepath.Join(m.dir, MetadataDir, name) }

var errNotFound = errors.New("not found")

// get fetches src/rel, refusing more than limit bytes.
func (m *Mirror) get(ctx context.Context, rel string, limit int64) ([]byte, error) {
	url := m.src + "/" + rel
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", url, err)
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", url, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("get %s: %w", url, errNotFound)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("get %s: %s", url, resp.Status)
	case resp.ContentLength > limit:
		return nil, &tooLargeError{url: url, limit: limit}
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", url, err)
	}
	if int64(len(b)) > limit {
		return nil, &tooLargeError{url: url, limit: limit}
	}
	return b, nil
}

// The parts of TUF metadata the mirror reads. It decodes them only to find
// which files to fetch; signatures are the printers' business.
type (
	metaInfo struct {
		Version int64 `json:"version"`
	}
	timestampSigned struct {
		Meta map[string]metaInfo `json:"meta"`
	}
	snapshotSigned struct {
		Meta map[string]metaInfo `json:"meta"`
	}
	targetsSigned struct {
		Targets map[string]struct {
			Length int64             `json:"length"`
			Hashes map[string]string `json:"hashes"`
			Custom json.RawMessage   `json:"custom"`
		} `json:"targets"`
	}
)

// decodeSigned decodes the "signed" part of metadata of the given type.
func decodeSigned(b []byte, typ string, v any) error {
	var env struct {
		Signed json.RawMessage `json:"signed"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var head struct {
		Type string `json:"_type"`
	}
	if err := json.Unmarshal(env.Signed, &head); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if head.Type != typ {
		return fmt.Errorf("%w: type %q, want %q", ErrMalformed, head.Type, typ)
	}
	if err := json.Unmarshal(env.Signed, v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}
