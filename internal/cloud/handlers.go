package cloud

import (
	"net/http"

	"github.com/fusionfleet/fusionfleet/internal/dashboard"
	"github.com/fusionfleet/fusionfleet/internal/restapi"
	"github.com/fusionfleet/fusionfleet/internal/updaterepo"
)

// webHandlers builds what people and their programs use: the dashboard
// and the REST API over the node's store. Everything the two handlers are
// given is decided here, and only here.
func (n *Node) webHandlers(updates *updaterepo.Service, hub *dashboard.Hub) (dash, api http.Handler) {
	o, st := n.opts, n.store
	dash = dashboard.NewHandler(dashboard.Deps{
		Sessions: st, TwoFactor: st, Throttle: st, Passwords: st, Members: st, Sites: st, Tokens: st, Printers: st, PrinterSites: st, Jobs: st, History: st,
		Alerts: st, AlertRules: st, WorstAlerts: st, Channels: st, NotifyPrefs: st, KPIs: st, Releases: updates, Maintenance: n.trainer,
		Grants: st, GrantLookup: st, Orgs: st, Audit: st, Plans: st, AuditLog: st, Export: st, Deletion: st, Diagnostics: st, Learning: st,
		Airgap: n.airgap, UpdateBundles: updateBundles{updates},
	}, hub, dashboard.Options{Clock: o.Clock, AuthClock: o.WallClock, Logger: n.log, SecureCookies: o.DashboardListen == "" && o.DashboardListener == nil, SessionTTL: o.SessionTTL,
		AllowPrivateWebhooks: o.Notify.AllowPrivateWebhooks, TrustedProxies: o.TrustedProxies, Demo: o.Demo, OfflineAfter: o.OfflineAfter})
	api = restapi.NewHandler(restapi.Deps{
		TokenLookup: st, Members: st, Passwords: st, Sites: st, Tokens: st, Printers: st, PrinterSites: st, Jobs: st, History: st,
		Alerts: st, AlertRules: st, Channels: st, NotifyPrefs: st, KPIs: st, Releases: updates, Maintenance: n.trainer,
		Grants: st, GrantLookup: st, Orgs: st, Audit: st, Plans: st, AuditLog: st, Export: st, Diagnostics: st, Learning: st,
		Airgap: n.airgap, UpdateBundles: updateBundles{updates},
	}, restapi.Options{Clock: o.Clock, Logger: n.log, AllowPrivateWebhooks: o.Notify.AllowPrivateWebhooks})
	return dash, api
}
