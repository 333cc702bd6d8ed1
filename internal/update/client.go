package update

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"
)

// Options tunes a Client. The zero value works.
type Options struct {
	Clock      clock.Clock  // zero: the real clock; metadata expiry is judged by it
	HTTPClient *http.Client // zero: a plain client; per-file deadlines come from the timeouts below
	Logger     *slog.Logger // zero: discard

	MaxMetadataSize int64         // root, snapshot and targets metadata; zero: 4 MiB
	MaxTargetSize   int64         // zero: 512 MiB
	MetadataTimeout time.Duration // per metadata file; zero: 30 s
	TargetTimeout   time.Duration // per target file; zero: 30 min

	// PrinterID and Site place the printer in staged rollouts.
	PrinterID, Site string
	// Factory gives the releases installed at the factory (Version, and
	// Name if the printer reports another), used until the state
	// directory records an update of that kind.
	Factory map[Kind]Slot
}

// maxTimestampSize caps timestamp metadata, which is small and fetched
// on every check.
const maxTimestampSize = 16 << 10

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxMetadataSize <= 0 {
		o.MaxMetadataSize = 4 << 20
	}
	if o.MaxTargetSize <= 0 {
		o.MaxTargetSize = 512 << 20
	}
	if o.MetadataTimeout <= 0 {
		o.MetadataTimeout = 30 * time.Second
	}
	if o.TargetTimeout <= 0 {
		o.TargetTimeout = 30 * time.Minute
	}
	return o
}

// Client is the printer's side of TUF: it refreshes metadata from a mirror,
// verifies it against a pinned root, and installs verified targets into an
// A/B slot pair. Trusted metadata and slots persist in a state directory,
// so anti-rollback survives restarts. Its methods are safe for concurrent
// use; updates run one at a time.
type Client struct {
	stateDir   string
	pinnedRoot []byte
	baseURL    string
	model      string
	opts       Options

	mu sync.Mutex // serialises updates and slot changes
}

// NewClient returns a client for a printer of the given model that trusts
// pinnedRoot (root metadata shipped with the printer) and fetches from the
// mirror at baseURL (serving /tuf/metadata and /tuf/targets). A start check
// that was interrupted by a restart is rolled back here.
func NewClient(stateDir string, pinnedRoot []byte, baseURL, model string, opts Options) (*Client, error) {
	if _, err := metadata.Root().FromBytes(pinnedRoot); err != nil {
		return nil, fmt.Errorf("update client: pinned root: %w", err)
	}
	if model == "" {
		return nil, errors.New("update client: no printer model")
	}
	c := &Client{stateDir: stateDir, pinnedRoot: pinnedRoot, baseURL: strings.TrimSuffix(baseURL, "/"), model: model, opts: opts.withDefaults()}
	if err := os.MkdirAll(filepath.Join(stateDir, "metadata"), 0o700); err != nil {
		return nil, fmt.Errorf("update client: %w", err)
	}
	for _, k := range Kinds {
		s, rolledBack, err := c.store(k).load(c.opts.Factory[k])
		if err != nil {
			return nil, fmt.Errorf("update client: %w", err)
		}
		if rolledBack {
			c.opts.Logger.Warn("interrupted start check rolled back", "kind", k, "version", s.Current().Version)
		}
	}
	return c, nil
}

func (c *Client) store(k Kind) slotStore { return slotStore{dir: filepath.Join(c.stateDir, string(k))} }

// Slots returns the persisted A/B state of kind.
func (c *Client) Slots(kind Kind) (Slots, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, _, err := c.store(kind).load(c.opts.Factory[kind])
	return s, err
}

// Installed returns the active slot of kind: the version the printer runs.
func (c *Client) Installed(kind Kind) (Slot, error) {
	s, err := c.Slots(kind)
	return s.Current(), err
}

