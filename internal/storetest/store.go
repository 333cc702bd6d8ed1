package storetest

import (
	"context"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
	"github.com/fusionfleet/fusionfleet/internal/retention"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
)

// Store is every method the cloud stores share.
type Store interface {
	CreateOrg(ctx context.Context, name string) (fleet.OrgID, error)
	CreateSite(ctx context.Context, org fleet.OrgID, name string) (fleet.SiteID, error)
	Sites(ctx context.Context, org fleet.OrgID) ([]fleet.Site, error)
	CreateUser(ctx context.Context, org fleet.OrgID, name, passwordHash string, role fleet.Role) (fleet.UserID, error)
	UserByName(ctx context.Context, name string) (fleet.User, string, error)
	SetPassword(ctx context.Context, user fleet.UserID, passwordHash string) error

	CreateSession(ctx context.Context, tokenHash string, user fleet.UserID, expires time.Time) error
	SessionUser(ctx context.Context, tokenHash string, now time.Time) (fleet.User, error)
	DeleteSession(ctx context.Context, tokenHash string) error

	CreateEnrolmentToken(ctx context.Context, site fleet.SiteID, tokenHash string, expires time.Time) error
	Enrol(ctx context.Context, tokenHash, name string, pub []byte, now time.Time) (fleet.Gateway, error)
	Gateway(ctx context.Context, id fleet.GatewayID) (fleet.Gateway, error)
	RevokeGateway(ctx context.Context, id fleet.GatewayID) error

	ApplyEnvelope(ctx context.Context, env uplink.Envelope) (int, error)

	Printers(ctx context.Context, org fleet.OrgID) ([]fleet.PrinterView, error)
	PrinterDetail(ctx context.Context, org fleet.OrgID, p fleet.PrinterID) (fleetquery.PrinterDetail, error)
	Jobs(ctx context.Context, org fleet.OrgID, f fleetquery.JobFilter) ([]fleetquery.PrinterJob, error)
	JobParts(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, job string) ([]fleet.Part, error)
	JobLayers(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, job string) ([]fleet.Layer, error)
	CountersHistory(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time) ([]fleet.Counters, error)
	ConsumablesHistory(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time) ([]fleet.Consumables, error)
	Events(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time, limit int) ([]fleet.Event, error)
	Logs(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, log fleet.LogKind, from, to time.Time, limit int) ([]fleet.LogLine, error)

	Prune(ctx context.Context, now time.Time, r retention.Retention) (map[string]int64, error)
	Close() error
}
