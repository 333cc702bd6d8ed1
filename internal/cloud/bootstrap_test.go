package cloud

import (
	"errors"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// A demo peer is made once and found again by its organisation: each call
// gives a new token for the same site, and no user, so nobody can log in
// as a peer; an unknown organisation is refused.
func TestDemoPeer(t *testing.T) {
	n := start(t, Options{})
	ctx := t.Context()
	org, token, err := n.DemoPeer(ctx, "", "Peer 1")
	if err != nil || org == "" || token == "" {
		t.Fatalf("first DemoPeer: %q, %q, %v; want an organisation and a token", org, token, err)
	}
	again, token2, err := n.DemoPeer(ctx, org, "Peer 1")
	if err != nil || again != org || token2 == "" || token2 == token {
		t.Errorf("DemoPeer of %s: %q, %q, %v; want the same organisation and a new token", org, again, token2, err)
	}
	sites, err := n.store.Sites(ctx, org)
	if err != nil || len(sites) != 1 {
		t.Errorf("peer's sites: %+v, %v; want one", sites, err)
	}
	if users, err := n.store.Members(ctx, org); err != nil || len(users) != 0 {
		t.Errorf("peer's users: %+v, %v; want none", users, err)
	}
	if _, _, err := n.DemoPeer(ctx, "org_unknown", "Peer 2"); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("DemoPeer of an unknown organisation: %v, want not found", err)
	}
}
