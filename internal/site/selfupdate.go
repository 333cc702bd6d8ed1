package site

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/commandcenter/localui"
	"github.com/fusionfleet/fusionfleet/internal/selfupdate"
	"github.com/fusionfleet/fusionfleet/internal/sitedb"
	"github.com/fusionfleet/fusionfleet/internal/update"
)

// The Command Center's update of its own binary (package selfupdate): the
// node verifies releases from its own mirror with the printers' client,
// and judges an upgrade on trial by its health.

// SelfUpdate configures the update of the node's own binary.
type SelfUpdate struct {
	// Swapper swaps the executable; nil → no self-update, and no trial
	// judged either.
	Swapper *selfupdate.Swapper
	// Enabled looks for new releases; false only judges a trial left by
	// an earlier start (an operator who turned it off mid-upgrade).
	Enabled bool
	// Version is the running binary's version; one that does not parse
	// (a development build) never updates itself.
	Version string
	// Root is the TUF root metadata the node trusts for its own builds;
	// nil → the first root its mirror fetched from the cloud over the
	// verified uplink, pinned in the state directory on first use.
	Root []byte
	// Probe runs a new binary in probe mode (`commandcenter
	// upgrade-probe`).
	Probe selfupdate.ProbeFunc
	// ProbeTimeout bounds the probe; 0 → selfupdate.DefaultProbeTimeout.
	// Interval between checks; 0 → the node's UpdateInterval.
	ProbeTimeout, Interval time.Duration
}

// newSelfUpdater returns the node's self-update actor, nil without a
// Swapper.
func (n *Node) newSelfUpdater() *selfupdate.Updater {
	su := n.opts.SelfUpdate
	if su.Swapper == nil {
		return nil
	}
	var dl selfupdate.Downloader
	if _, err := update.ParseVersion(su.Version); err != nil && su.Enabled {
		n.log.Warn("self-update off: the running build has no release version", "version", su.Version)
	} else if su.Enabled {
		dl = &mirrorDownloader{n: n, root: su.Root}
	}
	return selfupdate.NewUpdater(su.Version, dl, su.Swapper, su.Probe, n.healthy, selfupdate.Options{
		Interval: cmpDuration(su.Interval, n.opts.UpdateInterval), ProbeTimeout: su.ProbeTimeout,
		Clock: n.opts.Clock, Logger: n.log})
}

func cmpDuration(a, b time.Duration) time.Duration {
	if a > 0 {
		return a
	}
	return b
}

// selfPlatform is the model name of this build's commandcenter targets.
func selfPlatform() string { return update.Platform(runtime.GOOS, runtime.GOARCH) }

// healthy reports whether the node is healthy enough to commit an upgrade
// on trial: its local UI answers /healthz on its own listener (the store
// opened and migrated, the HTTP stack serving), and, when printers are
// paired, the poller has polled one and recorded the outcome (a printer
// that is off still counts: its failure is recorded). The cloud is not
// asked: an outage of the cloud or the site's link must not turn every
// upgrade into a rollback, and the outbox keeps the data until it is back.
func (n *Node) healthy(ctx context.Context) error {
	if err := n.uiAnswers(ctx); err != nil {
		return fmt.Errorf("local UI: %w", err)
	}
	ps, err := n.store.Printers(ctx)
	if err != nil {
		return err
	}
	if len(ps) > 0 && n.poller.Stats().Polls == 0 {
		return errors.New("no printer polled yet")
	}
	return nil
}

// uiAnswers asks the local UI's /healthz over its own listener, as a
// browser on this computer would.
func (n *Node) uiAnswers(ctx context.Context) error {
	addr := n.ln.Addr().(*net.TCPAddr)
	dial := addr.String()
	if addr.IP.IsUnspecified() {
		dial = net.JoinHostPort("127.0.0.1", fmt.Sprint(addr.Port))
	}
	tr := &http.Transport{Proxy: nil, DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", dial)
		}}
	url := "http://" + dial + "/healthz"
	if n.uiCA != "" {
		pem, err := os.ReadFile(n.uiCA)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		url = n.url + "healthz"
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/healthz answered %s", resp.Status)
	}
	return nil
}

