package grant

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/audit"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/store"
)

var t0 = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

// recorder keeps the events it is given, or fails.
type recorder struct {
	events []audit.Event
	fail   bool
}

func (r *recorder) Record(_ context.Context, e audit.Event) error {
	if r.fail {
		return errors.New("audit log unavailable")
	}
	r.events = append(r.events, e)
	return nil
}

type parties struct {
	db                 *store.DB
	customer, provider fleet.OrgID
	admin, engineer    access.Principal
	site               fleet.SiteID
}

func setup(t *testing.T) parties {
	t.Helper()
	ctx := t.Context()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "cloud.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var p parties
	p.db = db
	if p.customer, err = db.CreateOrg(ctx, "Acme"); err != nil {
		t.Fatal(err)
	}
	if p.site, err = db.CreateSite(ctx, p.customer, "Aachen"); err != nil {
		t.Fatal(err)
	}
	if p.provider, err = db.CreateOrgOfKind(ctx, "Fixers", access.OrgServiceProvider); err != nil {
		t.Fatal(err)
	}
	member := func(org fleet.OrgID, name string, role fleet.Role) access.Principal {
		id, err := db.CreateMember(ctx, org, name, "x", role, access.AllSites())
		if err != nil {
			t.Fatal(err)
		}
		m, err := db.Member(ctx, org, id)
		if err != nil {
			t.Fatal(err)
		}
		return access.ForUser(m)
	}
	p.admin = member(p.customer, "ada", fleet.RoleAdmin)
	p.engineer = member(p.provider, "eve", fleet.RoleOperator)
	return p
}

func (p parties) newGrant(t *testing.T) access.Grant {
	t.Helper()
	g, err := p.admin.NewGrant(p.provider, access.OnlySites(p.site), access.GrantStatus, t0, t0.Add(time.Hour), t0)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestGiveRevokeAct(t *testing.T) {
	p := setup(t)
	ctx := t.Context()
	rec := &recorder{}
	g, err := Give(ctx, p.db, rec, p.admin, p.newGrant(t))
	if err != nil {
		t.Fatal(err)
	}
	under, err := Act(ctx, p.db, p.engineer, g.ID, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if under.Org != p.customer || under.Role != fleet.RoleOperator || !under.Sites.Equal(access.OnlySites(p.site)) || under.Grant.ID != g.ID {
		t.Errorf("under the grant: %+v", under)
	}
	// Not the customer's admin, not a provider user, not a live grant.
	for _, tt := range []struct {
		name string
		p    access.Principal
		id   string
		at   time.Time
		want error
	}{
		{"the customer's own admin", p.admin, g.ID, t0, access.ErrForbidden},
		{"nobody", access.Principal{}, g.ID, t0, access.ErrUnauthenticated},
		{"forged ID", p.engineer, "grt_00000000000000000000000000000000", t0, access.ErrForbidden},
		{"malformed ID", p.engineer, "grt_' OR 1=1 --", t0, access.ErrForbidden},
		{"expired", p.engineer, g.ID, t0.Add(time.Hour), access.ErrForbidden},
		{"before its start", p.engineer, g.ID, t0.Add(-time.Minute), access.ErrForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Act(ctx, p.db, tt.p, tt.id, tt.at); !errors.Is(err, tt.want) {
				t.Errorf("Act: %v, want %v", err, tt.want)
			}
		})
	}
	// The provider cannot revoke it, as it is not the provider's.
	if err := Revoke(ctx, p.db, rec, p.engineer, g.ID, t0); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("revoke by the provider: %v, want not found", err)
	}
	if err := Revoke(ctx, p.db, rec, p.admin, g.ID, t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := Act(ctx, p.db, p.engineer, g.ID, t0.Add(3*time.Minute)); !errors.Is(err, access.ErrForbidden) {
		t.Errorf("Act on a revoked grant: %v, want forbidden", err)
	}
	if len(rec.events) != 2 || rec.events[0].Action != ActionCreate || rec.events[1].Action != ActionRevoke ||
		rec.events[0].Org != p.customer || rec.events[0].Target != g.ID || rec.events[1].Actor != p.admin.User.ID {
		t.Errorf("audit events: %+v", rec.events)
	}
}

// A grant whose record fails admits nobody: Give fails and the grant is
// revoked again.
func TestGiveFailsWithoutAudit(t *testing.T) {
	p := setup(t)
	ctx := t.Context()
	if _, err := Give(ctx, p.db, &recorder{fail: true}, p.admin, p.newGrant(t)); err == nil {
		t.Fatal("Give succeeded without its audit record")
	}
	gs, err := p.db.Grants(ctx, p.customer)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		if g.Live(t0.Add(time.Minute)) {
			t.Errorf("grant %s is live without its audit record", g.ID)
		}
	}
	// A revocation whose record fails still revokes, and says it failed.
	g, err := Give(ctx, p.db, &recorder{}, p.admin, p.newGrant(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := Revoke(ctx, p.db, &recorder{fail: true}, p.admin, g.ID, t0); err == nil {
		t.Error("Revoke succeeded without its audit record")
	}
	if _, err := Act(ctx, p.db, p.engineer, g.ID, t0.Add(time.Minute)); !errors.Is(err, access.ErrForbidden) {
		t.Errorf("Act after a revocation whose record failed: %v, want forbidden", err)
	}
}

func FuzzValidID(f *testing.F) {
	for _, s := range []string{"grt_0123abcd", "grt_", "", "grt_a b", "GRT_x", "grt_" + string(make([]byte, 70))} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if !ValidID(id) {
			return
		}
		if len(id) > 68 || len(id) <= 4 || id[:4] != "grt_" {
			t.Errorf("ValidID(%q) = true", id)
		}
		for _, c := range []byte(id) {
			if c <= ' ' || c >= 0x7f || c == '\'' || c == '"' || c == ';' {
				t.Errorf("ValidID(%q) admits %q", id, c)
			}
		}
	})
}
