package updaterepo

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/update"
)

// maxPublishBytes caps one upload when no target size limit is set.
const maxPublishBytes = 4 << 30

// Handler serves /tuf/: the repository read-only, the rollout halts, and
// publishing. Every error is mapped to its status here.
func (s *Service) Handler() http.Handler {
	files := update.NewHandler(s.dir, update.HandlerOptions{})
	mux := http.NewServeMux()
	withRepo := func(f func(w http.ResponseWriter, r *http.Request, repo *Repo)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			repo, err := s.open()
			if errors.Is(err, ErrNoRepository) {
				http.Error(w, "no update repository", http.StatusNotFound)
				return
			}
			if err != nil {
				s.log.Error("update repository", "err", err)
				http.Error(w, "update repository unavailable", http.StatusInternalServerError)
				return
			}
			f(w, r, repo)
		}
	}
	serveFiles := withRepo(func(w http.ResponseWriter, r *http.Request, _ *Repo) { files.ServeHTTP(w, r) })
	mux.Handle("GET /tuf/metadata/{file}", serveFiles)
	mux.Handle("GET /tuf/targets/{file}", serveFiles)
	mux.Handle("GET /tuf/rollout.json", withRepo(s.rollout))
	mux.Handle("POST /tuf/publish", withRepo(s.publish))
	mux.Handle("/tuf/", http.NotFoundHandler())
	return mux
}

// rolloutDoc is GET /tuf/rollout.json: the targets whose staged rollout is
// halted. It is unsigned on purpose: an availability control that Command
// Centers honour, not a security control (printers verify every target
// with TUF whatever this says).
type rolloutDoc struct {
	Halted []string `json:"halted"`
}

func (s *Service) rollout(w http.ResponseWriter, r *http.Request, repo *Repo) {
	st, err := repo.Rollout()
	if err != nil {
		s.log.Error("rollout state", "err", err)
		http.Error(w, "rollout state unavailable", http.StatusInternalServerError)
		return
	}
	doc := rolloutDoc{Halted: st.HaltedNames()}
	if doc.Halted == nil {
		doc.Halted = []string{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(doc)
}

// publish is POST /tuf/publish: a release tool's upload (see
// Repo.Publish), with the bearer token of ServiceOptions.TokenFile.
func (s *Service) publish(w http.ResponseWriter, r *http.Request, repo *Repo) {
	if s.token == nil {
		http.Error(w, "publishing is disabled on this cloud (no --release-token-file)", http.StatusNotFound)
		return
	}
	const prefix = "Bearer "
	auth := r.Header.Get("Authorization")
	if len(auth) <= len(prefix) || auth[:len(prefix)] != prefix ||
		subtle.ConstantTimeCompare([]byte(auth[len(prefix):]), s.token) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="fusionfleet release"`)
		http.Error(w, "wrong or missing release token", http.StatusUnauthorized)
		return
	}
	limit := int64(maxPublishBytes)
	if s.opts.Publish.MaxTargetSize > 0 {
		limit = 2*s.opts.Publish.MaxTargetSize + 64<<20
	}
	// A large upload may take longer than the server's read timeout.
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(2 * time.Hour))
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	res, err := repo.Publish(r.Context(), r.Body, s.opts.Publish)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig), errors.Is(err, update.ErrTooLarge):
		http.Error(w, "refused: "+err.Error(), http.StatusRequestEntityTooLarge)
		return
	case errors.Is(err, ErrMissingKey):
		http.Error(w, "refused: "+err.Error(), http.StatusConflict)
		return
	case err != nil:
		http.Error(w, "refused: "+err.Error(), http.StatusUnprocessableEntity)
		return
	}
	s.log.Info("release published", "root", res.RootVersion, "targets", res.TargetsVersion, "new", res.NewTargets, "changed", res.Changed)
	if res.Changed {
		s.repoChanged()
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(PublishAnswer{Changed: res.Changed, RootVersion: res.RootVersion,
		TargetsVersion: res.TargetsVersion, NewTargets: res.NewTargets})
}

// PublishAnswer is the JSON answer to a successful POST /tuf/publish, as
// the release tool reads it.
type PublishAnswer struct {
	Changed        bool     `json:"changed"`
	RootVersion    int64    `json:"root_version"`
	TargetsVersion int64    `json:"targets_version"`
	NewTargets     []string `json:"new_targets"`
}
