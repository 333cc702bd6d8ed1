package site

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/update"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
)

// The site's side of signed updates. The Command Center mirrors the cloud's
// repository over its outbound HTTPS connection (R-ARCH-3) and serves the
// copy, with the site's approvals, to its printers under /tuf/ on the local
// listener; each printer's update agent verifies and installs from there.

// newUpdateMirror returns the node's mirror of the cloud's repository,
// kept in the data directory, for the printer models the store knows. The
// mirror fetches by the uplink's rules: through the uplink client's
// transport (a connection per request, resumed TLS sessions, the proxy
// from the environment) and within the bandwidth budget it shares with
// the uploader; and each fetch is in the upload log, beside the uploads.
func (n *Node) newUpdateMirror(uc *uplink.Client, budget *commandcenter.Budget) (*update.Mirror, error) {
	// A firmware image over a slow site link: the mirror caps sizes, a
	// stuck transfer ends here.
	logged := n.store.TransferLog(budget.Transport(uc.Transport()), commandcenter.TransferLogOptions{Clock: n.opts.Clock, Logger: n.log})
	client := uc.HTTPClient(logged, 30*time.Minute)
	models := func(ctx context.Context) []string {
		ps, err := n.store.Printers(ctx)
		if err != nil {
			n.log.Warn("mirror: printer models unknown; mirroring every target", "err", err)
			return nil
		}
		var out []string
		if n.opts.SelfUpdate.Swapper != nil && n.opts.SelfUpdate.Enabled {
			// The node's own builds, for its platform only.
			out = append(out, selfPlatform())
		}
		for _, p := range ps {
			if p.Identity != nil {
				out = append(out, p.Identity.Model)
			}
		}
		return out
	}
	return update.NewMirror(filepath.Join(n.opts.DataDir, "updates"), strings.TrimSuffix(n.opts.CloudURL, "/")+"/tuf", client,
		update.MirrorOptions{Logger: n.log, Interval: n.opts.UpdateInterval, Models: models})
}

// mirrorHandler serves the mirror and the site's approvals (/tuf/ only).
func (n *Node) mirrorHandler() http.Handler {
	return commandcenter.NewMirrorHandler(n.store, n.mirror, n.mirror.Handler(), n.opts.Clock)
}
