package cloud

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/identity"
	"github.com/fusionfleet/fusionfleet/internal/store"
)

// FirstStart is what Bootstrap created on a fresh store, to be shown
// once: the admin's generated password and an enrolment token for the
// first site.
type FirstStart struct {
	User, Password string
	Site           string
	EnrolmentToken string
	TokenValid     time.Duration
}

// Bootstrap creates, on a fresh store (one without an "admin" user), an
// organisation named orgName, a first site, an admin user with a
// generated password and an enrolment token. It returns nil when the
// store was not fresh.
func (n *Node) Bootstrap(ctx context.Context, orgName string) (*FirstStart, error) {
	st := n.store
	if _, _, err := st.UserByName(ctx, "admin"); err == nil {
		return nil, nil
	} else if !errors.Is(err, fleet.ErrNotFound) {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	org, err := st.CreateOrg(ctx, orgName)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	const siteName = "Site 1"
	site, err := st.CreateSite(ctx, org, siteName)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	password, err := setAdmin(ctx, st, org, "admin", n.opts.Clock.Now())
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	const valid = 24 * time.Hour
	token, err := newEnrolmentToken(ctx, st, site, n.opts.Clock.Now(), valid)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	return &FirstStart{User: "admin", Password: password, Site: siteName, EnrolmentToken: token, TokenValid: valid}, nil
}

// DemoTenant makes sure the demo organisation, its site and its admin
// exist, resets the admin's password (the demo prints it at every start),
// and returns a new enrolment token for the site, valid for an hour.
func (n *Node) DemoTenant(ctx context.Context) (user, password, token string, err error) {
	const name = "demo-admin"
	st := n.store
	u, _, err := st.UserByName(ctx, name)
	var org fleet.OrgID
	switch {
	case errors.Is(err, fleet.ErrNotFound):
		if org, err = st.CreateOrg(ctx, "Demo Print Shop"); err != nil {
			return "", "", "", fmt.Errorf("demo tenant: %w", err)
		}
	case err != nil:
		return "", "", "", fmt.Errorf("demo tenant: %w", err)
	default:
		org = u.OrgID
	}
	sites, err := st.Sites(ctx, org)
	if err != nil {
		return "", "", "", fmt.Errorf("demo tenant: %w", err)
	}
	var site fleet.SiteID
	if len(sites) > 0 {
		site = sites[0].ID
	} else if site, err = st.CreateSite(ctx, org, "Demo site"); err != nil {
		return "", "", "", fmt.Errorf("demo tenant: %w", err)
	}
	if password, err = setAdmin(ctx, st, org, name, n.opts.Clock.Now()); err != nil {
		return "", "", "", fmt.Errorf("demo tenant: %w", err)
	}
	if token, err = newEnrolmentToken(ctx, st, site, n.opts.Clock.Now(), time.Hour); err != nil {
		return "", "", "", fmt.Errorf("demo tenant: %w", err)
	}
	return name, password, token, nil
}

// DemoPeer makes sure one of the demo's anonymous peer organisations and
// its site exist (org "" creates them, named name) and returns the
// organisation and a new enrolment token for its site, valid for an hour.
// Peers have no users: they only make the benchmark's cohort, which no
// band is computed from below kpi.MinCohort other organisations.
func (n *Node) DemoPeer(ctx context.Context, org fleet.OrgID, name string) (fleet.OrgID, string, error) {
	st := n.store
	var site fleet.SiteID
	if org != "" {
		sites, err := st.Sites(ctx, org)
		if err != nil {
			return "", "", fmt.Errorf("demo peer %s: %w", org, err)
		}
		if len(sites) == 0 {
			return "", "", fmt.Errorf("demo peer %s: %w: no site", org, fleet.ErrNotFound)
		}
		site = sites[0].ID
	} else {
		var err error
		if org, err = st.CreateOrg(ctx, name); err != nil {
			return "", "", fmt.Errorf("demo peer: %w", err)
		}
		if site, err = st.CreateSite(ctx, org, name+" site"); err != nil {
			return "", "", fmt.Errorf("demo peer: %w", err)
		}
	}
	token, err := newEnrolmentToken(ctx, st, site, n.opts.Clock.Now(), time.Hour)
	if err != nil {
		return "", "", fmt.Errorf("demo peer: %w", err)
	}
	return org, token, nil
}

// setAdmin creates the named admin user of org, or resets its password, and
// returns the new generated password; a reset revokes its API tokens at now.
func setAdmin(ctx context.Context, st *store.DB, org fleet.OrgID, name string, now time.Time) (string, error) {
	password, err := identity.GeneratePassword()
	if err != nil {
		return "", fmt.Errorf("admin password: %w", err)
	}
	hash, err := identity.HashPassword(password)
	if err != nil {
		return "", fmt.Errorf("admin password: %w", err)
	}
	u, _, err := st.UserByName(ctx, name)
	switch {
	case errors.Is(err, fleet.ErrNotFound):
		_, err = st.CreateUser(ctx, org, name, hash, fleet.RoleAdmin)
	case err == nil:
		err = st.SetPassword(ctx, u.ID, hash, now)
	}
	if err != nil {
		return "", fmt.Errorf("admin user: %w", err)
	}
	return password, nil
}

// newEnrolmentToken creates a one-time enrolment token for site.
func newEnrolmentToken(ctx context.Context, st *store.DB, site fleet.SiteID, now time.Time, ttl time.Duration) (string, error) {
	token, err := identity.NewToken()
	if err != nil {
		return "", fmt.Errorf("enrolment token: %w", err)
	}
	if err := st.CreateEnrolmentToken(ctx, site, identity.HashToken(token), now.Add(ttl)); err != nil {
		return "", fmt.Errorf("enrolment token: %w", err)
	}
	return token, nil
}

// NewOrg opens the store of a cloud (db and dataDir as in Options) and
// creates an organisation of kind named name, with its first
// administrator admin, whose generated password it returns. It is how an
// operator adds a service provider: the provider passes the
// organisation's ID on to its customers, who grant access to it. A taken
// login name is fleet.ErrConflict, and nothing is created then.
func NewOrg(ctx context.Context, dataDir, db, name string, kind access.OrgKind, admin string) (fleet.OrgID, string, error) {
	if admin == "" {
		return "", "", errors.New("new organisation: no administrator name")
	}
	st, err := OpenStore(ctx, dataDir, db)
	if err != nil {
		return "", "", fmt.Errorf("new organisation: %w", err)
	}
	defer st.Close()
	if _, _, err := st.UserByName(ctx, admin); err == nil {
		return "", "", fmt.Errorf("new organisation: user %q: %w", admin, fleet.ErrConflict)
	} else if !errors.Is(err, fleet.ErrNotFound) {
		return "", "", fmt.Errorf("new organisation: %w", err)
	}
	org, err := st.CreateOrgOfKind(ctx, name, kind)
	if err != nil {
		return "", "", fmt.Errorf("new organisation: %w", err)
	}
	password, err := identity.GeneratePassword()
	if err != nil {
		return "", "", fmt.Errorf("new organisation: %w", err)
	}
	hash, err := identity.HashPassword(password)
	if err != nil {
		return "", "", fmt.Errorf("new organisation: %w", err)
	}
	if _, err := st.CreateUser(ctx, org, admin, hash, fleet.RoleAdmin); err != nil {
		return "", "", fmt.Errorf("new organisation %s: administrator: %w", org, err)
	}
	return org, password, nil
}
