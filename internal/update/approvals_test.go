package update

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestApprovedBy(t *testing.T) {
	var body string
	status := http.StatusOK
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/tuf/approvals.json" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	defer srv.Close()
	approved := ApprovedBy(srv.Client(), srv.URL)
	tests := []struct {
		name    string
		status  int
		body    string
		target  string
		want    bool
		wantErr bool
	}{
		{"approved", 200, `{"approved":["fw-1","fw-2"]}`, "fw-2", true, false},
		{"not approved", 200, `{"approved":["fw-1"]}`, "fw-2", false, false},
		{"empty", 200, `{"approved":[]}`, "fw-1", false, false},
		{"malformed", 200, `{"approved":`, "fw-1", false, true},
		{"too large", 200, `{"approved":["` + strings.Repeat("x", maxApprovalsSize) + `"]}`, "fw-1", false, true},
		{"server error", 500, ``, "fw-1", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body = tt.status, tt.body
			got, err := approved(t.Context(), Target{Name: tt.target})
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("approved = %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func FuzzParseApprovals(f *testing.F) {
	f.Add([]byte(`{"approved":["a","b"]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseApprovals(b)
		if err != nil && len(a.Approved) > 0 {
			t.Fatal("error with a result")
		}
	})
}
