package dashboard

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// walkDiagnostic makes a done diagnostic of s's printer and returns its
// ID.
func (f *fixture) walkDiagnostic(t *testing.T, s *walkSide) fleet.DiagnosticID {
	t.Helper()
	ctx := t.Context()
	id, err := fleet.NewDiagnosticID()
	if err != nil {
		t.Fatal(err)
	}
	now := f.clock.Now()
	if _, err := f.db.CreateDiagnostic(ctx, fleet.Diagnostic{DiagnosticRequest: fleet.DiagnosticRequest{ID: id, Kind: fleet.DiagnosticSelfTest,
		MaxBytes: 1 << 20, Requester: "walker", Created: now, Expires: now.Add(fleet.DiagnosticTTL)}, Org: s.org, Printer: s.printer, RequestedBy: s.admin, RequesterOrg: s.org}); err != nil {
		t.Fatal(err)
	}
	gw := fleet.Gateway{ID: "gw_walk", OrgID: s.org, SiteID: s.site}
	for _, st := range []fleet.DiagnosticState{fleet.DiagDelivered, fleet.DiagApproved, fleet.DiagRunning} {
		if _, err := f.db.ReportDiagnostic(ctx, gw, fleet.DiagnosticReport{ID: id, State: st}, now); err != nil {
			t.Fatal(err)
		}
	}
	result := []byte(`{"selftest":{"passed":true}}` + "\n")
	if _, err := f.db.PutDiagnosticChunk(ctx, gw, fleet.DiagnosticChunkData{ID: id, Chunks: 1, Data: result}, now); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(result)
	if _, err := f.db.ReportDiagnostic(ctx, gw, fleet.DiagnosticReport{ID: id, State: fleet.DiagDone, Chunks: 1, Size: int64(len(result)), SHA256: hex.EncodeToString(sum[:])}, now); err != nil {
		t.Fatal(err)
	}
	return id
}
