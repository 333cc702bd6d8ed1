package updaterepo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/update"
)

// Service is the cloud's side of signed updates: it serves its repository
// to Command Centers under /tuf/ (Handler), accepts releases the offline
// release tool publishes, re-signs snapshot and timestamp with the online
// keys on a schedule and halts staged rollouts that raise failure alerts
// (Run), and lists the releases on offer (Releases). The directory may
// hold no repository yet; the service opens one once it appears.
type Service struct {
	dir   string
	token []byte // nil: publishing disabled
	opts  ServiceOptions
	log   *slog.Logger

	// changed receives (without blocking, capacity 1) when the repository
	// appeared or a publish changed it.
	changed chan struct{}

	mu   sync.Mutex
	repo *Repo
	told bool // the "no repository" hint was logged
}

// ServiceOptions tune a Service. The zero value serves a repository
// read-only, on the real clock, logging nowhere.
type ServiceOptions struct {
	// TokenFile holds the bearer token the release tool publishes with
	// (at least 16 characters); "" disables publishing.
	TokenFile string
	Clock     clock.Clock  // nil → the real clock
	Logger    *slog.Logger // nil → discard
	Publish   PublishOptions
}

// ErrNoRepository means the service's directory holds no repository yet.
var ErrNoRepository = errors.New("no update repository")

// NewService serves the repository in dir (created by "fusionfleet
// release export").
func NewService(dir string, opts ServiceOptions) (*Service, error) {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{dir: dir, opts: opts, log: opts.Logger.With("component", "updates"), changed: make(chan struct{}, 1)}
	if opts.TokenFile != "" {
		b, err := os.ReadFile(opts.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("release token: %w", err)
		}
		tok := []byte(strings.TrimSpace(string(b)))
		if len(tok) < 16 {
			return nil, fmt.Errorf("release token in %s: want at least 16 characters", opts.TokenFile)
		}
		s.token = tok
	}
	if _, err := s.open(); err != nil && !errors.Is(err, ErrNoRepository) {
		return nil, err
	}
	return s, nil
}

// Repo returns the repository the service serves, opening it on first
// use; ErrNoRepository while there is none. Change it only through the
// returned Repo: the service keeps it open.
func (s *Service) Repo() (*Repo, error) { return s.open() }

// open returns the repository, opening it on first use.
func (s *Service) open() (*Repo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.repo != nil {
		return s.repo, nil
	}
	if _, err := os.Stat(filepath.Join(s.dir, "repository", "metadata", "root.json")); errors.Is(err, fs.ErrNotExist) {
		if !s.told {
			s.told = true
			s.log.Info("no update repository yet: /tuf/ answers 404 until one exists. On the release machine run "+
				"'fusionfleet release init --dir D', then 'fusionfleet release export --dir D --to DIR' and copy DIR here",
				"dir", s.dir)
		}
		return nil, ErrNoRepository
	}
	r, err := OpenRepo(s.dir, RepoOptions{Clock: s.opts.Clock, Reloaded: s.repoChanged})
	if err != nil {
		return nil, fmt.Errorf("update repository: %w", err)
	}
	s.repo = r
	s.repoChanged()
	return r, nil
}

// Changed receives when the repository appeared or a publish changed it:
// the releases on offer may differ. Wake-ups do not queue; one is pending
// at most.
func (s *Service) Changed() <-chan struct{} { return s.changed }

func (s *Service) repoChanged() {
	select {
	case s.changed <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// Releases lists the repository's releases, none while there is no
// repository.
func (s *Service) Releases(ctx context.Context) ([]update.Offer, error) {
	repo, err := s.open()
	if errors.Is(err, ErrNoRepository) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	st, err := repo.Status()
	if err != nil {
		return nil, err
	}
	ro, err := repo.Rollout()
	if err != nil {
		return nil, err
	}
	out := make([]update.Offer, 0, len(st.Targets))
	for _, t := range st.Targets {
		if t.Kind == "" {
			continue // no valid release metadata: no printer installs it
		}
		rel := update.Offer{Target: t.Name, Length: t.Length, Release: t.Release}
		if h, ok := ro.Halted[t.Name]; ok {
			rel.Halted, rel.HaltReason = true, h.Reason
		}
		out = append(out, rel)
	}
	return out, nil
}
