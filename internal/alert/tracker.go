package alert

import (
	"context"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// Tracker is what people do with alerts, through the dashboard and the
// REST API: list them, look one up, acknowledge it, assign it.
type Tracker interface {
	Alerts(ctx context.Context, org fleet.OrgID, f Filter) ([]fleet.Alert, error)
	Alert(ctx context.Context, org fleet.OrgID, id fleet.AlertID) (fleet.Alert, error)
	AckAlert(ctx context.Context, org fleet.OrgID, id fleet.AlertID, user fleet.UserID, at time.Time) error
	AssignAlert(ctx context.Context, org fleet.OrgID, id fleet.AlertID, user fleet.UserID) error
}

// RuleEditor reads and changes an organisation's rules: its custom rules
// and which rules are muted.
type RuleEditor interface {
	AlertRules(ctx context.Context, org fleet.OrgID) (Rules, error)
	CreateAlertRule(ctx context.Context, r CustomRule) (string, error)
	DeleteAlertRule(ctx context.Context, org fleet.OrgID, id string, at time.Time) error
	SetRuleMuted(ctx context.Context, org fleet.OrgID, rule fleet.RuleKey, muted bool) error
}
