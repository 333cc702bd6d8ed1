// Package audit keeps the tamper-evident record of who touched a
// customer's data (R-SEC-7): every access by anyone outside the customer,
// every grant change, every diagnostic, every login and failed login and
// every admin action is an Event, appended to the organisation's log.
package audit

import (
	"context"
	"log/slog"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// Event is what a caller records: one action on one organisation's data.
// The log adds its sequence number and hash chain.
type Event struct {
	Time     time.Time
	Org      fleet.OrgID  // the organisation whose log receives the entry
	ActorOrg fleet.OrgID  // the actor's home organisation (differs for a service provider)
	Actor    fleet.UserID // empty for the system or an unknown login name
	Name     string       // the actor's login name, as typed for a failed login
	Action   string       // dotted verb: "login", "login.failed", "grant.create", "diagnostic.request", …
	Target   string       // what was acted on: a printer, site, user or grant ID
	Grant    string       // the grant the actor used, if any
	Detail   string       // free text for people; never a secret
}

// Recorder appends events to the audit log. Callers that must not act
// without a record (grant changes, diagnostics) fail when Record fails.
type Recorder interface {
	Record(ctx context.Context, e Event) error
}

// Logger records events as structured log lines: for a process that has no
// audit store, and a copy for the operator's log collection. It keeps no
// chain; the store's log is the tamper-evident one.
type Logger struct{ Log *slog.Logger }

// Record writes e as one INFO line.
func (l Logger) Record(ctx context.Context, e Event) error {
	l.Log.LogAttrs(ctx, slog.LevelInfo, "audit", slog.Time("time", e.Time), slog.String("org", string(e.Org)),
		slog.String("actor_org", string(e.ActorOrg)), slog.String("actor", string(e.Actor)), slog.String("name", e.Name),
		slog.String("action", e.Action), slog.String("target", e.Target), slog.String("grant", e.Grant), slog.String("detail", e.Detail))
	return nil
}

// Filter selects entries of one organisation's audit log.
type Filter struct {
	From, To time.Time // To exclusive; zero: unbounded
	Action   string    // exact, or a prefix ending in "." ("login." matches "login.failed"); empty: all
	Actor    string    // the actor's user ID or login name; empty: all
	Before   int64     // only entries numbered below; 0: from the newest
	Limit    int       // at most this many; 0: all
}
