package cloud

import (
	"context"
	"log/slog"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/alert"
	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/maintenance"
)

// trainerStore is what the maintenance trainer reads: every printer, and
// each one's history.
type trainerStore interface {
	maintenance.HistoryReader
	SilentPrinters(ctx context.Context, before time.Time) ([]alert.Subject, error)
}

// newTrainer builds the trainer that learns the component life models
// from every stored printer of every organisation; only the lives enter
// the models, no identity.
func newTrainer(st trainerStore, clk clock.Clock, log *slog.Logger) *maintenance.Trainer {
	list := func(ctx context.Context) ([]maintenance.PrinterRef, error) {
		// Every printer was last seen before tomorrow.
		subs, err := st.SilentPrinters(ctx, clk.Now().Add(24*time.Hour))
		if err != nil {
			return nil, err
		}
		refs := make([]maintenance.PrinterRef, len(subs))
		for i, s := range subs {
			refs[i] = maintenance.PrinterRef{Org: s.OrgID, Printer: s.PrinterID}
		}
		return refs, nil
	}
	return maintenance.NewTrainer(st, list, maintenance.TrainerOptions{Clock: clk, Logger: log})
}
