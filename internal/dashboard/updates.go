package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
	"github.com/fusionfleet/fusionfleet/internal/update"
)

// updatesPage is the Updates page (and the printers page's banner): the
// releases, and the printers with what they run.
type updatesPage struct {
	*handler
	releases ReleaseLister // nil: no update repository
	printers fleetquery.PrinterReader
	sites    access.Sites
}

// ReleaseLister lists the releases of the cloud's update repository.
type ReleaseLister interface {
	Releases(ctx context.Context) ([]update.Offer, error)
}

// printerUpdates is one printer's row on the Updates page.
type printerUpdates struct {
	ID           string
	Name         string
	Model        string
	SiteName     string
	Firmware     string
	ParameterSet string
	// The newest release of each kind this printer could install; nil
	// when it runs the newest or its version is unknown.
	NewFirmware   *update.Offer
	NewParameters *update.Offer
}

// Available reports whether any update fits the printer.
func (p printerUpdates) Available() bool { return p.NewFirmware != nil || p.NewParameters != nil }

type updatesData struct {
	Configured bool // the cloud has an update repository
	Releases   []update.Offer
	Printers   []printerUpdates
	Available  int // printers with an update available
}

// Rollout describes a release's staged rollout for people.
func (p page) Rollout(r update.Offer) string {
	ro := r.Rollout
	if ro == nil {
		return p.T("All printers")
	}
	var parts []string
	if ro.Percent != nil {
		parts = append(parts, p.T("%d%% of printers", *ro.Percent))
	}
	if len(ro.Sites) > 0 {
		parts = append(parts, p.T("sites %s", strings.Join(ro.Sites, ", ")))
	}
	return strings.Join(parts, "; ")
}

// updatesPage shows the releases the cloud offers and which firmware and
// parameter set each of the reader's printers runs.
func (h *updatesPage) updatesPage(w http.ResponseWriter, r *http.Request, s session) {
	d, err := h.updates(r, s.p)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "updates.html", page{Title: "Updates", User: &s.user, CSRF: s.csrf, Data: d})
}

// updates loads the releases and the principal's printers with what each
// runs and could install.
func (h *updatesPage) updates(r *http.Request, p access.Principal) (updatesData, error) {
	ctx := r.Context()
	var d updatesData
	if h.releases == nil {
		return d, nil
	}
	d.Configured = true
	rels, err := h.releases.Releases(ctx)
	if err != nil {
		return d, fmt.Errorf("releases: %w", err)
	}
	update.SortOffers(rels)
	d.Releases = rels
	views, err := h.printers.Printers(ctx, p.Org)
	if err != nil {
		return d, err
	}
	sites, err := h.sites.Sites(ctx, p.Org)
	if err != nil {
		return d, err
	}
	siteNames := map[string]string{}
	for _, st := range sites {
		siteNames[string(st.ID)] = st.Name
	}
	for _, v := range p.FilterPrinters(views) {
		row := printerUpdates{ID: string(v.ID), Name: v.Name, Model: v.Model, SiteName: siteNames[string(v.SiteID)]}
		if row.Name == "" {
			row.Name = string(v.ID)
		}
		det, err := h.printers.PrinterDetail(ctx, p.Org, v.ID)
		if err != nil && !isNotFound(err) {
			return d, err
		}
		if det.Identity != nil {
			row.Firmware, row.ParameterSet = det.Identity.Firmware, det.Identity.ParameterSet
			if row.Model == "" {
				row.Model = det.Identity.Model
			}
		}
		row.NewFirmware = update.NewestOffer(rels, update.KindFirmware, row.Model, update.InstalledVersion(rels, update.KindFirmware, row.Model, row.Firmware))
		row.NewParameters = update.NewestOffer(rels, update.KindParameters, row.Model, update.InstalledVersion(rels, update.KindParameters, row.Model, row.ParameterSet))
		if row.Available() {
			d.Available++
		}
		d.Printers = append(d.Printers, row)
	}
	return d, nil
}

// updatesAvailable counts the principal's printers with an update
// available, for the banner on the printers page.
func (h *updatesPage) updatesAvailable(r *http.Request, p access.Principal) int {
	if h.releases == nil {
		return 0
	}
	d, err := h.updates(r, p)
	if err != nil {
		h.log.Warn("updates for the banner", "err", err)
		return 0
	}
	return d.Available
}
