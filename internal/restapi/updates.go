package restapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/update"
)

// Releases lists the releases of the cloud's update repository.
type Releases interface {
	Releases(ctx context.Context) ([]update.Offer, error)
}

// updatesBody is GET /api/v1/updates: the dashboard's Updates page.
type updatesBody struct {
	// Configured is false when the cloud has no update repository.
	Configured bool              `json:"configured"`
	Releases   []update.Offer    `json:"releases"`
	Printers   []printerVersions `json:"printers"`
}

// printerVersions is what one printer runs and the newest release of each
// kind it could install (null if none).
type printerVersions struct {
	ID               fleet.PrinterID `json:"id"`
	Name             string          `json:"name"`
	Model            string          `json:"model"`
	SiteID           fleet.SiteID    `json:"site_id"`
	Firmware         string          `json:"firmware"`
	ParameterSet     string          `json:"parameter_set"`
	FirmwareUpdate   *update.Offer   `json:"firmware_update"`
	ParametersUpdate *update.Offer   `json:"parameters_update"`
}

func (h *updatesAPI) updates(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	body := updatesBody{Releases: []update.Offer{}, Printers: []printerVersions{}}
	if h.releases != nil {
		rels, err := h.releases.Releases(r.Context())
		if err != nil {
			return err
		}
		update.SortOffers(rels)
		body.Configured, body.Releases = true, append(body.Releases, rels...)
	}
	ps, err := visiblePrinters(r, h.printers, p)
	if err != nil {
		return err
	}
	for _, v := range ps {
		pv := printerVersions{ID: v.ID, Name: v.Name, Model: v.Model, SiteID: v.SiteID}
		det, err := h.printers.PrinterDetail(r.Context(), p.Org, v.ID)
		if err != nil && !errors.Is(err, fleet.ErrNotFound) {
			return err
		}
		if det.Identity != nil {
			pv.Firmware, pv.ParameterSet = det.Identity.Firmware, det.Identity.ParameterSet
		}
		rels := body.Releases
		pv.FirmwareUpdate = update.NewestOffer(rels, update.KindFirmware, pv.Model,
			update.InstalledVersion(rels, update.KindFirmware, pv.Model, pv.Firmware))
		pv.ParametersUpdate = update.NewestOffer(rels, update.KindParameters, pv.Model,
			update.InstalledVersion(rels, update.KindParameters, pv.Model, pv.ParameterSet))
		body.Printers = append(body.Printers, pv)
	}
	h.encode(w, http.StatusOK, body)
	return nil
}