// ActiveFile returns the path of the file in the active slot of kind, or
// "" for the factory install.
func (c *Client) ActiveFile(kind Kind) (string, error) {
	s, err := c.Slots(kind)
	if err != nil {
		return "", err
	}
	cur := s.Current()
	if cur.File == "" {
		return "", nil
	}
	return filepath.Join(c.store(kind).slotDir(s.Active), cur.File), nil
}

// Target is a release offered by the repository.
type Target struct {
	Name   string
	Length int64
	Release
	info *metadata.TargetFiles
}

// Installed is what an update put in place.
type Installed struct {
	Kind     Kind
	Version  string
	Name     string // what the printer reports
	Target   string
	Path     string // the verified file in the now active slot
	Previous Slot
	// PreviousPath is the previous slot's file, "" for the factory install.
	PreviousPath string
}

// StartFunc activates a freshly installed release and checks that it
// starts; an error rolls the printer back to the previous slot.
type StartFunc func(ctx context.Context, in Installed) error

// session is one verified refresh of the metadata.
type session struct {
	up *updater.Updater
	f  *fetcher
}

// trustedRoot returns the newest root the client trusts: the one persisted
// by an earlier refresh, unless the pinned one is newer (a re-flashed
// printer).
func (c *Client) trustedRoot() []byte {
	pinned, _ := metadata.Root().FromBytes(c.pinnedRoot)
	b, err := os.ReadFile(filepath.Join(c.stateDir, "metadata", "root.json"))
	if err != nil {
		return c.pinnedRoot
	}
	stored, err := metadata.Root().FromBytes(b)
	if err != nil || stored.Signed.Version < pinned.Signed.Version {
		return c.pinnedRoot
	}
	return b
}

func (c *Client) refresh(ctx context.Context) (*session, error) {
	cfg, err := config.New(c.baseURL+"/tuf/metadata", c.trustedRoot())
	if err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	f := &fetcher{ctx: ctx, client: c.opts.HTTPClient, timeout: c.opts.MetadataTimeout}
	cfg.RemoteTargetsURL = c.baseURL + "/tuf/targets"
	cfg.LocalMetadataDir = filepath.Join(c.stateDir, "metadata")
	cfg.LocalTargetsDir = filepath.Join(c.stateDir, "download")
	cfg.Fetcher = f
	cfg.RootMaxLength = c.opts.MaxMetadataSize
	cfg.TimestampMaxLength = maxTimestampSize
	cfg.SnapshotMaxLength = c.opts.MaxMetadataSize
	cfg.TargetsMaxLength = c.opts.MaxMetadataSize
	up, err := updater.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("update: trusted root: %w", err)
	}
	up.UnsafeSetRefTime(c.opts.Clock.Now().UTC()) // expiry is judged by the injected clock
	if err := up.Refresh(); err != nil {
		return nil, classifyRefresh(err, f.last, up.GetTrustedMetadataSet().Root)
	}
	return &session{up: up, f: f}, nil
}

