package restapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/audit"
	"github.com/fusionfleet/fusionfleet/internal/orgexport"
)

// TestAuditAPI: the audit log's operation filters, pages with
// next_before, reports the chain verified, and its export streams what
// the filter selects; none shows another organisation's entries.
func TestAuditAPI(t *testing.T) {
	f := newFixture(t)
	for i := range 7 {
		action := "admin"
		if i%3 == 0 {
			action = "login"
		}
		if err := f.db.Record(t.Context(), audit.Event{Time: t0.Add(time.Duration(i) * time.Hour), Org: f.a.org, Name: "ada",
			Action: action, Target: "n=" + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.db.Record(t.Context(), audit.Event{Time: t0, Org: f.b.org, Name: "bob", Action: "login", Target: "canary-of-b"}); err != nil {
		t.Fatal(err)
	}
	admin := f.a.tokens["admin"]
	tests := []struct {
		name, query string
		status      int
		seqs        []int64
		next        int64
	}{
		{"all", "", 200, []int64{7, 6, 5, 4, 3, 2, 1}, 0},
		{"a page", "limit=3", 200, []int64{7, 6, 5}, 5},
		{"the next page", "limit=3&before=5", 200, []int64{4, 3, 2}, 2},
		{"logins", "action=login", 200, []int64{7, 4, 1}, 0},
		{"a time range", "from=" + t0.Add(time.Hour).Format(time.RFC3339) + "&to=" + t0.Add(3*time.Hour).Format(time.RFC3339), 200, []int64{3, 2}, 0},
		{"bad time", "from=yesterday", 400, nil, 0},
		{"bad limit", "limit=0", 400, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := f.do(t, "GET", "/api/v1/audit?"+tt.query, admin, "")
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			if status != 200 {
				return
			}
			var got auditPage
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			var seqs []int64
			for _, e := range got.Entries {
				seqs = append(seqs, e.Seq)
			}
			if len(seqs) != len(tt.seqs) || len(seqs) > 0 && seqs[0] != tt.seqs[0] || len(seqs) > 0 && seqs[len(seqs)-1] != tt.seqs[len(tt.seqs)-1] {
				t.Errorf("entries %v, want %v", seqs, tt.seqs)
			}
			if tt.next == 0 && got.NextBefore != nil || tt.next != 0 && (got.NextBefore == nil || *got.NextBefore != tt.next) {
				t.Errorf("next_before %v, want %d", got.NextBefore, tt.next)
			}
			if !got.Chain.Verified || got.Chain.HeadSeq != 7 || strings.Contains(body, "canary-of-b") {
				t.Errorf("chain %+v", got.Chain)
			}
		})
	}
	status, body := f.do(t, "GET", "/api/v1/audit/export?format=csv&action=admin", admin, "")
	if lines := strings.Split(strings.TrimSpace(body), "\n"); status != 200 || len(lines) != 5 || !strings.HasPrefix(lines[1], "6,") {
		t.Errorf("CSV export: %d\n%s", status, body)
	}
	if status, body := f.do(t, "GET", "/api/v1/audit/export?format=pdf", admin, ""); status != 400 {
		t.Errorf("unknown format: %d %s", status, body)
	}
}

// TestExportAPI: the export is a document that verifies against its
// manifest, of the caller's organisation only, and is in the audit log.
func TestExportAPI(t *testing.T) {
	f := newFixture(t)
	status, body := f.do(t, "GET", "/api/v1/export", f.a.tokens["read"], "")
	if status != 200 {
		t.Fatalf("export: %d %s", status, body)
	}
	h, m, err := orgexport.Verify(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if h.Org != string(f.a.org) || len(m.Tables) < 20 {
		t.Errorf("export of %s with %d parts", h.Org, len(m.Tables))
	}
	for _, c := range f.a.otherCanaries {
		if strings.Contains(body, c) {
			t.Errorf("the export names %q of the other organisation", c)
		}
	}
	_, body = f.do(t, "GET", "/api/v1/audit?action=export", f.a.tokens["admin"], "")
	if !strings.Contains(body, `"action":"export"`) {
		t.Errorf("the export is not in the audit log: %s", body)
	}
	if status, _ := f.do(t, "GET", "/api/v1/export", f.a.tokens["ladmin"], ""); status != http.StatusForbidden {
		t.Errorf("an admin limited to a site exports: %d", status)
	}
}
