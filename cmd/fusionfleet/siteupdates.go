package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/update"
)

// The site's side of signed updates. The Command Center mirrors the cloud's
// repository over its outbound HTTPS connection (R-ARCH-3) and serves the
// copy, with the site's approvals, to its printers under /tuf/ on the local
// listener; each printer's update agent verifies and installs from there.

// defaultUpdateInterval is how often the mirror and the printers check.
const defaultUpdateInterval = 5 * time.Minute

// newUpdateMirror returns the Command Center's mirror of the cloud's
// repository, kept in the data directory, for the printer models st knows.
func newUpdateMirror(cfg ccConfig, st *commandcenter.Store, logger *slog.Logger) (*update.Mirror, error) {
	client := &http.Client{
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			TLSClientConfig:     &tls.Config{RootCAs: cfg.rootCAs, MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout: 15 * time.Second,
			MaxIdleConns:        2,
			IdleConnTimeout:     30 * time.Second,
		},
		// A firmware image over a slow site link: the mirror caps sizes, a
		// stuck transfer ends here.
		Timeout: 30 * time.Minute,
	}
	models := func(ctx context.Context) []string {
		ps, err := st.Printers(ctx)
		if err != nil {
			logger.Warn("mirror: printer models unknown; mirroring every target", "err", err)
			return nil
		}
		var out []string
		for _, p := range ps {
			if p.Identity != nil {
				out = append(out, p.Identity.Model)
			}
		}
		return out
	}
	return update.NewMirror(filepath.Join(cfg.dataDir, "updates"), strings.TrimSuffix(cfg.cloudURL, "/")+"/tuf", client,
		update.MirrorOptions{Logger: logger, Interval: cmp.Or(cfg.updateInterval, defaultUpdateInterval), Models: models})
}

// withMirror serves the mirror and the site's approvals under /tuf/ next
// to the local UI.
func withMirror(ui http.Handler, st *commandcenter.Store, m *update.Mirror, clk clock.Clock) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/tuf/", commandcenter.NewMirrorHandler(st, m, m.Handler(), clk))
	mux.Handle("/", ui)
	return mux
}

// printerUpdates configures a printer's update agent.
type printerUpdates struct {
	url      string // the Command Center whose mirror serves /tuf/
	root     []byte // the pinned root metadata
	interval time.Duration
	site     string // for staged rollouts by site
}

// startUpdateAgent returns the update agent of a printer whose state
// (trusted metadata, A/B slots) lives under dataDir. Metadata expiry is
// judged by the real clock: the process model's accelerated clock is for
// the simulation only.
func startUpdateAgent(n *printerNode, dataDir string, u printerUpdates, logger *slog.Logger) (func(ctx context.Context) error, error) {
	id := n.device.Identity()
	// The printers' LAN: no proxy, and TUF needs no transport security.
	client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConns: 2, IdleConnTimeout: 30 * time.Second}}
	c, err := update.NewClient(filepath.Join(dataDir, "update"), u.root, u.url, id.Model, update.Options{
		HTTPClient: client, Logger: logger, PrinterID: string(id.PrinterID), Site: u.site,
		Factory: map[update.Kind]update.Slot{
			update.KindFirmware: {Version: id.Firmware},
			// A parameter set reports its name; its version is the name's
			// last field ("std-4200-2.1" → "2.1"), as the cloud reads it too.
			update.KindParameters: {Version: cmp.Or(update.InstalledVersion(nil, update.KindParameters, id.Model, id.ParameterSet), id.ParameterSet),
				Name: id.ParameterSet},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("printer %s: updates: %w", id.Name, err)
	}
	a := update.NewAgent(c, n.device, update.AgentOptions{
		Interval: cmp.Or(u.interval, defaultUpdateInterval),
		Approved: update.ApprovedBy(client, u.url),
		Logger:   logger.With("printer", id.Name),
	})
	return a.Run, nil
}

// pinnedRoot reads the root metadata a printer is provisioned with.
func pinnedRoot(file string) ([]byte, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("update root: %w", err)
	}
	return b, nil
}
