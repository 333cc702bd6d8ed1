package restapi

import (
	"maps"
	"net/http"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
	"github.com/fusionfleet/fusionfleet/internal/maintenance"
)

// MaintenanceModels are the component life models the cloud learned from
// the whole fleet (maintenance.Trainer).
type MaintenanceModels interface {
	Models() (map[maintenance.Kind]maintenance.Model, maintenance.Training)
}

// maintenanceAPI answers the maintenance forecasts.
type maintenanceAPI struct {
	*handler
	printers fleetquery.PrinterReader
	book     *maintenance.Book // each printer's components, kept from a watermark
	models   MaintenanceModels // nil: no models, every forecast on the rated life
}

// maintenanceReport is GET /api/v1/printers/{id}/maintenance.
type maintenanceReport struct {
	PrinterID fleet.PrinterID        `json:"printer_id"`
	Time      time.Time              `json:"time"`
	Horizon   float64                `json:"horizon_days"`
	Forecasts []maintenance.Forecast `json:"forecasts"`
	Models    []maintenance.Model    `json:"models"`
	Training  maintenance.Training   `json:"training"`
	// Excluded counts this printer's records left out of its forecast,
	// by reason.
	Excluded map[string]int `json:"excluded"`
}

// printerMaintenance forecasts each installed component of a printer the
// caller may see.
func (h *maintenanceAPI) printerMaintenance(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	det, err := visiblePrinter(r, h.printers, p)
	if err != nil {
		return err
	}
	rep, err := h.report(r, p.Org, det.View.ID)
	if err != nil {
		return err
	}
	h.encode(w, http.StatusOK, rep)
	return nil
}

func (h *maintenanceAPI) report(r *http.Request, org fleet.OrgID, id fleet.PrinterID) (maintenanceReport, error) {
	now := h.clock.Now()
	var models map[maintenance.Kind]maintenance.Model
	var training maintenance.Training
	if h.models != nil {
		models, training = h.models.Models()
	}
	fc := &maintenance.Forecaster{Models: models}
	rep := maintenanceReport{PrinterID: id, Time: now, Horizon: 7, Training: training, Excluded: map[string]int{}}
	err := h.book.View(r.Context(), org, id, now, func(tr *maintenance.Tracker) {
		rep.Forecasts = fc.Forecasts(tr, id, now)
		maps.Copy(rep.Excluded, tr.Excluded)
	})
	if err != nil {
		return maintenanceReport{}, err
	}
	if rep.Forecasts == nil {
		rep.Forecasts = []maintenance.Forecast{}
	}
	for _, k := range maintenance.Kinds() {
		m, ok := models[k]
		if !ok {
			m = maintenance.Model{Kind: k, Reason: "no fleet model"}
		}
		rep.Models = append(rep.Models, m)
	}
	if rep.Training.Excluded == nil {
		rep.Training.Excluded = map[string]int{}
	}
	return rep, nil
}
