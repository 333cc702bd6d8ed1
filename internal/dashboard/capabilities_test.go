package dashboard

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// Every page works with only the capabilities the package documentation
// gives its group: one it reaches for without being given is nil, and
// the page panics.
func TestPagesUseTheirCapabilities(t *testing.T) {
	f := newFixture(t)
	f.fillPrinterA(t)
	token, _ := f.sessionFor(t, f.user(t, "ada"), f.clock.Now().Add(time.Hour))
	db, rel := f.db, testReleases()
	cards := Deps{Sessions: db, Printers: db, Sites: db, WorstAlerts: db}
	banner := cards
	banner.Releases = rel
	jobs := Deps{Sessions: db, Printers: db, Sites: db, Jobs: db}
	kpis := Deps{Sessions: db, Printers: db, Sites: db, KPIs: db}
	alerts := Deps{Sessions: db, Alerts: db, AlertRules: db, Members: db, Sites: db}
	tests := []struct {
		path string
		deps Deps
	}{
		{"/", cards},
		{"/", banner},
		{"/api/printers", cards},
		{"/printers/printer-a001", Deps{Sessions: db, Printers: db, Sites: db, History: db, Jobs: db, Alerts: db}},
		{"/printers/printer-a001/jobs/job1", jobs},
		{"/jobs", jobs},
		{"/jobs.csv", jobs},
		{"/kpis", kpis},
		{"/benchmark?model=FF-4200", kpis},
		{"/usage", kpis},
		{"/updates", Deps{Sessions: db, Printers: db, Sites: db, Releases: rel}},
		{"/maintenance", Deps{Sessions: db, Printers: db, Sites: db, History: db}},
		{"/learning", Deps{Sessions: db, Learning: db}},
		{"/alerts", alerts},
		{"/alerts/rules", alerts},
		{"/tokens", Deps{Sessions: db, Tokens: db, Members: db, Sites: db}},
		{"/account/notifications", Deps{Sessions: db, NotifyPrefs: db}},
		{"/admin/notifications", Deps{Sessions: db, Channels: db}},
		{"/account/two-factor", Deps{Sessions: db, TwoFactor: db}},
		{"/account", Deps{Sessions: db}},
		{"/admin/enrolment", Deps{Sessions: db, Sites: db}},
		{"/admin/sites", Deps{Sessions: db, Sites: db, Printers: db}},
		{"/admin/users", Deps{Sessions: db, Members: db, Sites: db}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			req.AddCookie(&http.Cookie{Name: "ff_session", Value: token})
			rec := httptest.NewRecorder()
			newHandler(tt.deps, f.hub, Options{Clock: f.clock}).routes().ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Errorf("GET %s: %d, want 200", tt.path, rec.Code)
			}
		})
	}
}
