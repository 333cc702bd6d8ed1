package restapi

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/update"
)

// Every operation works with only the capabilities the package
// documentation gives its group, besides TokenLookup and Members for the
// caller: one it reaches for without being given is nil, and it panics.
func TestOperationsUseTheirCapabilities(t *testing.T) {
	f := newFixture(t)
	db := f.db
	rel := staticReleases{{Target: "fw-2.0", Release: update.Release{Kind: update.KindFirmware, Version: "2.0", Models: []string{"M1"}}}}
	printer := "/api/v1/printers/" + string(f.a.printer)
	history := Deps{Printers: db, History: db}
	jobs := Deps{Printers: db, Jobs: db}
	kpis := Deps{Printers: db, Sites: db, KPIs: db}
	notify := Deps{Channels: db}
	tests := []struct {
		path string
		deps Deps
	}{
		{"/api/v1/me", Deps{}},
		{"/api/v1/account", Deps{}},
		{"/api/v1/sites", Deps{Sites: db}},
		{"/api/v1/printers", history},
		{printer, history},
		{printer + "/detail", history},
		{printer + "/consumables", history},
		{printer + "/counters", history},
		{printer + "/events", history},
		{printer + "/maintenance", history},
		{printer + "/jobs/" + walkJob, jobs},
		{printer + "/jobs/" + walkJob + "/layers", jobs},
		{"/api/v1/jobs", jobs},
		{"/api/v1/users", Deps{}},
		{"/api/v1/tokens", Deps{Tokens: db}},
		{"/api/v1/alerts", Deps{Alerts: db, AlertRules: db}},
		{"/api/v1/alert-rules", Deps{Alerts: db, AlertRules: db}},
		{"/api/v1/notification-channels", notify},
		{"/api/v1/deliveries", notify},
		{"/api/v1/notification-prefs", Deps{NotifyPrefs: db}},
		{"/api/v1/kpis", kpis},
		{"/api/v1/benchmark", kpis},
		{"/api/v1/usage", kpis},
		{"/api/v1/updates", Deps{Printers: db, Releases: rel}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			tt.deps.TokenLookup, tt.deps.Members = db, db
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			req.Header.Set("Authorization", "Bearer "+f.a.tokens["admin"])
			rec := httptest.NewRecorder()
			newHandler(tt.deps, Options{Clock: f.clock}).mux().ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Errorf("GET %s: %d, want 200\n%s", tt.path, rec.Code, rec.Body)
			}
		})
	}
}
