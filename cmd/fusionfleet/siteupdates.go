package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/site"
	"github.com/fusionfleet/fusionfleet/internal/update"
)

// A printer's side of signed updates: its update agent verifies and
// installs what the Command Center's mirror serves under /tuf/ (package
// site).

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
		Interval: cmp.Or(u.interval, site.DefaultUpdateInterval),
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
