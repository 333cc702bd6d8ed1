package audit

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

func TestOfRequest(t *testing.T) {
	now := time.Unix(1000, 0).UTC()
	member := access.Principal{Kind: access.KindUser, User: fleet.User{ID: "usr_a", OrgID: "org_c", Name: "ada"}, Org: "org_c", Role: fleet.RoleAdmin}
	provider := access.Principal{Kind: access.KindUser, User: fleet.User{ID: "usr_p", OrgID: "org_p", Name: "pia"}, Org: "org_c",
		Role: fleet.RoleViewer, Grant: &access.Grant{ID: "grt_1", Customer: "org_c", Provider: "org_p"}}
	token := member
	token.Kind, token.TokenID = access.KindToken, "tok_1"
	adminWrite := access.Requirement{Role: fleet.RoleAdmin, Write: true}
	read := access.Requirement{Role: fleet.RoleViewer}
	tests := []struct {
		name    string
		p       access.Principal
		need    access.Requirement
		pattern string
		path    string
		want    *Event
	}{
		{"a member reads", member, read, "GET /printers/{id}", "/printers/p1", nil},
		{"a member's change short of admin", member, access.Requirement{Role: fleet.RoleOperator, Write: true}, "POST /alerts/{id}/ack", "/alerts/a1/ack", nil},
		{"public", member, access.Requirement{Public: true}, "GET /login", "/login", nil},
		{"an admin's change", member, adminWrite, "POST /admin/users/{id}/remove", "/admin/users/usr_9/remove",
			&Event{Time: now, Org: "org_c", ActorOrg: "org_c", Actor: "usr_a", Name: "ada", Action: ActionAdmin, Target: "id=usr_9", Detail: "POST /admin/users/{id}/remove"}},
		{"an admin's change by token", token, adminWrite, "DELETE /api/v1/users/{id}", "/api/v1/users/usr_9",
			&Event{Time: now, Org: "org_c", ActorOrg: "org_c", Actor: "usr_a", Name: "ada", Action: ActionAdmin, Target: "id=usr_9", Detail: "DELETE /api/v1/users/{id} (API token tok_1)"}},
		{"a provider reads under a grant", provider, read, "GET /printers/{id}/jobs/{job}", "/printers/p1/jobs/j2",
			&Event{Time: now, Org: "org_c", ActorOrg: "org_p", Actor: "usr_p", Name: "pia", Action: ActionGrantAccess, Target: "id=p1 job=j2", Grant: "grt_1", Detail: "GET /printers/{id}/jobs/{job}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.path, nil)
			_, pat, _ := strings.Cut(tt.pattern, " ")
			r.Pattern = tt.pattern
			setPathValues(r, pat, tt.path)
			got, ok := OfRequest(now, tt.p, tt.need, tt.pattern, r)
			if ok != (tt.want != nil) {
				t.Fatalf("recorded %v, want %v", ok, tt.want != nil)
			}
			if ok && got != *tt.want {
				t.Errorf("event %+v\nwant  %+v", got, *tt.want)
			}
		})
	}
}

// setPathValues fills r's path values as a ServeMux matching pattern
// would.
func setPathValues(r interface{ SetPathValue(name, value string) }, pattern, path string) {
	ps, vs := strings.Split(pattern, "/"), strings.Split(path, "/")
	for i, p := range ps {
		if strings.HasPrefix(p, "{") && i < len(vs) {
			r.SetPathValue(strings.Trim(p, "{}"), vs[i])
		}
	}
}