// targets returns the session's targets of kind with valid release
// metadata, newest first.
func (c *Client) targets(s *session, kind Kind) []Target {
	var ts []Target
	for name, tf := range s.up.GetTopLevelTargets() {
		if tf.Custom == nil {
			continue
		}
		rel, err := DecodeRelease(*tf.Custom)
		if err != nil {
			c.opts.Logger.Warn("target with invalid release metadata skipped", "target", name, "err", err)
			continue
		}
		if rel.Kind == kind {
			ts = append(ts, Target{Name: name, Length: tf.Length, Release: rel, info: tf})
		}
	}
	slices.SortFunc(ts, func(a, b Target) int {
		if c := CompareVersions(b.Version, a.Version); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return ts
}

// applicable returns why t may not be installed over installed, or nil.
func (c *Client) applicable(t Target, kind Kind, installed Slot) error {
	switch {
	case t.Kind != kind:
		return ErrWrongKind
	case !t.Fits(c.model):
		return ErrWrongModel
	case CompareVersions(t.Version, installed.Version) <= 0:
		return ErrDowngrade
	case t.MinVersion != "" && CompareVersions(installed.Version, t.MinVersion) < 0:
		return ErrMinVersion
	case !t.Reaches(t.Name, c.opts.PrinterID, c.opts.Site):
		return ErrNotInRollout
	}
	return nil
}

// Check refreshes the metadata and returns the newest target of kind this
// printer should install, or ErrNoUpdate.
func (c *Client) Check(ctx context.Context, kind Kind) (Target, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.refresh(ctx)
	if err != nil {
		return Target{}, err
	}
	return c.pick(s, kind)
}

func (c *Client) pick(s *session, kind Kind) (Target, error) {
	slots, _, err := c.store(kind).load(c.opts.Factory[kind])
	if err != nil {
		return Target{}, err
	}
	for _, t := range c.targets(s, kind) {
		if slices.Contains(slots.Failed, t.Name) {
			continue
		}
		if c.applicable(t, kind, slots.Current()) == nil {
			return t, nil
		}
	}
	return Target{}, ErrNoUpdate
}

// Update refreshes the metadata, and installs and starts the newest
// applicable target of kind. It returns ErrNoUpdate if there is none.
func (c *Client) Update(ctx context.Context, kind Kind, start StartFunc) (Installed, error) {
	return c.UpdateApproved(ctx, kind, nil, start)
}

// UpdateApproved is Update that first asks approve about the target it
// picked, on the same refreshed metadata: false holds the target back
// (ErrNoUpdate). A nil approve approves everything.
func (c *Client) UpdateApproved(ctx context.Context, kind Kind, approve func(context.Context, Target) (bool, error), start StartFunc) (Installed, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.refresh(ctx)
	if err != nil {
		return Installed{}, err
	}
	t, err := c.pick(s, kind)
	if err != nil {
		return Installed{}, err
	}
	if approve != nil {
		ok, err := approve(ctx, t)
		if err != nil {
			return Installed{}, fmt.Errorf("ask whether %s is approved: %w", t.Name, err)
		}
		if !ok {
			return Installed{}, fmt.Errorf("%s held until approved: %w", t.Name, ErrNoUpdate)
		}
	}
	return c.install(ctx, s, kind, t, start)
}

// Apply refreshes the metadata, and installs and starts the named target
// (one a Command Center operator approved, say), refusing it with a
// RefusedError if it is not for this printer.
func (c *Client) Apply(ctx context.Context, kind Kind, name string, start StartFunc) (Installed, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.refresh(ctx)
	if err != nil {
		return Installed{}, err
	}
	slots, _, err := c.store(kind).load(c.opts.Factory[kind])
	if err != nil {
		return Installed{}, err
	}
	tf, ok := s.up.GetTopLevelTargets()[name]
	if !ok || tf.Custom == nil {
		return Installed{}, fmt.Errorf("apply %s: %w", name, ErrNoUpdate)
	}
	rel, err := DecodeRelease(*tf.Custom)
	if err != nil {
		return Installed{}, &RefusedError{Reason: ErrMalformed, Role: "target " + name, Err: err}
	}
	t := Target{Name: name, Length: tf.Length, Release: rel, info: tf}
	if err := c.applicable(t, kind, slots.Current()); err != nil {
		return Installed{}, &RefusedError{Reason: err, Role: "target " + name,
			Err: fmt.Errorf("%s %s for models %v; printer model %s runs %s", rel.Kind, rel.Version, rel.Models, c.model, slots.Current().Version)}
	}
	return c.install(ctx, s, kind, t, start)
}

// install downloads t into the inactive slot, verifying length and hashes,
// switches to it on trial and commits once start succeeds.
func (c *Client) install(ctx context.Context, s *session, kind Kind, t Target, start StartFunc) (Installed, error) {
	log := c.opts.Logger.With("kind", kind, "target", t.Name, "version", t.Version)
	if t.Length > c.opts.MaxTargetSize {
		return Installed{}, &RefusedError{Reason: ErrTooLarge, Role: "target " + t.Name,
			Err: fmt.Errorf("%d bytes, limit %d", t.Length, c.opts.MaxTargetSize)}
	}
	st := c.store(kind)
	slots, _, err := st.load(c.opts.Factory[kind])
	if err != nil {
		return Installed{}, err
	}
	inactive := slots.Inactive()
	dir := st.slotDir(inactive)
	if err := os.RemoveAll(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Installed{}, fmt.Errorf("update: clear slot %s: %w", inactive, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Installed{}, fmt.Errorf("update: %w", err)
	}
	file := filepath.Join(dir, t.Name)
	s.f.timeout = c.opts.TargetTimeout
	if _, _, err := s.up.DownloadTarget(t.info, file, ""); err != nil {
		os.RemoveAll(dir)
		return Installed{}, classifyTarget(err, t.Name, s.f.last.url)
	}
	prev := slots.Current()
	prevPath := ""
	if prev.File != "" {
		prevPath = filepath.Join(st.slotDir(slots.Active), prev.File)
	}
	slots.set(inactive, Slot{Version: t.Version, Name: t.DisplayName(), Target: t.Name, File: t.Name})
	slots.Active, slots.Trial = inactive, true
	if err := st.save(slots); err != nil {
		return Installed{}, err
	}
	in := Installed{Kind: kind, Version: t.Version, Name: t.DisplayName(), Target: t.Name, Path: file, Previous: prev, PreviousPath: prevPath}
	if err := start(ctx, in); err != nil {
		slots.fail()
		if serr := st.save(slots); serr != nil {
			return Installed{}, errors.Join(serr, err)
		}
		return Installed{}, &RefusedError{Reason: ErrStartFailed, Role: "target " + t.Name, Err: err}
	}
	slots.Trial = false
	if err := st.save(slots); err != nil {
		return Installed{}, err
	}
	log.Info("update installed", "previous", prev.Version, "slot", inactive)
	return in, nil
}

// Download refreshes the metadata and downloads the newest target of kind
// that is newer than installed, fits the client's model and rollout and
// is not in skip, into dir, verified against the signed length and hashes.
// It is for what installs itself rather than into the A/B slots: the
// Command Center's own binary (package selfupdate), which keeps its
// installed version and its refused targets itself. The downgrade floor
// is installed; the trusted metadata in the state directory keeps
// rollback protection as for the slots. It returns the target and the
// file's path, ErrNoUpdate if there is none, or a RefusedError.
func (c *Client) Download(ctx context.Context, kind Kind, installed string, skip []string, dir string) (Target, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := ParseVersion(installed); err != nil {
		return Target{}, "", fmt.Errorf("download %s: installed %w", kind, err)
	}
	s, err := c.refresh(ctx)
	if err != nil {
		return Target{}, "", err
	}
	var t Target
	found := false
	for _, cand := range c.targets(s, kind) {
		if slices.Contains(skip, cand.Name) {
			continue
		}
		if c.applicable(cand, kind, Slot{Version: installed}) == nil {
			t, found = cand, true
			break
		}
	}
	if !found {
		return Target{}, "", ErrNoUpdate
	}
	if t.Length > c.opts.MaxTargetSize {
		return Target{}, "", &RefusedError{Reason: ErrTooLarge, Role: "target " + t.Name,
			Err: fmt.Errorf("%d bytes, limit %d", t.Length, c.opts.MaxTargetSize)}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Target{}, "", fmt.Errorf("update: %w", err)
	}
	file := filepath.Join(dir, SafeName(t.Name))
	s.f.timeout = c.opts.TargetTimeout
	if _, _, err := s.up.DownloadTarget(t.info, file, ""); err != nil {
		os.Remove(file)
		return Target{}, "", classifyTarget(err, t.Name, s.f.last.url)
	}
	return t, file, nil
}
