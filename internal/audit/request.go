package audit

import (
	"net/http"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// The actions the central authorisation of the dashboard and the API
// records for the requests it lets through.
const (
	ActionLogin       = "login"        // a user logged in
	ActionLoginFailed = "login.failed" // a wrong name, password or code, or a locked name; Name as typed
	ActionAdmin       = "admin"        // a change only an administrator may make
	ActionGrantAccess = "grant.access" // any request of someone acting under a customer's grant
)

// OfRequest is the event a request that passed the authorisation check
// must leave, and whether it must leave one: every change that needs an
// administrator (need.Role admin, need.Write), and every request of a
// principal acting under a grant (someone outside the customer). The
// event names the route's pattern and the IDs in the request's path; it
// is recorded before the handler runs, so a request that could not be
// recorded changes nothing.
func OfRequest(now time.Time, p access.Principal, need access.Requirement, pattern string, r *http.Request) (Event, bool) {
	admin := need.Write && need.Role == fleet.RoleAdmin
	if need.Public || !admin && p.Grant == nil {
		return Event{}, false
	}
	e := Event{Time: now, Org: p.Org, ActorOrg: p.User.OrgID, Actor: p.User.ID, Name: p.User.Name,
		Action: ActionGrantAccess, Target: PathTargets(r, pattern), Detail: pattern}
	if admin {
		e.Action = ActionAdmin
	}
	if p.Grant != nil {
		e.Grant = p.Grant.ID
	}
	if p.Kind == access.KindToken {
		e.Detail += " (API token " + string(p.TokenID) + ")"
	}
	return e, true
}

// PathTargets lists the wildcards of pattern with their values in r's
// path, "id=usr_1 job=j7": what the request acts on.
func PathTargets(r *http.Request, pattern string) string {
	var out []string
	for rest := pattern; ; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			break
		}
		name := strings.TrimSuffix(strings.TrimPrefix(rest[i+1:i+j], "$"), "...")
		rest = rest[i+j+1:]
		if name == "" {
			continue
		}
		if v := r.PathValue(name); v != "" {
			out = append(out, name+"="+v)
		}
	}
	t := strings.Join(out, " ")
	if len(t) > maxTarget {
		t = strings.ToValidUTF8(t[:maxTarget], "") + "…"
	}
	return t
}

// maxTarget bounds the targets taken from a path: a forged, long ID is
// recorded in part, not refused by the log.
const maxTarget = 512
