package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/alert"
	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/update"
)

// The cloud's side of signed updates: it serves its TUF repository to
// Command Centers under /tuf/, re-signs snapshot and timestamp with its
// online keys on a schedule, accepts releases the offline release tool
// publishes (POST /tuf/publish, verified before anything changes),
// halts staged rollouts that raise failure alerts, and tells organisations
// through an "update-available" alert (and so its notifications) when a
// newer release fits one of their printers.

const (
	// resignEvery is well within the one-day timestamp expiry, so that a
	// missed run or two still leaves the Command Centers valid metadata.
	resignEvery = 6 * time.Hour
	// resignAtStartWithin: at start, re-sign at once if the timestamp
	// would expire within this.
	resignAtStartWithin = 12 * time.Hour
	// maxPublishBytes caps one upload.
	maxPublishBytes = 4 << 30
	// updateAlertsEvery is how often the cloud looks which printers could
	// install a newer release (besides right after the repository changed).
	updateAlertsEvery = 10 * time.Minute
)

// cloudUpdates is the cloud's update repository. The directory may hold
// no repository yet; it is opened once one appears.
type cloudUpdates struct {
	dir   string
	token []byte // nil: publishing disabled
	clock clock.Clock
	log   *slog.Logger
	pub   update.PublishOptions

	// changed receives (without blocking, capacity 1) when the repository
	// appeared or a publish changed it, for the update alerts.
	changed chan struct{}

	mu   sync.Mutex
	repo *update.Repo
	told bool // the "no repository" hint was logged
}

// newCloudUpdates serves the repository in dir (created by "fusionfleet
// release export"). tokenFile holds the bearer token the release tool
// publishes with; "" disables publishing.
func newCloudUpdates(dir, tokenFile string, clk clock.Clock, logger *slog.Logger) (*cloudUpdates, error) {
	u := &cloudUpdates{dir: dir, clock: clk, log: logger.With("component", "updates"), changed: make(chan struct{}, 1)}
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return nil, fmt.Errorf("cloud: release token: %w", err)
		}
		tok := []byte(strings.TrimSpace(string(b)))
		if len(tok) < 16 {
			return nil, fmt.Errorf("cloud: release token in %s: want at least 16 characters", tokenFile)
		}
		u.token = tok
	}
	if _, err := u.open(); err != nil && !errors.Is(err, errNoRepo) {
		return nil, err
	}
	return u, nil
}

var errNoRepo = errors.New("no update repository")

// open returns the repository, opening it on first use.
func (u *cloudUpdates) open() (*update.Repo, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.repo != nil {
		return u.repo, nil
	}
	if _, err := os.Stat(filepath.Join(u.dir, "repository", "metadata", "root.json")); errors.Is(err, fs.ErrNotExist) {
		if !u.told {
			u.told = true
			u.log.Info("no update repository yet: /tuf/ answers 404 until one exists. On the release machine run "+
				"'fusionfleet release init --dir D', then 'fusionfleet release export --dir D --to DIR' and copy DIR here",
				"dir", u.dir)
		}
		return nil, errNoRepo
	}
	r, err := update.OpenRepo(u.dir, update.RepoOptions{Clock: u.clock})
	if err != nil {
		return nil, fmt.Errorf("cloud: update repository: %w", err)
	}
	u.repo = r
	u.repoChanged()
	return r, nil
}

