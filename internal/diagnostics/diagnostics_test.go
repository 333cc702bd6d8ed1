package diagnostics

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/audit"
	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/store"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type events struct {
	got  []audit.Event
	fail bool
}

func (e *events) Record(_ context.Context, ev audit.Event) error {
	if e.fail {
		return errors.New("audit log down")
	}
	e.got = append(e.got, ev)
	return nil
}

// TestDesk: requests are bounded and audited first, and a principal sees
// only the printers and requests of its sites.
func TestDesk(t *testing.T) {
	ctx := t.Context()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "cloud.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	org, err := db.CreateOrg(ctx, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	site1, _ := db.CreateSite(ctx, org, "one")
	site2, _ := db.CreateSite(ctx, org, "two")
	for i, site := range []fleet.SiteID{site1, site2} {
		p := fleet.PrinterID("printer-" + string(rune('a'+i)))
		env := fleet.Envelope{OrgID: org, SiteID: site, GatewayID: fleet.GatewayID("gw_" + string(site)), Records: []fleet.Record{
			{Seq: 1, Kind: fleet.KindStatus, PrinterID: p, Time: t0, Status: &fleet.Status{PrinterID: p, State: fleet.StateIdle, Time: t0}}}}
		if _, err := db.ApplyEnvelope(ctx, env); err != nil {
			t.Fatal(err)
		}
	}
	rec := &events{}
	desk := &Desk{Store: db, Printers: db, Audit: rec, Clock: clock.NewManual(t0)}
	op := access.Principal{Kind: access.KindUser, User: fleet.User{ID: "u1", OrgID: org, Name: "olga", Role: fleet.RoleOperator},
		Org: org, Role: fleet.RoleOperator, Sites: access.OnlySites(site1), Scope: access.ScopeReadWrite}

	d, err := desk.Request(ctx, op, "printer-a", Input{Kind: fleet.DiagnosticSelfTest})
	if err != nil || d.MaxBytes != DefaultMaxBytes || d.Requester != "olga" || d.Site != site1 {
		t.Fatalf("request: %+v, %v", d, err)
	}
	if len(rec.got) != 1 || rec.got[0].Action != "diagnostic.request" || rec.got[0].Target != string(d.ID) {
		t.Errorf("audited %+v", rec.got)
	}
	if _, err := desk.Request(ctx, op, "printer-b", Input{Kind: fleet.DiagnosticSelfTest}); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("printer at an unseen site: %v, want ErrNotFound", err)
	}
	var ie *InputError
	if _, err := desk.Request(ctx, op, "printer-a", Input{Kind: fleet.DiagnosticLogs, Logs: []fleet.LogKind{fleet.LogSession},
		From: t0.Add(-30 * 24 * time.Hour), To: t0}); !errors.As(err, &ie) {
		t.Errorf("a month's window: %v, want an InputError", err)
	}
	// A member's refusals are answers, not audit entries; a service
	// provider's are in the customer's log with their reasons.
	provider := op
	provider.User = fleet.User{ID: "u9", OrgID: "org_p", Name: "pia", Role: fleet.RoleOperator}
	provider.Grant = &access.Grant{ID: "grt_1", Customer: org, Provider: "org_p"}
	if _, err := desk.Request(ctx, provider, "printer-b", Input{Kind: fleet.DiagnosticSelfTest}); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("provider, printer outside the grant: %v, want ErrNotFound", err)
	}
	if _, err := desk.Request(ctx, provider, "printer-a", Input{Kind: fleet.DiagnosticSelfTest, MaxBytes: 1}); !errors.As(err, &ie) {
		t.Errorf("provider, absurd size: %v, want an InputError", err)
	}
	if len(rec.got) != 3 || rec.got[1].Action != "diagnostic.refused" || rec.got[1].Target != "printer-b" || rec.got[1].Grant != "grt_1" ||
		rec.got[2].Action != "diagnostic.refused" || rec.got[2].ActorOrg != "org_p" {
		t.Errorf("audited %+v, want the request and the provider's two refusals", rec.got)
	}
	rec.fail = true
	if _, err := desk.Request(ctx, op, "printer-a", Input{Kind: fleet.DiagnosticSnapshot}); err == nil {
		t.Error("a request the audit log refused was made")
	}
	rec.fail = false
	if list, _ := desk.List(ctx, op, "printer-a"); len(list) != 1 {
		t.Errorf("%d requests stored, want 1", len(list))
	}
	// Another site's principal does not see the request.
	other := op
	other.Sites = access.OnlySites(site2)
	if _, err := desk.Get(ctx, other, d.ID); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("request at an unseen site: %v", err)
	}
	if _, err := desk.Cancel(ctx, op, d.ID); err != nil {
		t.Errorf("cancel: %v", err)
	}
	if _, _, err := desk.Result(ctx, op, d.ID); !errors.Is(err, fleet.ErrConflict) {
		t.Errorf("result of a cancelled request: %v, want ErrConflict", err)
	}
}