// mirrorDownloader verifies the node's own builds from the node's mirror,
// read in-process, with the printers' client under a root it pins.
type mirrorDownloader struct {
	n    *Node
	root []byte

	mu     sync.Mutex
	client *update.Client
}

func (d *mirrorDownloader) stateDir() string {
	return filepath.Join(d.n.opts.DataDir, "selfupdate", "tuf")
}

// open returns the client, made once a root is trusted.
func (d *mirrorDownloader) open() (*update.Client, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.client != nil {
		return d.client, nil
	}
	root := d.root
	if root == nil {
		var err error
		if root, err = d.pinnedRoot(); err != nil {
			return nil, err
		}
	}
	c, err := update.NewClient(d.stateDir(), root, "http://mirror.invalid", selfPlatform(), update.Options{
		Clock: d.n.opts.Clock, Logger: d.n.log, HTTPClient: &http.Client{Transport: handlerTransport{d.n.mirror.Handler()}},
		PrinterID: string(d.n.fingerprint), Site: d.n.opts.Name,
	})
	if err != nil {
		return nil, err
	}
	d.client = c
	return c, nil
}

// pinnedRoot returns the root pinned in the state directory, pinning the
// mirror's first root on first use.
func (d *mirrorDownloader) pinnedRoot() ([]byte, error) {
	pin := filepath.Join(d.n.opts.DataDir, "selfupdate", "pinned-root.json")
	if b, err := os.ReadFile(pin); err == nil {
		return b, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	b, err := update.TrustedRoot(filepath.Join(d.n.opts.DataDir, "updates"))
	if err != nil {
		return nil, fmt.Errorf("no trusted root yet (the mirror has not synced): %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(pin), 0o700); err != nil {
		return nil, err
	}
	if err := update.WriteFileAtomic(pin, b, 0o600); err != nil {
		return nil, err
	}
	return b, nil
}

// Download skips the targets whose staged rollout the cloud halted, as the
// printers' approvals do.
func (d *mirrorDownloader) Download(ctx context.Context, kind update.Kind, installed string, skip []string, dir string) (update.Target, string, error) {
	c, err := d.open()
	if err != nil {
		return update.Target{}, "", err
	}
	return c.Download(ctx, kind, installed, slices.Concat(skip, d.n.mirror.Halted()), dir)
}

// handlerTransport answers requests with a handler in-process: the node
// reads its own mirror without a listener.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	w := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
	t.h.ServeHTTP(w, r)
	return &http.Response{StatusCode: w.status, Status: http.StatusText(w.status), Header: w.header,
		Body: io.NopCloser(&w.body), ContentLength: int64(w.body.Len()), Request: r,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}, nil
}

type bufferedResponse struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (w *bufferedResponse) Header() http.Header { return w.header }

func (w *bufferedResponse) WriteHeader(status int) {
	if !w.wrote {
		w.status, w.wrote = status, true
	}
}

func (w *bufferedResponse) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

// selfUpdateStatus is the local UI's view of the self-update.
func (n *Node) selfUpdateStatus() localui.SelfUpdateFunc {
	if n.selfUpdater == nil {
		return nil
	}
	return n.selfUpdater.Status
}

// Probe is what a new build checks before it replaces the running one
// (`commandcenter upgrade-probe`): the node's store in dataDir opens
// read-only, its schema is not newer than this build's, and the migrations
// this build would run apply to a copy. It changes nothing in dataDir and
// takes no lock: the running node keeps it. It returns a line saying what
// it found.
func Probe(ctx context.Context, dataDir string) (string, error) {
	db := filepath.Join(dataDir, "commandcenter.db")
	if _, err := os.Stat(db); errors.Is(err, fs.ErrNotExist) {
		return "no store yet: a first start", nil
	}
	current, latest, err := sitedb.Probe(ctx, db, filepath.Join(dataDir, "selfupdate"))
	if err != nil {
		return "", err
	}
	if current == latest {
		return fmt.Sprintf("store schema %d, no migration to run", current), nil
	}
	return fmt.Sprintf("store schema %d, migrations to %d apply to a copy", current, latest), nil
}