// repoChanged wakes the update alerts: the releases on offer may differ.
func (u *cloudUpdates) repoChanged() {
	select {
	case u.changed <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// Handler serves /tuf/: the repository read-only, the rollout halts, and
// publishing.
func (u *cloudUpdates) Handler() http.Handler {
	files := update.NewHandler(u.dir, update.HandlerOptions{})
	mux := http.NewServeMux()
	withRepo := func(f func(w http.ResponseWriter, r *http.Request, repo *update.Repo)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			repo, err := u.open()
			if errors.Is(err, errNoRepo) {
				http.Error(w, "no update repository", http.StatusNotFound)
				return
			}
			if err != nil {
				u.log.Error("update repository", "err", err)
				http.Error(w, "update repository unavailable", http.StatusInternalServerError)
				return
			}
			f(w, r, repo)
		}
	}
	serveFiles := withRepo(func(w http.ResponseWriter, r *http.Request, _ *update.Repo) { files.ServeHTTP(w, r) })
	mux.Handle("GET /tuf/metadata/{file}", serveFiles)
	mux.Handle("GET /tuf/targets/{file}", serveFiles)
	mux.Handle("GET /tuf/rollout.json", withRepo(u.rollout))
	mux.Handle("POST /tuf/publish", withRepo(u.publish))
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

func (u *cloudUpdates) rollout(w http.ResponseWriter, r *http.Request, repo *update.Repo) {
	st, err := repo.Rollout()
	if err != nil {
		u.log.Error("rollout state", "err", err)
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
// update.Repo.Publish), with the bearer token from --release-token-file.
func (u *cloudUpdates) publish(w http.ResponseWriter, r *http.Request, repo *update.Repo) {
	if u.token == nil {
		http.Error(w, "publishing is disabled on this cloud (no --release-token-file)", http.StatusNotFound)
		return
	}
	const prefix = "Bearer "
	auth := r.Header.Get("Authorization")
	if len(auth) <= len(prefix) || auth[:len(prefix)] != prefix ||
		subtle.ConstantTimeCompare([]byte(auth[len(prefix):]), u.token) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="fusionfleet release"`)
		http.Error(w, "wrong or missing release token", http.StatusUnauthorized)
		return
	}
	limit := int64(maxPublishBytes)
	if u.pub.MaxTargetSize > 0 {
		limit = 2*u.pub.MaxTargetSize + 64<<20
	}
	// A large upload may take longer than the server's read timeout.
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(2 * time.Hour))
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	res, err := repo.Publish(r.Context(), r.Body, u.pub)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig), errors.Is(err, update.ErrTooLarge):
		http.Error(w, "refused: "+err.Error(), http.StatusRequestEntityTooLarge)
		return
	case errors.Is(err, update.ErrMissingKey):
		http.Error(w, "refused: "+err.Error(), http.StatusConflict)
		return
	case err != nil:
		http.Error(w, "refused: "+err.Error(), http.StatusUnprocessableEntity)
		return
	}
	u.log.Info("release published", "root", res.RootVersion, "targets", res.TargetsVersion, "new", res.NewTargets, "changed", res.Changed)
	if res.Changed {
		u.repoChanged()
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(publishAnswer{Changed: res.Changed, RootVersion: res.RootVersion,
		TargetsVersion: res.TargetsVersion, NewTargets: res.NewTargets})
}

// publishAnswer is the JSON answer to a successful publish.
type publishAnswer struct {
	Changed        bool     `json:"changed"`
	RootVersion    int64    `json:"root_version"`
	TargetsVersion int64    `json:"targets_version"`
	NewTargets     []string `json:"new_targets"`
}

// Run re-signs snapshot and timestamp on a schedule (at once if the
// timestamp expires soon) and, with a failure source, runs the rollout
// controller, until ctx ends.
func (u *cloudUpdates) Run(ctx context.Context, failures update.FailureSource) error {
	controllerStarted := false
	var wg sync.WaitGroup
	defer wg.Wait()
	first := true
	for {
		if repo, err := u.open(); err == nil {
			if err := u.resign(repo, first); err != nil {
				u.log.Warn("re-sign failed; will retry", "err", err)
			}
			first = false
			if failures != nil && !controllerStarted {
				controllerStarted = true
				c := update.NewRolloutController(repo, failures, update.ControllerOptions{Clock: u.clock, Logger: u.log})
				wg.Go(func() { c.Run(ctx) })
			}
		} else if !errors.Is(err, errNoRepo) {
			u.log.Warn("update repository", "err", err)
		}
		wait := resignEvery
		if first {
			wait = time.Minute // look again soon for a repository to appear
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// resign signs a new snapshot and timestamp; at start only if the current
// timestamp expires within resignAtStartWithin.
func (u *cloudUpdates) resign(repo *update.Repo, atStart bool) error {
	if atStart {
		st, err := repo.Status()
		if err != nil {
			return err
		}
		if st.TimestampExpires.Sub(u.clock.Now()) > resignAtStartWithin {
			return nil
		}
	}
	if err := repo.Resign(); err != nil {
		return err
	}
	u.log.Info("snapshot and timestamp re-signed")
	return nil
}

// Releases lists the repository's releases for the dashboard.
func (u *cloudUpdates) Releases(ctx context.Context) ([]update.Offer, error) {
	repo, err := u.open()
	if errors.Is(err, errNoRepo) {
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

// storeFailures adapts the store's failure counts per version
// (fleet.VersionQuery) to the rollout controller: alerts of severity error
// or worse count as failures.
type storeFailures struct {
	st interface {
		VersionFailures(ctx context.Context, q fleet.VersionQuery) (fleet.VersionFailures, error)
	}
}

func (s storeFailures) FailureRates(ctx context.Context, kind update.Kind, model, version string, since time.Time) (update.Rate, update.Rate, error) {
	f, err := s.st.VersionFailures(ctx, fleet.VersionQuery{Model: model, Version: version,
		ParameterSet: kind == update.KindParameters, Since: since})
	return update.Rate{Printers: f.Printers, Failing: f.Failing}, update.Rate{Printers: f.OtherPrinters, Failing: f.OtherFailing}, err
}

// updateAlertStore is what the update alerts read: what every printer
// runs, and the alerts open now.
type updateAlertStore interface {
	PrinterVersions(ctx context.Context) ([]alert.PrinterVersion, error)
	ActiveAlerts(ctx context.Context, rule fleet.RuleKey) ([]alert.State, error)
}

// RunUpdateAlerts tells organisations of the updates their printers could
// install, through ev's alerts (and so its notifications): every
// updateAlertsEvery and right after the repository appeared or changed,
// until ctx ends.
func (u *cloudUpdates) RunUpdateAlerts(ctx context.Context, st updateAlertStore, ev *alert.Evaluator) error {
	t := time.NewTicker(updateAlertsEvery)
	defer t.Stop()
	select {
	case <-u.changed: // the first sweep sees it
	default:
	}
	for {
		if err := u.sweepUpdateAlerts(ctx, st, ev); err != nil && ctx.Err() == nil {
			u.log.Warn("update alerts", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-u.changed:
		}
	}
}

// sweepUpdateAlerts reports, for every printer, whether a newer firmware
// or parameter set is on offer for it (by the dashboard's rule:
// update.NewestOffer of its installed version), and resolves the update
// alerts of printers no longer listed. A printer whose alert already says
// what is on offer, or with neither offer nor alert, costs no further
// query.
func (u *cloudUpdates) sweepUpdateAlerts(ctx context.Context, st updateAlertStore, ev *alert.Evaluator) error {
	offers, err := u.Releases(ctx)
	if err != nil {
		return fmt.Errorf("update alerts: releases: %w", err)
	}
	versions, err := st.PrinterVersions(ctx)
	if err != nil {
		return fmt.Errorf("update alerts: %w", err)
	}
	active, err := st.ActiveAlerts(ctx, alert.RuleUpdateAvailable)
	if err != nil {
		return fmt.Errorf("update alerts: %w", err)
	}
	alerted := make(map[fleet.PrinterID]alert.State, len(active))
	for _, a := range active {
		alerted[a.PrinterID] = a
	}
	now := u.clock.Now()
	var errs []error
	for _, v := range versions {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		f := updateFinding(offers, v, now)
		a, ok := alerted[v.PrinterID]
		delete(alerted, v.PrinterID)
		if (!ok && !f.Holds) || (ok && f.Holds && a.Matches(f)) {
			continue // nothing would change
		}
		if err := ev.Report(ctx, v.Subject, f); err != nil {
			errs = append(errs, err)
		}
	}
	for _, a := range alerted {
		s := alert.Subject{OrgID: a.OrgID, SiteID: a.SiteID, PrinterID: a.PrinterID}
		if err := ev.Report(ctx, s, alert.Finding{Rule: alert.RuleUpdateAvailable, At: now}); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("update alerts: %w", err)
	}
	return nil
}

// updateFinding is whether a newer firmware or parameter set of offers
// fits printer v, observed at now: one alert for both, its detail naming
// each offer with the first line of its release notes. A new offer
// changes the detail and so notifies again.
func updateFinding(offers []update.Offer, v alert.PrinterVersion, now time.Time) alert.Finding {
	f := alert.Finding{Rule: alert.RuleUpdateAvailable, At: now}
	fw := update.NewestOffer(offers, update.KindFirmware, v.Model,
		update.InstalledVersion(offers, update.KindFirmware, v.Model, v.Firmware))
	ps := update.NewestOffer(offers, update.KindParameters, v.Model,
		update.InstalledVersion(offers, update.KindParameters, v.Model, v.ParameterSet))
	var parts []string
	if fw != nil {
		parts = append(parts, offerDetail("Firmware", fw, v.Firmware))
	}
	if ps != nil {
		parts = append(parts, offerDetail("Parameter set", ps, v.ParameterSet))
	}
	switch {
	case fw != nil && ps != nil:
		f.Title = "Firmware and parameter set updates available"
	case fw != nil:
		f.Title = "Firmware update available"
	case ps != nil:
		f.Title = "Parameter set update available"
	default:
		return f
	}
	f.Holds, f.Severity, f.Detail = true, fleet.SeverityInfo, strings.Join(parts, "; ")
	return f
}

// maxNotesLine bounds the release notes an alert's detail quotes.
const maxNotesLine = 200

// offerDetail names an offer for an alert: "Firmware 4.3.0 (running
// 4.2.0): Fixes the lamp driver timing" (a final full stop is dropped:
// details are joined with "; ").
func offerDetail(what string, o *update.Offer, running string) string {
	s := fmt.Sprintf("%s %s (running %s)", what, o.DisplayName(), running)
	line, _, _ := strings.Cut(o.Notes, "\n")
	line = strings.TrimSuffix(strings.TrimSpace(line), ".")
	if r := []rune(line); len(r) > maxNotesLine {
		line = string(r[:maxNotesLine-1]) + "…"
	}
	if line != "" {
		s += ": " + line
	}
	return s
}
