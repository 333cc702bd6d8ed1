package access

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func member(role fleet.Role, sites SiteSet) Member {
	return Member{User: fleet.User{ID: "usr_1", OrgID: "org_a", Name: "ada", Role: role}, Sites: sites}
}

func token(scope Scope, sites SiteSet) Token {
	return Token{ID: "tok_1", OrgID: "org_a", UserID: "usr_1", Scope: scope, Sites: sites, Expires: t0.Add(time.Hour)}
}

func mustToken(t *testing.T, tok Token, owner Member) Principal {
	t.Helper()
	p, err := ForToken(tok, owner, t0)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheck(t *testing.T) {
	admin := ForUser(member(fleet.RoleAdmin, AllSites()))
	operator := ForUser(member(fleet.RoleOperator, AllSites()))
	viewer := ForUser(member(fleet.RoleViewer, OnlySites("site_1")))
	readTok := mustToken(t, token(ScopeRead, AllSites()), member(fleet.RoleAdmin, AllSites()))
	rwTok := mustToken(t, token(ScopeReadWrite, AllSites()), member(fleet.RoleAdmin, AllSites()))
	expiredTok := rwTok
	expiredTok.Expires = t0
	grant := Grant{ID: "g1", Customer: "org_c", Provider: "org_a", Role: fleet.RoleOperator,
		Scopes: GrantStatus | GrantDiagnostics, Expires: t0.Add(time.Hour)}
	underGrant, err := UnderGrant(admin, grant, t0)
	if err != nil {
		t.Fatal(err)
	}
	staleGrant := underGrant
	g := grant
	g.Expires = t0
	staleGrant.Grant = &g
	noRole := admin
	noRole.Role = fleet.RoleNone
	noScope := admin
	noScope.Scope = ScopeNone
	limitedAdmin := ForUser(member(fleet.RoleAdmin, OnlySites("site_1")))
	limitedTok := mustToken(t, token(ScopeReadWrite, OnlySites("site_1")), member(fleet.RoleAdmin, AllSites()))

	public := Requirement{Public: true}
	read := Requirement{Role: fleet.RoleViewer}
	anyRead := Requirement{}
	write := Requirement{Role: fleet.RoleViewer, Write: true}
	opWrite := Requirement{Role: fleet.RoleOperator, Write: true}
	adminRead := Requirement{Role: fleet.RoleAdmin}
	adminWrite := Requirement{Role: fleet.RoleAdmin, Write: true}
	session := Requirement{Role: fleet.RoleViewer, Write: true, Session: true}
	orgWide := Requirement{Role: fleet.RoleAdmin, Write: true, OrgWide: true}
	grantRead := Requirement{Role: fleet.RoleViewer, Grant: GrantStatus}
	grantWrite := Requirement{Role: fleet.RoleOperator, Write: true, Grant: GrantDiagnostics}
	grantSession := Requirement{Role: fleet.RoleViewer, Write: true, Session: true, Grant: GrantStatus}
	grantLogs := Requirement{Role: fleet.RoleViewer, Grant: GrantLogs}
	grantBoth := Requirement{Role: fleet.RoleViewer, Grant: GrantStatus | GrantLogs}

	tests := []struct {
		name string
		p    Principal
		r    Requirement
		want error
	}{
		{"public, nobody", Principal{}, public, nil},
		{"read, nobody", Principal{}, read, ErrUnauthenticated},
		{"nobody with an org but no user", Principal{Kind: KindUser, Org: "org_a"}, read, ErrUnauthenticated},
		{"zero role requirement still needs a member", noRole, anyRead, ErrForbidden},
		{"viewer reads", viewer, read, nil},
		{"viewer writes own things", viewer, write, nil},
		{"viewer operator write", viewer, opWrite, ErrForbidden},
		{"viewer admin read", viewer, adminRead, ErrForbidden},
		{"operator writes", operator, opWrite, nil},
		{"operator admin write", operator, adminWrite, ErrForbidden},
		{"admin everything", admin, adminWrite, nil},
		{"read token reads admin data", readTok, adminRead, nil},
		{"read token writes", readTok, write, ErrForbidden},
		{"read-write token writes", rwTok, adminWrite, nil},
		{"expired token", expiredTok, read, ErrUnauthenticated},
		{"no scope", noScope, read, ErrForbidden},
		{"under grant, operator write", underGrant, grantWrite, nil},
		{"under grant, granted scope read", underGrant, grantRead, nil},
		{"under grant, scope not granted", underGrant, grantLogs, ErrForbidden},
		{"under grant, one of two scopes granted", underGrant, grantBoth, ErrForbidden},
		{"under grant, route closed to grants", underGrant, opWrite, ErrForbidden},
		{"under grant, capped below admin", underGrant, Requirement{Role: fleet.RoleAdmin, Grant: GrantStatus}, ErrForbidden},
		{"grant expired", staleGrant, grantRead, ErrForbidden},
		{"member ignores grant scope", viewer, grantLogs, nil},
		{"viewer session-only", viewer, session, nil},
		{"under grant, session-only", underGrant, grantSession, nil},
		{"read-write token session-only", rwTok, session, ErrSessionRequired},
		{"read token session-only", readTok, session, ErrSessionRequired},
		{"admin acts on the organisation", admin, orgWide, nil},
		{"limited admin acts on the organisation", limitedAdmin, orgWide, ErrForbidden},
		{"token limited to sites acts on the organisation", limitedTok, orgWide, ErrForbidden},
		{"limited admin writes admin data", limitedAdmin, adminWrite, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.p, tt.r, t0)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Check = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestForToken(t *testing.T) {
	owner := member(fleet.RoleOperator, OnlySites("site_1", "site_2"))
	p := mustToken(t, token(ScopeRead, OnlySites("site_2", "site_3")), owner)
	want := Principal{Kind: KindToken, User: owner.User, Org: "org_a", Role: fleet.RoleOperator,
		Sites: OnlySites("site_2"), Scope: ScopeRead, TokenID: "tok_1", Expires: t0.Add(time.Hour)}
	if diff := cmp.Diff(want, p, cmp.AllowUnexported(SiteSet{})); diff != "" {
		t.Errorf("ForToken (-want +got):\n%s", diff)
	}
	revoked := token(ScopeRead, AllSites())
	revoked.Revoked = t0.Add(-time.Minute)
	expired := token(ScopeRead, AllSites())
	expired.Expires = t0
	otherOwner := owner
	otherOwner.ID = "usr_2"
	otherOrg := owner
	otherOrg.OrgID = "org_b"
	for _, tt := range []struct {
		name  string
		tok   Token
		owner Member
	}{
		{"revoked", revoked, owner},
		{"expired", expired, owner},
		{"other owner", token(ScopeRead, AllSites()), otherOwner},
		{"owner moved org", token(ScopeRead, AllSites()), otherOrg},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ForToken(tt.tok, tt.owner, t0); !errors.Is(err, ErrUnauthenticated) {
				t.Errorf("err = %v, want ErrUnauthenticated", err)
			}
		})
	}
}

func TestUnderGrant(t *testing.T) {
	provider := ForUser(member(fleet.RoleAdmin, AllSites()))
	g := Grant{ID: "g1", Customer: "org_c", Provider: "org_a", Role: fleet.RoleViewer, Sites: OnlySites("site_c1"),
		Expires: t0.Add(time.Hour)}
	p, err := UnderGrant(provider, g, t0)
	if err != nil {
		t.Fatal(err)
	}
	if p.Org != "org_c" || p.Role != fleet.RoleViewer || !p.Sites.Equal(OnlySites("site_c1")) || p.Grant == nil {
		t.Errorf("principal under grant = %+v", p)
	}
	if p.User.OrgID != "org_a" {
		t.Errorf("home org = %s, want org_a", p.User.OrgID)
	}
	other := g
	other.Provider = "org_x"
	expired := g
	expired.Expires = t0
	for _, tt := range []struct {
		name string
		p    Principal
		g    Grant
		want error
	}{
		{"nobody", Principal{}, g, ErrUnauthenticated},
		{"other provider", provider, other, ErrForbidden},
		{"expired", provider, expired, ErrForbidden},
		{"grant on grant", p, g, ErrForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := UnderGrant(tt.p, tt.g, t0); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestCanAssignAndManage(t *testing.T) {
	limitedAdmin := ForUser(member(fleet.RoleAdmin, OnlySites("site_1")))
	operator := ForUser(member(fleet.RoleOperator, AllSites()))
	tests := []struct {
		name  string
		p     Principal
		role  fleet.Role
		sites SiteSet
		want  error
	}{
		{"admin gives admin at own site", limitedAdmin, fleet.RoleAdmin, OnlySites("site_1"), nil},
		{"limited admin gives all sites", limitedAdmin, fleet.RoleViewer, AllSites(), ErrForbidden},
		{"limited admin gives other site", limitedAdmin, fleet.RoleViewer, OnlySites("site_2"), ErrForbidden},
		{"operator gives admin", operator, fleet.RoleAdmin, AllSites(), ErrForbidden},
		{"operator gives viewer", operator, fleet.RoleViewer, OnlySites(), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.CanAssign(tt.role, tt.sites)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("CanAssign = %v, want %v", err, tt.want)
			}
		})
	}
	m := member(fleet.RoleViewer, AllSites())
	m.OrgID = "org_b"
	if err := operator.CanManage(m); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("manage other org's member: %v, want ErrNotFound", err)
	}
	if err := limitedAdmin.CanManage(member(fleet.RoleViewer, AllSites())); !errors.Is(err, ErrForbidden) {
		t.Errorf("limited admin manages unlimited member: %v, want ErrForbidden", err)
	}
}

func TestSiteSet(t *testing.T) {
	all, none := AllSites(), OnlySites()
	ab, bc := OnlySites("b", "a", "a"), OnlySites("c", "b")
	if diff := cmp.Diff([]fleet.SiteID{"a", "b"}, ab.IDs()); diff != "" {
		t.Errorf("IDs (-want +got):\n%s", diff)
	}
	tests := []struct {
		name string
		got  bool
		want bool
	}{
		{"all allows", all.Allows("x"), true},
		{"none allows", none.Allows("x"), false},
		{"ab allows a", ab.Allows("a"), true},
		{"ab allows c", ab.Allows("c"), false},
		{"all limited", all.Limited(), false},
		{"none limited", none.Limited(), true},
		{"all contains ab", all.Contains(ab), true},
		{"ab contains all", ab.Contains(all), false},
		{"ab contains none", ab.Contains(none), true},
		{"ab contains bc", ab.Contains(bc), false},
		{"ab ∩ bc = b", ab.Intersect(bc).Equal(OnlySites("b")), true},
		{"all ∩ ab = ab", all.Intersect(ab).Equal(ab), true},
		{"ab ∩ all = ab", ab.Intersect(all).Equal(ab), true},
		{"ab ∩ none is none, not all", ab.Intersect(none).Equal(none), true},
		{"zero is all", SiteSet{}.Equal(all), true},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestFilters(t *testing.T) {
	p := ForUser(member(fleet.RoleViewer, OnlySites("s1")))
	sites := []fleet.Site{{ID: "s1", OrgID: "org_a"}, {ID: "s2", OrgID: "org_a"}, {ID: "s1", OrgID: "org_b"}}
	if diff := cmp.Diff([]fleet.Site{{ID: "s1", OrgID: "org_a"}}, p.FilterSites(sites)); diff != "" {
		t.Errorf("FilterSites (-want +got):\n%s", diff)
	}
	ps := []fleet.PrinterView{{ID: "p1", SiteID: "s1"}, {ID: "p2", SiteID: "s2"}}
	if diff := cmp.Diff([]fleet.PrinterView{{ID: "p1", SiteID: "s1"}}, p.FilterPrinters(ps)); diff != "" {
		t.Errorf("FilterPrinters (-want +got):\n%s", diff)
	}
}

func TestNames(t *testing.T) {
	for _, k := range []OrgKind{OrgCustomer, OrgServiceProvider} {
		got, err := ParseOrgKind(k.String())
		if err != nil || got != k {
			t.Errorf("ParseOrgKind(%s) = %v, %v", k, got, err)
		}
	}
	if _, err := ParseOrgKind("vendor"); err == nil {
		t.Error("ParseOrgKind(vendor) = nil error")
	}
	if OrgKind(9).String() != "OrgKind(9)" {
		t.Error("unknown OrgKind name")
	}
	for _, s := range []Scope{ScopeRead, ScopeReadWrite} {
		got, err := ParseScope(s.String())
		if err != nil || got != s {
			t.Errorf("ParseScope(%s) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseScope("admin"); err == nil {
		t.Error("ParseScope(admin) = nil error")
	}
	if ScopeNone.String() != "none" || KindUser.String() != "user" || KindToken.String() != "token" || KindNone.String() != "none" {
		t.Error("names of scope or kind")
	}
}

func TestNewToken(t *testing.T) {
	user := ForUser(member(fleet.RoleOperator, OnlySites("s1", "s2")))
	tok, err := user.NewToken("ci", ScopeReadWrite, OnlySites("s1"), t0, t0.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := Token{OrgID: "org_a", UserID: "usr_1", Name: "ci", Scope: ScopeReadWrite, Sites: OnlySites("s1"),
		Created: t0, Expires: t0.Add(48 * time.Hour)}
	if diff := cmp.Diff(want, tok, cmp.AllowUnexported(SiteSet{})); diff != "" {
		t.Errorf("NewToken (-want +got):\n%s", diff)
	}
	if _, err := user.NewToken("x", ScopeRead, AllSites(), t0, t0.Add(time.Hour)); !errors.Is(err, ErrForbidden) {
		t.Errorf("all sites from a limited user: %v, want ErrForbidden", err)
	}
	// Tokens cannot create tokens, whatever their scope: what a token
	// made would survive its revocation.
	for _, scope := range []Scope{ScopeRead, ScopeReadWrite} {
		tok := mustToken(t, token(scope, AllSites()), member(fleet.RoleAdmin, AllSites()))
		if _, err := tok.NewToken("x", ScopeRead, AllSites(), t0, t0.Add(time.Hour)); !errors.Is(err, ErrSessionRequired) {
			t.Errorf("token of scope %s creates a token: %v, want ErrSessionRequired", scope, err)
		}
	}
}

func TestKeepAdmin(t *testing.T) {
	tests := []struct {
		before, after int
		refused       bool
	}{
		{1, 1, false},
		{2, 1, false},
		{1, 0, true},
		{3, 0, true},
		{0, 0, false}, // an organisation without one is not made to get one
		{0, 1, false},
	}
	for _, tt := range tests {
		err := KeepAdmin(tt.before, tt.after)
		if got := errors.Is(err, fleet.ErrConflict); got != tt.refused {
			t.Errorf("KeepAdmin(%d, %d) = %v, want refused %v", tt.before, tt.after, err, tt.refused)
		}
	}
}

func TestCanActOn(t *testing.T) {
	admin := ForUser(member(fleet.RoleAdmin, AllSites()))
	limited := ForUser(member(fleet.RoleAdmin, OnlySites("site_1")))
	tests := []struct {
		name string
		p    Principal
		site fleet.SiteID
		want error
	}{
		{"admin, organisation", admin, "", nil},
		{"admin, a site", admin, "site_2", nil},
		{"limited, organisation", limited, "", ErrForbidden},
		{"limited, own site", limited, "site_1", nil},
		{"limited, other site", limited, "site_2", ErrForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.CanActOn(tt.site)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("CanActOn = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestCanSeeToken(t *testing.T) {
	other := func(sites SiteSet) Token {
		tok := token(ScopeRead, sites)
		tok.UserID = "usr_2"
		return tok
	}
	foreign := other(AllSites())
	foreign.OrgID = "org_b"
	admin := ForUser(member(fleet.RoleAdmin, AllSites()))
	limited := ForUser(member(fleet.RoleAdmin, OnlySites("site_1")))
	viewer := ForUser(member(fleet.RoleViewer, AllSites()))
	tests := []struct {
		name string
		p    Principal
		t    Token
		want bool
	}{
		{"own token", viewer, token(ScopeRead, AllSites()), true},
		{"viewer, another's", viewer, other(OnlySites("site_1")), false},
		{"admin, another's", admin, other(AllSites()), true},
		{"limited admin, another's for its site", limited, other(OnlySites("site_1")), true},
		{"limited admin, another's for all sites", limited, other(AllSites()), false},
		{"limited admin, another's for another site", limited, other(OnlySites("site_2")), false},
		{"admin, another organisation's", admin, foreign, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.CanSeeToken(tt.t); got != tt.want {
				t.Errorf("CanSeeToken = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestGrantScopes(t *testing.T) {
	s, err := ParseGrantScopes([]string{"logs", "status"})
	if err != nil {
		t.Fatal(err)
	}
	if s != GrantStatus|GrantLogs || !slices.Equal(s.Names(), []string{"status", "logs"}) {
		t.Errorf("got %b %v", s, s.Names())
	}
	if !s.Has(GrantLogs) || s.Has(GrantDiagnostics) || s.Has(0) {
		t.Error("Has")
	}
	if _, err := ParseGrantScopes([]string{"status", "root"}); err == nil {
		t.Error("unknown scope accepted")
	}
}

func TestNewGrant(t *testing.T) {
	admin := Principal{Kind: KindUser, User: fleet.User{ID: "u1", OrgID: "org_c", Role: fleet.RoleAdmin}, Org: "org_c",
		Role: fleet.RoleAdmin, Sites: AllSites(), Scope: ScopeReadWrite}
	ladmin := admin
	ladmin.Sites = OnlySites("site_1")
	operator := admin
	operator.Role = fleet.RoleOperator
	underGrant := admin
	underGrant.Grant = &Grant{ID: "g0"}
	end := t0.Add(24 * time.Hour)
	tests := []struct {
		name            string
		p               Principal
		sites           SiteSet
		scopes          GrantScope
		provider        fleet.OrgID
		starts, expires time.Time
		want            error
	}{
		{"admin for all sites, all sites", admin, AllSites(), GrantStatus, "org_p", t0, end, nil},
		{"site-limited admin, own site", ladmin, OnlySites("site_1"), GrantStatus | GrantLogs, "org_p", t0, end, nil},
		{"site-limited admin, all sites", ladmin, AllSites(), GrantStatus, "org_p", t0, end, ErrForbidden},
		{"site-limited admin, other site", ladmin, OnlySites("site_1", "site_2"), GrantStatus, "org_p", t0, end, ErrForbidden},
		{"operator", operator, AllSites(), GrantStatus, "org_p", t0, end, ErrForbidden},
		{"under a grant", underGrant, AllSites(), GrantStatus, "org_p", t0, end, ErrForbidden},
		{"no scope", admin, AllSites(), 0, "org_p", t0, end, ErrBadGrant},
		{"unknown scope", admin, AllSites(), 1 << 6, "org_p", t0, end, ErrBadGrant},
		{"to itself", admin, AllSites(), GrantStatus, "org_c", t0, end, ErrBadGrant},
		{"no provider", admin, AllSites(), GrantStatus, "", t0, end, ErrBadGrant},
		{"ends before it starts", admin, AllSites(), GrantStatus, "org_p", end, t0, ErrBadGrant},
		{"ended", admin, AllSites(), GrantStatus, "org_p", t0.Add(-2 * time.Hour), t0.Add(-time.Hour), ErrBadGrant},
		{"too long", admin, AllSites(), GrantStatus, "org_p", t0, t0.Add(MaxGrantDuration + time.Hour), ErrBadGrant},
		{"no start", admin, AllSites(), GrantStatus, "org_p", time.Time{}, end, ErrBadGrant},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := tt.p.NewGrant(tt.provider, tt.sites, tt.scopes, tt.starts, tt.expires, t0)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err != nil {
				return
			}
			if g.Customer != "org_c" || g.Provider != tt.provider || g.Role != GrantRole || !g.Sites.Equal(tt.sites) ||
				g.CreatedBy != "u1" || !tt.p.CanSeeGrant(g) {
				t.Errorf("grant = %+v", g)
			}
		})
	}
}

func TestGrantStates(t *testing.T) {
	g := Grant{ID: "g1", Customer: "org_c", Provider: "org_p", Role: GrantRole, Scopes: GrantStatus,
		Starts: t0.Add(time.Hour), Expires: t0.Add(2 * time.Hour)}
	revoked := g
	revoked.Revoked = t0.Add(90 * time.Minute)
	engineer := Principal{Kind: KindUser, User: fleet.User{ID: "e1", OrgID: "org_p", Role: fleet.RoleOperator}, Org: "org_p",
		Role: fleet.RoleOperator, Scope: ScopeReadWrite}
	tests := []struct {
		name  string
		g     Grant
		at    time.Time
		state string
	}{
		{"before its start", g, t0, "scheduled"},
		{"at its start", g, t0.Add(time.Hour), "live"},
		{"at its end", g, t0.Add(2 * time.Hour), "expired"},
		{"revoked before its end", revoked, t0.Add(time.Hour), "revoked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.g.State(tt.at); got != tt.state {
				t.Errorf("State = %s, want %s", got, tt.state)
			}
			p, err := UnderGrant(engineer, tt.g, tt.at)
			if (err == nil) != (tt.state == "live") {
				t.Fatalf("UnderGrant: %v, state %s", err, tt.state)
			}
			if err == nil && Check(p, Requirement{Role: fleet.RoleViewer, Grant: GrantStatus}, tt.at.Add(time.Hour)) == nil {
				t.Error("Check admits the grant an hour later, after its end")
			}
		})
	}
}
