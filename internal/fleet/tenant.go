package fleet

import "fmt"

// Tenancy: organisations own sites; a site has one gateway (Command Center);
// printers belong to the site whose gateway reports them. Users belong to an
// organisation with a role.
type (
	OrgID     string
	SiteID    string
	GatewayID string
	UserID    string
)

// Role is what a user may do within an organisation (R-PEER-2).
type Role uint8

// The roles, in rising order of power.
const (
	RoleNone Role = iota
	RoleViewer
	RoleOperator
	RoleAdmin
)

var roleNames = [...]string{"none", "viewer", "operator", "admin"}

func (r Role) String() string {
	if int(r) < len(roleNames) {
		return roleNames[r]
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}

// ParseRole parses a role name.
func ParseRole(s string) (Role, error) {
	for i, n := range roleNames {
		if i > 0 && n == s {
			return Role(i), nil
		}
	}
	return RoleNone, fmt.Errorf("unknown role %q", s)
}

// User is a person who logs in to the cloud.
type User struct {
	ID    UserID
	OrgID OrgID
	Name  string // login name
	Role  Role
}

// Gateway is an enrolled Command Center. PublicKey is its Ed25519 public
// key: every upload is signed with the matching private key.
type Gateway struct {
	ID        GatewayID
	OrgID     OrgID
	SiteID    SiteID
	Name      string
	PublicKey []byte
	Revoked   bool
}

// Valid reports whether r is one of the roles a user can hold.
func (r Role) Valid() bool { return r >= RoleViewer && r <= RoleAdmin }
