package restapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/access"
)

// TestPlanFeatures: the API is a feature of the plan, and the benchmark
// another; an organisation whose plan lacks one is refused with 403,
// others are not.
func TestPlanFeatures(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name string
		plan access.Feature
		path string
		want int
	}{
		{"default plan", access.DefaultFeatures, "/api/v1/benchmark", http.StatusOK},
		{"no benchmark", access.DefaultFeatures &^ access.FeatureBenchmark, "/api/v1/benchmark", http.StatusForbidden},
		{"no benchmark, printers", access.DefaultFeatures &^ access.FeatureBenchmark, "/api/v1/printers", http.StatusOK},
		{"no API", access.DefaultFeatures &^ access.FeatureAPI, "/api/v1/printers", http.StatusForbidden},
		{"no API, the document is public", 0, "/api/openapi.json", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := f.db.SetOrgFeatures(t.Context(), f.a.org, tt.plan); err != nil {
				t.Fatal(err)
			}
			status, body := f.do(t, "GET", tt.path, f.a.tokens["admin"], "")
			if status != tt.want {
				t.Errorf("status %d, want %d\n%.300s", status, tt.want, body)
			}
			if status == http.StatusForbidden && !strings.Contains(body, "plan") {
				t.Errorf("refusal %s does not name the plan", body)
			}
			if status, _ := f.do(t, "GET", tt.path, f.b.tokens["admin"], ""); status != http.StatusOK {
				t.Errorf("the other organisation: %d", status)
			}
		})
	}
}
