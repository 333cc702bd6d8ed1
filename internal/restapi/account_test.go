package restapi

import (
	"net/http"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
)

// PUT /api/v1/account changes the fields it names, refuses a bad language
// or zone with a 400 and saves nothing then.
func TestAccountPrefs(t *testing.T) {
	f := newFixture(t)
	tok := f.a.tokens["admin"]
	steps := []struct {
		name   string
		body   string
		status int
		want   string // the GET answer afterwards
	}{
		{"defaults", "", 0, `{"lang":"","time_zone":""}`},
		{"both", `{"lang":"de","time_zone":"Europe/Berlin"}`, 200, `{"lang":"de","time_zone":"Europe/Berlin"}`},
		{"zone only", `{"time_zone":"Asia/Tokyo"}`, 200, `{"lang":"de","time_zone":"Asia/Tokyo"}`},
		{"bad zone", `{"lang":"en","time_zone":"Mars/Olympus"}`, 400, `{"lang":"de","time_zone":"Asia/Tokyo"}`},
		{"unsupported language", `{"lang":"fr"}`, 400, `{"lang":"de","time_zone":"Asia/Tokyo"}`},
		{"language in capitals", `{"lang":"DE"}`, 400, `{"lang":"de","time_zone":"Asia/Tokyo"}`},
		{"unknown field", `{"colour":"red"}`, 400, `{"lang":"de","time_zone":"Asia/Tokyo"}`},
		{"back to defaults", `{"lang":"","time_zone":""}`, 200, `{"lang":"","time_zone":""}`},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.body != "" {
				if status, body := f.do(t, "PUT", "/api/v1/account", tok, s.body); status != s.status {
					t.Fatalf("PUT = %d %s, want %d", status, body, s.status)
				}
			}
			status, got := f.do(t, "GET", "/api/v1/account", tok, "")
			if status != http.StatusOK {
				t.Fatalf("GET = %d %s", status, got)
			}
			if diff := cmp.Diff(s.want+"\n", got); diff != "" {
				t.Errorf("GET (-want +got):\n%s", diff)
			}
		})
	}
}

// POST /api/v1/sites: a name is required and unique in the organisation
// (another organisation may use it), and a site-limited admin may not add
// sites.
func TestCreateSite(t *testing.T) {
	f := newFixture(t)
	limited, err := f.db.CreateMember(t.Context(), f.a.org, "lim-admin", someHash, fleet.RoleAdmin, access.OnlySites(f.a.site))
	if err != nil {
		t.Fatal(err)
	}
	limitedTok := f.token(t, f.a.org, limited, access.ScopeReadWrite, access.AllSites(), t0.Add(3600e9))
	tests := []struct {
		name, token, body string
		status            int
	}{
		{"new", f.a.tokens["admin"], `{"name":"Hamburg"}`, 201},
		{"same name, other case", f.a.tokens["admin"], `{"name":"hamburg"}`, 409},
		{"same name, other organisation", f.b.tokens["admin"], `{"name":"Hamburg"}`, 201},
		{"empty", f.a.tokens["admin"], `{"name":"  "}`, 400},
		{"control character", f.a.tokens["admin"], `{"name":"a\u0007b"}`, 400},
		{"site-limited admin", limitedTok, `{"name":"Köln"}`, 403},
		{"operator", f.a.tokens["operator"], `{"name":"Köln"}`, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if status, body := f.do(t, "POST", "/api/v1/sites", tt.token, tt.body); status != tt.status {
				t.Errorf("status %d, want %d; body %s", status, tt.status, body)
			}
		})
	}
	sites, err := f.db.Sites(t.Context(), f.a.org)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range sites {
		names = append(names, s.Name)
	}
	if diff := cmp.Diff([]string{"CanaryAlpha Second", "CanaryAlpha Site", "Hamburg"}, names); diff != "" {
		t.Errorf("sites of A (-want +got):\n%s", diff)
	}
}
