package access

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// The decisions Check can reach besides yes. Map them to HTTP statuses
// once, at the edge: 401 and 403.
var (
	ErrUnauthenticated = errors.New("not authenticated")
	ErrForbidden       = errors.New("forbidden")
)

// ErrSessionRequired is the refusal of a Requirement.Session route to an
// API token; it wraps ErrForbidden, so it is a 403 like any other.
var ErrSessionRequired = fmt.Errorf("only a logged-in user may do this, not an API token: %w", ErrForbidden)

// OrgKind says what an organisation is.
type OrgKind uint8

// The kinds of organisation.
const (
	OrgCustomer        OrgKind = iota + 1 // owns sites and printers
	OrgServiceProvider                    // serves customers under their grants
)

func (k OrgKind) String() string {
	switch k {
	case OrgCustomer:
		return "customer"
	case OrgServiceProvider:
		return "service_provider"
	}
	return fmt.Sprintf("OrgKind(%d)", uint8(k))
}

// ParseOrgKind parses "customer" or "service_provider".
func ParseOrgKind(s string) (OrgKind, error) {
	for _, k := range []OrgKind{OrgCustomer, OrgServiceProvider} {
		if k.String() == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("unknown organisation kind %q", s)
}

// Org is an organisation with its kind.
type Org struct {
	ID   fleet.OrgID
	Name string
	Kind OrgKind
}

// Scope is what an API token may do. A session has ScopeReadWrite.
type Scope uint8

// The scopes, in rising order of power.
const (
	ScopeNone Scope = iota
	ScopeRead
	ScopeReadWrite
)

func (s Scope) String() string {
	switch s {
	case ScopeRead:
		return "read"
	case ScopeReadWrite:
		return "read-write"
	}
	return "none"
}

// ParseScope parses "read" or "read-write".
func ParseScope(s string) (Scope, error) {
	switch s {
	case "read":
		return ScopeRead, nil
	case "read-write":
		return ScopeReadWrite, nil
	}
	return ScopeNone, fmt.Errorf("unknown scope %q, want read or read-write", s)
}

// Kind is how a principal authenticated.
type Kind uint8

// The kinds of principal.
const (
	KindNone  Kind = iota // no credentials
	KindUser              // a user with a login session
	KindToken             // an API token acting for its owner
)

func (k Kind) String() string {
	switch k {
	case KindUser:
		return "user"
	case KindToken:
		return "token"
	}
	return "none"
}

// TokenID is the public ID of an API token (not the secret).
type TokenID string

// Member is a user with the sites they are limited to.
type Member struct {
	fleet.User
	Sites     SiteSet
	TwoFactor bool        // TOTP is enabled
	Prefs     fleet.Prefs // language and time zone
	// MustChangePassword is set when an administrator reset the password:
	// the user must choose a new one before doing anything else.
	MustChangePassword bool
}

// Token is a stored API token: everything but its secret.
type Token struct {
	ID      TokenID
	OrgID   fleet.OrgID
	UserID  fleet.UserID // the owner: the token acts with the owner's role
	Name    string
	Scope   Scope
	Sites   SiteSet // further limits the owner's sites
	Created time.Time
	Expires time.Time
	Revoked time.Time // zero while the token is valid
}

// Grant is a customer's permission for a service provider to act on the
// customer's data: limited in role, sites and time (R-SEC-7).
type Grant struct {
	ID       string
	Customer fleet.OrgID
	Provider fleet.OrgID
	Role     fleet.Role
	Sites    SiteSet
	Scopes   GrantScope // what the provider may do, a set
	Starts   time.Time  // zero: at once
	Expires  time.Time
	Created  time.Time
	// CreatedBy is the customer's administrator who gave the grant.
	CreatedBy fleet.UserID
	Revoked   time.Time // zero while not revoked
}

// GrantRole is the role every grant carries: a provider's engineer acts
// as an operator of the customer, its dispatcher (a viewer at home) as a
// viewer; nobody under a grant administers the customer.
const GrantRole = fleet.RoleOperator

// MaxGrantDuration is the longest a grant may last: a customer renews a
// service contract's access rather than give it for ever.
const MaxGrantDuration = 366 * 24 * time.Hour

// Live reports whether g admits its provider at now: started, not expired
// and not revoked.
func (g Grant) Live(now time.Time) bool {
	return g.Revoked.IsZero() && !now.Before(g.Starts) && now.Before(g.Expires)
}

// State names g's state at now: "live", "scheduled", "expired" or
// "revoked".
func (g Grant) State(now time.Time) string {
	switch {
	case !g.Revoked.IsZero():
		return "revoked"
	case !now.Before(g.Expires):
		return "expired"
	case now.Before(g.Starts):
		return "scheduled"
	}
	return "live"
}

// GrantScope is a set of the kinds of access a customer grants a service
// provider. A route names the scope it needs (Requirement.Grant); a route
// that names none is closed to anyone acting under a grant.
type GrantScope uint8

// The grant scopes.
const (
	GrantStatus      GrantScope = 1 << iota // status, alerts and KPIs of the granted printers
	GrantMaintenance                        // maintenance forecasts
	GrantDiagnostics                        // request remote diagnostics
	GrantLogs                               // read device logs and diagnostic results
)

var grantScopeNames = []struct {
	s    GrantScope
	name string
}{{GrantStatus, "status"}, {GrantMaintenance, "maintenance"}, {GrantDiagnostics, "diagnostics"}, {GrantLogs, "logs"}}

// Has reports whether s holds every scope of want.
func (s GrantScope) Has(want GrantScope) bool { return want != 0 && s&want == want }

// Names lists the scopes of s by name, in a fixed order.
func (s GrantScope) Names() []string {
	var out []string
	for _, n := range grantScopeNames {
		if s&n.s != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

// ParseGrantScopes parses scope names ("status", "maintenance",
// "diagnostics", "logs") into a set; an unknown name is an error.
func ParseGrantScopes(names []string) (GrantScope, error) {
	var s GrantScope
	for _, name := range names {
		i := slices.IndexFunc(grantScopeNames, func(n struct {
			s    GrantScope
			name string
		}) bool {
			return n.name == name
		})
		if i < 0 {
			return 0, fmt.Errorf("unknown grant scope %q", name)
		}
		s |= grantScopeNames[i].s
	}
	return s, nil
}

// Principal is the authenticated caller of one request.
type Principal struct {
	Kind    Kind
	User    fleet.User  // the user, or the token's owner; User.OrgID is the home organisation
	Org     fleet.OrgID // the organisation whose data the request may touch
	Role    fleet.Role  // the effective role in Org
	Sites   SiteSet     // the sites of Org the request may touch
	Scope   Scope
	TokenID TokenID   // for KindToken
	Expires time.Time // for KindToken: when the token expires
	Grant   *Grant    // non-nil when acting under a customer's grant
}

// ForUser returns the principal of a logged-in member.
func ForUser(m Member) Principal {
	return Principal{Kind: KindUser, User: m.User, Org: m.OrgID, Role: m.Role, Sites: m.Sites, Scope: ScopeReadWrite}
}

// ForToken returns the principal of an API token used at now by its owner.
// A revoked or expired token, or one whose owner is of another
// organisation, is ErrUnauthenticated.
func ForToken(t Token, owner Member, now time.Time) (Principal, error) {
	switch {
	case !t.Revoked.IsZero():
		return Principal{}, fmt.Errorf("token %s revoked: %w", t.ID, ErrUnauthenticated)
	case !now.Before(t.Expires):
		return Principal{}, fmt.Errorf("token %s expired: %w", t.ID, ErrUnauthenticated)
	case owner.ID != t.UserID || owner.OrgID != t.OrgID || t.OrgID == "":
		return Principal{}, fmt.Errorf("token %s: owner mismatch: %w", t.ID, ErrUnauthenticated)
	}
	return Principal{Kind: KindToken, User: owner.User, Org: t.OrgID, Role: owner.Role,
		Sites: owner.Sites.Intersect(t.Sites), Scope: t.Scope, TokenID: t.ID, Expires: t.Expires}, nil
}

// UnderGrant returns the principal that p, a user of a service provider,
// has in the customer organisation of g: at most the granted role, only the
// granted sites. A grant that is not live (not yet started, expired or
// revoked), or not given to p's organisation, is ErrForbidden.
func UnderGrant(p Principal, g Grant, now time.Time) (Principal, error) {
	switch {
	case p.Kind == KindNone:
		return Principal{}, ErrUnauthenticated
	case p.Grant != nil:
		return Principal{}, fmt.Errorf("grant %s: already acting under a grant: %w", g.ID, ErrForbidden)
	case g.Provider != p.User.OrgID || g.Provider == "":
		return Principal{}, fmt.Errorf("grant %s: not given to %s: %w", g.ID, p.User.OrgID, ErrForbidden)
	case !g.Live(now):
		return Principal{}, fmt.Errorf("grant %s %s: %w", g.ID, g.State(now), ErrForbidden)
	}
	q := p
	q.Org = g.Customer
	q.Role = min(p.Role, g.Role)
	q.Sites = g.Sites
	q.Grant = &g
	return q, nil
}

// Requirement is what a route demands of its caller.
type Requirement struct {
	Public bool       // no credentials needed; the rest is ignored
	Role   fleet.Role // the least role; RoleViewer admits every member
	Write  bool       // changes data: a read-only token is refused
	// Session admits only a logged-in user: every API token is refused
	// with ErrSessionRequired, whatever its scope (creating tokens).
	Session bool
	// OrgWide marks a route that acts on the whole organisation (its
	// notification channels, which carry every site's alerts, and their
	// delivery log): only a principal for all sites may use it.
	OrgWide bool
	// Grant is the scope a principal acting under a customer's grant must
	// hold; zero closes the route to such principals.
	Grant GrantScope
}

// Check decides whether p may use a route that needs r at now: nil, or an
// error wrapping ErrUnauthenticated or ErrForbidden.
func Check(p Principal, r Requirement, now time.Time) error {
	if r.Public {
		return nil
	}
	if p.Kind == KindNone || p.Org == "" || p.User.ID == "" {
		return ErrUnauthenticated
	}
	if p.Kind == KindToken && !now.Before(p.Expires) {
		return fmt.Errorf("token %s expired: %w", p.TokenID, ErrUnauthenticated)
	}
	if r.Session && p.Kind != KindUser {
		return fmt.Errorf("token %s: %w", p.TokenID, ErrSessionRequired)
	}
	if g := p.Grant; g != nil {
		if !g.Live(now) || g.Customer != p.Org {
			return fmt.Errorf("grant %s no longer valid: %w", g.ID, ErrForbidden)
		}
		if !g.Scopes.Has(r.Grant) {
			return fmt.Errorf("grant %s does not cover this: %w", g.ID, ErrForbidden)
		}
	}
	need := max(r.Role, fleet.RoleViewer)
	if p.Role < need {
		return fmt.Errorf("role %s, need %s: %w", p.Role, need, ErrForbidden)
	}
	if r.Write && p.Scope < ScopeReadWrite {
		return fmt.Errorf("scope %s, need read-write: %w", p.Scope, ErrForbidden)
	}
	if !r.Write && p.Scope < ScopeRead {
		return fmt.Errorf("no scope: %w", ErrForbidden)
	}
	if r.OrgWide && p.Sites.Limited() {
		return fmt.Errorf("limited to some sites, the action concerns all: %w", ErrForbidden)
	}
	return nil
}

// CanActOn reports whether p may change something scoped to site, where
// the empty site is the whole organisation (a built-in alert rule, a
// custom rule for every site). It returns nil or an error wrapping
// ErrForbidden.
//
// A role is held per site: an administrator limited to some sites
// administers those sites only, never the organisation as a whole, as
// tenant- or project-scoped administrators do in the cloud platforms that
// separate such scopes. Anything that reaches beyond the sites (or that
// would carry data from the other sites) needs an administrator for all.
func (p Principal) CanActOn(site fleet.SiteID) error {
	if site == "" && p.Sites.Limited() {
		return fmt.Errorf("limited to some sites, the object concerns all: %w", ErrForbidden)
	}
	if !p.Sites.Allows(site) {
		return fmt.Errorf("site %s: %w", site, ErrForbidden)
	}
	return nil
}

// CanAssign reports whether p may give someone (a new user, a token) role
// and sites: never more than p has itself. It returns nil or an error
// wrapping ErrForbidden.
func (p Principal) CanAssign(role fleet.Role, sites SiteSet) error {
	if role > p.Role {
		return fmt.Errorf("cannot give role %s above own %s: %w", role, p.Role, ErrForbidden)
	}
	if !p.Sites.Contains(sites) {
		return fmt.Errorf("cannot give sites beyond own: %w", ErrForbidden)
	}
	return nil
}

// CanManage reports whether p may change or remove member m: m must be of
// p's organisation and hold no more than p may assign.
func (p Principal) CanManage(m Member) error {
	if m.OrgID != p.Org {
		return fmt.Errorf("user %s: %w", m.ID, fleet.ErrNotFound)
	}
	return p.CanAssign(m.Role, m.Sites)
}

// CanSeeToken reports whether p may list or revoke token t: its own
// tokens always, another member's only as an administrator whose sites
// cover the token's. An administrator limited to some sites thus cannot
// revoke the tokens of one for all sites.
func (p Principal) CanSeeToken(t Token) bool {
	if t.OrgID != p.Org {
		return false
	}
	return t.UserID == p.User.ID || p.Role == fleet.RoleAdmin && p.Sites.Contains(t.Sites)
}

// FilterSites keeps the sites of p's organisation that p may see.
func (p Principal) FilterSites(sites []fleet.Site) []fleet.Site {
	out := make([]fleet.Site, 0, len(sites))
	for _, s := range sites {
		if s.OrgID == p.Org && p.Sites.Allows(s.ID) {
			out = append(out, s)
		}
	}
	return out
}

// FilterPrinters keeps the printers at sites p may see.
func (p Principal) FilterPrinters(ps []fleet.PrinterView) []fleet.PrinterView {
	out := make([]fleet.PrinterView, 0, len(ps))
	for _, v := range ps {
		if p.Sites.Allows(v.SiteID) {
			out = append(out, v)
		}
	}
	return out
}

// KeepAdmin decides a change to an organisation's users: it had before
// administrators for all sites and has after once the change is made. An
// organisation that had one must keep one, or nobody could manage its
// users any more; the change is then refused with fleet.ErrConflict. An
// organisation that never had one (a service provider's, say) is not made
// to get one.
func KeepAdmin(before, after int) error {
	if before > 0 && after == 0 {
		return fmt.Errorf("the organisation's last administrator for all sites: %w", fleet.ErrConflict)
	}
	return nil
}

// SiteSet is a set of sites of one organisation, or all of them. The zero
// value is all sites.
type SiteSet struct {
	limited bool
	ids     []fleet.SiteID // sorted, unique
}

// AllSites returns the unlimited set.
func AllSites() SiteSet { return SiteSet{} }

// OnlySites returns the set of exactly ids (none if ids is empty).
func OnlySites(ids ...fleet.SiteID) SiteSet {
	s := SiteSet{limited: true, ids: slices.Clone(ids)}
	slices.Sort(s.ids)
	s.ids = slices.Compact(s.ids)
	return s
}

// Limited reports whether the set is not all sites.
func (s SiteSet) Limited() bool { return s.limited }

// IDs returns the sites of a limited set (nil for all sites).
func (s SiteSet) IDs() []fleet.SiteID { return slices.Clone(s.ids) }

// Allows reports whether site is in the set.
func (s SiteSet) Allows(site fleet.SiteID) bool {
	if !s.limited {
		return true
	}
	_, ok := slices.BinarySearch(s.ids, site)
	return ok
}

// Contains reports whether every site of o is in s.
func (s SiteSet) Contains(o SiteSet) bool {
	if !s.limited {
		return true
	}
	if !o.limited {
		return false
	}
	for _, id := range o.ids {
		if !s.Allows(id) {
			return false
		}
	}
	return true
}

// Intersect returns the sites in both s and o.
func (s SiteSet) Intersect(o SiteSet) SiteSet {
	switch {
	case !s.limited:
		return o
	case !o.limited:
		return s
	}
	var ids []fleet.SiteID
	for _, id := range s.ids {
		if o.Allows(id) {
			ids = append(ids, id)
		}
	}
	return OnlySites(ids...)
}

// Equal reports whether s and o are the same set.
func (s SiteSet) Equal(o SiteSet) bool {
	return s.limited == o.limited && slices.Equal(s.ids, o.ids)
}

// NewToken returns the API token p may create for itself: never a wider
// scope or more sites than p has. Only a logged-in user creates tokens; a
// token asking is ErrSessionRequired, and the other refusals wrap
// ErrForbidden.
//
// Tokens cannot create tokens, rather than revoking in a cascade what a
// token created: GitHub's fine-grained tokens and the usual cloud IAMs
// decide the same. A token that can mint tokens hands whoever steals it a
// way to outlive its revocation, and a cascade would have to follow an
// ever-growing chain of tokens and creators for ever. With the
// prohibition every token was made by a person in the dashboard, revoking
// one token is the end of the story, and the list of a user's tokens is
// all there is to review.
func (p Principal) NewToken(name string, scope Scope, sites SiteSet, created, expires time.Time) (Token, error) {
	if p.Kind != KindUser {
		return Token{}, fmt.Errorf("new token %q: %w", name, ErrSessionRequired)
	}
	if scope > p.Scope {
		return Token{}, fmt.Errorf("scope %s above own %s: %w", scope, p.Scope, ErrForbidden)
	}
	if err := p.CanAssign(p.Role, sites); err != nil {
		return Token{}, err
	}
	return Token{OrgID: p.Org, UserID: p.User.ID, Name: name, Scope: scope, Sites: sites, Created: created, Expires: expires}, nil
}

// NewGrant returns the grant p, an administrator of a customer, may give
// provider from starts until expires at now: on sites p administers only,
// for at least one scope, for at most MaxGrantDuration, and ending in the
// future. A site-limited administrator thus grants its own sites and no
// others, as it gives users and tokens no more than it has (CanAssign).
// The refusals of what p may not do wrap ErrForbidden; a malformed grant
// is ErrBadGrant.
func (p Principal) NewGrant(provider fleet.OrgID, sites SiteSet, scopes GrantScope, starts, expires, now time.Time) (Grant, error) {
	switch {
	case p.Grant != nil:
		return Grant{}, fmt.Errorf("new grant: acting under a grant: %w", ErrForbidden)
	case p.Role != fleet.RoleAdmin:
		return Grant{}, fmt.Errorf("new grant: role %s: %w", p.Role, ErrForbidden)
	case !p.Sites.Contains(sites):
		return Grant{}, fmt.Errorf("new grant: sites beyond own: %w", ErrForbidden)
	case provider == "" || provider == p.Org:
		return Grant{}, fmt.Errorf("new grant: %w: no provider, or the organisation itself", ErrBadGrant)
	case scopes == 0 || scopes&^AllGrantScopes != 0:
		return Grant{}, fmt.Errorf("new grant: %w: no scope, or an unknown one", ErrBadGrant)
	case starts.IsZero():
		return Grant{}, fmt.Errorf("new grant: %w: no start", ErrBadGrant)
	case !expires.After(starts) || !expires.After(now):
		return Grant{}, fmt.Errorf("new grant: %w: it ends before it starts, or in the past", ErrBadGrant)
	case expires.Sub(starts) > MaxGrantDuration:
		return Grant{}, fmt.Errorf("new grant: %w: longer than %s", ErrBadGrant, MaxGrantDuration)
	}
	return Grant{Customer: p.Org, Provider: provider, Role: GrantRole, Sites: sites, Scopes: scopes,
		Starts: starts, Expires: expires, Created: now, CreatedBy: p.User.ID}, nil
}

// ErrBadGrant is a grant that cannot be: no scope, no provider, a window
// that ends before it starts or lasts too long.
var ErrBadGrant = errors.New("invalid grant")

// AllGrantScopes is every scope there is.
const AllGrantScopes = GrantStatus | GrantMaintenance | GrantDiagnostics | GrantLogs

// CanSeeGrant reports whether p may list or revoke g: an administrator of
// g's customer whose sites cover the grant's, not acting under a grant.
func (p Principal) CanSeeGrant(g Grant) bool {
	return p.Grant == nil && g.Customer == p.Org && p.Role == fleet.RoleAdmin && p.Sites.Contains(g.Sites)
}
