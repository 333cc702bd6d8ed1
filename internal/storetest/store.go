package storetest

import (
	"context"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
	"github.com/fusionfleet/fusionfleet/internal/kpi"
	"github.com/fusionfleet/fusionfleet/internal/retention"
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

	ApplyEnvelope(ctx context.Context, env fleet.Envelope) (int, error)

	Printers(ctx context.Context, org fleet.OrgID) ([]fleet.PrinterView, error)
	PrinterDetail(ctx context.Context, org fleet.OrgID, p fleet.PrinterID) (fleetquery.PrinterDetail, error)
	Jobs(ctx context.Context, org fleet.OrgID, f fleetquery.JobFilter) ([]fleetquery.PrinterJob, error)
	JobParts(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, job string) ([]fleet.Part, error)
	JobLayers(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, job string) ([]fleet.Layer, error)
	CountersHistory(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time) ([]fleet.Counters, error)
	ConsumablesHistory(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time) ([]fleet.Consumables, error)
	CountersTrend(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time, points int) ([]fleet.Counters, error)
	ConsumablesTrend(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time, points int) ([]fleet.Consumables, error)
	Events(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time, limit int) ([]fleet.Event, error)
	Logs(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, log fleet.LogKind, from, to time.Time, limit int) ([]fleet.LogLine, error)
	JobHistory(ctx context.Context, org fleet.OrgID, q fleetquery.JobQuery) ([]fleetquery.PrinterJob, error)
	Job(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, job string) (fleet.Job, error)

	CreateOrgOfKind(ctx context.Context, name string, kind access.OrgKind) (fleet.OrgID, error)
	Org(ctx context.Context, id fleet.OrgID) (access.Org, error)
	Member(ctx context.Context, org fleet.OrgID, user fleet.UserID) (access.Member, error)
	Members(ctx context.Context, org fleet.OrgID) ([]access.Member, error)
	CreateMember(ctx context.Context, org fleet.OrgID, name, passwordHash string, role fleet.Role, sites access.SiteSet) (fleet.UserID, error)
	SetMember(ctx context.Context, org fleet.OrgID, user fleet.UserID, role fleet.Role, sites access.SiteSet) error
	DeleteMember(ctx context.Context, org fleet.OrgID, user fleet.UserID) error
	SessionMember(ctx context.Context, tokenHash string, now time.Time) (access.Member, error)
	SetPrefs(ctx context.Context, org fleet.OrgID, user fleet.UserID, p fleet.Prefs) error

	SetPendingTOTP(ctx context.Context, user fleet.UserID, secret string) error
	TOTP(ctx context.Context, user fleet.UserID) (secret string, enabled bool, lastStep int64, err error)
	EnableTOTP(ctx context.Context, user fleet.UserID, step int64, recoveryHashes []string) error
	UseTOTPStep(ctx context.Context, user fleet.UserID, step int64) error
	UseRecoveryCode(ctx context.Context, user fleet.UserID, codeHash string, now time.Time) error
	RecoveryCodesLeft(ctx context.Context, user fleet.UserID) (int, error)
	DisableTOTP(ctx context.Context, user fleet.UserID) error
	CreateLoginChallenge(ctx context.Context, tokenHash string, user fleet.UserID, expires time.Time) error
	LoginChallengeUser(ctx context.Context, tokenHash string, now time.Time) (fleet.User, error)
	DeleteLoginChallenge(ctx context.Context, tokenHash string, now time.Time) error

	CreateAPIToken(ctx context.Context, tok access.Token, tokenHash string) (access.TokenID, error)
	APITokenByHash(ctx context.Context, tokenHash string) (access.Token, error)
	APIToken(ctx context.Context, org fleet.OrgID, id access.TokenID) (access.Token, error)
	APITokens(ctx context.Context, org fleet.OrgID, user fleet.UserID) ([]access.Token, error)
	RevokeAPIToken(ctx context.Context, org fleet.OrgID, id access.TokenID, now time.Time) error

	CreateNotifyChannel(ctx context.Context, c fleet.NotifyChannel) (fleet.NotifyChannelID, error)
	NotifyChannels(ctx context.Context, org fleet.OrgID) ([]fleet.NotifyChannel, error)
	NotifyChannel(ctx context.Context, org fleet.OrgID, id fleet.NotifyChannelID) (fleet.NotifyChannel, error)
	DeleteNotifyChannel(ctx context.Context, org fleet.OrgID, id fleet.NotifyChannelID, now time.Time) error
	SetNotifyPrefs(ctx context.Context, p fleet.NotifyPrefs) error
	NotifyPrefs(ctx context.Context, org fleet.OrgID, user fleet.UserID) (fleet.NotifyPrefs, error)
	Recipients(ctx context.Context, org fleet.OrgID, site fleet.SiteID) ([]fleet.Recipient, error)
	EnqueueDeliveries(ctx context.Context, ds []fleet.Delivery) (int, error)
	ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]fleet.Delivery, error)
	RecordAttempt(ctx context.Context, a fleet.DeliveryAttempt, next time.Time) error
	Deliveries(ctx context.Context, org fleet.OrgID, limit int) ([]fleet.Delivery, error)
	DeliveryLog(ctx context.Context, org fleet.OrgID, limit int) ([]fleet.DeliveryAttempt, error)
	PruneDeliveries(ctx context.Context, cutoff time.Time) (int64, error)

	AlertStore
	RolloutStore
	VersionStore

	KPIDaily(ctx context.Context, org fleet.OrgID, f kpi.Filter) (kpi.Daily, error)
	UsageHeatmap(ctx context.Context, org fleet.OrgID, f kpi.Filter) (kpi.Usage, error)
	MaterialUse(ctx context.Context, org fleet.OrgID, f kpi.Filter) ([]kpi.MaterialDay, error)
	BenchmarkCohort(ctx context.Context, model string, exclude fleet.OrgID, from, to time.Time) ([]kpi.Aggregate, error)

	Prune(ctx context.Context, now time.Time, r retention.Retention) (map[string]int64, error)
	Ping(ctx context.Context) error
	Close() error
}
