// Package grant gives, revokes and uses the grants with which a customer
// lets a service provider act on its data (R-SEC-7), once for the
// dashboard and the REST API: every change is recorded in the audit log
// and fails when the record fails, and a request under a grant reads the
// grant afresh from the store, so revocation and expiry take effect on the
// next request on every cloud node.
package grant

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/audit"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// The audit actions of grant changes.
const (
	ActionCreate = "grant.create"
	ActionRevoke = "grant.revoke"
)

// Give stores g, which p made with access.Principal.NewGrant, and records
// it in the customer's audit log; it returns g with its ID. When the
// record fails the grant is revoked again at once, so that no grant the
// log does not know of ever admits anyone, and the error is returned.
func Give(ctx context.Context, st access.Grants, rec audit.Recorder, p access.Principal, g access.Grant) (access.Grant, error) {
	id, err := st.CreateGrant(ctx, g)
	if err != nil {
		return access.Grant{}, fmt.Errorf("give grant: %w", err)
	}
	g.ID = id
	if err := rec.Record(ctx, event(p, g, ActionCreate, g.Created)); err != nil {
		if rerr := st.RevokeGrant(ctx, g.Customer, id, g.Created); rerr != nil {
			return access.Grant{}, fmt.Errorf("give grant %s: audit: %w; and revoking it again: %w", id, err, rerr)
		}
		return access.Grant{}, fmt.Errorf("give grant %s: audit: %w", id, err)
	}
	return g, nil
}

// Revoke revokes grant id of p's organisation at now and records it. A
// grant p may not see (access.Principal.CanSeeGrant) is fleet.ErrNotFound.
// The revocation stands even when the record fails (access is never left
// open for want of a log line), but the error is returned.
func Revoke(ctx context.Context, st access.Grants, rec audit.Recorder, p access.Principal, id string, now time.Time) error {
	g, err := find(ctx, st, p, id)
	if err != nil {
		return err
	}
	if err := st.RevokeGrant(ctx, p.Org, id, now); err != nil {
		return fmt.Errorf("revoke grant: %w", err)
	}
	if err := rec.Record(ctx, event(p, g, ActionRevoke, now)); err != nil {
		return fmt.Errorf("revoke grant %s: audit: %w", id, err)
	}
	return nil
}

// Visible lists the grants of p's organisation that p may see, newest
// first.
func Visible(ctx context.Context, st access.Grants, p access.Principal) ([]access.Grant, error) {
	gs, err := st.Grants(ctx, p.Org)
	if err != nil {
		return nil, err
	}
	out := gs[:0]
	for _, g := range gs {
		if p.CanSeeGrant(g) {
			out = append(out, g)
		}
	}
	return out, nil
}

func find(ctx context.Context, st access.Grants, p access.Principal, id string) (access.Grant, error) {
	gs, err := Visible(ctx, st, p)
	if err != nil {
		return access.Grant{}, err
	}
	for _, g := range gs {
		if g.ID == id {
			return g, nil
		}
	}
	return access.Grant{}, fmt.Errorf("grant %s: %w", id, fleet.ErrNotFound)
}

// Act returns the principal with which p, a user of a service provider,
// acts under grant id at now (access.UnderGrant), reading the grant from
// the store. An unknown ID, like any grant not given to p's organisation
// or no longer live, is access.ErrForbidden: a forged ID learns nothing
// the caller could not see.
func Act(ctx context.Context, lookup access.GrantLookup, p access.Principal, id string, now time.Time) (access.Principal, error) {
	if p.Kind == access.KindNone {
		return access.Principal{}, access.ErrUnauthenticated
	}
	if !ValidID(id) {
		return access.Principal{}, fmt.Errorf("grant %q: malformed: %w", id, access.ErrForbidden)
	}
	g, err := lookup.Grant(ctx, id)
	if errors.Is(err, fleet.ErrNotFound) {
		return access.Principal{}, fmt.Errorf("grant %s: unknown: %w", id, access.ErrForbidden)
	}
	if err != nil {
		return access.Principal{}, err
	}
	return access.UnderGrant(p, g, now)
}

// ValidID reports whether id looks like a grant ID: checked before any
// store lookup, so that a forged header or cookie stays short.
func ValidID(id string) bool {
	rest, ok := strings.CutPrefix(id, "grt_")
	if !ok || len(rest) == 0 || len(rest) > 64 {
		return false
	}
	for _, c := range rest {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// event is the audit record of a change to g by p.
func event(p access.Principal, g access.Grant, action string, at time.Time) audit.Event {
	sites := "all sites"
	if g.Sites.Limited() {
		ids := make([]string, 0, len(g.Sites.IDs()))
		for _, s := range g.Sites.IDs() {
			ids = append(ids, string(s))
		}
		sites = "sites " + strings.Join(ids, ",")
	}
	return audit.Event{Time: at, Org: g.Customer, ActorOrg: p.User.OrgID, Actor: p.User.ID, Name: p.User.Name,
		Action: action, Target: g.ID,
		Detail: fmt.Sprintf("provider %s, %s, scopes %s, from %s until %s", g.Provider, sites,
			strings.Join(g.Scopes.Names(), ","), g.Starts.UTC().Format(time.RFC3339), g.Expires.UTC().Format(time.RFC3339))}
}
