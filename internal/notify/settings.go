package notify

import (
	"context"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// Channels is how an organisation's administrators manage where alerts
// go, through the dashboard and the REST API: the channels, a test
// delivery, and the log of attempts.
type Channels interface {
	NotifyChannels(ctx context.Context, org fleet.OrgID) ([]fleet.NotifyChannel, error)
	NotifyChannel(ctx context.Context, org fleet.OrgID, id fleet.NotifyChannelID) (fleet.NotifyChannel, error)
	CreateNotifyChannel(ctx context.Context, c fleet.NotifyChannel) (fleet.NotifyChannelID, error)
	DeleteNotifyChannel(ctx context.Context, org fleet.OrgID, id fleet.NotifyChannelID, now time.Time) error
	EnqueueDeliveries(ctx context.Context, ds []fleet.Delivery) (int, error)
	DeliveryLog(ctx context.Context, org fleet.OrgID, limit int) ([]fleet.DeliveryAttempt, error)
}

// Preferences keeps each user's own notification preferences.
type Preferences interface {
	NotifyPrefs(ctx context.Context, org fleet.OrgID, user fleet.UserID) (fleet.NotifyPrefs, error)
	SetNotifyPrefs(ctx context.Context, p fleet.NotifyPrefs) error
}
