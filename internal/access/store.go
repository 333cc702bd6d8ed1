package access

import (
	"context"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// The capabilities of the cloud store that the dashboard and the REST API
// both use for an organisation's people, API tokens and sites. Each is
// declared once, here, because both declare the same need; a handler takes
// only the ones it uses.

// Members lists, adds, changes and removes the users of an organisation,
// and keeps each user's language and time zone.
type Members interface {
	Member(ctx context.Context, org fleet.OrgID, user fleet.UserID) (Member, error)
	Members(ctx context.Context, org fleet.OrgID) ([]Member, error)
	CreateMember(ctx context.Context, org fleet.OrgID, name, passwordHash string, role fleet.Role, sites SiteSet) (fleet.UserID, error)
	SetMember(ctx context.Context, org fleet.OrgID, user fleet.UserID, role fleet.Role, sites SiteSet) error
	DeleteMember(ctx context.Context, org fleet.OrgID, user fleet.UserID) error
	SetPrefs(ctx context.Context, org fleet.OrgID, user fleet.UserID, p fleet.Prefs) error
}

// Tokens lists, creates and revokes an organisation's API tokens.
type Tokens interface {
	// APITokens lists org's tokens; an empty user lists every owner's.
	APITokens(ctx context.Context, org fleet.OrgID, user fleet.UserID) ([]Token, error)
	APIToken(ctx context.Context, org fleet.OrgID, id TokenID) (Token, error)
	CreateAPIToken(ctx context.Context, tok Token, tokenHash string) (TokenID, error)
	RevokeAPIToken(ctx context.Context, org fleet.OrgID, id TokenID, now time.Time) error
}

// PrinterSites moves printers between an organisation's sites. A printer
// belongs to the site whose gateway first sent its records; records from
// another site's gateway are refused, so moving it is an administrator's
// act.
type PrinterSites interface {
	// MovePrinter moves printer p of org, with its history, from site from
	// to site to. An unknown printer or site is fleet.ErrNotFound; a
	// printer no longer at from is fleet.ErrConflict.
	MovePrinter(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to fleet.SiteID) error
}

// Sites lists and adds an organisation's sites and issues the one-time
// tokens with which a site's Command Center enrols.
type Sites interface {
	Sites(ctx context.Context, org fleet.OrgID) ([]fleet.Site, error)
	CreateSite(ctx context.Context, org fleet.OrgID, name string) (fleet.SiteID, error)
	CreateEnrolmentToken(ctx context.Context, site fleet.SiteID, tokenHash string, expires time.Time) error
}

// Grants keeps the grants a customer gives service providers (R-SEC-7).
type Grants interface {
	// CreateGrant stores g (g.ID is ignored) and returns its ID. A
	// provider that is no service provider, a customer that is none, or a
	// site not of the customer is fleet.ErrNotFound.
	CreateGrant(ctx context.Context, g Grant) (string, error)
	// Grants lists the grants customer gave, newest first, revoked and
	// expired ones too.
	Grants(ctx context.Context, customer fleet.OrgID) ([]Grant, error)
	// RevokeGrant revokes grant id of customer at now. An unknown grant, or
	// one of another customer, is fleet.ErrNotFound; revoking twice keeps
	// the first time.
	RevokeGrant(ctx context.Context, customer fleet.OrgID, id string, now time.Time) error
}

// GrantLookup finds the grants given to a service provider: the one a
// request names, read afresh on every request, and the provider's list.
type GrantLookup interface {
	// Grant returns grant id, revoked or expired as it is; an unknown ID
	// is fleet.ErrNotFound.
	Grant(ctx context.Context, id string) (Grant, error)
	// GrantsTo lists the grants given to provider, newest first.
	GrantsTo(ctx context.Context, provider fleet.OrgID) ([]Grant, error)
}

// Orgs names organisations: the customer or provider of a grant.
type Orgs interface {
	Org(ctx context.Context, id fleet.OrgID) (Org, error)
}
