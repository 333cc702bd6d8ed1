package cloud

import (
	"net/http"

	"github.com/fusionfleet/fusionfleet/internal/dashboard"
	"github.com/fusionfleet/fusionfleet/internal/restapi"
	"github.com/fusionfleet/fusionfleet/internal/update"
)

// webHandlers builds what people and their programs use: the dashboard
// and the REST API over the node's store. Everything the two handlers are
// given is decided here, and only here.
func (n *Node) webHandlers(updates *update.Service, hub *dashboard.Hub) (dash, api http.Handler) {
	o := n.opts
	dash = dashboard.NewHandler(n.store, hub, dashboard.Options{
		Clock: o.Clock, Logger: n.log, SecureCookies: o.DashboardListen == "", SessionTTL: o.SessionTTL,
		Releases: updates,
	})
	api = restapi.NewHandler(n.store, restapi.Options{Clock: o.Clock, Logger: n.log, Releases: updates})
	return dash, api
}
