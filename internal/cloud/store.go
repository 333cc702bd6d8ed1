package cloud

import (
	"context"
	"path/filepath"
	"strings"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/alert"
	"github.com/fusionfleet/fusionfleet/internal/dashboard"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
	"github.com/fusionfleet/fusionfleet/internal/ingest"
	"github.com/fusionfleet/fusionfleet/internal/kpi"
	"github.com/fusionfleet/fusionfleet/internal/notify"
	"github.com/fusionfleet/fusionfleet/internal/postgres"
	"github.com/fusionfleet/fusionfleet/internal/restapi"
	"github.com/fusionfleet/fusionfleet/internal/retention"
	"github.com/fusionfleet/fusionfleet/internal/sqlite"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
)

// cloudStore is what a node asks of its store: the capabilities its parts
// take, each given the same store, and what Bootstrap needs; *sqlite.DB and
// *postgres.DB both provide it and pass one contract suite (storetest).
type cloudStore interface {
	dashboard.Sessions
	dashboard.TwoFactor
	dashboard.WorstAlerts
	restapi.TokenLookup
	access.Members
	access.Sites
	access.Tokens
	fleetquery.PrinterReader
	fleetquery.JobReader
	fleetquery.HistoryReader
	alert.Tracker
	alert.RuleEditor
	notify.Channels
	notify.Preferences
	kpi.Reader
	uplink.Gateways
	ingest.Store
	retention.Pruner
	alert.SweepStore
	alert.VersionStore
	VersionFailures(ctx context.Context, q fleet.VersionQuery) (fleet.VersionFailures, error)
	notify.Store
	CreateOrg(ctx context.Context, name string) (fleet.OrgID, error)
	CreateUser(ctx context.Context, org fleet.OrgID, name, passwordHash string, role fleet.Role) (fleet.UserID, error)
	SetPassword(ctx context.Context, user fleet.UserID, passwordHash string) error
	Ping(ctx context.Context) error
	Close() error
}

// openStore opens the store named by db: a PostgreSQL URL, or a SQLite
// file (default: cloud.db in the data directory).
func openStore(ctx context.Context, dataDir, db string) (cloudStore, error) {
	switch {
	case strings.HasPrefix(db, "postgres://"), strings.HasPrefix(db, "postgresql://"):
		return postgres.Open(ctx, db, postgres.Options{})
	case db == "":
		db = filepath.Join(dataDir, "cloud.db")
	}
	return sqlite.Open(ctx, strings.TrimPrefix(db, "sqlite:"))
}
